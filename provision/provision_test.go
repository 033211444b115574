package provision

// Unit tests of the domain core: MAC parsing and formats, template compilation and
// rendering, path resolution, device rules and CSV import/export. The services run
// over a real store in a temporary directory with their own template and model, so
// they do not depend on the built-in catalog.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// pvEnv is a running provisioning service with one device file and one asset.
type pvEnv struct {
	ctx     context.Context
	st      *store.Store
	s       *Service
	actor   store.Actor
	tenant  string
	tmpl    string // the device template
	model   string // model M: <aabbccddeeff>.cfg
	account string
	device  string
	token   string // the device's secret URL token
}

const (
	pvMAC   = "00:15:65:12:34:56"
	pvFile  = "001565123456.cfg"
	pvAsset = "fw-1.0.bin"
)

func pvStart(tb testing.TB, mode string) *pvEnv {
	tb.Helper()
	return pvStartWith(tb, mode, Config{}, nil)
}

// pvStartWith starts the service with cfg's non-zero fields over the test's, and
// calls setup (when not nil) before Serve; setup may take over the delivery of
// commits, which the store's hook does otherwise.
func pvStartWith(tb testing.TB, mode string, over Config, setup func(*Service, *store.Store) bool) *pvEnv {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := tb.TempDir()
	st, err := store.Open(ctx, store.DefaultConfig(dir))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	e := &pvEnv{ctx: ctx, st: st, actor: store.Actor{User: "test", IP: "127.0.0.1"}}
	cfg := DefaultConfig()
	cfg.BaseURL, cfg.UnknownBurst, cfg.UnknownInterval, cfg.InterfacePoll = "http://127.0.0.1:8080", 5, time.Minute, over.InterfacePoll
	e.s, err = New(st, TenancyConfig{Mode: mode, DefaultTenant: "default"}, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if setup == nil || !setup(e.s, st) {
		tb.Cleanup(st.Subscribe(e.s.Commit)) // what the component runner does in serve
	}
	e.s.AssetDir(filepath.Join(dir, "assets"))
	ten, err := e.s.EnsureDefaultTenant(ctx)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	e.tenant = ten.ID
	// The fixture serves device files by name (as tenants made before secret
	// URLs do); TestSecureURLs turns them on.
	if _, err := e.s.SetPBX(ctx, e.actor, ten.ID, json.RawMessage(`{"secure_urls":false}`)); err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { e.s.Serve(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })

	t, err := e.s.SaveTemplate(ctx, e.actor, "", "", json.RawMessage(
		`{"name":"t","scope":"device","escape":"none","body":"user=%%ACCOUNT_SIP_USERNAME%%\npass=%%ACCOUNT_SIP_PASSWORD%%\n"}`))
	if err != nil {
		tb.Fatal(err)
	}
	e.tmpl = t.ID
	m, err := e.s.SaveModel(ctx, e.actor, "", "", json.RawMessage(
		`{"name":"M","brand":"acme","template":"`+t.ID+`","file":{"prefix":"","mac_format":"aabbccddeeff","suffix":".cfg"}}`))
	if err != nil {
		tb.Fatal(err)
	}
	e.model = m.ID
	a, err := e.s.SaveAccount(ctx, e.actor, e.tenant, "", json.RawMessage(`{"extension":"201","sip_password":"secret-201"}`))
	if err != nil {
		tb.Fatal(err)
	}
	e.account = a.ID
	d, err := e.s.SaveDevice(ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"`+pvMAC+`","model":"`+m.ID+`","account":"`+a.ID+`"}`))
	if err != nil {
		tb.Fatal(err)
	}
	e.device, e.token = d.ID, d.URLToken
	if _, err := e.s.PutAsset(ctx, e.actor, e.tenant, pvAsset, strings.NewReader("firmware bytes")); err != nil {
		tb.Fatal(err)
	}
	e.sync(tb)
	if f, ok := e.s.Lookup(e.tenant, pvFile); !ok || string(f.Body) != "user=201\npass=secret-201\n" {
		tb.Fatalf("device file: %v %+v", ok, f)
	}
	return e
}

func (e *pvEnv) sync(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.s.WaitRendered(ctx, e.st.Revision()); err != nil {
		tb.Fatal(err)
	}
}

func (e *pvEnv) countDevices(t *testing.T, tenant string) int {
	t.Helper()
	list, err := e.s.Devices(e.ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func (e *pvEnv) countAccounts(t *testing.T, tenant string) int {
	t.Helper()
	list, err := e.s.Accounts(e.ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// ---- MAC ----

func TestParseMACTable(t *testing.T) {
	want := MAC{0x00, 0x15, 0x65, 0xab, 0xcd, 0xef}
	for _, s := range []string{
		"001565ABCDEF", "001565abcdef", "001565AbCdEf",
		"00:15:65:AB:CD:EF", "00:15:65:ab:cd:ef",
		"00-15-65-AB-CD-EF", "00-15-65-ab-cd-ef",
	} {
		m, err := ParseMAC(s)
		if err != nil || m != want {
			t.Errorf("ParseMAC(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{
		"", "0", "001565ABCDE", "001565ABCDEF0", "00:15:65:AB:CD", "00:15:65:AB:CD:EF:01",
		"00:15-65:AB:CD:EF", "00-15-65-AB-CD:EF", // mixed separators
		"00.15.65.AB.CD.EF", "00 15 65 AB CD EF", "0015.65AB.CDEF", // other separators
		"001565ABCDEG", "00156xABCDEF", "00:15:65:AB:CD:EG", "zz-15-65-ab-cd-ef", // not hex
		"0:015:65:AB:CD:EF", "001:5:65:AB:CD:EF", // misplaced separators
		" 001565ABCDE", "001565ABCDE ", "+01565ABCDEF", "-01565ABCDEF", "0x1565ABCDEF",
		"00:15:65:ab:cd:\x00f", "００1565ABCDEF",
	} {
		if m, err := ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q) = %v, want an error", s, m)
		}
	}
}

func TestMACFormat(t *testing.T) {
	m := MAC{0x00, 0x15, 0x65, 0xab, 0xcd, 0xef}
	want := map[string]string{
		MACUpper:      "001565ABCDEF",
		MACLower:      "001565abcdef",
		MACColonUpper: "00:15:65:AB:CD:EF",
		MACColonLower: "00:15:65:ab:cd:ef",
		MACDashUpper:  "00-15-65-AB-CD-EF",
		MACDashLower:  "00-15-65-ab-cd-ef",
	}
	if len(MACFormats) != 6 {
		t.Fatalf("MACFormats has %d entries", len(MACFormats))
	}
	for _, f := range MACFormats {
		if got := m.Format(f); got != want[f] {
			t.Errorf("Format(%s) = %q, want %q", f, got, want[f])
		}
		if !ValidMACFormat(f) {
			t.Errorf("ValidMACFormat(%s) = false", f)
		}
		if back, err := ParseMAC(m.Format(f)); err != nil || back != m {
			t.Errorf("%s does not parse back: %v %v", f, back, err)
		}
	}
	if got := m.Format("bogus"); got != "001565ABCDEF" {
		t.Errorf("unknown format: %q", got)
	}
	if ValidMACFormat("bogus") || ValidMACFormat("") {
		t.Error("ValidMACFormat accepts nonsense")
	}
	if m.String() != "001565ABCDEF" || m.OUI() != "001565" {
		t.Errorf("String %q OUI %q", m.String(), m.OUI())
	}
	if got := (MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).Format(MACDashLower); got != "ff-ff-ff-ff-ff-ff" {
		t.Errorf("broadcast: %q", got)
	}
}

// ---- templates ----

func TestCompileRenderTable(t *testing.T) {
	vars := map[string]string{
		"ACCOUNT_SIP_USERNAME": "201",
		"ACCOUNT_DISPLAY_NAME": `Tom & "Jerry" <x> 'y'`,
		"IPADDRMODE":           "static",
		"MAC":                  "001565ABCDEF",
		"KPBX_IP_ADDRESS":      "10.0.0.1",
		"PHONEPASSWORD":        "a\nb\r\nc",
		"_REGISTRAR":           "sip.example.com",
	}
	custom := func(n string) bool { return n == "_REGISTRAR" }
	cases := []struct {
		name   string
		body   string
		scope  string
		escape string
		vars   map[string]string
		want   string
		errNm  string // expected unknown placeholder
		errLn  int
	}{
		{name: "plain", body: "user=%%ACCOUNT_SIP_USERNAME%%\n", want: "user=201\n"},
		{name: "two on a line", body: "%%MAC%%-%%ACCOUNT_SIP_USERNAME%%", want: "001565ABCDEF-201"},
		{name: "missing value is empty", body: "[%%IPADDR%%]", want: "[]"},
		{name: "unknown, line 1", body: "x=%%NOPE%%\n", errNm: "NOPE", errLn: 1},
		{name: "unknown, line 3", body: "a=1\nb=%%MAC%%\nc=%%NO_SUCH%%\n", errNm: "NO_SUCH", errLn: 3},
		{name: "first unknown wins", body: "\n\n%%FIRST%%\n%%SECOND%%", errNm: "FIRST", errLn: 3},
		{name: "custom undefined", body: "r=%%_OTHER%%", errNm: "_OTHER", errLn: 1},
		{name: "custom defined", body: "r=%%_REGISTRAR%%", want: "r=sip.example.com"},
		{name: "mapping hit", body: "mode=%%IPADDRMODE|dhcp=0|static=2%%", want: "mode=2"},
		{name: "mapping hit dhcp", body: "mode=%%IPADDRMODE|dhcp=0|static=2%%", vars: map[string]string{"IPADDRMODE": "dhcp"}, want: "mode=0"},
		{name: "mapping miss passes", body: "mode=%%IPADDRMODE|dhcp=0%%", want: "mode=static"},
		{name: "mapping to empty", body: "[%%IPADDRMODE|static=%%]", want: "[]"},
		{name: "mapping without =", body: "\nmode=%%IPADDRMODE|dhcp%%", errNm: "IPADDRMODE", errLn: 2},
		{name: "escaped %%", body: "100%%%% sure", want: "100%% sure"},
		{name: "six percent", body: "%%%%%%", want: "%%%%"},
		{name: "literal placeholder", body: "%%%%MAC%%%%", want: "%%MAC%%"},
		{name: "unclosed", body: "a %%MAC\nb", want: "a %%MAC\nb"},
		{name: "unclosed at end", body: "a %%", want: "a %%"},
		{name: "single percent", body: "50% %MAC% %%MAC%%", want: "50% %MAC% 001565ABCDEF"},
		{name: "does not span lines", body: "%%MAC\n%%", want: "%%MAC\n%%"},
		{name: "line count after a broken one", body: "%%MA\nC%%\n%%BAD%%", errNm: "BAD", errLn: 3},
		{name: "not a name", body: "%%A B%% %%MAC%%", want: "%%A B%% 001565ABCDEF"},
		{name: "empty name", body: "%%%% %%|x=y%%", want: "%% %%|x=y%%"},
		{name: "xml escaping", body: "<n>%%ACCOUNT_DISPLAY_NAME%%</n>", escape: EscapeXML,
			want: "<n>Tom &amp; &quot;Jerry&quot; &lt;x&gt; &apos;y&apos;</n>"},
		{name: "xml escapes mapped values", body: "%%IPADDRMODE|static=<&>%%", escape: EscapeXML, want: "&lt;&amp;&gt;"},
		{name: "plain leaves markup", body: "%%ACCOUNT_DISPLAY_NAME%%", want: `Tom & "Jerry" <x> 'y'`},
		{name: "plain strips newlines", body: "pw=%%PHONEPASSWORD%%\nnext=1\n", want: "pw=a b  c\nnext=1\n"},
		{name: "common scope takes PBX", body: "srv=%%KPBX_IP_ADDRESS%%", scope: ScopeCommon, want: "srv=10.0.0.1"},
		{name: "common scope takes custom", body: "srv=%%_REGISTRAR%%", scope: ScopeCommon, want: "srv=sip.example.com"},
		{name: "common scope refuses ACCOUNT_", body: "\npw=%%ACCOUNT_SIP_PASSWORD%%", scope: ScopeCommon, errNm: "ACCOUNT_SIP_PASSWORD", errLn: 2},
		{name: "common scope refuses device", body: "%%MAC%%", scope: ScopeCommon, errNm: "MAC", errLn: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scope := c.scope
			if scope == "" {
				scope = ScopeDevice
			}
			escape := c.escape
			if escape == "" {
				escape = EscapeNone
			}
			v := vars
			if c.vars != nil {
				v = c.vars
			}
			comp, err := Compile(c.body, KnownFor(scope, custom))
			if c.errNm != "" {
				var te *TemplateError
				if !errors.As(err, &te) {
					t.Fatalf("err = %v, want a TemplateError", err)
				}
				if te.Name != c.errNm || te.Line != c.errLn {
					t.Errorf("error names %q line %d, want %q line %d", te.Name, te.Line, c.errNm, c.errLn)
				}
				if msg := err.Error(); !strings.Contains(msg, c.errNm) || !strings.Contains(msg, fmt.Sprintf("line %d", c.errLn)) {
					t.Errorf("message %q does not name %s and line %d", msg, c.errNm, c.errLn)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			comp.Render(&b, v, escape)
			if b.String() != c.want {
				t.Errorf("Render = %q, want %q", b.String(), c.want)
			}
			if got := string(comp.Append([]byte("prefix:"), v, escape)); got != "prefix:"+c.want {
				t.Errorf("Append = %q", got)
			}
		})
	}
	c, err := Compile("%%MAC%% %%MAC%% %%IPADDRMODE|a=b%%", KnownFor(ScopeDevice, nil))
	if err != nil {
		t.Fatal(err)
	}
	names := c.Names()
	slices.Sort(names)
	if !slices.Equal(names, []string{"IPADDRMODE", "MAC"}) || !c.Uses("MAC") || c.Uses("IPADDR") {
		t.Errorf("Names %v", names)
	}
}

// TestSaveTemplateRules: the service applies the compile rules and says why.
func TestSaveTemplateRules(t *testing.T) {
	e := pvStart(t, ModeSingle)
	_, err := e.s.SaveTemplate(e.ctx, e.actor, "", "", json.RawMessage(
		`{"name":"c","scope":"common","escape":"none","body":"a=1\npw=%%ACCOUNT_SIP_PASSWORD%%\n"}`))
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Field != "body" || !strings.Contains(ve.Msg, "line 2") ||
		!strings.Contains(ve.Msg, "ACCOUNT_SIP_PASSWORD") || !strings.Contains(ve.Msg, "common") {
		t.Errorf("common template with an account placeholder: %v", err)
	}
	_, err = e.s.SaveTemplate(e.ctx, e.actor, "", "", json.RawMessage(`{"name":"d","body":"\n\nx=%%WHAT%%"}`))
	if !errors.As(err, &ve) || ve.Field != "body" || !strings.Contains(ve.Msg, "line 3") || !strings.Contains(ve.Msg, "WHAT") {
		t.Errorf("unknown placeholder: %v", err)
	}
	if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", "", json.RawMessage(
		`{"name":"c","scope":"common","escape":"none","body":"srv=%%KPBX_IP_ADDRESS%%\nurl=%%KPBX_PROVISIONING_URL%%\n"}`)); err != nil {
		t.Errorf("common template with PBX placeholders: %v", err)
	}
	for _, bad := range []string{`{"name":"x","scope":"bogus"}`, `{"name":"x","escape":"html"}`, `{"name":""}`, `{"name":"x","nope":1}`} {
		if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", "", json.RawMessage(bad)); !errors.As(err, &ve) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// ---- resolution ----

func TestResolveSingle(t *testing.T) {
	e := pvStart(t, ModeSingle)
	// A configured device without an account has no file, and is not "unknown".
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00:15:65:00:00:01","model":"`+e.model+`"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	long := strings.Repeat("a", 129)
	cases := []struct {
		path  string
		err   error
		file  bool
		asset bool
		mac   string
	}{
		{path: pvFile, file: true},
		{path: pvAsset, asset: true},
		{path: "nothing.cfg", err: ErrNoFile},
		{path: "001565abcdef.cfg", err: ErrNoFile, mac: "001565ABCDEF"},
		{path: "SEP001565ABCDEF.cnf.xml", err: ErrNoFile, mac: "001565ABCDEF"},
		{path: "001565000001.cfg", err: ErrNoFile},               // configured, no account: not unknown
		{path: "0015651234567.cfg", err: ErrNoFile},              // 13 hex digits: no MAC
		{path: e.tenant + "/" + pvFile, err: ErrNoFile},          // nested in single mode
		{path: "a/b/" + pvFile, err: ErrNoFile},                  // deeper
		{path: "../" + pvFile, err: ErrBadPath},                  // traversal
		{path: "a/../" + pvFile, err: ErrBadPath},                // inner traversal
		{path: "..", err: ErrBadPath},                            // parent
		{path: ".", err: ErrBadPath},                             // current
		{path: "./" + pvFile, err: ErrBadPath},                   // dot segment
		{path: "/" + pvFile, err: ErrBadPath},                    // absolute
		{path: "/etc/passwd", err: ErrBadPath},                   // absolute
		{path: "", err: ErrBadPath},                              // empty
		{path: "a//" + pvFile, err: ErrBadPath},                  // empty segment
		{path: pvFile + "/", err: ErrBadPath},                    // trailing slash
		{path: `a\b`, err: ErrBadPath},                           // backslash
		{path: `..\` + pvFile, err: ErrBadPath},                  // backslash traversal
		{path: pvFile + "\x00", err: ErrBadPath},                 // NUL
		{path: pvFile + "\x00.txt", err: ErrBadPath},             // NUL
		{path: "a\nb", err: ErrBadPath},                          // control character
		{path: "a%2e%2e", err: ErrBadPath},                       // percent
		{path: "a?b", err: ErrBadPath},                           // query
		{path: long, err: ErrBadPath},                            // longer than a file name may be
		{path: strings.Repeat("a/", 300) + "b", err: ErrBadPath}, // longer than a path may be
	}
	for _, c := range cases {
		got, err := e.s.Resolve(c.path)
		if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("Resolve(%.40q): err %v, want %v", c.path, err, c.err)
		}
		if (got.File != nil) != c.file || (got.Asset != nil) != c.asset {
			t.Errorf("Resolve(%.40q): file %v asset %v", c.path, got.File != nil, got.Asset != nil)
		}
		if got.MAC != c.mac {
			t.Errorf("Resolve(%.40q): MAC %q, want %q", c.path, got.MAC, c.mac)
		}
		if err == nil && (got.Tenant != e.tenant || got.Name != c.path) {
			t.Errorf("Resolve(%q): tenant %q name %q", c.path, got.Tenant, got.Name)
		}
	}
	if got, _ := e.s.Resolve(pvFile); got.Auth.Required() {
		t.Errorf("auth required by default: %+v", got.Auth)
	}
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"http_auth":"basic","http_user":"u","http_password":"12345678"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if got, _ := e.s.Resolve(pvFile); got.Auth != (HTTPAuth{Mode: "basic", User: "u", Password: "12345678"}) {
		t.Errorf("device file auth: %+v", got.Auth)
	}
	if got, _ := e.s.Resolve(pvAsset); got.Auth.Required() {
		t.Errorf("asset demands auth: %+v", got.Auth)
	}
}

func TestResolveMulti(t *testing.T) {
	e := pvStart(t, ModeMulti)
	name := "second"
	other, err := e.s.CreateTenant(e.ctx, e.actor, TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	me := e.tenant
	cases := []struct {
		path   string
		err    error
		file   bool
		tenant string
		mac    string
	}{
		{path: me + "/" + pvFile, file: true, tenant: me},
		{path: me + "/" + pvAsset, tenant: me},
		{path: pvFile, err: ErrNoFile},                                                         // root level
		{path: other.ID + "/" + pvFile, err: ErrNoFile, tenant: other.ID, mac: "001565123456"}, // another tenant: its own unknown device
		{path: other.ID + "/" + pvAsset, err: ErrNoFile, tenant: other.ID},
		{path: "6f1c2a5e-0000-4000-8000-000000000000/" + pvFile, err: ErrNoTenant}, // no such tenant
		{path: "not-a-uuid/" + pvFile, err: ErrNoTenant},
		{path: "{" + me + "}/" + pvFile, err: ErrNoTenant},
		{path: "urn:uuid:" + me + "/" + pvFile, err: ErrNoTenant},
		{path: strings.ReplaceAll(me, "-", "") + "/" + pvFile, err: ErrNoTenant},
		{path: me + "/../" + me + "/" + pvFile, err: ErrBadPath},
		{path: "../" + me + "/" + pvFile, err: ErrBadPath},
		{path: me + "/..", err: ErrBadPath},
		{path: me + "/", err: ErrBadPath},
		{path: me, err: ErrNoFile},
		{path: "/" + me + "/" + pvFile, err: ErrBadPath},
		{path: me + "//" + pvFile, err: ErrBadPath},
		{path: me + `\` + pvFile, err: ErrBadPath},
		{path: me + "/" + me + "/" + pvFile, err: ErrNoFile},
		{path: me + "/" + pvFile + "\x00", err: ErrBadPath},
	}
	for _, c := range cases {
		got, err := e.s.Resolve(c.path)
		if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("Resolve(%q): err %v, want %v", c.path, err, c.err)
		}
		if (got.File != nil) != c.file {
			t.Errorf("Resolve(%q): file %v", c.path, got.File != nil)
		}
		if c.tenant != "" && got.Tenant != c.tenant {
			t.Errorf("Resolve(%q): tenant %q, want %q", c.path, got.Tenant, c.tenant)
		}
		if got.MAC != c.mac {
			t.Errorf("Resolve(%q): MAC %q, want %q", c.path, got.MAC, c.mac)
		}
		if got.File != nil && got.File.Tenant != got.Tenant {
			t.Errorf("Resolve(%q): %s's file served for %s", c.path, got.File.Tenant, got.Tenant)
		}
	}
}

// TestResolveDisabledTenant: a disabled tenant serves nothing, and its configured
// phones are not "unknown".
func TestResolveDisabledTenant(t *testing.T) {
	for _, mode := range []string{ModeSingle, ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := pvStart(t, mode)
			prefix := ""
			if mode == ModeMulti {
				prefix = e.tenant + "/"
			}
			off := false
			if _, err := e.s.UpdateTenant(e.ctx, e.actor, e.tenant, TenantInput{Enabled: &off}); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			got, err := e.s.Resolve(prefix + pvFile)
			if err == nil || got.File != nil {
				t.Errorf("device file of a disabled tenant: %+v %v", got, err)
			}
			var bugs []string
			if got.MAC != "" {
				bugs = append(bugs, "its configured device "+got.MAC+" is reported as unknown")
			}
			if got, err := e.s.Resolve(prefix + pvAsset); err == nil || got.Asset != nil {
				bugs = append(bugs, "its asset is still served")
			}
			if len(bugs) > 0 {
				t.Errorf("disabled tenant: %s", strings.Join(bugs, "; "))
			}
		})
	}
}

// ---- devices ----

func TestDeviceWithoutAccount(t *testing.T) {
	e := pvStart(t, ModeSingle)
	d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00-15-65-aa-bb-cc","model":"`+e.model+`","enabled":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Enabled || d.MAC != "001565AABBCC" {
		t.Errorf("saved as %+v, want disabled with a normalized MAC", d)
	}
	e.sync(t)
	if f, ok := e.s.Lookup(e.tenant, "001565aabbcc.cfg"); ok {
		t.Errorf("a device without an account has a file: %q", f.Body)
	}
	views := e.s.ViewDevices(e.tenant, []Device{d})
	if views[0].File != "" || !strings.Contains(views[0].Problem, "account") {
		t.Errorf("view: %+v", views[0])
	}
	// Linking an account enables nothing by itself; enabling it renders the file.
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, d.ID, json.RawMessage(`{"account":"`+e.account+`","enabled":true}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if _, ok := e.s.Lookup(e.tenant, "001565aabbcc.cfg"); !ok {
		t.Error("linked and enabled device has no file")
	}
	// Unlinking disables again and removes the file.
	d, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, d.ID, json.RawMessage(`{"account":""}`))
	if err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if _, ok := e.s.Lookup(e.tenant, "001565aabbcc.cfg"); ok || d.Enabled {
		t.Errorf("unlinked device: enabled %v, file %v", d.Enabled, ok)
	}
	// An explicitly disabled device with an account has no file either.
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"enabled":false}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if _, ok := e.s.Lookup(e.tenant, pvFile); ok {
		t.Error("disabled device still has a file")
	}
}

