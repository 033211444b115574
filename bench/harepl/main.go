// Command harepl measures what HA replication costs a commit, and what it sends,
// and prints one line:
//
//	bench ha-replication devices=10000 commits=1000 p99_commit_ms=... p50_commit_ms=... baseline_p99_commit_ms=...
//	  ratio=<baseline p99 / ours> bytes_per_commit=... bytes_per_commit_small=... small_devices=1000 ...
//
// For each store size (small, then large) it runs the real switchboard binary
// twice in network namespaces: alone with HA disabled (the baseline), then as
// the active node of a pair with the passive attached. Each run imports that
// many accounts and devices, waits until every file is rendered (and, with HA,
// until the passive holds the same revision), then makes the commits one after
// another through the admin API (an account's display name, each commit one
// account) and times each one as the admin sees it; with HA a commit returns
// once the passive acknowledged it. bytes_per_commit is what the active sent on
// the sync link (SSH included) divided by the commits; with a change log it
// does not grow with the store, which the two sizes show. cpu_ms_per_commit
// (passive_cpu_ms_per_commit, baseline_cpu_ms_per_commit) is what the active
// (the passive, the lone node) spent in CPU per commit. The load average is
// printed beside the latencies (the machine is shared). Needs root and iproute2;
// every namespace, bridge and veth is named sbr*.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-pbx/switchboard/bench/internal/benchnet"
	"github.com/switchboard-pbx/switchboard/bench/internal/procstat"
)

const (
	nsBr, nsA, nsB = "sbr-br", "sbr-a", "sbr-b"
	ipA, ipB       = "10.253.0.1", "10.253.0.2"
	vip            = "10.253.0.10"
)

var (
	bin     = flag.String("bin", "bin/switchboard", "switchboard binary")
	large   = flag.Int("devices", 10000, "devices (and accounts) of the large store")
	small   = flag.Int("small-devices", 1000, "devices of the small store (bytes per commit must not change)")
	commits = flag.Int("commits", 1000, "commits timed per run")
	keep    = flag.Bool("keep", false, "keep the work directory")
	profile = flag.String("cpuprofile", "", "directory for a CPU profile of each daemon (<node>-<ha>-<devices>.prof), for go tool pprof")
)

func main() {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/harepl: needs root (network namespaces)")
		os.Exit(1)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/harepl:", err)
		cleanup()
		os.Exit(1)
	}
}

func cleanup() { benchnet.Del(nsA, nsB, nsBr) }

func topology() error {
	cleanup()
	if err := benchnet.Add(nsBr, nsA, nsB); err != nil {
		return err
	}
	return benchnet.Bridge(nsBr, "sbrbr", benchnet.Member{NS: nsA, If: "sbrm", Addr: ipA + "/24", Port: "sbrap"},
		benchnet.Member{NS: nsB, If: "sbrm", Addr: ipB + "/24", Port: "sbrbp"})
}

// node is one daemon.
type node struct {
	name, dir string
	cmd       *exec.Cmd
	done      chan struct{}
	client    *http.Client
	log       *os.File
}

