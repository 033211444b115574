package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The root tests build their own network: namespaces named sbddh<pid>-<role>,
// veth pairs created directly inside them (no interface ever exists in the
// host's namespace), addresses in 10.201.0.0/16 that only exist there.

const nsPrefix = "sbddh"

func needRoot(t *testing.T, tools ...string) {
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

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// removeLeftovers deletes namespaces of earlier runs of these tests whose
// process is gone (a crashed run cannot clean up after itself), killing what
// they still run. Namespaces of live runs, and anyone else's, are left alone.
func removeLeftovers() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, nsPrefix)
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
		killNetnsPids(name)
		exec.Command("ip", "netns", "del", name).Run() //nolint:errcheck
	}
}

func killNetnsPids(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			unix.Kill(pid, unix.SIGKILL) //nolint:errcheck
		}
	}
}

var nsSeq int

// newNS creates a namespace with lo up and deletes it when the test ends.
func newNS(t *testing.T, role string) string {
	t.Helper()
	nsSeq++
	name := fmt.Sprintf("%s%d-%s%d", nsPrefix, os.Getpid(), role, nsSeq)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		killNetnsPids(name)
		exec.Command("ip", "netns", "del", name).Run() //nolint:errcheck
	})
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// link connects a veth end named ifA in nsA (enslaved to bridge br if br != "")
// to ifB in nsB, with MAC macB on the nsB end, both up.
func link(t *testing.T, nsA, ifA, br, nsB, ifB, macB string) {
	t.Helper()
	run(t, "ip", "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	if br != "" {
		run(t, "ip", "-n", nsA, "link", "set", ifA, "master", br)
	}
	run(t, "ip", "-n", nsA, "link", "set", ifA, "up")
	if macB != "" {
		run(t, "ip", "-n", nsB, "link", "set", ifB, "address", macB)
	}
	run(t, "ip", "-n", nsB, "link", "set", ifB, "up")
}

// inNS runs fn on an OS thread switched into namespace ns. Sockets fn opens
// stay in ns after the thread switches back.
func inNS(ns string, fn func() error) error {
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
		// Leave the thread locked: the runtime then retires it with the goroutine.
		return fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// nsCmd is a command run inside ns, killed when the test ends.
func nsCmd(t *testing.T, ctx context.Context, ns string, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// readEnvFile parses KEY=VALUE lines as written by "env" (values may be quoted
// by "export -p"-style scripts; both forms are read).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("client script output: %v", err)
	}
	out := map[string]string{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), "=")
		if ok {
			out[k] = v
		}
	}
	return out
}
