package webui

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
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
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script type="module" src="/ui/console.js?v=`+u.version+`"`) || w.Header().Get("Content-Security-Policy") != csp {
		t.Fatalf("/: %d %v", w.Code, w.Header())
	}
	for _, p := range []string{"/ui/console.js", "/ui/app.js", "/ui/app.css", "/ui/core/shell.js", "/ui/panels/devices.js", "/ui/catalog.js", "/ui/panels.js", "/favicon.ico"} {
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
	for _, p := range []string{"/ui/console.js", "/ui/core/shell.js", "/ui/catalog.js"} {
		if ct := do("GET", p).Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
			t.Errorf("%s: content type %q: browsers refuse modules not served as JavaScript", p, ct)
		}
	}
	// The catalog files are served merged, not one by one.
	for _, p := range []string{"/ui/", "/ui/../doc.go", "/static/app.js", "/ui/index.html/", "/x", "/ui/i18n/core.json", "/ui/manifest.json"} {
		if w := do("GET", p); w.Code != 404 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	if w := do("DELETE", "/"); w.Code != 405 || w.Header().Get("Allow") == "" {
		t.Errorf("DELETE: %d", w.Code)
	}
	// The merged catalog, every language with the same keys, each as one
	// JSON text.
	cjs := do("GET", "/ui/catalog.js").Body.String()
	m := regexp.MustCompile(`(?m)^export const languages = (.*);$`).FindStringSubmatch(cjs)
	var langs []string
	if m == nil || json.Unmarshal([]byte(m[1]), &langs) != nil || strings.Join(langs, ",") != strings.Join(Languages, ",") {
		t.Fatalf("catalog.js: %s", cjs)
	}
	msgs := map[string]map[string]*Message{}
	for _, l := range Languages {
		m := regexp.MustCompile(`(?m)^  "` + l + `": (".*"),$`).FindStringSubmatch(cjs)
		var raw string
		if m == nil || json.Unmarshal([]byte(m[1]), &raw) != nil {
			t.Fatalf("catalog.js has no %s messages", l)
		}
		var one map[string]*Message
		if err := json.Unmarshal([]byte(raw), &one); err != nil {
			t.Fatalf("catalog.js %s: %v", l, err)
		}
		msgs[l] = one
	}
	if len(msgs["it"]) < 100 || len(msgs["it"]) != len(msgs["en"]) || msgs["it"]["devices.nav"] == nil || msgs["it"]["devices.nav"].Text != "Lista dei dispositivi" {
		t.Errorf("catalog.js: %d/%d messages", len(msgs["it"]), len(msgs["en"]))
	}
	// panels.js imports every panel (not the shared modules), and the bundle
	// holds every one of them: the page needs no other script.
	var panels []string
	for name := range jsFiles(t) {
		if rel := strings.TrimPrefix(name, "static/panels/"); rel != name && !strings.Contains(rel, "/") {
			panels = append(panels, rel)
		}
	}
	pjs := do("GET", "/ui/panels.js").Body.String()
	bundle := do("GET", "/ui/console.js").Body.String()
	if len(panels) < 10 || strings.Count(pjs, "import ") != len(panels) || strings.Contains(pjs, "/shared/") {
		t.Errorf("panels.js for %d panels: %s", len(panels), pjs)
	}
	idRE := regexp.MustCompile(`(?m)^register\(\{\s*id:\s*("[^"]+")`)
	for _, p := range panels {
		if !strings.Contains(pjs, `import "./panels/`+p+`?v=`+u.version+`";`) {
			t.Errorf("panels.js lacks %s", p)
		}
		id := idRE.FindStringSubmatch(string(jsFiles(t)["static/panels/"+p]))
		if id == nil || !strings.Contains(bundle, "id:"+id[1]) {
			t.Errorf("the bundle lacks the panel %s (%v)", p, id)
		}
	}
	// It imports one module, api.js, which the page loads ahead of it (the
	// session is asked for while the bundle is fetched): under the same URL,
	// so that both get the one instance.
	apiRE := regexp.MustCompile(`import\{[^}]*\}from"\./core/api\.js\?v=` + u.version + `"`)
	if n := len(apiRE.FindAllString(bundle, -1)); n == 0 {
		t.Errorf("the bundle does not import api.js")
	}
	if rest := apiRE.ReplaceAllString(bundle, ""); regexp.MustCompile(`(?:^|[;}\n])\s*import\s*["{*]|\}\s*from\s*"|\bimport\(`).MatchString(rest) ||
		!strings.Contains(rest, "JSON.parse(") || !strings.Contains(rest, "Lista dei dispositivi") || strings.Contains(rest, `getItem("sb.token")`) {
		t.Errorf("the bundle imports another module, holds api.js or lacks the catalog (%d bytes)", len(bundle))
	}
	// The page loads those two scripts, its style sheet and its icon: no preloads.
	page := do("GET", "/").Body.String()
	if n := strings.Count(page, `"/ui/`); n != 4 || strings.Contains(page, "preload") ||
		!strings.Contains(page, `<script type="module" async src="/ui/core/api.js?v=`+u.version+`"></script>`) {
		t.Errorf("the page names %d files: %s", n, page)
	}
	// This build's files under their versioned URL are cached for good; the
	// page, unversioned and stale URLs are revalidated.
	for _, p := range []string{"/ui/console.js?v=" + u.version, "/ui/core/shell.js?v=" + u.version} {
		if cc := do("GET", p).Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
	for _, p := range []string{"/", "/ui/core/shell.js", "/ui/console.js?v=0000"} {
		if cc := do("GET", p).Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
	// gzip for clients that take it, the same bytes once inflated, under a
	// validator of its own; plain bytes for the others.
	for _, p := range []string{"/", "/ui/console.js?v=" + u.version, "/ui/core/shell.js?v=" + u.version, "/ui/app.css"} {
		plain := do("GET", p)
		z := do("GET", p, "Accept-Encoding", "br, gzip, deflate")
		if plain.Header().Get("Content-Encoding") != "" || z.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(z.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Content-Encoding %q / %q, Vary %q", p, plain.Header().Get("Content-Encoding"), z.Header().Get("Content-Encoding"), z.Header().Get("Vary"))
			continue
		}
		zr, err := gzip.NewReader(z.Body)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		inflated, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(inflated, plain.Body.Bytes()) || z.Body.Len() >= plain.Body.Len() {
			t.Errorf("%s: gzip body of %d bytes inflates to %d, plain %d (%v)", p, z.Body.Len(), len(inflated), plain.Body.Len(), err)
		}
		if z.Header().Get("ETag") == plain.Header().Get("ETag") {
			t.Errorf("%s: the gzip and plain bodies share the ETag %s", p, z.Header().Get("ETag"))
		}
		if c := do("GET", p, "Accept-Encoding", "gzip", "If-None-Match", z.Header().Get("ETag")); c.Code != http.StatusNotModified {
			t.Errorf("%s: gzip revalidation: %d", p, c.Code)
		}
		if r := do("GET", p, "Accept-Encoding", "gzip;q=0, identity"); r.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s: gzip sent to a client refusing it", p)
		}
	}
	// The modules are also served one by one (app.js runs unbundled too):
	// every module reference carries the version, so no module is fetched
	// twice under two names (which would make two instances of it).
	app := do("GET", "/ui/app.js").Body.String()
	for _, ref := range []string{`from "./core/shell.js?v=` + u.version + `"`, `from "./catalog.js?v=` + u.version + `"`, `import "./panels.js?v=` + u.version + `"`} {
		if !strings.Contains(app, ref) {
			t.Errorf("app.js lacks %s", ref)
		}
	}
	for name, src := range jsFiles(t) {
		served := do("GET", "/ui/"+strings.TrimPrefix(name, "static/")).Body.String()
		if n := len(moduleRefRE.FindAllString(src, -1)); n != strings.Count(served, "?v="+u.version+`"`)-strings.Count(src, `"/ui/`) {
			t.Errorf("%s: %d module references, %d versioned", name, n, strings.Count(served, "?v="+u.version))
		}
	}
}

// TestBundle: the bundler takes the console's own files only, and says which
// import it could not follow.
func TestBundle(t *testing.T) {
	files := map[string][]byte{
		"app.js":     []byte(`import { f } from "./lib/f.js"; import "./side.js"; console.log(f(2));`),
		"lib/f.js":   []byte(`import { two } from "../two.js"; export function f(x) { return x * two; }`),
		"two.js":     []byte(`export const two = 2;`),
		"side.js":    []byte(`globalThis.sideEffect = "kept";`),
		"bare.js":    []byte(`import x from "lodash"; console.log(x);`),
		"missing.js": []byte(`import { y } from "./nope.js"; console.log(y);`),
		"outside.js": []byte(`import { y } from "../../etc/passwd.js"; console.log(y);`),
		"broken.js":  []byte(`export function (`),
		"dynamic.js": []byte(`import("./two.js").then(console.log);`),
		"notjs.js":   []byte(`import s from "./style.css"; console.log(s);`),
		"style.css":  []byte(`body {}`),
	}
	out, err := bundle(files, "app.js")
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Contains(s, "import") || !strings.Contains(s, "sideEffect") || !strings.Contains(s, "console.log") {
		t.Errorf("bundle: %s", s)
	}
	for entry, want := range map[string]string{"bare.js": "lodash", "missing.js": "nope.js", "outside.js": "passwd.js", "broken.js": "broken.js:1", "notjs.js": "style.css"} {
		if _, err := bundle(files, entry); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", entry, err, want)
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
