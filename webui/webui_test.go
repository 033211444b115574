package webui

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
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
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script type="module" src="/ui/app.js?v=`+u.version+`"`) || w.Header().Get("Content-Security-Policy") != csp {
		t.Fatalf("/: %d %v", w.Code, w.Header())
	}
	for _, p := range []string{"/ui/app.js", "/ui/app.css", "/ui/core/shell.js", "/ui/panels/devices.js", "/ui/manifest.json", "/favicon.ico"} {
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
	if ct := do("GET", "/ui/core/shell.js").Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("module content type %q: browsers refuse modules not served as JavaScript", ct)
	}
	// The catalog files are served merged, not one by one.
	for _, p := range []string{"/ui/", "/ui/../doc.go", "/static/app.js", "/ui/index.html/", "/x", "/ui/i18n/core.json"} {
		if w := do("GET", p); w.Code != 404 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	if w := do("DELETE", "/"); w.Code != 405 || w.Header().Get("Allow") == "" {
		t.Errorf("DELETE: %d", w.Code)
	}
	var man Manifest
	if err := json.Unmarshal(do("GET", "/ui/manifest.json").Body.Bytes(), &man); err != nil {
		t.Fatal(err)
	}
	if len(man.Panels) < 10 || man.Panels[0] != "/ui/panels/accounts.js?v="+u.version || len(man.Messages["it"]) != len(man.Messages["en"]) {
		t.Errorf("manifest: %d panels (%v), %d/%d messages", len(man.Panels), man.Panels, len(man.Messages["it"]), len(man.Messages["en"]))
	}
	for _, p := range man.Panels {
		if strings.Contains(p, "/shared/") {
			t.Errorf("a shared module is listed as a panel: %s", p)
		}
	}
	// This build's files under their versioned URL are cached for good; the
	// page, unversioned and stale URLs are revalidated.
	if cc := do("GET", "/ui/core/shell.js?v="+u.version).Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned module: Cache-Control %q", cc)
	}
	for _, p := range []string{"/", "/ui/core/shell.js", "/ui/core/shell.js?v=0000"} {
		if cc := do("GET", p).Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
	// Every module reference carries the version, so no module is fetched
	// twice under two names (which would make two instances of it).
	shell := do("GET", "/ui/core/shell.js").Body.String()
	for _, ref := range []string{`from "./i18n.js?v=` + u.version + `"`, `fetch("/ui/manifest.json?v=` + u.version + `")`} {
		if !strings.Contains(shell, ref) {
			t.Errorf("shell.js lacks %s", ref)
		}
	}
	for name, src := range jsFiles(t) {
		served := do("GET", "/ui/"+strings.TrimPrefix(name, "static/")).Body.String()
		if n := len(moduleRefRE.FindAllString(src, -1)); n != strings.Count(served, "?v="+u.version+`"`)-strings.Count(src, `"/ui/`) {
			t.Errorf("%s: %d module references, %d versioned", name, n, strings.Count(served, "?v="+u.version))
		}
	}
}

// jsFiles are the console's scripts.
func jsFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := static.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoHTMLInjection: the console builds pages from text nodes only; a call
// that parses strings as HTML would let API data (a device's notes, a phone's
// User-Agent) run as script.
func TestNoHTMLInjection(t *testing.T) {
	for name, src := range jsFiles(t) {
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout(\"", "javascript:"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}

var (
	literalKeyRE = regexp.MustCompile(`\bt\(\s*"([a-z0-9_]+(?:\.[A-Za-z0-9_]+)+)"`)
	// Keys built at run time: t("audit.type." + x), t(`core.role.${r}`),
	// has("..." + x). Their prefix counts as used.
	dynamicKeyRE = regexp.MustCompile(`\b(?:t|has)\(\s*(?:"([a-z0-9_.]+\.)"\s*\+|` + "`" + `([a-z0-9_.]+\.)\$\{)`)
	// Keys named as data (nav: "devices.nav", t(p.nav || "core.error_title")).
	namedKeyRE = regexp.MustCompile(`"([a-z0-9_]+(?:\.[A-Za-z0-9_]+)+)"`)
)

// TestCatalogCoversTheCode: every message key the scripts name is in the
// catalog in every language, and every catalog entry is used (so the catalog
// is the console's strings and nothing else).
func TestCatalogCoversTheCode(t *testing.T) {
	sub, _ := fs.Sub(static, "static/i18n")
	cat, err := LoadCatalog(sub)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var prefixes []string
	for name, src := range jsFiles(t) {
		for _, m := range literalKeyRE.FindAllStringSubmatch(src, -1) {
			used[m[1]] = true
			for _, l := range Languages {
				if _, ok := cat[l][m[1]]; !ok {
					t.Errorf("%s: t(%q) is not in the %s catalog", name, m[1], l)
				}
			}
		}
		for _, m := range namedKeyRE.FindAllStringSubmatch(src, -1) {
			used[m[1]] = true
		}
		for _, m := range dynamicKeyRE.FindAllStringSubmatch(src, -1) {
			prefixes = append(prefixes, m[1]+m[2])
		}
	}
	var unused []string
	for k := range cat[Languages[0]] {
		if used[k] {
			continue
		}
		dyn := false
		for _, p := range prefixes {
			dyn = dyn || strings.HasPrefix(k, p)
		}
		if !dyn {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("catalog entries no script uses: %s", strings.Join(unused, ", "))
	}
}

// TestCatalogChecks: the catalog loader refuses what would show a broken or
// untranslated text.
func TestCatalogChecks(t *testing.T) {
	cases := []struct{ name, file, body, want string }{
		{"ok", "p.json", `{"it": {"p.a": "ciao {x}", "p.n": {"one": "uno", "other": "{n} cose"}}, "en": {"p.a": "hi {x}", "p.n": {"one": "one", "other": "{n} things"}}}`, ""},
		{"missing language", "p.json", `{"it": {"p.a": "ciao"}, "en": {}}`, "has no en text"},
		{"extra key", "p.json", `{"it": {}, "en": {"p.a": "hi"}}`, "not in it"},
		{"placeholder dropped", "p.json", `{"it": {"p.a": "ciao {x}"}, "en": {"p.a": "hi"}}`, "placeholders"},
		{"placeholder renamed", "p.json", `{"it": {"p.a": "ciao {x}"}, "en": {"p.a": "hi {y}"}}`, "placeholders"},
		{"other namespace", "p.json", `{"it": {"q.a": "ciao"}, "en": {"q.a": "hi"}}`, "must start with"},
		{"empty", "p.json", `{"it": {"p.a": " "}, "en": {"p.a": "hi"}}`, "empty"},
		{"plural without other", "p.json", `{"it": {"p.a": {"one": "uno"}}, "en": {"p.a": {"one": "one"}}}`, "other"},
		{"bad plural form", "p.json", `{"it": {"p.a": {"other": "x", "lots": "y"}}, "en": {"p.a": {"other": "x"}}}`, "CLDR"},
		{"unknown language", "p.json", `{"it": {}, "en": {}, "de": {}}`, "language"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadCatalog(fstest.MapFS{c.file: {Data: []byte(c.body)}})
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}
