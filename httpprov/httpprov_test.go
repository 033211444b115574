package httpprov

// Tests of the HTTP(S) provisioning tree with the real curl, over the shared
// provisioning fixture (internal/provtest) plus an XML device, a PBX setting and
// a second asset. Each test runs against the net/http handler over plain HTTP and
// over HTTPS (httptest), and against the fasthttp handler the plain listener of
// "switchboard serve" uses.

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

const (
	hpUA      = "AcmePhone/9.1 (test)"
	hpFile    = "001565123456.cfg"   // the fixture's Yealink T54W
	hpCommon  = "y000000000096.cfg"  // its model's common file (no secret)
	hpXMLFile = "x-001565654321.xml" // added by hpStart
	hpAsset   = "fw-2.0.rom"         // added by hpStart
	hpSecret  = "prov-secret"        // the fixture account's SIP password
	hpModel   = "yealink-t54w"
)

type hpEnv struct {
	*provtest.Env
	prefix  string // "/provisioning/" plus "<tenant>/" in multi-tenant mode
	xmlBody []byte
	asset   []byte
}

// hpStart runs the fixture's provisioning service and adds a second device (an
// XML file with values to escape), the PBX's SIP server and a 256 kB asset.
func hpStart(t *testing.T, mode string) *hpEnv {
	t.Helper()
	e := &hpEnv{Env: provtest.New(t, mode, 1000)}
	e.prefix = "/provisioning/"
	if mode == provision.ModeMulti {
		e.prefix += e.Tenant + "/"
	}
	xml := e.Save(t, "template", `{"name":"x","scope":"device","escape":"xml","content_type":"text/xml",`+
		`"body":"<?xml version=\"1.0\"?>\n<phone><name>%%ACCOUNT_DISPLAY_NAME%%</name><pw>%%ACCOUNT_SIP_PASSWORD%%</pw></phone>\n"}`)
	xmodel := e.Save(t, "model", `{"name":"X","brand":"acme","template":"`+xml+`","file":{"prefix":"x-","mac_format":"aabbccddeeff","suffix":".xml"}}`)
	a2 := e.Save(t, "account", `{"extension":"202","sip_password":"x<y>&z-Str0ng","display_name":"Tom & \"Jerry\" <ext>"}`)
	e.Save(t, "device", `{"mac":"00-15-65-65-43-21","model":"`+xmodel+`","account":"`+a2+`"}`)
	if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(`{"sip_server":"pbx.example.com"}`)); err != nil {
		t.Fatal(err)
	}
	e.asset = make([]byte, 256<<10+3)
	rand.Read(e.asset)
	if _, err := e.Prov.PutAsset(e.Ctx, e.Actor, e.Tenant, hpAsset, bytes.NewReader(e.asset)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	// The served files carry the account and the PBX's SIP server.
	if e.File != hpFile || !bytes.Contains(e.Body, []byte(hpSecret)) || !bytes.Contains(e.Body, []byte("= pbx.example.com\n")) {
		t.Fatalf("fixture file %s: %q", e.File, e.Body)
	}
	e.xmlBody = e.Lookup(t, hpXMLFile).Body
	return e
}

// auth makes the tenant demand provisioning credentials phones:bootstrap-pw
// (mode basic or digest).
func (e *hpEnv) auth(t *testing.T, mode string) {
	t.Helper()
	if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(
		`{"http_auth":"`+mode+`","http_user":"phones","http_password":"bootstrap-pw"}`)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
}

// hpFront is one way the tree is served.
type hpFront struct {
	name string
	base string // scheme://127.0.0.1:port
	fast bool
}

// hpFronts serves one handler (limit burst) over net/http plain and TLS, and over
// fasthttp configured as package httpd configures the plain listener.
func (e *hpEnv) fronts(t *testing.T, burst int) []hpFront {
	t.Helper()
	s := New(e.Logger, e.Prov, provision.NewThrottle(ratelimit.New(burst, time.Minute), e.Logger))
	mux := http.NewServeMux()
	mux.Handle("/provisioning/", s)
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(mux)
	t.Cleanup(secure.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if bytes.HasPrefix(ctx.Path(), []byte("/provisioning/")) {
				s.ServeFast(ctx)
				return
			}
			ctx.Error("not found", fasthttp.StatusNotFound)
		},
		ReadTimeout:                  5 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  5 * time.Second,
		MaxRequestBodySize:           64 << 10,
		ReadBufferSize:               8 << 10,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
	}
	done := make(chan struct{})
	go func() { fs.Serve(ln); close(done) }()
	t.Cleanup(func() { fs.Shutdown(); <-done })
	return []hpFront{
		{name: "http net-http", base: plain.URL},
		{name: "https net-http", base: secure.URL},
		{name: "http fasthttp", base: "http://" + ln.Addr().String(), fast: true},
	}
}

