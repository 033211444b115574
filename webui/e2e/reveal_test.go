package e2e

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestRevealSecrets: every view masks secrets; an admin's "Show" beside the
// SIP password, the phone password, the provisioning HTTP password and in the
// file view asks first (a cancel reveals nothing and records nothing), then
// shows the value in clear and the audit log has a reveal row. An auditor
// has no such control and no page holds a secret.
func TestRevealSecrets(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	accID, devID := fixtures(t, env, ten) // account 201 with "Secret-201-pw"
	base := "/tenants/" + ten
	if code, err := env.D.API("PATCH", base+"/devices/"+devID, env.Token, map[string]any{"phone_username": "admin", "phone_password": "Phone-Admin-77"}, nil); err != nil || code != 200 {
		t.Fatalf("device: %d %v", code, err)
	}
	if code, err := env.D.API("PATCH", base+"/pbx", env.Token, map[string]any{"http_auth": "digest", "http_user": "prov", "http_password": "Prov-Http-Secret-5"}, nil); err != nil || code != 200 {
		t.Fatalf("pbx: %d %v", code, err)
	}
	secrets := []string{"Secret-201-pw", "Phone-Admin-77", "Prov-Http-Secret-5"}
	noSecret := func(p *webuitest.Page, where string) {
		t.Helper()
		html := webuitest.Eval[string](p, `document.documentElement.outerHTML + [...document.querySelectorAll("input, textarea")].map(e => e.value).join(" ")`)
		for _, s := range secrets {
			if strings.Contains(html, s) {
				t.Errorf("%s: the page holds the secret %q", where, s)
			}
		}
	}
	reveals := func(kind, user string) int {
		return len(env.AuditRows(t, "object_type="+kind+"&action=reveal&user="+user))
	}

	p, u := env.Page(t, "en", "admin", ten)

	// Account: masked until asked; a cancel shows nothing and records nothing.
	p.Go("accounts/" + accID)
	p.WaitVisible("#reveal-sip-password")
	noSecret(p, "account form")
	if p.Count("#show-password:not([hidden])") != 0 {
		t.Errorf("\"Show the password\" offered for the masked saved password")
	}
	p.Click("#reveal-sip-password")
	p.WaitVisible("dialog[open]")
	if s := p.Text("dialog[open]"); !strings.Contains(s, "SIP password of account 201") || !strings.Contains(s, "recorded in the audit log") {
		t.Errorf("reveal dialog: %q", s)
	}
	p.Click("dialog[open] #confirm-cancel")
	p.WaitGone("dialog[open]")
	noSecret(p, "account form after cancel")
	if n := reveals("account", u.Name); n != 0 {
		t.Errorf("cancelled reveal: %d audit rows", n)
	}
	p.Click("#reveal-sip-password")
	p.Confirm()
	p.WaitVisible("#reveal-sip-password-value code")
	if s := p.Text("#reveal-sip-password-value code"); s != "Secret-201-pw" {
		t.Errorf("revealed SIP password: %q", s)
	}
	if p.Count("#reveal-sip-password:not([hidden])") != 0 {
		t.Errorf("the reveal button is still offered after the reveal")
	}
	p.Shot("account")
	if n := reveals("account", u.Name); n != 1 {
		t.Errorf("account reveal: %d audit rows", n)
	}
	// The list's "Show" of a row reveals it too.
	p.Go("accounts")
	p.Click(`#accounts tr[data-extension="201"] [data-reveal]`)
	p.Confirm()
	p.WaitVisible(`#accounts tr[data-extension="201"] .revealed code`)
	if s := p.Text(`#accounts tr[data-extension="201"] .revealed code`); s != "Secret-201-pw" {
		t.Errorf("revealed in the list: %q", s)
	}
	if n := reveals("account", u.Name); n != 2 {
		t.Errorf("account reveals: %d audit rows", n)
	}

	// Device: the phone's admin password.
	p.Go("devices/" + devID)
	p.WaitVisible("#reveal-phone-password")
	noSecret(p, "device form")
	p.Click("#reveal-phone-password")
	p.Confirm()
	p.WaitVisible("#reveal-phone-password-value code")
	if s := p.Text("#reveal-phone-password-value code"); s != "Phone-Admin-77" {
		t.Errorf("revealed phone password: %q", s)
	}
	if n := reveals("device", u.Name); n != 1 {
		t.Errorf("device reveal: %d audit rows", n)
	}

	// The device page links to its file, which opens in the file manager (masked).
	p.Go("devices/" + devID)
	p.Click("#device-file-link")
	p.Reshown("files?q=001565000201.cfg&open=001565000201.cfg")
	p.WaitVisible("#file-view pre")
	if s := p.Text("#file-view pre"); !strings.Contains(s, "Ada Lovelace") {
		t.Errorf("the device's file: %q", s)
	}
	noSecret(p, "the device's file")

	// PBX settings: the provisioning HTTP password.
	p.Go("pbx")
	p.WaitVisible("#reveal-http-password")
	noSecret(p, "PBX settings")
	p.Click("#reveal-http-password")
	p.Confirm()
	p.WaitVisible("#reveal-http-password-value code")
	if s := p.Text("#reveal-http-password-value code"); s != "Prov-Http-Secret-5" {
		t.Errorf("revealed HTTP password: %q", s)
	}
	if n := reveals("pbx", u.Name); n != 1 {
		t.Errorf("pbx reveal: %d audit rows", n)
	}

	// File view: masked, then in clear.
	p.Go("files")
	p.Click(`#files tr[data-name="001565000201.cfg"]`)
	p.WaitVisible("#file-view pre")
	p.WaitVisible("#file-masked")
	noSecret(p, "file view")
	p.Click("#file-reveal")
	p.Confirm()
	p.Poll("the file in clear", `document.querySelector("#file-view pre").textContent.includes("Secret-201-pw")`)
	if p.Count("#file-masked:not([hidden])") != 0 {
		t.Errorf("the file still says it is masked")
	}
	p.Shot("file")
	if n := reveals("file", u.Name); n != 1 {
		t.Errorf("file reveal: %d audit rows", n)
	}
	// The console's audit log lists the four reveals, named as such.
	p.Go("audit?action=reveal&user=" + u.Name)
	p.WaitVisible("#audit tbody tr")
	if n := p.Count("#audit tbody tr"); n != 5 {
		t.Errorf("audit page: %d reveal rows, want 5", n)
	}
	if s := p.Text("#audit tbody"); !strings.Contains(s, "secret shown") || !strings.Contains(s, "generated file") || !strings.Contains(s, "sip_password of account 201 revealed") {
		t.Errorf("audit page: %q", s)
	}
	p.Shot("audit")
	// The audit log names the reveals without the secrets.
	for _, r := range env.AuditRows(t, "action=reveal&user="+u.Name) {
		for _, s := range secrets {
			if strings.Contains(asJSON(r), s) {
				t.Errorf("a secret in the audit row: %v", r)
			}
		}
	}

	// The auditor: no control, no secret, on the same pages.
	a, au := env.Page(t, "en", "auditor", ten)
	for _, r := range []string{"accounts", "accounts/" + accID, "devices/" + devID, "pbx", "files"} {
		a.Go(r)
		if n := a.Count("[data-reveal]"); n != 0 {
			t.Errorf("auditor on #/%s: %d reveal controls", r, n)
		}
		noSecret(a, "auditor on #/"+r)
	}
	a.Click(`#files tr[data-name="001565000201.cfg"]`)
	a.WaitVisible("#file-view pre")
	if n := a.Count("[data-reveal]"); n != 0 {
		t.Errorf("auditor's file view: %d reveal controls", n)
	}
	noSecret(a, "auditor's file view")
	if code, _ := env.D.API("POST", base+"/accounts/"+accID+"/reveal", au.Token, nil, nil); code != 403 {
		t.Errorf("auditor's reveal through the API: %d", code)
	}
}