func TestDuplicateMAC(t *testing.T) {
	e := pvStart(t, ModeMulti)
	before := e.countDevices(t, e.tenant)
	for _, mac := range []string{pvMAC, "001565123456", "00-15-65-12-34-56", "001565123456"} {
		_, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"`+mac+`","model":"`+e.model+`"}`))
		var ce *store.ConflictError
		if !errors.As(err, &ce) || ce.Field != "mac" {
			t.Errorf("duplicate %s: %v (%#v)", mac, err, err)
		}
	}
	if n := e.countDevices(t, e.tenant); n != before {
		t.Errorf("%d devices after refused duplicates, had %d", n, before)
	}
	// Changing another device's MAC to a taken one is refused too.
	d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"001565000099","model":"`+e.model+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ce *store.ConflictError
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, d.ID, json.RawMessage(`{"mac":"`+pvMAC+`"}`)); !errors.As(err, &ce) || ce.Field != "mac" {
		t.Errorf("update to a taken MAC: %v", err)
	}
	// The same MAC in another tenant is another phone.
	name := "second"
	other, err := e.s.CreateTenant(e.ctx, e.actor, TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.s.SaveAccount(e.ctx, e.actor, other.ID, "", json.RawMessage(`{"extension":"201","sip_password":"other-secret"}`))
	if err != nil {
		t.Fatalf("same extension in another tenant: %v", err)
	}
	if _, err := e.s.SaveDevice(e.ctx, e.actor, other.ID, "", json.RawMessage(`{"mac":"`+pvMAC+`","model":"`+e.model+`","account":"`+a.ID+`"}`)); err != nil {
		t.Fatalf("same MAC in another tenant: %v", err)
	}
	e.sync(t)
	mine, ok1 := e.s.Lookup(e.tenant, pvFile)
	theirs, ok2 := e.s.Lookup(other.ID, pvFile)
	if !ok1 || !ok2 || string(mine.Body) == string(theirs.Body) || !strings.Contains(string(theirs.Body), "other-secret") {
		t.Errorf("files: %v %v %q %q", ok1, ok2, mine.Body, theirs.Body)
	}
	// An account of one tenant cannot be linked from another.
	if _, err := e.s.SaveDevice(e.ctx, e.actor, other.ID, "", json.RawMessage(`{"mac":"001565000098","model":"`+e.model+`","account":"`+e.account+`"}`)); err == nil {
		t.Error("linked another tenant's account")
	}
}