// hpResp is curl's view of the final answer.
type hpResp struct {
	code   int // 0: no HTTP answer
	header http.Header
	body   []byte
	exit   int
	stderr string
}

func (r hpResp) String() string {
	return fmt.Sprintf("%d (curl exit %d %s) %v %q", r.code, r.exit, r.stderr, r.header, r.body)
}

func hpNeedCurl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (CI installs it through .ci/run)")
	}
}

// hpCurl runs curl against url with extra arguments.
func hpCurl(t *testing.T, url string, args ...string) hpResp {
	t.Helper()
	dir := t.TempDir()
	hdr, body := filepath.Join(dir, "h"), filepath.Join(dir, "b")
	all := append([]string{"-s", "-S", "-k", "-g", "--path-as-is", "--max-time", "10", "-A", hpUA,
		"-D", hdr, "-o", body, "-w", "%{http_code}"}, args...)
	cmd := exec.Command("curl", append(all, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := hpResp{header: http.Header{}, stderr: strings.TrimSpace(stderr.String())}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("curl: %v", err)
	}
	r.code, _ = strconv.Atoi(strings.TrimSpace(stdout.String()))
	if r.exit != 0 {
		// Every answer, error or not, is a complete HTTP answer.
		t.Errorf("curl %q: exit %d: %s", args, r.exit, r.stderr)
	}
	r.body, _ = os.ReadFile(body)
	raw, _ := os.ReadFile(hdr)
	// The last header block is the final answer's (Digest shows a 401 first).
	if i := bytes.LastIndex(raw, []byte("HTTP/")); i >= 0 {
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw[i:])))
		tp.ReadLine() // the status line; the code comes from -w
		if h, err := tp.ReadMIMEHeader(); err == nil || len(h) > 0 {
			r.header = http.Header(h)
		}
	}
	return r
}

// TestHTTPServeWithCurl: GET, HEAD, conditional requests and ranges.
func TestHTTPServeWithCurl(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	for _, f := range e.fronts(t, 1000) {
		t.Run(f.name, func(t *testing.T) {
			url := f.base + e.prefix + hpFile
			r := hpCurl(t, url)
			if r.code != 200 || !bytes.Equal(r.body, e.Body) {
				t.Fatalf("GET: %v", r)
			}
			etag, lm := r.header.Get("Etag"), r.header.Get("Last-Modified")
			if etag != e.Lookup(t, hpFile).ETag || lm == "" {
				t.Fatalf("ETag %q Last-Modified %q, want ETag %q", etag, lm, e.Lookup(t, hpFile).ETag)
			}
			if _, err := http.ParseTime(lm); err != nil {
				t.Errorf("Last-Modified %q: %v", lm, err)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
			if got := e.Log.Count(`msg="provisioning file served"`, "src=127.0.0.1", "file="+hpFile, fmt.Sprintf("bytes=%d ", len(e.Body))); got == 0 {
				t.Errorf("GET not logged:\n%s", e.Log.String())
			}

			h := hpCurl(t, url, "-I")
			if h.code != 200 || h.header.Get("Content-Length") != strconv.Itoa(len(e.Body)) || h.header.Get("Etag") != etag ||
				!bytes.HasSuffix(h.body, []byte("\r\n\r\n")) { // (with -I, curl writes the header block alone)
				t.Errorf("HEAD: %v", h)
			}

			if c := hpCurl(t, url, "-H", "If-None-Match: "+etag); c.code != 304 || len(c.body) != 0 {
				t.Errorf("If-None-Match: %v", c)
			}
			if c := hpCurl(t, url, "-H", `If-None-Match: "other", `+etag); c.code != 304 {
				t.Errorf("If-None-Match list: %v", c)
			}
			if c := hpCurl(t, url, "-H", `If-None-Match: "0123456789abcdef"`); c.code != 200 || !bytes.Equal(c.body, e.Body) {
				t.Errorf("If-None-Match, other ETag: %v", c)
			}
			if c := hpCurl(t, url, "-H", "If-Modified-Since: "+lm); c.code != 304 || len(c.body) != 0 {
				t.Errorf("If-Modified-Since: %v", c)
			}
			if c := hpCurl(t, url, "-H", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT"); c.code != 200 || !bytes.Equal(c.body, e.Body) {
				t.Errorf("If-Modified-Since in the past: %v", c)
			}
			if c := hpCurl(t, url, "-r", "5-9"); c.code != 206 || !bytes.Equal(c.body, e.Body[5:10]) {
				t.Errorf("Range on the file: %v", c)
			}

			// The uploaded asset: whole, HEAD, ranges, conditional.
			aurl := f.base + e.prefix + hpAsset
			a := hpCurl(t, aurl)
			if a.code != 200 || !bytes.Equal(a.body, e.asset) {
				t.Fatalf("asset GET: %d, %d bytes", a.code, len(a.body))
			}
			if a.header.Get("Etag") == "" || a.header.Get("Last-Modified") == "" {
				t.Errorf("asset headers: %v", a.header)
			}
			if c := hpCurl(t, aurl, "-I"); c.code != 200 || c.header.Get("Content-Length") != strconv.Itoa(len(e.asset)) {
				t.Errorf("asset HEAD: %v", c.header)
			}
			c := hpCurl(t, aurl, "-r", "100-199")
			if c.code != 206 || !bytes.Equal(c.body, e.asset[100:200]) ||
				c.header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(e.asset)) {
				t.Errorf("Range 100-199: %d %q, %d bytes", c.code, c.header.Get("Content-Range"), len(c.body))
			}
			if c := hpCurl(t, aurl, "-r", "-10"); c.code != 206 || !bytes.Equal(c.body, e.asset[len(e.asset)-10:]) {
				t.Errorf("suffix Range: %d", c.code)
			}
			if c := hpCurl(t, aurl, "-r", fmt.Sprintf("%d-", len(e.asset)-5)); c.code != 206 || !bytes.Equal(c.body, e.asset[len(e.asset)-5:]) {
				t.Errorf("open Range: %d", c.code)
			}
			if c := hpCurl(t, aurl, "-H", "If-None-Match: "+a.header.Get("Etag")); c.code != 304 {
				t.Errorf("asset If-None-Match: %d", c.code)
			}
			if c := hpCurl(t, aurl, "-H", "If-Modified-Since: "+a.header.Get("Last-Modified")); c.code != 304 {
				t.Errorf("asset If-Modified-Since: %d", c.code)
			}

			// Odd paths in single-tenant mode (TestHTTPAbuse has the multi-tenant ones).
			for _, p := range []string{"/provisioning/../provisioning/" + hpFile, "/provisioning/%2e%2e/x", "/provisioning/a%2Fb",
				"/provisioning//" + hpFile, "/provisioning/" + strings.Repeat("a", 8000), "/provisioning/", "/provisioning/x\\y"} {
				if c := hpCurl(t, f.base+p); c.code == 200 || c.code >= 500 || c.exit != 0 {
					t.Errorf("%.120q: %v", p, c)
				}
			}
		})
	}
}

