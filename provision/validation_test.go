package provision

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestResyncInVendorUnits: phones that count the re-check period in minutes get
// minutes (4000 s is 67 minutes, not 4000), and 0 turns the re-check off.
func TestResyncInVendorUnits(t *testing.T) {
	c := loadBuiltin(t)
	tmpls := map[string]Template{}
	for _, tp := range c.Templates {
		tmpls[tp.ID] = tp
	}
	for _, tc := range []struct {
		seconds int
		want    map[string][]string
	}{
		{4000, map[string][]string{
			"yealink-device":     {"static.auto_provision.repeat.enable = 1\nstatic.auto_provision.repeat.minutes = 67\n"},
			"yealink-common":     {"static.auto_provision.repeat.minutes = 67\n"},
			"grandstream-device": {"<P194>1</P194>\n    <P193>67</P193>"},
			"poly-device":        {`prov.polling.enabled="1"`, `prov.polling.period="4000"`},
			"cisco-device":       {`<Resync_Periodic ua="na">4000</Resync_Periodic>`},
			"fanvil-device":      {"<FlashMode>2</FlashMode>\n    <FlashInterval>2</FlashInterval>"},
			"snom-device":        {`<settings_refresh_timer perm="R">4000</settings_refresh_timer>`},
		}},
		{86400, map[string][]string{
			"yealink-device":     {"static.auto_provision.repeat.minutes = 1440\n"},
			"grandstream-device": {"<P193>1440</P193>"},
		}},
		{0, map[string][]string{
			"yealink-device":     {"static.auto_provision.repeat.enable = 0\n"},
			"grandstream-device": {"<P194>0</P194>"},
			"poly-device":        {`prov.polling.enabled="0"`},
			"fanvil-device":      {"<FlashMode>1</FlashMode>"},
		}},
	} {
		p := DefaultPBXSettings()
		p.ResyncSeconds = tc.seconds
		for id, wants := range tc.want {
			tp := tmpls[id]
			comp, err := Compile(tp.Body, KnownFor(tp.Scope, nil))
			if err != nil {
				t.Fatal(err)
			}
			out := string(comp.Append(nil, pbxOnlyFrom(p), tp.Escape))
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("%s with %d s: output lacks %q", id, tc.seconds, w)
				}
			}
			if tc.seconds == 4000 && strings.Contains(out, "4000") && (strings.HasPrefix(id, "yealink") || id == "grandstream-device") {
				t.Errorf("%s: seconds reached a field in minutes", id)
			}
		}
	}
}

// TestSIPServerMissing: devices of a tenant without a SIP server carry a
// warning naming sip_server; once devices exist it cannot be cleared.
func TestSIPServerMissing(t *testing.T) {
	e := pvStart(t, ModeSingle)
	d, _ := e.s.Device(e.ctx, e.tenant, e.device)
	v := e.s.ViewDevices(e.tenant, []Device{d})[0]
	if len(v.Warnings) != 1 || v.Warnings[0].Field != "sip_server" || v.File == "" {
		t.Fatalf("view without a SIP server: %+v", v)
	}
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"sip_server":"192.0.2.10"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if v := e.s.ViewDevices(e.tenant, []Device{d})[0]; len(v.Warnings) != 0 {
		t.Fatalf("warnings with a SIP server: %+v", v.Warnings)
	}
	_, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"sip_server":""}`))
	wantField(t, err, "sip_server", "register to it")
}