// ---- CSV ----

func pvAccountsCSV(n int) string {
	var b strings.Builder
	b.WriteString("extension,sip_password,display_name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,pw-%d-secret,User %d\n", 1000+i, i, i)
	}
	return b.String()
}

func pvDevicesCSV(n int, model string) string {
	var b strings.Builder
	b.WriteString("mac,model,account_extension,notes\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "00:15:66:00:%02X:%02X,%s,%d,desk %d\n", i>>8, i&0xff, model, 1000+i, i)
	}
	return b.String()
}

func TestCSVImport500(t *testing.T) {
	e := pvStart(t, ModeSingle)
	start := time.Now()
	res, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(pvAccountsCSV(500)))
	if err != nil || res.Created != 500 || res.Updated != 0 {
		t.Fatalf("accounts: %+v %v", res, err)
	}
	res, err = e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(pvDevicesCSV(500, e.model)))
	if err != nil || res.Created != 500 || res.Updated != 0 {
		t.Fatalf("devices: %+v %v", res, err)
	}
	e.sync(t)
	t.Logf("500 accounts and devices imported and rendered in %v", time.Since(start))
	files, problems := e.s.Files(e.tenant)
	if len(files) != 501 || len(problems) != 0 {
		t.Fatalf("%d files, problems %v", len(files), problems)
	}
	f, ok := e.s.Lookup(e.tenant, "00156600012b.cfg") // row 299
	if !ok || string(f.Body) != "user=1299\npass=pw-299-secret\n" {
		t.Errorf("row 299: %v %+v", ok, f)
	}
	// Importing the same files again updates, creates nothing.
	res, err = e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(pvDevicesCSV(500, e.model)))
	if err != nil || res.Created != 0 || res.Updated != 500 {
		t.Errorf("re-import: %+v %v", res, err)
	}
	if n := e.countDevices(t, e.tenant); n != 501 {
		t.Errorf("%d devices", n)
	}
}

