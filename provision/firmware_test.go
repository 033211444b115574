package provision

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

// TestModelFirmware: a tenant chooses one of its uploaded files as a model's
// target firmware (a global model too, with a patch of that field alone);
// the device file names it under the device's directory (its secret one
// with secure URLs) only while it is set; bad choices name the field and
// change nothing; a file in use cannot be deleted.
func TestModelFirmware(t *testing.T) {
	e := pvStart(t, ModeMulti)
	if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", e.tmpl, json.RawMessage(
		`{"body":"pass=%%ACCOUNT_SIP_PASSWORD%%\nfw=%%KPBX_FIRMWARE_URL%%\n%%IF KPBX_FIRMWARE_URL%%upgrade=1\n%%END%%"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	body := func() string {
		t.Helper()
		e.sync(t)
		f, ok := e.s.Lookup(e.tenant, pvFile)
		if !ok {
			t.Fatal("no device file")
		}
		return string(f.Body)
	}
	if b := body(); !strings.Contains(b, "fw=\n") || strings.Contains(b, "upgrade=") {
		t.Fatalf("without a firmware:\n%s", b)
	}
	rev := e.st.Revision()
	// Refused: in the global scope, a file the tenant does not have, a
	// name that is not a string, other fields of a global model.
	for _, c := range []struct {
		tenant, patch, field string
	}{
		{"", `{"firmware":"` + pvAsset + `"}`, "firmware"},
		{e.tenant, `{"firmware":"other.bin"}`, "firmware"},
		{e.tenant, `{"firmware":"../` + pvAsset + `"}`, "firmware"},
		{e.tenant, `{"firmware":7}`, "firmware"},
		{e.tenant, `{"firmware":"` + pvAsset + `","name":"x"}`, "id"},
	} {
		_, err := e.s.SaveModel(e.ctx, e.actor, c.tenant, e.model, json.RawMessage(c.patch))
		var ve *store.ValidationError
		var ce *store.ConflictError
		switch {
		case errors.As(err, &ve) && ve.Field == c.field, errors.As(err, &ce) && ce.Field == c.field:
		default:
			t.Errorf("SaveModel(%q, %s): %v, want an error on %s", c.tenant, c.patch, err, c.field)
		}
	}
	if e.st.Revision() != rev {
		t.Errorf("refused saves changed the store")
	}
	m, err := e.s.SaveModel(e.ctx, e.actor, e.tenant, e.model, json.RawMessage(`{"firmware":"`+pvAsset+`"}`))
	if err != nil || m.Firmware != pvAsset || m.Name != "M" {
		t.Fatalf("set firmware: %+v %v", m, err)
	}
	for _, c := range []struct{ tenant, want string }{{e.tenant, pvAsset}, {"", ""}} {
		ms, _, err := e.s.Catalog(e.ctx, c.tenant)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ms {
			if x.ID == e.model && x.Firmware != c.want {
				t.Errorf("catalog of %q: firmware %q, want %q", c.tenant, x.Firmware, c.want)
			}
		}
	}
	tenantURL := e.s.ProvisioningURL(e.tenant)
	if b := body(); !strings.Contains(b, "fw="+tenantURL+pvAsset+"\nupgrade=1\n") {
		t.Errorf("with a firmware, secure URLs off:\n%s\nwant %s", b, tenantURL+pvAsset)
	}
	// Secure URLs: the firmware is named under the device's secret directory,
	// and is served there.
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"secure_urls":true}`)); err != nil {
		t.Fatal(err)
	}
	want := tenantURL + e.token + "/" + pvAsset
	if b := body(); !strings.Contains(b, "fw="+want+"\n") {
		t.Errorf("with secure URLs:\n%s\nwant %s", b, want)
	}
	got, err := e.s.Resolve(strings.TrimPrefix(want, strings.TrimSuffix(e.s.ProvisioningURL(e.tenant), e.tenant+"/")))
	if err != nil || got.Asset == nil || got.Asset.Name != pvAsset {
		t.Fatalf("resolving the firmware URL %s: %+v %v", want, got, err)
	}
	// The preview shows the tenant's directory, never the token.
	pv, err := e.s.Preview(e.ctx, e.tenant, e.device, "", nil)
	if err != nil || !strings.Contains(pv, "fw="+tenantURL+pvAsset+"\n") || strings.Contains(pv, e.token) {
		t.Errorf("preview: %v\n%s", err, pv)
	}
	// A file that is a model's firmware is not deleted.
	err = e.s.DeleteAsset(e.ctx, e.actor, e.tenant, pvAsset)
	if ce := (*store.ConflictError)(nil); !errors.As(err, &ce) || ce.Field != "name" || !strings.Contains(ce.Msg, "acme M") {
		t.Errorf("deleting the firmware in use: %v", err)
	}
	// Cleared: the key goes away, and the file may go.
	if m, err := e.s.SaveModel(e.ctx, e.actor, e.tenant, e.model, json.RawMessage(`{"firmware":""}`)); err != nil || m.Firmware != "" {
		t.Fatalf("clear firmware: %+v %v", m, err)
	}
	if b := body(); !strings.Contains(b, "fw=\n") || strings.Contains(b, "upgrade=") {
		t.Errorf("after clearing:\n%s", b)
	}
	if err := e.s.DeleteAsset(e.ctx, e.actor, e.tenant, pvAsset); err != nil {
		t.Errorf("deleting the unused file: %v", err)
	}
	// Every change is audited.
	rows, n, err := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindFirmware})
	if err != nil || n != 2 || len(rows) != 2 {
		t.Errorf("%d firmware audit rows (%v), want 2 (set, removed)", n, err)
	}
}

