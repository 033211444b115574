package provision

// Fuzz targets for what phones and installers send: MAC addresses, template text
// and requested paths. Run one with e.g.
//
//	go test ./provision/ -run '^$' -fuzz '^FuzzResolve$' -fuzztime 30s

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{
		"001565ABCDEF", "001565abcdef", "00:15:65:AB:CD:EF", "00:15:65:ab:cd:ef", "00-15-65-AB-CD-EF", "00-15-65-ab-cd-ef",
		"00:15-65:ab:cd:ef", "00.15.65.ab.cd.ef", "001565abcde", "001565abcdeg", "ffffffffffff", "000000000000",
		"0:015:65:AB:CD:EF", "00:15:65:AB:CD:E\x00", "", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4", "ａｂ:15:65:AB:CD:EF",
		"001565AABBCC", "00:15:65:aa:bb:cc", "00-15-65-AA-BB-CC", "00:15-65:aa:bb:cc", "0015", "zz1565aabbcc", "00:15:65:aa:bb:c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return // (the MAC returned with an error is partly filled: see the report)
		}
		// Whatever was accepted is one of the documented formats, in either case.
		matched := false
		for _, fm := range MACFormats {
			out := m.Format(fm)
			matched = matched || strings.EqualFold(out, s)
			back, err := ParseMAC(out)
			if err != nil || back != m {
				t.Fatalf("%q -> %v -> %s %q -> %v, %v", s, m, fm, out, back, err)
			}
		}
		if !matched {
			t.Fatalf("%q accepted as %v but is none of the formats", s, m)
		}
		if n := m.String(); len(n) != 12 || strings.ToUpper(n) != n || MustMAC(n) != m {
			t.Fatalf("%q: String %q", s, n)
		}
	})
}

