package phonebook

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
)

// The built-in templates point each vendor's phones at its directory file:
// the URL a rendered device file (or Poly's master file) carries resolves, in
// the same provisioning tree, to that vendor's file with the tenant's
// contacts.
func TestBuiltinTemplatesPointAtTheDirectory(t *testing.T) {
	for _, mode := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, mode)
			e.create(t, Contact{Type: TypePublic, Name: "Listed", WorkPhone: "100"})
			acc, err := e.prov.SaveAccount(e.ctx, e.admin, e.tenant, "", json.RawMessage(`{"extension":"201","sip_password":"secret-201-pw"}`))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				model, mac, file string // the device file (or the common file)
				url              *regexp.Regexp
				want             string // the directory file it must name
			}{
				{"yealink-t54w", "00:15:65:00:00:01", "001565000001.cfg", regexp.MustCompile(`remote_phonebook\.data\.1\.url = (\S+)`), FileYealink},
				{"snom-d785", "00:04:13:00:00:02", "000413000002.xml", regexp.MustCompile(`<file url="([^"]+)"`), FileSnom},
				{"fanvil-x4u", "0c:38:3e:00:00:03", "0c383e000003.cfg", regexp.MustCompile(`<Addr>([^<]+)</Addr>`), FileFanvil},
				{"grandstream-grp2612", "c0:74:ad:00:00:04", "cfgc074ad000004.xml", regexp.MustCompile(`<P331>([^<]+)</P331>`), FileGrandstreamPath},
				{"cisco-cp-8841-3pcc", "00:2a:10:00:00:05", "002a10000005.xml", regexp.MustCompile(`<XML_Directory_Service_URL ua="na">([^<]+)<`), FileCisco},
				{"poly-vvx250", "00:04:f2:00:00:06", "000000000000.cfg", regexp.MustCompile(`CONTACTS_DIRECTORY="([^"]+)"`), FilePolyDirectory},
			} {
				if _, err := e.prov.SaveDevice(e.ctx, e.admin, e.tenant, "", json.RawMessage(`{"mac":"`+tc.mac+`","model":"`+tc.model+`","account":"`+acc.ID+`"}`)); err != nil {
					t.Fatalf("%s: %v", tc.model, err)
				}
				if err := e.prov.WaitRendered(e.ctx, e.st.Revision()); err != nil {
					t.Fatal(err)
				}
				f, ok := e.prov.Lookup(e.tenant, tc.file)
				if !ok {
					t.Fatalf("%s: no file %s", tc.model, tc.file)
				}
				m := tc.url.FindSubmatch(f.Body)
				if m == nil {
					t.Fatalf("%s: no phonebook URL in %s:\n%s", tc.model, tc.file, f.Body)
				}
				u := string(m[1])
				prov := e.prov.ProvisioningURL(e.tenant)
				var rel string
				switch {
				case tc.want == FilePolyDirectory:
					// A directory relative to the provisioning URL, where the
					// phone asks for <mac>-directory.xml.
					rel = strings.TrimPrefix(prov, "http://127.0.0.1:8080/provisioning/") + u + "/0004f2000006-directory.xml"
				case tc.want == FileGrandstreamPath:
					// A server path under which the phone asks for phonebook.xml.
					rel = strings.TrimPrefix(u, "http://127.0.0.1:8080/provisioning/") + "/" + FileGrandstreamPath
				default:
					rel = strings.TrimPrefix(u, "http://127.0.0.1:8080/provisioning/")
				}
				var got provision.Target
				deadline := time.Now().Add(10 * time.Second)
				for {
					got, err = e.prov.Resolve(rel)
					if err == nil && strings.Contains(string(got.File.Body), "Listed") || time.Now().After(deadline) {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				if err != nil || !strings.HasSuffix(got.Name, "/"+tc.want) && tc.want != FilePolyDirectory || got.Tenant != e.tenant {
					t.Fatalf("%s: %s (from %q) resolves to %+v %v", tc.model, rel, u, got, err)
				}
				if !strings.Contains(string(got.File.Body), "Listed") {
					t.Fatalf("%s: %s does not list the contact", tc.model, rel)
				}
			}
		})
	}
}
