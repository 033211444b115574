package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestBootstrapEveryBuiltinTemplate: every built-in model's bootstrap file
// (its device file with the secrets blanked) renders, keeps its format, holds
// no SIP, admin, phone or provisioning password, writes no empty admin
// password (the phone keeps its own), polls every minute, and names the
// secret directory only in the variant of an open window.
func TestBootstrapEveryBuiltinTemplate(t *testing.T) {
	c := loadBuiltin(t)
	tmpls := map[string]Template{}
	for _, tp := range c.Templates {
		tmpls[tp.ID] = tp
	}
	p := DefaultPBXSettings()
	p.SIPServer, p.PhoneAdminPassword = pbx, "Adm1n&<Pass>"
	p.HTTPAuth, p.HTTPUser, p.HTTPPassword = "digest", "prov", "Pr0v-secret"
	now := time.Now()
	const tenantURL = "http://192.0.2.10/provisioning/"
	token := NewURLToken()
	vendors := map[string]bool{}
	for _, m := range c.Models {
		tp := tmpls[m.Template]
		what := m.ID + " (" + tp.ID + ")"
		vendors[tp.ID] = true
		d, accounts := sampleDevice(m)
		d.Tenant, d.URLToken, d.PhonePassword = "t", token, "Ph0ne-own"
		d.Enrollment.Until = now.Add(time.Hour)
		comp, err := Compile(tp.Body, KnownFor(ScopeDevice, nil))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		vars := sampleVars()
		for k, v := range pbxOnlyFrom(p) {
			vars[k] = v
		}
		vars["KPBX_PROVISIONING_URL"], vars["KPBX_PHONEBOOK_URL"] = tenantURL, tenantURL+"phonebook/"
		vars["KPBX_PROVISIONING_PASSWORD"] = p.HTTPPassword
		mac, _ := ParseMAC(d.MAC)
		deviceVars(vars, d, mac, m, p, accounts[d.Account], m.Brand)
		secureVars(vars, p, d)
		sc := deviceScope(comp, vars, d, m, p, accounts)
		full, err := comp.RenderScope(nil, sc, tp.Escape)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		secrets := deviceSecrets(d, p, accounts)
		if !leaks(full, secrets) {
			t.Fatalf("%s: the full file holds none of the secrets: the test proves nothing", what)
		}
		e, why := renderBootstrap(comp, tp, sc, d, secrets, tenantURL)
		if e == nil || e.closed == nil {
			t.Fatalf("%s: no bootstrap: %s", what, why)
		}
		open, handsOut := e.pick(d.Enrollment, now)
		if !handsOut || open == e.closed {
			t.Fatalf("%s: an open window hands nothing out", what)
		}
		if again, _ := e.pick(d.Enrollment, now); again != open {
			t.Errorf("%s: the open variant is made again at each request", what)
		}
		if f, handsOut := e.pick(d.Enrollment, now.Add(2*time.Hour)); handsOut || f != e.closed {
			t.Errorf("%s: an expired window still hands the URL out", what)
		}
		spec := vendorSpecs[tp.ID]
		for _, v := range []struct {
			name string
			body []byte
			url  string
		}{{"open", open.Body, DeviceDir(tenantURL, token)}, {"closed", e.closed.Body, tenantURL}} {
			w := what + " " + v.name
			body := string(v.body)
			for _, s := range secrets {
				if strings.Contains(body, s) || strings.Contains(body, xmlEscaped(s)) {
					t.Errorf("%s: carries the secret %q", w, s)
				}
			}
			if spec.admin != nil && strings.Contains(body, spec.admin("")) {
				t.Errorf("%s: writes an empty admin password (%q)", w, spec.admin(""))
			}
			if !strings.Contains(body, v.url) {
				t.Errorf("%s: does not point the phone at %s", w, v.url)
			}
			if v.name == "closed" && strings.Contains(body, token) {
				t.Errorf("%s: carries the token", w)
			}
			if !strings.Contains(body, "60") {
				t.Errorf("%s: no one-minute resync", w)
			}
			if tp.ContentType == "text/xml" || bytes.HasPrefix(bytes.TrimSpace(v.body), []byte("<")) {
				dec := xml.NewDecoder(bytes.NewReader(v.body))
				for {
					if _, err := dec.Token(); err != nil {
						if !errors.Is(err, io.EOF) {
							t.Errorf("%s: not XML: %v", w, err)
						}
						break
					}
				}
			} else if strings.HasPrefix(tp.ID, "yealink") {
				checkCfg(t, w, body)
			}
		}
	}
	if len(vendors) < 10 {
		t.Errorf("only %d built-in templates checked", len(vendors))
	}
}