func FuzzCompileRender(f *testing.F) {
	for _, s := range []string{
		"user=%%ACCOUNT_SIP_USERNAME%%\npass=%%ACCOUNT_SIP_PASSWORD%%\n",
		"mode=%%IPADDRMODE|dhcp=0|static=2%%",
		"%%IPADDRMODE|dhcp%%", "%%A|=|=%%", "%%A||%%",
		"%%%%", "%%%%%%", "%%%%MAC%%%%", "100%% sure", "%", "%%", "%%\n%%", "%%MAC\n%%MAC%%",
		"%%A B%% %%MAC%%", "%%%%|x=y%%", "<a>%%X%%</a>", "%%_CUSTOM%%", "%%_%%", "a\r\nb=%%V%%\r\n",
		"%%\xff%%", "\x00%%\x00%%", strings.Repeat("%%X", 50), strings.Repeat("%%", 33),
		"a=%%ACCOUNT_EXTENSION%%\n", "%%X\n%%", "%%A|b%%", "<x>%%ACCOUNT_DISPLAY_NAME%%</x>",
		"%%FOR LINES%%account.%%LINE_NUMBER%%.user = %%LINE_SIP_USERNAME%%\n%%END%%",
		"%%FOR ALL KEYS%%%%IF KEY_TYPE%%k%%KEY_INDEX%%=%%KEY_TYPE|blf=16%%%%ELSE%%k%%KEY_INDEX%%=0%%END%%\n%%END%%",
		"%%IF IPADDRMODE=static%%ip=%%IPADDR%%%%ELSE%%dhcp%%END%%", "%%IF X!=a|b%%%%END%%", "%%END%%", "%%ELSE%%",
		"%%FOR LINES%%%%FOR KEYS%%%%END%%%%END%%", "%%FOR NOPE%%", "%%IF %%", "%%IF A=%%x%%END%%", "%%LINE_NUMBER%%",
		"%%FOR KEYS%%\n%%IF KEY_MODULE=0%%a%%ELSE%%b%%ELSE%%c%%END%%%%END%%",
		"%%KPBX_LANGUAGE|en=English|*=English%%", "%%A|*=%%", "%%A|*=1|*=2%%",
	} {
		f.Add(s)
	}
	all := func(string) bool { return true }
	none := func(string) bool { return false }
	// values returns vars naming every placeholder of c with value v.
	values := func(c *Compiled, v string) map[string]string {
		m := map[string]string{}
		for _, n := range c.Names() {
			m[n] = v
		}
		return m
	}
	// loops gives every loop two iterations whose placeholders all hold v.
	loops := func(c *Compiled, v string) *Scope {
		sc := &Scope{Vars: values(c, v)}
		for i := 0; i < 2; i++ {
			sc.Lines = append(sc.Lines, values(c, v))
			sc.AllLines = append(sc.AllLines, values(c, v))
			sc.Keys = append(sc.Keys, values(c, v))
			sc.AllKeys = append(sc.AllKeys, values(c, v))
		}
		return sc
	}
	f.Fuzz(func(t *testing.T, body string) {
		render := func(c *Compiled, sc *Scope, esc string) string {
			b, err := c.RenderScope(nil, sc, esc)
			if err != nil && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%q: render: %v", body, err)
			}
			return string(b)
		}
		c, err := Compile(body, all)
		if err != nil {
			// With every name known, only a malformed mapping or directive, or a
			// loop placeholder outside its loop, fails: on the line that holds it.
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("%q: %v", body, err)
			}
			checkTemplateErr(t, body, te)
			return
		}
		// Deterministic, and the entry points agree.
		for _, esc := range []string{EscapeNone, EscapeXML} {
			for _, v := range []string{"", "v", "a\nb\r\nc", `<&>"'`, "%%MAC%%"} {
				vars := values(c, v)
				var b1, b2 strings.Builder
				c.Render(&b1, vars, esc)
				c.Render(&b2, vars, esc)
				if b1.String() != b2.String() || string(c.Append(nil, vars, esc)) != b1.String() {
					t.Fatalf("%q: rendering is not deterministic", body)
				}
				if r1, r2 := render(c, loops(c, v), esc), render(c, loops(c, v), esc); r1 != r2 {
					t.Fatalf("%q: rendering with loops is not deterministic", body)
				}
			}
		}
		// Values missing from vars render too, and alike every time.
		for _, esc := range []string{EscapeNone, EscapeXML} {
			if string(c.Append(nil, nil, esc)) != string(c.Append(nil, map[string]string{}, esc)) {
				t.Fatalf("%q: rendering without values is not deterministic", body)
			}
		}
		// A value never adds a line to a plain file, nor markup to an XML one,
		// in loops or out of them.
		for _, sc := range []func(string) *Scope{
			func(v string) *Scope { return &Scope{Vars: values(c, v)} },
			func(v string) *Scope { return loops(c, v) },
		} {
			plain, clean := render(c, sc("x\ny\r\n"), EscapeNone), render(c, sc("x y  "), EscapeNone)
			if strings.Count(plain, "\n") != strings.Count(clean, "\n") {
				t.Fatalf("%q: values added lines: %q", body, plain)
			}
			safe, evil := render(c, sc("v"), EscapeXML), render(c, sc("<x>&"), EscapeXML)
			if strings.Count(evil, "<") != strings.Count(safe, "<") || strings.Count(evil, ">") != strings.Count(safe, ">") {
				t.Fatalf("%q: a value added markup: %q", body, evil)
			}
		}
		if mixed := string(c.Append(nil, values(c, "A & <B>\nC"), EscapeXML)); !strings.Contains(body, "A & <B>") && strings.Contains(mixed, "A & <B>") {
			t.Fatalf("%q: XML value not escaped: %q", body, mixed)
		}
		// Without loops, loop data changes nothing.
		if !c.UsesLoop(LoopLines) && !c.UsesLoop(LoopAllLines) && !c.UsesLoop(LoopKeys) && !c.UsesLoop(LoopAllKeys) {
			sc := loops(c, "v")
			if render(c, sc, EscapeNone) != render(c, &Scope{Vars: sc.Vars}, EscapeNone) {
				t.Fatalf("%q: loop data changed a template without loops", body)
			}
		}
		// Knowing no name: the first placeholder or directive is the error, on
		// its own line.
		if _, err := Compile(body, none); err != nil {
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("%q: %v", body, err)
			}
			checkTemplateErr(t, body, te)
		} else if len(c.Names()) != 0 {
			t.Fatalf("%q: uses %v, yet compiles knowing no name", body, c.Names())
		} else if out := string(c.Append(nil, nil, EscapeNone)); out != strings.ReplaceAll(body, "%%%%", "%%") {
			// Without placeholders or directives the text stays, but for the
			// escaped %%.
			t.Fatalf("placeholder-free template changed: %q -> %q", body, out)
		}
	})
}

