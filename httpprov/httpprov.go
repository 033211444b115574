package httpprov

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // G401,G501: HTTP Digest (RFC 2617) and the vendor's API are MD5 by definition; not used for secrecy
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
	log  *slog.Logger
	prov *provision.Service
	// limit is the budget of requests for unknown files; logins is the budget
	// of wrong credentials, the same size but apart, so that a phone sharing
	// its address with a scanner still authenticates, and a source guessing
	// passwords still gets its secret-free files.
	limit  *provision.Throttle
	logins *ratelimit.Limiter
	realm  string
	nonce  *nonces
}

// Digest nonces live NonceLifetime (a phone reuses its nonce, counting nc up,
// for the files of one boot; after that it is answered stale=true and takes a
// new one), and at most MaxNonces are kept: beyond that the oldest are
// forgotten, so a flood of challenges costs bounded memory.
const (
	NonceLifetime = 5 * time.Minute
	MaxNonces     = 16384
)

// New builds the handler; limit is shared with the TFTP server so that a scanner
// cannot double its budget by switching protocol.
func New(log *slog.Logger, prov *provision.Service, limit *provision.Throttle) *Server {
	return &Server{log: log, prov: prov, limit: limit, logins: limit.Sibling(),
		realm: "switchboard provisioning", nonce: newNonces(MaxNonces, NonceLifetime)}
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
			s.log.Warn("provisioning auth failed", "src", ip, "tenant", t.Tenant, "file", t.Name, "user_agent", provision.Printable(r.UserAgent()))
			return
		}
	}
	switch {
	case t.File != nil:
		s.prov.Served(t, ip) // a bootstrap hand-out or a device's claim is recorded
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
				w.Write(f.Body) // the client went away
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

// miss answers a request that names no file: 404, and unknown device files
// are recorded and count against the source, which is answered 429 once it
// has asked for too many.
func (s *Server) miss(w http.ResponseWriter, r *http.Request, ip, rel string, err error, t provision.Target) {
	if wait := s.limit.Wait(ip); wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		http.Error(w, "too many requests for unknown files", http.StatusTooManyRequests)
		return
	}
	s.recordMiss(ip, r.UserAgent(), rel, err, t)
	http.Error(w, "file not found", http.StatusNotFound)
}

func retryAfter(wait time.Duration) string { return strconv.Itoa(int(wait.Seconds()) + 1) }

func (s *Server) recordMiss(ip, userAgent, rel string, err error, t provision.Target) {
	if t.MAC != "" {
		s.prov.SeeUnknown(t.Tenant, t.MAC, ip, userAgent, t.Name)
	}
	s.limit.Fail(ip, rel)
	s.log.Info("provisioning file not found", "src", ip, "path", provision.LogPath(rel), "reason", err.Error(), "user_agent", provision.Printable(userAgent))
}

// authorized checks Basic or Digest credentials against the tenant's, and
// challenges when they are missing or wrong, or answers 429 to a source that
// tried too many wrong ones (its credentials are then not even looked at).
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, ip string, p provision.HTTPAuth) bool {
	authz := r.Header.Get("Authorization")
	if wait := s.loginWait(ip, authz); wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		http.Error(w, "too many failed logins", http.StatusTooManyRequests)
		return false
	}
	res, challenge := s.checkAuth(authz, r.Method, r.URL.RequestURI(), r.URL.Path, p)
	if res == authOK {
		return true
	}
	s.authFailed(ip, res)
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, "authentication required", http.StatusUnauthorized)
	return false
}

// loginWait is how long a source that sends credentials must wait; a request
// without any (the first step of Digest) is never held back.
func (s *Server) loginWait(ip, authz string) time.Duration {
	if strings.TrimSpace(authz) == "" {
		return 0
	}
	return s.logins.Wait(ip)
}

// authResult is what a request's credentials came to.
type authResult int

const (
	authOK      authResult = iota
	authMissing            // no credentials: the normal first step of Digest
	authStale              // a Digest nonce we no longer know, or a replay: the password was not tried
	authWrong              // credentials were tried and are wrong: a guess
)