// TestHTTPUnsatisfiableRange: a range past the end is 416 and the answer ends
// (it must say how long its empty body is).
func TestHTTPUnsatisfiableRange(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	for _, f := range e.fronts(t, 1000) {
		t.Run(f.name, func(t *testing.T) {
			for _, name := range []string{hpAsset, hpFile} {
				c := hpCurl(t, f.base+e.prefix+name, "--max-time", "3", "-H", "Range: bytes=99999999-")
				if c.code != 416 || c.exit != 0 {
					t.Errorf("%s: %v", name, c)
				}
			}
		})
	}
}

// TestHTTPContentTypeAndXML: an XML template's file is text/xml with escaped values.
func TestHTTPContentTypeAndXML(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	want := "<?xml version=\"1.0\"?>\n<phone><name>Tom &amp; &quot;Jerry&quot; &lt;ext&gt;</name><pw>x&lt;y&gt;&amp;z-Str0ng</pw></phone>\n"
	if string(e.xmlBody) != want {
		t.Fatalf("XML rendered %q, want %q", e.xmlBody, want)
	}
	for _, f := range e.fronts(t, 1000) {
		r := hpCurl(t, f.base+e.prefix+hpXMLFile)
		if r.code != 200 || !bytes.Equal(r.body, e.xmlBody) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/xml") {
			t.Errorf("%s: %v", f.name, r)
		}
		if c := hpCurl(t, f.base+e.prefix+hpXMLFile, "-I"); !strings.HasPrefix(c.header.Get("Content-Type"), "text/xml") {
			t.Errorf("%s HEAD: %v", f.name, c.header)
		}
	}
}

