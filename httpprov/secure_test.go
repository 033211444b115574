package httpprov

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/provision"
)

// TestHTTPSecureURLs (curl over HTTP, HTTPS and fasthttp): with secure URLs a
// request that knows only the MAC gets 404 and no secret, whatever the case
// of the MAC and with the tenant's HTTP credentials or without; the device's
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
						r := hpCurl(t, f.base+e.prefix+name, cred...)
						if r.code != 404 || bytes.Contains(r.body, []byte(hpSecret)) || bytes.Contains(r.body, []byte("x<y>&z-Str0ng")) {
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
