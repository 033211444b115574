package webui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
)

//go:embed static
var static embed.FS

// asset is one embedded file with its validators, computed once at start.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

var _ component.Component = (*UI)(nil)

// UI serves the console.
type UI struct {
	component.Base
	assets  map[string]asset
	started time.Time
}

// New loads the embedded files.
func New() (*UI, error) {
	u := &UI{assets: map[string]asset{}, started: time.Now().UTC().Truncate(time.Second)}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		u.assets["/"+strings.TrimPrefix(p, "static/")] = asset{body: b, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	if _, ok := u.assets["/index.html"]; !ok {
		return nil, fmt.Errorf("webui: index.html is not embedded")
	}
	return u, nil
}

// Name is the console's component name.
func (u *UI) Name() string { return "console" }

// Routes serves the console at / on the HTTPS listener.
func (u *UI) Routes(r component.Router) { r.Handle("/", u) }

// Serve has nothing to run: the console is files.
func (u *UI) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// csp allows the console's own files and the API, nothing inline and nothing
// foreign: data from the API can never run as script even if a page had a bug.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// ServeHTTP answers GET and HEAD for / and /ui/<file>.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := r.URL.Path
	switch {
	case name == "/" || name == "/index.html":
		name = "/index.html"
	case strings.HasPrefix(name, "/ui/"):
		name = strings.TrimPrefix(name, "/ui")
	default:
		http.NotFound(w, r)
		return
	}
	a, ok := u.assets[name]
	if !ok || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("ETag", a.etag)
	// The page itself is revalidated on every load so that an upgrade shows at
	// once; its scripts are named by the page and revalidated by ETag too.
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, u.started, bytes.NewReader(a.body))
}