// checkTemplateErr: the error's line exists and holds the placeholder it names.
func checkTemplateErr(t *testing.T, body string, te *TemplateError) {
	t.Helper()
	lines := strings.Split(body, "\n")
	if te.Line < 1 || te.Line > len(lines) {
		t.Fatalf("%q: line %d of %d", body, te.Line, len(lines))
	}
	if te.Name == "" || !strings.Contains(lines[te.Line-1], te.Name) || !strings.Contains(lines[te.Line-1], "%%") {
		t.Fatalf("%q: %v: line %d is %q", body, te, te.Line, lines[te.Line-1])
	}
	if !strings.Contains(te.Error(), te.Name) {
		t.Fatalf("message %q does not name %s", te.Error(), te.Name)
	}
}

func FuzzResolve(f *testing.F) {
	single := pvStart(f, ModeSingle)
	multi := pvStart(f, ModeMulti)
	tenant := multi.tenant
	// A device of a built-in model, for the catalog's common file.
	const common = "y000000000096.cfg"
	for _, e := range []*pvEnv{single, multi} {
		if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00:15:65:99:88:77","model":"yealink-t54w"}`)); err != nil {
			f.Fatal(err)
		}
		e.sync(f)
		prefix := ""
		if e == multi {
			prefix = e.tenant + "/"
		}
		for _, name := range []string{pvFile, common} {
			if got, err := e.s.Resolve(prefix + name); err != nil || got.File == nil || got.Tenant != e.tenant || got.Name != name {
				f.Fatalf("%s does not resolve: %+v %v", prefix+name, got, err)
			}
		}
		if got, err := e.s.Resolve(prefix + pvAsset); err != nil || got.Asset == nil {
			f.Fatalf("%s does not resolve: %+v %v", prefix+pvAsset, got, err)
		}
	}
	// The multi-tenant tree serves device files only under their token.
	if _, err := multi.s.SetPBX(multi.ctx, multi.actor, multi.tenant, json.RawMessage(`{"secure_urls":true}`)); err != nil {
		f.Fatal(err)
	}
	multi.sync(f)
	for _, p := range []string{
		single.token + "/" + pvFile, tenant + "/" + multi.token + "/" + pvFile, tenant + "/" + multi.token + "/" + pvAsset,
		tenant + "/" + multi.token + "/001565998877.cfg", tenant + "/" + single.token + "/" + pvFile, multi.token + "//" + pvFile,
		tenant + "/" + multi.token + "/../" + pvFile, tenant + "/" + multi.token + "/phonebook/yealink.xml",
		pvFile, pvAsset, "001565abcdef.cfg", "nothing.cfg", "../" + pvFile, "/" + pvFile, "/etc/passwd", "a//b", "a/", ".", "..",
		"./" + pvFile, `a\b`, pvFile + "\x00", "a%2e%2e", "", strings.Repeat("a", 129), strings.Repeat("a/", 257),
		tenant + "/" + pvFile, tenant + "/" + pvAsset, tenant + "/../" + tenant + "/" + pvFile, strings.ToUpper(tenant) + "/" + pvFile,
		"{" + tenant + "}/" + pvFile, tenant + "//" + pvFile, tenant + "/", tenant + "/..", "6f1c2a5e-0000-4000-8000-000000000000/" + pvFile,
		"y000000000123.cfg", "SEP001565ABCDEF.cnf.xml", "\xff\xfe/" + pvFile,
		"a/" + pvFile, "x\\y", strings.Repeat("a", 600), "001565ABCDEF.cfg", common, tenant + "/" + common,
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, e := range []*pvEnv{single, multi} {
			got, err := e.s.Resolve(p)
			if err != nil {
				if !errors.Is(err, ErrBadPath) && !errors.Is(err, ErrNoTenant) && !errors.Is(err, ErrNoFile) {
					t.Fatalf("%q: unexpected error %v", p, err)
				}
				if got.File != nil || got.Asset != nil {
					t.Fatalf("%q: error %v, yet a file", p, err)
				}
				if got.MAC != "" {
					if m, err := ParseMAC(got.MAC); err != nil || m.String() != got.MAC {
						t.Fatalf("%q: unknown MAC %q", p, got.MAC)
					}
				}
				continue
			}
			if got.File == nil && got.Asset == nil {
				t.Fatalf("%q: no error and nothing to serve", p)
			}
			for _, name := range []string{got.Name, fileName(got)} {
				if name == "" || strings.Contains(name, "..") || strings.ContainsAny(name, "/\\\x00") {
					t.Fatalf("%q resolved outside the tree: %q", p, name)
				}
			}
			if got.Tenant != e.tenant {
				t.Fatalf("%q resolved in tenant %q", p, got.Tenant)
			}
			// The name is taken as it is; only the tenant's UUID may differ in case.
			name := p
			if e == multi {
				var dir string
				dir, name, _ = strings.Cut(p, "/")
				if !strings.EqualFold(dir, got.Tenant) {
					t.Fatalf("%q resolved in tenant %q", p, got.Tenant)
				}
			}
			// Only the device's own token opens its file; the secure tree
			// serves no device file by name.
			if got.Token {
				tok, rest, _ := strings.Cut(name, "/")
				if tok != e.token && got.File != nil && got.File.Device != "" || !isURLToken(tok) {
					t.Fatalf("%q: token %q served %+v", p, tok, got.File)
				}
				name = rest
			} else if e == multi && got.File != nil && got.File.Device != "" && (!got.Bootstrap || bytes.Contains(got.File.Body, []byte(e.token))) {
				// By name, a secure tree serves a device's closed bootstrap
				// file at most (no window is open in the fuzz tree).
				t.Fatalf("%q: a device file by name in a secure tree", p)
			}
			if name != got.Name {
				t.Fatalf("%q resolved to %q", p, got.Name)
			}
		}
	})
}

