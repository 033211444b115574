package e2e

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestDeviceEnrollment (Chromium, and the daemon's HTTPS provisioning as the
// factory-reset phone): the device page shows the enrollment state (a device
// created in a secure tenant awaits enrollment); "Close the window" closes it
// (the file asked for by MAC names no secret URL) and is then no longer
// offered; "Allow enrollment" opens it, and then the file asked for by MAC is
// the secret-free bootstrap file naming the secret URL; the phone's fetch from
// there shows as "claimed ... from 127.0.0.1" and the file by MAC names no
// secret URL any more. The same page in Italian.
func TestDeviceEnrollment(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	_, devID := fixtures(t, env, ten) // secure URLs off: the device opened no window
	base := "/tenants/" + ten
	if code, err := env.D.API("PATCH", base+"/pbx", env.Token, map[string]any{"secure_urls": true}, nil); err != nil || code != 200 {
		t.Fatalf("pbx: %d %v", code, err)
	}
	var rev struct {
		URL string `json:"provisioning_url"`
	}
	if code, err := env.D.API("POST", base+"/devices/"+devID+"/reveal", env.Token, nil, &rev); err != nil || code != 200 {
		t.Fatalf("reveal: %d %v", code, err)
	}
	_, secretDir, _ := strings.Cut(rev.URL, "/provisioning/")
	tenantDir, token, _ := strings.Cut(strings.TrimSuffix(secretDir, "/"), "/")
	const file = "001565000201.cfg"
	byMAC := func() string {
		t.Helper()
		resp, body, err := env.D.Get("/provisioning/" + tenantDir + "/" + file)
		if err != nil || resp.StatusCode != 200 || strings.Contains(string(body), "Secret-201-pw") {
			t.Fatalf("by MAC: %v %v %s", resp, err, body)
		}
		return string(body)
	}
	state := func(p *webuitest.Page, want string) {
		t.Helper()
		p.Poll("enrollment state "+want, `(() => { const e = document.querySelector("#device-enroll-state"); return !!e && e.dataset.state === "`+want+`"; })()`)
	}

	p, _ := env.Page(t, "en", "admin", ten)
	p.Go("devices/" + devID)
	// Created in a new tenant (secure URLs on): awaiting enrollment.
	state(p, "open")
	p.Click("#device-enroll-close")
	state(p, "closed")
	if p.Count("#device-enroll-close") != 0 {
		t.Errorf("\"Close the window\" offered with no window open")
	}
	if b := byMAC(); strings.Contains(b, token) {
		t.Fatalf("no window, by MAC: the token:\n%s", b)
	}
	p.Click("#device-enroll-open")
	state(p, "open")
	if s := p.Text("#device-enroll-state"); !strings.Contains(s, "awaiting enrollment") {
		t.Errorf("open state: %q", s)
	}
	p.Shot("enroll-open")
	if b := byMAC(); !strings.Contains(b, "static.auto_provision.server.url = "+rev.URL+"\n") {
		t.Fatalf("open window, by MAC: no secret URL %s:\n%s", rev.URL, b)
	}
	// The phone follows it: claimed.
	resp, body, err := env.D.Get("/provisioning/" + secretDir + file)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "Secret-201-pw") {
		t.Fatalf("secret URL: %v %v", resp, err)
	}
	waitFor(t, "the claim", func() bool {
		p.Go("devices/" + devID)
		p.WaitVisible("#device-enroll-state")
		return webuitest.Eval[string](p, `document.querySelector("#device-enroll-state").dataset.state`) == "claimed"
	})
	if s := p.Text("#device-enroll-state"); !strings.Contains(s, "claimed") || !strings.Contains(s, "from 127.0.0.1") {
		t.Errorf("claimed state: %q", s)
	}
	p.Shot("enroll-claimed")
	waitFor(t, "the bootstrap file without the token", func() bool { return !strings.Contains(byMAC(), token) })
	if rows := env.AuditRows(t, "object_type=device&object_id="+devID); !strings.Contains(asJSON(rows), "claimed its secret URL from 127.0.0.1") ||
		!strings.Contains(asJSON(rows), "enrollment window opened") {
		t.Errorf("audit rows: %s", asJSON(rows))
	}

	it, _ := env.Page(t, "it", "admin", ten)
	it.Go("devices/" + devID)
	state(it, "claimed")
	if s := it.Text("#device-state"); !strings.Contains(s, "Registrazione automatica") || !strings.Contains(s, "registrato") || !strings.Contains(s, "da 127.0.0.1") {
		t.Errorf("Italian state: %q", s)
	}
	if u := it.Untranslated(); len(u) > 0 {
		t.Errorf("untranslated: %v", u)
	}
}
