package admin

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
)

// The redirect-servers API over the real redirect service, against the SRAPS double.
func TestRedirectServersAPI(t *testing.T) {
	e := newEnv(t)
	cfg := redirect.DefaultConfig()
	cfg.KeyFile = filepath.Join(t.TempDir(), "redirect.key")
	cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	svc, err := redirect.New(cfg, e.st, e.prov, slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	e.web.Mount(svc)
	defer e.st.Subscribe(svc.Commit)()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.Serve(ctx)
	go e.prov.Serve(ctx)

	sraps := redirecttest.NewSRAPS("key-1", "hawk-secret-1")
	defer sraps.Close()
	base := "/api/v1/tenants/" + e.def.ID + "/redirect-servers"

	// Bad input: a clear error naming the field, nothing saved.
	wantError(t, e.do("POST", base, e.adminTk, obj{"name": "x", "brand": "nokia"}), http.StatusBadRequest, "brand")
	wantError(t, e.do("POST", base, e.adminTk, obj{"name": "x", "brand": "snom", "secret": "s"}), http.StatusBadRequest, "secret")
	wantError(t, e.do("POST", base, e.adminTk, obj{"name": "x", "brand": "yealink", "username": "u", "password": "p"}), http.StatusBadRequest, "server_name")
	if l := e.must(http.StatusOK, "GET", base, e.adminTk, nil).obj(t)["items"].([]any); len(l) != 0 {
		t.Fatalf("bad input saved servers: %v", l)
	}

	r := e.must(http.StatusCreated, "POST", base, e.adminTk, obj{"name": "snom cloud", "brand": "snom",
		"base_url": sraps.URL() + "/api/v1/", "username": "key-1", "password": "wrong"})
	if strings.Contains(string(r.raw), "wrong") || strings.Contains(string(r.raw), `"credentials"`) || strings.Contains(string(r.raw), `"password"`) {
		t.Fatalf("credentials in the answer: %s", r.raw)
	}
	sv := r.obj(t)
	id := sv["id"].(string)
	if sv["api"] != "sraps" || sv["has_credentials"] != true || sv["effective_provisioning_url"] != "http://192.0.2.10/provisioning/"+e.def.ID+"/" {
		t.Fatalf("server view: %s", r.raw)
	}
	res := e.must(http.StatusOK, "POST", base+"/"+id+"/test", e.adminTk, nil).obj(t)
	if res["ok"] != false || res["error"] != "bad credentials" {
		t.Fatalf("test with a wrong secret: %v", res)
	}
	e.must(http.StatusOK, "PATCH", base+"/"+id, e.adminTk, obj{"password": "hawk-secret-1"})
	if res := e.must(http.StatusOK, "POST", base+"/"+id+"/test", e.adminTk, nil).obj(t); res["ok"] != true {
		t.Fatalf("test with the right secret: %v", res)
	}

	// A device assigned to it gets registered, and its view says so.
	tb := "/api/v1/tenants/" + e.def.ID
	acc := e.must(http.StatusCreated, "POST", tb+"/accounts", e.adminTk, obj{"extension": "301", "sip_password": "pw-301-Strong"}).obj(t)
	dev := e.must(http.StatusCreated, "POST", tb+"/devices", e.adminTk, obj{"mac": "00:04:13:11:22:33", "model": "snom-d785",
		"account": acc["id"], "redirect_server": id}).obj(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := e.must(http.StatusOK, "GET", tb+"/devices/"+dev["id"].(string), e.adminTk, nil).obj(t)
		if st, _ := d["redirect"].(obj); st != nil && st["provisioned"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device never provisioned: %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The phone is sent to its own secret directory, which the reveal shows.
	rev := e.must(http.StatusOK, "POST", tb+"/devices/"+dev["id"].(string)+"/reveal", e.adminTk, nil).obj(t)
	dir, _ := rev["provisioning_url"].(string)
	if u, ok := sraps.Registered("000413112233"); !ok || u != dir || !strings.HasPrefix(dir, "http://192.0.2.10/provisioning/"+e.def.ID+"/") || len(dir) != len("http://192.0.2.10/provisioning/"+e.def.ID+"/")+33 {
		t.Fatalf("SRAPS double has %q %v, reveal %q", u, ok, dir)
	}
	st := e.must(http.StatusOK, "GET", tb+"/redirect-status", e.adminTk, nil).obj(t)["items"].([]any)
	if len(st) != 1 {
		t.Fatalf("status list: %v", st)
	}
	// The status is read-only: it is not a device field.
	wantError(t, e.do("PATCH", tb+"/devices/"+dev["id"].(string), e.adminTk, obj{"redirect": obj{"provisioned": false}}), http.StatusBadRequest, "redirect")
	wantError(t, e.do("DELETE", base+"/"+id, e.adminTk, nil), http.StatusConflict, "id")

	// Another tenant's admin does not see it; an auditor cannot change it.
	other := e.createTenant("other")
	e.createUser("ta", "tenant-admin-pw-1", RoleTenantAdmin, other)
	ta := e.login("ta", "tenant-admin-pw-1")
	e.must(http.StatusNotFound, "GET", base+"/"+id, ta, nil)
	e.must(http.StatusNotFound, "POST", base+"/"+id+"/test", ta, nil)
	e.createUser("aud", "auditor-pw-123", RoleAuditor, "")
	aud := e.login("aud", "auditor-pw-123")
	e.must(http.StatusOK, "GET", base, aud, nil)
	e.must(http.StatusForbidden, "PATCH", base+"/"+id, aud, obj{"name": "y"})

	// Audited, with the sealed credentials redacted.
	items, _ := e.audit(e.adminTk, "object_type=redirect_server")
	if len(items) != 2 {
		t.Fatalf("%d audit rows for the server", len(items))
	}
	for _, it := range items {
		if a := image(t, it, "after"); a["credentials"] != "********" {
			t.Fatalf("audit image not redacted: %v", a)
		}
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
