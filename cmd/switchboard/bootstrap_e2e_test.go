package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBootstrapThroughDaemon: zero-touch for a phone sent to the tenant's
// plain URL by a foreign DHCP server (curl and tftp-hpa as the factory-reset
// phone, the CLI as the installer, against switchboard serve). A device
// created in a secure tenant is open for enrollment: its file asked for by
// MAC is the secret-free bootstrap file naming its secret directory; the
// phone's fetch from there claims the device (device show says so); then the
// MAC alone gives no secret URL, until device enroll opens a window again;
// device enroll --close closes it.
func TestBootstrapThroughDaemon(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	var tmpl, model struct{ ID string }
	d.socketJSON("POST", "/api/v1/templates", map[string]any{"name": "boot", "scope": "device",
		"body": "user=%%ACCOUNT_SIP_USERNAME%%\npass=%%ACCOUNT_SIP_PASSWORD%%\nadmin=%%PHONE_ADMIN_PASSWORD%%\nurl=%%KPBX_PROVISIONING_URL%%\nresync=%%KPBX_RESYNC_SECONDS%%\n"}, &tmpl)
	d.socketJSON("POST", "/api/v1/models", map[string]any{"name": "Boot", "brand": "acme", "template": tmpl.ID,
		"file": map[string]string{"prefix": "boot-", "mac_format": "AABBCCDDEEFF", "suffix": ".cfg"}}, &model)
	for _, args := range [][]string{{"pbx", "set", "sip_server=192.0.2.44"}, {"account", "add", "501", "--password", "Secret-501-pw"},
		{"device", "add", "--mac", "00:04:13:00:05:01", "--model", model.ID, "--account", "501"}} {
		if out, e, code := d.cli("", args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, e)
		}
	}
	get := func(path string) string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := http.Get("http://" + d.plain + "/provisioning/" + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %d %q", path, resp.StatusCode, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	rel := d.secretDir("00:04:13:00:05:01")
	dirURL := "/provisioning/" + rel // after the configured base URL
	const file = "boot-000413000501.cfg"
	// Created in a secure tenant: open for 24 h.
	boot := get(file)
	if strings.Contains(boot, "Secret-501-pw") || !strings.Contains(boot, "pass=\nadmin=\nurl=") || !strings.Contains(boot, dirURL+"\nresync=60\n") {
		t.Fatalf("bootstrap file by MAC:\n%s\nwant url=%s", boot, dirURL)
	}
	show := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, e, code := d.cli("", "device", "show", "00:04:13:00:05:01")
			if code == 0 && strings.Contains(out, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("device show: exit %d, want %q:\n%s%s", code, want, out, e)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	show("secret URL handed to 127.0.0.1")
	if full := get(rel + file); !strings.Contains(full, "pass=Secret-501-pw\n") {
		t.Fatalf("file under the secret URL:\n%s", full)
	}
	show("claimed at ")
	show("enroll_state:  claimed")
	noToken := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for strings.Contains(get(file), rel) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the bootstrap file still names the secret URL", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	noToken("claimed")
	// The installer re-enrolls the phone, then changes their mind.
	if out, e, code := d.cli("", "device", "enroll", "00:04:13:00:05:01", "--window", "2h"); code != 0 || !strings.Contains(out, "awaiting enrollment until") {
		t.Fatalf("device enroll: exit %d %s %s", code, out, e)
	}
	if b := get(file); !strings.Contains(b, dirURL+"\n") {
		t.Fatalf("re-enrolled, by MAC:\n%s", b)
	}
	if _, err := exec.LookPath("tftp"); err == nil {
		host, port, _ := net.SplitHostPort(d.tftp)
		local := filepath.Join(d.dir, "boot-tftp.cfg")
		if out, err := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", file, local).CombinedOutput(); err != nil {
			t.Fatalf("tftp by MAC: %v %s", err, out)
		}
		if b, _ := os.ReadFile(local); !strings.Contains(string(b), dirURL+"\n") || strings.Contains(string(b), "Secret-501-pw") {
			t.Errorf("TFTP bootstrap file: %q", b)
		}
	}
	if out, e, code := d.cli("", "device", "enroll", "00:04:13:00:05:01", "--close"); code != 0 || !strings.Contains(out, "closed") {
		t.Fatalf("device enroll --close: exit %d %s %s", code, out, e)
	}
	noToken("closed")
	for _, bad := range [][]string{{"device", "enroll", "00:04:13:00:05:01", "--window", "800h"}, {"device", "enroll", "00:04:13:00:05:01", "--close", "--window", "1h"}} {
		if _, e, code := d.cli("", bad...); code == 0 || !strings.Contains(e, "window") {
			t.Errorf("%v: exit %d %s", bad, code, e)
		}
	}
	if logs := d.stderr.String() + d.stdout.String(); strings.Contains(logs, strings.TrimSuffix(rel[len(rel)-33:], "/")) {
		t.Errorf("the secret URL reached the daemon's log")
	}
}
