// Command ha measures failover of switchboard's HA against keepalived in the same
// network-namespace harness and prints one line:
//
//	bench ha-failover ratio=<keepalived/ours> ours_s=<x> keepalived_s=<y> dual_active_after_heal_ms=<z>
//
// Failover is the time from SIGKILL of every process of the active node to the
// client's first echo reply from the new node (the client pings the VIP every 5 ms;
// nodes are told apart by their IP TTL). Both use a 100 ms keepalive (keepalived:
// advert_int 0.1, unicast peers); ours has a 300 ms dead timeout. The median of -runs
// runs is reported. dual_active_after_heal_ms is how long both of our nodes still hold
// the VIP after a peer-path partition heals. Needs root, iproute2, iputils-ping and
// keepalived; every namespace, bridge and veth is named sbh*.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/switchboard-pbx/switchboard/bench/internal/benchnet"
)

const (
	nsBr, nsA, nsB, nsC = "sbhb-br", "sbhb-a", "sbhb-b", "sbhb-c"
	ipA, ipB, ipC       = "10.252.0.1", "10.252.0.2", "10.252.0.100"
	vip                 = "10.252.0.10"
)

func run(args ...string) error { return benchnet.Run(args...) }

func must(args ...string) {
	mustOK(run(args...))
}

// mustOK ends the bench, cleaned up, on err.
func mustOK(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		cleanup()
		os.Exit(1)
	}
}

func cleanup() { benchnet.Del(nsA, nsB, nsC, nsBr) }

// stopAll kills both nodes' daemons and waits until they are gone (their sockets
// must be free for the next run).
func stopAll() {
	waitFor(5*time.Second, 10*time.Millisecond, func() bool {
		benchnet.Kill(nsA)
		benchnet.Kill(nsB)
		return len(benchnet.Pids(nsA))+len(benchnet.Pids(nsB)) == 0
	})
}

func topology() {
	cleanup()
	mustOK(benchnet.Add(nsBr, nsA, nsB, nsC))
	var members []benchnet.Member
	for _, n := range []struct{ ns, port, ip string }{{nsA, "sbhbap", ipA}, {nsB, "sbhbbp", ipB}, {nsC, "sbhbcp", ipC}} {
		members = append(members, benchnet.Member{NS: n.ns, If: "sbhm", Addr: n.ip + "/24", Port: n.port})
	}
	mustOK(benchnet.Bridge(nsBr, "sbhbr", members...))
	must("ip", "netns", "exec", nsA, "sysctl", "-q", "-w", "net.ipv4.ip_default_ttl=61")
	must("ip", "netns", "exec", nsB, "sysctl", "-q", "-w", "net.ipv4.ip_default_ttl=62")
}

// holds reports whether ns has the VIP, through netlink (fast enough to poll at 1 ms).
func holds(ns string) bool {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return false
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return false
	}
	defer nl.Close()
	link, err := nl.LinkByName("sbhm")
	if err != nil {
		return false
	}
	addrs, _ := nl.AddrList(link, netlink.FAMILY_V4)
	for _, a := range addrs {
		if a.IP.Equal(net.ParseIP(vip)) {
			return true
		}
	}
	return false
}

func waitFor(d time.Duration, step time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(step) {
		if cond() {
			return true
		}
	}
	return false
}

type daemon interface {
	name() string
	start(node string) error // node is "a" or "b"
	reset()                  // before a run: remove VIPs and state
}

// ours runs the switchboard binary.
type ours struct {
	bin, dir string
}

func (o *ours) name() string { return "ours" }

func (o *ours) reset() {
	for _, n := range []string{"a", "b"} {
		os.RemoveAll(filepath.Join(o.dir, n))
	}
}

func (o *ours) start(node string) error {
	dir := filepath.Join(o.dir, node)
	os.MkdirAll(filepath.Join(dir, "ha"), 0o700)
	os.WriteFile(filepath.Join(dir, "ha", "cluster.key"), []byte(strings.Repeat("3c", 32)), 0o600)
	local, remote, def := ipA, ipB, "true"
	if node == "b" {
		local, remote, def = ipB, ipA, "false"
	}
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: info}
http: {listen: "127.0.0.1:8080", https_listen: "127.0.0.1:8443"}
tftp: {listen: ""}
ha:
  state: enabled
  serial: bench-%s
  interface: sbhm
  local_ip: %s
  remote_ip: %s
  resource_ip: [%s/24]
  default_active: %s
  keepalive: 100ms
  warning: 200ms
  dead: 300ms
  init: 300ms
