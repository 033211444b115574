package tftpd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/provision"
)

// TestTFTPSecureURLs (tftp-hpa, curl): with secure URLs a request naming the
// device file by MAC (any case) gets "file not found" and nothing of the
// file; the device's token path gets the whole file, whatever the case of
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
				local := filepath.Join(dir, "mac-"+name)
				out, _ := e.hpa(t, prefix+name, local)
				if !strings.Contains(out, "code 1") {
					t.Errorf("tftp-hpa %s: %q, want file not found", name, out)
				}
				if b, _ := os.ReadFile(local); bytes.Contains(b, []byte("prov-secret")) {
					t.Errorf("tftp-hpa %s got the secret", name)
				}
				if out, code := e.curl(t, 512, prefix+name, local+"-curl"); code == 0 {
					t.Errorf("curl tftp %s succeeded: %s", name, out)
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
