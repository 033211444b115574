package packaging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/chroottest"
)

const (
	confPath = "/etc/switchboard/switchboard.yaml"
	// The fail2ban filter and jails (conffiles: purge removes them).
	f2bFilter = "/etc/fail2ban/filter.d/switchboard.conf"
	f2bJail   = "/etc/fail2ban/jail.d/switchboard.conf"
	dataDir   = "/var/lib/switchboard"
	enabled   = "/etc/systemd/system/multi-user.target.wants/switchboard.service"
	binPath   = "/usr/bin/switchboard"
	unitPath  = "/usr/lib/systemd/system/switchboard.service"
)

// appliance unpacks the cached Debian tree (minbase plus systemd, not running)
// that the image is also built from.
func appliance(t *testing.T) *chroottest.Root {
	t.Helper()
	chroottest.RequireRoot(t)
	return chroottest.New(t, chroottest.Base(t, "amd64", chroottest.BasePackages(t)))
}

// TestDebLifecycle walks the deb through what an installer and Debian policy
// expect: install, run, upgrade with an edited config and data, remove, purge.
func TestDebLifecycle(t *testing.T) {
	b := packages(t)
	r := appliance(t)
	copyInto(t, r, pkgFile(t, b.v1, "deb", "amd64"), "/tmp/v1.deb")
	copyInto(t, r, pkgFile(t, b.v2, "deb", "amd64"), "/tmp/v2.deb")

	// Install: the user, the owners, the unit enabled for the next boot.
	r.Run("dpkg", "-i", "/tmp/v1.deb")
	uid := checkUser(t, r)
	checkInstalled(t, r)
	if got := dpkgStatus(r); got != "install ok installed "+v1+"-1" {
		t.Errorf("dpkg status %q", got)
	}
	verifyUnit(t, r)

	// The packaged config serves as shipped, as the service user with only the
	// unit's capabilities (it binds :80, :443 and :69 in a private netns).
	serveAndCheck(t, r, uid)
	cert := fileSum(t, r, dataDir+"/tls/cert.pem")
	db := r.Path(dataDir + "/switchboard.db")
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("no database after the first start: %v", err)
	}

	// The administrator edits the config and keeps data of their own.
	edited := strings.Replace(readFile(t, r, confPath), "level: info", "level: debug", 1)
	writeFile(t, r, confPath, edited)
	writeFile(t, r, dataDir+"/backup.tar", "admin's data")

	// Upgrade, unattended as apt would run it: the edited config stays, the
	// new default lands beside it, the data and the user are untouched.
	r.Run("dpkg", "-i", "--force-confdef", "--force-confold", "/tmp/v2.deb")
	if got := dpkgStatus(r); got != "install ok installed "+v2+"-1" {
		t.Errorf("dpkg status after upgrade %q", got)
	}
	if got := readFile(t, r, confPath); got != edited {
		t.Error("upgrade overwrote the edited config")
	}
	if got := readFile(t, r, confPath+".dpkg-dist"); got != string(b.v2Config) {
		t.Error("upgrade did not leave the new default config as .dpkg-dist")
	}
	if got := readFile(t, r, dataDir+"/backup.tar"); got != "admin's data" {
		t.Error("upgrade lost a file in the data directory")
	}
	if got := checkUser(t, r); got != uid {
		t.Errorf("upgrade changed the user's uid %d -> %d", uid, got)
	}
	checkInstalled(t, r)
	if out := r.Run(binPath, "version"); !strings.HasPrefix(out, "switchboard "+v2+" (commit "+commit) {
		t.Errorf("after upgrade: %q", out)
	}
	// The upgraded daemon starts on the old data (same TLS pair, not a new one).
	serveAndCheck(t, r, uid)
	if got := fileSum(t, r, dataDir+"/tls/cert.pem"); got != cert {
		t.Error("the TLS certificate changed across the upgrade: data was not kept")
	}

	// Remove: program gone, config and data kept (policy 10.7.3), unit disabled.
	r.Run("dpkg", "-r", "switchboard")
	if got := dpkgStatus(r); got != "deinstall ok config-files "+v2+"-1" {
		t.Errorf("dpkg status after remove %q", got)
	}
	for _, p := range []string{binPath, unitPath, enabled} {
		if exists(r, p) {
			t.Errorf("remove left %s", p)
		}
	}
	if got := readFile(t, r, confPath); got != edited {
		t.Error("remove changed the config")
	}
	for _, p := range []string{dataDir + "/switchboard.db", dataDir + "/backup.tar", dataDir + "/tls/cert.pem"} {
		if !exists(r, p) {
			t.Errorf("remove deleted %s", p)
		}
	}
	checkUser(t, r)

	// Installing again brings the service back enabled, on the kept data.
	r.Run("dpkg", "-i", "--force-confdef", "--force-confold", "/tmp/v2.deb")
	checkInstalled(t, r)
	if got := fileSum(t, r, dataDir+"/tls/cert.pem"); got != cert {
		t.Error("reinstall after remove replaced the TLS certificate")
	}
	r.Run("dpkg", "-r", "switchboard")

	// Purge: config, data and the system user all go.
	r.Run("dpkg", "-P", "switchboard")
	for _, p := range []string{"/etc/switchboard", dataDir, f2bFilter, f2bJail} {
		if exists(r, p) {
			t.Errorf("purge left %s", p)
		}
	}
	for _, db := range []string{"passwd", "group"} {
		if out, err := r.Try("getent", db, "switchboard"); err == nil {
			t.Errorf("purge left %s entry %q", db, strings.TrimSpace(out))
		}
	}
	if out, err := r.Try("dpkg-query", "-W", "switchboard"); err == nil {
		t.Errorf("dpkg still knows the package after purge: %s", out)
	}
}

