package webui

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	esbuild "github.com/evanw/esbuild/pkg/api"

	"github.com/switchboard-pbx/switchboard/internal/component"
)

//go:embed static
var static embed.FS

// Languages are the console's languages, the first being the product's first
// language. Every catalog file holds every message in each of them.
var Languages = []string{"it", "en"}

// asset is one served file with its validators, computed once at start, and
// its gzip form when that is smaller (compressed once, not per request).
type asset struct {
	body  []byte
	gz    []byte
	ctype string
	etag  string
}

var _ component.Component = (*UI)(nil)

// UI serves the console.
type UI struct {
	component.Base
	assets  map[string]asset
	started time.Time
	// version names this build of the console's files (a hash of them all).
	// Every URL the console loads carries it (?v=...); such a request is
	// cached for good, since a different build has a different version, and a
	// reload costs one request (the page) instead of one per module.
	version string
}

// Message is one catalog entry: a text, or plural forms chosen by the count
// argument {n} (CLDR categories: one, many, other; other is required).
type Message struct {
	Text   string            `json:"-"`
	Plural map[string]string `json:"-"`
}

// MarshalJSON writes a text as a string and plural forms as an object, the
// shapes the console's t() reads.
func (m *Message) MarshalJSON() ([]byte, error) {
	if m.Plural != nil {
		return json.Marshal(m.Plural)
	}
	return json.Marshal(m.Text)
}

// UnmarshalJSON reads either shape.
func (m *Message) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, &m.Plural)
	}
	return json.Unmarshal(b, &m.Text)
}

// forms are the message's texts, for checks.
func (m *Message) forms() []string {
	if m.Plural == nil {
		return []string{m.Text}
	}
	out := make([]string, 0, len(m.Plural))
	for _, k := range []string{"zero", "one", "two", "few", "many", "other"} {
		if s, ok := m.Plural[k]; ok {
			out = append(out, s)
		}
	}
	return out
}

var (
	placeholderRE = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)
	keyRE         = regexp.MustCompile(`^[a-z0-9_]+(\.[A-Za-z0-9_]+)+$`)
	pluralForms   = map[string]bool{"zero": true, "one": true, "two": true, "few": true, "many": true, "other": true}
)

// LoadCatalog merges the catalog files of fsys (a directory of NAME.json, each
// {"it": {...}, "en": {...}}) and checks them: every key starts with "NAME.",
// is in every language, and names the same {placeholders} in each; plural
// entries have an "other" form and use {n}. Splitting the catalog per panel
// lets a panel bring its strings in its own file without touching another.
func LoadCatalog(fsys fs.FS) (map[string]map[string]*Message, error) {
	out := map[string]map[string]*Message{}
	for _, l := range Languages {
		out[l] = map[string]*Message{}
	}
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no catalog files")
	}
	for _, f := range files {
		ns := strings.TrimSuffix(f, ".json")
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var byLang map[string]map[string]*Message
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&byLang); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for l := range byLang {
			if _, ok := out[l]; !ok {
				return nil, fmt.Errorf("%s: language %q is not one of %s", f, l, strings.Join(Languages, ", "))
			}
		}
		ref := byLang[Languages[0]]
		for _, l := range Languages {
			msgs := byLang[l]
			for k, m := range msgs {
				if !keyRE.MatchString(k) || !strings.HasPrefix(k, ns+".") {
					return nil, fmt.Errorf("%s: key %q must start with %q (the file's name) and be dotted lower-case words", f, k, ns+".")
				}
				if _, ok := ref[k]; !ok {
					return nil, fmt.Errorf("%s: %q is in %s but not in %s", f, k, l, Languages[0])
				}
				if _, dup := out[l][k]; dup {
					return nil, fmt.Errorf("%s: %q is defined twice", f, k)
				}
				if err := checkMessage(m, ref[k]); err != nil {
					return nil, fmt.Errorf("%s: %s %q: %w", f, l, k, err)
				}
				out[l][k] = m
			}
			for k := range ref {
				if _, ok := msgs[k]; !ok {
					return nil, fmt.Errorf("%s: %q has no %s text", f, k, l)
				}
			}
		}
	}
	return out, nil
}

