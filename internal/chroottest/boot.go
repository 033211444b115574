package chroottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// System is systemd booted as PID 1 of the tree, in namespaces of its own
// (pid, mount, uts, ipc, net, cgroup), the way a container manager runs it: the
// units, D-Bus, polkitd and logind of the tree are real, nothing is faked.
type System struct {
	r       *Root
	unshare *exec.Cmd
	pid     int // systemd, as the host sees it
	out     *syncBuffer
	cgroups []string // the host cgroups made for it, removed at the end
	done    chan struct{}
}

// cgroup2Magic is CGROUP2_SUPER_MAGIC, the f_type of a cgroup2 mount.
const cgroup2Magic = 0x63677270

// bootScript runs in the new namespaces: it mounts what systemd expects of a
// container (the tree as a mount of its own, proc, a read-only sys so udev
// stays off, a cgroup tree rooted at the namespace's own cgroup, tmpfs /run and
// a minimal /dev), makes the tree the root (pivot_root: the sandboxing of units
// needs / to be a mount point, which a chroot's is not) and execs systemd.
// $1 is "unified" or "hybrid" or "legacy".
const bootScript = `set -eu
R=$0
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs -o ro sysfs "$R/sys"
case $1 in
unified) mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup" ;;
*)
	mount -t tmpfs -o mode=755 tmpfs "$R/sys/fs/cgroup"
	mkdir "$R/sys/fs/cgroup/systemd"
	mount -t cgroup -o none,name=systemd cgroup "$R/sys/fs/cgroup/systemd"
	if [ "$1" = hybrid ]; then
		mkdir "$R/sys/fs/cgroup/unified"
		mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup/unified"
	fi
	mount -o remount,ro "$R/sys/fs/cgroup"
	;;
esac
mount -t tmpfs -o mode=755 tmpfs "$R/run"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
for n in null zero full random urandom tty; do
	touch "$R/dev/$n"
	mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ip link set lo up
cd "$R"
mkdir -p .host
pivot_root . .host
umount -l /.host
rmdir /.host
exec /usr/bin/env -i container=switchboard-test PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system
`

// Boot starts systemd in the tree and waits until it has finished starting
// up (is-system-running says running or degraded). At the end of the test the
// whole namespace is killed and its cgroups removed.
func (r *Root) Boot() *System {
	r.t.Helper()
	for _, tool := range []string{"pivot_root", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			r.t.Fatalf("chroottest: booting systemd: %s not installed (util-linux, mount): %v", tool, err)
		}
	}
	// Named after the tree, so a cgroup left by a killed test run says whose it was.
	layout, hosts, err := bootCgroups("switchboard-test-" + filepath.Base(r.Dir))
	if err != nil {
		r.t.Fatalf("chroottest: booting systemd: %v", err)
	}
	s := &System{r: r, out: &syncBuffer{}, done: make(chan struct{})}
	for _, h := range hosts {
		if err := os.Mkdir(h, 0o755); err != nil {
			s.removeCgroups()
			r.t.Fatalf("chroottest: booting systemd: a cgroup of its own (this needs a writable cgroup filesystem, as a Debian machine or VM has; a container's is often read-only): %v", err)
		}
		s.cgroups = append(s.cgroups, h)
	}
	// The shell joins the new cgroups before unshare, so that they are the root
	// of the cgroup namespace systemd sees.
	join := ""
	for _, h := range hosts {
		join += "echo $$ >" + shellQuote(filepath.Join(h, "cgroup.procs")) + " && "
	}
	script := join + `exec unshare --kill-child=SIGKILL --pid --fork --mount --uts --ipc --net --cgroup --propagation private -- /bin/sh -c "$0" "$@"`
	s.unshare = exec.Command("/bin/sh", "-c", script, bootScript, r.Dir, layout)
	s.unshare.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	s.unshare.Stdout, s.unshare.Stderr = s.out, s.out
	// If the test binary is killed, unshare follows, and its --kill-child takes
	// the whole booted system with it rather than leave it running.
	s.unshare.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.unshare.Start(); err != nil {
		s.removeCgroups()
		r.t.Fatalf("chroottest: booting systemd: %v", err)
	}
	go func() { s.unshare.Wait(); close(s.done) }()
	r.t.Cleanup(s.stop)

	start := time.Now()
	deadline := start.Add(90 * time.Second)
	for s.pid == 0 {
		s.pid = s.findSystemd()
		if s.pid == 0 {
			s.checkAlive(deadline, "systemd did not start")
			time.Sleep(50 * time.Millisecond)
		}
	}
	for {
		out, _ := s.Try("systemctl", "is-system-running")
		switch strings.TrimSpace(out) {
		case "running", "degraded":
			r.t.Logf("systemd booted in %s (%s, %s cgroups)", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out), layout)
			return s
		}
		s.checkAlive(deadline, "systemd did not finish starting up: "+strings.TrimSpace(out))
		time.Sleep(100 * time.Millisecond)
	}
}

