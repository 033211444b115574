package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
)

// TestResyncThroughDaemon drives resync the way an installer does, on the
// real daemon with the CTI off and cti.ami pointing at a real Asterisk with
// SIPp phones: the CLI's device resync and reboot (through the PBX and
// directly), a bulk by model with one line per device, the API's single and
// bulk forms with bad input refused, the hint a template save answers with,
// one audit row per request, and auditors refused.
func TestResyncThroughDaemon(t *testing.T) {
	pbx := asterisktest.Start(t, asterisktest.Options{Extensions: 4})
	d := newDaemon(t, fmt.Sprintf("cti:\n  enabled: false\n  ami:\n    address: %q\n    username: %s\n    secret: %s\n",
		pbx.AMIAddr, pbx.AMIUser, pbx.AMISecret))
	d.start()
	d.addAdmin("root", "root-password-1")
	token := d.login("root", "root-password-1")
	if code, st, _, _ := d.request("GET", "/api/v1/status", token, nil); code != 200 || !strings.Contains(fmt.Sprint(st["features"]), "resync") {
		t.Errorf("status features: %d %v", code, st["features"])
	}

	e1, e2 := pbx.Ext(t, "201"), pbx.Ext(t, "202")
	ph := pbx.Register(t, "201", asterisktest.PhoneOptions{})
	var a1, a2 struct{ ID string }
	d.socketJSON("POST", "/api/v1/tenants/default/accounts", map[string]string{"extension": "201", "sip_password": e1.Password}, &a1)
	d.socketJSON("POST", "/api/v1/tenants/default/accounts", map[string]string{"extension": "202", "sip_password": e2.Password}, &a2)
	var tmpl struct{ ID string }
	d.socketJSON("POST", "/api/v1/templates", map[string]any{"name": "snom-e2e", "scope": "device", "escape": "xml",
		"content_type": "text/xml", "body": "<settings><user_name idx=\"1\">%%ACCOUNT_SIP_USERNAME%%</user_name></settings>\n"}, &tmpl)
	var d1, d2, d3 struct{ ID, MAC string }
	d.socketJSON("POST", "/api/v1/tenants/default/devices", map[string]string{"mac": "000413000201", "model": "snom-d735", "account": a1.ID, "template": tmpl.ID}, &d1)
	d.socketJSON("POST", "/api/v1/tenants/default/devices", map[string]string{"mac": "000413000202", "model": "snom-d735", "account": a2.ID}, &d2)
	d.socketJSON("POST", "/api/v1/tenants/default/devices", map[string]string{"mac": "000413000203", "model": "snom-d735"}, &d3)

	notifies := func() []asterisktest.SIPMessage {
		var out []asterisktest.SIPMessage
		for _, m := range ph.Messages() {
			if m.Received && m.Method() == "NOTIFY" && m.Header("Event") != "message-summary" {
				out = append(out, m)
			}
		}
		return out
	}
	waitNotify := func(n int) asterisktest.SIPMessage {
		t.Helper()
		eventually(t, fmt.Sprintf("NOTIFY #%d", n+1), func() bool { return len(notifies()) > n })
		return notifies()[n]
	}

	// One device by MAC, through the PBX.
	out, errOut, code := d.cli("", "device", "resync", "00:04:13:00:02:01")
	if code != 0 || !strings.Contains(out, "sent_ami") || !strings.Contains(out, "check-sync;reboot=false") || !strings.Contains(out, "1 sent via AMI") {
		t.Fatalf("device resync: exit %d\n%s%s", code, out, errOut)
	}
	if n := waitNotify(0); n.Header("Event") != "check-sync;reboot=false" || strings.Contains(n.Header("From"), "switchboard@") {
		t.Errorf("resync NOTIFY:\n%s", n.Text)
	}
	// A reboot sent directly.
	out, errOut, code = d.cli("", "device", "reboot", "--via", "direct", "000413000201")
	if code != 0 || !strings.Contains(out, "sent_direct") || !strings.Contains(out, "check-sync;reboot=true") {
		t.Fatalf("device reboot --via direct: exit %d\n%s%s", code, out, errOut)
	}
	if n := waitNotify(1); n.Header("Event") != "check-sync;reboot=true" || !strings.Contains(n.Header("From"), "switchboard@") {
		t.Errorf("direct reboot NOTIFY:\n%s", n.Text)
	}
	// The model's devices: one line each, exit 1 since two were not sent to.
	out, errOut, code = d.cli("", "device", "resync", "--model", "snom-d735")
	if code != 1 || !strings.Contains(out, "not_registered") || !strings.Contains(out, "no_account") ||
		!strings.Contains(out, "1 sent via AMI, 1 not registered, 1 without an account") || !strings.Contains(errOut, "2 of 3 devices") {
		t.Errorf("device resync --model: exit %d\n%s%s", code, out, errOut)
	}
	waitNotify(2)
	// Bad input names the CLI's flags and sends nothing.
	for _, args := range [][]string{{"device", "resync"}, {"device", "resync", "--all", "000413000201"},
		{"device", "resync", "--via", "fax", "000413000201"}, {"device", "reboot", "00:04:13:ff:ff:ff"}, {"device", "resync", "--template", "nope"}} {
		out, errOut, code := d.cli("", args...)
		if code != 1 || !(strings.Contains(errOut, "--template") || strings.Contains(errOut, "--via") || strings.Contains(errOut, "no device") || strings.Contains(errOut, "no template")) {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}

	// The API: single form, then bulk, then bad input.
	code, rep, _, err := d.request("POST", "/api/v1/tenants/default/devices/"+d1.ID+"/resync", token, map[string]any{"reboot": true})
	if err != nil || code != 200 || rep["action"] != "reboot" || fmt.Sprint(rep["counts"]) != "map[sent_ami:1]" {
		t.Errorf("single resync: %d %v %v", code, rep, err)
	}
	waitNotify(3)
	code, rep, _, _ = d.request("POST", "/api/v1/tenants/default/resync", token, map[string]any{"devices": []string{d1.ID, d2.MAC}})
	if code != 200 || fmt.Sprint(rep["counts"]) != "map[not_registered:1 sent_ami:1]" {
		t.Errorf("bulk: %d %v", code, rep)
	}
	waitNotify(4)
	for _, c := range []struct {
		path  string
		body  any
		code  int
		field string
	}{
		{"/api/v1/tenants/default/devices/" + d1.ID + "/resync", map[string]any{"via": "fax"}, 400, "via"},
		{"/api/v1/tenants/default/devices/" + d1.ID + "/resync", map[string]any{"rebot": true}, 400, "rebot"},
		{"/api/v1/tenants/default/devices/no-such-device/resync", nil, 404, "devices"},
		{"/api/v1/tenants/default/resync", map[string]any{"model": "snom-d735", "all": true}, 400, ""},
		{"/api/v1/tenants/default/resync", map[string]any{"template": "no-such"}, 404, "template"},
		{"/api/v1/tenants/no-such-tenant/resync", map[string]any{"all": true}, 404, ""},
	} {
		code, out, _, _ := d.request("POST", c.path, token, c.body)
		if code != c.code || fmt.Sprint(out["field"]) != fmt.Sprint(map[bool]any{true: nil, false: c.field}[c.field == ""]) || out["error"] == "" {
			t.Errorf("%s %v: %d %v", c.path, c.body, code, out)
		}
	}

	// A template save answers how many devices use it, in which tenants.
	code, saved, _, _ := d.request("PATCH", "/api/v1/templates/"+tmpl.ID, token, map[string]any{"name": "snom-e2e-2"})
	hint, _ := saved["resync"].(map[string]any)
	if code != 200 || saved["name"] != "snom-e2e-2" || hint["devices"] != float64(1) {
		t.Errorf("template save: %d %v", code, saved)
	}
	out, _, code = d.cli("", "device", "resync", "--template", tmpl.ID)
	if code != 0 || !strings.Contains(out, "000413000201") || strings.Contains(out, "000413000202") {
		t.Errorf("device resync --template: exit %d\n%s", code, out)
	}
	waitNotify(5)

	// One audit row per accepted request (CLI 4, API 2), none for refusals.
	code, audit, _, _ := d.request("GET", "/api/v1/audit?object_type=resync_action", token, nil)
	if items, _ := audit["items"].([]any); code != 200 || len(items) != 6 {
		t.Errorf("audit rows: %d %d", code, len(items))
	}
	// Auditors read, never send.
	if out, e, code := d.cli("auditor-pw-1\n", "user", "add", "aud", "--role", "auditor", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s %s", out, e)
	}
	code, out2, _, _ := d.request("POST", "/api/v1/tenants/default/resync", d.login("aud", "auditor-pw-1"), map[string]any{"all": true})
	if code != 403 {
		t.Errorf("auditor: %d %v", code, out2)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(notifies()); n != 6 {
		t.Errorf("the phone got %d NOTIFYs, want 6", n)
	}
}