func fileName(t Target) string {
	if t.File != nil {
		return t.File.Name
	}
	return t.Asset.Name
}

// FuzzImportCSV feeds the CSV import (what an installer uploads to
// POST .../accounts.csv and .../devices.csv) arbitrary files, into a real store
// that already holds an account and a device: an import either succeeds or is
// refused as a whole with a validation or conflict error naming a field, and a
// refused one changes nothing.
func FuzzImportCSV(f *testing.F) {
	e := pvStart(f, ModeSingle)
	for _, s := range []string{
		"extension,sip_password\n301,pw-301\n302,pw-302\n",
		"extension,sip_username,auth_username,sip_password,display_name,first_name,last_name,voicemail,transport\n201,201,201,x,Ada,Ada,L,,udp\n",
		"\ufeffExtension, SIP_Password\n 303 , pw \n",
		"extension,sip_password\n301,\"multi\nline\"\n",
		"extension\n201\n",
		"extension,bogus\n1,2\n",
		"extension,sip_password\n1\n",
		"extension,sip_password\n\"unterminated\n",
		"",
		"mac,model,account_extension\n00:15:65:AA:00:01,yealink-t54w,301\n",
		"mac,model,template,account_extension,enabled,notes,ip_mode,ip_address,netmask,gateway,dns1,dns2,phone_username,phone_password,remote_address,remote_port\n" +
			"001565aa0002,yealink-t54w,,201,yes,n,static,192.0.2.5,255.255.255.0,192.0.2.1,192.0.2.1,,admin,********,,5060\n",
		"mac,model,enabled,remote_port\n00-15-65-AA-00-03,yealink-t54w,maybe,x\n",
		"mac,model\n00:15:65:AA:00:04,yealink-t54w\n00:15:65:aa:00:04,yealink-t54w\n",
		"mac,model,account_extension\nnot-a-mac,m,\n",
	} {
		f.Add(strings.HasPrefix(s, "mac"), s)
	}
	f.Fuzz(func(t *testing.T, devices bool, data string) {
		rev := e.st.Revision()
		var err error
		if devices {
			_, err = e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(data))
		} else {
			_, err = e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(data))
		}
		if err == nil {
			return
		}
		var ve *store.ValidationError
		var ce *store.ConflictError
		switch {
		case errors.As(err, &ve) && ve.Field != "":
		case errors.As(err, &ce):
		default:
			t.Fatalf("%q: refused without naming a field: %v", data, err)
		}
		if got := e.st.Revision(); got != rev {
			t.Fatalf("%q: refused (%v) yet the revision moved %d -> %d", data, err, rev, got)
		}
	})
}