// TestHTTPChangesAndETag: a changed password is served under a new ETag; an
// identical re-save keeps ETag and Last-Modified.
func TestHTTPChangesAndETag(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	fr := e.fronts(t, 1000)
	get := func() map[string]hpResp {
		out := map[string]hpResp{}
		for _, f := range fr {
			r := hpCurl(t, f.base+e.prefix+hpFile)
			if r.code != 200 {
				t.Fatalf("%s: %v", f.name, r)
			}
			out[f.name] = r
		}
		return out
	}
	before := get()
	// Last-Modified counts whole seconds: wait until the clock is past the
	// served one's second, so that a re-render would show in it.
	for name, r := range before {
		lm, err := http.ParseTime(r.header.Get("Last-Modified"))
		if err != nil {
			t.Fatalf("%s: Last-Modified: %v", name, err)
		}
		for deadline := time.Now().Add(5 * time.Second); !time.Now().Truncate(time.Second).After(lm); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the clock did not pass Last-Modified %s", name, lm)
			}
		}
	}
	if _, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, e.Account, json.RawMessage(`{"sip_password":"`+hpSecret+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(`{"sip_server":"pbx.example.com"}`)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	same := get()
	for name, r := range same {
		b := before[name]
		if r.header.Get("Etag") != b.header.Get("Etag") || r.header.Get("Last-Modified") != b.header.Get("Last-Modified") {
			t.Errorf("%s: identical re-save changed ETag/Last-Modified: %q %q -> %q %q", name,
				b.header.Get("Etag"), b.header.Get("Last-Modified"), r.header.Get("Etag"), r.header.Get("Last-Modified"))
		}
	}
	if _, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, e.Account, json.RawMessage(`{"sip_password":"rotated-201"}`)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	if !bytes.Contains(e.Body, []byte("rotated-201")) {
		t.Fatalf("rotated password not rendered: %q", e.Body)
	}
	after := get()
	for _, f := range fr {
		r, b := after[f.name], before[f.name]
		if r.header.Get("Etag") == b.header.Get("Etag") || !bytes.Equal(r.body, e.Body) {
			t.Errorf("%s: change not served: %q %q", f.name, r.header.Get("Etag"), r.body)
		}
		lm0, _ := http.ParseTime(b.header.Get("Last-Modified"))
		lm1, _ := http.ParseTime(r.header.Get("Last-Modified"))
		if !lm1.After(lm0) {
			t.Errorf("%s: Last-Modified %v not after %v", f.name, lm1, lm0)
		}
		// A phone holding the old ETag gets the new file.
		if c := hpCurl(t, f.base+e.prefix+hpFile, "-H", "If-None-Match: "+b.header.Get("Etag")); c.code != 200 || !bytes.Equal(c.body, r.body) {
			t.Errorf("%s: old ETag: %v", f.name, c)
		}
	}
}