func start(bin, work, name string, ha bool, devices int) (*node, error) {
	n := &node{name: name, dir: filepath.Join(work, name), done: make(chan struct{})}
	os.RemoveAll(n.dir)
	os.MkdirAll(filepath.Join(n.dir, "ha"), 0o700)
	local, remote, def := ipA, ipB, true
	if name == "b" {
		local, remote, def = ipB, ipA, false
	}
	state := "disabled"
	if ha {
		state = "enabled"
		os.WriteFile(filepath.Join(n.dir, "ha", "cluster.key"), []byte(strings.Repeat("4d", 32)+"\n"), 0o600)
	}
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
http: {listen: "127.0.0.1:8080", https_listen: "127.0.0.1:8443"}
tftp: {listen: ""}
admin: {bcrypt_cost: 4}
ha:
  state: %s
  serial: bench-%s
  interface: sbrm
  local_ip: %s
  remote_ip: %s
  resource_ip: [%s/24]
  default_active: %v
  keepalive: 100ms
  warning: 500ms
  dead: 1s
  init: 1s
`, n.dir, state, name, local, remote, vip, def)
	p := filepath.Join(n.dir, "switchboard.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	ns := nsA
	if name == "b" {
		ns = nsB
	}
	n.cmd = exec.Command("ip", "netns", "exec", ns, bin, "serve", "--config", p)
	if *profile != "" {
		n.cmd.Env = append(os.Environ(), fmt.Sprintf("SWITCHBOARD_CPUPROFILE=%s/%s-%v-%d.prof", *profile, name, ha, devices))
	}
	n.log, _ = os.Create(filepath.Join(n.dir, "log"))
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	sock := filepath.Join(n.dir, "switchboard.sock")
	n.client = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	if !waitFor(30*time.Second, func() bool { return n.call("GET", "/api/v1/status", "", nil, nil) == nil }) {
		n.stop()
		return nil, fmt.Errorf("node %s did not start (see %s)", name, n.log.Name())
	}
	return n, nil
}

func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	n.log.Close()
}

func (n *node) call(method, path, ctype string, body io.Reader, out any) error {
	req, _ := http.NewRequest(method, "http://sb"+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (n *node) json(method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	return n.call(method, path, "application/json", bytes.NewReader(b), out)
}

func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

type haStatus struct {
	Role           string `json:"role"`
	Revision       int64  `json:"revision"`
	ReplicationLag int64  `json:"replication_lag"`
	Peer           *struct {
		Alive bool `json:"alive"`
	} `json:"peer"`
}

func (n *node) status() haStatus {
	var s haStatus
	n.call("GET", "/api/v1/ha", "", nil, &s) // zero status: not yet
	return s
}

// seed imports devices accounts and devices and waits until every file is rendered.
func seed(n *node, devices int) ([]string, error) {
	if err := n.json("PATCH", "/api/v1/tenants/default/pbx", map[string]any{"sip_server": "192.0.2.10"}, nil); err != nil {
		return nil, err
	}
	var acc, dev bytes.Buffer
	acc.WriteString("extension,sip_password,display_name\n")
	dev.WriteString("mac,model,account_extension\n")
	for i := range devices {
		fmt.Fprintf(&acc, "%d,pw-%08d,User %d\n", 10000+i, i*7919, i)
		fmt.Fprintf(&dev, "0015650%05x,yealink-t54w,%d\n", i, 10000+i)
	}
	if err := n.call("POST", "/api/v1/tenants/default/accounts.csv", "text/csv", &acc, nil); err != nil {
		return nil, err
	}
	if err := n.call("POST", "/api/v1/tenants/default/devices.csv", "text/csv", &dev, nil); err != nil {
		return nil, err
	}
	if err := waitRendered(n, devices); err != nil {
		return nil, err
	}
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := n.call("GET", "/api/v1/tenants/default/accounts", "", nil, &list); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(list.Items))
	for _, a := range list.Items {
		ids = append(ids, a.ID)
	}
	if len(ids) < devices {
		return nil, fmt.Errorf("%d accounts listed, %d imported", len(ids), devices)
	}
	return ids, nil
}

func waitRendered(n *node, devices int) error {
	if !waitFor(10*time.Minute, func() bool {
		var res struct {
			Items []json.RawMessage `json:"items"`
		}
		return n.call("GET", "/api/v1/tenants/default/files", "", nil, &res) == nil && len(res.Items) >= devices
	}) {
		return fmt.Errorf("node %s: files not rendered", n.name)
	}
	return nil
}

// commitLoop makes the timed commits and returns their latencies.
func commitLoop(n *node, ids []string, count int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, count)
	for i := range count {
		body := map[string]any{"display_name": fmt.Sprintf("User %d rev %d", i, time.Now().UnixNano())}
		start := time.Now()
		if err := n.json("PATCH", "/api/v1/tenants/default/accounts/"+ids[(i*7)%len(ids)], body, nil); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(start))
	}
	return lat, nil
}

var metricRE = regexp.MustCompile(`(?m)^switchboard_ha_sync_sent_bytes_total (\S+)$`)

// sentBytes reads the active's sync byte counter from /metrics.
func sentBytes(ns string) (float64, error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sk", "https://127.0.0.1:8443/metrics").Output()
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	m := metricRE.FindSubmatch(out)
	if m == nil {
		return 0, errors.New("no switchboard_ha_sync_sent_bytes_total in /metrics")
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

type result struct {
	p50, p99  time.Duration
	perCommit float64
	// cpu and passiveCPU are the CPU time the active (or lone) node and the
	// passive spent per commit while the commits ran.
	cpu, passiveCPU time.Duration
	load            string
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// measure runs one configuration: devices in the store, with or without the passive.
func measure(bin, work string, devices int, ha bool) (result, error) {
	var r result
	a, err := start(bin, work, "a", ha, devices)
	if err != nil {
		return r, err
	}
	defer a.stop()
	var b *node
	if ha {
		if b, err = start(bin, work, "b", true, devices); err != nil {
			return r, err
		}
		defer b.stop()
		if !waitFor(30*time.Second, func() bool {
			sa, sb := a.status(), b.status()
			return sa.Role == "active" && sb.Role == "passive" && sa.Peer != nil && sa.Peer.Alive
		}) {
			return r, errors.New("the pair did not settle with a active")
		}
	}
	ids, err := seed(a, devices)
	if err != nil {
		return r, err
	}
	if ha {
		if !waitFor(5*time.Minute, func() bool {
			return b.status().Revision == a.status().Revision && a.status().ReplicationLag == 0
		}) {
			return r, errors.New("the passive did not catch up with the seeded store")
		}
		if err := waitRendered(b, devices); err != nil {
			return r, err
		}
	}
	var before float64
	if ha {
		if before, err = sentBytes(nsA); err != nil {
			return r, err
		}
	}
	r.load = procstat.LoadAvg()
	// ip netns exec execs the binary: the command's process is the daemon.
	cpuA, cpuB := procstat.CPU(a.cmd.Process.Pid), time.Duration(0)
	if ha {
		cpuB = procstat.CPU(b.cmd.Process.Pid)
	}
	lat, err := commitLoop(a, ids, *commits)
	if err != nil {
		return r, err
	}
	r.cpu = (procstat.CPU(a.cmd.Process.Pid) - cpuA) / time.Duration(*commits)
	if ha {
		r.passiveCPU = (procstat.CPU(b.cmd.Process.Pid) - cpuB) / time.Duration(*commits)
	}
	r.p50, r.p99 = percentile(lat, 0.5), percentile(lat, 0.99)
	if ha {
		after, err := sentBytes(nsA)
		if err != nil {
			return r, err
		}
		r.perCommit = (after - before) / float64(*commits)
		// Every acknowledged commit is on the passive.
		if sa, sb := a.status(), b.status(); sb.Revision != sa.Revision {
			return r, fmt.Errorf("after the commits the passive is at revision %d, the active at %d", sb.Revision, sa.Revision)
		}
	}
	fmt.Fprintf(os.Stderr, "  devices=%d ha=%v p50=%v p99=%v bytes_per_commit=%.0f load=%s\n",
		devices, ha, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.perCommit, r.load)
	return r, nil
}

func run() error {
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "sbr-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	if err := topology(); err != nil {
		return err
	}
	defer cleanup()
	res := map[string]result{}
	for _, size := range []int{*small, *large} {
		for _, ha := range []bool{false, true} {
			r, err := measure(abs, work, size, ha)
			if err != nil {
				return fmt.Errorf("devices=%d ha=%v: %w", size, ha, err)
			}
			res[fmt.Sprint(size, ha)] = r
		}
	}
	base, ours, sm := res[fmt.Sprint(*large, false)], res[fmt.Sprint(*large, true)], res[fmt.Sprint(*small, true)]
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) }
	fmt.Printf("bench ha-replication devices=%d commits=%d p99_commit_ms=%s p50_commit_ms=%s baseline_p99_commit_ms=%s baseline_p50_commit_ms=%s ratio=%.2f bytes_per_commit=%.0f small_devices=%d bytes_per_commit_small=%.0f cpu_ms_per_commit=%s passive_cpu_ms_per_commit=%s baseline_cpu_ms_per_commit=%s load=%s baseline=no-ha target_ratio=0.5\n",
		*large, *commits, ms(ours.p99), ms(ours.p50), ms(base.p99), ms(base.p50), base.p99.Seconds()/ours.p99.Seconds(),
		ours.perCommit, *small, sm.perCommit, ms(ours.cpu), ms(ours.passiveCPU), ms(base.cpu), ours.load)
	return nil
}
