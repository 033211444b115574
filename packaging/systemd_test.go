package packaging

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestScriptsWithSystemd runs the real dpkg and rpm transactions on a host that
// looks like it runs systemd (/run/systemd/system exists) with systemctl
// replaced by a recorder, and checks what the maintainer scripts ask of systemd
// at each step; then, without systemctl at all, that an install still works.
func TestScriptsWithSystemd(t *testing.T) {
	b := packages(t)
	r := appliance(t)
	copyInto(t, r, pkgFile(t, b.v1, "deb", "amd64"), "/tmp/v1.deb")
	copyInto(t, r, pkgFile(t, b.v2, "deb", "amd64"), "/tmp/v2.deb")
	if err := os.MkdirAll(r.Path("/run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	const calls = "/var/log/systemctl.calls"
	recorder := "#!/bin/sh\necho \"$*\" >>" + calls + "\n"
	if err := os.WriteFile(r.Path("/usr/bin/systemctl"), []byte(recorder), 0o755); err != nil {
		t.Fatal(err)
	}
	step := func(name string, want []string, args ...string) {
		t.Helper()
		os.Remove(r.Path(calls))
		if args[0] == "rpm" {
			run(t, "rpm", append([]string{"--root", r.Dir, "--force-debian", "--nodeps"}, args[1:]...)...)
		} else {
			r.Run(args...)
		}
		var got []string
		if b, err := os.ReadFile(r.Path(calls)); err == nil {
			got = strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: systemctl calls %q, want %q", name, got, want)
		}
	}
	const unit = "switchboard.service"
	step("dpkg install", []string{"enable " + unit, "daemon-reload", "start " + unit}, "dpkg", "-i", "/tmp/v1.deb")
	step("dpkg upgrade", []string{"daemon-reload", "try-restart " + unit},
		"dpkg", "-i", "--force-confdef", "--force-confold", "/tmp/v2.deb")
	removed := []string{"stop " + unit, "is-enabled --quiet " + unit, "disable " + unit, "daemon-reload"}
	step("dpkg remove", removed, "dpkg", "-r", "switchboard")
	// Installing again after a remove (dpkg passes the old version, as for an
	// upgrade) enables and starts the service again.
	step("dpkg reinstall after remove", []string{"enable " + unit, "daemon-reload", "start " + unit}, "dpkg", "-i", "/tmp/v2.deb")
	step("dpkg remove again", removed, "dpkg", "-r", "switchboard")
	step("dpkg purge", []string{"daemon-reload"}, "dpkg", "-P", "switchboard")

	// rpm orders an upgrade differently: new %post (2), old %preun (1), old
	// %postun (1), and the restart belongs to the last.
	step("rpm install", []string{"enable " + unit, "daemon-reload", "start " + unit}, "rpm", "-i", pkgFile(t, b.v1, "rpm", "amd64"))
	step("rpm upgrade", []string{"daemon-reload", "try-restart " + unit}, "rpm", "-U", pkgFile(t, b.v2, "rpm", "amd64"))
	step("rpm erase", removed, "rpm", "-e", "switchboard")

	// No systemd at all (a container, a minimal chroot): installs still work.
	os.Remove(r.Path("/usr/bin/systemctl"))
	os.RemoveAll(r.Path("/run/systemd"))
	step("dpkg install without systemd", nil, "dpkg", "-i", "/tmp/v1.deb")
	checkUser(t, r)
	if exists(r, enabled) {
		t.Error("an enable symlink appeared without systemctl")
	}
}
