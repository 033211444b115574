package tftpd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
)

// TestTFTPSecureURLs (tftp-hpa, curl): with secure URLs a request naming the
// device file by MAC (any case) gets its bootstrap file and nothing secret; the device's token path gets the whole file, whatever the case of
// the MAC; the log masks the token.
func TestTFTPSecureURLs(t *testing.T) {
	tfNeed(t, "tftp", "curl")
	for _, mode := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := tfStart(t, mode, 1000)
			prefix := ""
			if mode == provision.ModeMulti {
				prefix = e.Tenant + "/"
			}
			dir := t.TempDir()
			// Secure URLs off (the fixture): the MAC in upper case finds the file.
			upper := prefix + strings.ToUpper(e.File)
			if out, code := e.hpa(t, upper, filepath.Join(dir, "upper")); code != 0 || !bytes.Equal(readFile(t, filepath.Join(dir, "upper")), e.Body) {
				t.Fatalf("tftp-hpa %s: exit %d: %s", upper, code, out)
			}
			e.Secure(t)
			for _, name := range []string{e.File, strings.ToUpper(e.File)} {
				// The bootstrap file: no secret, no secret URL (the
				// fixture's device opened no enrollment window).
				local := filepath.Join(dir, "mac-"+name)
				out, code := e.hpa(t, prefix+name, local)
				if b, _ := os.ReadFile(local); code != 0 || len(b) == 0 || bytes.Contains(b, []byte("prov-secret")) || bytes.Contains(b, []byte(e.Token)) {
					t.Errorf("tftp-hpa %s: exit %d %q:\n%s", name, code, out, b)
				}
				if out, code := e.curl(t, 512, prefix+name, local+"-curl"); code != 0 || !bytes.Equal(readFile(t, local+"-curl"), readFile(t, local)) {
					t.Errorf("curl tftp %s: exit %d %s", name, code, out)
				}
			}
			body := e.Lookup(t, e.File).Body
			if !bytes.Contains(body, []byte("prov-secret")) {
				t.Fatalf("file without the secret: %s", body)
			}
			for i, name := range []string{e.File, strings.ToUpper(e.File)} {
				p := prefix + e.Token + "/" + name
				local := filepath.Join(dir, "tok"+string(rune('a'+i)))
				if out, code := e.hpa(t, p, local); code != 0 || !bytes.Equal(readFile(t, local), body) {
					t.Errorf("tftp-hpa token path %s: exit %d %s", name, code, out)
				}
				if out, code := e.curl(t, 1024, p, local+"-curl"); code != 0 || !bytes.Equal(readFile(t, local+"-curl"), body) {
					t.Errorf("curl tftp token path %s: exit %d %s", name, code, out)
				}
			}
			if strings.Contains(e.Log.String(), e.Token) {
				t.Errorf("the token reached the log:\n%s", e.Log.String())
			}
			if e.Log.Count(`msg="tftp transfer"`, "file="+prefix+"********/"+e.File) == 0 {
				t.Errorf("transfer under the token not logged masked:\n%s", e.Log.String())
			}
			// With HTTP credentials on, the token path is still served over
			// TFTP (the token is the credential) and the name still is not.
			if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(`{"http_auth":"basic","http_user":"phones","http_password":"bootstrap-pw"}`)); err != nil {
				t.Fatal(err)
			}
			e.Sync(t)
			if out, code := e.hpa(t, prefix+e.Token+"/"+e.File, filepath.Join(dir, "auth")); code != 0 {
				t.Errorf("token path with http_auth on: exit %d %s", code, out)
			}
			if out, _ := e.hpa(t, prefix+e.File, filepath.Join(dir, "auth-mac")); !strings.Contains(out, "code 1") && !strings.Contains(out, "code 2") {
				t.Errorf("MAC path with http_auth on: %q", out)
			}
		})
	}
}

// TestTFTPBootstrapEnrollment (tftp-hpa as a factory-reset phone): TFTP
// follows HTTP's rule. With the window open the file asked for by MAC is the
// secret-free bootstrap file naming the secret directory; the fetch from the
// directory claims the device; then, and with the window closed, the file by
// MAC names no secret directory. With HTTP authentication on, TFTP serves no
// bootstrap file (HTTP would ask for credentials).
func TestTFTPBootstrapEnrollment(t *testing.T) {
	tfNeed(t, "tftp")
	e := tfStart(t, provision.ModeMulti, 1000)
	prefix := e.Tenant + "/"
	dir := t.TempDir()
	e.Secure(t)
	get := func(name, local string) []byte {
		t.Helper()
		out, code := e.hpa(t, name, filepath.Join(dir, local))
		b, _ := os.ReadFile(filepath.Join(dir, local))
		if code != 0 || len(b) == 0 {
			t.Fatalf("tftp-hpa %s: exit %d %s", name, code, out)
		}
		return b
	}
	secretDir := e.Prov.ProvisioningURL(e.Tenant) + e.Token + "/"
	if b := get(prefix+e.File, "closed"); bytes.Contains(b, []byte(e.Token)) || bytes.Contains(b, []byte("prov-secret")) {
		t.Fatalf("no window, by MAC:\n%s", b)
	}
	e.Enroll(t, time.Hour)
	b := get(prefix+strings.ToUpper(e.File), "open")
	if !bytes.Contains(b, []byte("static.auto_provision.server.url = "+secretDir+"\n")) || bytes.Contains(b, []byte("prov-secret")) {
		t.Fatalf("open window, by MAC:\n%s", b)
	}
	e.WaitEnrollment(t, e.Device, func(en provision.Enrollment) bool { return en.HandedTo == "127.0.0.1" })
	if full := get(prefix+e.Token+"/"+e.File, "full"); !bytes.Equal(full, e.Body) {
		t.Fatalf("secret directory:\n%s", full)
	}
	en := e.WaitEnrollment(t, e.Device, func(en provision.Enrollment) bool { return !en.ClaimedAt.IsZero() })
	if en.ClaimedFrom != "127.0.0.1" || en.Mismatch {
		t.Errorf("claim: %+v", en)
	}
	if b := get(prefix+e.File, "claimed"); bytes.Contains(b, []byte(e.Token)) || bytes.Contains(b, []byte("prov-secret")) {
		t.Fatalf("claimed, by MAC:\n%s", b)
	}
	if strings.Contains(e.Log.String(), e.Token) {
		t.Errorf("the token reached the log:\n%s", e.Log.String())
	}
	if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(`{"http_auth":"basic","http_user":"phones","http_password":"bootstrap-pw"}`)); err != nil {
		t.Fatal(err)
	}
	e.Enroll(t, time.Hour)
	if out, _ := e.hpa(t, prefix+e.File, filepath.Join(dir, "auth")); !strings.Contains(out, "code 2") {
		t.Errorf("bootstrap with http_auth on: %q, want access violation", out)
	}
}
