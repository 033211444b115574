package provision

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Fuzz targets for the parsers that read the network: MAC parsing, filename
// resolution and template compilation/rendering.

func FuzzMACParse(f *testing.F) {
	for _, s := range []string{"001565AABBCC", "00:15:65:aa:bb:cc", "00-15-65-AA-BB-CC", "00:15-65:aa:bb:cc", "0015", "zz1565aabbcc", "00:15:65:aa:bb:c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		for _, fmtName := range MACFormats {
			back, err := ParseMAC(m.Format(fmtName))
			if err != nil || back != m {
				t.Fatalf("%q -> %v -> %q does not round-trip", s, m, m.Format(fmtName))
			}
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"a=%%ACCOUNT_EXTENSION%%\n", "%%IPADDRMODE|dhcp=0|static=2%%", "%%%%", "%%", "%%X\n%%", "%%A|b%%", "<x>%%ACCOUNT_DISPLAY_NAME%%</x>", "%%_CUSTOM%%"} {
		f.Add(s)
	}
	vars := map[string]string{"ACCOUNT_EXTENSION": "201", "IPADDRMODE": "static", "ACCOUNT_DISPLAY_NAME": "A & <B>\nC"}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := Compile(body, func(string) bool { return true })
		if err != nil {
			var te *TemplateError
			if !asTemplateError(err, &te) || te.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, esc := range []string{EscapeNone, EscapeXML} {
			a := string(c.Append(nil, vars, esc))
			b := string(c.Append(nil, vars, esc))
			if a != b {
				t.Fatal("rendering is not deterministic")
			}
			if esc == EscapeXML && strings.Contains(a, "A & <B>") {
				t.Fatal("XML value not escaped")
			}
		}
		// With no placeholder known, compiling either fails on one or leaves the text.
		if _, err := Compile(body, func(string) bool { return false }); err == nil {
			if out := string(c.Append(nil, nil, EscapeNone)); len(c.Names()) == 0 && out != strings.ReplaceAll(body, "%%%%", "%%") {
				t.Fatalf("placeholder-free template changed: %q -> %q", body, out)
			}
		}
	})
}

func asTemplateError(err error, te **TemplateError) bool {
	x, ok := err.(*TemplateError)
	*te = x
	return ok
}

// fuzzService is a service with one device file, for FuzzResolvePath.
func fuzzService(f *testing.F, mode string) (*Service, string) {
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	st, err := store.Open(ctx, store.DefaultConfig(f.TempDir()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	s, err := New(st, TenancyConfig{Mode: mode, DefaultTenant: "default"}, Config{BaseURL: "http://127.0.0.1", UnknownBurst: 5, UnknownInterval: time.Second},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	tenant, err := s.EnsureDefaultTenant(ctx)
	if err != nil {
		f.Fatal(err)
	}
	go s.Serve(ctx)
	actor := store.Actor{User: "fuzz", IP: "127.0.0.1"}
	a, err := s.SaveAccount(ctx, actor, tenant.ID, "", json.RawMessage(`{"extension":"201","sip_password":"pw"}`))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := s.SaveDevice(ctx, actor, tenant.ID, "", json.RawMessage(`{"mac":"00:15:65:12:34:56","model":"yealink-t54w","account":"`+a.ID+`"}`)); err != nil {
		f.Fatal(err)
	}
	if err := s.WaitRendered(ctx, st.Revision()); err != nil {
		f.Fatal(err)
	}
	return s, tenant.ID
}

func FuzzResolvePath(f *testing.F) {
	s, tenant := fuzzService(f, ModeSingle)
	if tt, err := s.Resolve("001565123456.cfg"); err != nil || tt.File == nil || tt.Tenant != tenant {
		f.Fatalf("the device file does not resolve: %+v %v", tt, err)
	}
	for _, p := range []string{"001565123456.cfg", "../001565123456.cfg", "/001565123456.cfg", "a/001565123456.cfg", "001565123456.cfg\x00",
		"..", ".", "", "y000000000096.cfg", "x\\y", strings.Repeat("a", 600), "001565ABCDEF.cfg"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tt, err := s.Resolve(p)
		if err != nil {
			if tt.File != nil || tt.Asset != nil {
				t.Fatalf("%q: error %v but a file", p, err)
			}
			return
		}
		if tt.File == nil && tt.Asset == nil {
			t.Fatalf("%q: no error and no file", p)
		}
		if p != tt.Name || strings.ContainsAny(tt.Name, "/\\\x00") || strings.Contains(tt.Name, "..") {
			t.Fatalf("%q resolved to %q", p, tt.Name)
		}
	})
}
