package provision

// Every built-in model renders a device with three accounts (as many as it
// holds) and one key of each type its template maps (ten at most, the last on
// an expansion module when the model takes one) into a file its vendor's format
// accepts, with each account and each key where the vendor documents it; a DECT
// base gets one handset per account.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// sampleAccounts are the accounts of the test device, line 1 first; line 1's
// values need escaping in XML.
func sampleAccounts() []Account {
	return []Account{
		{ID: "a1", Extension: "201", SIPUsername: "201", SIPPassword: `p&ss<"word>`, DisplayName: "Tom & Jerry"},
		{ID: "a2", Extension: "202", SIPUsername: "u202", AuthUsername: "auth202", SIPPassword: "pw-202-secret", DisplayName: "Line Two", Transport: "tcp"},
		{ID: "a3", Extension: "4203", SIPUsername: "u4203", SIPPassword: "pw-4203-secret", FirstName: "Ann", LastName: "Three"},
	}
}

// sampleKeyValue is a value for a key of type t.
func sampleKeyValue(t string) string {
	switch t {
	case KeyURL:
		return "http://192.0.2.10/xml/menu.xml"
	case KeyPark:
		return "701"
	case KeySpeedDial, KeyForward, KeyTransfer:
		return "0612345678"
	case KeyLine, KeyDND, KeyHold, KeyConference, KeyVoicemail, KeyGroupPickup:
		return ""
	}
	return "305"
}

// sampleDevice is the test device of model m: its lines and keys.
func sampleDevice(m Model) (Device, map[string]Account) {
	accounts := map[string]Account{}
	d := Device{ID: "dev", MAC: "001565123456", Model: m.ID, Enabled: true, IPAddrMode: "static", IPAddr: "192.0.2.50",
		Netmask: "255.255.255.0", Notes: "Reception"}
	for i, a := range sampleAccounts() {
		accounts[a.ID] = a
		if i < m.Lines {
			d.Lines = append(d.Lines, DeviceLine{Account: a.ID})
		}
	}
	d.Account = d.Lines[0].Account
	types := m.KeyTypes
	if len(types) > 10 {
		types = types[:10]
	}
	for i, t := range types {
		k := Key{Type: t, Value: sampleKeyValue(t), Label: "K" + t, Index: i + 1, Line: 1}
		if t == KeyLine {
			k.Line, k.Label = min(2, len(d.Lines)), ""
		}
		if i == len(types)-1 && m.ExpansionModules > 0 {
			k.Module, k.Index = 1, 1
		}
		if k.Module == 0 && k.Index > m.Keys {
			continue
		}
		d.Keys = append(d.Keys, k)
	}
	return d, accounts
}

// vendorSpec says where a template's format puts a line and a key.
type vendorSpec struct {
	xml bool
	// line gives what must appear for line n with account a (escaped).
	line func(n int, a Account) []string
	// key gives what must appear for key k at position pos (KEY_POSITION).
	key func(k Key, pos int) string
	// native are key types whose name is the vendor's own word too.
	native []string
	// admin is what must appear for the phone admin password pw (escaped).
	admin func(pw string) string
}

const pbx = "192.0.2.10"

var yealinkCodes = map[string]string{KeyLine: "15", KeyBLF: "16", KeySpeedDial: "13", KeyPark: "10", KeyPickup: "9",
	KeyGroupPickup: "23", KeyDND: "5", KeyTransfer: "3", KeyVoicemail: "12", KeyURL: "17", KeyIntercom: "14",
	KeyForward: "2", KeyHold: "4", KeyConference: "1"}

func yealinkLine(n int, a Account) []string {
	return []string{fmt.Sprintf("account.%d.enable = 1\n", n), fmt.Sprintf("account.%d.user_name = %s\n", n, a.SIPUsername),
		fmt.Sprintf("account.%d.password = %s\n", n, a.SIPPassword)}
}