// TestRPMLifecycle runs the rpm's scriptlets for real (rpm --root chroots into
// the tree to run them with 1/2/0): install, upgrade keeping the edited config
// (%config(noreplace) -> .rpmnew), erase keeping the data and the user.
func TestRPMLifecycle(t *testing.T) {
	b := packages(t)
	r := appliance(t)
	rpm := func(args ...string) string {
		t.Helper()
		if args[0] != "-q" {
			// Debian's rpm refuses to install without --force-debian, and
			// Debian's packages are not in the rpm database (shadow-utils).
			args = append([]string{"--force-debian", "--nodeps"}, args...)
		}
		return run(t, "rpm", append([]string{"--root", r.Dir}, args...)...)
	}
	rpm("-i", pkgFile(t, b.v1, "rpm", "amd64"))
	uid := checkUser(t, r)
	checkInstalled(t, r)
	serveAndCheck(t, r, uid)
	cert := fileSum(t, r, dataDir+"/tls/cert.pem")

	edited := readFile(t, r, confPath) + "\n# edited by the administrator\n"
	writeFile(t, r, confPath, edited)
	rpm("-U", pkgFile(t, b.v2, "rpm", "amd64"))
	if got := strings.TrimSpace(rpm("-q", "--qf", "%{VERSION}", "switchboard")); got != v2 {
		t.Errorf("installed version %q after upgrade", got)
	}
	if got := readFile(t, r, confPath); got != edited {
		t.Error("rpm upgrade overwrote the edited config")
	}
	if got := readFile(t, r, confPath+".rpmnew"); got != string(b.v2Config) {
		t.Error("rpm upgrade did not leave the new default as .rpmnew")
	}
	// The old package's %preun/%postun ran with 1: nothing was stopped or disabled.
	checkInstalled(t, r)
	if got := fileSum(t, r, dataDir+"/tls/cert.pem"); got != cert {
		t.Error("rpm upgrade changed the data directory")
	}

	rpm("-e", "switchboard")
	for _, p := range []string{binPath, unitPath, enabled} {
		if exists(r, p) {
			t.Errorf("rpm -e left %s", p)
		}
	}
	// rpm has no purge: a modified config is saved, data and user stay.
	if got := readFile(t, r, confPath+".rpmsave"); got != edited {
		t.Error("rpm -e did not keep the edited config as .rpmsave")
	}
	if !exists(r, dataDir+"/switchboard.db") {
		t.Error("rpm -e deleted the database")
	}
	checkUser(t, r)
}

// checkUser asserts the service user is a system account without a login and
// returns its uid.
func checkUser(t *testing.T, r *chroottest.Root) int {
	t.Helper()
	out, err := r.Try("getent", "passwd", "switchboard")
	if err != nil {
		t.Fatalf("no switchboard user: %v %s", err, out)
	}
	f := strings.Split(strings.TrimSpace(out), ":")
	uid, _ := strconv.Atoi(f[2])
	if uid == 0 || uid >= 1000 {
		t.Errorf("uid %d is not a system uid", uid)
	}
	if f[5] != dataDir || !strings.HasSuffix(f[6], "/nologin") {
		t.Errorf("user entry %q: want home %s and a nologin shell", out, dataDir)
	}
	if _, err := r.Try("getent", "group", "switchboard"); err != nil {
		t.Error("no switchboard group")
	}
	return uid
}

