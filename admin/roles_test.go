package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// roleEnv has tenants A and B, a tenant admin of each, and an auditor.
type roleEnv struct {
	*env
	a, b    string // tenant ids
	ta, tb  string // tokens of the tenant admins of A and B
	aud     string // token of the auditor
	auditID int64  // an audit row of tenant B
}

func newRoleEnv(t *testing.T) *roleEnv {
	e := newEnv(t)
	re := &roleEnv{env: e, a: e.createTenant("tenant-a"), b: e.createTenant("tenant-b")}
	e.createUser("ta", "ta-password", RoleTenantAdmin, re.a)
	e.createUser("tb", "tb-password", RoleTenantAdmin, re.b)
	e.createUser("aud", "aud-password", RoleAuditor, "")
	e.must(http.StatusOK, "PATCH", "/api/v1/tenants/"+re.b, e.adminTk, obj{"description": "b's"})
	rows, _ := e.audit(e.adminTk, "action=update&object_id="+re.b)
	re.auditID = rowID(t, rows[0])
	re.ta, re.tb, re.aud = e.login("ta", "ta-password"), e.login("tb", "tb-password"), e.login("aud", "aud-password")
	return re
}

func TestTenantAdminIsConfinedToItsTenant(t *testing.T) {
	e := newRoleEnv(t)

	t.Run("other tenant is invisible", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/tenants/" + e.b, nil},
			{"PATCH", "/api/v1/tenants/" + e.b, obj{"description": "mine now"}},
			{"DELETE", "/api/v1/tenants/" + e.b, nil},
			{"GET", "/api/v1/tenants/" + e.def.ID, nil},
			{"GET", "/api/v1/users/tb", nil},
			{"PATCH", "/api/v1/users/tb", obj{"full_name": "pwned"}},
			{"PATCH", "/api/v1/users/tb", obj{"password": "new-password-x"}},
			{"DELETE", "/api/v1/users/tb", nil},
			{"DELETE", "/api/v1/users/tb/sessions", nil},
			{"GET", "/api/v1/users/admin", nil},
			{"PATCH", "/api/v1/users/admin", obj{"full_name": "pwned"}},
			{"DELETE", "/api/v1/users/admin", nil},
			{"DELETE", "/api/v1/users/aud/sessions", nil},
			{"GET", fmt.Sprintf("/api/v1/audit/%d", e.auditID), nil},
			{"GET", "/api/v1/tenants/no-such-tenant", nil},
		} {
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				wantError(t, e.do(c.method, c.path, e.ta, c.body), http.StatusNotFound, "-")
			})
		}
		// Nothing happened to B, its admin or the admin.
		if got := e.must(http.StatusOK, "GET", "/api/v1/tenants/"+e.b, e.adminTk, nil).obj(t)["description"]; got != "b's" {
			t.Errorf("tenant B description = %v", got)
		}
		if got := e.must(http.StatusOK, "GET", "/api/v1/users/tb", e.adminTk, nil).obj(t)["full_name"]; got != "" {
			t.Errorf("user tb full_name = %v", got)
		}
		e.must(http.StatusOK, "GET", "/api/v1/me", e.tb, nil) // tb's session survived
	})

	t.Run("lists", func(t *testing.T) {
		m := e.must(http.StatusOK, "GET", "/api/v1/tenants", e.ta, nil).obj(t)
		items := m["items"].([]any)
		if len(items) != 1 || items[0].(obj)["id"] != e.a {
			t.Errorf("tenant admin sees tenants %v, want only %s", items, e.a)
		}
		all := e.must(http.StatusOK, "GET", "/api/v1/tenants", e.adminTk, nil).obj(t)["items"].([]any)
		if len(all) != 3 {
			t.Errorf("admin sees %d tenants, want 3", len(all))
		}
		users := e.must(http.StatusOK, "GET", "/api/v1/users", e.ta, nil).obj(t)["items"].([]any)
		if len(users) != 1 || users[0].(obj)["username"] != "ta" {
			t.Errorf("tenant admin sees users %v, want only ta", users)
		}
	})

	t.Run("writes", func(t *testing.T) {
		wantError(t, e.do("POST", "/api/v1/tenants", e.ta, obj{"name": "sneaky"}), http.StatusForbidden, "-")
		r := e.must(http.StatusOK, "PATCH", "/api/v1/tenants/"+e.a, e.ta, obj{"description": "ours"})
		if r.obj(t)["description"] != "ours" {
			t.Errorf("PATCH answer: %s", r.raw)
		}
		wantError(t, e.do("PATCH", "/api/v1/tenants/"+e.a, e.ta, obj{"enabled": false}), http.StatusForbidden, "enabled")
		wantError(t, e.do("PATCH", "/api/v1/tenants/"+e.a, e.ta, obj{"enabled": true}), http.StatusForbidden, "enabled")
		wantError(t, e.do("DELETE", "/api/v1/tenants/"+e.a, e.ta, nil), http.StatusForbidden, "-")
		got := e.must(http.StatusOK, "GET", "/api/v1/tenants/"+e.a, e.ta, nil).obj(t)
		if got["enabled"] != true || got["description"] != "ours" {
			t.Errorf("tenant A = %v", got)
		}
		if _, n := e.audit(e.adminTk, "object_id="+e.a+"&user=ta"); n != 1 {
			t.Errorf("tenant admin's change made %d audit rows, want 1", n)
		}

		// Users: only tenant admins of its own tenant.
		r = e.must(http.StatusCreated, "POST", "/api/v1/users", e.ta, obj{"username": "ta2", "password": "ta2-password", "role": "tenant_admin"})
		if m := r.obj(t); m["tenant"] != e.a || m["role"] != RoleTenantAdmin {
			t.Errorf("created user = %v, want a tenant_admin of A", m)
		}
		r = e.must(http.StatusCreated, "POST", "/api/v1/users", e.ta, obj{"username": "ta3", "password": "ta3-password"})
		if m := r.obj(t); m["tenant"] != e.a || m["role"] != RoleTenantAdmin {
			t.Errorf("created user without role = %v, want a tenant_admin of A", m)
		}
		wantError(t, e.do("POST", "/api/v1/users", e.ta, obj{"username": "x1", "password": "x1-password", "role": "admin"}), http.StatusForbidden, "role")
		wantError(t, e.do("POST", "/api/v1/users", e.ta, obj{"username": "x2", "password": "x2-password", "role": "auditor"}), http.StatusForbidden, "role")
		wantError(t, e.do("POST", "/api/v1/users", e.ta, obj{"username": "x3", "password": "x3-password", "tenant": e.b}), http.StatusForbidden, "tenant")
		wantError(t, e.do("PATCH", "/api/v1/users/ta2", e.ta, obj{"role": "admin", "tenant": ""}), http.StatusForbidden, "role")
		wantError(t, e.do("PATCH", "/api/v1/users/ta2", e.ta, obj{"tenant": e.b}), http.StatusForbidden, "tenant")
		e.must(http.StatusOK, "PATCH", "/api/v1/users/ta2", e.ta, obj{"full_name": "Second"})
		e.must(http.StatusNoContent, "DELETE", "/api/v1/users/ta3", e.ta, nil)
		for _, u := range []string{"x1", "x2", "x3", "ta3"} {
			e.must(http.StatusNotFound, "GET", "/api/v1/users/"+u, e.adminTk, nil)
		}
		if got := e.must(http.StatusOK, "GET", "/api/v1/users/ta2", e.adminTk, nil).obj(t); got["role"] != RoleTenantAdmin || got["tenant"] != e.a {
			t.Errorf("ta2 = %v", got)
		}
	})

	t.Run("audit", func(t *testing.T) {
		rows, total := e.audit(e.ta, "limit=1000")
		if total == 0 || total != len(rows) {
			t.Fatalf("tenant admin audit: total %d, rows %d", total, len(rows))
		}
		for _, r := range rows {
			if r["tenant"] != e.a {
				t.Errorf("tenant admin sees a row of tenant %v: %v", r["tenant"], r)
			}
		}
		// Filters cannot widen the view.
		if _, n := e.audit(e.ta, "object_id="+e.b); n != 0 {
			t.Errorf("tenant admin sees %d rows of tenant B", n)
		}
		if _, n := e.audit(e.ta, "user=system"); n != 0 {
			t.Errorf("tenant admin sees %d rows by system", n)
		}
		_, all := e.audit(e.adminTk, "limit=1000")
		if all <= total {
			t.Errorf("admin sees %d rows, tenant admin %d: the admin should see more", all, total)
		}
		own := rows[0]
		e.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/audit/%d", rowID(t, own)), e.ta, nil)
		wantError(t, e.do("GET", "/api/v1/audit/verify", e.ta, nil), http.StatusForbidden, "-")
	})
}

