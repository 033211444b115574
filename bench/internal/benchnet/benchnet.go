// Package benchnet builds the benchmarks' throw-away networks: network
// namespaces, veth pairs made directly inside them (no interface ever
// appears in the host's namespace), a bridge in a namespace of its own, and
// the processes left in them at the end. The benchmarks are programs, so
// errors are returned; internal/nstest is the tests' equivalent, which fails
// a testing.T instead. Needs root and iproute2.
package benchnet

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Run runs a command; its output is in the error when it fails.
func Run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Pids lists the processes running in namespace ns.
func Pids(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Kill SIGKILLs every process in ns and returns when the signals went out
// (the processes are listed first, so that a failover timed from it does not
// count the listing).
func Kill(ns string) time.Time {
	pids := Pids(ns)
	at := time.Now()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL) // gone already is fine
	}
	return at
}

// Del kills what runs in the namespaces and deletes them; a namespace that
// does not exist is no error (Del also clears the leftovers of a run that
// crashed).
func Del(names ...string) {
	for _, ns := range names {
		Kill(ns)
	}
	for _, ns := range names {
		exec.Command("ip", "netns", "del", ns).Run() // a namespace that is not there is fine
	}
}

// Add creates the namespaces, each with its loopback up.
func Add(names ...string) error {
	for _, ns := range names {
		if err := Run("ip", "netns", "add", ns); err != nil {
			return err
		}
		if err := Run("ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	return nil
}

// Link joins namespaces a and b with a veth pair, ifA in a and ifB in b,
// gives each end its address (CIDR; "" for none) and brings both up.
func Link(a, ifA, addrA, b, ifB, addrB string) error {
	steps := [][]string{{"ip", "-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b}}
	for _, end := range [][3]string{{a, ifA, addrA}, {b, ifB, addrB}} {
		if end[2] != "" {
			steps = append(steps, []string{"ip", "-n", end[0], "addr", "add", end[2], "dev", end[1]})
		}
		steps = append(steps, []string{"ip", "-n", end[0], "link", "set", end[1], "up"})
	}
	for _, s := range steps {
		if err := Run(s...); err != nil {
			return err
		}
	}
	return nil
}

// Member is a namespace on a bridge: its interface If, with address Addr
// (CIDR), and Port, the other end of its veth pair, on the bridge.
type Member struct{ NS, If, Addr, Port string }

// Bridge creates bridge br (up) in namespace brNS and joins each member to
// it: a LAN between the members, through a namespace none of them runs in.
func Bridge(brNS, br string, members ...Member) error {
	if err := Run("ip", "-n", brNS, "link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	if err := Run("ip", "-n", brNS, "link", "set", br, "up"); err != nil {
		return err
	}
	for _, m := range members {
		if err := Link(m.NS, m.If, m.Addr, brNS, m.Port, ""); err != nil {
			return err
		}
		if err := Run("ip", "-n", brNS, "link", "set", m.Port, "master", br); err != nil {
			return err
		}
	}
	return nil
}