func TestCSVBadRowImportsNothing(t *testing.T) {
	e := pvStart(t, ModeSingle)
	if _, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(pvAccountsCSV(20))); err != nil {
		t.Fatal(err)
	}
	good := strings.Split(strings.TrimSuffix(pvDevicesCSV(20, e.model), "\n"), "\n")
	cases := []struct {
		name string
		line int    // 1-based line of the bad row
		row  string // replaces that line
		msg  string
	}{
		{"bad MAC", 7, "00:15:66:zz:00:06," + e.model + ",1006,x", "mac"},
		{"mixed separators", 12, "00:15-66:00:00:0b," + e.model + ",1011,x", "mac"},
		{"unknown model", 4, "00:15:66:00:00:03,no-such-model,1003,x", "model"},
		{"unknown account", 21, "00:15:66:00:00:14," + e.model + ",9999,x", "9999"},
		{"duplicate MAC", 9, "00:15:66:00:00:02," + e.model + ",1008,x", "line 4"},
		{"duplicate MAC, other format", 10, "001566000003," + e.model + ",1009,x", "line 5"},
		{"too many fields", 3, "00:15:66:00:00:01," + e.model + ",1001,x,extra", "fields"},
		{"bare quote", 15, `00:15:66:00:00:0d,` + e.model + `,1013,x"y`, "csv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := slices.Clone(good)
			lines[c.line-1] = c.row
			before := e.countDevices(t, e.tenant)
			res, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(strings.Join(lines, "\n")+"\n"))
			if err == nil {
				t.Fatalf("imported %+v", res)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", c.line)) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not name line %d and %q", err, c.line, c.msg)
			}
			var ve *store.ValidationError
			var ce *store.ConflictError
			if !errors.As(err, &ve) && !errors.As(err, &ce) {
				t.Errorf("error %T is neither a validation nor a conflict error", err)
			}
			if after := e.countDevices(t, e.tenant); after != before {
				t.Errorf("%d devices before, %d after a failed import", before, after)
			}
		})
	}
	// An unterminated quote swallows the rest of the file: refused, nothing imported.
	// (The error names the last line, where the reader gave up, not line 3.)
	unterminated := slices.Clone(good)
	unterminated[2] = `00:15:66:00:00:01,` + e.model + `,1001,"x`
	before0 := e.countDevices(t, e.tenant)
	if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(strings.Join(unterminated, "\n")+"\n")); err == nil {
		t.Error("unterminated quote imported")
	}
	if after := e.countDevices(t, e.tenant); after != before0 {
		t.Errorf("%d devices before, %d after", before0, after)
	}
	// A quoted field spanning lines: the error names the physical line.
	csv := "mac,model,notes\n" +
		"00:15:66:00:01:01," + e.model + ",\"two\nlines\"\n" +
		"00:15:66:00:01:02," + e.model + ",ok\n" +
		"bad," + e.model + ",x\n"
	before := e.countDevices(t, e.tenant)
	if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(csv)); err == nil || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("after a two-line field: %v, want line 5", err)
	}
	if after := e.countDevices(t, e.tenant); after != before {
		t.Errorf("%d devices before, %d after", before, after)
	}
	// Accounts: a bad row on line 4 leaves no account behind.
	beforeA := e.countAccounts(t, e.tenant)
	acsv := "extension,sip_password\n3001,Pw1-strong\n3002,Pw2-strong\n30 03,Pw3-strong\n3004,Pw4-strong\n"
	if _, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(acsv)); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("bad account row: %v", err)
	}
	acsv = "extension,sip_password\n3001,Pw1-strong\n3002,Pw2-strong\n3001,Pw3-strong\n"
	if _, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(acsv)); err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("duplicate extension: %v", err)
	}
	if after := e.countAccounts(t, e.tenant); after != beforeA {
		t.Errorf("%d accounts before, %d after", beforeA, after)
	}
	// Headers.
	for _, h := range []string{"", "mac,modle\n", "model\n00:15:66:00:00:01\n", "notes,model\nx," + e.model + "\n"} {
		if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(h)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("header %q: %v", h, err)
		}
	}
}

