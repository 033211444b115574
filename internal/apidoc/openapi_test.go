package apidoc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// refs collects every "$ref" of a decoded JSON document.
func refs(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				out[s] = true
			}
			refs(e, out)
		}
	case []any:
		for _, e := range x {
			refs(e, out)
		}
	}
}

// TestDocumentIsWellFormed: 3.1, every $ref resolves, every path parameter
// is declared once, every operation answers an error schema, operation ids are
// unique, and secrets' hashes are not part of any schema.
func TestDocumentIsWellFormed(t *testing.T) {
	b, err := Document("test")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	all := map[string]bool{}
	refs(doc, all)
	for r := range all {
		n, ok := strings.CutPrefix(r, "#/components/schemas/")
		if !ok || schemas[n] == nil {
			t.Errorf("unresolved $ref %s", r)
		}
	}
	if len(all) < 10 {
		t.Errorf("only %d distinct $refs: the schemas are not derived from the Go types", len(all))
	}
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			id := op["operationId"].(string)
			if prev, dup := ids[id]; dup {
				t.Errorf("operationId %s of %s %s and %s", id, method, path, prev)
			}
			ids[id] = method + " " + path
			declared := map[string]int{}
			ps, _ := op["parameters"].([]any)
			for _, p := range ps {
				pm := p.(map[string]any)
				if pm["in"] == "path" {
					declared[pm["name"].(string)]++
				}
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if declared[m[1]] != 1 {
					t.Errorf("%s %s: path parameter %s declared %d times", method, path, m[1], declared[m[1]])
				}
			}
			if op["responses"].(map[string]any)["default"] == nil {
				t.Errorf("%s %s: no error answer", method, path)
			}
		}
	}
	if strings.Contains(string(b), "password_hash") {
		t.Error("a schema documents password_hash")
	}
}

// TestDuplicateRefused: a pattern described twice is an error, not a silent
// overwrite.
func TestDuplicateRefused(t *testing.T) {
	saved := ops
	defer func() { ops = saved }()
	ops = append(append([]Op{}, ops...), ops[0])
	if _, err := Document("x"); err == nil || !strings.Contains(err.Error(), "described twice") {
		t.Fatalf("err = %v", err)
	}
}

type noAuth struct{}

func (noAuth) Wrap(h httpapi.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
}

// TestServed: the component serves the document without a token.
func TestServed(t *testing.T) {
	web := component.NewWeb(noAuth{})
	web.Mount(New("1.2.3"))
	srv := httptest.NewServer(web.Secure())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc struct {
		Info struct{ Version string }
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || doc.Info.Version != "1.2.3" {
		t.Fatalf("%d %s", resp.StatusCode, b[:min(len(b), 200)])
	}
	if rs := web.Routes(); len(rs) != 1 || rs[0].Pattern != "GET /api/v1/openapi.json" || !rs[0].Public {
		t.Fatalf("routes %+v", rs)
	}
}