// TestHTTPAbuse: odd paths, other tenants and other methods never get a file and
// never a server error.
func TestHTTPAbuse(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeMulti)
	other := e.AddTenant(t, "second")
	ten := e.Tenant
	paths := []string{
		"/provisioning/../x",
		"/provisioning/../provisioning/" + ten + "/" + hpFile,
		"/provisioning/" + ten + "/../" + ten + "/" + hpFile,
		"/provisioning/%2e%2e/x",
		"/provisioning/%2E%2E/" + ten + "/" + hpFile,
		"/provisioning/" + ten + "/%2e%2e/" + ten + "/" + hpFile,
		"/provisioning/a%2Fb",
		"/provisioning/" + ten + "%2F" + hpFile,
		"/provisioning/" + ten + "%2f" + hpFile,
		"/provisioning/" + ten + "/..%2F" + hpFile,
		"/provisioning/" + ten + "/..%5C" + hpFile,
		"/provisioning/" + ten + "%5C" + hpFile,
		"/provisioning/" + ten + "/" + hpFile + "%00",
		"/provisioning/" + ten + "/" + hpFile + "%00.txt",
		"/provisioning/" + ten + "/%00",
		"/provisioning/" + other + "/" + hpFile, // another tenant's UUID
		"/provisioning/" + other + "/" + hpAsset,
		"/provisioning/" + strings.ToUpper(other) + "/" + hpFile,
		"/provisioning/not-a-uuid/" + hpFile, // a non-UUID first segment
		"/provisioning/{" + ten + "}/" + hpFile,
		"/provisioning/urn:uuid:" + ten + "/" + hpFile,
		"/provisioning/" + strings.ReplaceAll(ten, "-", "") + "/" + hpFile,
		"/provisioning/" + hpFile, // root level in multi-tenant mode
		"/provisioning/" + ten + "/",
		"/provisioning/" + ten,
		"/provisioning/",
		"/provisioning/" + ten + "/" + ten + "/" + hpFile,
		"/provisioning/" + strings.Repeat("a", 8<<10),
		"/provisioning/" + ten + "/" + strings.Repeat("b", 8<<10),
		"/provisioning/" + ten + "/" + strings.Repeat("%2e", 300),
		// Paths that name the device file only once normalized (fasthttp normalizes
		// ctx.Path() before the handler sees it): refused on every front.
		"/provisioning//" + ten + "/" + hpFile,
		"/provisioning/" + ten + "//" + hpFile,
		"//provisioning/" + ten + "/" + hpFile,
		"/provisioning/x/%2e/../" + ten + "/" + hpFile,
	}
	// More such paths (dot segments), still served by the fasthttp front.
	normalized := []string{
		"/provisioning/./" + ten + "/" + hpFile,
		"/provisioning/" + ten + "/./" + hpFile,
		"/provisioning/x/.%2e/" + ten + "/" + hpFile,
		"/provisioning/x/%2e./" + ten + "/" + hpFile,
	}
	for _, f := range e.fronts(t, 1<<20) {
		t.Run(f.name, func(t *testing.T) {
			if r := hpCurl(t, f.base+e.prefix+hpFile); r.code != 200 || !bytes.Equal(r.body, e.Body) {
				t.Fatalf("the good path: %v", r)
			}
			for _, p := range paths {
				r := hpCurl(t, f.base+p)
				if r.code == 200 || r.code >= 500 || bytes.Contains(r.body, []byte(hpSecret)) {
					t.Errorf("%.120q: %v", p, r)
				}
			}
			var bugs []string
			for _, p := range normalized {
				r := hpCurl(t, f.base+p)
				switch {
				case r.code >= 500:
					t.Errorf("%q: %v", p, r)
				case r.code == 200 && f.fast:
					bugs = append(bugs, p)
				case r.code == 200:
					t.Errorf("%q: %v", p, r)
				}
			}
			for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
				r := hpCurl(t, f.base+e.prefix+hpFile, "-X", m, "--data-binary", "x=1")
				if r.code != 405 || bytes.Contains(r.body, []byte(hpSecret)) {
					t.Errorf("%s: %v", m, r)
				}
				if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") {
					t.Errorf("%s: Allow %q", m, allow)
				}
			}
			// Headers a scanner might send do not break anything either.
			for _, h := range []string{"Range: bytes=abc", "Range: bytes=5-1", "Range: bytes=0-1,3-4", "If-Modified-Since: garbage",
				"If-None-Match: ", "Authorization: Digest " + strings.Repeat("x=\"", 50)} {
				r := hpCurl(t, f.base+e.prefix+hpFile, "--max-time", "2", "-H", h)
				if r.code >= 500 || r.code == 0 || r.exit != 0 {
					t.Errorf("%q: %v", h, r)
				}
			}
			if len(bugs) > 0 {
				t.Errorf("non-canonical paths served after fasthttp normalized them: %q", bugs)
			}
		})
	}
	if e.Log.Count("level=ERROR") != 0 {
		t.Errorf("errors logged:\n%s", e.Log.String())
	}
}

// TestHTTPTenantAuth: in either tenancy mode, Basic and Digest guard the device
// files; the secret-free common file and the assets stay open.
func TestHTTPTenantAuth(t *testing.T) {
	hpNeedCurl(t)
	for _, tenancy := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(tenancy, func(t *testing.T) {
			e := hpStart(t, tenancy)
			fr := e.fronts(t, 1<<20)
			for _, mode := range []string{"basic", "digest"} {
				e.auth(t, mode)
				// The common file tells the phone where its tree is.
				commonWant := e.Lookup(t, hpCommon).Body
				if !bytes.Contains(commonWant, []byte("http://127.0.0.1"+e.prefix+"\n")) {
					t.Fatalf("%s does not point at %s:\n%s", hpCommon, e.prefix, commonWant)
				}
				flag := "--" + mode
				for _, f := range fr {
					t.Run(mode+" "+f.name, func(t *testing.T) {
						url := f.base + e.prefix + hpFile
						r := hpCurl(t, url)
						if r.code != 401 || bytes.Contains(r.body, []byte(hpSecret)) {
							t.Fatalf("without credentials: %v", r)
						}
						if ch := r.header.Get("Www-Authenticate"); !strings.HasPrefix(strings.ToLower(ch), mode+" ") {
							t.Errorf("challenge %q", ch)
						}
						// Neither HEAD, a range nor a conditional request gets around it.
						for _, extra := range [][]string{{"-I"}, {"-r", "0-3"}, {"-H", "If-None-Match: " + e.Lookup(t, hpFile).ETag}} {
							if c := hpCurl(t, url, extra...); c.code != 401 {
								t.Errorf("%v without credentials: %v", extra, c)
							}
						}
						if c := hpCurl(t, url, flag, "-u", "phones:bootstrap-pw"); c.code != 200 || !bytes.Equal(c.body, e.Body) {
							t.Errorf("with credentials: %v", c)
						}
						if c := hpCurl(t, url, flag, "-u", "phones:wrong-password"); c.code != 401 {
							t.Errorf("wrong password: %v", c)
						}
						if c := hpCurl(t, url, flag, "-u", "intruder:bootstrap-pw"); c.code != 401 {
							t.Errorf("wrong user: %v", c)
						}
						if mode == "digest" {
							// Basic credentials do not satisfy a Digest tenant.
							if c := hpCurl(t, url, "--basic", "-u", "phones:bootstrap-pw"); c.code != 401 {
								t.Errorf("Basic against Digest: %v", c)
							}
						}
						if c := hpCurl(t, f.base+e.prefix+hpXMLFile, flag, "-u", "phones:bootstrap-pw"); c.code != 200 || !bytes.Equal(c.body, e.xmlBody) {
							t.Errorf("XML file with credentials: %v", c)
						}
						// The common file carries no secret: it stays open.
						if c := hpCurl(t, f.base+e.prefix+hpCommon); c.code != 200 || !bytes.Equal(c.body, commonWant) {
							t.Errorf("common file without credentials: %v", c)
						}
						// So do assets.
						if c := hpCurl(t, f.base+e.prefix+hpAsset, "-r", "0-9"); c.code != 206 || !bytes.Equal(c.body, e.asset[:10]) {
							t.Errorf("asset without credentials: %v", c)
						}
					})
				}
			}
			if e.Log.Count(`msg="provisioning auth failed" src=127.0.0.1`, "file="+hpFile) == 0 {
				t.Errorf("auth failures not logged")
			}
			if strings.Contains(e.Log.String(), "bootstrap-pw") {
				t.Errorf("the provisioning password reached the log")
			}
		})
	}
}