var vendorSpecs = map[string]vendorSpec{
	"yealink-device": {
		line:  yealinkLine,
		admin: yealinkAdmin,
		key: func(k Key, _ int) string {
			if k.Module > 0 {
				return fmt.Sprintf("expansion_module.%d.key.%d.type = %s\n", k.Module, k.Index, yealinkCodes[k.Type])
			}
			return fmt.Sprintf("linekey.%d.type = %s\nlinekey.%d.line = %d\n", k.Index, yealinkCodes[k.Type], k.Index, k.Line)
		},
	},
	"yealink-dect": {admin: yealinkAdmin, line: func(n int, a Account) []string {
		return append(yealinkLine(n, a), fmt.Sprintf("handset.%d.incoming_lines = %d\n", n, n))
	}},
	"yealink-dect-multicell": {admin: yealinkAdmin, line: func(n int, a Account) []string {
		return append(yealinkLine(n, a), fmt.Sprintf("account.%d.sip_server.template = %d\n", n, n),
			fmt.Sprintf("template.%d.sip_server.1.address = %s\n", n, pbx), fmt.Sprintf("handset.%d.incoming_lines = %d\n", n, n))
	}},
	"akuvox-device": {
		admin: func(pw string) string {
			return "Config.Settings.WEB_LOGIN.User = admin\nConfig.Settings.WEB_LOGIN.Password = " + pw + "\n"
		},
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf("Config.Account%d.GENERAL.Enable = 1\n", n), fmt.Sprintf("Config.Account%d.GENERAL.UserName = %s\n", n, a.SIPUsername),
				fmt.Sprintf("Config.Account%d.GENERAL.Pwd = %s\n", n, a.SIPPassword)}
		},
		key: func(k Key, _ int) string {
			return fmt.Sprintf("Config.Programable.LINEKEY%d.Type = %s\n", k.Index, akuvoxCodes[k.Type])
		},
	},
	"snom-device": {
		admin:  snomAdmin,
		xml:    true,
		native: []string{KeyLine},
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf(`<user_name idx="%d" perm="R">%s</user_name>`, n, xmlEscaped(a.SIPUsername)),
				fmt.Sprintf(`<user_pass idx="%d" perm="R">%s</user_pass>`, n, xmlEscaped(a.SIPPassword))}
		},
		key: func(k Key, pos int) string {
			v := map[string]string{KeyLine: "line", KeyBLF: "blf sip:305@" + pbx + "|**", KeySpeedDial: "speed 0612345678",
				KeyPark: "orbit 701", KeyPickup: "speed **305", KeyGroupPickup: "speed *8", KeyDND: "keyevent F_DND",
				KeyTransfer: "transfer 0612345678", KeyVoicemail: "keyevent F_VOICEMAIL_INFO", KeyURL: "url http://192.0.2.10/xml/menu.xml",
				KeyForward: "redirect 0612345678", KeyHold: "keyevent F_HOLD", KeyConference: "conference "}[k.Type]
			return fmt.Sprintf(`<fkey idx="%d" context="%d" label="%s" perm="R">%s</fkey>`, pos-1, k.Line, xmlEscaped(keyLabel(k)), v)
		},
	},
	"snom-dect": {
		admin: snomAdmin,
		xml:   true,
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf(`<user_name idx="%d" perm="R">%s</user_name>`, n, xmlEscaped(a.SIPUsername)),
				fmt.Sprintf(`<subscr_sip_hs_idx idx="%d" perm="R">%d</subscr_sip_hs_idx>`, n, n),
				fmt.Sprintf(`<subscr_dect_ac_code idx="%d" perm="R">%s</subscr_dect_ac_code>`, n, dectCode(a.Extension))}
		},
	},
	"fanvil-device": {
		admin: func(pw string) string { return "<Password>" + xmlEscaped(pw) + "</Password>" },
		xml:   true,
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf("<line index=\"%d\">\n      <PhoneNumber>%s</PhoneNumber>", n, xmlEscaped(a.SIPUsername)),
				fmt.Sprintf("<RegisterPswd>%s</RegisterPswd>", xmlEscaped(a.SIPPassword))}
		},
		key: func(k Key, _ int) string {
			tv := map[string]string{KeyLine: "2</Type>\n        <Value>SIP2", KeyBLF: "1</Type>\n        <Value>305@1/ba**305",
				KeySpeedDial: "1</Type>\n        <Value>0612345678@1/f", KeyPark: "1</Type>\n        <Value>701@1/c",
				KeyPickup: "1</Type>\n        <Value>**305@1/f", KeyGroupPickup: "1</Type>\n        <Value>*8@1/f",
				KeyDND: "3</Type>\n        <Value>F_DND", KeyTransfer: "3</Type>\n        <Value>F_B_TRANSFER",
				KeyVoicemail: "3</Type>\n        <Value>F_MWI", KeyURL: "7</Type>\n        <Value>http://192.0.2.10/xml/menu.xml",
				KeyForward: "1</Type>\n        <Value>0612345678@1/a", KeyHold: "3</Type>\n        <Value>F_HOLD"}[k.Type]
			return fmt.Sprintf("<Fkey index=\"%d\">\n        <Type>%s</Value>", k.Index, tv)
		},
	},
	"grandstream-device": {
		admin: func(pw string) string { return "<P2>" + xmlEscaped(pw) + "</P2>" },
		xml:   true,
		line: func(n int, a Account) []string {
			if n == 1 {
				return []string{"<P271>1</P271>", "<P35>" + xmlEscaped(a.SIPUsername) + "</P35>", "<P34>" + xmlEscaped(a.SIPPassword) + "</P34>"}
			}
			return []string{fmt.Sprintf("<P%d01>1</P%d01>", n+2, n+2), fmt.Sprintf("<P%d04>%s</P%d04>", n+2, a.SIPUsername, n+2),
				fmt.Sprintf("<P%d06>%s</P%d06>", n+2, a.SIPPassword, n+2)}
		},
		key: func(k Key, _ int) string {
			mode := map[string]string{KeySpeedDial: "0", KeyPickup: "0", KeyGroupPickup: "0", KeyDND: "0", KeyBLF: "1",
				KeyVoicemail: "6", KeyTransfer: "8", KeyPark: "9", KeyIntercom: "10"}[k.Type]
			return fmt.Sprintf("<P32%d>%s</P32%d>\n    <P3%02d>%d</P3%02d>", k.Index+2, mode, k.Index+2, 3*k.Index-2, k.Line-1, 3*k.Index-2)
		},
	},
	"gigaset-device": {
		admin: func(pw string) string {
			return `<param name="WebUIAccounts.1.Password" value="` + xmlEscaped(pw) + `"/>`
		},
		xml: true,
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf(`<oper name="add_hs" value="%05d">`, n),
				fmt.Sprintf(`<param name="SipAccount.%05d.UserName" value="%s"/>`, n, xmlEscaped(a.SIPUsername)),
				fmt.Sprintf(`<param name="SipAccount.%05d.AuthPassword" value="%s"/>`, n, xmlEscaped(a.SIPPassword)),
				fmt.Sprintf(`<param name="hs.%05d.DECT_AC" value="%s"/>`, n, dectCode(a.Extension))}
		},
	},
	"poly-device": {
		admin: func(pw string) string { return `device.auth.localAdminPassword="` + xmlEscaped(pw) + `"` },
		xml:   true,
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf(`reg.%d.address="%s"`, n, xmlEscaped(a.SIPUsername)), fmt.Sprintf(`reg.%d.auth.password="%s"`, n, xmlEscaped(a.SIPPassword))}
		},
		key: func(k Key, pos int) string {
			return fmt.Sprintf(`attendant.resourceList.%d.address="%s"`, pos, k.Value)
		},
	},
	"cisco-device": {
		admin: func(pw string) string { return `<Admin_Password ua="na">` + xmlEscaped(pw) + `</Admin_Password>` },
		xml:   true,
		line: func(n int, a Account) []string {
			return []string{fmt.Sprintf(`<Line_Enable_%d_ ua="na">Yes</Line_Enable_%d_>`, n, n),
				fmt.Sprintf(`<User_ID_%d_ ua="na">%s</User_ID_%d_>`, n, xmlEscaped(a.SIPUsername), n),
				fmt.Sprintf(`<Password_%d_ ua="na">%s</Password_%d_>`, n, xmlEscaped(a.SIPPassword), n)}
		},
		key: func(k Key, _ int) string {
			label := xmlEscaped(keyLabel(k))
			fnc := map[string]string{KeyBLF: "fnc=blf+sd+cp;sub=305@$PROXY;nme=" + label, KeySpeedDial: "fnc=sd;ext=0612345678@$PROXY;nme=" + label,
				KeyPark: "fnc=prk;sub=701@$PROXY;nme=" + label, KeyPickup: "fnc=sd;ext=**305@$PROXY;nme=" + label,
				KeyGroupPickup: "fnc=sd;ext=*8@$PROXY;nme=" + label, KeyVoicemail: "fnc=sd;ext=*97@$PROXY;nme=" + label,
				KeyDND: "fnc=dnd;nme=" + label, KeyURL: "fnc=xml;url=http://192.0.2.10/xml/menu.xml;nme=" + label}[k.Type]
			switch {
			case k.Module > 0:
				return fmt.Sprintf(`<Unit_%d_Key_%d_ ua="na">%s</Unit_%d_Key_%d_>`, k.Module, k.Index, fnc, k.Module, k.Index)
			case k.Type == KeyLine:
				return fmt.Sprintf(`<Extension_%d_ ua="na">%d</Extension_%d_>`, k.Index, k.Line, k.Index)
			}
			return fmt.Sprintf(`<Extension_%d_ ua="na">Disabled</Extension_%d_>`, k.Index, k.Index) + "\n  " +
				fmt.Sprintf(`<Short_Name_%d_ ua="na">%s</Short_Name_%d_>`, k.Index, label, k.Index) + "\n  " +
				fmt.Sprintf(`<Extended_Function_%d_ ua="na">%s</Extended_Function_%d_>`, k.Index, fnc, k.Index)
		},
	},
}

