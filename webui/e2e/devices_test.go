package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestDevicesPanel: a device created, edited (network, account, notes) and
// deleted through its form; a malformed MAC refused by the form and a
// duplicate refused by the daemon, each naming and marking the field; the
// file served as saved; the audit rows with names, not UUIDs.
func TestDevicesPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	acc, _ := fixtures(t, env, ten) // account 201 Ada Lovelace, device 001565000201
	var acc2 struct{ ID string }
	if code, err := env.D.API("POST", "/tenants/"+ten+"/accounts", env.Token, map[string]string{"extension": "301", "display_name": "Grace Hopper", "sip_password": "Secret-301-pw"}, &acc2); err != nil || code != 201 {
		t.Fatalf("account: %d %v", code, err)
	}
	p, u := env.Page(t, "en", "admin", ten)

	// The list: server-side search.
	p.Go("devices")
	p.WaitVisible(`#devices tr[data-mac="001565000201"]`)
	p.Shot("list")
	p.Type("#device-search input", "reception")
	p.Reshown("devices?q=reception")
	if n := p.Count("#devices tr[data-mac]"); n != 1 {
		t.Errorf("search: %d rows", n)
	}

	// A malformed MAC: the form's own check names and marks the field.
	p.Go("devices/new")
	p.Fill("#device-form", "mac", "00:15:65:zz:02:03")
	p.Fill("#device-form", "brand", "yealink")
	p.WaitOption("#device-form", "model", "yealink-t46u")
	p.Fill("#device-form", "model", "yealink-t46u")
	p.Submit("#device-form")
	if msg := p.FieldError("#device-form", "mac"); !strings.Contains(msg, "12 hex digits") {
		t.Errorf("bad MAC message: %q", msg)
	}
	// A MAC another device has: the daemon refuses, the field is marked.
	p.Fill("#device-form", "mac", "00-15-65-00-02-01")
	p.Submit("#device-form")
	if msg := p.FieldError("#device-form", "mac"); !strings.Contains(msg, "MAC address") {
		t.Errorf("duplicate MAC message: %q", msg)
	}
	if s := p.Text("#device-form .form-msg"); !strings.Contains(s, "same mac") {
		t.Errorf("duplicate MAC detail: %q", s)
	}
	p.Shot("errors")

	// Create, with the account found through the picker's search.
	p.Fill("#device-form", "mac", "00:15:65:01:02:03")
	p.Type("#device-form .account-search", "Grace")
	p.WaitOption("#device-form", "account", acc2.ID)
	p.Fill("#device-form", "account", acc2.ID)
	p.Fill("#device-form", "notes", `<img src=x id=injected> hall`)
	p.Click("#device-preview-btn")
	p.WaitVisible("#device-preview-body")
	if s := p.Text("#device-preview-body"); !strings.Contains(s, "Grace Hopper") {
		t.Errorf("preview before saving: %q", s)
	}
	p.Shot("new")
	p.Submit("#device-form")
	p.Reshown("devices")
	p.WaitVisible(`#devices tr[data-mac="001565010203"]`)
	row := p.Text(`#devices tr[data-mac="001565010203"]`)
	if !strings.Contains(row, "001565010203.cfg") || !strings.Contains(row, "301 Grace Hopper") || !strings.Contains(row, "<img src=x id=injected> hall") {
		t.Errorf("new row: %q", row)
	}
	if p.Count("#injected") != 0 {
		t.Error("a device's notes were parsed as HTML")
	}
	resp, body, err := env.D.Get("/provisioning/" + ten + "/001565010203.cfg")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "Grace Hopper") {
		t.Fatalf("the device added in the console is not served: %v %v", resp, err)
	}

	// Edit: a static address, another account, the notes.
	p.Click(`#devices tr[data-mac="001565010203"]`)
	p.WaitVisible("#device-form")
	p.Fill("#device-form", "dhcp", "false")
	p.WaitVisible(`#device-form [name=ip_address]`)
	p.Fill("#device-form", "ip_address", "192.0.2.50")
	p.Fill("#device-form", "netmask", "255.255.255.0")
	p.Fill("#device-form", "gateway", "192.0.2.1")
	p.Fill("#device-form", "account", acc)
	p.Fill("#device-form", "notes", "hall, left")
	p.Submit("#device-form")
	p.Reshown("devices")
	p.WaitVisible(`#devices tr[data-mac="001565010203"]`)
	var dev struct {
		Items []struct {
			ID, IPMode, IPAddress, Account, Notes string
		} `json:"items"`
	}
	if code, err := env.D.API("GET", "/tenants/"+ten+"/devices?q=001565010203", env.Token, nil, &dev); err != nil || code != 200 || len(dev.Items) != 1 {
		t.Fatalf("device after edit: %d %v %v", code, err, dev)
	}
	var full map[string]any
	env.D.API("GET", "/tenants/"+ten+"/devices/"+dev.Items[0].ID, env.Token, nil, &full)
	if full["ip_mode"] != "static" || full["ip_address"] != "192.0.2.50" || full["account"] != acc || full["notes"] != "hall, left" {
		t.Errorf("saved device: %v", full)
	}

	// The audit row of the edit, by this user, names the accounts.
	rows := env.AuditRows(t, "object_type=device&action=update&user="+u.Name)
	if len(rows) != 1 {
		t.Fatalf("audit rows of the edit: %d", len(rows))
	}
	p.Go(fmt.Sprintf("audit/%v", rows[0]["id"]))
	p.WaitVisible("#audit-diff")
	diff := p.Text("#audit-diff")
	if !strings.Contains(diff, "301 Grace Hopper") || !strings.Contains(diff, "201 Ada Lovelace") || !strings.Contains(diff, "192.0.2.50") {
		t.Errorf("audit diff does not name the accounts: %q", diff)
	}
	p.Shot("audit")

	// The secret provisioning URL, shown on demand (an audited reveal),
	// serves the device's file; a new one retires it.
	p.Go("devices/" + dev.Items[0].ID)
	p.WaitVisible("#device-secret-show")
	p.Click("#device-secret-show")
	secret := func(not string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, rel, ok := strings.Cut(p.Text("#device-secret-url"), "/provisioning/"+ten+"/"); ok && "/provisioning/"+ten+"/"+rel != not {
				return "/provisioning/" + ten + "/" + rel
			}
			if time.Now().After(deadline) {
				t.Fatalf("secret URL not shown: %q", p.Text("#device-secret-url"))
			}
		}
	}
	first := secret("")
	if resp, body, err := env.D.Get(first + "001565010203.cfg"); err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "Ada Lovelace") {
		t.Fatalf("file under the secret URL: %v %v", resp, err)
	}
	if rows := env.AuditRows(t, "object_type=device&action=reveal&user="+u.Name); len(rows) != 1 {
		t.Errorf("reveal audit rows: %d", len(rows))
	}
	p.Click("#device-secret-renew")
	p.Confirm()
	second := secret(first)
	if resp, _, _ := env.D.Get(first + "001565010203.cfg"); resp.StatusCode != 404 {
		t.Errorf("the old secret URL still serves: %d", resp.StatusCode)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, _, err := env.D.Get(second + "001565010203.cfg")
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new secret URL: %v %v", resp, err)
		}
	}

	// Delete, after confirming.
	p.Go("devices/" + dev.Items[0].ID)
	p.Click("#device-delete")
	p.Confirm()
	p.Reshown("devices")
	p.WaitGone(`#devices tr[data-mac="001565010203"]`)
	if rows := env.AuditRows(t, "object_type=device&action=delete&user="+u.Name); len(rows) != 1 {
		t.Errorf("audit rows of the delete: %d", len(rows))
	}
}