`, dir, node, local, remote, vip, def)
	p := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", "sbhb-"+node, o.bin, "serve", "--config", p)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

var timeRE = regexp.MustCompile(`time=(\S+) .*to=active`)

// explain prints, on stderr, when node b took the role: the split between failure
// detection and the client moving over.
func (o *ours) explain(fault time.Time) {
	b, _ := os.ReadFile(filepath.Join(o.dir, "b", "log"))
	if m := timeRE.FindSubmatch(b); m != nil {
		if at, err := time.Parse(time.RFC3339Nano, string(m[1])); err == nil {
			fmt.Fprintf(os.Stderr, "  ours: b active %v after the fault\n", at.Sub(fault).Round(time.Millisecond))
		}
	}
}

// keepalived runs Debian's keepalived with the same timers. VRRPv2 only has whole
// seconds: advert_int 0.1 needs VRRPv3.
type keepalived struct{ dir string }

func (k *keepalived) name() string { return "keepalived" }

func (k *keepalived) reset() {}

func (k *keepalived) start(node string) error {
	local, remote, prio, state := ipA, ipB, 150, "MASTER"
	if node == "b" {
		local, remote, prio, state = ipB, ipA, 100, "BACKUP"
	}
	conf := fmt.Sprintf(`global_defs {
  router_id sbhb_%s
  enable_script_security
  vrrp_version 3
}
vrrp_instance sbhb {
  state %s
  interface sbhm
  virtual_router_id 57
  priority %d
  advert_int 0.1
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    %s/24
  }
}
`, node, state, prio, local, remote, vip)
	dir := filepath.Join(k.dir, "k"+node)
	os.MkdirAll(dir, 0o700)
	p := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", "sbhb-"+node, "keepalived", "-n", "-l", "-P", "-f", p,
		"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"))
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

var replyRE = regexp.MustCompile(`^\[(\d+\.\d+)\].*ttl=(\d+)`)

// pinger pings the VIP from the client every 5 ms and reports reply times by TTL.
type reply struct {
	at  time.Time
	ttl int
}

func startPinger() (*exec.Cmd, <-chan reply, error) {
	cmd := exec.Command("ip", "netns", "exec", nsC, "ping", "-n", "-D", "-i", "0.005", "-W", "1", vip)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	ch := make(chan reply, 4096)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := replyRE.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			f, _ := strconv.ParseFloat(m[1], 64)
			ttl, _ := strconv.Atoi(m[2])
			sec, frac := math.Modf(f)
			select {
			case ch <- reply{time.Unix(int64(sec), int64(frac*1e9)), ttl}:
			default:
			}
		}
		close(ch)
	}()
	return cmd, ch, nil
}

// failover measures one run: a active, kill a, first reply from b.
func failover(d daemon) (time.Duration, error) {
	stopAll()
	run("ip", "-n", nsA, "addr", "del", vip+"/24", "dev", "sbhm")
	run("ip", "-n", nsB, "addr", "del", vip+"/24", "dev", "sbhm")
	run("ip", "-n", nsC, "neigh", "flush", "dev", "sbhm")
	d.reset()
	if err := d.start("a"); err != nil {
		return 0, err
	}
	time.Sleep(500 * time.Millisecond)
	if err := d.start("b"); err != nil {
		return 0, err
	}
	if !waitFor(10*time.Second, 10*time.Millisecond, func() bool { return holds(nsA) && !holds(nsB) }) {
		return 0, fmt.Errorf("%s: node a never became the only holder", d.name())
	}
	time.Sleep(1500 * time.Millisecond) // steady state: b settled as backup
	ping, replies, err := startPinger()
	if err != nil {
		return 0, err
	}
	defer func() { ping.Process.Kill(); ping.Wait() }()
	if !waitFor(5*time.Second, 5*time.Millisecond, func() bool {
		select {
		case r := <-replies:
			return r.ttl == 61
		default:
			return false
		}
	}) {
		return 0, fmt.Errorf("%s: the client gets no reply from a", d.name())
	}
	// The bench's own sleeps are multiples of the keepalive, which would lock the
	// fault to one phase of the heartbeat: randomise it.
	time.Sleep(rand.N(200 * time.Millisecond))
	fault := benchnet.Kill(nsA) // the fault: the pids listed first, the time when the signals went out
	deadline := time.After(15 * time.Second)
	for {
		select {
		case r, ok := <-replies:
			if !ok {
				return 0, fmt.Errorf("%s: ping ended", d.name())
			}
			if r.ttl == 62 && r.at.After(fault) {
				if o, ok := d.(*ours); ok {
					o.explain(fault)
				}
				return r.at.Sub(fault), nil
			}
		case <-deadline:
			return 0, fmt.Errorf("%s: no reply from b within 15 s of the fault", d.name())
		}
	}
}

// dualActive partitions the peer path (poisoned neighbour entries) until both hold
// the VIP, heals it and measures how long both still hold it.
func dualActive(o *ours) (time.Duration, error) {
	stopAll()
	run("ip", "-n", nsA, "addr", "del", vip+"/24", "dev", "sbhm")
	run("ip", "-n", nsB, "addr", "del", vip+"/24", "dev", "sbhm")
	o.reset()
	o.start("a")
	time.Sleep(500 * time.Millisecond)
	o.start("b")
	if !waitFor(10*time.Second, 10*time.Millisecond, func() bool { return holds(nsA) && !holds(nsB) }) {
		return 0, fmt.Errorf("ours: node a never became the only holder")
	}
	time.Sleep(time.Second)
	must("ip", "-n", nsA, "neigh", "replace", ipB, "lladdr", "02:00:00:00:be:ef", "dev", "sbhm", "nud", "permanent")
	must("ip", "-n", nsB, "neigh", "replace", ipA, "lladdr", "02:00:00:00:be:ef", "dev", "sbhm", "nud", "permanent")
	if !waitFor(10*time.Second, 10*time.Millisecond, func() bool { return holds(nsA) && holds(nsB) }) {
		return 0, fmt.Errorf("ours: partition did not make both active")
	}
	time.Sleep(500 * time.Millisecond)
	healed := time.Now()
	must("ip", "-n", nsA, "neigh", "del", ipB, "dev", "sbhm")
	must("ip", "-n", nsB, "neigh", "del", ipA, "dev", "sbhm")
	if !waitFor(10*time.Second, time.Millisecond, func() bool { return holds(nsA) != holds(nsB) }) {
		return 0, fmt.Errorf("ours: both still active 10 s after the heal")
	}
	return time.Since(healed), nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	bin := flag.String("bin", "bin/switchboard", "switchboard binary")
	runs := flag.Int("runs", 5, "runs per daemon (median)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/ha: needs root (network namespaces)")
		os.Exit(1)
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, _ := os.MkdirTemp("", "sbhb-")
	defer os.RemoveAll(dir)
	topology()
	defer cleanup()
	o, k := &ours{bin: abs, dir: dir}, &keepalived{dir: dir}
	var mine, theirs, dual []time.Duration
	// Interleave the daemons so that load changes on the box hit both alike.
	for i := 0; i < *runs; i++ {
		for _, d := range []daemon{o, k} {
			t, err := failover(d)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench/ha:", err)
				cleanup()
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "run %d %s: %v\n", i+1, d.name(), t.Round(time.Millisecond))
			if d == daemon(o) {
				mine = append(mine, t)
			} else {
				theirs = append(theirs, t)
			}
		}
	}
	for i := 0; i < *runs; i++ {
		t, err := dualActive(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/ha:", err)
			cleanup()
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "run %d dual active after heal: %v\n", i+1, t.Round(time.Millisecond))
		dual = append(dual, t)
	}
	m, th := median(mine), median(theirs)
	fmt.Printf("bench ha-failover ratio=%.2f ours_s=%.3f keepalived_s=%.3f dual_active_after_heal_ms=%d\n",
		th.Seconds()/m.Seconds(), m.Seconds(), th.Seconds(), median(dual).Milliseconds())
}
