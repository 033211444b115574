package httpprov

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/provision"
)

// ServeFast answers GET and HEAD under /provisioning/ on the plain HTTP listener,
// which runs on fasthttp: phones booting together hit it hardest, and net/http's
// per-request cost kept it well below a static nginx (see README, make bench).
// It follows ServeHTTP exactly: same resolution, authentication, logging,
// conditional requests (ETag, Last-Modified) and single byte ranges.
func (s *Server) ServeFast(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	ip := fastIP(ctx)
	if !ctx.IsGet() && !ctx.IsHead() {
		fastError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed", "Allow", "GET, HEAD")
		return
	}
	ua := string(ctx.UserAgent())
	orig := string(ctx.URI().PathOriginal())
	rel, ok := strings.CutPrefix(string(ctx.Path()), "/provisioning/")
	if !ok || !canonical(orig, string(ctx.Path())) {
		s.missFast(ctx, ip, ua, orig, provision.ErrBadPath, provision.Target{})
		return
	}
	t, err := s.prov.Resolve(rel)
	if err != nil {
		s.missFast(ctx, ip, ua, rel, err, t)
		return
	}
	if t.Auth.Required() {
		authz := string(ctx.Request.Header.Peek("Authorization"))
		if wait := s.loginWait(ip, authz); wait > 0 {
			fastError(ctx, fasthttp.StatusTooManyRequests, "too many failed logins", "Retry-After", retryAfter(wait))
			return
		}
		res, challenge := s.checkAuth(authz, string(ctx.Method()), string(ctx.RequestURI()), string(ctx.Path()), t.Auth)
		if res != authOK {
			s.authFailed(ip, res)
			s.log.Warn("provisioning auth failed", "src", ip, "tenant", t.Tenant, "file", t.Name, "user_agent", provision.Printable(ua))
			fastError(ctx, fasthttp.StatusUnauthorized, "authentication required", "WWW-Authenticate", challenge)
			return
		}
	}
	if t.File != nil {
		s.prov.Served(t, ip) // a bootstrap hand-out or a device's claim is recorded
		f := t.File
		h := &ctx.Response.Header
		h.Set("ETag", f.ETag)
		h.SetContentType(contentType(f.ContentType))
		h.Set("Cache-Control", "no-cache")
		h.SetLastModified(f.ModTime)
		h.Set("Accept-Ranges", "bytes")
		if notModified(ctx, f.ETag, f.ModTime) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			ctx.Response.SkipBody = true
			return
		}
		from, n, status := byteRange(ctx, int64(len(f.Body)))
		ctx.SetStatusCode(status)
		if status == fasthttp.StatusRequestedRangeNotSatisfiable {
			return
		}
		ctx.SetBody(f.Body[from : from+n])
		if s.log.Enabled(ctx, slog.LevelInfo) {
			s.log.Info("provisioning file served", "src", ip, "tenant", t.Tenant, "file", f.Name, "bytes", n, "took", time.Since(start), "user_agent", provision.Printable(ua))
		}
		return
	}
	a := t.Asset
	fh, err := os.Open(s.prov.AssetPath(a))
	if err != nil {
		s.log.Error("asset missing on disk", "tenant", t.Tenant, "file", a.Name, "err", err)
		ctx.Error("file not found", fasthttp.StatusNotFound)
		return
	}
	etag := `"` + a.SHA256[:24] + `"`
	ctx.Response.Header.Set("ETag", etag)
	ctx.Response.Header.Set("Content-Type", a.ContentType)
	ctx.Response.Header.Set("Last-Modified", a.ModTime.UTC().Format(http.TimeFormat))
	ctx.Response.Header.Set("Accept-Ranges", "bytes")
	if notModified(ctx, etag, a.ModTime) {
		fh.Close()
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		ctx.Response.SkipBody = true
		return
	}
	from, n, status := byteRange(ctx, a.Size)
	ctx.SetStatusCode(status)
	if status == fasthttp.StatusRequestedRangeNotSatisfiable {
		fh.Close()
		return
	}
	if ctx.IsHead() {
		fh.Close()
		ctx.Response.Header.SetContentLength(int(n))
		ctx.Response.SkipBody = true
		return
	}
	// fasthttp closes the stream when it has sent it.
	ctx.SetBodyStream(&sectionFile{SectionReader: io.NewSectionReader(fh, from, n), f: fh}, int(n))
	s.log.Debug("provisioning asset served", "src", ip, "tenant", t.Tenant, "file", a.Name, "bytes", n, "took", time.Since(start))
}