// TestBootstrapLeakRefused: a template that writes a secret literally (a
// custom placeholder holding the SIP password) gets no bootstrap file.
func TestBootstrapLeakRefused(t *testing.T) {
	comp, err := Compile("x=%%ACCOUNT_EXTENSION%% y=literal-secret\n", KnownFor(ScopeDevice, nil))
	if err != nil {
		t.Fatal(err)
	}
	d := Device{ID: "d", URLToken: NewURLToken()}
	sc := &Scope{Vars: map[string]string{"ACCOUNT_EXTENSION": "201"}}
	if e, why := renderBootstrap(comp, Template{}, sc, d, []string{"literal-secret"}, "http://x/"); e != nil || why == "" {
		t.Errorf("leaking template: %+v %q", e, why)
	}
}

// enrollEnv is a secure tenant with the fixture's device and a template that
// shows what the phone is told.
func enrollEnv(t *testing.T, mode string) (*pvEnv, string) {
	e := pvStart(t, mode)
	if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", e.tmpl, json.RawMessage(
		`{"body":"pass=%%ACCOUNT_SIP_PASSWORD%%\nadmin=%%PHONE_ADMIN_PASSWORD%%\nurl=%%KPBX_PROVISIONING_URL%%\nresync=%%KPBX_RESYNC_SECONDS%%\n"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"secure_urls":true}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	prefix := ""
	if mode == ModeMulti {
		prefix = e.tenant + "/"
	}
	return e, prefix
}

// waitDevice polls the device until ok says its state is reached.
func (e *pvEnv) waitDevice(t *testing.T, id string, ok func(Device) bool) Device {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := e.s.Device(e.ctx, e.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		d = e.s.ViewDevices(e.tenant, []Device{d})[0].Device // with the hand-outs
		if ok(d) {
			e.sync(t)
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("device state not reached: %+v", d.Enrollment)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBootstrapEnrollment: a request by name gets the secret-free bootstrap
// file; it names the secret directory only while the enrollment window is
// open and the device unclaimed; the first fetch from the directory claims
// the device and closes the window; hand-outs and claims are recorded, a
// claim from another address flagged.
func TestBootstrapEnrollment(t *testing.T) {
	for _, mode := range []string{ModeSingle, ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e, prefix := enrollEnv(t, mode)
			plain := e.s.ProvisioningURL(e.tenant)
			dir := DeviceDir(plain, e.token)
			byName := func(want bool) Target {
				t.Helper()
				got, err := e.s.Resolve(prefix + strings.ToUpper(pvFile))
				if err != nil || got.File == nil || !got.Bootstrap || got.Enroll != want || got.Token {
					t.Fatalf("by name: %+v %v, want a bootstrap file (enroll %v)", got, err, want)
				}
				body := string(got.File.Body)
				if strings.Contains(body, "secret-201") || !strings.Contains(body, "pass=\n") || !strings.Contains(body, "admin=\n") || !strings.Contains(body, "resync=60\n") {
					t.Fatalf("bootstrap file is not secret-free:\n%s", body)
				}
				if url := map[bool]string{true: dir, false: plain}[want]; !strings.Contains(body, "url="+url+"\n") {
					t.Fatalf("bootstrap file:\n%s\nwant url=%s", body, url)
				}
				if !want && strings.Contains(body, e.token) {
					t.Fatalf("closed bootstrap carries the token:\n%s", body)
				}
				return got
			}
			// The fixture's device was made while the tenant served files by
			// name: no window.
			byName(false)
			d, _ := e.s.Device(e.ctx, e.tenant, e.device)
			if d.Enrollment.State(time.Now()) != EnrollClosed {
				t.Fatalf("state %+v", d.Enrollment)
			}
			// The installer opens the window (the tenant's 24 h).
			d, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, 0)
			if err != nil || time.Until(d.Enrollment.Until) < 23*time.Hour {
				t.Fatalf("enroll: %+v %v", d.Enrollment, err)
			}
			e.sync(t)
			got := byName(true)
			e.s.Served(got, "192.0.2.50")
			e.waitDevice(t, e.device, func(d Device) bool { return d.Enrollment.HandedTo == "192.0.2.50" })
			// The phone comes back by its directory: claimed.
			got, err = e.s.Resolve(prefix + e.token + "/" + pvFile)
			if err != nil || !got.Token || !strings.Contains(string(got.File.Body), "pass=secret-201\n") {
				t.Fatalf("by token: %+v %v", got, err)
			}
			e.s.Served(got, "192.0.2.50")
			d = e.waitDevice(t, e.device, func(d Device) bool { return !d.Enrollment.ClaimedAt.IsZero() })
			if d.Enrollment.ClaimedFrom != "192.0.2.50" || d.Enrollment.Mismatch || !d.Enrollment.Until.IsZero() || d.Enrollment.State(time.Now()) != EnrollClaimed {
				t.Errorf("claimed: %+v", d.Enrollment)
			}
			// Knowing the MAC no longer gives the directory.
			byName(false)
			// Further fetches by token record nothing more.
			got, _ = e.s.Resolve(prefix + e.token + "/" + pvFile)
			if got.event != 0 {
				t.Errorf("a claimed device's fetch is an event: %+v", got)
			}
			// Reopened: handed to one address, claimed from another: flagged.
			if _, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, time.Hour); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			e.s.Served(byName(true), "192.0.2.51")
			got, _ = e.s.Resolve(prefix + e.token + "/" + pvFile)
			e.s.Served(got, "198.51.100.7")
			d = e.waitDevice(t, e.device, func(d Device) bool { return !d.Enrollment.ClaimedAt.IsZero() })
			if !d.Enrollment.Mismatch || d.Enrollment.HandedTo != "192.0.2.51" || d.Enrollment.ClaimedFrom != "198.51.100.7" {
				t.Errorf("mismatch not flagged: %+v", d.Enrollment)
			}
			// Closing the window by hand; a window that runs out.
			if _, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, time.Hour); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			byName(true)
			if _, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, -1); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			byName(false)
			if _, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, err := e.s.Resolve(prefix + pvFile)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Enroll {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the window does not close")
				}
				time.Sleep(50 * time.Millisecond)
			}
			byName(false)
			// Bad windows.
			if _, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, 31*24*time.Hour); !isField(err, "window") {
				t.Errorf("too long a window: %v", err)
			}
			if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"enroll_window":-1}`)); !isField(err, "enroll_window") {
				t.Errorf("negative enroll_window: %v", err)
			}
			if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"enroll_window":0}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.Enroll(e.ctx, e.actor, e.tenant, e.device, 0); !isField(err, "window") {
				t.Errorf("enroll with the tenant's window 0: %v", err)
			}
			// A new device of the tenant (window 0) opens none; with the
			// default it does, and a new secret URL reopens it.
			nd, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00:15:65:00:00:78","model":"`+e.model+`","account":"`+e.account+`"}`))
			if err != nil || !nd.Enrollment.Until.IsZero() {
				t.Fatalf("new device, window 0: %+v %v", nd.Enrollment, err)
			}
			if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"enroll_window":3600}`)); err != nil {
				t.Fatal(err)
			}
			nd, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, nd.ID, json.RawMessage(`{"url_token":"","enrollment":{"claimed_at":"2020-01-01T00:00:00Z"}}`))
			if err != nil || nd.Enrollment.State(time.Now()) != EnrollOpen || time.Until(nd.Enrollment.Until) > time.Hour {
				t.Fatalf("new URL: %+v %v", nd.Enrollment, err)
			}
		})
	}
}

// TestBootstrapSecureOffAndAuth: with secure_urls off the device file is
// served by name as before (no bootstrap); with http_auth the bootstrap file
// asks for the tenant's credentials like the device file did.
func TestBootstrapSecureOffAndAuth(t *testing.T) {
	e, _ := enrollEnv(t, ModeSingle)
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"http_auth":"digest","http_user":"u","http_password":"Bootstrap-1"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	got, err := e.s.Resolve(pvFile)
	if err != nil || !got.Bootstrap || !got.Auth.Required() {
		t.Errorf("bootstrap with http_auth: %+v %v", got, err)
	}
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"secure_urls":false,"http_auth":"none"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	got, err = e.s.Resolve(pvFile)
	if err != nil || got.Bootstrap || !strings.Contains(string(got.File.Body), "secret-201") {
		t.Errorf("secure_urls off: %+v %v", got, err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	defer cancel()
	if _, err := e.s.Enroll(ctx, e.actor, e.tenant, e.device, time.Hour); !isField(err, "window") {
		t.Errorf("enroll with secure_urls off: %v", err)
	}
}
