package httpprov

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// Server is the /provisioning/ handler.
type Server struct {
	component.Base
	log   *slog.Logger
	prov  *provision.Service
	limit *ratelimit.Limiter
	realm string
	nonce nonces
}

// New builds the handler; limit is shared with the TFTP server so that a scanner
// cannot double its budget by switching protocol.
func New(log *slog.Logger, prov *provision.Service, limit *ratelimit.Limiter) *Server {
	return &Server{log: log, prov: prov, limit: limit,
		realm: "switchboard provisioning", nonce: nonces{m: map[string]time.Time{}}}
}

var _ component.Component = (*Server)(nil)

// Name is the provisioning tree's component name.
func (s *Server) Name() string { return "provisioning" }

// Routes serves /provisioning/ on HTTPS and on plain HTTP.
func (s *Server) Routes(r component.Router) {
	r.Handle("/provisioning/", s)
	r.Plain("/provisioning/", s.ServeFast)
}

// Serve has nothing of its own to run: the listeners serve the routes.
func (s *Server) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func clientIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// ServeHTTP answers GET and HEAD under /provisioning/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ip := clientIP(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if wait := s.limit.Wait(ip); wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		http.Error(w, "too many requests for unknown files", http.StatusTooManyRequests)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, "/provisioning/")
	if !ok || strings.Contains(r.URL.RawPath, "%2F") || strings.Contains(r.URL.RawPath, "%2f") {
		s.miss(w, r, ip, rel, provision.ErrBadPath, provision.Target{})
		return
	}
	t, err := s.prov.Resolve(rel)
	if err != nil {
		s.miss(w, r, ip, rel, err, t)
		return
	}
	if t.Auth.Required() {
		if !s.authorized(w, r, ip, t.Auth) {
			s.log.Warn("provisioning auth failed", "src", ip, "tenant", t.Tenant, "file", t.Name, "user_agent", r.UserAgent())
			return
		}
	}
	switch {
	case t.File != nil:
		f := t.File
		h := w.Header()
		h["Etag"] = []string{f.ETag}
		h["Content-Type"] = []string{contentType(f.ContentType)}
		h["Cache-Control"] = noCache
		if r.Header.Get("Range") == "" && r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Modified-Since") == "" &&
			r.Header.Get("If-Match") == "" && r.Header.Get("If-Unmodified-Since") == "" {
			// The common case of a phone's plain GET: no need for ServeContent's
			// precondition and range machinery.
			h["Last-Modified"] = []string{f.ModTime.UTC().Format(http.TimeFormat)}
			h["Content-Length"] = []string{strconv.Itoa(len(f.Body))}
			h["Accept-Ranges"] = acceptRanges
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				w.Write(f.Body) //nolint:errcheck // the client went away
			}
		} else {
			http.ServeContent(w, r, f.Name, f.ModTime, bytes.NewReader(f.Body))
		}
		if s.log.Enabled(r.Context(), slog.LevelInfo) {
			s.log.Info("provisioning file served", "src", ip, "tenant", t.Tenant, "file", f.Name, "bytes", f.Size, "took", time.Since(start), "user_agent", r.UserAgent())
		}
	case t.Asset != nil:
		a := t.Asset
		fh, err := os.Open(s.prov.AssetPath(a))
		if err != nil {
			s.log.Error("asset missing on disk", "tenant", t.Tenant, "file", a.Name, "err", err)
			http.Error(w, "file not found", http.StatusNotFound)
			return
		}
		defer fh.Close()
		w.Header().Set("ETag", `"`+a.SHA256[:24]+`"`)
		w.Header().Set("Content-Type", a.ContentType)
		http.ServeContent(w, r, a.Name, a.ModTime, fh)
		s.log.Debug("provisioning asset served", "src", ip, "tenant", t.Tenant, "file", a.Name, "bytes", a.Size, "took", time.Since(start))
	}
}

// Header values shared by every answer (net/http never changes them).
var (
	noCache      = []string{"no-cache"}
	acceptRanges = []string{"bytes"}
)

// contentType is a file's Content-Type header: its MIME type, with the charset
// for text (templates are UTF-8).
func contentType(mime string) string {
	switch mime {
	case "", "text/plain":
		return "text/plain; charset=utf-8"
	case "text/xml":
		return "text/xml; charset=utf-8"
	}
	if strings.HasPrefix(mime, "text/") && !strings.Contains(mime, "charset") {
		return mime + "; charset=utf-8"
	}
	return mime
}

// miss answers a request that names no file; unknown device files are recorded
// and count against the source.
func (s *Server) miss(w http.ResponseWriter, r *http.Request, ip, rel string, err error, t provision.Target) {
	s.recordMiss(ip, r.UserAgent(), rel, err, t)
	http.Error(w, "file not found", http.StatusNotFound)
}