// checkInstalled asserts owners and modes on the installed files and that the
// unit is enabled (systemctl is in the tree but systemd does not run in it).
func checkInstalled(t *testing.T, r *chroottest.Root) {
	t.Helper()
	for p, want := range map[string]string{
		binPath:            "root:root 755",
		unitPath:           "root:root 644",
		"/etc/switchboard": "root:switchboard 750",
		confPath:           "root:switchboard 640",
		dataDir:            "switchboard:switchboard 750",
		f2bFilter:          "root:root 644",
		f2bJail:            "root:root 644",
	} {
		if got := strings.TrimSpace(r.Run("stat", "-c", "%U:%G %a", p)); got != want {
			t.Errorf("%s: %s, want %s", p, got, want)
		}
	}
	if target, err := os.Readlink(r.Path(enabled)); err != nil || !strings.HasSuffix(target, "switchboard.service") {
		t.Errorf("unit not enabled: %s -> %q (%v)", enabled, target, err)
	}
}

// verifyUnit has systemd check the installed unit against the tree.
func verifyUnit(t *testing.T, r *chroottest.Root) {
	t.Helper()
	out, err := r.Try("systemd-analyze", "verify", unitPath)
	if err != nil || strings.Contains(out, "switchboard.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// serveAndCheck runs the installed daemon with the installed config the way the
// unit does (service user, ambient capabilities, no new privileges) and checks
// /healthz on plain HTTP and HTTPS over loopback, the process's identity and
// capabilities, and a clean exit on SIGTERM.
func serveAndCheck(t *testing.T, r *chroottest.Root, uid int) {
	t.Helper()
	d := r.Start(chroottest.AsService(binPath, "serve", "--config", confPath)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := d.WaitHTTP(t, "http://127.0.0.1:80/healthz", 60*time.Second)
	if !regexp.MustCompile(`"status":"ok"`).Match(out) {
		t.Errorf("healthz: %s", out)
	}
	if out, err := d.InNetns(ctx, "curl", "-fsSk", "--max-time", "5", "https://127.0.0.1:443/healthz"); err != nil || !strings.Contains(string(out), `"status":"ok"`) {
		t.Errorf("GET https://127.0.0.1:443/healthz: %v %s", err, out)
	}
	status := readHost(t, fmt.Sprintf("/proc/%d/status", d.Pid()))
	if m := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)`).FindStringSubmatch(status); m == nil || m[1] != strconv.Itoa(uid) || m[2] != strconv.Itoa(uid) {
		t.Errorf("daemon uid line %q, want %d", m, uid)
	}
	// CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13), nothing else.
	if m := regexp.MustCompile(`(?m)^CapEff:\s+([0-9a-f]+)`).FindStringSubmatch(status); m == nil || strings.TrimLeft(m[1], "0") != "3400" {
		t.Errorf("daemon effective capabilities %q, want 0x3400", m)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("serve did not stop cleanly on SIGTERM: %v\n%s", err, d.Output())
	}
	if !strings.Contains(d.Output(), `msg=stopped`) {
		t.Errorf("no clean stop in the log:\n%s", d.Output())
	}
}

func copyInto(t *testing.T, r *chroottest.Root, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Path(dst), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, r *chroottest.Root, p string) string {
	t.Helper()
	return readHost(t, r.Path(p))
}

func readHost(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFile replaces a file's content in place, keeping its owner and mode.
func writeFile(t *testing.T, r *chroottest.Root, p, content string) {
	t.Helper()
	if err := os.WriteFile(r.Path(p), []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func exists(r *chroottest.Root, p string) bool {
	_, err := os.Lstat(r.Path(p))
	return err == nil
}

func fileSum(t *testing.T, r *chroottest.Root, p string) string {
	t.Helper()
	s := sha256.Sum256([]byte(readFile(t, r, p)))
	return hex.EncodeToString(s[:])
}

func dpkgStatus(r *chroottest.Root) string {
	out, _ := r.Try("dpkg-query", "-W", "-f", "${Status} ${Version}", "switchboard")
	return strings.TrimSpace(out)
}
