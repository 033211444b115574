package rootfs

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/chroottest"
)

const version = "2.0.0+imagetest"

func TestMain(m *testing.M) {
	if os.Getenv("NFPM") != "" {
		chroottest.Prefetch("amd64")
	}
	os.Exit(m.Run())
}

// image builds the deb and an image without a kernel (the tree is what is
// under test; the kernel only adds minutes) and returns the output base path.
func image(t *testing.T) string {
	t.Helper()
	nfpm := os.Getenv("NFPM")
	if nfpm == "" {
		t.Skip("NFPM not set: the image tests run under make test-packages (which installs nfpm v2.45.2)")
	}
	chroottest.RequireRoot(t)
	for _, tool := range []string{"mke2fs", "e2fsck", "debugfs", "zstd", "mksquashfs", "unsquashfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it)", tool)
		}
	}
	if err := chroottest.EnsureNFPM(nfpm); err != nil {
		t.Fatal(err)
	}
	root := chroottest.RepoRoot(t)
	out := t.TempDir()
	env := append(os.Environ(), "NFPM="+nfpm, "VERSION="+version, "COMMIT=feedface0001", "OUT="+out,
		"SB_CACHE="+chroottest.CacheDir(t))
	build := exec.Command(filepath.Join(root, "packaging", "build.sh"))
	build.Env = append(env, "ARCHES=amd64", "FORMATS=deb")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	start := time.Now()
	img := exec.Command(filepath.Join(root, "rootfs", "build-image.sh"))
	img.Env = append(env, "SB_KERNEL=none", "SB_SQUASHFS=1", "DEB="+filepath.Join(out, "switchboard_"+version+"-1_amd64.deb"))
	if b, err := img.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, b)
	}
	t.Logf("image built in %s", time.Since(start).Round(time.Second))
	return filepath.Join(out, "switchboard-"+version+"-amd64")
}

func debugfs(t *testing.T, img, request string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", request, img).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs %s: %v\n%s", request, err, out)
	}
	return string(out)
}

