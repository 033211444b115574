package httpprov

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// TestHTTPSecureURLs (curl over HTTP, HTTPS and fasthttp): with secure URLs a
// request that knows only the MAC gets the bootstrap file and no secret,
// whatever the case of the MAC, behind the tenant's HTTP credentials; the device's
// token URL serves the full file without credentials; another device's file
// is not served under it; the logs never show the token.
func TestHTTPSecureURLs(t *testing.T) {
	hpNeedCurl(t)
	for _, mode := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := hpStart(t, mode)
			// A MAC with letters, to ask for it in both cases.
			dev := e.Save(t, "device", `{"mac":"00:15:65:ab:cd:ef","model":"`+hpModel+`","account":"`+e.Account+`"}`)
			e.Sync(t)
			if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(
				`{"secure_urls":true,"http_auth":"digest","http_user":"phones","http_password":"bootstrap-pw"}`)); err != nil {
				t.Fatal(err)
			}
			e.Sync(t)
			d, err := e.Prov.Device(e.Ctx, e.Tenant, dev)
			if err != nil {
				t.Fatal(err)
			}
			full := e.Lookup(t, "001565abcdef.cfg").Body
			if !bytes.Contains(full, []byte(hpSecret)) || !bytes.Contains(full, []byte(d.URLToken+"/")) {
				t.Fatalf("full file lacks the secret or its token URL:\n%s", full)
			}
			for _, f := range e.fronts(t, 1000) {
				for _, name := range []string{"001565ABCDEF.cfg", "001565abcdef.cfg", "001565AbCdEf.cfg", hpFile, hpXMLFile} {
					for _, cred := range [][]string{nil, {"--digest", "-u", "phones:bootstrap-pw"}} {
						// The bootstrap file, behind the tenant's
						// credentials like the device file was: no
						// secret, no secret URL (no window is open).
						r := hpCurl(t, f.base+e.prefix+name, cred...)
						want := map[bool]int{true: 401, false: 200}[cred == nil]
						if r.code != want || bytes.Contains(r.body, []byte(hpSecret)) || bytes.Contains(r.body, []byte("x<y>&z-Str0ng")) ||
							bytes.Contains(r.body, []byte(d.URLToken)) || bytes.Contains(r.body, []byte(e.Token)) || bytes.Contains(r.body, []byte("bootstrap-pw")) {
							t.Errorf("%s: MAC only %s %v: %v", f.name, name, cred, r)
						}
					}
				}
				// The model's common file has no secret: served by name.
				if r := hpCurl(t, f.base+e.prefix+hpCommon); r.code != 200 {
					t.Errorf("%s: common file by name: %v", f.name, r)
				}
				for _, name := range []string{"001565ABCDEF.cfg", "001565abcdef.cfg"} {
					r := hpCurl(t, f.base+e.prefix+d.URLToken+"/"+name)
					if r.code != 200 || !bytes.Equal(r.body, full) {
						t.Errorf("%s: token URL %s: %v", f.name, name, r)
					}
				}
				for _, p := range []string{d.URLToken + "/" + hpFile, d.URLToken + "/" + hpXMLFile, e.Token + "/001565abcdef.cfg"} {
					if r := hpCurl(t, f.base+e.prefix+p); r.code != 404 || bytes.Contains(r.body, []byte(hpSecret)) {
						t.Errorf("%s: another device's file under a token %s: %v", f.name, p, r)
					}
				}
				if r := hpCurl(t, f.base+e.prefix+d.URLToken+"/"+hpAsset); r.code != 200 || !bytes.Equal(r.body, e.asset) {
					t.Errorf("%s: asset under the token: %d", f.name, r.code)
				}
			}
			if log := e.Log.String(); strings.Contains(log, d.URLToken) || strings.Contains(log, e.Token) {
				t.Errorf("a token reached the log:\n%s", log)
			}
			if e.Log.Count(`msg="provisioning file not found"`, "path="+strings.TrimPrefix(e.prefix, "/provisioning/")+"********/") == 0 {
				t.Errorf("misses under a token not logged masked:\n%s", e.Log.String())
			}
		})
	}
}

