package admin

import (
	"github.com/switchboard-pbx/switchboard/internal/httpapi"

	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBadInputTenants(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 65)
	for _, c := range []struct {
		name   string
		body   any
		ctype  string
		status int
		field  string
	}{
		{"unknown field", `{"name":"a","bogus":1}`, "", http.StatusBadRequest, "bogus"},
		{"unknown field id", `{"name":"a","id":"6b0c4a4e-0000-4000-8000-000000000000"}`, "", http.StatusBadRequest, "id"},
		{"name is a number", `{"name":5}`, "", http.StatusBadRequest, "name"},
		{"enabled is a string", `{"name":"a","enabled":"yes"}`, "", http.StatusBadRequest, "enabled"},
		{"description is an object", `{"name":"a","description":{}}`, "", http.StatusBadRequest, "description"},
		{"malformed", `{"name":"a"`, "", http.StatusBadRequest, "-"},
		{"syntax error", `{"name" "a"}`, "", http.StatusBadRequest, "-"},
		{"not JSON", `name=a`, "", http.StatusBadRequest, "-"},
		{"empty body", ``, "", http.StatusBadRequest, "-"},
		{"only spaces", "  \n ", "", http.StatusBadRequest, "-"},
		{"trailing object", `{"name":"a"} {"name":"b"}`, "", http.StatusBadRequest, "-"},
		{"trailing garbage", `{"name":"a"}x`, "", http.StatusBadRequest, "-"},
		{"array", `[{"name":"a"}]`, "", http.StatusBadRequest, "-"},
		{"string", `"a"`, "", http.StatusBadRequest, "-"},
		{"null", `null`, "", http.StatusBadRequest, "name"},
		{"empty object", `{}`, "", http.StatusBadRequest, "name"},
		{"text/plain", `{"name":"a"}`, "text/plain", http.StatusUnsupportedMediaType, "-"},
		{"form", `name=a`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "-"},
		{"empty name", obj{"name": ""}, "", http.StatusBadRequest, "name"},
		{"blank name", obj{"name": "   "}, "", http.StatusBadRequest, "name"},
		{"padded name", obj{"name": " a"}, "", http.StatusBadRequest, "name"},
		{"control character", obj{"name": "a\x07b"}, "", http.StatusBadRequest, "name"},
		{"long name", obj{"name": long}, "", http.StatusBadRequest, "name"},
		{"long description", obj{"name": "a", "description": strings.Repeat("d", 1025)}, "", http.StatusBadRequest, "description"},
		{"body over 1 MiB", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, "", http.StatusRequestEntityTooLarge, "-"},
		// F10: what a lenient decoder would take silently.
		{"duplicate key", `{"name":"a","name":"b"}`, "", http.StatusBadRequest, "name"},
		{"duplicate key, other case", `{"name":"a","Name":"b"}`, "", http.StatusBadRequest, "Name"},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", "", http.StatusBadRequest, "-"},
		{"invalid UTF-8 in a key", "{\"name\":\"a\",\"\xc3\":1}", "", http.StatusBadRequest, "-"},
		{"lone surrogate escape", `{"name":"\ud800"}`, "", http.StatusBadRequest, "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct := c.ctype
			if ct == "" {
				ct = "application/json"
			}
			r := e.doCT("POST", "/api/v1/tenants", e.adminTk, ct, c.body)
			wantError(t, r, c.status, c.field)
		})
	}
	// None of that made a tenant.
	if n := len(e.must(http.StatusOK, "GET", "/api/v1/tenants", e.adminTk, nil).obj(t)["items"].([]any)); n != 1 {
		t.Errorf("%d tenants after bad input, want 1", n)
	}
	// A body without Content-Type is accepted as JSON; a charset parameter is fine.
	if r := e.doCT("POST", "/api/v1/tenants", e.adminTk, "", `{"name":"no-ctype-2"}`); r.code != http.StatusCreated {
		t.Errorf("no Content-Type: %d %s", r.code, r.raw)
	}
	if r := e.doCT("POST", "/api/v1/tenants", e.adminTk, "application/json; charset=utf-8", `{"name":"charset"}`); r.code != http.StatusCreated {
		t.Errorf("charset parameter: %d %s", r.code, r.raw)
	}
}

