package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestRedirectPanel: a Snom redirection server (against the Snom XML-RPC
// double, a faithful stand-in for the vendor's service) created with a wrong
// secret (the test button says so), fixed, assigned to a device from the
// device form (the device and the server pages then show it provisioned),
// deleted; a missing required field refused; credentials never shown; audit.
func TestRedirectPanel(t *testing.T) {
	snom := redirecttest.NewSnom("acme", "snom-pass")
	defer snom.Close()
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	var acc struct{ ID string }
	env.D.API("POST", "/tenants/"+ten+"/accounts", env.Token, map[string]string{"extension": "501", "sip_password": "Secret-501-pw"}, &acc)
	var dev struct{ ID string }
	if code, err := env.D.API("POST", "/tenants/"+ten+"/devices", env.Token, map[string]any{"mac": "00:04:13:05:01:01", "model": "snom-d785", "account": acc.ID}, &dev); err != nil || code != 201 {
		t.Fatalf("device: %d %v", code, err)
	}
	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("redirect/new")
	p.Fill("#redirect-form", "name", "Snom RPS")
	p.Fill("#redirect-form", "brand", "snom")
	p.WaitOption("#redirect-form", "api", "xmlrpc")
	p.Fill("#redirect-form", "api", "xmlrpc")
	p.Fill("#redirect-form", "base_url", snom.URL()+"/xmlrpc/")
	p.Fill("#redirect-form", "username", "acme")
	p.Submit("#redirect-form")
	if msg := p.FieldError("#redirect-form", "password"); !strings.Contains(msg, "required") {
		t.Errorf("missing secret: %q", msg)
	}
	p.Fill("#redirect-form", "password", "wrong-secret")
	p.Submit("#redirect-form")
	p.Reshown("redirect")
	p.WaitVisible(`#redirect-servers tr[data-name="Snom RPS"]`)
	id := webuitest.Eval[string](p, `document.querySelector('#redirect-servers tr[data-name="Snom RPS"]').dataset.id`)
	p.Click(`#redirect-servers tr[data-name="Snom RPS"]`)
	p.WaitVisible("#redirect-test-btn")
	if v := webuitest.Eval[string](p, `document.querySelector("#redirect-form [name=password]").value + document.querySelector("#redirect-form [name=username]").value`); v != "" {
		t.Errorf("credentials shown in the form: %q", v)
	}
	p.Click("#redirect-test-btn")
	p.WaitVisible("#redirect-test .msg.error")
	if s := p.Text("#redirect-test"); !strings.Contains(s, "bad credentials") {
		t.Errorf("test with a wrong secret: %q", s)
	}
	// Edit: the right secret (credentials are written as a pair).
	p.Fill("#redirect-form", "username", "acme")
	p.Fill("#redirect-form", "password", "snom-pass")
	p.Submit("#redirect-form")
	p.Reshown("redirect")
	p.Click(`#redirect-servers tr[data-name="Snom RPS"]`)
	p.WaitVisible("#redirect-test-btn")
	p.Click("#redirect-test-btn")
	p.WaitVisible("#redirect-test .msg.ok")
	p.Shot("server")

	// Assign it to the device from the device form; the reconcile loop registers it.
	p.Go("devices/" + dev.ID)
	p.WaitOption("#device-form", "redirect_server", id)
	p.Fill("#device-form", "redirect_server", id)
	p.Submit("#device-form")
	p.Reshown("devices")
	waitFor(t, "the device registered at the vendor", func() bool { _, ok := snom.Registered("000413050101"); return ok })
	p.Go("redirect/" + id)
	p.Poll("server page shows it", `(() => { const r = document.querySelector('#redirect-devices tr[data-mac="000413050101"]'); return !!r; })()`)
	for i := 0; !strings.Contains(p.Text(`#redirect-devices tr[data-mac="000413050101"]`), "provisioned"); i++ {
		if i > 100 {
			t.Fatalf("server page never shows the device provisioned: %q", p.Text("#redirect-devices"))
		}
		p.Go("redirect/" + id)
	}
	p.Go("devices/" + dev.ID)
	if s := p.Text("#device-state"); !strings.Contains(s, "provisioned") {
		t.Errorf("device page state: %q", s)
	}
	// A server devices use cannot go; unassigned, it can.
	p.Fill("#device-form", "redirect_server", "")
	p.Submit("#device-form")
	p.Reshown("devices")
	p.Go("redirect/" + id)
	p.Click("#redirect-delete")
	p.Confirm()
	p.Reshown("redirect")
	p.WaitGone(`#redirect-servers tr[data-name="Snom RPS"]`)
	for _, a := range []string{"create", "update", "delete"} {
		rows := env.AuditRows(t, "object_type=redirect_server&action="+a+"&user="+u.Name)
		if len(rows) != 1 {
			t.Errorf("%s audit: %d rows", a, len(rows))
			continue
		}
		if s := asJSON(rows[0]); strings.Contains(s, "snom-pass") || strings.Contains(s, "wrong-secret") {
			t.Errorf("a secret in the audit row: %s", s)
		}
	}
}

// TestUnknownPanel: a phone nobody configured asks for its file; the page
// lists it with the model guessed, and adopting it makes it a device with its
// file; audit row.
func TestUnknownPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten)
	req, _ := http.NewRequest("GET", "https://"+env.D.HTTPS+"/provisioning/"+ten+"/001565aabbcc.cfg", nil)
	req.Header.Set("User-Agent", "Yealink SIP-T46U 108.86.0.20 00:15:65:aa:bb:cc")
	if resp, err := webuitest.Client.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown phone's request: %v %v", resp, err)
	}
	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("unknown")
	for i := 0; p.Count(`#unknown tr[data-mac="001565AABBCC"]`) == 0; i++ {
		if i > 100 {
			t.Fatalf("the phone never shows up")
		}
		p.Go("unknown")
	}
	if s := p.Text(`#unknown tr[data-mac="001565AABBCC"]`); !strings.Contains(s, "Yealink T46U") {
		t.Errorf("guess: %q", s)
	}
	p.Shot("list")
	p.Fill(`#unknown form[data-mac="001565AABBCC"]`, "account_extension", "201")
	p.Click(`#unknown form[data-mac="001565AABBCC"] button[type=submit]`)
	p.Reshown("unknown")
	if s := p.Text("main .msg.ok"); !strings.Contains(s, "Adopted 001565AABBCC as Yealink T46U: 001565aabbcc.cfg") {
		t.Errorf("adopt message: %q", s)
	}
	if rows := env.AuditRows(t, "object_type=device&action=create&user="+u.Name); len(rows) != 1 {
		t.Errorf("adopt audit: %d rows", len(rows))
	}
}
