package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// secretEnv is a tenant "acme" with an account, a device with a phone password,
// provisioning authentication and the rendered file, plus a tenant admin of
// acme, a tenant admin of another tenant and an auditor.
type secretEnv struct {
	*env
	tb, acc, dev, file string
	tadmin, other, aud string // tokens
}

const (
	sipSecret   = "Sip-Secret-301<&>"
	phoneSecret = "Phone-Secret-7"
	provSecret  = "Prov-Secret-1"
)

var secrets = []string{sipSecret, phoneSecret, provSecret, "Sip-Secret-301&lt;&amp;&gt;"}

func newSecretEnv(t *testing.T) *secretEnv {
	t.Helper()
	e := &secretEnv{env: newEnv(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.prov.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	acme := e.createTenant("acme")
	beta := e.createTenant("beta")
	e.tb = "/api/v1/tenants/" + acme
	e.acc = e.must(http.StatusCreated, "POST", e.tb+"/accounts", e.adminTk, obj{"extension": "301", "sip_password": sipSecret}).obj(t)["id"].(string)
	e.dev = e.must(http.StatusCreated, "POST", e.tb+"/devices", e.adminTk, obj{"mac": "00:15:65:AC:03:01", "model": "yealink-t54w",
		"account": e.acc, "phone_username": "admin", "phone_password": phoneSecret}).obj(t)["id"].(string)
	e.must(http.StatusOK, "PATCH", e.tb+"/pbx", e.adminTk, obj{"http_auth": "digest", "http_user": "prov", "http_password": provSecret})
	e.file = "001565ac0301.cfg"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := e.do("GET", e.tb+"/files/"+e.file, e.adminTk, nil); r.code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never rendered", e.file)
		}
	}
	e.createUser("ta", "ta-password-1", RoleTenantAdmin, acme)
	e.createUser("tb", "tb-password-1", RoleTenantAdmin, beta)
	e.createUser("aud", "aud-password-1", RoleAuditor, "")
	e.tadmin, e.other, e.aud = e.login("ta", "ta-password-1"), e.login("tb", "tb-password-1"), e.login("aud", "aud-password-1")
	return e
}

// TestSecretsMasked (F5): no role reads a SIP, phone or provisioning password
// in an ordinary answer: accounts, devices, PBX settings, the rendered file, a
// preview and the CSV exports show "********" or nothing, for the auditor, the
// tenant admin and the admin alike. A PATCH that sends the mask back keeps the
// secret.
func TestSecretsMasked(t *testing.T) {
	e := newSecretEnv(t)
	for _, who := range []struct{ name, token string }{{"admin", e.adminTk}, {"tenant admin", e.tadmin}, {"auditor", e.aud}} {
		t.Run(who.name, func(t *testing.T) {
			for _, path := range []string{"/accounts", "/accounts/" + e.acc, "/devices", "/devices/" + e.dev, "/pbx",
				"/files/" + e.file, "/accounts.csv", "/devices.csv"} {
				r := e.must(http.StatusOK, "GET", e.tb+path, who.token, nil)
				for _, s := range secrets {
					if strings.Contains(string(r.raw), s) {
						t.Errorf("GET %s shows the secret %q:\n%s", path, s, r.raw)
					}
				}
			}
			if m := e.must(http.StatusOK, "GET", e.tb+"/accounts/"+e.acc, who.token, nil).obj(t); m["sip_password"] != "********" {
				t.Errorf("sip_password %v, want the mask", m["sip_password"])
			}
			if m := e.must(http.StatusOK, "GET", e.tb+"/pbx", who.token, nil).obj(t); m["http_password"] != "********" || m["http_user"] != "prov" {
				t.Errorf("pbx %v, want the password masked and the user shown", m)
			}
			f := e.must(http.StatusOK, "GET", e.tb+"/files/"+e.file, who.token, nil).obj(t)
			if c, _ := f["content"].(string); !strings.Contains(c, "account.1.password = ********") {
				t.Errorf("file content not masked where the password goes:\n%s", c)
			}
			if who.token != e.aud {
				r := e.must(http.StatusOK, "POST", e.tb+"/devices/"+e.dev+"/preview", who.token, obj{"body": "%%ACCOUNT_SIP_PASSWORD%% %%PHONEPASSWORD%% %%KPBX_PROVISIONING_PASSWORD%%"})
				if got := r.obj(t)["rendered"]; got != "******** ******** ********" {
					t.Errorf("preview %q, want masks", got)
				}
			}
		})
	}
	// Sending the mask back (a form that round-trips what it read) keeps the secret.
	e.must(http.StatusOK, "PATCH", e.tb+"/accounts/"+e.acc, e.adminTk, obj{"sip_password": "********", "display_name": "Ada"})
	e.must(http.StatusOK, "PATCH", e.tb+"/pbx", e.adminTk, obj{"http_password": "********"})
	if got := e.must(http.StatusOK, "POST", e.tb+"/accounts/"+e.acc+"/reveal", e.adminTk, nil).obj(t)["sip_password"]; got != sipSecret {
		t.Errorf("after a PATCH with the mask, sip_password is %q", got)
	}
	if got := e.must(http.StatusOK, "POST", e.tb+"/pbx/reveal", e.adminTk, nil).obj(t)["http_password"]; got != provSecret {
		t.Errorf("after a PATCH with the mask, http_password is %q", got)
	}
}