// The 1 MiB limit is exact: an object of exactly 1 MiB is read, one byte more is refused.
func TestBodyLimitBoundary(t *testing.T) {
	e := newEnv(t)
	body := func(size int) []byte {
		head, tail := `{"name":"big","description":"`, `"}`
		return []byte(head + strings.Repeat("d", size-len(head)-len(tail)) + tail)
	}
	// Exactly httpapi.MaxBody: decoded, then refused by the description rule (a 400 that names it).
	wantError(t, e.do("POST", "/api/v1/tenants", e.adminTk, body(httpapi.MaxBody)), http.StatusBadRequest, "description")
	// One byte over: too large.
	wantError(t, e.do("POST", "/api/v1/tenants", e.adminTk, body(httpapi.MaxBody+1)), http.StatusRequestEntityTooLarge, "-")
	// Far over: refused without reading it all, on every route (the login too).
	wantError(t, e.do("POST", "/api/v1/tenants", e.adminTk, body(3*httpapi.MaxBody)), http.StatusRequestEntityTooLarge, "-")
	wantError(t, e.do("POST", "/api/v1/login", "", body(2*httpapi.MaxBody)), http.StatusRequestEntityTooLarge, "-")
}

func TestBadInputUsers(t *testing.T) {
	e := newEnv(t)
	e.createUser("bob", "bob-password", RoleAuditor, "")
	ta := e.createTenant("acme")
	for _, c := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
	}{
		{"no username", "POST", "/api/v1/users", obj{"password": "password-1", "role": "admin"}, 400, "username"},
		{"no password", "POST", "/api/v1/users", obj{"username": "u1", "role": "admin"}, 400, "password"},
		{"no role", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1"}, 400, "role"},
		{"bad username start", "POST", "/api/v1/users", obj{"username": "-u1", "password": "password-1", "role": "admin"}, 400, "username"},
		{"bad username chars", "POST", "/api/v1/users", obj{"username": "u 1", "password": "password-1", "role": "admin"}, 400, "username"},
		{"slash in username", "POST", "/api/v1/users", obj{"username": "a/b", "password": "password-1", "role": "admin"}, 400, "username"},
		{"empty username", "POST", "/api/v1/users", obj{"username": "", "password": "password-1", "role": "admin"}, 400, "username"},
		{"long username", "POST", "/api/v1/users", obj{"username": strings.Repeat("u", 65), "password": "password-1", "role": "admin"}, 400, "username"},
		{"bad role", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "root"}, 400, "role"},
		{"short password", "POST", "/api/v1/users", obj{"username": "u1", "password": "short", "role": "admin"}, 400, "password"},
		{"long password", "POST", "/api/v1/users", obj{"username": "u1", "password": strings.Repeat("p", 73), "role": "admin"}, 400, "password"},
		{"tenant admin without tenant", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "tenant_admin"}, 400, "tenant"},
		{"tenant admin of no tenant", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "tenant_admin", "tenant": "acme"}, 400, "tenant"},
		{"admin with a tenant", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "admin", "tenant": ta}, 400, "tenant"},
		{"long full name", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "admin", "full_name": strings.Repeat("f", 129)}, 400, "full_name"},
		{"disabled not bool", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "admin", "disabled": "no"}, 400, "disabled"},
		{"unknown field", "POST", "/api/v1/users", obj{"username": "u1", "password": "password-1", "role": "admin", "password_hash": "x"}, 400, "password_hash"},
		{"duplicate", "POST", "/api/v1/users", obj{"username": "bob", "password": "password-1", "role": "admin"}, 409, "username"},
		{"duplicate of the first admin", "POST", "/api/v1/users", obj{"username": "admin", "password": "password-1", "role": "admin"}, 409, "username"},
		{"rename", "PATCH", "/api/v1/users/bob", obj{"username": "robert"}, 400, "username"},
		{"patch bad role", "PATCH", "/api/v1/users/bob", obj{"role": "superuser"}, 400, "role"},
		{"patch short password", "PATCH", "/api/v1/users/bob", obj{"password": "1234567"}, 400, "password"},
		{"patch to tenant admin without tenant", "PATCH", "/api/v1/users/bob", obj{"role": "tenant_admin"}, 400, "tenant"},
		{"patch wrong type", "PATCH", "/api/v1/users/bob", obj{"full_name": []int{1}}, 400, "full_name"},
		{"patch unknown user", "PATCH", "/api/v1/users/nobody", obj{"full_name": "x"}, 404, "-"},
		{"delete unknown user", "DELETE", "/api/v1/users/nobody", nil, 404, "-"},
		{"sessions of unknown user", "DELETE", "/api/v1/users/nobody/sessions", nil, 404, "-"},
		{"get unknown user", "GET", "/api/v1/users/nobody", nil, 404, "-"},
		{"users query", "GET", "/api/v1/users?tenant=x", nil, 400, "tenant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.do(c.method, c.path, e.adminTk, c.body), c.status, c.field)
		})
	}
	list := e.must(http.StatusOK, "GET", "/api/v1/users", e.adminTk, nil).obj(t)["items"].([]any)
	if len(list) != 2 {
		t.Errorf("users after bad input: %v", list)
	}
	if got := e.must(http.StatusOK, "GET", "/api/v1/users/bob", e.adminTk, nil).obj(t); got["role"] != RoleAuditor {
		t.Errorf("bob = %v", got)
	}
	e.login("bob", "bob-password") // no failed PATCH changed the password
}

