package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
)

// The redirect verbs through a running daemon, against the Snom XML-RPC double.
func TestRedirectThroughDaemon(t *testing.T) {
	snom := redirecttest.NewSnom("acme", "snom-pass")
	defer snom.Close()
	d := newDaemon(t, "redirect:\n  backoff_min: 50ms\n  backoff_max: 200ms\n  timeout: 2s\n")
	d.start()
	base := snom.URL() + "/xmlrpc/"
	if out, e, code := d.cli("wrong\n", "redirect", "add", "--name", "bad", "--brand", "snom", "--api", "xmlrpc", "--base-url", base,
		"--username", "acme", "--secret-stdin"); code != 0 {
		t.Fatalf("redirect add: %d %s %s", code, out, e)
	}
	if out, _, code := d.cli("", "redirect", "test", "bad"); code != 1 || !strings.Contains(out, "bad credentials") {
		t.Fatalf("test with a wrong secret: exit %d %q", code, out)
	}
	if out, e, code := d.cli("snom-pass\n", "redirect", "set", "bad", "--name", "snom", "--secret-stdin"); code != 0 {
		t.Fatalf("redirect set: %d %s %s", code, out, e)
	}
	if out, _, code := d.cli("", "redirect", "test", "snom"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("test: exit %d %q", code, out)
	}
	if out, _, _ := d.cli("", "redirect", "list"); !strings.Contains(out, "snom") || strings.Contains(out, "snom-pass") {
		t.Fatalf("redirect list:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(d.dir, "data", "redirect.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if _, e, code := d.cli("x\n", "redirect", "add", "--name", "x", "--brand", "nokia", "--username", "u", "--secret-stdin"); code != 1 || !strings.Contains(e, "(--brand)") {
		t.Fatalf("bad add: exit %d %q", code, e)
	}

	var acc struct{ ID string }
	d.socketJSON("POST", "/api/v1/tenants/default/accounts", map[string]any{"extension": "501", "sip_password": "pw-501-Strong"}, &acc)
	d.socketJSON("POST", "/api/v1/tenants/default/devices", map[string]any{"mac": "00:04:13:05:01:01", "model": "snom-d785", "account": acc.ID}, nil)
	if out, e, code := d.cli("", "redirect", "assign", "000413050101", "snom"); code != 0 {
		t.Fatalf("assign: %d %s %s", code, out, e)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, _ := d.cli("", "redirect", "status")
		if strings.Contains(out, "000413050101") && strings.Contains(out, "true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never provisioned:\n%s\n%s", out, d.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u, ok := snom.Registered("000413050101"); !ok || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("double has %q %v", u, ok)
	}
	if _, e, code := d.cli("", "redirect", "delete", "snom"); code != 1 || !strings.Contains(e, "assigned") {
		t.Fatalf("deleting a server in use: exit %d %q", code, e)
	}
	if _, e, code := d.cli("", "redirect", "assign", "000413050101", ""); code != 0 {
		t.Fatalf("unassign: %s", e)
	}
	for deadline = time.Now().Add(10 * time.Second); snom.Devices() != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not deregistered after unassigning")
		}
	}
	for deadline = time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, _, code := d.cli("", "redirect", "delete", "snom"); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server not deletable after deregistration")
		}
	}
	if out, _, _ := d.cli("", "audit", "list", "--type", "redirect_server"); strings.Count(out, "cli:") != 3 {
		t.Errorf("server changes not audited:\n%s", out)
	}
	if strings.Contains(d.stderr.String(), "snom-pass") {
		t.Error("a secret was logged")
	}
}

// With redirect.enabled false the daemon serves as before: no redirect API.
func TestRedirectDisabled(t *testing.T) {
	d := newDaemon(t, "redirect:\n  enabled: false\n")
	d.start()
	if _, e, code := d.cli("", "redirect", "list"); code != 1 || !strings.Contains(e, "no such endpoint") {
		t.Fatalf("redirect list with redirect off: exit %d %q", code, e)
	}
	if _, err := os.Stat(filepath.Join(d.dir, "data", "redirect.key")); err == nil {
		t.Fatal("key file created with redirect off")
	}
	// Devices are still checked: a server that does not exist is refused.
	d.addAdmin("root", "root-password-1")
	tok := d.login("root", "root-password-1")
	code, out, _, err := d.request("POST", "/api/v1/tenants/default/devices", tok, map[string]any{"mac": "000413090909", "model": "snom-d785", "redirect_server": "nope"})
	if err != nil || code != 400 || out["field"] != "redirect_server" {
		t.Fatalf("device with an unknown redirect server: %d %v %v", code, out, err)
	}
}
