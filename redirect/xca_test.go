package redirect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
)

// The X-Ca double recomputes signatures exactly: a signed request passes, a
// changed body, query, key, replayed nonce or wrong secret does not.
func TestXCaAgainstDouble(t *testing.T) {
	d := redirecttest.NewYealinkOpen("2df23f2d9c255e7138dc603b3847b58a", "d4a4be460a8d43609d8e8a5e7d0d4ad1")
	defer d.Close()
	do := func(method, path string, body []byte, tamper func(*http.Request)) (int, map[string]any) {
		req, _ := http.NewRequest(method, d.URL()+path, bytes.NewReader(body))
		redirect.SignXCa(req, body, "2df23f2d9c255e7138dc603b3847b58a", "d4a4be460a8d43609d8e8a5e7d0d4ad1", time.Now())
		if tamper != nil {
			tamper(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	body := []byte(`{"key":"TestServer","skip":0}`)
	if code, m := do("POST", "/api/open/v1/server/list", body, nil); code != 200 || m["ret"] != float64(1) {
		t.Fatalf("signed POST: %d %v", code, m)
	}
	if code, m := do("GET", "/api/open/v1/device/checkMac?mac=001565123123", nil, nil); code != 200 || m["ret"] != float64(1) {
		t.Fatalf("signed GET: %d %v", code, m)
	}
	d.Own("001565999999")
	if _, m := do("GET", "/api/open/v1/device/checkMac?mac=001565999999", nil, nil); m["ret"] != float64(-1) ||
		m["error"].(map[string]any)["msg"] != "device.mac.added.by.other" {
		t.Fatalf("owned MAC: %v", m)
	}
	for name, tamper := range map[string]func(*http.Request){
		"query": func(r *http.Request) { r.URL.RawQuery = "mac=001565123124" },
		"key":   func(r *http.Request) { r.Header.Set("X-Ca-Key", "other") },
		"sig":   func(r *http.Request) { r.Header.Set("X-Ca-Signature", "+speRmYv89rutzPc9u5Ij1JrtnrUw7nhJnqQfD1h5AU=") },
		"stale": func(r *http.Request) { r.Header.Set("X-Ca-Timestamp", "1544094691000") },
		"nonce": func(r *http.Request) { r.Header.Set("X-Ca-Nonce", "9e730a22-3b48-4337-8549-4801fb016d39") },
	} {
		if code, _ := do("GET", "/api/open/v1/device/checkMac?mac=001565123123", nil, tamper); code != 401 {
			t.Errorf("tampered %s: %d", name, code)
		}
	}
	if code, _ := do("POST", "/api/open/v1/server/list", body, func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(`{"key":"Other","skip":0}`))
		r.ContentLength = 24
	}); code != 401 {
		t.Errorf("changed body accepted: %d", code)
	}
	// A replayed request (same nonce) is refused.
	req, _ := http.NewRequest("GET", d.URL()+"/api/open/v1/device/checkMac?mac=001565123123", nil)
	redirect.SignXCa(req, nil, "2df23f2d9c255e7138dc603b3847b58a", "d4a4be460a8d43609d8e8a5e7d0d4ad1", time.Now())
	for i, want := range []int{200, 401} {
		resp, err := http.DefaultClient.Do(req.Clone(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("attempt %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
}