func TestOwnPasswordErrorNamesTheRequestField(t *testing.T) {
	e := newEnv(t)
	m := wantError(t, e.do("PUT", "/api/v1/me/password", e.adminTk, obj{"current_password": adminPassword, "new_password": "short"}), http.StatusBadRequest, "-")
	if m["field"] != "new_password" {
		t.Fatalf("regression of a fixed bug (admin/api.go myPassword): a too-short new password is reported on field %q, which the request does not have; want \"new_password\"", m["field"])
	}
}

func TestBadInputMisc(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, method, path, token string
		status                    int
		field                     string
	}{
		{"unknown endpoint", "GET", "/api/v1/nothing", e.adminTk, 404, "-"},
		{"unknown endpoint without token", "GET", "/api/v1/nothing", "", 404, "-"},
		{"unknown version", "GET", "/api/v2/tenants", e.adminTk, 404, "-"},
		{"trailing slash", "GET", "/api/v1/users/", e.adminTk, 404, "-"},
		{"nested unknown", "GET", "/api/v1/tenants/x/devices", e.adminTk, 404, "-"},
		{"unknown tenant", "GET", "/api/v1/tenants/no-such", e.adminTk, 404, "-"},
		{"patch unknown tenant", "PATCH", "/api/v1/tenants/no-such", e.adminTk, 404, "-"},
		{"delete unknown tenant", "DELETE", "/api/v1/tenants/no-such", e.adminTk, 404, "-"},
		{"audit id not a number", "GET", "/api/v1/audit/abc", e.adminTk, 400, "id"},
		{"audit id negative", "GET", "/api/v1/audit/-3", e.adminTk, 400, "id"},
		{"audit id too big", "GET", "/api/v1/audit/99999999999999999999", e.adminTk, 400, "id"},
		{"audit row missing", "GET", "/api/v1/audit/424242", e.adminTk, 404, "-"},
		{"tenants query", "GET", "/api/v1/tenants?name=x", e.adminTk, 400, "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.method == "PATCH" {
				body = obj{"description": "x"}
			}
			wantError(t, e.do(c.method, c.path, c.token, body), c.status, c.field)
		})
	}
	// A method the route does not have: 404 or 405, in JSON either way.
	for _, m := range []string{"PUT", "DELETE"} {
		r := e.do(m, "/api/v1/tenants", e.adminTk, nil)
		if r.code != http.StatusNotFound && r.code != http.StatusMethodNotAllowed {
			t.Errorf("%s /api/v1/tenants: status %d", m, r.code)
		}
		wantError(t, r, r.code, "-")
	}
}