func TestAuditorIsReadOnly(t *testing.T) {
	e := newRoleEnv(t)
	e.must(http.StatusOK, "PATCH", "/api/v1/tenants/"+e.a, e.adminTk, obj{"description": "a's"})
	rev := e.revision()

	for _, p := range []string{
		"/api/v1/status", "/api/v1/me", "/api/v1/tenants", "/api/v1/tenants/" + e.a, "/api/v1/tenants/" + e.b,
		"/api/v1/users", "/api/v1/users/admin", "/api/v1/users/ta", "/api/v1/audit", "/api/v1/audit/verify",
		fmt.Sprintf("/api/v1/audit/%d", e.auditID),
	} {
		t.Run("GET "+p, func(t *testing.T) { e.must(http.StatusOK, "GET", p, e.aud, nil) })
	}
	if n := len(e.must(http.StatusOK, "GET", "/api/v1/tenants", e.aud, nil).obj(t)["items"].([]any)); n != 3 {
		t.Errorf("auditor sees %d tenants, want 3", n)
	}

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/tenants", obj{"name": "new"}},
		{"PATCH", "/api/v1/tenants/" + e.a, obj{"description": "changed"}},
		{"DELETE", "/api/v1/tenants/" + e.b, nil},
		{"POST", "/api/v1/users", obj{"username": "new", "password": "new-password", "role": "admin"}},
		{"PATCH", "/api/v1/users/aud", obj{"role": "admin"}},
		{"PATCH", "/api/v1/users/admin", obj{"disabled": true}},
		{"DELETE", "/api/v1/users/ta", nil},
		{"DELETE", "/api/v1/users/ta/sessions", nil},
		{"DELETE", "/api/v1/users/aud/sessions", nil},
		{"POST", fmt.Sprintf("/api/v1/audit/%d/restore", e.auditID), nil},
		{"POST", "/api/v1/tenants", "not even JSON"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			wantError(t, e.do(c.method, c.path, e.aud, c.body), http.StatusForbidden, "-")
		})
	}
	if got := e.revision(); got != rev {
		t.Errorf("auditor writes changed the revision %d -> %d", rev, got)
	}
	if got := e.must(http.StatusOK, "GET", "/api/v1/tenants/"+e.a, e.adminTk, nil).obj(t)["description"]; got != "a's" {
		t.Errorf("tenant A description = %v", got)
	}
	if got := e.must(http.StatusOK, "GET", "/api/v1/users/aud", e.adminTk, nil).obj(t)["role"]; got != RoleAuditor {
		t.Errorf("auditor role = %v", got)
	}
	e.must(http.StatusOK, "GET", "/api/v1/me", e.ta, nil) // ta's sessions were not revoked

	t.Run("own password", func(t *testing.T) {
		wantError(t, e.do("PUT", "/api/v1/me/password", e.aud, obj{"current_password": "wrong-password", "new_password": "aud-password-2"}), http.StatusBadRequest, "current_password")
		wantError(t, e.do("PUT", "/api/v1/me/password", e.aud, obj{"current_password": "aud-password", "new_password": "short"}), http.StatusBadRequest, "-")
		wantError(t, e.do("PUT", "/api/v1/me/password", e.aud, obj{"current_password": "aud-password", "bogus": 1}), http.StatusBadRequest, "bogus")
		e.must(http.StatusOK, "GET", "/api/v1/me", e.aud, nil) // refused changes revoke nothing
		e.must(http.StatusNoContent, "PUT", "/api/v1/me/password", e.aud, obj{"current_password": "aud-password", "new_password": "aud-password-2"})
		// A new password ends the sessions made with the old one.
		wantError(t, e.do("GET", "/api/v1/me", e.aud, nil), http.StatusUnauthorized, "-")
		wantError(t, e.do("POST", "/api/v1/login", "", obj{"username": "aud", "password": "aud-password"}), http.StatusUnauthorized, "-")
		e.aud = e.login("aud", "aud-password-2")
		rows, _ := e.audit(e.adminTk, "object_id=aud&action=update")
		if len(rows) != 1 || rows[0]["user"] != "aud" || rows[0]["source_ip"] != "127.0.0.1" {
			t.Errorf("password change audit rows: %v", rows)
		}
		if got := e.must(http.StatusOK, "GET", "/api/v1/users/aud", e.adminTk, nil).obj(t)["role"]; got != RoleAuditor {
			t.Errorf("auditor role after password change = %v", got)
		}
	})

	t.Run("logout", func(t *testing.T) {
		e.must(http.StatusNoContent, "POST", "/api/v1/logout", e.aud, nil)
		wantError(t, e.do("GET", "/api/v1/status", e.aud, nil), http.StatusUnauthorized, "-")
	})
}