// FuzzCSVRows is the CSV import's parsing without the store, fast enough to
// explore: the header and records of an arbitrary upload, each row turned into
// the patch the import saves and merged into an Account or a Device as the
// import does. Nothing may panic; a refusal is a validation error naming a
// field and a line; a patch is a JSON object the strict merge accepts or
// refuses naming a field.
func FuzzCSVRows(f *testing.F) {
	for _, s := range []string{
		"extension,sip_password\n301,pw-301\n302,pw-302\n",
		"\ufeffExtension, SIP_Password\n 303 , pw \n",
		"extension,sip_password\n301,\"multi\nline\"\n",
		"extension,sip_password\n\"unterminated\n",
		"extension,sip_password\n1\n",
		"extension,bogus\n1,2\n",
		"",
		"mac,model,account_extension,enabled,remote_port\n00:15:65:AA:00:01,yealink-t54w,201,no,5060\n",
		"mac,model,account_extension\n00:15:65:AA:00:01,m,999\n",
		"mac,model,enabled,remote_port,phone_password\n001565aa0003,m,maybe,x,********\n",
		"mac,model\n\"00:15\"65,m\n",
	} {
		f.Add(strings.HasPrefix(s, "mac"), s)
	}
	accByExt := map[string]string{"201": "6f1c2a5e-0000-4000-8000-000000000201"}
	named := func(err error) bool {
		var ve *store.ValidationError
		return errors.As(err, &ve) && ve.Field != ""
	}
	f.Fuzz(func(t *testing.T, devices bool, data string) {
		cols, required := AccountColumns, []string{"extension"}
		if devices {
			cols, required = DeviceColumns, []string{"mac", "model"}
		}
		err := readCSV(strings.NewReader(data), cols, required, func(line int, rec map[string]string) error {
			for k := range rec {
				if !containsStr(cols, k) {
					t.Fatalf("%q: column %q passed the header check", data, k)
				}
			}
			var patch json.RawMessage
			var target any
			if devices {
				mac, err := ParseMAC(rec["mac"])
				if err != nil {
					return lineErr(line, "mac", "%v", err)
				}
				if patch, err = deviceRowPatch(line, rec, mac, line%2 == 0, accByExt); err != nil {
					if !named(err) {
						t.Fatalf("%q: row refused without a field: %v", data, err)
					}
					return err
				}
				target = &Device{}
			} else {
				patch = accountRowPatch(rec, line%2 == 0)
				target = &Account{}
			}
			if err := strictMerge(target, keepMasked(patch, "sip_password", "phone_password")); err != nil {
				if !named(err) {
					t.Fatalf("%q: patch %s refused without a field: %v", data, patch, err)
				}
				return err
			}
			if a, ok := target.(*Account); ok {
				a.Validate() // must not panic; the import reports it
			}
			return nil
		})
		if err != nil && !named(err) {
			var ve *store.ValidationError
			if errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "provision: reading the CSV") {
				t.Fatalf("%q: refused without a field: %v", data, err)
			}
		}
	})
}
