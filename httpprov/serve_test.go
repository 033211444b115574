package httpprov

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// front is one way the tree is served: the fasthttp plain listener or the
// net/http handler behind HTTPS.
type front struct {
	name string
	base string // scheme://host:port
}

func fronts(t *testing.T, e *provtest.Env, burst int) []front {
	t.Helper()
	s := New(e.Logger, e.Prov, ratelimit.New(burst, time.Minute))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if strings.HasPrefix(string(ctx.Path()), "/provisioning/") {
			s.ServeFast(ctx)
			return
		}
		ctx.Error("no", 404)
	}}
	go fs.Serve(ln)
	t.Cleanup(func() { fs.Shutdown() })
	mux := http.NewServeMux()
	mux.Handle("/provisioning/", s)
	ts := httptest.NewTLSServer(mux)
	t.Cleanup(ts.Close)
	return []front{{"http (fasthttp)", "http://" + ln.Addr().String()}, {"https (net/http)", ts.URL}}
}

type curlResult struct {
	status int
	header string
	body   string
}

// curl runs the real curl and splits its answer.
func curl(t *testing.T, args ...string) curlResult {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sk", "-i", "--path-as-is", "-A", "TestPhone/1.0"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	s := string(out)
	// With Digest, curl prints the 401 and then the final answer.
	for strings.HasPrefix(s, "HTTP/") {
		head, body, _ := strings.Cut(s, "\r\n\r\n")
		var code int
		m := regexp.MustCompile(`^HTTP/[\d.]+ (\d+)`).FindStringSubmatch(head)
		if m != nil {
			code = atoi(m[1])
		}
		if strings.HasPrefix(body, "HTTP/") {
			s = body
			continue
		}
		return curlResult{code, head, body}
	}
	t.Fatalf("curl %v: no HTTP answer: %q", args, s)
	return curlResult{}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func header(h, name string) string {
	m := regexp.MustCompile(`(?im)^` + name + `: (.*?)\r?$`).FindStringSubmatch(h)
	if m == nil {
		return ""
	}
	return m[1]
}

func needCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (CI installs it from .ci/run)")
	}
}