func TestConflicts(t *testing.T) {
	e := newEnv(t)

	t.Run("duplicate tenant name", func(t *testing.T) {
		a := e.createTenant("acme")
		wantError(t, e.do("POST", "/api/v1/tenants", e.adminTk, obj{"name": "acme"}), http.StatusConflict, "name")
		wantError(t, e.do("POST", "/api/v1/tenants", e.adminTk, obj{"name": "default"}), http.StatusConflict, "name")
		b := e.createTenant("other")
		wantError(t, e.do("PATCH", "/api/v1/tenants/"+b, e.adminTk, obj{"name": "acme"}), http.StatusConflict, "name")
		// Renaming a tenant to its own name is no conflict.
		e.must(http.StatusOK, "PATCH", "/api/v1/tenants/"+a, e.adminTk, obj{"name": "acme"})
		// A deleted tenant frees its name.
		e.must(http.StatusNoContent, "DELETE", "/api/v1/tenants/"+b, e.adminTk, nil)
		e.createTenant("other")
	})

	t.Run("last admin", func(t *testing.T) {
		rev := e.revision()
		for _, c := range []struct {
			name, method string
			body         any
		}{
			{"delete", "DELETE", nil},
			{"disable", "PATCH", obj{"disabled": true}},
			{"demote to auditor", "PATCH", obj{"role": "auditor"}},
			{"demote to tenant admin", "PATCH", obj{"role": "tenant_admin", "tenant": e.def.ID}},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, e.do(c.method, "/api/v1/users/admin", e.adminTk, c.body), http.StatusConflict, "username")
			})
		}
		if got := e.revision(); got != rev {
			t.Errorf("refused changes raised the revision %d -> %d", rev, got)
		}
		// The refused changes rolled back whole: the admin's session is still there.
		e.must(http.StatusOK, "GET", "/api/v1/me", e.adminTk, nil)
		// A disabled admin does not count as one.
		e.createUser("spare", "spare-password", RoleAdmin, "")
		e.must(http.StatusOK, "PATCH", "/api/v1/users/spare", e.adminTk, obj{"disabled": true})
		wantError(t, e.do("DELETE", "/api/v1/users/admin", e.adminTk, nil), http.StatusConflict, "username")
		// With a second enabled admin, the first may go.
		e.must(http.StatusOK, "PATCH", "/api/v1/users/spare", e.adminTk, obj{"disabled": false})
		spare := e.login("spare", "spare-password")
		e.must(http.StatusOK, "PATCH", "/api/v1/users/admin", spare, obj{"role": "auditor"})
		wantError(t, e.do("DELETE", "/api/v1/users/spare", spare, nil), http.StatusConflict, "username")
		e.must(http.StatusOK, "PATCH", "/api/v1/users/admin", spare, obj{"role": "admin"})
		e.adminTk = e.login("admin", adminPassword) // the role change revoked the old token
	})

	t.Run("tenant with a tenant admin", func(t *testing.T) {
		id := e.createTenant("staffed")
		e.createUser("boss", "boss-password", RoleTenantAdmin, id)
		m := wantError(t, e.do("DELETE", "/api/v1/tenants/"+id, e.adminTk, nil), http.StatusConflict, "id")
		if !strings.Contains(m["error"].(string), "user") {
			t.Errorf("error does not say what the tenant owns: %v", m)
		}
		e.must(http.StatusOK, "GET", "/api/v1/tenants/"+id, e.adminTk, nil)
		e.must(http.StatusNoContent, "DELETE", "/api/v1/users/boss", e.adminTk, nil)
		e.must(http.StatusNoContent, "DELETE", "/api/v1/tenants/"+id, e.adminTk, nil)
	})

	t.Run("restoring a create that others depend on", func(t *testing.T) {
		id := e.createTenant("parent")
		e.createUser("child", "child-password", RoleTenantAdmin, id)
		rows, _ := e.audit(e.adminTk, "action=create&object_type=tenant&object_id="+id)
		wantError(t, e.do("POST", fmt.Sprintf("/api/v1/audit/%d/restore", rowID(t, rows[0])), e.adminTk, nil), http.StatusConflict, "id")
		e.must(http.StatusOK, "GET", "/api/v1/tenants/"+id, e.adminTk, nil)
	})
}

