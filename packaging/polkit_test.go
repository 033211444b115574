package packaging

import (
	"os"
	"strings"
	"testing"
	"time"
)

// askScript runs as the packaged switchboard.service (its User= and sandbox,
// only ExecStart replaced by a drop-in) and asks systemd what the HA unit hooks
// ask at a switchover (ha/hooks.go: "systemctl start|stop UNIT" as the service
// user, which systemd checks with polkit; as there, no --no-ask-password and
// no terminal). One line per question in
// /usr/local/lib/sb-questions ("VERB UNIT"); one answer per line in
// /var/lib/switchboard/polkit-answers: "VERB UNIT -> EXIT STATE: MESSAGE".
const askScript = `set -u
out=/var/lib/switchboard/polkit-answers
: >"$out"
while read -r verb unit; do
	msg=$(systemctl "$verb" "$unit" 2>&1 </dev/null)
	rc=$?
	echo "$verb $unit -> $rc $(systemctl is-active "$unit"): $msg" | tr '\n' ' ' >>"$out"
	echo >>"$out"
done </usr/local/lib/sb-questions
`

// askDropIn turns the packaged unit into a one-shot run of askScript, keeping
// everything else (user, capabilities, sandbox) as shipped.
const askDropIn = `[Service]
Type=oneshot
ExecStart=
ExecStart=/bin/sh /usr/local/lib/sb-ask.sh
Restart=no
WatchdogSec=0
NotifyAccess=none
`

// denied is what systemctl says when polkit does not authorize the call (no
// agent to ask for a password): a denial, not some other failure.
const denied = "Interactive authentication required"

// TestPolkitHAUnits installs the deb in the appliance tree, boots its systemd
// (with its D-Bus and polkitd) and checks the packaged polkit rule the way the
// daemon meets it: from inside switchboard.service, "systemctl start" and
// "stop" of a unit listed in /etc/switchboard-ha-units work, and nothing wider
// does (another unit, another verb, enabling, another user); a unit root adds
// to the list is allowed at once, without restarting polkitd.
func TestPolkitHAUnits(t *testing.T) {
	start := time.Now()
	b := packages(t)
	r := appliance(t)
	t.Logf("packages and tree ready in %s", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat(r.Path("/usr/lib/polkit-1/polkitd")); err != nil {
		t.Fatalf("the appliance tree has no polkitd (rootfs/base-packages): %v", err)
	}
	copyInto(t, r, pkgFile(t, b.v1, "deb", "amd64"), "/tmp/v1.deb")
	r.Run("dpkg", "-i", "/tmp/v1.deb")
	// The service would start at boot; here it runs only when asked to.
	r.Run("systemctl", "disable", "--quiet", "switchboard.service")

	// Units standing in for the PBX services HA moves; one listed by its full
	// name, one by the short name ha.units also accepts, one not listed.
	for _, u := range []string{"sb-hook", "sb-short", "sb-other"} {
		put(t, r, "/etc/systemd/system/"+u+".service", "[Service]\nExecStart=/bin/sleep infinity\n", 0o644)
	}
	const units = "/etc/switchboard-ha-units"
	put(t, r, units, readFile(t, r, units)+"sb-hook.service\nsb-short\n", 0o644)
	put(t, r, "/etc/systemd/system/switchboard.service.d/polkit-test.conf", askDropIn, 0o644)
	put(t, r, "/usr/local/lib/sb-ask.sh", askScript, 0o755)

	sys := r.Boot()
	ask := func(questions ...string) map[string]string {
		t.Helper()
		put(t, r, "/usr/local/lib/sb-questions", strings.Join(questions, "\n")+"\n", 0o644)
		start := time.Now()
		sys.Run("systemctl", "start", "switchboard.service")
		t.Logf("asked %d questions in %s", len(questions), time.Since(start).Round(time.Millisecond))
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(readFile(t, r, "/var/lib/switchboard/polkit-answers")), "\n") {
			q, a, _ := strings.Cut(line, " -> ")
			got[q] = a
		}
		if len(got) != len(questions) {
			t.Fatalf("asked %q, got answers %q\n%s", questions, got, sys.Journal())
		}
		return got
	}
	check := func(got map[string]string, q, wantPrefix, wantMsg string) {
		t.Helper()
		a := got[q]
		if !strings.HasPrefix(a, wantPrefix) || !strings.Contains(a, wantMsg) {
			t.Errorf("switchboard: systemctl %s -> %q, want %q... %q", q, a, wantPrefix, wantMsg)
		}
	}

	// A switchover to active then to passive, both spellings of a listed unit.
	got := ask("start sb-hook.service", "stop sb-hook", "start sb-short", "stop sb-short.service")
	check(got, "start sb-hook.service", "0 active:", "")
	check(got, "stop sb-hook", "0 inactive:", "")
	check(got, "start sb-short", "0 active:", "")
	check(got, "stop sb-short.service", "0 inactive:", "")

	// Nothing wider: an unlisted unit, a verb the hooks never use, another
	// polkit action (enable), and another user.
	got = ask("start sb-other.service", "restart sb-hook.service", "reload-or-restart sb-hook.service", "enable sb-hook.service")
	check(got, "start sb-other.service", "1 inactive:", denied)
	check(got, "restart sb-hook.service", "1 inactive:", denied)
	check(got, "reload-or-restart sb-hook.service", "1 inactive:", denied)
	check(got, "enable sb-hook.service", "1 inactive:", denied)
	out, err := sys.Try("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"systemctl", "--no-ask-password", "start", "sb-hook.service")
	if err == nil || !strings.Contains(out, denied) {
		t.Errorf("nobody: systemctl start sb-hook.service: %v %q, want a polkit denial", err, out)
	}
	if st, _ := sys.Try("systemctl", "is-active", "sb-hook.service"); strings.TrimSpace(st) != "inactive" {
		t.Errorf("sb-hook.service is %q after the denied calls", strings.TrimSpace(st))
	}

	// Root lists another unit: the rule reads the list on every check.
	put(t, r, units, readFile(t, r, units)+"sb-other.service\n", 0o644)
	got = ask("start sb-other.service", "stop sb-other.service")
	check(got, "start sb-other.service", "0 active:", "")
	check(got, "stop sb-other.service", "0 inactive:", "")
	if t.Failed() {
		t.Log(sys.Journal())
	}
}

// put writes a file in the tree (making its directory) with the given mode.
func put(t *testing.T, r interface{ Path(string) string }, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(r.Path(p[:strings.LastIndex(p, "/")]), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Path(p), []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(r.Path(p), mode); err != nil {
		t.Fatal(err)
	}
}
