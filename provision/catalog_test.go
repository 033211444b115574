package provision

import (
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
)

// The nine brands the built-in catalog must cover, and how each names a device's
// file for MAC 00:04:F2:AB:CD:EF (letters, so that the case shows).
var builtinDeviceNames = map[string]string{
	"yealink":     "0004f2abcdef.cfg",
	"nethesis":    "0004f2abcdef.cfg",
	"akuvox":      "0004f2abcdef.cfg",
	"snom":        "0004F2ABCDEF.xml",
	"fanvil":      "0004f2abcdef.cfg",
	"grandstream": "cfg0004f2abcdef.xml",
	"gigaset":     "0004f2abcdef.xml",
	"poly":        "0004f2abcdef-user.cfg",
	"cisco":       "0004f2abcdef.xml",
}

// The same for MAC 00:15:65:12:34:56.
var builtinDeviceNames2 = map[string]string{
	"yealink":     "001565123456.cfg",
	"nethesis":    "001565123456.cfg",
	"akuvox":      "001565123456.cfg",
	"snom":        "001565123456.xml",
	"fanvil":      "001565123456.cfg",
	"grandstream": "cfg001565123456.xml",
	"gigaset":     "001565123456.xml",
	"poly":        "001565123456-user.cfg",
	"cisco":       "001565123456.xml",
}

// What every device template must register each line with.
var requiredDevicePlaceholders = []string{
	"KPBX_IP_ADDRESS", "LINE_SIP_USERNAME", "LINE_SIP_AUTH_USERNAME", "LINE_SIP_PASSWORD",
	"LINE_DISPLAY_NAME", "KPBX_NTP_SERVER", "KPBX_PROVISIONING_URL",
	"KPBX_VOICEMAIL_NUMBER", "PHONE_ADMIN_PASSWORD",
}

func loadBuiltin(t *testing.T) Catalog {
	t.Helper()
	c, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	return c
}

func TestBuiltinCatalogLoads(t *testing.T) {
	c := loadBuiltin(t)
	if len(c.Models) < 100 {
		t.Errorf("%d built-in models, want at least 100", len(c.Models))
	}
	perBrand := map[string]int{}
	for _, m := range c.Models {
		perBrand[m.Brand]++
	}
	brands := map[string]Brand{}
	for _, b := range c.Brands {
		brands[b.ID] = b
		if !b.BuiltIn {
			t.Errorf("brand %s not marked built-in", b.ID)
		}
	}
	for id := range builtinDeviceNames {
		if _, ok := brands[id]; !ok {
			t.Errorf("brand %s missing", id)
		}
		if perBrand[id] < 2 {
			t.Errorf("brand %s has %d models, want at least 2", id, perBrand[id])
		}
	}
	if len(c.Brands) != len(builtinDeviceNames) {
		t.Errorf("%d brands, want %d", len(c.Brands), len(builtinDeviceNames))
	}

	ouiRE := regexp.MustCompile(`^[0-9A-F]{6}$`)
	owner := map[string]string{}
	for _, b := range c.Brands {
		if b.Name == "" {
			t.Errorf("brand %s has no name", b.ID)
		}
		if len(b.OUIs) == 0 {
			t.Errorf("brand %s has no OUI", b.ID)
		}
		for _, o := range b.OUIs {
			if !ouiRE.MatchString(o) {
				t.Errorf("brand %s: OUI %q is not AABBCC upper-case hex", b.ID, o)
			}
			if prev, dup := owner[o]; dup {
				t.Errorf("OUI %s belongs to both %s and %s", o, prev, b.ID)
			}
			owner[o] = b.ID
		}
	}
	// 7C2F80 is Gigaset's (IEEE registry), not Fanvil's.
	if owner["7C2F80"] != "gigaset" {
		t.Errorf("OUI 7C2F80 assigned to %q, want gigaset", owner["7C2F80"])
	}

	names := map[string]bool{}
	for _, m := range c.Models {
		if !m.BuiltIn {
			t.Errorf("model %s not marked built-in", m.ID)
		}
		// What a user's copy of the model must pass (checkModel).
		if strings.TrimSpace(m.Name) == "" || len(m.Name) > 64 {
			t.Errorf("model %s: name %q", m.ID, m.Name)
		}
		if m.Lines < 1 || m.Lines > 128 {
			t.Errorf("model %s: lines %d, want 1-128", m.ID, m.Lines)
		}
		if m.Template == "" {
			t.Errorf("model %s has no template", m.ID)
		}
		key := m.Brand + "/" + m.Name
		if names[key] {
			t.Errorf("model %s: %s listed twice", m.ID, key)
		}
		names[key] = true
	}
	for _, tp := range c.Templates {
		if !tp.BuiltIn || tp.Body == "" {
			t.Errorf("template %s: built-in %v, body %d bytes", tp.ID, tp.BuiltIn, len(tp.Body))
		}
		wantCT := map[string]string{EscapeXML: "text/xml", EscapeNone: "text/plain"}[tp.Escape]
		if tp.ContentType != wantCT {
			t.Errorf("template %s: escape %s with content type %q, want %q", tp.ID, tp.Escape, tp.ContentType, wantCT)
		}
		// No escaped %% (a literal) in a built-in: a file has no use for one.
		if c, err := Compile(tp.Body, KnownFor(tp.Scope, nil)); err != nil {
			t.Errorf("template %s: %v", tp.ID, err)
		} else if out := c.Append(nil, nil, tp.Escape); strings.Contains(string(out), "%%") {
			t.Errorf("template %s contains a literal %%%%", tp.ID)
		}
	}
}