func (s *Server) recordMiss(ip, userAgent, rel string, err error, t provision.Target) {
	if t.MAC != "" {
		s.prov.SeeUnknown(t.Tenant, t.MAC, ip, userAgent, t.Name)
	}
	if s.limit.Fail(ip) {
		// One line per throttling decision, fail2ban-friendly.
		s.log.Warn("too many unknown files, throttling", "src", ip, "path", printable(rel))
	}
	s.log.Info("provisioning file not found", "src", ip, "path", printable(rel), "reason", err.Error(), "user_agent", printable(userAgent))
}

// printable keeps log lines one line long whatever a client sends.
func printable(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// authorized checks Basic or Digest credentials against the tenant's, and
// challenges when they are missing or wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, ip string, p provision.HTTPAuth) bool {
	res, challenge := s.checkAuth(r.Header.Get("Authorization"), r.Method, r.URL.RequestURI(), r.URL.Path, p)
	if res == authOK {
		return true
	}
	s.authFailed(ip, res)
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, "authentication required", http.StatusUnauthorized)
	return false
}

// authResult is what a request's credentials came to.
type authResult int

const (
	authOK      authResult = iota
	authMissing            // no credentials: the normal first step of Digest
	authStale              // a Digest nonce we no longer know: the password was not tried
	authWrong              // credentials were tried and are wrong: a guess
)

// authFailed charges a wrong guess to the source's budget (shared with the
// requests for unknown files), so a tenant's password cannot be guessed at
// full speed; a challenge or a stale nonce costs nothing.
func (s *Server) authFailed(ip string, res authResult) {
	if res == authWrong && s.limit.Fail(ip) {
		s.log.Warn("too many failed logins, throttling", "src", ip)
	}
}

// checkAuth verifies an Authorization header value; when it fails it returns the
// challenge to send. Both the net/http and the fasthttp front ends use it.
func (s *Server) checkAuth(authz, method, requestURI, path string, p provision.HTTPAuth) (authResult, string) {
	res := authMissing
	if strings.TrimSpace(authz) != "" {
		res = authWrong
	}
	switch p.Mode {
	case "basic":
		if v, ok := strings.CutPrefix(authz, "Basic "); ok {
			if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
				u, pw, found := strings.Cut(string(raw), ":")
				if found && eq(u, p.User) && eq(pw, p.Password) {
					return authOK, ""
				}
			}
		}
		return res, `Basic realm="` + s.realm + `", charset="UTF-8"`
	case "digest":
		stale := ""
		if v, ok := strings.CutPrefix(authz, "Digest "); ok {
			switch res = s.checkDigest(method, requestURI, path, v, p); res {
			case authOK:
				return authOK, ""
			case authStale:
				stale = ", stale=true"
			}
		}
		return res, fmt.Sprintf(`Digest realm="%s", qop="auth", algorithm=MD5, nonce="%s"%s`, s.realm, s.nonce.issue(), stale)
	}
	return authOK, ""
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// checkDigest verifies an RFC 2617/7616 MD5 digest response (what desk phones send).
func (s *Server) checkDigest(method, requestURI, path, params string, p provision.HTTPAuth) authResult {
	f := parseDigest(params)
	if !s.nonce.valid(f["nonce"]) {
		return authStale
	}
	if f["username"] != p.User || f["realm"] != s.realm {
		return authWrong
	}
	if f["uri"] != requestURI && f["uri"] != path {
		return authWrong
	}
	md := func(x string) string { sum := md5.Sum([]byte(x)); return hex.EncodeToString(sum[:]) }
	ha1 := md(p.User + ":" + s.realm + ":" + p.Password)
	ha2 := md(method + ":" + f["uri"])
	var want string
	if f["qop"] == "auth" {
		want = md(ha1 + ":" + f["nonce"] + ":" + f["nc"] + ":" + f["cnonce"] + ":auth:" + ha2)
	} else {
		want = md(ha1 + ":" + f["nonce"] + ":" + ha2)
	}
	if !eq(want, f["response"]) {
		return authWrong
	}
	return authOK
}

func parseDigest(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.TrimSpace(k)
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			v, s = rest[1:1+end], rest[2+end:]
		} else {
			v, s, _ = strings.Cut(rest, ",")
		}
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// nonces are server nonces valid for 5 minutes.
type nonces struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (n *nonces) issue() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on Linux
	v := hex.EncodeToString(b)
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if len(n.m) > 10000 {
		for k, t := range n.m {
			if now.Sub(t) > 5*time.Minute {
				delete(n.m, k)
			}
		}
	}
	n.m[v] = now
	return v
}

func (n *nonces) valid(v string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.m[v]
	return ok && time.Since(t) < 5*time.Minute
}
