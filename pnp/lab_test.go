package pnp

// Test network: an appliance namespace and a phone namespace joined by a veth
// pair, each with lo up and a route for 224.0.0.0/4 on its veth, so that a
// SUBSCRIBE to 224.0.1.75 from the phone reaches the responder's group socket.
// Every name starts with "sbp" and carries our pid, so that leftovers of a dead
// run are found and removed while other runs' namespaces are left alone.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type lab struct {
	app, phone     string // namespace names
	appIf, phoneIf string // veth ends
	appIP, phoneIP string
	dir            string
}

var labSeq atomic.Int32

// leftoverRE matches the names of these tests, of bench/pnp (sbpb...) and of
// cmd/switchboard's PnP test (sbpe2e..., sbpd...), capturing the creator's pid.
var leftoverRE = regexp.MustCompile(`^sbp(?:app|ph|a|p|bapp|bph|ba|bp|e2e|d)(\d+)(?:n\d+)?p?$`)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces (CI runs as root)")
	}
	for _, bin := range []string{"ip", "sipp"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian packages iproute2, sip-tester; .ci/run installs them)", bin)
		}
	}
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cleanLeftovers deletes sbp namespaces and links whose creating process is gone.
func cleanLeftovers() {
	dead := func(name string) bool {
		m := leftoverRE.FindStringSubmatch(name)
		if m == nil {
			return false
		}
		pid, _ := strconv.Atoi(m[1])
		return pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && dead(f[0]) {
				exec.Command("ip", "netns", "del", f[0]).Run()
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 {
				name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
				if dead(name) {
					exec.Command("ip", "link", "del", name).Run()
				}
			}
		}
	}
}

// newLab builds the two namespaces; t.Cleanup removes them.
func newLab(t testing.TB) *lab {
	t.Helper()
	needRoot(t)
	cleanLeftovers()
	n := labSeq.Add(1)
	id := fmt.Sprintf("%dn%d", os.Getpid(), n)
	l := &lab{app: "sbpapp" + id, phone: "sbpph" + id, appIf: "sbpa" + id, phoneIf: "sbpp" + id,
		appIP: fmt.Sprintf("198.18.%d.1", n%250), phoneIP: fmt.Sprintf("198.18.%d.2", n%250), dir: t.TempDir()}
	if len(l.appIf) > 15 {
		t.Fatalf("interface name %s too long", l.appIf)
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", l.app).Run()
		exec.Command("ip", "netns", "del", l.phone).Run()
		exec.Command("ip", "link", "del", l.appIf).Run()
	})
	sh(t, "ip", "netns", "add", l.app)
	sh(t, "ip", "netns", "add", l.phone)
	sh(t, "ip", "link", "add", l.appIf, "type", "veth", "peer", "name", l.phoneIf)
	sh(t, "ip", "link", "set", l.appIf, "netns", l.app)
	sh(t, "ip", "link", "set", l.phoneIf, "netns", l.phone)
	for _, x := range []struct{ ns, ifc, ip string }{{l.app, l.appIf, l.appIP}, {l.phone, l.phoneIf, l.phoneIP}} {
		sh(t, "ip", "-n", x.ns, "link", "set", "lo", "up")
		sh(t, "ip", "-n", x.ns, "addr", "add", x.ip+"/24", "dev", x.ifc)
		sh(t, "ip", "-n", x.ns, "link", "set", x.ifc, "up")
		sh(t, "ip", "-n", x.ns, "route", "add", "224.0.0.0/4", "dev", x.ifc)
	}
	return l
}

// inNS runs fn on an OS thread switched into namespace ns. Sockets fn opens stay
// in ns after the thread switches back, so the responder runs in this process
// (its stats and store are the test's) with its network in the appliance
// namespace.
func inNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		} // else: stay locked, the thread dies with this goroutine
		errc <- ferr
	}()
	return <-errc
}

// sipp runs SIPp in namespace ns and returns its exit code and output.
func sipp(ctx context.Context, ns string, args ...string) (int, string) {
	all := append([]string{"netns", "exec", ns, "sipp", "-nostdin"}, args...)
	cmd := exec.CommandContext(ctx, "ip", all...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		return -1, err.Error() + "\n" + out.String()
	}
	return 0, out.String()
}

// sipMsg is one message of SIPp's -trace_msg log.
type sipMsg struct {
	at       time.Time
	received bool
	text     string
}

var traceHead = regexp.MustCompile(`(?m)^-+ (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?)\s*\n(UDP message (received|sent)[^\n]*)\n`)

// readTrace splits SIPp's message log into messages.
func readTrace(t testing.TB, path string) []sipMsg {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("SIPp message log: %v", err)
	}
	s := string(b)
	idx := traceHead.FindAllStringSubmatchIndex(s, -1)
	var out []sipMsg
	for i, m := range idx {
		end := len(s)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.999999", strings.Join(strings.Fields(s[m[2]:m[3]]), " "), time.Local)
		if err != nil {
			t.Fatalf("SIPp log time %q: %v", s[m[2]:m[3]], err)
		}
		out = append(out, sipMsg{at: at, received: s[m[6]:m[7]] == "received", text: strings.TrimSpace(s[m[1]:end])})
	}
	if len(out) == 0 {
		t.Fatalf("no messages in SIPp's log:\n%s", s)
	}
	return out
}

// header returns the first value of a header in a message's text.
func header(msg, name string) string {
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func body(msg string) string {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	_, b, _ := strings.Cut(msg, "\n\n")
	return strings.TrimSpace(b)
}

func startLine(msg string) string { l, _, _ := strings.Cut(msg, "\n"); return strings.TrimSpace(l) }

// waitUDPBound waits until something in namespace ns listens on UDP addr
// (a SIPp instance started in the background has bound its port).
func waitUDPBound(t *testing.T, ns, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Hlun", "src", addr).Output()
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on udp %s in %s: %v %s", addr, ns, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