// TestModelFirmwareOwnModel: a tenant's own model takes firmware with its
// other fields, a copy keeps it, deleting the model drops the mapping.
func TestModelFirmwareOwnModel(t *testing.T) {
	e := pvStart(t, ModeSingle)
	m, err := e.s.SaveModel(e.ctx, e.actor, e.tenant, "", json.RawMessage(
		`{"name":"Own","brand":"acme","template":"`+e.tmpl+`","firmware":"`+pvAsset+`","file":{"prefix":"own-","mac_format":"aabbccddeeff","suffix":".cfg"}}`))
	if err != nil || m.Firmware != pvAsset {
		t.Fatalf("own model with firmware: %+v %v", m, err)
	}
	// Saving other fields keeps the firmware.
	if m, err = e.s.SaveModel(e.ctx, e.actor, e.tenant, m.ID, json.RawMessage(`{"lines":2}`)); err != nil || m.Firmware != pvAsset || m.Lines != 2 {
		t.Fatalf("other fields: %+v %v", m, err)
	}
	c, err := e.s.CopyModel(e.ctx, e.actor, e.tenant, m.ID, "Own 2")
	if err != nil || c.Firmware != pvAsset {
		t.Fatalf("copy: %+v %v", c, err)
	}
	for _, id := range []string{m.ID, c.ID} {
		if err := e.s.DeleteModel(e.ctx, e.actor, e.tenant, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.DeleteAsset(e.ctx, e.actor, e.tenant, pvAsset); err != nil {
		t.Errorf("the models are gone, their firmware file is free: %v", err)
	}
}

// firmwareKeys is where each built-in device template names the firmware
// (fmt verb: the URL); templates not listed must not name it (the vendor's
// key is not one we could verify: see the README).
// snomFirmwareKey is the image's URL in a Snom D-series firmware settings file
// (the common file snom<model>-firmware.xml that firmware_status names).
const snomFirmwareKey = `<firmware perm="R">%s</firmware>`

var firmwareKeys = map[string]string{
	"yealink-device":         "\nstatic.firmware.url = %s\n",
	"yealink-dect":           "\nstatic.firmware.url = %s\n",
	"yealink-dect-multicell": "\nstatic.firmware.url = %s\n",
	"snom-device":            `<firmware_status perm="R">%s</firmware_status>`, // then snomFirmwareKey

	"fanvil-device": "<Auto_Image_URL>%s</Auto_Image_URL>",
	"cisco-device":  `<Upgrade_Rule ua="na">%s</Upgrade_Rule>`,
}

// TestFirmwareInVendorTemplates: for a built-in model of every device
// template, the vendor's firmware key carries the URL only when the model
// has a firmware, and the file stays well formed.
func TestFirmwareInVendorTemplates(t *testing.T) {
	e := pvStart(t, ModeSingle)
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"sip_server":"10.0.0.5","secure_urls":true}`)); err != nil {
		t.Fatal(err)
	}
	const fw = "vendor fw 1.2.bin" // a name that needs escaping in a URL
	if _, err := e.s.PutAsset(e.ctx, e.actor, e.tenant, fw, strings.NewReader("image")); err != nil {
		t.Fatal(err)
	}
	cat := e.s.BuiltinCatalog()
	type dev struct {
		model Model
		token string
		mac   MAC
	}
	var devs []dev
	for _, tm := range cat.Templates {
		if tm.Scope != ScopeDevice {
			continue
		}
		for _, m := range cat.Models {
			if m.Template != tm.ID {
				continue
			}
			mac, _ := ParseMAC(fmt.Sprintf("02:00:00:00:%02x:%02x", len(devs)/256, len(devs)%256))
			d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"`+mac.String()+`","model":"`+m.ID+`","account":"`+e.account+`"}`))
			if err != nil {
				t.Fatalf("device of %s: %v", m.ID, err)
			}
			devs = append(devs, dev{m, d.URLToken, mac})
			break
		}
	}
	// The Fanvil V-series shares the X-series template but not its firmware key.
	for _, id := range []string{"fanvil-v61", "nethesis-np-v61"} {
		var m Model
		for _, x := range cat.Models {
			if x.ID == id {
				m = x
			}
		}
		mac, _ := ParseMAC(fmt.Sprintf("02:00:00:01:00:%02x", len(devs)))
		d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"`+mac.String()+`","model":"`+id+`","account":"`+e.account+`"}`))
		if err != nil {
			t.Fatalf("device of %s: %v", id, err)
		}
		m.Template = "fanvil-v-series" // not in firmwareKeys: no firmware key expected
		devs = append(devs, dev{m, d.URLToken, mac})
	}
	for _, k := range []string{"yealink-device", "snom-device", "fanvil-device", "cisco-device", "grandstream-device", "gigaset-device", "poly-device"} {
		found := false
		for _, d := range devs {
			found = found || d.model.Template == k
		}
		if !found {
			t.Fatalf("no built-in model uses template %s", k)
		}
	}
	check := func(set bool) {
		t.Helper()
		e.sync(t)
		for _, d := range devs {
			f, ok := e.s.Lookup(e.tenant, d.model.File.Name(d.mac))
			if !ok {
				t.Errorf("%s: no file", d.model.ID)
				continue
			}
			b := string(f.Body)
			u := e.s.ProvisioningURL(e.tenant) + d.token + "/vendor%20fw%201.2.bin"
			if d.model.Template == "snom-device" {
				// Snom reads the image's URL from the model's firmware settings
				// file, a common file: served by name like the uploaded image.
				name := "snom" + d.model.Name + "-firmware.xml"
				u = e.s.ProvisioningURL(e.tenant) + d.token + "/" + name
				cf, ok := e.s.Lookup(e.tenant, name)
				want := fmt.Sprintf(snomFirmwareKey, e.s.ProvisioningURL(e.tenant)+"vendor%20fw%201.2.bin")
				switch {
				case !ok:
					t.Errorf("%s: no common file %s", d.model.ID, name)
				case set != strings.Contains(string(cf.Body), want):
					t.Errorf("%s: %s with firmware %v:\n%s", d.model.ID, name, set, cf.Body)
				}
			}
			key, named := firmwareKeys[d.model.Template]
			switch {
			case set && named && !strings.Contains(b, fmt.Sprintf(key, u)):
				t.Errorf("%s (%s): no %q in\n%s", d.model.ID, d.model.Template, fmt.Sprintf(key, u), b)
			case (!set || !named) && strings.Contains(b, "fw%201.2"):
				t.Errorf("%s (%s): firmware named (set %v):\n%s", d.model.ID, d.model.Template, set, b)
			case !set && named && strings.Contains(b, strings.SplitN(key, "%s", 2)[0]):
				t.Errorf("%s (%s): firmware key without a firmware:\n%s", d.model.ID, d.model.Template, b)
			}
			if strings.HasPrefix(strings.TrimSpace(b), "<?xml") {
				dec := xml.NewDecoder(strings.NewReader(b))
				for {
					if _, err := dec.Token(); err == io.EOF {
						break
					} else if err != nil {
						t.Errorf("%s: XML: %v", d.model.ID, err)
						break
					}
				}
			}
		}
	}
	check(false)
	for _, d := range devs {
		if m, err := e.s.SaveModel(e.ctx, e.actor, e.tenant, d.model.ID, json.RawMessage(`{"firmware":"`+fw+`"}`)); err != nil || m.Firmware != fw {
			t.Fatalf("firmware of built-in %s: %+v %v", d.model.ID, m, err)
		}
	}
	check(true)
	for _, d := range devs {
		if _, err := e.s.SaveModel(e.ctx, e.actor, e.tenant, d.model.ID, json.RawMessage(`{"firmware":null}`)); err != nil {
			t.Fatal(err)
		}
	}
	check(false)
}