// bootCgroups picks the host's cgroup layout and the cgroup directories to
// make for the booted system (one per hierarchy systemd uses).
func bootCgroups(name string) (layout string, dirs []string, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		return "", nil, fmt.Errorf("/sys/fs/cgroup: %w", err)
	}
	if st.Type == cgroup2Magic {
		return "unified", []string{"/sys/fs/cgroup/" + name}, nil
	}
	if err := syscall.Statfs("/sys/fs/cgroup/systemd", &st); err != nil {
		return "", nil, fmt.Errorf("neither a cgroup2 /sys/fs/cgroup nor a name=systemd hierarchy at /sys/fs/cgroup/systemd: %w", err)
	}
	dirs = []string{"/sys/fs/cgroup/systemd/" + name}
	if err := syscall.Statfs("/sys/fs/cgroup/unified", &st); err == nil && st.Type == cgroup2Magic {
		return "hybrid", append(dirs, "/sys/fs/cgroup/unified/"+name), nil
	}
	return "legacy", dirs, nil
}

// findSystemd is the host pid of the namespace's PID 1 once it runs systemd.
func (s *System) findSystemd() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.unshare.Process.Pid, s.unshare.Process.Pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == "systemd" {
			return pid
		}
	}
	return 0
}

func (s *System) checkAlive(deadline time.Time, why string) {
	s.r.t.Helper()
	select {
	case <-s.done:
		s.r.t.Fatalf("chroottest: systemd exited while starting up:\n%s", s.out.String())
	default:
	}
	if time.Now().After(deadline) {
		s.r.t.Fatalf("chroottest: %s\n%s\n%s", why, s.out.String(), s.Journal())
	}
}

// Try runs args as root inside the booted system (its namespaces and root) and
// returns the combined output and the error.
func (s *System) Try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{"-t", strconv.Itoa(s.pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup",
		"--root", "--wd", "--", "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", full...).CombinedOutput()
	return string(out), err
}

// Run is Try that fails the test (with the journal) when the command fails.
func (s *System) Run(args ...string) string {
	s.r.t.Helper()
	out, err := s.Try(args...)
	if err != nil {
		s.r.t.Fatalf("in the booted tree: %s: %v\n%s\n%s", strings.Join(args, " "), err, out, s.Journal())
	}
	return out
}

// Journal is the tail of the booted system's journal, for failure messages.
func (s *System) Journal() string {
	if s.pid == 0 {
		return ""
	}
	out, _ := s.Try("journalctl", "-b", "--no-pager", "-n", "150")
	return "journal:\n" + out
}

// stop kills the namespace's PID 1 (the kernel then kills everything in it),
// and removes the cgroups once they are empty.
func (s *System) stop() {
	if s.pid != 0 {
		syscall.Kill(s.pid, syscall.SIGKILL) // the namespace dies with it
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.unshare.Process.Kill() // it may have just exited
		<-s.done
	}
	if err := s.removeCgroups(); err != nil {
		s.r.t.Errorf("chroottest: %v", err)
	}
}

// removeCgroups removes the booted system's cgroups, deepest first, waiting for
// the killed processes to leave them.
func (s *System) removeCgroups() error {
	deadline := time.Now().Add(15 * time.Second)
	for _, top := range s.cgroups {
		for {
			err := removeTree(top)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("removing cgroup %s: %w", top, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// removeTree rmdirs a cgroup directory and its children (cgroupfs refuses
// os.RemoveAll's unlink of the control files; rmdir of an empty cgroup works).
func removeTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return syscall.Rmdir(dir)
}

func shellQuote(s string) string {
	var b bytes.Buffer
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", `'\''`))
	b.WriteByte('\'')
	return b.String()
}