// missFast is miss for the fasthttp front.
func (s *Server) missFast(ctx *fasthttp.RequestCtx, ip, ua, rel string, err error, t provision.Target) {
	if wait := s.limit.Wait(ip); wait > 0 {
		fastError(ctx, fasthttp.StatusTooManyRequests, "too many requests for unknown files", "Retry-After", retryAfter(wait))
		return
	}
	s.recordMiss(ip, ua, rel, err, t)
	ctx.Error("file not found", fasthttp.StatusNotFound)
}

type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionFile) Close() error { return s.f.Close() }

func fastIP(ctx *fasthttp.RequestCtx) string {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ctx.RemoteIP().String()
}

// notModified applies If-None-Match, then If-Modified-Since (RFC 9110 13.2.2).
func notModified(ctx *fasthttp.RequestCtx, etag string, mod time.Time) bool {
	if inm := string(ctx.Request.Header.Peek("If-None-Match")); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	if ims := ctx.Request.Header.Peek("If-Modified-Since"); len(ims) > 0 {
		if t, err := fasthttp.ParseHTTPDate(ims); err == nil && !mod.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

// byteRange applies a single "bytes=" range; anything else serves the whole body.
// It sets Content-Range and returns the slice to send and the status.
func byteRange(ctx *fasthttp.RequestCtx, size int64) (from, n int64, status int) {
	h := string(ctx.Request.Header.Peek("Range"))
	if h == "" {
		return 0, size, fasthttp.StatusOK
	}
	if ir := string(ctx.Request.Header.Peek("If-Range")); ir != "" && ir != string(ctx.Response.Header.Peek("ETag")) {
		return 0, size, fasthttp.StatusOK
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, fasthttp.StatusOK // multiple ranges: the whole file is a valid answer
	}
	a, b, _ := strings.Cut(strings.TrimSpace(spec), "-")
	start, end := int64(-1), int64(-1)
	var err error
	if a != "" {
		if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 {
			return unsatisfiable(ctx, size)
		}
	}
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < 0 {
			return unsatisfiable(ctx, size)
		}
	}
	switch {
	case a == "" && b == "":
		return unsatisfiable(ctx, size)
	case a == "": // suffix: the last end bytes
		if end == 0 {
			return unsatisfiable(ctx, size)
		}
		start = max(0, size-end)
		end = size - 1
	case b == "" || end >= size:
		end = size - 1
	}
	if start >= size || start > end {
		return unsatisfiable(ctx, size)
	}
	ctx.Response.Header.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
	return start, end - start + 1, fasthttp.StatusPartialContent
}

func unsatisfiable(ctx *fasthttp.RequestCtx, size int64) (int64, int64, int) {
	ctx.Response.Header.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	// An empty body, not SkipBody: with SkipBody fasthttp sends no Content-Length
	// and no "Connection: close", and the client waits for a body forever.
	ctx.Response.ResetBody()
	return 0, 0, fasthttp.StatusRequestedRangeNotSatisfiable
}

// fastError answers an error with one extra header. ctx.Error resets the response
// headers, so the header goes on after it, or Digest, Retry-After and Allow are lost.
func fastError(ctx *fasthttp.RequestCtx, status int, msg, key, value string) {
	ctx.Error(msg, status)
	ctx.Response.Header.Set(key, value)
}

// canonical reports whether the path the client sent is the one the handler
// sees: fasthttp hands over ctx.Path() decoded and normalized ("//", "./" and
// "../" folded), so a request that only names a file once normalized, or that
// hides a slash as %2F, is refused like the net/http front refuses it.
func canonical(orig, normalized string) bool {
	if strings.Contains(strings.ToLower(orig), "%2f") {
		return false
	}
	dec, err := url.PathUnescape(orig)
	if err != nil {
		return false
	}
	return dec == normalized
}
