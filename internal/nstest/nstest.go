// Package nstest builds throw-away networks for tests that need real addresses:
// network namespaces named sbddh<pid>-<role><n>, veth pairs created directly
// inside them (no interface ever appears in the host's namespace), deleted when
// the test ends. Callers must be root (Need skips otherwise).
package nstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts every namespace name this package creates.
const Prefix = "sbddh"

// Need skips the test unless it runs as root with ip and tools on PATH.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces (CI runs as root)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (installed by .ci/run)", tool)
		}
	}
}

// Run runs a command and fails the test with its output when it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// RemoveLeftovers deletes namespaces of earlier runs whose process is gone (a
// crashed run cannot clean up after itself), killing what they still run.
// Namespaces of live runs, and everyone else's, are left alone.
func RemoveLeftovers() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, Prefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue
		}
		killPids(name)
		exec.Command("ip", "netns", "del", name).Run()
	}
}

func killPids(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

var seq atomic.Int64

// New creates a namespace with lo up; it (and whatever still runs in it) is
// removed when the test ends.
func New(t testing.TB, role string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d-%s%d", Prefix, os.Getpid(), role, seq.Add(1))
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		killPids(name)
		exec.Command("ip", "netns", "del", name).Run()
	})
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Link connects veth end ifA in nsA (enslaved to bridge br when br != "") to ifB
// in nsB, with MAC macB on the nsB end ("" keeps a random one); both come up.
func Link(t testing.TB, nsA, ifA, br, nsB, ifB, macB string) {
	t.Helper()
	Run(t, "ip", "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	if br != "" {
		Run(t, "ip", "-n", nsA, "link", "set", ifA, "master", br)
	}
	Run(t, "ip", "-n", nsA, "link", "set", ifA, "up")
	if macB != "" {
		Run(t, "ip", "-n", nsB, "link", "set", ifB, "address", macB)
	}
	Run(t, "ip", "-n", nsB, "link", "set", ifB, "up")
}

// In runs fn on an OS thread switched into namespace ns. Sockets fn opens stay
// in ns after the thread switches back.
func In(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime retires it with the goroutine.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Cmd is a command run inside ns ("ip netns exec"), bound to ctx.
func Cmd(ctx context.Context, ns string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// ReadEnv parses the KEY=VALUE lines "env" writes.
func ReadEnv(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("client script output: %v", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}
