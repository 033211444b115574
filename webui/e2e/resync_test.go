package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestResyncConsole drives resync in Italian on a daemon whose cti.ami is a
// real Asterisk (the CTI itself off), with a SIPp phone registered for one
// account: "Risincronizza tutti" on the device list (per-device results: sent
// through the PBX, not registered), "Riavvia" on the device form (asked
// first), the offer after a template save (accepted: the phone gets its
// NOTIFY) and after a model save (declined: nothing is sent), every text from
// the catalog, and one audit row per request sent.
func TestResyncConsole(t *testing.T) {
	shared := webuitest.Shared(t) // its browser
	pbx := asterisktest.Start(t, asterisktest.Options{Extensions: 3})
	d, err := webuitest.StartDaemon(webuitest.Binary(t), fmt.Sprintf("tenancy:\n  mode: multi\ncti:\n  enabled: false\n  ami:\n"+
		"    address: %q\n    username: %s\n    secret: %s\n", pbx.AMIAddr, pbx.AMIUser, pbx.AMISecret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	d.AddUser(t, "root-admin", "root-admin-password", "admin", "")
	env := &webuitest.Env{D: d, B: shared.B, Token: d.Login(t, "root-admin", "root-admin-password")}
	ten := env.NewTenant(t)
	api := func(method, path string, body, out any) {
		t.Helper()
		if code, err := d.API(method, path, env.Token, body, out); err != nil || code >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, code, err)
		}
	}
	e1, e2 := pbx.Ext(t, "201"), pbx.Ext(t, "202")
	ph := pbx.Register(t, "201", asterisktest.PhoneOptions{})
	var a1, a2, tmpl, model struct{ ID string }
	api("POST", "/tenants/"+ten+"/accounts", map[string]string{"extension": "201", "display_name": "Ada", "sip_password": e1.Password}, &a1)
	api("POST", "/tenants/"+ten+"/accounts", map[string]string{"extension": "202", "display_name": "Bea", "sip_password": e2.Password}, &a2)
	api("POST", "/tenants/"+ten+"/templates", map[string]string{"name": "Fanvil ufficio", "scope": "device", "escape": "xml",
		"content_type": "text/xml", "body": "<sysConf><user>%%ACCOUNT_SIP_USERNAME%%</user></sysConf>\n"}, &tmpl)
	api("POST", "/tenants/"+ten+"/models", map[string]any{"brand": "fanvil", "name": "X-Ufficio", "template": tmpl.ID,
		"file": map[string]string{"prefix": "uf-", "mac_format": "aabbccddeeff", "suffix": ".cfg"}}, &model)
	var dev1 struct{ ID string }
	api("POST", "/tenants/"+ten+"/devices", map[string]string{"mac": "0C383E000201", "model": model.ID, "account": a1.ID}, &dev1)
	api("POST", "/tenants/"+ten+"/devices", map[string]string{"mac": "0C383E000202", "model": "fanvil-x4u", "account": a2.ID}, nil)

	notifies := func() []asterisktest.SIPMessage {
		var out []asterisktest.SIPMessage
		for _, m := range ph.Messages() {
			if m.Received && m.Method() == "NOTIFY" && m.Header("Event") != "message-summary" {
				out = append(out, m)
			}
		}
		return out
	}
	waitNotify := func(n int, event string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(notifies()) <= n {
			if time.Now().After(deadline) {
				t.Fatalf("NOTIFY #%d did not reach the phone", n+1)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := notifies()[n].Header("Event"); got != event {
			t.Errorf("NOTIFY #%d: Event %q, want %q", n+1, got, event)
		}
	}
	untranslated := func(p *webuitest.Page, where string) {
		t.Helper()
		if bad := p.Untranslated(); len(bad) > 0 {
			t.Errorf("%s: text not from the catalog: %q", where, bad)
		}
	}
	p, u := env.Page(t, "it", "tenant_admin", ten)

	// The device list: resync every phone of the tenant.
	p.Go("devices")
	p.WaitVisible(`#devices tr[data-mac="0C383E000201"]`)
	p.Click("#devices-resync-all")
	if s := p.Text("dialog[open]"); !strings.Contains(s, "I 2 telefoni di questo tenant") {
		t.Errorf("confirmation: %q", s)
	}
	p.Confirm()
	p.WaitVisible("#resync-results")
	if p.Count(`#resync-table tr[data-mac="0C383E000201"][data-status="sent_ami"]`) != 1 ||
		p.Count(`#resync-table tr[data-mac="0C383E000202"][data-status="not_registered"]`) != 1 {
		t.Errorf("results: %q", p.Text("#resync-table"))
	}
	if s := p.Text("#resync-counts"); !strings.Contains(s, "1 inviato tramite il PBX") || !strings.Contains(s, "1 non registrato") {
		t.Errorf("counts: %q", s)
	}
	if s := p.Text(`#resync-table tr[data-mac="0C383E000201"]`); !strings.Contains(s, "check-sync;reboot=false") || !strings.Contains(s, "tramite il PBX") {
		t.Errorf("row: %q", s)
	}
	untranslated(p, "results")
	p.Shot("results")
	p.Click("#resync-close")
	p.WaitGone("#resync-results")
	waitNotify(0, "check-sync;reboot=false")

	// The device form: reboot, asked first.
	p.Go("devices/" + dev1.ID)
	p.WaitVisible("#device-reboot")
	p.Click("#device-reboot")
	if s := p.Text("dialog[open]"); !strings.Contains(s, "0C383E000201") || !strings.Contains(s, "si riavvierà") {
		t.Errorf("reboot confirmation: %q", s)
	}
	p.Confirm()
	p.WaitVisible(`#resync-table tr[data-status="sent_ami"]`)
	p.Click("#resync-close")
	waitNotify(1, "check-sync;reboot=true")

	// A template save offers to resync the devices using it: accepted.
	p.Go("templates/" + tmpl.ID)
	p.WaitVisible("#template-form")
	p.Fill("#template-form", "name", "Fanvil ufficio 2")
	p.Submit("#template-form")
	p.WaitVisible("#resync-offer")
	if s := p.Text("#resync-offer"); !strings.Contains(s, "Un dispositivo di questo tenant usa «Fanvil ufficio 2»") {
		t.Errorf("offer: %q", s)
	}
	untranslated(p, "offer")
	p.Confirm()
	p.WaitVisible(`#resync-table tr[data-mac="0C383E000201"][data-status="sent_ami"]`)
	if p.Count("#resync-table tr[data-mac]") != 1 {
		t.Errorf("the template's resync reached other devices: %q", p.Text("#resync-table"))
	}
	p.Click("#resync-close")
	p.Reshown("templates")
	waitNotify(2, "check-sync;reboot=false")

	// A model save offers too: declined, nothing is sent.
	p.Go("models/" + model.ID)
	p.WaitVisible("#model-form")
	p.Fill("#model-form", "name", "X-Ufficio 2")
	p.Submit("#model-form")
	p.WaitVisible("#resync-offer")
	if s := p.Text("#resync-offer"); !strings.Contains(s, "X-Ufficio 2") {
		t.Errorf("model offer: %q", s)
	}
	p.Click("dialog[open] #confirm-cancel")
	p.Reshown("models")
	time.Sleep(300 * time.Millisecond)
	if n := len(notifies()); n != 3 {
		t.Errorf("the phone got %d NOTIFYs, want 3", n)
	}
	if rows := env.AuditRows(t, "object_type=resync_action&user="+u.Name); len(rows) != 3 {
		t.Errorf("%d audit rows of resync requests, want 3", len(rows))
	}

	// An auditor sees no resync buttons.
	pa, _ := env.Page(t, "it", "auditor", ten)
	pa.Go("devices/" + dev1.ID)
	pa.WaitVisible("#device-form")
	if pa.Count("#device-resync, #device-reboot") != 0 {
		t.Error("an auditor is offered resync")
	}
}
