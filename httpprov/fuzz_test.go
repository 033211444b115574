package httpprov

// Fuzz targets for what phones send the provisioning tree: the Authorization
// header (Basic and Digest) and the request line of the plain-HTTP (fasthttp)
// listener. Run one with e.g.
//
//	go test ./httpprov/ -run '^$' -fuzz '^FuzzAuthorization$' -fuzztime 30s

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// fuzzNonce is a nonce the fuzzed server knows, so that Digest headers built
// on it reach the response check.
const fuzzNonce = "00112233445566778899aabbccddeeff"

// FuzzAuthorization feeds checkAuth arbitrary Authorization headers, methods
// and URIs for a Basic and a Digest tenant: it never panics, lets nothing
// through but the right credentials, and challenges with a header that holds no
// line break. parseDigest gives trimmed keys and unquoted values.
func FuzzAuthorization(f *testing.F) {
	const uri = "/provisioning/001565123456.cfg"
	for _, a := range []string{
		"", "Basic cGhvbmVzOmJvb3RzdHJhcC1wdw==", "Basic cGhvbmVzOndyb25n", "Basic !!!", "Basic ", "basic cGhvbmVzOmJvb3RzdHJhcC1wdw==",
		hpDigest("phones", "bootstrap-pw", uri, fuzzNonce, 1), hpDigest("phones", "bootstrap-pw", uri, fuzzNonce, 0),
		hpDigest("phones", "wrong", uri, fuzzNonce, 2), hpDigest("phones", "bootstrap-pw", "/other", fuzzNonce, 3),
		`Digest username="phones", nonce="` + fuzzNonce + `", uri="` + uri + `", qop=auth, nc=zzzzzzzz, response="x"`,
		`Digest username="phones", nonce="` + fuzzNonce + `", uri="` + uri + `", qop=auth-int, nc=00000001, response="x"`,
		`Digest username="phones",,, ,nonce=` + fuzzNonce + `,uri=` + uri, `Digest username="unterminated`, `Digest =,=,=`,
		`Digest username="a\"b", realm="switchboard provisioning"`, "Digest " + strings.Repeat(`k="v", `, 200),
	} {
		for _, mode := range []string{"basic", "digest"} {
			f.Add(mode == "digest", a, "GET", uri)
		}
	}
	s := &Server{realm: "switchboard provisioning", nonce: newNonces(MaxNonces, 100*365*24*time.Hour)}
	s.nonce.m[fuzzNonce] = &nonceState{issued: time.Now()}
	s.nonce.order = append(s.nonce.order, fuzzNonce)
	creds := provision.HTTPAuth{User: "phones", Password: "bootstrap-pw"}
	f.Fuzz(func(t *testing.T, digest bool, authz, method, reqURI string) {
		p := creds
		p.Mode = "basic"
		if digest {
			p.Mode = "digest"
		}
		path := reqURI
		if u, err := url.ParseRequestURI(reqURI); err == nil {
			path = u.Path
		}
		res, challenge := s.checkAuth(authz, method, reqURI, path, p)
		if res == authOK {
			if challenge != "" {
				t.Fatalf("%q: accepted with a challenge %q", authz, challenge)
			}
			if digest {
				d := parseDigest(strings.TrimPrefix(authz, "Digest "))
				if !strings.HasPrefix(authz, "Digest ") || d["username"] != "phones" || d["nonce"] != fuzzNonce || (d["uri"] != reqURI && d["uri"] != path) {
					t.Fatalf("%q accepted for %s %q", authz, method, reqURI)
				}
			} else if authz != "Basic cGhvbmVzOmJvb3RzdHJhcC1wdw==" && strings.TrimSpace(strings.TrimPrefix(authz, "Basic ")) != "cGhvbmVzOmJvb3RzdHJhcC1wdw==" {
				t.Fatalf("%q accepted as Basic", authz)
			}
			return
		}
		if challenge == "" || strings.ContainsAny(challenge, "\r\n") {
			t.Fatalf("%q: challenge %q", authz, challenge)
		}
		for k, v := range parseDigest(authz) {
			if k != strings.TrimSpace(k) || strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) && len(v) > 1 {
				t.Fatalf("%q: parsed %q=%q", authz, k, v)
			}
		}
	})
}

