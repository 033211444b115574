package chroottest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireRoot skips the test, saying why, when it cannot create chroots.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (debootstrap, chroot, namespaces): run make test-packages as root, as CI does")
	}
	for _, tool := range []string{"debootstrap", "unshare", "nsenter", "ip", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (.ci/run installs it): %v", tool, err)
		}
	}
}

// RepoRoot is the top of the source tree (where go.mod is).
func RepoRoot(t testing.TB) string { return repoRoot() }

func repoRoot() string {
	// This file's own path, recorded at build time, is two levels below the top.
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CacheDir is where debootstrap trees are kept between runs: SB_CACHE as the
// Makefile sets it, else .cache at the top of the tree.
func CacheDir(t testing.TB) string { return cacheDir() }

func cacheDir() string {
	if d := os.Getenv("SB_CACHE"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), ".cache")
}

// BasePackages is the extra package list of the appliance tree without a
// kernel, read from rootfs/base-packages (shared with the image build, so the
// tests and "make image" reuse one cached tree).
func BasePackages(t testing.TB) string {
	t.Helper()
	p, err := basePackages()
	if err != nil {
		t.Fatalf("chroottest: %v", err)
	}
	return p
}

// Prefetch starts building the base tree for arch in the background when
// running as root, so debootstrap overlaps the package builds; Base then waits
// for it (mkbase.sh locks per tree). Errors surface in Base.
func Prefetch(arch string) {
	if os.Geteuid() != 0 {
		return
	}
	pkgs, err := basePackages()
	if err != nil {
		return
	}
	if err := os.MkdirAll(cacheDir(), 0o755); err != nil {
		return
	}
	cmd := exec.Command(filepath.Join(repoRoot(), "rootfs", "mkbase.sh"), cacheDir(), arch, pkgs)
	if cmd.Start() == nil {
		go cmd.Wait() // Base reports failures
	}
}

func basePackages() (string, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "rootfs", "base-packages"))
	if err != nil {
		return "", err
	}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			pkgs = append(pkgs, line)
		}
	}
	return strings.Join(pkgs, ","), nil
}

// Base returns the cached tarball of a Debian tree for arch with the extra
// packages, running debootstrap the first time (about a minute).
func Base(t testing.TB, arch, packages string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(filepath.Join(RepoRoot(t), "rootfs", "mkbase.sh"), CacheDir(t), arch, packages)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mkbase.sh: %v\n%s", err, stderr.String())
	}
	t.Logf("base tree ready in %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
	return strings.TrimSpace(string(out))
}

// Root is an unpacked Debian tree.
type Root struct {
	Dir string
	t   testing.TB
}

// New unpacks tarball into a fresh directory removed at the end of the test.
// The cleanup fails the test if anything is still mounted below it.
func New(t testing.TB, tarball string) *Root {
	t.Helper()
	dir, err := os.MkdirTemp(CacheDir(t), "root.")
	if err != nil {
		t.Fatalf("chroottest: %v", err)
	}
	r := &Root{Dir: dir, t: t}
	t.Cleanup(func() {
		if m := mountsBelow(dir); len(m) > 0 {
			t.Errorf("chroottest: still mounted below %s: %v", dir, m)
			for _, p := range m {
				syscall.Unmount(p, syscall.MNT_DETACH) // best effort before removal
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("chroottest: removing %s: %v", dir, err)
		}
	})
	if out, err := exec.Command("tar", "-C", dir, "--numeric-owner", "-xpf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	return r
}

// mountsBelow lists mount points at or under dir in this mount namespace.
func mountsBelow(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var found []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			found = append(found, f[4])
		}
	}
	return found
}

// Path is p inside the tree, as seen from the host.
func (r *Root) Path(p string) string { return filepath.Join(r.Dir, p) }

