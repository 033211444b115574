package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestPBXPanel: the tenant's PBX settings edited (what phones get changes), a
// bad host refused by the form, HTTP authentication switched on and the
// unauthenticated fetch then refused; the audit row names the changed fields.
func TestPBXPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten)
	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("pbx")
	p.WaitVisible("#pbx-form")
	if s := p.Text("#prov-url"); !strings.Contains(s, "/provisioning/"+ten+"/") {
		t.Errorf("provisioning URL: %q", s)
	}
	p.Fill("#pbx-form", "sip_server", "bad host!")
	p.Submit("#pbx-form")
	if msg := p.FieldError("#pbx-form", "sip_server"); !strings.Contains(msg, "IP address or host name") {
		t.Errorf("bad host: %q", msg)
	}
	p.Fill("#pbx-form", "sip_server", "pbx.example.com")
	p.Fill("#pbx-form", "time_zone", "America/New_York")
	p.Fill("#pbx-form", "language", "de")
	p.Fill("#pbx-form", "resync_seconds", "7200")
	if s := p.Text("#resync-human"); s != "Every 2 hours." {
		t.Errorf("re-check in words: %q", s)
	}
	p.Fill("#pbx-form", "http_auth", "digest")
	p.WaitVisible("#pbx-form [name=http_user]")
	p.Fill("#pbx-form", "http_user", "prov")
	p.Fill("#pbx-form", "http_password", "Prov-Secret-99")
	p.Shot("filled")
	p.Submit("#pbx-form")
	p.Reshown("pbx")
	p.WaitVisible(".msg.ok")
	if v := webuitest.Eval[string](p, `document.querySelector("#pbx-form [name=sip_server]").value`); v != "pbx.example.com" {
		t.Errorf("after saving: %q", v)
	}
	// Phones now need the credentials.
	if resp, _, err := env.D.Get("/provisioning/" + ten + "/001565000201.cfg"); err != nil || resp.StatusCode != 401 {
		t.Errorf("unauthenticated fetch after http_auth=digest: %v %v", resp, err)
	}
	rows := env.AuditRows(t, "object_type=pbx&user="+u.Name)
	if len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), "America/New_York") {
		t.Fatalf("audit: %v", rows)
	}
	if asJSON(rows[0]["after"]) == "" || strings.Contains(asJSON(rows[0]["after"]), "Prov-Secret-99") {
		t.Errorf("the HTTP password is in the audit row as shown: %v", rows[0]["after"])
	}
	// Secret URLs on: the device file by name is no longer served (behind
	// the tenant's HTTP credentials, the secret-free bootstrap file is).
	if s := p.Text("#auth-note"); !strings.Contains(s, "turn secret URLs on") {
		t.Errorf("note without secret URLs: %q", s)
	}
	p.Fill("#pbx-form", "secure_urls", "true")
	if s := p.Text("#auth-note"); strings.Contains(s, "turn secret URLs on") {
		t.Errorf("note with secret URLs: %q", s)
	}
	p.Submit("#pbx-form")
	p.Reshown("pbx")
	p.WaitVisible(".msg.ok")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// curl: the phone that knows the tenant's credentials but not its token.
		body, err := exec.Command("curl", "-sSk", "--digest", "-u", "prov:Prov-Secret-99", "https://"+env.D.HTTPS+"/provisioning/"+ten+"/001565000201.cfg").Output()
		if err == nil && strings.Contains(string(body), "account.1.password = \n") && !strings.Contains(string(body), "Secret-201-pw") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch by name with secret URLs: %v %s", err, body)
		}
	}
}

// TestFilesPanel: a firmware file uploaded, replaced and deleted in the file
// manager (served as uploaded in between), a bad name refused; the generated
// files searched and shown; audit rows.
func TestFilesPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten)
	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("files")
	p.Type("#file-search input", "000201")
	p.Reshown("files?q=000201")
	p.Click(`#files tr[data-name="001565000201.cfg"]`)
	p.WaitVisible("#file-view pre")
	if s := p.Text("#file-view pre"); !strings.Contains(s, "Ada Lovelace") {
		t.Errorf("generated file: %q", s)
	}
	p.Shot("generated")

	dir := t.TempDir()
	fw := filepath.Join(dir, "T46U-108.86.rom")
	os.WriteFile(fw, []byte("firmware v1"), 0o644)
	p.Go("files/assets")
	p.Run("choose the file", cdp.SetUploadFiles(cdp.CSS("#asset-file"), []string{fw}))
	p.Fill("#asset-upload", "name", "fw/T46U.rom")
	p.Submit("#asset-upload")
	p.WaitVisible("#asset-name[aria-invalid=true]")
	if s := p.Text("main .msg.error"); !strings.Contains(s, "contains") {
		t.Errorf("bad name: %q", s)
	}
	p.Fill("#asset-upload", "name", "T46U.rom")
	p.Submit("#asset-upload")
	p.Reshown("files/assets")
	p.WaitVisible(`#assets tr[data-name="T46U.rom"]`)
	if resp, body, err := env.D.Get("/provisioning/" + ten + "/T46U.rom"); err != nil || resp.StatusCode != 200 || string(body) != "firmware v1" {
		t.Errorf("uploaded file served: %v %q %v", resp, body, err)
	}
	// The same name again replaces it.
	os.WriteFile(fw, []byte("firmware v2, longer"), 0o644)
	p.Run("choose the file", cdp.SetUploadFiles(cdp.CSS("#asset-file"), []string{fw}))
	p.Fill("#asset-upload", "name", "T46U.rom")
	p.Submit("#asset-upload")
	p.Reshown("files/assets")
	p.Poll("replaced", `document.querySelector('#assets tr[data-name="T46U.rom"]').textContent.includes("19 bytes")`)
	if _, body, _ := env.D.Get("/provisioning/" + ten + "/T46U.rom"); string(body) != "firmware v2, longer" {
		t.Errorf("replaced file served: %q", body)
	}
	p.Shot("assets")
	p.Click(`#assets button[data-delete="T46U.rom"]`)
	p.Confirm()
	p.Reshown("files/assets")
	p.WaitGone(`#assets tr[data-name="T46U.rom"]`)
	if resp, _, _ := env.D.Get("/provisioning/" + ten + "/T46U.rom"); resp.StatusCode != 404 {
		t.Errorf("deleted file still served: %d", resp.StatusCode)
	}
	for _, a := range []string{"create", "update", "delete"} {
		if rows := env.AuditRows(t, "object_type=asset&action="+a+"&user="+u.Name); len(rows) != 1 {
			t.Errorf("%s audit: %d rows", a, len(rows))
		}
	}
}