func TestBuiltinCatalogFileNames(t *testing.T) {
	c := loadBuiltin(t)
	mac, err := ParseMAC("00:04:F2:AB:CD:EF")
	if err != nil {
		t.Fatal(err)
	}
	mac2, err := ParseMAC("00:15:65:12:34:56")
	if err != nil {
		t.Fatal(err)
	}
	yealinkCommon := regexp.MustCompile(`^y000000000[0-9]{3}\.cfg$`)
	for _, m := range c.Models {
		if got, want := m.File.Name(mac), builtinDeviceNames[m.Brand]; got != want {
			t.Errorf("model %s: device file %q, want %q", m.ID, got, want)
		}
		if got, want := m.File.Name(mac2), builtinDeviceNames2[m.Brand]; got != want {
			t.Errorf("model %s: device file %q, want %q", m.ID, got, want)
		}
		switch m.Brand {
		case "yealink":
			// y + 12 digits: the family's hardware id, zero-padded (where the
			// catalog knows it).
			if len(m.CommonFiles) > 1 || len(m.CommonFiles) == 1 && !yealinkCommon.MatchString(m.CommonFiles[0].Name) {
				t.Errorf("model %s: common files %+v, want at most one y0000000000XX.cfg", m.ID, m.CommonFiles)
			}
		case "poly":
			if len(m.CommonFiles) != 1 || m.CommonFiles[0].Name != "000000000000.cfg" {
				t.Errorf("model %s: common files %+v, want 000000000000.cfg", m.ID, m.CommonFiles)
			}
		case "cisco":
			// $PSN.xml: CP-8841-3PCC asks for 8841-3PCC.xml.
			want := strings.TrimPrefix(m.Name, "CP-") + ".xml"
			if len(m.CommonFiles) != 1 || m.CommonFiles[0].Name != want {
				t.Errorf("model %s: common files %+v, want %s", m.ID, m.CommonFiles, want)
			}
		case "snom":
			// A D-series phone's firmware settings file, named in its
			// firmware_status after the model: snomD785-firmware.xml.
			want := "snom" + m.Name + "-firmware.xml"
			if m.Template != "snom-device" {
				want = ""
			}
			if want == "" && len(m.CommonFiles) != 0 || want != "" && (len(m.CommonFiles) != 1 || m.CommonFiles[0].Name != want) {
				t.Errorf("model %s: common files %+v, want %q", m.ID, m.CommonFiles, want)
			}
		default:
			if len(m.CommonFiles) != 0 {
				t.Errorf("model %s: unexpected common files %+v", m.ID, m.CommonFiles)
			}
		}
	}
}

