package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServe(t *testing.T) {
	u, err := New()
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		u.ServeHTTP(w, r)
		return w
	}
	w := do("GET", "/")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script src="/ui/app.js"`) || w.Header().Get("Content-Security-Policy") != csp {
		t.Fatalf("/: %d %v", w.Code, w.Header())
	}
	for _, p := range []string{"/ui/app.js", "/ui/app.css"} {
		w := do("GET", p)
		if w.Code != 200 || w.Body.Len() == 0 || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d", p, w.Code)
		}
		if c := do("GET", p, "If-None-Match", w.Header().Get("ETag")); c.Code != http.StatusNotModified {
			t.Errorf("%s revalidation: %d", p, c.Code)
		}
		if hd := do("HEAD", p); hd.Code != 200 || hd.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d, %d bytes", p, hd.Code, hd.Body.Len())
		}
	}
	for _, p := range []string{"/ui/", "/ui/../doc.go", "/static/app.js", "/ui/index.html/", "/x"} {
		if w := do("GET", p); w.Code != 404 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	if w := do("DELETE", "/"); w.Code != 405 || w.Header().Get("Allow") == "" {
		t.Errorf("DELETE: %d", w.Code)
	}
}

// TestNoHTMLInjection: the console builds pages from text nodes only; a call
// that parses strings as HTML would let API data (a device's notes, a phone's
// User-Agent) run as script.
func TestNoHTMLInjection(t *testing.T) {
	b, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
