package redirect_test

import (
	"bytes"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
)

// The SRAPS double recomputes the Hawk MAC and payload hash: both bodiless
// forms pass (hash omitted, hash of the empty payload); replays, stale
// timestamps, a changed body, path or host do not.
func TestHawkDouble(t *testing.T) {
	d := redirecttest.NewSRAPS("kid", "ksecret")
	defer d.Close()
	u, _ := url.Parse(d.URL())
	host, port, _ := net.SplitHostPort(u.Host)
	n := 0
	firstTS := ""
	send := func(method, path string, body []byte, mod func(*redirect.HawkRequest), after func(*http.Request)) int {
		n++
		hr := redirect.HawkRequest{TS: strconv.FormatInt(time.Now().Unix(), 10), Nonce: "n" + strconv.Itoa(n), Method: method,
			PathQuery: path, Host: host, Port: port}
		if body != nil {
			hr.Hash = redirect.HawkPayloadHash("application/json", body)
		}
		if n == 1 {
			firstTS = hr.TS
		}
		if mod != nil {
			mod(&hr)
		}
		req, _ := http.NewRequest(method, d.URL()+path, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", redirect.HawkHeader("kid", "ksecret", hr))
		if after != nil {
			after(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := send("GET", "/api/v1/tokens/kid", nil, nil, nil); c != 200 {
		t.Fatalf("bodiless without hash: %d", c)
	}
	if c := send("GET", "/api/v1/tokens/kid", nil, func(h *redirect.HawkRequest) { h.Hash = redirect.HawkPayloadHash("", nil) }, nil); c != 200 {
		t.Fatalf("bodiless with the empty payload hash: %d", c)
	}
	ep := "/api/v1/companies/c0ffee00-1111-2222-3333-444455556666/endpoints/000413aabbcc"
	body := []byte(`{"mac":"000413aabbcc","autoprovisioning_enabled":true,"settings_manager":{}}`)
	if c := send("PUT", ep, body, nil, nil); c != 201 {
		t.Fatalf("signed PUT: %d", c)
	}
	for name, c := range map[string]int{
		"stale": send("GET", "/api/v1/tokens/kid", nil, func(h *redirect.HawkRequest) { h.TS = "1353832234" }, nil),
		"path":  send("GET", "/api/v1/tokens/kid", nil, func(h *redirect.HawkRequest) { h.PathQuery = "/api/v1/tokens/other" }, nil),
		"host":  send("GET", "/api/v1/tokens/kid", nil, func(h *redirect.HawkRequest) { h.Host = "api.sraps.snom.com" }, nil),
		"body": send("PUT", ep, body, nil, func(r *http.Request) {
			b := bytes.Replace(body, []byte("true"), []byte("false"), 1)
			r.Body, r.ContentLength = ioNop(b), int64(len(b))
		}),
		"no hash with a body": send("PUT", ep, body, func(h *redirect.HawkRequest) { h.Hash = "" }, nil),
		"replay":              send("GET", "/api/v1/tokens/kid", nil, func(h *redirect.HawkRequest) { h.Nonce, h.TS = "n1", firstTS }, nil),
	} {
		if c != 401 {
			t.Errorf("%s: %d, want 401", name, c)
		}
	}
}