// FuzzFastPath feeds the plain-HTTP listener's handler raw request lines (as
// fasthttp parses them off the wire): whatever the path's encoding, dots or
// slashes, the answer is one of the statuses the tree uses, a 200 or 206 body
// is one of the tenant's files or assets, and nothing is served for a path
// that is not canonical.
func FuzzFastPath(f *testing.F) {
	e := provtest.New(f, provision.ModeSingle, 1<<30)
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	s := New(quiet, e.Prov, provision.NewThrottle(ratelimit.New(1<<30, time.Nanosecond), quiet))
	for _, p := range []string{
		"/provisioning/" + e.File, "/provisioning/firmware.rom", "/provisioning/y000000000096.cfg", "/provisioning/nothing.cfg",
		"/provisioning/../provisioning/" + e.File, "/provisioning/%2e%2e/" + e.File, "/provisioning//" + e.File,
		"/provisioning/./" + e.File, "/provisioning/a%2Fb", "/provisioning/%00", "/provisioning/%zz", "/provisioning/" + strings.Repeat("a/", 300),
		"/provisioning/001565ABCDEF.cfg", "/provisioning/..%2f..%2fetc%2fpasswd", "/provisioning/%c0%af", "http://x/provisioning/" + e.File,
		"/provisioning", "/", "*", "/provisioning/\xff", "/provisioning/" + e.File + "?x=1#y",
	} {
		f.Add("GET", p, "")
	}
	f.Add("HEAD", "/provisioning/"+e.File, "bytes=0-3")
	f.Add("GET", "/provisioning/firmware.rom", "bytes=-10")
	f.Add("POST", "/provisioning/"+e.File, "")
	bodies := map[string][]byte{}
	for _, name := range []string{e.File, "y000000000096.cfg"} {
		bodies[name] = e.Lookup(f, name).Body
	}
	bodies["firmware.rom"] = e.Firmware
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5060}
	f.Fuzz(func(t *testing.T, method, target, rng string) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: phones\r\n"
		if rng != "" {
			raw += "Range: " + rng + "\r\n"
		}
		var req fasthttp.Request
		if strings.ContainsAny(method+target+rng, "\r\n") || req.Read(bufio.NewReader(strings.NewReader(raw+"\r\n"))) != nil {
			return // not a request the listener would hand over
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, remote, nil)
		if !bytes.HasPrefix(ctx.Path(), []byte("/provisioning/")) {
			return // the listener routes only this prefix here
		}
		s.ServeFast(&ctx)
		code := ctx.Response.StatusCode()
		switch code {
		case 200, 206, 304, 401, 404, 405, 416, 429:
		default:
			t.Fatalf("%s %q: status %d", method, target, code)
		}
		if code != 200 && code != 206 || ctx.IsHead() {
			return
		}
		if !canonical(string(ctx.URI().PathOriginal()), string(ctx.Path())) {
			t.Fatalf("%s %q: served a path that is not canonical", method, target)
		}
		name := strings.TrimPrefix(string(ctx.Path()), "/provisioning/")
		want, ok := bodies[name]
		if !ok {
			t.Fatalf("%s %q: served %q, which is not a file of the tree", method, target, name)
		}
		// What was sent starts at the range's first byte (0 for a 200); a
		// streamed asset is checked on its first 4 KiB, which keeps an
		// execution short.
		from := 0
		if cr := string(ctx.Response.Header.Peek("Content-Range")); code == 206 {
			if _, err := fmt.Sscanf(cr, "bytes %d-", &from); err != nil || from >= len(want) {
				t.Fatalf("%s %q: Content-Range %q", method, target, cr)
			}
		}
		body := ctx.Response.Body()
		if ctx.Response.IsBodyStream() {
			body = make([]byte, min(4096, len(want)-from))
			n, _ := io.ReadFull(ctx.Response.BodyStream(), body)
			body = body[:n]
			ctx.Response.CloseBodyStream() //nolint:errcheck // a file being read
		} else if code == 200 && len(body) != len(want) {
			t.Fatalf("%s %q: %d bytes of %s's %d", method, target, len(body), name, len(want))
		}
		if !bytes.Equal(want[from:from+len(body)], body) {
			t.Fatalf("%s %q: %d bytes that are not %s's", method, target, len(body), name)
		}
	})
}
