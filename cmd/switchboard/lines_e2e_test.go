package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLILinesAndKeys: an installer gives a phone three lines and keys with
// the CLI and the phone's file has them.
func TestCLILinesAndKeys(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	accounts := filepath.Join(d.dir, "accounts.csv")
	os.WriteFile(accounts, []byte("extension,sip_password,display_name\n601,Secret-601-x,Ann\n602,Secret-602-x,Bob\n603,Secret-603-x,Cy\n"), 0o600)
	for _, args := range [][]string{
		{"pbx", "set", "sip_server=192.0.2.44"},
		{"account", "import", accounts},
		{"device", "add", "--mac", "00:15:65:00:06:01", "--model", "yealink-t54w", "--account", "601"},
		{"device", "lines", "001565000601", "601", "602", "603"},
		{"device", "key", "001565000601", "--type", "blf", "--value", "602", "--label", "Bob"},
		{"device", "key", "001565000601", "--type", "park", "--value", "701", "--module", "1", "--index", "60"},
		{"device", "key", "001565000601", "--type", "speed_dial", "--value", "0612", "--index", "5"},
		{"device", "key-delete", "001565000601", "--index", "5"},
	} {
		if out, e, code := d.cli("", args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, e)
		}
	}
	if _, e, code := d.cli("", "device", "key", "001565000601", "--type", "blf", "--value", "1", "--module", "4"); code != 1 || !strings.Contains(e, "expansion module") {
		t.Errorf("a key on a fourth module: exit %d %q", code, e)
	}
	if _, e, code := d.cli("", "device", "lines", "001565000601", "699"); code != 1 || !strings.Contains(e, "699") {
		t.Errorf("an unknown extension: exit %d %q", code, e)
	}
	out, e, _ := d.cli("", "device", "show", "001565000601")
	for _, want := range []string{"line 2:", "602", "line 3:", "603", "blf", "Bob", "park", "701"} {
		if !strings.Contains(out, want) {
			t.Errorf("device show lacks %q:\n%s%s", want, out, e)
		}
	}
	if strings.Contains(out, "0612") {
		t.Errorf("the deleted key is still shown:\n%s", out)
	}
	out, _, _ = d.cli("", "device", "keys-export")
	if !strings.Contains(out, "00:15:65:00:06:01,1,60,park,701,,1") {
		t.Errorf("keys-export:\n%s", out)
	}
	// The file, under the device's secret URL (secure URLs are the default).
	resp, err := http.Get("http://" + d.plain + "/provisioning/" + d.secretDir("001565000601") + "001565000601.cfg")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"account.3.user_name = 603\n", "linekey.1.type = 16\n", "linekey.1.label = Bob\n",
		"linekey.2.type = 15\n", "linekey.3.line = 3\n", "expansion_module.1.key.60.type = 10\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %q", want)
		}
	}
}
