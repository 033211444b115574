package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewcomerFrictions drives, through the real CLI and API, the fixes of
// what a new installer hit: --tenant asked for when it is ambiguous, tenant
// names in API paths, an error naming what was not found, CLI words in errors
// with a suggestion, sorted lists, "pbx set" saying when nothing changed, the
// devices named when an account in use is deleted, ';' CSV with a BOM, and the
// edit verbs.
func TestNewcomerFrictions(t *testing.T) {
	d := newDaemon(t, "tenancy:\n  mode: multi\n")
	d.start()
	d.addAdmin("root", "R00t-Passw0rd-xyz")
	tok := d.login("root", "R00t-Passw0rd-xyz")
	run := func(stdin string, wantCode int, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := d.cli(stdin, args...)
		if code != wantCode {
			t.Fatalf("switchboard %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out, errOut
	}
	run("", 0, "tenant", "add", "acme")
	// Two tenants (default and acme): a verb without --tenant asks.
	_, errOut := run("", 2, "device", "list")
	if !strings.Contains(errOut, "this box has 2 tenants (acme, default): name one with --tenant NAME") {
		t.Errorf("device list without --tenant: %q", errOut)
	}

	// ';' CSV with a BOM, as Italian Excel writes it, into a tenant named by name.
	csv := filepath.Join(t.TempDir(), "accounts.csv")
	os.WriteFile(csv, []byte("\ufeffextension;sip_password;display_name\r\n1001;Str0ng-Pw-1001;Mille\r\n203;Str0ng-Pw-0203;Rossi\r\n201;Str0ng-Pw-0201;Bianchi\r\n"), 0o600)
	out, _ := run("", 0, "account", "import", csv, "--tenant", "acme")
	if !strings.Contains(out, "3 created") {
		t.Errorf("import: %q", out)
	}
	run("Str0ng-Pw-0202\n", 0, "account", "add", "202", "--password-stdin", "--display-name", "Verdi", "--tenant", "acme")
	out, _ = run("", 0, "account", "list", "--tenant", "acme")
	if idx := []int{strings.Index(out, "\n201 "), strings.Index(out, "\n202 "), strings.Index(out, "\n203 "), strings.Index(out, "\n1001 ")}; !(idx[0] > 0 && idx[0] < idx[1] && idx[1] < idx[2] && idx[2] < idx[3]) {
		t.Errorf("accounts not sorted by extension:\n%s", out)
	}

	// A model typo: CLI words and a suggestion.
	_, errOut = run("", 1, "device", "add", "--mac", "001565000301", "--model", "yealink-t46", "--account", "201", "--tenant", "acme")
	if !strings.Contains(errOut, `did you mean "yealink-t46`) /* t46s or t46u: both one letter away */ || !strings.Contains(errOut, "see: switchboard catalog models") || !strings.Contains(errOut, "(--model)") || strings.Contains(errOut, "/api/v1") {
		t.Errorf("model typo: %q", errOut)
	}
	for _, mac := range []string{"001565000302", "000413000303", "001565000301"} {
		run("", 0, "device", "add", "--mac", mac, "--model", "yealink-t46u", "--account", "201", "--tenant", "acme")
	}
	out, _ = run("", 0, "device", "list", "--tenant", "acme")
	if a, b, c := strings.Index(out, "000413000303"), strings.Index(out, "001565000301"), strings.Index(out, "001565000302"); !(a > 0 && a < b && b < c) {
		t.Errorf("devices not sorted by MAC:\n%s", out)
	}
	// Edit verbs.
	run("", 0, "device", "set", "001565000302", "--account", "202", "--notes", "reception", "--tenant", "acme")
	out, _ = run("", 0, "device", "show", "00:15:65:00:03:02", "--tenant", "acme")
	if !strings.Contains(out, "notes:") || !strings.Contains(out, "reception") {
		t.Errorf("device show: %s", out)
	}
	// --set KEY=VALUE: a port goes as a number (the API refuses a string), a
	// word without "=" is a usage error that changes nothing.
	run("", 0, "device", "set", "001565000302", "--set", "remote_port=5062", "--set", "notes=desk 2", "--tenant", "acme")
	_, errOut = run("", 2, "device", "set", "001565000302", "--set", "remote_port", "--tenant", "acme")
	if !strings.Contains(errOut, `--set "remote_port": want KEY=VALUE`) {
		t.Errorf("device set --set without =: %q", errOut)
	}
	// A value the daemon refuses names the key as it was given.
	_, errOut = run("", 1, "device", "set", "001565000302", "--set", "remote_port=99999", "--tenant", "acme")
	if !strings.Contains(errOut, "(--set remote_port=)") {
		t.Errorf("device set --set with a bad port: %q", errOut)
	}
	out, _ = run("", 0, "device", "show", "001565000302", "--tenant", "acme", "--json")
	if !strings.Contains(out, `"remote_port":5062`) && !strings.Contains(out, `"remote_port": 5062`) || !strings.Contains(out, "desk 2") {
		t.Errorf("device show after --set: %s", out)
	}
	run("", 0, "account", "set", "203", "--display-name", "Rossi Mario", "--tenant", "acme")
	out, _ = run("", 0, "account", "show", "203", "--tenant", "acme")
	if !strings.Contains(out, "Rossi Mario") || !strings.Contains(out, "sip_password:  ********") && !strings.Contains(out, "********") {
		t.Errorf("account show: %s", out)
	}
	// An account in use: the error names the devices.
	_, errOut = run("", 1, "account", "delete", "201", "--tenant", "acme")
	if !strings.Contains(errOut, "000413000303, 001565000301") {
		t.Errorf("delete in-use account: %q", errOut)
	}
	run("", 0, "account", "delete", "1001", "--tenant", "acme")

	// pbx set takes KEY=VALUE words the same way.
	_, errOut = run("", 2, "pbx", "set", "time_zone", "--tenant", "acme")
	if !strings.Contains(errOut, `pbx set: "time_zone" is not KEY=VALUE`) {
		t.Errorf("pbx set without =: %q", errOut)
	}
	// pbx set with the current values says so.
	run("", 0, "pbx", "set", "time_zone=Europe/Rome", "--tenant", "acme")
	out, _ = run("", 0, "pbx", "set", "time_zone=Europe/Rome", "--tenant", "acme")
	if !strings.Contains(out, "unchanged") {
		t.Errorf("pbx set unchanged: %q", out)
	}

	// The API takes tenant names, and says which tenant it could not find.
	code, body, _, err := d.request("GET", "/api/v1/tenants/acme/accounts", tok, nil)
	if err != nil || code != 200 || len(body["items"].([]any)) != 3 {
		t.Errorf("GET by name: %d %v %v", code, body, err)
	}
	code, body, _, _ = d.request("GET", "/api/v1/tenants/nosuch/placeholders", tok, nil)
	if code != 404 || body["error"] != `no tenant with id or name "nosuch"` {
		t.Errorf("unknown tenant: %d %v", code, body)
	}
}

// TestFeatureOffSaysSo: "ha status" and "cti dump" on a box with HA and the
// CTI off say what is off and how to turn it on, not "no such endpoint".
func TestFeatureOffSaysSo(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ha", "status"}, "HA is off on this node (ha.state: disabled)"},
		{[]string{"cti", "dump"}, "the CTI server is off (set cti.enabled: true"},
		{[]string{"dhcp", "leases"}, "DHCP server is not enabled"},
	} {
		_, errOut, code := d.cli("", c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "no such endpoint") {
			t.Errorf("%v: exit %d %q", c.args, code, errOut)
		}
	}
}