func TestTokens(t *testing.T) {
	e := newEnv(t)

	t.Run("missing or bad", func(t *testing.T) {
		for _, c := range []struct{ name, auth string }{
			{"none", ""},
			{"garbage", "Bearer garbage"},
			{"empty bearer", "Bearer "},
			{"basic", "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQtMQ=="},
			{"raw token", e.adminTk},
		} {
			t.Run(c.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/status", nil)
				if c.auth != "" {
					req.Header.Set("Authorization", c.auth)
				}
				res, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", res.StatusCode)
				}
				if h := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", h)
				}
			})
		}
	})

	t.Run("me", func(t *testing.T) {
		m := e.must(http.StatusOK, "GET", "/api/v1/me", e.adminTk, nil).obj(t)
		if m["username"] != "admin" || m["role"] != RoleAdmin || m["source_ip"] != "127.0.0.1" {
			t.Errorf("me = %v", m)
		}
		s := e.must(http.StatusOK, "GET", "/api/v1/status", e.adminTk, nil).obj(t)
		schema, err := e.st.SchemaVersion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s["version"] != "test-version" || s["tenancy_mode"] != "multi" || s["schema"] != float64(schema) || schema < 1 {
			t.Errorf("status = %v", s)
		}
	})

	t.Run("logout", func(t *testing.T) {
		tok := e.login("admin", adminPassword)
		other := e.login("admin", adminPassword)
		e.must(http.StatusNoContent, "POST", "/api/v1/logout", tok, nil)
		wantError(t, e.do("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "-")
		wantError(t, e.do("POST", "/api/v1/logout", tok, nil), http.StatusUnauthorized, "-")
		e.must(http.StatusOK, "GET", "/api/v1/me", other, nil) // only that session ended
	})

	t.Run("expired", func(t *testing.T) {
		tok := "expired-token"
		now := time.Now().UTC()
		if err := e.st.CreateSession(context.Background(), store.Session{TokenHash: hashToken(tok), Username: "admin", Kind: "admin",
			Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour), SourceIP: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.do("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "-")
		live := "live-token"
		if err := e.st.CreateSession(context.Background(), store.Session{TokenHash: hashToken(live), Username: "admin", Kind: "admin",
			Created: now, Expires: now.Add(time.Hour), SourceIP: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		e.must(http.StatusOK, "GET", "/api/v1/me", live, nil)
	})

	t.Run("login answer", func(t *testing.T) {
		before := time.Now()
		m := e.must(http.StatusOK, "POST", "/api/v1/login", "", obj{"username": "admin", "password": adminPassword}).obj(t)
		exp, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if d := exp.Sub(before); d < 8*time.Hour-time.Minute || d > 8*time.Hour+time.Minute {
			t.Errorf("token lives %v, want the default 8h", d)
		}
		u := m["user"].(obj)
		if u["username"] != "admin" || u["role"] != RoleAdmin {
			t.Errorf("login user = %v", u)
		}
		if _, ok := u["password_hash"]; ok {
			t.Errorf("login answer shows the password hash")
		}
	})

	// Each change revokes the tokens of the user it changes, and no one else's.
	for _, c := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"password change", "PATCH", "/api/v1/users/bob", obj{"password": "bob-password-2"}, http.StatusOK},
		{"disable", "PATCH", "/api/v1/users/bob", obj{"disabled": true}, http.StatusOK},
		{"role change", "PATCH", "/api/v1/users/bob", obj{"role": "admin"}, http.StatusOK},
		{"delete", "DELETE", "/api/v1/users/bob", nil, http.StatusNoContent},
		{"revoke sessions", "DELETE", "/api/v1/users/bob/sessions", nil, http.StatusOK},
	} {
		t.Run("revoked by "+c.name, func(t *testing.T) {
			e.createUser("bob", "bob-password", RoleAuditor, "")
			defer e.api.Users().Delete(context.Background(), store.System, "bob", nil)
			t1, t2 := e.login("bob", "bob-password"), e.login("bob", "bob-password")
			e.must(http.StatusOK, "GET", "/api/v1/me", t1, nil)
			r := e.must(c.status, c.method, c.path, e.adminTk, c.body)
			if c.path == "/api/v1/users/bob/sessions" {
				if n := r.obj(t)["revoked"]; n != float64(2) {
					t.Errorf("revoked = %v, want 2", n)
				}
				if len(e.log.Lines("sessions revoked", "user=bob", "by=admin", "src=127.0.0.1")) == 0 {
					t.Errorf("no 'sessions revoked' log line:\n%s", e.log)
				}
			}
			for _, tok := range []string{t1, t2} {
				wantError(t, e.do("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "-")
			}
			e.must(http.StatusOK, "GET", "/api/v1/me", e.adminTk, nil)
		})
	}

	t.Run("a change that keeps credentials keeps the tokens", func(t *testing.T) {
		e.createUser("dan", "dan-password", RoleAuditor, "")
		tok := e.login("dan", "dan-password")
		e.must(http.StatusOK, "PATCH", "/api/v1/users/dan", e.adminTk, obj{"full_name": "Dan"})
		e.must(http.StatusOK, "GET", "/api/v1/me", tok, nil)
	})

	t.Run("disabled user cannot log in", func(t *testing.T) {
		e.createUser("eve", "eve-password", RoleAuditor, "")
		e.must(http.StatusOK, "PATCH", "/api/v1/users/eve", e.adminTk, obj{"disabled": true})
		wantError(t, e.do("POST", "/api/v1/login", "", obj{"username": "eve", "password": "eve-password"}), http.StatusUnauthorized, "-")
		if len(e.log.Lines("login failed", "user=eve", "reason=\"user disabled\"")) != 1 {
			t.Errorf("want one 'user disabled' line:\n%s", e.log)
		}
		e.must(http.StatusOK, "PATCH", "/api/v1/users/eve", e.adminTk, obj{"disabled": false})
		e.login("eve", "eve-password")
	})
}

// A token must not outlive its user: once the user is gone, a new user of the same
// name must not inherit the old sessions.
func TestTokensDoNotSurviveRestoreDelete(t *testing.T) {
	e := newEnv(t)
	e.createUser("frank", "frank-password", RoleAuditor, "")
	tok := e.login("frank", "frank-password")
	rows, _ := e.audit(e.adminTk, "action=create&object_id=frank")
	e.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/audit/%d/restore", rowID(t, rows[0])), e.adminTk, nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/users/frank", e.adminTk, nil)
	wantError(t, e.do("GET", "/api/v1/me", tok, nil), http.StatusUnauthorized, "-")
	// Someone else is given the name.
	e.createUser("frank", "other-password", RoleAdmin, "")
	if r := e.do("GET", "/api/v1/me", tok, nil); r.code != http.StatusUnauthorized {
		t.Fatalf("regression of a fixed bug (store.Restore / admin user kind): undoing a user's create leaves its sessions, and a new user of that name inherits them: status %d %s", r.code, r.raw)
	}
}

// Restoring a user's earlier tenant must file the user under that tenant again, so
// that listings, tenant scoping and the "tenant still owns users" rule agree with
// the document.
func TestRestoreMovesUserBackToItsTenant(t *testing.T) {
	e := newEnv(t)
	a, b := e.createTenant("move-a"), e.createTenant("move-b")
	e.createUser("mover", "mover-password", RoleTenantAdmin, a)
	e.createUser("keeper", "keeper-password", RoleTenantAdmin, a)
	keeper := e.login("keeper", "keeper-password")
	e.must(http.StatusOK, "PATCH", "/api/v1/users/mover", e.adminTk, obj{"tenant": b})
	rows, _ := e.audit(e.adminTk, "action=update&object_id=mover")
	if len(rows) != 1 || rows[0]["tenant"] != b {
		t.Fatalf("move rows: %v", rows)
	}
	e.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/audit/%d/restore", rowID(t, rows[0])), e.adminTk, nil)
	if got := e.must(http.StatusOK, "GET", "/api/v1/users/mover", e.adminTk, nil).obj(t)["tenant"]; got != a {
		t.Fatalf("after restore mover.tenant = %v, want %s", got, a)
	}
	// The document says tenant A: A's admin must see it, and B must no longer own it.
	r := e.do("GET", "/api/v1/users/mover", keeper, nil)
	list := e.must(http.StatusOK, "GET", "/api/v1/users", keeper, nil).obj(t)["items"].([]any)
	del := e.do("DELETE", "/api/v1/tenants/"+b, e.adminTk, nil)
	if r.code != http.StatusOK || len(list) != 2 || del.code != http.StatusNoContent {
		t.Fatalf("regression of a fixed bug (store.Restore writes the audit row's tenant, not the restored document's): "+
			"A's admin GET mover -> %d, lists %d users (want 2); deleting tenant B -> %d (want 204)", r.code, len(list), del.code)
	}
}
