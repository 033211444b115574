package provision

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

// TestSecureURLs: with secure_urls on, a device file is served under its own
// token only; the token directory serves the tenant's other files but not
// another device's; the file points the phone back at its token directory;
// a new token retires the old one; the token is masked for readers.
func TestSecureURLs(t *testing.T) {
	for _, mode := range []string{ModeSingle, ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := pvStart(t, mode)
			if !isURLToken(e.token) {
				t.Fatalf("device token %q", e.token)
			}
			prefix := ""
			if mode == ModeMulti {
				prefix = e.tenant + "/"
			}
			// A template that shows where the phone is told to come back.
			if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", e.tmpl, json.RawMessage(
				`{"body":"pass=%%ACCOUNT_SIP_PASSWORD%%\nurl=%%KPBX_PROVISIONING_URL%%\npb=%%KPBX_PHONEBOOK_URL%%\n"}`)); err != nil {
				t.Fatal(err)
			}
			_, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00:15:65:00:00:77","model":"`+e.model+`","account":"`+e.account+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			// Off (the fixture): by name as before, and by token too.
			if got, err := e.s.Resolve(prefix + pvFile); err != nil || got.File == nil {
				t.Fatalf("secure_urls off, by name: %+v %v", got, err)
			}
			if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"secure_urls":true,"http_auth":"basic","http_user":"u","http_password":"Bootstrap-1"}`)); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			// By name: the secret-free bootstrap file (enroll_test.go), never
			// the device file.
			for _, name := range []string{pvFile, strings.ToUpper(pvFile), "001565000077.cfg"} {
				got, err := e.s.Resolve(prefix + name)
				if err != nil || got.File == nil || !got.Bootstrap || got.MAC != "" || bytes.Contains(got.File.Body, []byte("secret-201")) {
					t.Errorf("by name %s: %+v %v, want the bootstrap file", name, got, err)
				}
			}
			// Files without secrets and assets are still served by name.
			if got, err := e.s.Resolve(prefix + pvAsset); err != nil || got.Asset == nil {
				t.Errorf("asset by name: %+v %v", got, err)
			}
			dir := prefix + e.token + "/"
			got, err := e.s.Resolve(dir + strings.ToUpper(pvFile))
			if err != nil || got.File == nil || !got.Token || got.Auth.Required() || got.Tenant != e.tenant || got.Name != strings.ToUpper(pvFile) {
				t.Fatalf("by token: %+v %v", got, err)
			}
			wantURL := e.s.ProvisioningURL(e.tenant) + e.token + "/"
			if body := string(got.File.Body); !strings.Contains(body, "pass=secret-201\n") || !strings.Contains(body, "url="+wantURL+"\n") ||
				!strings.Contains(body, "pb="+wantURL+"phonebook/\n") {
				t.Errorf("file by token:\n%s\nwant url %s", body, wantURL)
			}
			if got, err := e.s.Resolve(dir + pvAsset); err != nil || got.Asset == nil {
				t.Errorf("asset by token: %+v %v", got, err)
			}
			// Another device's file, an unknown token, a token of another
			// shape: nothing.
			for _, p := range []string{dir + "001565000077.cfg", prefix + NewURLToken() + "/" + pvFile, prefix + strings.ToUpper(e.token) + "/" + pvFile,
				dir + "nothing.cfg", dir + "001565abcdef.cfg"} {
				got, err := e.s.Resolve(p)
				if err == nil || got.File != nil || got.Asset != nil || got.MAC != "" {
					t.Errorf("Resolve(%s): %+v %v, want nothing", p, got, err)
				}
			}
			// Another tenant's token does not open this tenant.
			if mode == ModeMulti {
				ten2, err := e.s.CreateTenant(e.ctx, e.actor, TenantInput{Name: ptr("t2")})
				if err != nil {
					t.Fatal(err)
				}
				e.sync(t)
				if got, err := e.s.Resolve(ten2.ID + "/" + e.token + "/" + pvFile); err == nil || got.File != nil {
					t.Errorf("token under another tenant: %+v %v", got, err)
				}
			}
			// Readers see the token masked; the reveal gives the URL.
			d, err := e.s.Device(e.ctx, e.tenant, e.device)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(d)
			if m := string(e.st.Redact(KindDevice, raw)); strings.Contains(m, e.token) {
				t.Errorf("redacted device shows the token: %s", m)
			}
			f, _ := e.s.Lookup(e.tenant, pvFile)
			masked, err := e.s.MaskedBody(e.ctx, f)
			if err != nil || strings.Contains(string(masked), e.token) || strings.Contains(string(masked), "secret-201") {
				t.Errorf("masked body: %s %v", masked, err)
			}
			if _, u, err := e.s.RevealDevice(e.ctx, e.actor, e.tenant, e.device); err != nil || u != wantURL {
				t.Errorf("reveal: %q %v, want %s", u, err, wantURL)
			}
			// The token cannot be chosen; sending it back masked keeps it; ""
			// issues a new one and the old URL stops working.
			if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"url_token":"00000000000000000000000000000000"}`)); !isField(err, "url_token") {
				t.Errorf("chosen token: %v", err)
			}
			if d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"url_token":"`+store.Mask+`","notes":"x"}`)); err != nil || d.URLToken != e.token {
				t.Errorf("masked token sent back: %q %v", d.URLToken, err)
			}
			d, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"url_token":""}`))
			if err != nil || !isURLToken(d.URLToken) || d.URLToken == e.token {
				t.Fatalf("new token: %q %v", d.URLToken, err)
			}
			e.sync(t)
			if _, err := e.s.Resolve(dir + pvFile); err == nil {
				t.Errorf("the old token still works")
			}
			if got, err := e.s.Resolve(prefix + d.URLToken + "/" + pvFile); err != nil || got.File == nil {
				t.Errorf("the new token: %+v %v", got, err)
			}
			refs := e.s.FindMAC("001565123456")
			if len(refs) != 1 || refs[0].Token != d.URLToken {
				t.Errorf("FindMAC: %+v", refs)
			}
		})
	}
}

// TestTokensForOldDevices: devices stored before secret URLs get a token at
// start-up (an audited change); tenants from before keep serving by name, new
// tenants have secure URLs on.
func TestTokensForOldDevices(t *testing.T) {
	e := pvStart(t, ModeMulti)
	if _, err := e.st.Update(e.ctx, e.actor, func(tx *store.Tx) error {
		var d Device
		if err := getIn(tx, KindDevice, e.tenant, e.device, &d); err != nil {
			return err
		}
		d.URLToken = ""
		return tx.Replace(KindDevice, e.tenant, d.ID, d, "as before secret URLs")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.EnsureDefaultTenant(e.ctx); err != nil {
		t.Fatal(err)
	}
	d, err := e.s.Device(e.ctx, e.tenant, e.device)
	if err != nil || !isURLToken(d.URLToken) {
		t.Fatalf("old device after start-up: %q %v", d.URLToken, err)
	}
	// Settings stored by a version without secret URLs (no secure_urls) keep
	// serving by name; so does an old tenant without stored settings.
	if _, err := e.st.Update(e.ctx, e.actor, func(tx *store.Tx) error {
		var raw map[string]any
		if _, err := tx.Get(KindPBX, e.tenant, &raw); err != nil {
			return err
		}
		raw["secure_urls"] = true
		delete(raw, "secure_urls")
		return tx.Replace(KindPBX, e.tenant, e.tenant, raw, "as an older version stored them")
	}); err != nil {
		t.Fatal(err)
	}
	if p, err := e.s.PBX(e.ctx, e.tenant); err != nil || p.SecureURLs {
		t.Errorf("old stored settings: secure_urls %v %v", p.SecureURLs, err)
	}
	old := Tenant{ID: "6f1c2a5e-0000-4000-8000-000000000001", Name: "old", Enabled: true}
	if _, err := e.st.Update(e.ctx, e.actor, func(tx *store.Tx) error {
		return tx.Create(KindTenant, old.ID, old.ID, old, "as an older version created it")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.EnsureDefaultTenant(e.ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := e.s.PBX(e.ctx, old.ID); err != nil || p.SecureURLs || p.PhoneAdminPassword == "" {
		t.Errorf("old tenant after start-up: secure_urls %v, admin password set %v, %v", p.SecureURLs, p.PhoneAdminPassword != "", err)
	}
	ten, err := e.s.CreateTenant(e.ctx, e.actor, TenantInput{Name: ptr("new")})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := e.s.PBX(e.ctx, ten.ID); err != nil || !p.SecureURLs {
		t.Errorf("new tenant: secure_urls %v %v", p.SecureURLs, err)
	}
}

func TestLogPath(t *testing.T) {
	tok := NewURLToken()
	for in, want := range map[string]string{
		"t/" + tok + "/001565123456.cfg": "t/********/001565123456.cfg",
		tok + "/a.cfg":                   "********/a.cfg",
		"001565123456.cfg":               "001565123456.cfg",
		"a\nb":                           "a?b",
	} {
		if got := LogPath(in); got != want {
			t.Errorf("LogPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func isField(err error, field string) bool {
	var ve *store.ValidationError
	return errors.As(err, &ve) && ve.Field == field
}

func ptr[T any](v T) *T { return &v }