// TestImage builds the image and checks the ext4 file system without mounting
// it, then boots the tarball's tree far enough to run the first-boot setup
// against the real daemon.
func TestImage(t *testing.T) {
	base := image(t)
	ext4 := base + ".ext4"

	t.Run("ext4", func(t *testing.T) {
		if out, err := exec.Command("e2fsck", "-fn", ext4).CombinedOutput(); err != nil {
			t.Fatalf("e2fsck: %v\n%s", err, out)
		}
		if out, _ := exec.Command("e2label", ext4).Output(); strings.TrimSpace(string(out)) != "sbroot" {
			t.Errorf("label %q, want sbroot (fstab and root= use it)", out)
		}
		if got := debugfs(t, ext4, "cat /etc/switchboard-image-version"); strings.TrimSpace(lastLine(got)) != version {
			t.Errorf("image version %q", got)
		}
		bin := debugfs(t, ext4, "stat /usr/bin/switchboard")
		if !strings.Contains(bin, "Type: regular") || !regexp.MustCompile(`Mode:\s+0?755`).MatchString(bin) ||
			!regexp.MustCompile(`User:\s+0\s`).MatchString(bin) {
			t.Errorf("/usr/bin/switchboard in the image:\n%s", bin)
		}
		// Owners survive mke2fs -d: the data directory belongs to the service user.
		passwd := debugfs(t, ext4, "cat /etc/passwd")
		m := regexp.MustCompile(`(?m)^switchboard:x:(\d+):`).FindStringSubmatch(passwd)
		if m == nil {
			t.Fatalf("no switchboard user in the image's /etc/passwd")
		}
		if st := debugfs(t, ext4, "stat /var/lib/switchboard"); !regexp.MustCompile(`User:\s+` + m[1] + `\s`).MatchString(st) {
			t.Errorf("/var/lib/switchboard not owned by uid %s:\n%s", m[1], st)
		}
		for _, link := range []string{
			"/etc/systemd/system/multi-user.target.wants/switchboard.service",
			"/etc/systemd/system/multi-user.target.wants/switchboard-firstboot.service",
			"/etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
		} {
			if st := debugfs(t, ext4, "stat "+link); !strings.Contains(st, "Type: symlink") {
				t.Errorf("%s is not enabled in the image:\n%s", link, st)
			}
		}
		if st := debugfs(t, ext4, "stat /etc/machine-id"); !regexp.MustCompile(`Size:\s+0\s`).MatchString(st) {
			t.Errorf("/etc/machine-id is not empty: every appliance would share one\n%s", st)
		}
		if shadow := debugfs(t, ext4, "cat /etc/shadow"); !regexp.MustCompile(`(?m)^root:!`).MatchString(shadow) {
			t.Error("root is not locked in the image (first boot sets its password)")
		}
		if nw := debugfs(t, ext4, "cat /etc/systemd/network/80-switchboard-dhcp.network"); !strings.Contains(nw, "DHCP=yes") {
			t.Errorf("no DHCP network in the image:\n%s", nw)
		}
	})

	t.Run("squashfs", func(t *testing.T) {
		out, err := exec.Command("unsquashfs", "-lls", base+".squashfs", "usr/bin/switchboard", "var/lib/switchboard").CombinedOutput()
		if err != nil {
			t.Fatalf("unsquashfs: %v\n%s", err, out)
		}
		// unsquashfs names owners from the host's passwd, where the image's
		// service user does not exist: compare its uid from the image.
		m := regexp.MustCompile(`(?m)^switchboard:x:(\d+):(\d+):`).FindStringSubmatch(debugfs(t, ext4, "cat /etc/passwd"))
		if m == nil {
			t.Fatal("no switchboard user in the image's /etc/passwd")
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^-rwxr-xr-x root/root .* squashfs-root/usr/bin/switchboard$`),
			regexp.MustCompile(`(?m)^drwxr-x--- (switchboard|` + m[1] + `)/(switchboard|` + m[2] + `) .* squashfs-root/var/lib/switchboard$`),
		} {
			if !want.Match(out) {
				t.Errorf("squashfs listing lacks %s:\n%s", want, out)
			}
		}
	})

	t.Run("firstboot", func(t *testing.T) {
		r := chroottest.New(t, base+"-rootfs.tar.zst")
		if out, err := r.Try("systemd-analyze", "verify", "switchboard-firstboot.service", "switchboard.service"); err != nil || strings.Contains(out, "switchboard") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		d := r.Start(chroottest.AsService("/usr/bin/switchboard", "serve", "--config", "/etc/switchboard/switchboard.yaml")...)
		d.WaitHTTP(t, "http://127.0.0.1:80/healthz", 60*time.Second)

		seed := "SB_ADDRESS=192.0.2.10/24\nSB_GATEWAY=192.0.2.1\nSB_DNS=\"192.0.2.53 192.0.2.54\"\n"
		if err := os.WriteFile(r.Path("/etc/switchboard/firstboot.env"), []byte(seed), 0o600); err != nil {
			t.Fatal(err)
		}
		r.Run("env", "SB_CONSOLE=/root/console", "/usr/lib/switchboard/firstboot")
		console := readFile(t, r.Path("/root/console"))

		serial := strings.TrimSpace(readFile(t, r.Path("/etc/switchboard/serial")))
		if !regexp.MustCompile(`^SB\d{2}[0-9A-F]{10}$`).MatchString(serial) {
			t.Errorf("serial %q, want SB + year + 10 hex digits (no DMI serial in a chroot)", serial)
		}
		host := "switchboard-" + strings.ToLower(serial[len(serial)-6:])
		if got := strings.TrimSpace(readFile(t, r.Path("/etc/hostname"))); got != host {
			t.Errorf("hostname %q, want %q", got, host)
		}
		if !strings.Contains(console, "Serial number:  "+serial) {
			t.Errorf("console does not show the serial:\n%s", console)
		}
		static := readFile(t, r.Path("/etc/systemd/network/10-switchboard-static.network"))
		for _, want := range []string{"Address=192.0.2.10/24", "Gateway=192.0.2.1", "DNS=192.0.2.53", "DNS=192.0.2.54"} {
			if !strings.Contains(static, want+"\n") {
				t.Errorf("static network file lacks %s:\n%s", want, static)
			}
		}
		if _, err := os.Stat(r.Path("/etc/switchboard/firstboot.env")); err == nil {
			t.Error("the seed file (it may hold a password) was not deleted")
		}

		// The password shown once logs in to the admin API of the daemon.
		m := regexp.MustCompile(`Login:\s+admin / (\S+)`).FindStringSubmatch(console)
		if m == nil {
			t.Fatalf("no login on the console:\n%s", console)
		}
		password := m[1]
		if len(password) != 16 {
			t.Errorf("generated password %q: want 16 characters", password)
		}
		body, _ := json.Marshal(map[string]string{"username": "admin", "password": password})
		out, err := d.InNetns(t.Context(), "curl", "-fsSk", "--max-time", "10", "https://127.0.0.1:443/api/v1/login",
			"-H", "Content-Type: application/json", "-d", string(body))
		if err != nil || !strings.Contains(string(out), `"token"`) {
			t.Errorf("login with the first-boot password: %v %s", err, out)
		}
		// root's console password is set, and must be changed at first login.
		shadow := strings.Split(regexp.MustCompile(`(?m)^root:.*$`).FindString(readFile(t, r.Path("/etc/shadow"))), ":")
		if len(shadow) < 3 || strings.HasPrefix(shadow[1], "!") || shadow[1] == "*" || shadow[2] != "0" {
			t.Errorf("root shadow entry %q: want a password with a forced change", shadow)
		}
		// Shown once means written nowhere: not in /etc, /var or /root.
		for _, dir := range []string{"/etc", "/var", "/root"} {
			if f := findString(t, r.Path(dir), password, r.Path("/root/console")); f != "" {
				t.Errorf("the password is stored in %s", strings.TrimPrefix(f, r.Dir))
			}
		}

		// A second run changes nothing and shows nothing.
		os.Remove(r.Path("/root/console"))
		if out := r.Run("/usr/lib/switchboard/firstboot"); !strings.Contains(out, "already done") {
			t.Errorf("second run: %s", out)
		}
		if _, err := os.Stat(r.Path("/root/console")); err == nil {
			t.Error("second run wrote to the console again")
		}
		if got := strings.TrimSpace(readFile(t, r.Path("/etc/switchboard/serial"))); got != serial {
			t.Errorf("serial changed on the second run: %s -> %s", serial, got)
		}
		if err := d.Stop(); err != nil {
			t.Errorf("daemon stop: %v\n%s", err, d.Output())
		}
	})
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// findString returns the first regular file under dir (but skip) containing s.
func findString(t *testing.T, dir, s, skip string) string {
	t.Helper()
	found := ""
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || found != "" || !e.Type().IsRegular() || p == skip {
			return nil
		}
		if info, err := e.Info(); err != nil || info.Size() > 64<<20 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), s) {
			found = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(fmt.Errorf("searching %s: %w", dir, err))
	}
	return found
}