// TestHTTPUnknownDevices: a request for an unconfigured MAC lists it with its
// User-Agent; adopting it takes it off the list.
func TestHTTPUnknownDevices(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	fr := e.fronts(t, 1000)
	// listed waits until mac is on the list (sightings are recorded
	// asynchronously) and returns its entry.
	listed := func(front, mac string) store.UnknownDevice {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			list, err := e.Prov.UnknownDevices(e.Ctx, e.Tenant)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range list {
				if u.MAC == mac {
					return u
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s not listed", front, mac)
			}
		}
	}
	adopt := func(mac string) {
		t.Helper()
		if _, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(`{"mac":"`+mac+`","model":"`+hpModel+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range fr {
		mac := fmt.Sprintf("001565abcd%02x", i)
		norm := strings.ToUpper(mac)
		ua := fmt.Sprintf("Yealink SIP-T54W 96.86.0.%d %s", i, mac)
		if r := hpCurl(t, f.base+e.prefix+mac+".cfg", "-A", ua); r.code != 404 {
			t.Fatalf("%s: unknown MAC: %v", f.name, r)
		}
		if found := listed(f.name, norm); found.UserAgent != ua || found.IP != "127.0.0.1" || found.File != mac+".cfg" {
			t.Errorf("%s: listed as %+v", f.name, found)
		}
		adopt(norm)
		list, err := e.Prov.UnknownDevices(e.Ctx, e.Tenant)
		if err != nil {
			t.Fatal(err)
		}
		// Every MAC asked for so far has been adopted: the list is empty.
		if len(list) != 0 {
			t.Errorf("%s: adopted device still listed: %+v", f.name, list)
		}
		// A configured device without a file (no account) is not "unknown" either.
		e.Sync(t)
		hpCurl(t, f.base+e.prefix+mac+".cfg", "-A", ua)
		// A barrier instead of a wait for nothing: sightings are recorded one
		// at a time in the order they were seen, so once an unknown MAC asked
		// for afterwards is listed, a sighting of the configured one would be.
		sentinel := fmt.Sprintf("001565FFFF%02X", i)
		if r := hpCurl(t, f.base+e.prefix+strings.ToLower(sentinel)+".cfg", "-A", ua); r.code != 404 {
			t.Fatalf("%s: sentinel MAC: %v", f.name, r)
		}
		listed(f.name, sentinel)
		list, _ = e.Prov.UnknownDevices(e.Ctx, e.Tenant)
		for _, u := range list {
			if u.MAC == norm {
				t.Errorf("%s: configured device listed again: %+v", f.name, u)
			}
		}
		adopt(sentinel)
	}
}

// TestHTTPThrottle (F9, F10): with a burst of 3, a source asking for unknown
// files gets 429 and one fail2ban line, the line TFTP writes too; the files it
// has are still served to it (a phone behind the same NAT address as a scanner
// boots), only unknown names are refused.
func TestHTTPThrottle(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	for _, f := range e.fronts(t, 3) {
		// Each front has its own base but the three share one limiter: run one
		// front per fresh limiter.
		t.Run(f.name, func(t *testing.T) {
			own := e.frontsFresh(t, f.name)
			var codes []int
			var last hpResp
			for i := 0; i < 6; i++ {
				last = hpCurl(t, own+e.prefix+fmt.Sprintf("unknown-%d.cfg", i))
				codes = append(codes, last.code)
			}
			want := []int{404, 404, 404, 429, 429, 429}
			if fmt.Sprint(codes) != fmt.Sprint(want) {
				t.Errorf("codes %v, want %v", codes, want)
			}
			if ra, err := strconv.Atoi(last.header.Get("Retry-After")); err != nil || ra < 1 || ra > 61 {
				t.Errorf("Retry-After %q", last.header.Get("Retry-After"))
			}
			if r := hpCurl(t, own+e.prefix+hpFile); r.code != 200 || !bytes.Equal(r.body, e.Body) {
				t.Errorf("known file while throttled: %v, want 200 and the file", r)
			}
			if r := hpCurl(t, own+e.prefix+hpAsset, "-r", "0-9"); r.code != 206 {
				t.Errorf("asset while throttled: %v, want 206", r)
			}
			if r := hpCurl(t, own+e.prefix+"unknown-9.cfg"); r.code != 429 {
				t.Errorf("unknown file after the known one: %v, want 429", r)
			}
		})
	}
	if n := e.Log.Count(`level=WARN msg="too many unknown files, throttling" src=127.0.0.1 `); n != 3 {
		t.Errorf("want one fail2ban line per front, got %d:\n%s", n, e.Log.String())
	}
}

// hpChallenge gets a fresh Digest nonce from url.
func hpChallenge(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch := resp.Header.Get("Www-Authenticate")
	_, rest, ok := strings.Cut(ch, `nonce="`)
	nonce, _, ok2 := strings.Cut(rest, `"`)
	if resp.StatusCode != 401 || !ok || !ok2 {
		t.Fatalf("no Digest challenge: %d %q", resp.StatusCode, ch)
	}
	return nonce
}

// hpDigest is the Authorization header a phone sends for uri with nonce and nc
// (qop auth; no qop when nc is 0, RFC 2069).
func hpDigest(user, pw, uri, nonce string, nc int) string {
	md := func(x string) string { sum := md5.Sum([]byte(x)); return hex.EncodeToString(sum[:]) }
	const realm = "switchboard provisioning"
	ha1, ha2 := md(user+":"+realm+":"+pw), md("GET:"+uri)
	if nc == 0 {
		return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
			user, realm, nonce, uri, md(ha1+":"+nonce+":"+ha2))
	}
	ncs := fmt.Sprintf("%08x", nc)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=auth, nc=%s, cnonce="c0ffee", response="%s", algorithm=MD5`,
		user, realm, nonce, uri, ncs, md(ha1+":"+nonce+":"+ncs+":c0ffee:auth:"+ha2))
}

// TestHTTPDigestReplay (F6): a captured Digest header works once. Replayed, on
// the same or the other listener, it is refused; the phone's next request with
// the same nonce and a higher nc works, a lower or equal nc does not; a nonce
// without qop (RFC 2069, no nc) is good for one request.
func TestHTTPDigestReplay(t *testing.T) {
	e := hpStart(t, provision.ModeSingle)
	e.auth(t, "digest")
	fr := e.fronts(t, 1<<20)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	uri := e.prefix + hpFile
	get := func(base, authz string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+uri, nil)
		req.Header.Set("Authorization", authz)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, f := range fr {
		other := fr[(i+1)%len(fr)]
		t.Run(f.name, func(t *testing.T) {
			nonce := hpChallenge(t, c, f.base+uri)
			h1 := hpDigest("phones", "bootstrap-pw", uri, nonce, 1)
			if got := get(f.base, h1); got != 200 {
				t.Fatalf("first use: %d", got)
			}
			for _, base := range []string{f.base, f.base, other.base} {
				if got := get(base, h1); got != 401 {
					t.Errorf("replay to %s: %d, want 401", base, got)
				}
			}
			if got := get(f.base, hpDigest("phones", "bootstrap-pw", uri, nonce, 3)); got != 200 {
				t.Errorf("next nc: %d, want 200", got)
			}
			if got := get(f.base, hpDigest("phones", "bootstrap-pw", uri, nonce, 2)); got != 401 {
				t.Errorf("lower nc: %d, want 401", got)
			}
			nonce = hpChallenge(t, c, f.base+uri)
			h0 := hpDigest("phones", "bootstrap-pw", uri, nonce, 0)
			if got := get(f.base, h0); got != 200 {
				t.Fatalf("RFC 2069 first use: %d", got)
			}
			if got := get(other.base, h0); got != 401 {
				t.Errorf("RFC 2069 replay: %d, want 401", got)
			}
		})
	}
}

// frontsFresh builds the named front again with its own limiter (burst 3).
func (e *hpEnv) frontsFresh(t *testing.T, name string) string {
	for _, f := range e.fronts(t, 3) {
		if f.name == name {
			return f.base
		}
	}
	t.Fatalf("no front %q", name)
	return ""
}

// TestHTTPErrorHeaders: the headers that go with 405, 401 and 429 (Allow, the
// WWW-Authenticate challenge, Retry-After) reach the client on every front, so
// that Digest works (on fasthttp, ctx.Error resets headers set before it).
func TestHTTPErrorHeaders(t *testing.T) {
	hpNeedCurl(t)
	e := hpStart(t, provision.ModeSingle)
	e.auth(t, "digest")
	for _, f := range e.fronts(t, 1000) {
		t.Run(f.name, func(t *testing.T) {
			var bugs []string
			url := f.base + e.prefix + hpFile
			if r := hpCurl(t, url, "-X", "POST"); r.code != 405 || !strings.Contains(r.header.Get("Allow"), "GET") {
				bugs = append(bugs, fmt.Sprintf("405 with Allow %q", r.header.Get("Allow")))
			}
			if r := hpCurl(t, url); r.code != 401 || !strings.HasPrefix(r.header.Get("Www-Authenticate"), "Digest ") {
				bugs = append(bugs, fmt.Sprintf("%d with WWW-Authenticate %q", r.code, r.header.Get("Www-Authenticate")))
			}
			if r := hpCurl(t, url, "--digest", "-u", "phones:bootstrap-pw"); r.code != 200 || !bytes.Equal(r.body, e.Body) {
				bugs = append(bugs, fmt.Sprintf("Digest with the right password: %d", r.code))
			}
			own := e.frontsFresh(t, f.name)
			var last hpResp
			for i := 0; i < 4; i++ {
				last = hpCurl(t, own+e.prefix+fmt.Sprintf("unknown-%d.cfg", i))
			}
			if last.code != 429 || last.header.Get("Retry-After") == "" {
				bugs = append(bugs, fmt.Sprintf("%d with Retry-After %q", last.code, last.header.Get("Retry-After")))
			}
			if len(bugs) > 0 {
				t.Errorf("%s", strings.Join(bugs, "; "))
			}
		})
	}
}

// TestHTTPAuthFailuresThrottled: wrong provisioning credentials drain a budget
// of their own, so the tenant's password cannot be guessed at full speed. (An
// unauthenticated first request is the normal start of Digest and must not
// count.)
func TestHTTPAuthFailuresThrottled(t *testing.T) {
	hpNeedCurl(t)
	for _, front := range []string{"https net-http", "http fasthttp"} {
		for _, mode := range []string{"basic", "digest"} {
			t.Run(front+" "+mode, func(t *testing.T) {
				e := hpStart(t, provision.ModeSingle)
				e.auth(t, mode)
				base := e.frontsFresh(t, front)
				flag := "--" + mode
				// Challenges without credentials are not failures.
				for i := 0; i < 5; i++ {
					if r := hpCurl(t, base+e.prefix+hpFile); r.code != 401 {
						t.Fatalf("challenge %d: %v", i, r)
					}
				}
				if r := hpCurl(t, base+e.prefix+hpFile, flag, "-u", "phones:bootstrap-pw"); r.code != 200 {
					t.Fatalf("after challenges: %v", r)
				}
				// A source throttled for unknown files (a scanner behind the
				// phone's NAT address) still authenticates.
				for i := 0; i < 4; i++ {
					hpCurl(t, base+e.prefix+fmt.Sprintf("unknown-%d.cfg", i))
				}
				if r := hpCurl(t, base+e.prefix+"unknown-x.cfg"); r.code != 429 {
					t.Fatalf("unknown files not throttled: %v", r)
				}
				if r := hpCurl(t, base+e.prefix+hpFile, flag, "-u", "phones:bootstrap-pw"); r.code != 200 {
					t.Fatalf("right credentials from a source throttled for unknown files: %v", r)
				}
				var codes []int
				for i := 0; i < 6; i++ {
					codes = append(codes, hpCurl(t, base+e.prefix+hpFile, flag, "-u", fmt.Sprintf("phones:guess-%d", i)).code)
				}
				if !slices.Contains(codes, http.StatusTooManyRequests) {
					t.Errorf("wrong credentials are never throttled (burst 3, codes %v)", codes)
				}
				if e.Log.Count(`level=WARN msg="too many failed logins, throttling" src=127.0.0.1`) == 0 {
					t.Error("no fail2ban line for the password guesses")
				}
			})
		}
	}
}
