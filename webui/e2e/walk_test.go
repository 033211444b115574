package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// fixtures gives a tenant one of each object the pages list, so that every
// page shows rows, not only its empty state.
func fixtures(t *testing.T, env *webuitest.Env, tenant string) (accountID, deviceID string) {
	t.Helper()
	var acc, dev struct {
		ID string `json:"id"`
	}
	base := "/tenants/" + tenant
	if code, err := env.D.API("POST", base+"/accounts", env.Token, map[string]string{"extension": "201", "display_name": "Ada Lovelace", "sip_password": "Secret-201-pw"}, &acc); err != nil || code != 201 {
		t.Fatalf("account: %d %v", code, err)
	}
	if code, err := env.D.API("POST", base+"/devices", env.Token, map[string]any{"mac": "00:15:65:00:02:01", "model": "yealink-t46u", "account": acc.ID, "notes": "reception"}, &dev); err != nil || code != 201 {
		t.Fatalf("device: %d %v", code, err)
	}
	// Device files by name (secure URLs off) for the panels' fetches;
	// TestPBXPanel turns secret URLs on.
	if code, err := env.D.API("PATCH", base+"/pbx", env.Token, map[string]any{"sip_server": "192.0.2.10", "time_zone": "Europe/Rome", "secure_urls": false}, nil); err != nil || code != 200 {
		t.Fatalf("pbx: %d %v", code, err)
	}
	return acc.ID, dev.ID
}

// TestItalianEverywhere walks every page of every panel (and the pages each
// panel lists: new, edit, detail) in Italian, also after submitting each
// empty "new" form, and fails on any text that is not a whole message of the
// catalog or data, on a missing key and on a title or lang out of step.
func TestItalianEverywhere(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten)
	p, _ := env.Page(t, "it", "admin", ten)
	if lang := webuitest.Eval[string](p, `document.documentElement.lang`); lang != "it" {
		t.Fatalf("html lang = %q", lang)
	}
	routes := webuitest.Eval[[]string](p, `SB.routes()`)
	if len(routes) < 12 {
		t.Fatalf("only %d routes: %v", len(routes), routes)
	}
	for _, r := range routes {
		p.Go(r)
		for _, bad := range p.Untranslated() {
			t.Errorf("#/%s: %s", r, bad)
		}
		for _, bad := range p.Unlabelled() {
			t.Errorf("#/%s: a control without a label: %s", r, bad)
		}
		p.Shot(strings.ReplaceAll(r, "/", "_"))
		if strings.HasSuffix(r, "/new") {
			// The form's own validation messages.
			form := webuitest.Eval[string](p, `(() => { const f = document.querySelector("main form.form"); return f ? f.getAttribute("id") : ""; })()`)
			if form != "" {
				p.Submit("#" + form)
				p.WaitVisible("#" + form + " .form-msg .msg.error")
				for _, bad := range p.Untranslated() {
					t.Errorf("#/%s after an empty submit: %s", r, bad)
				}
			}
		}
	}
	// The login page too, and the language switch.
	p.Click("#logout")
	p.WaitVisible("#login")
	for _, bad := range p.Untranslated() {
		t.Errorf("login page: %s", bad)
	}
	p.Shot("login")
}

// TestHeaders: the console is served with a strict policy, and only its own
// files exist.
func TestHeaders(t *testing.T) {
	env := webuitest.Shared(t)
	resp, _, err := env.D.Get("/")
	if err != nil {
		t.Fatal(err)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("/: %d %v", resp.StatusCode, resp.Header)
	}
	for _, p := range []string{"/ui/app.js", "/ui/core/kit.js", "/ui/panels/devices.js"} {
		r, _, err := env.D.Get(p)
		if err != nil || r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: %v %v", p, r, err)
		}
	}
	for _, p := range []string{"/ui/../webui.go", "/ui/nope.js", "/admin", "/ui/"} {
		if r, _, err := env.D.Get(p); err != nil || r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %v %v", p, r, err)
		}
	}
}