// authFailed charges a wrong guess to the source's login budget, so a
// tenant's password cannot be guessed at full speed; a challenge, a stale
// nonce or a replayed response costs nothing.
func (s *Server) authFailed(ip string, res authResult) {
	if res == authWrong && s.logins.Fail(ip) {
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

// checkDigest verifies an RFC 2617/7616 MD5 digest response (what desk phones
// send). A right response is accepted once: with qop its nc must be higher
// than any accepted before for that nonce, without qop (RFC 2069, no nc) the
// nonce is used up. A replay is answered like a stale nonce.
func (s *Server) checkDigest(method, requestURI, path, params string, p provision.HTTPAuth) authResult {
	f := parseDigest(params)
	nonce := f["nonce"]
	if !s.nonce.known(nonce) {
		return authStale
	}
	if f["username"] != p.User || f["realm"] != s.realm {
		return authWrong
	}
	if f["uri"] != requestURI && f["uri"] != path {
		return authWrong
	}
	var nc uint64
	counted := f["qop"] != ""
	if counted {
		var err error
		if f["qop"] != "auth" || len(f["nc"]) != 8 {
			return authWrong
		}
		if nc, err = strconv.ParseUint(f["nc"], 16, 32); err != nil || nc == 0 {
			return authWrong
		}
	}
	md := func(x string) string { sum := md5.Sum([]byte(x)); return hex.EncodeToString(sum[:]) } //nolint:gosec // G401,G501: HTTP Digest (RFC 2617) and the vendor's API are MD5 by definition; not used for secrecy
	ha1 := md(p.User + ":" + s.realm + ":" + p.Password)
	ha2 := md(method + ":" + f["uri"])
	var want string
	if counted {
		want = md(ha1 + ":" + nonce + ":" + f["nc"] + ":" + f["cnonce"] + ":auth:" + ha2)
	} else {
		want = md(ha1 + ":" + nonce + ":" + ha2)
	}
	if !eq(want, f["response"]) {
		return authWrong
	}
	// Only a right response moves nc: garbage with a high nc cannot lock a
	// phone out of its nonce.
	if !s.nonce.use(nonce, nc, counted) {
		return authStale
	}
	return authOK
}

// parseDigest reads the comma-separated key=value pairs of a Digest header;
// values may be quoted. The first value of a repeated key counts.
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
		if _, dup := out[k]; !dup {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// nonces are the server nonces issued in Digest challenges, each with the
// highest nc accepted so far.
type nonces struct {
	mu    sync.Mutex
	m     map[string]*nonceState
	order []string // nonces in issue order, so the oldest go first
	max   int
	ttl   time.Duration
	now   func() time.Time
}

type nonceState struct {
	issued time.Time
	nc     uint64
	used   bool
}

func newNonces(max int, ttl time.Duration) *nonces {
	return &nonces{m: map[string]*nonceState{}, max: max, ttl: ttl, now: time.Now}
}

func (n *nonces) issue() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand does not fail on Linux
	v := hex.EncodeToString(b)
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	// Forget the expired, then the oldest while full: every nonce lives as
	// long, so issue order is expiry order.
	for len(n.order) > 0 {
		st, ok := n.m[n.order[0]]
		if ok && now.Sub(st.issued) < n.ttl && len(n.m) < n.max {
			break
		}
		delete(n.m, n.order[0])
		n.order = n.order[1:]
	}
	n.m[v] = &nonceState{issued: now}
	n.order = append(n.order, v)
	return v
}

// known reports whether v was issued here and has not expired.
func (n *nonces) known(v string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.m[v]
	return ok && n.now().Sub(st.issued) < n.ttl
}

// use accepts one request under nonce v: with counted, nc must exceed every nc
// accepted before; without, v is good for one request only.
func (n *nonces) use(v string, nc uint64, counted bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.m[v]
	if !ok || n.now().Sub(st.issued) >= n.ttl || st.used {
		return false
	}
	if !counted {
		st.used = true
		return true
	}
	if nc <= st.nc {
		return false
	}
	st.nc = nc
	return true
}

func (n *nonces) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.m)
}
