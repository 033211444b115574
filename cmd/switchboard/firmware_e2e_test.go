package main

import (
	"bytes"
	"crypto/rand"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFirmwareThroughDaemon: an installer uploads a firmware image, makes it
// the target firmware of a built-in model with the CLI, and a phone that
// fetches its file (curl, through its secret URL) finds the firmware's URL
// in it; fetching that URL over HTTP (curl) and TFTP (tftp-hpa) gives the
// image's bytes back. Clearing the firmware takes the key out of the file.
func TestFirmwareThroughDaemon(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (CI installs it)")
	}
	d := newDaemon(t, "")
	d.start()
	image := make([]byte, 300<<10) // several TFTP blocks, binary
	rand.Read(image)
	imgPath := filepath.Join(d.dir, "T54W-96.86.0.70.rom")
	if err := os.WriteFile(imgPath, image, 0o600); err != nil {
		t.Fatal(err)
	}
	d.addAdmin("fw-admin", "Firmware-Admin-1")
	token := d.login("fw-admin", "Firmware-Admin-1")
	var tenants struct{ Items []struct{ ID string } }
	d.socketJSON("GET", "/api/v1/tenants", nil, &tenants)
	if len(tenants.Items) != 1 {
		t.Fatalf("tenants: %+v", tenants)
	}
	tenant := tenants.Items[0].ID
	for _, args := range [][]string{
		{"pbx", "set", "sip_server=192.0.2.44"},
		{"account", "add", "701", "--password", "Secret-701-x"},
		{"device", "add", "--mac", "00:15:65:00:07:01", "--model", "yealink-t54w", "--account", "701"},
	} {
		if out, e, code := d.cli("", args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, e)
		}
	}
	// A file that is not uploaded is refused, naming the field.
	if _, e, code := d.cli("", "catalog", "firmware", "yealink-t54w", "T54W-96.86.0.70.rom"); code != 1 || !strings.Contains(e, "firmware") {
		t.Fatalf("firmware not uploaded: exit %d %q", code, e)
	}
	// The upload: the admin API, as the console and scripts do it.
	up := exec.Command("curl", "-sS", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
		"-H", "Authorization: Bearer "+token, "--data-binary", "@"+imgPath,
		"https://"+d.https+"/api/v1/tenants/"+tenant+"/assets/T54W-96.86.0.70.rom")
	if out, err := up.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "20") {
		t.Fatalf("upload: %v %s", err, out)
	}
	out, e, code := d.cli("", "catalog", "firmware", "yealink-t54w", "T54W-96.86.0.70.rom")
	if code != 0 || !strings.Contains(out, "T54W-96.86.0.70.rom") || !strings.Contains(out, "1 use the model") {
		t.Fatalf("catalog firmware: exit %d %s %s", code, out, e)
	}
	if out, _, _ := d.cli("", "catalog", "models", "--tenant", tenant); !regexp.MustCompile(`yealink-t54w .*T54W-96\.86\.0\.70\.rom`).MatchString(out) {
		t.Errorf("catalog models --tenant does not show the firmware:\n%s", out)
	}
	rel := d.secretDir("001565000701")
	fileURL := "http://" + d.plain + "/provisioning/" + rel + "001565000701.cfg"
	curl := func(u string) []byte {
		t.Helper()
		b, err := exec.Command("curl", "-sS", "-f", u).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", u, err)
		}
		return b
	}
	keyRE := regexp.MustCompile(`(?m)^static\.firmware\.url = (\S+)$`)
	var fw string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := keyRE.FindSubmatch(curl(fileURL)); m != nil {
			fw = string(m[1])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no static.firmware.url in the device file:\n%s", curl(fileURL))
		}
	}
	// The URL is the device's secret directory (as device reveal gives it)
	// plus the file; the phone reaches the appliance at its own address,
	// the test at the listener's.
	u, err := url.Parse(fw)
	if err != nil || u.Path != "/provisioning/"+rel+"T54W-96.86.0.70.rom" {
		t.Fatalf("firmware URL %q: %v", fw, err)
	}
	if got := curl("http://" + d.plain + u.Path); !bytes.Equal(got, image) {
		t.Errorf("firmware over HTTP: %d bytes, want the %d uploaded", len(got), len(image))
	}
	if _, err := exec.LookPath("tftp"); err == nil {
		host, port, _ := net.SplitHostPort(d.tftp)
		local := filepath.Join(d.dir, "fetched.rom")
		if out, err := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", strings.TrimPrefix(u.Path, "/provisioning/"), local).CombinedOutput(); err != nil {
			t.Fatalf("tftp get %s: %v %s", u.Path, err, out)
		}
		if got, _ := os.ReadFile(local); !bytes.Equal(got, image) {
			t.Errorf("firmware over TFTP: %d bytes, want the %d uploaded", len(got), len(image))
		}
	} else {
		t.Log("tftp-hpa client not installed: TFTP fetch not exercised here (CI installs it)")
	}
	// In use, the file cannot be deleted; cleared, the key leaves the file.
	del := exec.Command("curl", "-sS", "-k", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
		"-H", "Authorization: Bearer "+token, "https://"+d.https+"/api/v1/tenants/"+tenant+"/assets/T54W-96.86.0.70.rom")
	if out, _ := del.CombinedOutput(); string(out) != "409" {
		t.Errorf("deleting the firmware in use: %s, want 409", out)
	}
	if out, e, code := d.cli("", "catalog", "firmware", "yealink-t54w", "--clear"); code != 0 || !strings.Contains(out, "none") {
		t.Fatalf("catalog firmware --clear: exit %d %s %s", code, out, e)
	}
	for deadline := time.Now().Add(10 * time.Second); keyRE.Match(curl(fileURL)); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("static.firmware.url still in the file after --clear")
		}
	}
}