func placeholders(s string) string {
	var names []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// checkMessage compares a translation with the first language's text: a
// translation that drops or invents a {placeholder} would show a raw brace or
// lose the value.
func checkMessage(m, ref *Message) error {
	forms := m.forms()
	if len(forms) == 0 || (m.Plural == nil && strings.TrimSpace(m.Text) == "") {
		return fmt.Errorf("empty text")
	}
	if m.Plural != nil {
		if _, ok := m.Plural["other"]; !ok {
			return fmt.Errorf("plural forms need \"other\"")
		}
		for k := range m.Plural {
			if !pluralForms[k] {
				return fmt.Errorf("plural form %q is not a CLDR category", k)
			}
		}
	}
	// Plural forms may say "one" rather than {n}: {n} is left out of the comparison.
	norm := func(s string) string {
		if m.Plural != nil {
			s = strings.ReplaceAll(s, "{n}", "")
		}
		return placeholders(s)
	}
	refForms := ref.forms()
	want := norm(refForms[len(refForms)-1])
	for _, s := range forms {
		if got := norm(s); got != want {
			return fmt.Errorf("placeholders {%s} differ from the %s text's {%s}", got, Languages[0], want)
		}
	}
	return nil
}

// Files the server writes into the console's tree (a static file of the same
// name is refused): the merged catalog, an import of every panel, and the
// bundle of app.js with all it imports, the one script the page loads.
const (
	catalogJS = "catalog.js"
	panelsJS  = "panels.js"
	bundleJS  = "console.js"
	// earlyJS is loaded by the page on its own, ahead of the bundle, which
	// imports it from the same URL (one instance): it asks for the session.
	earlyJS = "core/api.js"
)

// New loads the embedded files, checks the catalog and bundles the scripts.
func New() (*UI, error) {
	u := &UI{assets: map[string]asset{}, started: time.Now().UTC().Truncate(time.Second)}
	files := map[string][]byte{}
	var names, panels []string
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "static/")
		if rel == catalogJS || rel == panelsJS || rel == bundleJS {
			return fmt.Errorf("%s is written by the server: rename the file", p)
		}
		files[rel] = b
		names = append(names, rel)
		if strings.HasPrefix(rel, "panels/") && strings.HasSuffix(rel, ".js") && !strings.Contains(strings.TrimPrefix(rel, "panels/"), "/") {
			panels = append(panels, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	if _, ok := files["index.html"]; !ok {
		return nil, fmt.Errorf("webui: index.html is not embedded")
	}
	sub, err := fs.Sub(static, "static/i18n")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	msgs, err := LoadCatalog(sub)
	if err != nil {
		return nil, fmt.Errorf("webui: message catalog: %w", err)
	}
	if files[catalogJS], err = catalogModule(msgs); err != nil {
		return nil, fmt.Errorf("webui: message catalog: %w", err)
	}
	sort.Strings(panels)
	var pm bytes.Buffer
	pm.WriteString("// Every panel of the console (written by the server from static/panels/*.js).\n")
	for _, p := range panels {
		fmt.Fprintf(&pm, "import \"./%s\";\n", p)
	}
	files[panelsJS] = pm.Bytes()
	names = append(names, catalogJS, panelsJS)
	if files[bundleJS], err = bundle(files, "app.js", earlyJS); err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	names = append(names, bundleJS)
	sort.Strings(names)
	all := sha256.New()
	for _, n := range names {
		fmt.Fprintf(all, "%s %d\n", n, len(files[n]))
		all.Write(files[n])
	}
	u.version = hex.EncodeToString(all.Sum(nil)[:8])
	for _, n := range names {
		if strings.HasPrefix(n, "i18n/") {
			continue // in catalog.js, merged
		}
		if err := u.add("/"+n, u.versioned(n, files[n])); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// catalogModule writes the merged catalog as a module: for each language its
// messages as one JSON text, which the console parses when the language is
// first chosen (a browser reads JSON.parse of a string faster than the same
// data as an object literal, and a page in Italian never reads the English).
func catalogModule(msgs map[string]map[string]*Message) ([]byte, error) {
	langs, err := json.Marshal(Languages)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// The message catalog (merged by the server from static/i18n/*.json).\n"+
		"export const languages = %s;\nexport const messages = {\n", langs)
	for _, l := range Languages {
		raw, err := json.Marshal(msgs[l])
		if err != nil {
			return nil, err
		}
		text, err := json.Marshal(string(raw))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "  %q: %s,\n", l, text)
	}
	b.WriteString("};\n")
	return b.Bytes(), nil
}

// bundle joins entry and every module it imports from files (relative
// imports only) into one minified module, except the external ones, which it
// imports by their path relative to the bundle (served beside it). The page then costs one script
// request and one compile instead of a request per module: a browser that
// caches nothing (one told to accept the appliance's self-signed
// certificate) would otherwise fetch and instantiate some twenty modules on
// every load.
func bundle(files map[string][]byte, entry string, external ...string) ([]byte, error) {
	const ns = "console"
	embedded := esbuild.Plugin{Name: "embedded", Setup: func(b esbuild.PluginBuild) {
		b.OnResolve(esbuild.OnResolveOptions{Filter: `.*`}, func(a esbuild.OnResolveArgs) (esbuild.OnResolveResult, error) {
			p := a.Path
			if a.Kind != esbuild.ResolveEntryPoint {
				if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") {
					return esbuild.OnResolveResult{}, fmt.Errorf("%q is not one of the console's files (relative imports only)", p)
				}
				p = path.Join(path.Dir(a.Importer), p)
			}
			p = strings.TrimPrefix(path.Clean("/"+p), "/")
			if _, ok := files[p]; !ok || !strings.HasSuffix(p, ".js") {
				return esbuild.OnResolveResult{}, fmt.Errorf("%q: no such script", p)
			}
			if slices.Contains(external, p) && a.Kind != esbuild.ResolveEntryPoint {
				return esbuild.OnResolveResult{Path: "./" + p, External: true}, nil
			}
			return esbuild.OnResolveResult{Path: p, Namespace: ns}, nil
		})
		b.OnLoad(esbuild.OnLoadOptions{Filter: `.*`, Namespace: ns}, func(a esbuild.OnLoadArgs) (esbuild.OnLoadResult, error) {
			src := string(files[a.Path])
			return esbuild.OnLoadResult{Contents: &src, Loader: esbuild.LoaderJS}, nil
		})
	}}
	res := esbuild.Build(esbuild.BuildOptions{
		EntryPoints:       []string{entry},
		Bundle:            true,
		Format:            esbuild.FormatESModule,
		Target:            esbuild.ESNext, // the syntax the modules are written in, unchanged
		MinifyWhitespace:  true,
		MinifySyntax:      true,
		MinifyIdentifiers: true,
		Charset:           esbuild.CharsetUTF8,
		LegalComments:     esbuild.LegalCommentsNone,
		// When the script starts running (compiled; bench/console's timeline).
		Banner:   map[string]string{"js": `performance.mark("sb:script");`},
		LogLevel: esbuild.LogLevelSilent,
		Outfile:  bundleJS,
		Write:    false,
		Plugins:  []esbuild.Plugin{embedded},
	})
	if len(res.Errors) > 0 {
		var msgs []string
		for _, m := range res.Errors {
			where := ""
			if m.Location != nil {
				where = fmt.Sprintf("%s:%d:%d: ", m.Location.File, m.Location.Line, m.Location.Column)
			}
			msgs = append(msgs, where+m.Text)
		}
		return nil, fmt.Errorf("bundle: %s", strings.Join(msgs, "; "))
	}
	for _, f := range res.OutputFiles {
		if strings.HasSuffix(f.Path, ".js") {
			return f.Contents, nil
		}
	}
	return nil, fmt.Errorf("bundle: no output")
}

func (u *UI) add(name string, b []byte) error {
	sum := sha256.Sum256(b)
	a := asset{body: b, ctype: contentType(name), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("webui: gzip: %w", err)
	}
	if _, err := zw.Write(b); err != nil {
		return fmt.Errorf("webui: gzip %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("webui: gzip %s: %w", name, err)
	}
	if z.Len() < len(b) {
		a.gz = z.Bytes()
	}
	u.assets[name] = a
	return nil
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip (and
// does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

var (
	// moduleRefRE finds the relative module specifiers of import and export
	// statements ("from "../core/kit.js"", "import "./panels.js"", and the
	// bundle's minified from"./core/api.js").
	moduleRefRE = regexp.MustCompile(`(\b(?:from|import)\s*")(\.{1,2}/[^"?]+\.js)(")`)
	// pageRefRE finds the page's and the shell's references to /ui/ files.
	pageRefRE = regexp.MustCompile(`("/ui/[^"?]+\.(?:js|css|json|svg))(")`)
)

// versioned adds ?v=<version> to the console's references to its own files,
// so that a browser caches each file for as long as this build is served.
func (u *UI) versioned(name string, b []byte) []byte {
	switch path.Ext(name) {
	case ".js":
		b = moduleRefRE.ReplaceAll(b, []byte("${1}${2}?v="+u.version+"${3}"))
		return pageRefRE.ReplaceAll(b, []byte(`${1}?v=`+u.version+`${2}`))
	case ".html":
		return pageRefRE.ReplaceAll(b, []byte(`${1}?v=`+u.version+`${2}`))
	}
	return b
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
	case ".json":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// csp allows the console's own files and the API, nothing inline and nothing
// foreign: data from the API can never run as script even if a page had a bug.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// ServeHTTP answers GET and HEAD for /, /favicon.ico and /ui/<file>.
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
	case name == "/favicon.ico":
		name = "/icon.svg"
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
	h.Add("Vary", "Accept-Encoding")
	body, etag := a.body, a.etag
	if a.gz != nil && acceptsGzip(r) {
		// Its own validator: a cache must not answer a client without gzip
		// with the compressed bytes.
		body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	if name != "/index.html" && r.URL.Query().Get("v") == u.version {
		// This build's file: it never changes under this URL.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// The page (and an unversioned or stale URL) is revalidated on every
		// load, so that an upgrade shows at once; an unchanged one costs a 304.
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, u.started, bytes.NewReader(body))
}