func yealinkAdmin(pw string) string {
	return "static.security.user_name.admin = admin\nstatic.security.user_password = admin:" + pw + "\n"
}

func snomAdmin(pw string) string {
	return `<http_user perm="R">admin</http_user>` + "\n    " + `<http_pass perm="R">` + xmlEscaped(pw) + `</http_pass>` + "\n    " +
		`<admin_mode_password perm="R">` + xmlEscaped(pw) + `</admin_mode_password>`
}

var akuvoxCodes = map[string]string{KeyLine: "14", KeyBLF: "16", KeySpeedDial: "10", KeyPark: "28", KeyPickup: "7",
	KeyGroupPickup: "8", KeyDND: "1", KeyTransfer: "27", KeyVoicemail: "26", KeyURL: "21", KeyIntercom: "9", KeyForward: "6"}

// keyLabel is the label a key is rendered with (line keys show the line).
func keyLabel(k Key) string {
	if k.Type == KeyLine {
		return []string{"Tom & Jerry", "Line Two", "Ann Three"}[k.Line-1]
	}
	if k.Label == "" {
		return k.Value
	}
	return k.Label
}

var cfgLine = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+ = [^\n]*$`)

// checkCfg: a Yealink file is its version line, then comments, blank lines and
// key = value lines.
func checkCfg(t *testing.T, what, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if lines[0] != "#!version:1.0.0.1" {
		t.Errorf("%s: first line %q", what, lines[0])
	}
	for i, l := range lines[1:] {
		if l != "" && !strings.HasPrefix(l, "#") && !cfgLine.MatchString(l) {
			t.Errorf("%s: line %d is not key = value: %q", what, i+2, l)
		}
	}
}

func TestBuiltinTemplatesRenderLinesAndKeys(t *testing.T) {
	c := loadBuiltin(t)
	tmpls := map[string]Template{}
	for _, tp := range c.Templates {
		tmpls[tp.ID] = tp
	}
	pbxSettings := DefaultPBXSettings()
	pbxSettings.SIPServer, pbxSettings.PickupPrefix, pbxSettings.GroupPickupCode = pbx, "**", "*8"
	pbxSettings.VoicemailNumber, pbxSettings.NTPServer = "*97", "ntp.example.net"
	pbxSettings.PhoneAdminPassword = "Adm1n&<Pass>"
	used := map[string]bool{}
	for _, m := range c.Models {
		tp := tmpls[m.Template]
		spec, ok := vendorSpecs[tp.ID]
		if !ok {
			t.Errorf("model %s: no vendor spec for template %s", m.ID, tp.ID)
			continue
		}
		used[tp.ID] = true
		what := m.ID + " (" + tp.ID + ")"
		d, accounts := sampleDevice(m)
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: sample device: %v", what, err)
		}
		if err := m.checkDevice(&d); err != nil {
			t.Fatalf("%s: sample device: %v", what, err)
		}
		comp, err := Compile(tp.Body, KnownFor(ScopeDevice, nil))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, p := range requiredDevicePlaceholders {
			if !comp.Uses(p) {
				t.Errorf("%s: does not use %%%%%s%%%%", what, p)
			}
		}
		render := func(d Device, pbxSettings PBXSettings) string {
			vars := sampleVars()
			for k, v := range pbxOnlyFrom(pbxSettings) {
				vars[k] = v
			}
			mac, _ := ParseMAC(d.MAC)
			deviceVars(vars, d, mac, m, pbxSettings, accounts[d.Account], m.Brand)
			out, err := comp.RenderScope(nil, deviceScope(comp, vars, d, m, pbxSettings, accounts), tp.Escape)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return string(out)
		}
		out := render(d, pbxSettings)
		if spec.admin == nil {
			t.Fatalf("%s: no admin password expectation", what)
		}
		if want := spec.admin(pbxSettings.PhoneAdminPassword); !strings.Contains(out, want) {
			t.Errorf("%s: the tenant's admin password is not set: output lacks %q", what, want)
		}
		// A device's own password overrides the tenant's.
		own := d
		own.PhonePassword = "Own-Dev1ce-pw"
		if want := spec.admin(own.PhonePassword); !strings.Contains(render(own, pbxSettings), want) {
			t.Errorf("%s: the device's admin password is not used: output lacks %q", what, want)
		}
		if strings.Contains(out, "%%") {
			t.Errorf("%s: output contains %%%%:\n%s", what, out)
		}
		if spec.xml {
			checkWellFormed(t, what, out)
		} else {
			checkCfg(t, what, out)
		}
		for i, l := range d.Lines {
			for _, want := range spec.line(i+1, accounts[l.Account]) {
				if !strings.Contains(out, want) {
					t.Errorf("%s: line %d: output lacks %q\n%s", what, i+1, want, out)
				}
			}
		}
		if len(d.Lines) < min(3, m.Lines) {
			t.Errorf("%s: %d lines", what, len(d.Lines))
		}
		if m.DECTHandsets > 0 && len(d.Lines) != 3 {
			t.Errorf("%s: a DECT base with %d handsets", what, len(d.Lines))
		}
		if len(m.KeyTypes) > 0 {
			if spec.key == nil {
				t.Fatalf("%s: the model has keys, the spec none", what)
			}
			if len(d.Keys) < min(len(m.KeyTypes), 10, m.Keys) {
				t.Errorf("%s: only %d keys fit", what, len(d.Keys))
			}
			for _, k := range d.Keys {
				pos := k.Index
				if k.Module > 0 {
					pos = m.Keys + (k.Module-1)*m.ModuleKeys + k.Index
				}
				if want := spec.key(k, pos); !strings.Contains(out, want) {
					t.Errorf("%s: %s key at %d/%d: output lacks %q\n%s", what, k.Type, k.Module, k.Index, want, out)
				}
			}
			// No canonical key type leaks: the template maps each one.
			for _, typ := range m.KeyTypes {
				if containsStr(spec.native, typ) {
					continue
				}
				if strings.Contains(out, ">"+typ+"<") || strings.Contains(out, "= "+typ+"\n") || strings.Contains(out, `="`+typ+`"`) {
					t.Errorf("%s: key type %q reached the file unmapped", what, typ)
				}
			}
		} else if spec.key != nil && m.Keys > 0 {
			t.Errorf("%s: keys without key types", what)
		}
		// The transport reaches the file: UDP and TLS render differently.
		tls := pbxSettings
		tls.Transport = "tls"
		for _, a := range accounts {
			a.Transport = ""
			accounts[a.ID] = a
		}
		if render(d, tls) == render(d, pbxSettings) {
			t.Errorf("%s: the transport does not change the file", what)
		}
		// One line less: the model's other accounts are turned off or absent.
		fewer := d
		fewer.Lines = d.Lines[:1]
		fewer.Keys = nil
		one := render(fewer, pbxSettings)
		for _, want := range spec.line(2, accounts[d.Lines[min(1, len(d.Lines)-1)].Account]) {
			if len(d.Lines) > 1 && strings.Contains(one, want) {
				t.Errorf("%s: with one line, line 2 is still in the file (%q)", what, want)
			}
		}
	}
	for id, tp := range tmpls {
		if tp.Scope == ScopeDevice && !used[id] {
			t.Errorf("device template %s is used by no model", id)
		}
	}
}

// pbxOnlyFrom is the PBX placeholders of p, as the renderer sets them.
func pbxOnlyFrom(p PBXSettings) map[string]string {
	s := &Service{cfg: Config{BaseURL: "http://" + pbx}}
	return s.pbxVars(Tenant{ID: "0b6a1c1e-6d7c-4f55-9d2a-3c9a7e1f0a11"}, p)
}

func TestBuiltinCommonTemplatesRender(t *testing.T) {
	c := loadBuiltin(t)
	tmpls := map[string]Template{}
	for _, tp := range c.Templates {
		tmpls[tp.ID] = tp
	}
	for _, m := range c.Models {
		for _, cf := range m.CommonFiles {
			ct, ok := tmpls[cf.Template]
			if !ok || ct.Scope != ScopeCommon {
				t.Errorf("model %s: common file %s: template %q is not a common template", m.ID, cf.Name, cf.Template)
				continue
			}
			what := m.ID + " " + cf.Name + " (" + ct.ID + ")"
			_, out := renderTemplate(t, ct, ScopeCommon, pbxOnly(sampleVars()))
			if strings.Contains(out, "%%") {
				t.Errorf("%s: output contains %%%%:\n%s", what, out)
			}
			if strings.Contains(out, "p&ss") || strings.Contains(out, "201") {
				t.Errorf("%s: a common file carries account data", what)
			}
			if ct.Escape == EscapeXML {
				checkWellFormed(t, what, out)
			}
		}
	}
}

// developerNotes are words that belong in the catalog's comments, never in a
// customer's file.
var developerNotes = []string{"UNVERIFIED", "TODO", "FIXME", "XXX", "HACK", "wazo", "Tancredi"}

// TestNoDeveloperNotesInFiles renders every file of every built-in model
// (device and common files) and scans it for developer notes.
func TestNoDeveloperNotesInFiles(t *testing.T) {
	c := loadBuiltin(t)
	tmpls := map[string]Template{}
	for _, tp := range c.Templates {
		tmpls[tp.ID] = tp
	}
	p := DefaultPBXSettings()
	p.SIPServer, p.PhoneAdminPassword = pbx, "Adm1n-Pass"
	files := 0
	for _, m := range c.Models {
		tp := tmpls[m.Template]
		comp, err := Compile(tp.Body, KnownFor(ScopeDevice, nil))
		if err != nil {
			t.Fatal(err)
		}
		d, accounts := sampleDevice(m)
		vars := pbxOnlyFrom(p)
		mac, _ := ParseMAC(d.MAC)
		deviceVars(vars, d, mac, m, p, accounts[d.Account], m.Brand)
		out, err := comp.RenderScope(nil, deviceScope(comp, vars, d, m, p, accounts), tp.Escape)
		if err != nil {
			t.Fatal(err)
		}
		rendered := map[string]string{m.File.Name(mac): string(out)}
		for _, cf := range m.CommonFiles {
			ct := tmpls[cf.Template]
			cc, err := Compile(ct.Body, KnownFor(ScopeCommon, nil))
			if err != nil {
				t.Fatal(err)
			}
			rendered[cf.Name] = string(cc.Append(nil, pbxOnlyFrom(p), ct.Escape))
		}
		for name, body := range rendered {
			files++
			for _, note := range developerNotes {
				if strings.Contains(strings.ToLower(body), strings.ToLower(note)) {
					t.Errorf("model %s: %s contains %q", m.ID, name, note)
				}
			}
		}
	}
	if files < len(c.Models) {
		t.Errorf("%d files for %d models", files, len(c.Models))
	}
}