func TestServeWithCurl(t *testing.T) {
	needCurl(t)
	e := provtest.New(t, provision.ModeSingle, 1000)
	for _, f := range fronts(t, e, 1000) {
		t.Run(f.name, func(t *testing.T) {
			url := f.base + "/provisioning/" + e.File
			r := curl(t, url)
			if r.status != 200 || r.body != string(e.Body) {
				t.Fatalf("GET: %d, %d bytes", r.status, len(r.body))
			}
			etag, lm := header(r.header, "Etag"), header(r.header, "Last-Modified")
			if etag == "" || lm == "" || !strings.HasPrefix(header(r.header, "Content-Type"), "text/plain") {
				t.Fatalf("headers:\n%s", r.header)
			}
			if h := curl(t, "-I", url); h.status != 200 || header(h.header, "Content-Length") != itoa(len(e.Body)) || h.body != "" {
				t.Errorf("HEAD: %d %q", h.status, h.header)
			}
			if c := curl(t, "-H", "If-None-Match: "+etag, url); c.status != 304 || c.body != "" {
				t.Errorf("If-None-Match: %d", c.status)
			}
			if c := curl(t, "-H", "If-Modified-Since: "+lm, url); c.status != 304 {
				t.Errorf("If-Modified-Since: %d", c.status)
			}
			fw := f.base + "/provisioning/firmware.rom"
			if c := curl(t, "-r", "100-199", fw); c.status != 206 || c.body != string(e.Firmware[100:200]) ||
				header(c.header, "Content-Range") != "bytes 100-199/"+itoa(len(e.Firmware)) {
				t.Errorf("Range: %d %q", c.status, header(c.header, "Content-Range"))
			}
			if c := curl(t, "-r", "-10", fw); c.status != 206 || c.body != string(e.Firmware[len(e.Firmware)-10:]) {
				t.Errorf("suffix Range: %d", c.status)
			}
			if c := curl(t, "-H", "Range: bytes=99999999-", fw); c.status != 416 {
				t.Errorf("unsatisfiable Range: %d", c.status)
			}
			for _, m := range []string{"POST", "PUT", "DELETE"} {
				if c := curl(t, "-X", m, url); c.status != 405 {
					t.Errorf("%s: %d", m, c.status)
				}
			}
			for _, p := range []string{"/provisioning/../provisioning/" + e.File, "/provisioning/%2e%2e/x", "/provisioning/a%2Fb",
				"/provisioning//" + e.File, "/provisioning/" + strings.Repeat("a", 8000), "/provisioning/", "/provisioning/x\\y"} {
				if c := curl(t, f.base+p); c.status == 200 || c.status >= 500 {
					t.Errorf("%q: %d", p, c.status)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestChangeAndAuth: a change gets a new ETag; tenant auth guards secret files only.
func TestChangeAndAuth(t *testing.T) {
	needCurl(t)
	e := provtest.New(t, provision.ModeSingle, 1000)
	fr := fronts(t, e, 1000)
	before := curl(t, fr[0].base+"/provisioning/"+e.File)
	// Identical data: same ETag and Last-Modified.
	if _, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, e.Account, json.RawMessage(`{"sip_password":"prov-secret"}`)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	same := curl(t, fr[0].base+"/provisioning/"+e.File)
	if header(same.header, "Etag") != header(before.header, "Etag") || header(same.header, "Last-Modified") != header(before.header, "Last-Modified") {
		t.Error("re-saving identical data changed the ETag or Last-Modified")
	}
	if _, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, e.Account, json.RawMessage(`{"sip_password":"rotated-secret"}`)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	after := curl(t, fr[0].base+"/provisioning/"+e.File)
	if header(after.header, "Etag") == header(before.header, "Etag") || !strings.Contains(after.body, "rotated-secret") {
		t.Fatalf("password change not served: %q", after.body)
	}
	for _, mode := range []string{"basic", "digest"} {
		if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(`{"http_auth":"`+mode+`","http_user":"phones","http_password":"bootstrap-pw"}`)); err != nil {
			t.Fatal(err)
		}
		e.Sync(t)
		for _, f := range fr {
			url := f.base + "/provisioning/" + e.File
			if c := curl(t, url); c.status != 401 || strings.Contains(c.body, "rotated-secret") {
				t.Errorf("%s %s without credentials: %d", f.name, mode, c.status)
			}
			flag := "--basic"
			if mode == "digest" {
				flag = "--digest"
			}
			if c := curl(t, flag, "-u", "phones:bootstrap-pw", url); c.status != 200 || !strings.Contains(c.body, "rotated-secret") {
				t.Errorf("%s %s with credentials: %d", f.name, mode, c.status)
			}
			if c := curl(t, flag, "-u", "phones:wrong-password", url); c.status != 401 {
				t.Errorf("%s %s wrong password: %d", f.name, mode, c.status)
			}
			// The secret-free common file stays open: it bootstraps the credentials.
			if c := curl(t, f.base+"/provisioning/y000000000096.cfg"); c.status != 200 {
				t.Errorf("%s %s common file: %d", f.name, mode, c.status)
			}
		}
	}
	if !strings.Contains(e.Log.String(), `msg="provisioning auth failed" src=127.0.0.1`) {
		t.Error("auth failures not logged")
	}
}

// TestUnknownDevices: unknown MACs are listed, adopted devices leave the list,
// and a scanning source is throttled with a fail2ban line.
func TestUnknownDevices(t *testing.T) {
	needCurl(t)
	e := provtest.New(t, provision.ModeSingle, 3)
	fr := fronts(t, e, 3)
	if c := curl(t, fr[0].base+"/provisioning/001565abcdef.cfg"); c.status != 404 {
		t.Fatalf("unknown: %d", c.status)
	}
	var seen bool
	for i := 0; i < 100 && !seen; i++ {
		list, _ := e.Prov.UnknownDevices(context.Background(), e.Tenant)
		for _, u := range list {
			seen = seen || (u.MAC == "001565ABCDEF" && u.UserAgent == "TestPhone/1.0" && u.File == "001565abcdef.cfg")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !seen {
		t.Fatal("unknown device not recorded with its User-Agent and file")
	}
	if _, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(`{"mac":"001565ABCDEF","model":"yealink-t54w"}`)); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.Prov.UnknownDevices(context.Background(), e.Tenant); len(list) != 0 {
		t.Errorf("adopted device still listed: %+v", list)
	}
	var last curlResult
	for i := 0; i < 5; i++ {
		last = curl(t, fr[0].base+"/provisioning/00156500000"+itoa(i)+".cfg")
	}
	if last.status != 429 || header(last.header, "Retry-After") == "" {
		t.Errorf("scanner not throttled: %d", last.status)
	}
	if !strings.Contains(e.Log.String(), `msg="provisioning: too many unknown files, throttling" src=127.0.0.1`) {
		t.Error("no fail2ban line")
	}
}