func TestSingleTenantMode(t *testing.T) {
	e := newEnv(t, singleTenant())
	if m := e.must(http.StatusOK, "GET", "/api/v1/status", e.adminTk, nil).obj(t); m["tenancy_mode"] != "single" {
		t.Errorf("status = %v", m)
	}
	rev := e.revision()
	wantError(t, e.do("POST", "/api/v1/tenants", e.adminTk, obj{"name": "second"}), http.StatusConflict, "name")
	wantError(t, e.do("DELETE", "/api/v1/tenants/"+e.def.ID, e.adminTk, nil), http.StatusConflict, "id")
	if got := e.revision(); got != rev {
		t.Errorf("revision %d -> %d", rev, got)
	}
	m := e.must(http.StatusOK, "GET", "/api/v1/tenants", e.adminTk, nil).obj(t)
	if items := m["items"].([]any); m["mode"] != "single" || len(items) != 1 || items[0].(obj)["id"] != e.def.ID {
		t.Errorf("tenants = %v", m)
	}
	// The one tenant can still be edited.
	e.must(http.StatusOK, "PATCH", "/api/v1/tenants/"+e.def.ID, e.adminTk, obj{"name": "renamed"})
}

// FuzzAPIRequest sends arbitrary bodies to two write endpoints: whatever the bytes,
// the answer is never a server fault, and every error is JSON with an "error" key.
func FuzzAPIRequest(f *testing.F) {
	e := newEnv(f, withConfig(func(c *Config) { c.LoginIPBurst = 1 << 20 }))
	e.createUser("x", "x-password", RoleAuditor, "")
	for _, seed := range []string{
		``,
		`{}`,
		`null`,
		`[]`,
		`"name"`,
		`{"name":"fuzz"}`,
		`{"name":"fuzz","description":"d","enabled":false}`,
		`{"name":5}`,
		`{"name":"a","bogus":true}`,
		`{"name":"\u0000"}`,
		`{"name":"\xff\xfe"}`,
		`{"name":"` + strings.Repeat("n", 70) + `"}`,
		`{"full_name":"X","disabled":false}`,
		`{"password":"` + strings.Repeat("p", 80) + `"}`,
		`{"role":"tenant_admin","tenant":"nope"}`,
		`{"role":"admin"}`,
		`{"username":"y"}`,
		`{"disabled":1e999}`,
		`{"name":"a"}{"name":"b"}`,
		`{"name":"a"`,
		`{"name":{"x":[1,2,{"y":null}]}}`,
		`{"description":"` + strings.Repeat("\\u00e9", 400) + `"}`,
	} {
		f.Add(seed)
	}
	h := e.web.Secure()
	f.Fuzz(func(t *testing.T, body string) {
		for _, target := range []struct{ method, path string }{
			{"POST", "/api/v1/tenants"},
			{"PATCH", "/api/v1/users/x"},
		} {
			req, err := http.NewRequest(target.method, target.path, bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.adminTk)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("%s %s %q: status %d: %s", target.method, target.path, body, rec.Code, rec.Body)
			}
			if rec.Code >= 400 {
				if !strings.Contains(rec.Body.String(), `"error"`) {
					t.Fatalf("%s %s %q: status %d without an error key: %s", target.method, target.path, body, rec.Code, rec.Body)
				}
			}
		}
	})
}