func TestCSVRoundTrip(t *testing.T) {
	e := pvStart(t, ModeMulti)
	acsv := "extension,sip_username,auth_username,sip_password,display_name,first_name,last_name,voicemail,transport\n" +
		"301,u301,a301,\"p,w\"\"1-Strong\",\"Rossi, Mario\",Mario,Rossi,9301,tcp\n" +
		"302,,,Pw302-strong,,Anna,Bianchi,,\n"
	if _, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(acsv)); err != nil {
		t.Fatal(err)
	}
	dcsv := "mac,model,template,account_extension,enabled,notes,ip_mode,ip_address,netmask,gateway,dns1,dns2,phone_username,phone_password,remote_address,remote_port\n" +
		"00:15:66:00:00:01," + e.model + ",," + "301,true,\"Reception, desk \"\"A\"\"\nsecond line\",static,192.168.1.10,255.255.255.0,192.168.1.1,8.8.8.8,,admin,\"ph,pw-Strong1\",,\n" +
		"00-15-66-00-00-02," + e.model + "," + e.tmpl + ",302,false,,dhcp,,,,,,,,pbx.example.com,5060\n" +
		"001566000003," + e.model + ",,,,spare,,,,,,,,,,\n"
	if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(dcsv)); err != nil {
		t.Fatal(err)
	}
	export := func(tenant string, secrets bool) (string, string) {
		var a, d bytes.Buffer
		if err := e.s.ExportAccounts(e.ctx, tenant, &a, secrets); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ExportDevices(e.ctx, tenant, &d, secrets); err != nil {
			t.Fatal(err)
		}
		return a.String(), d.String()
	}
	a1, d1 := export(e.tenant, true)
	if !strings.Contains(a1, `"p,w""1-Strong"`) || !strings.Contains(d1, "\"Reception, desk \"\"A\"\"\nsecond line\"") {
		t.Errorf("export lost quoting:\n%s\n%s", a1, d1)
	}

	// Into another tenant: the same rows (ids differ, so compare sorted lines).
	name := "copy"
	other, err := e.s.CreateTenant(e.ctx, e.actor, TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.s.ImportAccounts(e.ctx, e.actor, other.ID, strings.NewReader(a1)); err != nil || res.Created != 3 {
		t.Fatalf("accounts into the copy: %+v %v", res, err)
	}
	if res, err := e.s.ImportDevices(e.ctx, e.actor, other.ID, strings.NewReader(d1)); err != nil || res.Created != 4 {
		t.Fatalf("devices into the copy: %+v %v", res, err)
	}
	a2, d2 := export(other.ID, true)
	sorted := func(s string) []string {
		l := strings.Split(s, "\n")
		slices.Sort(l)
		return l
	}
	if !slices.Equal(sorted(a1), sorted(a2)) || !slices.Equal(sorted(d1), sorted(d2)) {
		t.Errorf("round trip differs:\n%s\n%s\n---\n%s\n%s", a1, d1, a2, d2)
	}
	e.sync(t)
	f1, _ := e.s.Files(e.tenant)
	f2, _ := e.s.Files(other.ID)
	if len(f1) != len(f2) {
		t.Errorf("%d files, copy has %d", len(f1), len(f2))
	}
	for i := range min(len(f1), len(f2)) {
		if f1[i].Name != f2[i].Name || !bytes.Equal(f1[i].Body, f2[i].Body) {
			t.Errorf("file %s differs from the copy's %s", f1[i].Name, f2[i].Name)
		}
	}

	// Back into the same tenant: everything updated, nothing created or changed.
	if res, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(a1)); err != nil || res.Created != 0 || res.Updated != 3 {
		t.Errorf("re-import accounts: %+v %v", res, err)
	}
	if res, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(d1)); err != nil || res.Created != 0 || res.Updated != 4 {
		t.Errorf("re-import devices: %+v %v", res, err)
	}
	if a3, d3 := export(e.tenant, true); a3 != a1 || d3 != d1 {
		t.Errorf("re-import changed the export:\n%s\n%s", a3, d3)
	}
	// An export without secrets re-imports without wiping them.
	as, ds := export(e.tenant, false)
	if strings.Contains(as, "pw302") || strings.Contains(ds, "ph,pw") || strings.Contains(as, "secret-201") {
		t.Errorf("secrets in a secret-free export:\n%s\n%s", as, ds)
	}
	if _, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(as)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(ds)); err != nil {
		t.Fatal(err)
	}
	if a4, d4 := export(e.tenant, true); a4 != a1 || d4 != d1 {
		t.Errorf("a secret-free re-import changed the data:\n%s\n%s", a4, d4)
	}
}

// TestResolveCommonNamesAreNotDevices: requests for the fixed common-file names
// phones ask for first (Poly 000000000000.cfg, Yealink y000000000123.cfg) name no
// device, so they must not put a "MAC" on the "seen, not configured" list.
func TestResolveCommonNamesAreNotDevices(t *testing.T) {
	e := pvStart(t, ModeSingle)
	var bugs []string
	for _, name := range []string{"000000000000.cfg", "y000000000123.cfg", "y000000000095.cfg", "000000000000-phone.cfg"} {
		got, err := e.s.Resolve(name)
		if !errors.Is(err, ErrNoFile) {
			t.Errorf("Resolve(%q): %v", name, err)
		}
		if got.MAC != "" {
			bugs = append(bugs, fmt.Sprintf("%s -> MAC %s", name, got.MAC))
		}
	}
	if len(bugs) > 0 {
		t.Errorf("common-file names taken for unknown devices: %s", strings.Join(bugs, ", "))
	}
}