// TestHTTPBootstrapEnrollment (curl as a factory-reset phone, over HTTP,
// HTTPS and fasthttp): with the enrollment window open, the device file asked
// for by MAC is the secret-free bootstrap file naming the secret directory;
// the phone's fetch from the directory gets the full file and claims the
// device; from then on (and with the window closed) a request by MAC gets no
// secret URL. The hand-out and the claim are recorded with the source
// address, and no token reaches the log.
func TestHTTPBootstrapEnrollment(t *testing.T) {
	hpNeedCurl(t)
	for _, mode := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := hpStart(t, mode)
			e.Secure(t)
			dir := e.Prov.ProvisioningURL(e.Tenant) + e.Token + "/"
			byMAC := func(base string) hpResp {
				t.Helper()
				r := hpCurl(t, base+e.prefix+strings.ToUpper(e.File))
				if r.code != 200 || bytes.Contains(r.body, []byte(hpSecret)) || !bytes.Contains(r.body, []byte("account.1.password = \n")) ||
					!bytes.Contains(r.body, []byte("static.auto_provision.repeat.minutes = 1\n")) {
					t.Fatalf("by MAC: %v", r)
				}
				return r
			}
			for _, f := range e.fronts(t, 1000) {
				// Outside a window: no secret URL.
				e.Enroll(t, -1)
				if r := byMAC(f.base); bytes.Contains(r.body, []byte(e.Token)) {
					t.Fatalf("%s: closed window, by MAC: %v", f.name, r)
				}
				e.Enroll(t, time.Hour)
				r := byMAC(f.base)
				if !bytes.Contains(r.body, []byte("static.auto_provision.server.url = "+dir+"\n")) {
					t.Fatalf("%s: open window, by MAC: no secret directory: %v", f.name, r)
				}
				e.WaitEnrollment(t, e.Device, func(en provision.Enrollment) bool { return en.HandedTo == "127.0.0.1" })
				// The phone follows the URL it was given.
				full := hpCurl(t, f.base+e.prefix+e.Token+"/"+e.File)
				if full.code != 200 || !bytes.Equal(full.body, e.Body) {
					t.Fatalf("%s: secret directory: %v", f.name, full)
				}
				en := e.WaitEnrollment(t, e.Device, func(en provision.Enrollment) bool { return !en.ClaimedAt.IsZero() })
				if en.ClaimedFrom != "127.0.0.1" || en.Mismatch || en.State(time.Now()) != provision.EnrollClaimed {
					t.Errorf("%s: claim: %+v", f.name, en)
				}
				if r := byMAC(f.base); bytes.Contains(r.body, []byte(e.Token)) {
					t.Errorf("%s: claimed device, by MAC: the token again: %v", f.name, r)
				}
			}
			if log := e.Log.String(); strings.Contains(log, e.Token) {
				t.Errorf("a token reached the log:\n%s", log)
			}
			if e.Log.Count(`msg="bootstrap file handed out the secret URL"`, "src=127.0.0.1") == 0 || e.Log.Count(`msg="device claimed its secret URL"`) == 0 {
				t.Errorf("hand-out or claim not logged:\n%s", e.Log.String())
			}
			rows, _, err := e.Store.Audit(e.Ctx, store.AuditFilter{Tenant: e.Tenant, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			handed, claimed := 0, 0
			for _, r := range rows {
				handed += strings.Count(r.Description, "the bootstrap file handed its secret URL to 127.0.0.1")
				claimed += strings.Count(r.Description, "claimed its secret URL from 127.0.0.1")
				if strings.Contains(string(r.After), e.Token) {
					t.Errorf("audit row shows the token: %s", r.After)
				}
			}
			if handed == 0 || claimed == 0 {
				t.Errorf("audit: %d hand-outs, %d claims", handed, claimed)
			}
		})
	}
}