// sampleVars are the values a device file is rendered with: everything a real
// rendering sets, with values that need escaping in XML.
func sampleVars() map[string]string {
	v := map[string]string{
		"KPBX_IP_ADDRESS":              "192.0.2.10",
		"KPBX_HOSTNAME":                "pbx.example.net",
		"KPBX_SIP_UDP_PORT":            "5060",
		"KPBX_SIP_TCP_PORT":            "5060",
		"KPBX_SIP_TLS_PORT":            "5061",
		"KPBX_SIP_TRANSPORT":           "udp",
		"KPBX_SIP_PORT":                "5060",
		"KPBX_PROVISIONING_URL":        "http://192.0.2.10/provisioning/",
		"KPBX_PROVISIONING_HOST":       "192.0.2.10",
		"KPBX_TENANT_UUID":             "0b6a1c1e-6d7c-4f55-9d2a-3c9a7e1f0a11",
		"KPBX_NTP_SERVER":              "ntp.example.net",
		"KPBX_TIMEZONE":                "Europe/Rome",
		"KPBX_TIMEZONE_OFFSET":         "+1",
		"KPBX_TIMEZONE_OFFSET_MINUTES": "60",
		"KPBX_LANGUAGE":                "it",
		"KPBX_VOICEMAIL_NUMBER":        "*97",
		"KPBX_RESYNC_SECONDS":          "86400",

		"ACCOUNT_EXTENSION":         "201",
		"ACCOUNT_SIP_USERNAME":      "201",
		"ACCOUNT_SIP_AUTH_USERNAME": "201",
		"ACCOUNT_SIP_PASSWORD":      `p&ss<"word>`,
		"ACCOUNT_DISPLAY_NAME":      "Tom & Jerry",
		"ACCOUNT_FIRST_NAME":        "Tom",
		"ACCOUNT_LAST_NAME":         "Jerry",
		"ACCOUNT_VOICEMAIL":         "201",
		"ACCOUNT_SIP_TRANSPORT":     "udp",
		"ACCOUNT_SIP_PORT":          "5060",

		"IPADDRMODE":    "static",
		"IPADDR":        "192.0.2.50",
		"IPNETMASK":     "255.255.255.0",
		"IPGATEWAY":     "192.0.2.1",
		"IPDNS1":        "192.0.2.53",
		"IPDNS2":        "192.0.2.54",
		"PHONEUSERNAME": "admin",
		"PHONEPASSWORD": `s3cr'et&`,
		"DEVICE_LABEL":  "Reception <front desk>",
	}
	return v
}

func pbxOnly(v map[string]string) map[string]string {
	out := map[string]string{}
	for k, val := range v {
		if src, ok := BuiltinPlaceholder(k); ok && src == SourcePBX {
			out[k] = val
		}
	}
	return out
}

func renderTemplate(t *testing.T, tp Template, scope string, vars map[string]string) (*Compiled, string) {
	t.Helper()
	c, err := Compile(tp.Body, KnownFor(scope, nil))
	if err != nil {
		t.Fatalf("template %s: %v", tp.ID, err)
	}
	var b strings.Builder
	c.Render(&b, vars, tp.Escape)
	return c, b.String()
}

func checkWellFormed(t *testing.T, what, out string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(out))
	d.Strict = true
	elems := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("%s: not well-formed XML: %v\n%s", what, err, out)
			return
		}
		if _, ok := tok.(xml.StartElement); ok {
			elems++
		}
	}
	if elems == 0 {
		t.Errorf("%s: no XML element", what)
	}
}

// xmlEscaped is s as the xml escaper writes it.
func xmlEscaped(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

func TestFileRuleMACFormats(t *testing.T) {
	mac, err := ParseMAC("00-04-f2-ab-cd-ef")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		MACUpper:      "p-0004F2ABCDEF.x",
		MACLower:      "p-0004f2abcdef.x",
		MACColonUpper: "p-00:04:F2:AB:CD:EF.x",
		MACColonLower: "p-00:04:f2:ab:cd:ef.x",
		MACDashUpper:  "p-00-04-F2-AB-CD-EF.x",
		MACDashLower:  "p-00-04-f2-ab-cd-ef.x",
	}
	if len(want) != len(MACFormats) {
		t.Fatalf("test covers %d formats, there are %d", len(want), len(MACFormats))
	}
	for _, f := range MACFormats {
		r := FileRule{Prefix: "p-", MACFormat: f, Suffix: ".x"}
		if err := r.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", f, err)
		}
		if got := r.Name(mac); got != want[f] {
			t.Errorf("%s: Name = %q, want %q", f, got, want[f])
		}
	}
	// The examples the catalog's rules are documented with.
	for _, tc := range []struct {
		rule FileRule
		mac  string
		want string
	}{
		{FileRule{Prefix: "snom370-", MACFormat: MACUpper, Suffix: ".htm"}, "00:04:16:78:98:B1", "snom370-0004167898B1.htm"},
		{FileRule{MACFormat: MACLower, Suffix: ".cfg"}, "00:15:65:12:34:56", "001565123456.cfg"},
		{FileRule{Prefix: "cfg", MACFormat: MACLower, Suffix: ".xml"}, "C0:74:AD:11:22:33", "cfgc074ad112233.xml"},
	} {
		m, err := ParseMAC(tc.mac)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.rule.Name(m); got != tc.want {
			t.Errorf("%+v: Name = %q, want %q", tc.rule, got, tc.want)
		}
	}
	for _, bad := range []FileRule{
		{MACFormat: "aabbcc"},
		{MACFormat: ""},
		{Prefix: "dir/", MACFormat: MACLower},
		{MACFormat: MACLower, Suffix: "%.cfg"},
		{MACFormat: MACLower, Suffix: ".cfg?x"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", bad)
		}
	}
}
