package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupportBundleHasNoSecrets seeds known secrets in the configuration (the
// AMI secret) and in the store (an admin password, a SIP password, a phone
// admin password), makes a bundle with the real binary, and finds none of them
// in any file, while the files support needs are there.
func TestSupportBundleHasNoSecrets(t *testing.T) {
	const (
		amiSecret = "AmiS3cret-Bundle-0001"
		adminPass = "Adm1n-Bundle-Passw0rd"
		sipPass   = "S1p-Bundle-Passw0rd-77"
		phonePass = "Ph0ne-Bundle-Admin-55"
	)
	d := newDaemon(t, `cti:
  enabled: true
  ami:
    address: 127.0.0.1:1
    username: sb
    secret: `+amiSecret+`
public:
  fqdn: pbx.example.test
`)
	d.start()
	d.addAdmin("bundler", adminPass)
	if out, errOut, code := d.cli(sipPass+"\n", "account", "add", "301", "--password-stdin", "--display-name", "Bundle"); code != 0 {
		t.Fatalf("account add: %s %s", out, errOut)
	}
	if out, errOut, code := d.cli("", "device", "add", "--mac", "001565BB0001", "--model", "yealink-t46u", "--account", "301"); code != 0 {
		t.Fatalf("device add: %s %s", out, errOut)
	}
	if out, errOut, code := d.cli(phonePass+"\n", "device", "set", "001565BB0001", "--phone-password-stdin"); code != 0 {
		t.Fatalf("device set: %s %s", out, errOut)
	}

	path := filepath.Join(t.TempDir(), "bundle.tar.gz")
	out, errOut, code := d.cli("", "support-bundle", "-o", path, "--config", d.cfgPath)
	if code != 0 {
		t.Fatalf("support-bundle: %d %s %s", code, out, errOut)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("bundle file: %v %v", st, err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[filepath.Base(h.Name)] = string(b)
	}
	for name, body := range files {
		for _, s := range []string{amiSecret, adminPass, sipPass, phonePass} {
			if strings.Contains(body, s) {
				t.Errorf("%s contains the secret %q", name, s)
			}
		}
	}
	for name, want := range map[string]string{
		"version.txt":       "switchboard ",
		"packages.txt":      "",
		"config.yaml":       "secret: REDACTED",
		"status.json":       `"revision"`,
		"ha.json":           `"state": "disabled"`,
		"doctor.json":       `"checks"`,
		"audit-verify.json": `"ok": true`,
		"metrics.txt":       "switchboard_build_info{",
		"healthz.json":      `"components"`,
		"logs.txt":          "",
	} {
		body, ok := files[name]
		if !ok {
			t.Errorf("bundle lacks %s (has %v)", name, bundleNames(files))
			continue
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%.400s", name, want, body)
		}
	}
	if !strings.Contains(files["config.yaml"], "fqdn: pbx.example.test") {
		t.Errorf("config.yaml lost the non-secret keys:\n%s", files["config.yaml"])
	}
}

func bundleNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRedactConfig: nested, listed and aliased secret values are redacted and
// returned; other values stay.
func TestRedactConfig(t *testing.T) {
	in := []byte("a:\n  password: p1\n  name: keep\nlist:\n  - smtp_password: p2\n    host: h\nbase: &s\n  api_key: p3\nother: *s\ntoken: ''\n")
	out, secrets, err := redactConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"p1", "p2", "p3"} {
		if strings.Contains(string(out), ": "+s) {
			t.Errorf("%s left in\n%s", s, out)
		}
	}
	if len(secrets) != 3 || !strings.Contains(string(out), "name: keep") || !strings.Contains(string(out), "host: h") {
		t.Errorf("secrets %v\n%s", secrets, out)
	}
}

// TestDemoLoginFollowsPasswordChange: after "user passwd admin" the demo's
// login file and the next banner no longer show the old password.
func TestDemoLoginFollowsPasswordChange(t *testing.T) {
	d := newDaemon(t, "demo:\n  enabled: true\ntenancy:\n  mode: multi\n")
	d.start()
	file := filepath.Join(d.dir, "data", "demo-login.txt")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.TrimSpace(strings.SplitN(string(b), "password: ", 2)[1])
	if banner := d.banner(); !strings.Contains(banner, "admin / "+old) {
		t.Fatalf("banner lacks the demo password:\n%s", banner)
	}
	if out, errOut, code := d.cli("N3w-Passw0rd-xyz\n", "user", "passwd", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("passwd: %s %s", out, errOut)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ = os.ReadFile(file)
		if !strings.Contains(string(b), old) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo-login.txt still shows the old password: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(b), "changed since the demo set it up") {
		t.Errorf("demo-login.txt: %s", b)
	}
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.start()
	if banner := d.banner(); strings.Contains(banner, old) || !strings.Contains(banner, "admin / (changed since the demo set it up") {
		t.Errorf("banner after the change:\n%s", banner)
	}
}

// banner is the demo's banner on the daemon's standard output. The demo
// component prints it when it starts serving, which may come just after
// "ready" (the components start together): wait for its last line.
func (d *testDaemon) banner() string {
	d.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := d.stdout.String()
		if strings.Contains(out, "  CLI:") || time.Now().After(deadline) {
			return out
		}
	}
}