// chrootCmd runs args chrooted in the tree inside a private mount namespace
// with its own /proc: the mounts vanish with the namespace, whatever happens.
// With netns the command also gets a network namespace of its own whose
// loopback is up, so daemons can bind their real ports without touching the
// host's.
func (r *Root) chrootCmd(ctx context.Context, netns bool, args ...string) *exec.Cmd {
	ns := []string{"--mount", "--uts", "--propagation", "private", "--mount-proc=" + r.Path("proc")}
	script := `exec chroot "$0" "$@"`
	if netns {
		ns = append(ns, "--net")
		script = `ip link set lo up && exec chroot "$0" "$@"`
	}
	full := append(append(ns, "--", "/bin/sh", "-c", script, r.Dir), args...)
	cmd := exec.CommandContext(ctx, "unshare", full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"}
	return cmd
}

// Run runs args in the tree and returns the combined output; it fails the test
// if the command fails.
func (r *Root) Run(args ...string) string {
	r.t.Helper()
	out, err := r.Try(args...)
	if err != nil {
		r.t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Try runs args in the tree and returns the combined output and the error.
func (r *Root) Try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := r.chrootCmd(ctx, false, args...).CombinedOutput()
	return string(out), err
}

// Daemon is a process running in the tree in its own network namespace.
type Daemon struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	waitErr error
}

// Start starts args in the tree, in a new network namespace, and stops it
// (SIGTERM, then SIGKILL) at the end of the test if it is still running.
func (r *Root) Start(args ...string) *Daemon {
	r.t.Helper()
	d := &Daemon{out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = r.chrootCmd(context.Background(), true, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		r.t.Fatalf("starting %v: %v", args, err)
	}
	go func() { d.waitErr = d.cmd.Wait(); close(d.done) }()
	r.t.Cleanup(func() { d.Stop() }) // the test checks Stop itself when it matters
	return d
}

// Output is what the daemon wrote so far.
func (d *Daemon) Output() string { return d.out.String() }

// Exited reports whether the daemon has ended, and how.
func (d *Daemon) Exited() (bool, error) {
	select {
	case <-d.done:
		return true, d.waitErr
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to 15 s, then kills. It returns the exit error.
func (d *Daemon) Stop() error {
	if ok, err := d.Exited(); ok {
		return err
	}
	d.cmd.Process.Signal(syscall.SIGTERM) // it may have just exited
	select {
	case <-d.done:
		return d.waitErr
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill() // it may have just exited
		<-d.done
		return errors.New("did not stop within 15 s of SIGTERM")
	}
}

// InNetns runs a host command (curl, say) inside the daemon's network namespace.
func (d *Daemon) InNetns(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{fmt.Sprintf("--net=/proc/%d/ns/net", d.cmd.Process.Pid), "--"}, args...)
	return exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
}

// Pid is the daemon's process id as the host sees it.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// ServiceCaps are the capabilities the systemd unit grants (AmbientCapabilities
// and CapabilityBoundingSet), in setpriv's spelling.
const ServiceCaps = "+net_bind_service,+net_admin,+net_raw"

// AsService prefixes a command so that it runs in the tree the way the unit runs
// the daemon: as user switchboard, with only ServiceCaps, and no new privileges.
func AsService(args ...string) []string {
	return append([]string{"setpriv", "--reuid=switchboard", "--regid=switchboard", "--init-groups",
		"--no-new-privs", "--bounding-set=-all," + ServiceCaps, "--inh-caps=-all," + ServiceCaps,
		"--ambient-caps=-all," + ServiceCaps}, args...)
}

// WaitHTTP polls url with curl inside the daemon's network namespace until it
// answers 2xx, the daemon exits, or the timeout passes; it returns the body.
func (d *Daemon) WaitHTTP(t testing.TB, url string, timeout time.Duration) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if done, err := d.Exited(); done {
			t.Fatalf("daemon exited: %v\n%s", err, d.Output())
		}
		out, err := d.InNetns(ctx, "curl", "-fsSk", "--max-time", "2", url)
		if err == nil {
			return out
		}
		if ctx.Err() != nil {
			t.Fatalf("GET %s: %v %s\n%s", url, err, out, d.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// NFPMModule is the nfpm the packages are built with (the Makefile pins the same).
const NFPMModule = "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"

// EnsureNFPM installs nfpm at path (its file name must be "nfpm") unless it is
// there already. The tests do it themselves rather than the Makefile, so the
// install overlaps the debootstrap that Prefetch started; a lock keeps two test
// binaries from installing it twice.
func EnsureNFPM(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if filepath.Base(path) != "nfpm" {
		return fmt.Errorf("nfpm: %s: go install can only name the binary nfpm", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nfpm: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("nfpm: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("nfpm: lock: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	cmd := exec.Command("go", "install", NFPMModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go install %s: %w\n%s", NFPMModule, err, out)
	}
	return nil
}