// TestSecretsReveal (F5): admins and the tenant's own admins reveal a secret
// explicitly, and each reveal is an audit row (who, from where, what; never the
// secret) that changes no revision and cannot be "restored"; the auditor and
// other tenants' admins cannot reveal.
func TestSecretsReveal(t *testing.T) {
	e := newSecretEnv(t)
	rev := e.revision()
	for _, c := range []struct {
		path, key, want string
	}{
		{"/accounts/" + e.acc + "/reveal", "sip_password", sipSecret},
		{"/devices/" + e.dev + "/reveal", "phone_password", phoneSecret},
		{"/pbx/reveal", "http_password", provSecret},
		{"/files/" + e.file + "/reveal", "content", "account.1.password = " + sipSecret},
	} {
		for _, tok := range []string{e.adminTk, e.tadmin} {
			m := e.must(http.StatusOK, "POST", e.tb+c.path, tok, nil).obj(t)
			if got, _ := m[c.key].(string); !strings.Contains(got, c.want) {
				t.Errorf("POST %s: %s = %q, want %q", c.path, c.key, got, c.want)
			}
		}
		wantError(t, e.do("POST", e.tb+c.path, e.aud, nil), http.StatusForbidden, "-")
		wantError(t, e.do("POST", e.tb+c.path, e.other, nil), http.StatusNotFound, "-")
	}
	// The CSV export carries the secrets only when asked, and that is a reveal too.
	if r := e.must(http.StatusOK, "GET", e.tb+"/accounts.csv?secrets=true", e.adminTk, nil); !strings.Contains(string(r.raw), sipSecret) {
		t.Errorf("accounts.csv?secrets=true:\n%s", r.raw)
	}
	if r := e.must(http.StatusOK, "GET", e.tb+"/devices.csv?secrets=true", e.tadmin, nil); !strings.Contains(string(r.raw), phoneSecret) {
		t.Errorf("devices.csv?secrets=true:\n%s", r.raw)
	}
	wantError(t, e.do("GET", e.tb+"/accounts.csv?secrets=true", e.aud, nil), http.StatusForbidden, "-")

	if got := e.revision(); got != rev {
		t.Errorf("revealing changed the revision %d -> %d", rev, got)
	}
	rows, total := e.audit(e.adminTk, "action=reveal")
	if total != 10 {
		t.Fatalf("%d reveal rows, want 10 (4 objects x 2 users + 2 exports)", total)
	}
	users := map[string]int{}
	for _, row := range rows {
		users[row["user"].(string)]++
		raw := fmt.Sprint(row)
		for _, s := range secrets {
			if strings.Contains(raw, s) {
				t.Errorf("audit row shows the secret: %v", row)
			}
		}
		if row["source_ip"] != "127.0.0.1" || row["object_id"] == "" || row["description"] == "" {
			t.Errorf("reveal row without source, object or description: %v", row)
		}
	}
	if users["admin"] != 5 || users["ta"] != 5 {
		t.Errorf("reveal rows by user %v, want admin 5, ta 5", users)
	}
	// The tenant admin sees its own tenant's reveals.
	if _, n := e.audit(e.tadmin, "action=reveal"); n != 10 {
		t.Errorf("tenant admin sees %d reveal rows of its tenant, want 10", n)
	}
	wantError(t, e.do("POST", fmt.Sprintf("/api/v1/audit/%d/restore", rowID(t, rows[0])), e.adminTk, nil), http.StatusBadRequest, "id")
	if m := e.must(http.StatusOK, "GET", "/api/v1/audit/verify", e.adminTk, nil).obj(t); m["ok"] != true {
		t.Errorf("audit chain after reveals: %v", m)
	}
}
