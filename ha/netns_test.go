package ha

// The HA harness: two nodes, a client and two ping targets, each in its own network
// namespace, on a main and a sync bridge; the real switchboard binary runs on each
// node through "ip netns exec". Every namespace, bridge and veth is named sbh*, and
// leftovers of an earlier run are deleted first. Needs root; skips otherwise.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

const (
	nsBridge = "sbh-br"
	nsClient = "sbh-c"
	vip      = "10.251.0.10"
	vip6     = "fd51::10"
)

var (
	buildOnce sync.Once
	sbBin     string
	buildErr  error
)

// switchboardBinary builds ./cmd/switchboard once per test process.
func switchboardBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sbh-bin-")
		if err != nil {
			buildErr = err
			return
		}
		sbBin = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-o", sbBin, "../cmd/switchboard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return sbBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sbBin != "" {
		os.RemoveAll(filepath.Dir(sbBin))
	}
	os.Exit(code)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the HA harness needs root (network namespaces, addresses, raw sockets); CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the HA harness needs iproute2 (ip)")
	}
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("the HA harness needs iputils-ping")
	}
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func shQuiet(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// deleteNamespaces removes every sbh-* namespace (ours, from this or an earlier run).
func deleteNamespaces() {
	out, _ := shQuiet("ip", "netns", "list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "sbh-") {
			shQuiet("ip", "netns", "del", f[0])
		}
	}
}

type haNode struct {
	name, ns, dir, cfg string
	mainIP, syncIP     string
	ttl                int
	cmd                *exec.Cmd
	log                *lockedBuf
	done               chan struct{}
}

type lockedBuf = testlog.Buffer

type cluster struct {
	t    *testing.T
	bin  string
	a, b *haNode
}

// Timers of the harness: fast, with margins for a box shared by other test runs.
const (
	hKeepalive = 100 * time.Millisecond
	hDead      = 600 * time.Millisecond
	hInit      = 1200 * time.Millisecond
)

// newCluster builds the topology with a shared cluster key; the nodes are not started.
func newCluster(t *testing.T) *cluster { return newClusterWith(t, true) }

// newClusterWith builds the topology; without keys a is the coordinator and the
// nodes have to be paired.
func newClusterWith(t *testing.T, keys bool) *cluster { return newClusterMode(t, keys, false) }

// newClusterMode builds the topology; off leaves HA disabled in both
// configuration files (only the serial set): the test turns it on at run time.
func newClusterMode(t *testing.T, keys, off bool) *cluster {
	needRoot(t)
	bin := switchboardBinary(t)
	deleteNamespaces()
	t.Cleanup(deleteNamespaces)
	c := &cluster{t: t, bin: bin}
	for _, ns := range []string{nsBridge, nsClient, "sbh-a", "sbh-b", "sbh-t1", "sbh-t2"} {
		sh(t, "ip", "netns", "add", ns)
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	for _, br := range []string{"sbhmain", "sbhsync"} {
		sh(t, "ip", "-n", nsBridge, "link", "add", br, "type", "bridge")
		sh(t, "ip", "-n", nsBridge, "link", "set", br, "up")
	}
	// port connects interface ifname in ns to bridge br under the name port.
	port := func(ns, ifname, port, br string, addrs ...string) {
		sh(t, "ip", "-n", ns, "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", nsBridge)
		sh(t, "ip", "-n", nsBridge, "link", "set", port, "master", br, "up")
		for _, a := range addrs {
			args := []string{"ip", "-n", ns, "addr", "add", a, "dev", ifname}
			if strings.Contains(a, ":") {
				args = append(args, "nodad")
			}
			sh(t, args...)
		}
		sh(t, "ip", "-n", ns, "link", "set", ifname, "up")
	}
	port("sbh-a", "sbhm", "sbhamp", "sbhmain", "10.251.0.1/24", "fd51::1/64")
	port("sbh-a", "sbhs", "sbhasp", "sbhsync", "10.251.1.1/24")
	port("sbh-b", "sbhm", "sbhbmp", "sbhmain", "10.251.0.2/24", "fd51::2/64")
	port("sbh-b", "sbhs", "sbhbsp", "sbhsync", "10.251.1.2/24")
	port(nsClient, "sbhm", "sbhcp", "sbhmain", "10.251.0.100/24", "fd51::64/64")
	port("sbh-t1", "sbhm", "sbht1p", "sbhmain", "10.251.0.201/24")
	port("sbh-t2", "sbhm", "sbht2p", "sbhmain", "10.251.0.202/24")
	key := strings.Repeat("5a", 32)
	mk := func(name string, ttl int, mainIP, peerIP, syncIP, syncPeer string, def bool) *haNode {
		n := &haNode{name: name, ns: "sbh-" + name, dir: t.TempDir(), mainIP: mainIP, syncIP: syncIP, ttl: ttl}
		sh(t, "ip", "netns", "exec", n.ns, "sysctl", "-q", "-w", fmt.Sprintf("net.ipv4.ip_default_ttl=%d", ttl))
		os.MkdirAll(filepath.Join(n.dir, "ha"), 0o700)
		state := "enabled"
		if keys {
			os.WriteFile(filepath.Join(n.dir, "ha", "cluster.key"), []byte(key+"\n"), 0o600)
		} else if def {
			state = "coordinator"
		}
		n.cfg = filepath.Join(n.dir, "switchboard.yaml")
		if off {
			cfg := fmt.Sprintf(`data_dir: %s
log: {level: debug}
http: {listen: ":8080", https_listen: ":8443"}
tftp: {listen: ":69"}
admin: {bcrypt_cost: 4}
ha:
  state: disabled
  serial: node-%s
  on_active: ["echo active >> %s/hooks.log"]
  on_passive: ["echo passive >> %s/hooks.log"]
`, n.dir, name, n.dir, n.dir)
			if err := os.WriteFile(n.cfg, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return n
		}
		cfg := fmt.Sprintf(`data_dir: %s
log: {level: debug}
http: {listen: ":8080", https_listen: ":8443"}
tftp: {listen: ":69"}
admin: {bcrypt_cost: 4}
ha:
  state: %s
  serial: node-%s
  remote_serial: peer
  interface: sbhm
  local_ip: %s
  remote_ip: %s
  sync_interface: sbhs
  sync_local_ip: %s
  sync_remote_ip: %s
  resource_ip: [%s/24, "%s/64"]
  ping_group: [10.251.0.201, 10.251.0.202]
  default_active: %v
  keepalive: %v
  warning: %v
  dead: %v
  init: %v
  on_active: ["echo active >> %s/hooks.log"]
  on_passive: ["echo passive >> %s/hooks.log"]
`, n.dir, state, name, mainIP, peerIP, syncIP, syncPeer, vip, vip6, def, hKeepalive, hDead/2, hDead, hInit, n.dir, n.dir)
		if err := os.WriteFile(n.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return n
	}
	c.a = mk("a", 61, "10.251.0.1", "10.251.0.2", "10.251.1.1", "10.251.1.2", true)
	c.b = mk("b", 62, "10.251.0.2", "10.251.0.1", "10.251.1.2", "10.251.1.1", false)
	t.Cleanup(func() {
		for _, n := range []*haNode{c.a, c.b} {
			c.kill(n)
			if t.Failed() {
				t.Logf("log of node %s:\n%s", n.name, tail(n.log, logLines()))
				if d := os.Getenv("SBH_LOG_DIR"); d != "" && n.log != nil {
					os.WriteFile(filepath.Join(d, t.Name()+"-"+n.name+".log"), []byte(n.log.String()), 0o644)
				}
			}
		}
	})
	return c
}

// logLines is how many lines of each node's log a failed test shows
// (SBH_LOG_LINES, default 60).
func logLines() int {
	if n, err := strconv.Atoi(os.Getenv("SBH_LOG_LINES")); err == nil && n > 0 {
		return n
	}
	return 60
}

func tail(l *lockedBuf, lines int) string {
	if l == nil {
		return "(not started)"
	}
	s := strings.Split(l.String(), "\n")
	if len(s) > lines {
		s = s[len(s)-lines:]
	}
	return strings.Join(s, "\n")
}

func (c *cluster) start(n *haNode) {
	c.t.Helper()
	n.log = &lockedBuf{}
	n.cmd = exec.Command("ip", "netns", "exec", n.ns, c.bin, "serve", "--config", n.cfg)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(n.cmd, n.done)
}

// signal sends sig to the daemon (ip netns exec execs it: same pid).
func (c *cluster) signal(n *haNode, sig syscall.Signal) {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(sig)
	}
}

func (c *cluster) kill(n *haNode) {
	if n.cmd == nil {
		return
	}
	c.signal(n, syscall.SIGCONT)
	c.signal(n, syscall.SIGKILL)
	<-n.done
	n.cmd = nil
}

// holds reports whether n has the resource address on its main interface.
func holds(t *testing.T, n *haNode) bool {
	out := sh(t, "ip", "-n", n.ns, "addr", "show", "dev", "sbhm")
	return strings.Contains(out, " "+vip+"/")
}

func holds6(t *testing.T, n *haNode) bool {
	return strings.Contains(sh(t, "ip", "-n", n.ns, "addr", "show", "dev", "sbhm"), " "+vip6+"/")
}

func (c *cluster) holders() []string {
	var out []string
	for _, n := range []*haNode{c.a, c.b} {
		if holds(c.t, n) {
			out = append(out, n.name)
		}
	}
	return out
}

var ttlRE = regexp.MustCompile(`ttl=(\d+)`)

// answerer pings the resource address from the client and says which node replied.
func (c *cluster) answerer() string {
	out, _ := shQuiet("ip", "netns", "exec", nsClient, "ping", "-n", "-c", "1", "-W", "1", vip)
	m := ttlRE.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	switch m[1] {
	case "61":
		return "a"
	case "62":
		return "b"
	}
	return "ttl " + m[1]
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// never watches cond for d and reports whether it stayed false throughout: an
// assertion that something does not happen within a window.
func never(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return false
		}
	}
	return !cond()
}

// settle waits until exactly node want holds the address and the client reaches it,
// and checks that the state stays so for two dead timeouts.
func (c *cluster) settle(want string, d time.Duration) {
	c.t.Helper()
	only := func() bool {
		h := c.holders()
		return len(h) == 1 && h[0] == want && c.answerer() == want
	}
	ok := waitFor(d, only)
	if ok {
		ok = never(2*hDead, func() bool { return !only() })
	}
	if !ok {
		c.t.Fatalf("want the resource on node %s only and the client answered by it; holders %v, answered by %q", want, c.holders(), c.answerer())
	}
	wn := c.a
	if want == "b" {
		wn = c.b
	}
	if !holds6(c.t, wn) {
		c.t.Fatalf("IPv6 resource %s not on node %s", vip6, want)
	}
}

// cli runs a CLI verb against a node's control socket.
func (c *cluster) cli(n *haNode, stdin string, args ...string) (string, error) {
	cmd := exec.Command(c.bin, append([]string{"--socket", filepath.Join(n.dir, "switchboard.sock")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// write adds a user on n (an admin write); it returns the name.
func (c *cluster) write(n *haNode, name string) {
	c.t.Helper()
	if out, err := c.cli(n, "pw-"+name+"-secret\n", "user", "add", name, "--role", "auditor", "--password-stdin"); err != nil {
		c.t.Fatalf("admin write on %s: %v\n%s", n.name, err, out)
	}
}

// users lists the user names on n.
func (c *cluster) users(n *haNode) []string {
	c.t.Helper()
	out, err := c.cli(n, "", "user", "list", "--json")
	if err != nil {
		c.t.Fatalf("user list on %s: %v\n%s", n.name, err, out)
	}
	var res struct {
		Items []struct {
			Username string `json:"username"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		c.t.Fatalf("user list: %v\n%s", err, out)
	}
	var names []string
	for _, u := range res.Items {
		names = append(names, u.Username)
	}
	return names
}

func (c *cluster) assertWrites(n *haNode, names ...string) {
	c.t.Helper()
	have := c.users(n)
	for _, w := range names {
		if !slices.Contains(have, w) {
			c.t.Fatalf("write %q acknowledged before the fault is missing on the active node %s (has %v)", w, n.name, have)
		}
	}
}

func (c *cluster) status(n *haNode) Status {
	c.t.Helper()
	out, err := c.cli(n, "", "ha", "status", "--json")
	if err != nil {
		c.t.Fatalf("ha status on %s: %v\n%s", n.name, err, out)
	}
	var s Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		c.t.Fatalf("ha status: %v\n%s", err, out)
	}
	return s
}

// up starts both nodes, waits for a to be active and replicating, and makes writes
// that are acknowledged before any fault.
func (c *cluster) up(writes ...string) {
	c.t.Helper()
	c.start(c.a)
	// a first: b joins a node that is running (in its init wait or active).
	if !waitFor(15*time.Second, func() bool { return c.socketsReady(c.a) }) {
		c.t.Fatal("node a did not start")
	}
	c.start(c.b)
	c.settle("a", 15*time.Second)
	for _, w := range writes {
		c.write(c.a, w)
	}
}

func (c *cluster) socketsReady(n *haNode) bool {
	_, err := os.Stat(filepath.Join(n.dir, "switchboard.sock"))
	return err == nil
}

// The phone the harness provisions (a built-in model), and the file it fetches.
const (
	phoneFile = "001565000201.cfg"
	phoneSIP  = "192.0.2.44"
)

// provisionPhone configures one Yealink phone on n (admin writes, audited there).
func (c *cluster) provisionPhone(n *haNode) {
	c.t.Helper()
	accounts, devices := filepath.Join(n.dir, "accounts.csv"), filepath.Join(n.dir, "devices.csv")
	os.WriteFile(accounts, []byte("extension,sip_password,display_name\n201,secret-201,Ada\n"), 0o600)
	os.WriteFile(devices, []byte("mac,model,account_extension\n00:15:65:00:02:01,yealink-t54w,201\n"), 0o600)
	// The file is fetched by name (secure URLs off): failover is under test
	// here, not how a phone learns its secret URL.
	for _, args := range [][]string{{"pbx", "set", "sip_server=" + phoneSIP, "secure_urls=false"}, {"account", "import", accounts}, {"device", "import", devices}} {
		if out, err := c.cli(n, "", args...); err != nil {
			c.t.Fatalf("%v on %s: %v\n%s", args, n.name, err, out)
		}
	}
}

// httpGet fetches url from the client namespace: status code, Retry-After, body.
func httpGet(url string) (int, string, string) {
	out, err := shQuiet("ip", "netns", "exec", nsClient, "curl", "-sk", "-i", "--max-time", "3", url)
	if err != nil {
		return 0, "", out
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(out, "\r\n", "\n"), "\n\n")
	var code int
	var retry string
	for i, line := range strings.Split(head, "\n") {
		if f := strings.Fields(line); i == 0 && len(f) > 1 {
			code, _ = strconv.Atoi(f[1])
		} else if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "retry-after") {
			retry = strings.TrimSpace(v)
		}
	}
	return code, retry, body
}

// tftpGet fetches the phone's file over TFTP (curl's client) from the client namespace.
func tftpGet(host string) (string, error) {
	out, err := shQuiet("ip", "netns", "exec", nsClient, "curl", "-s", "--max-time", "2", "tftp://"+host+"/"+phoneFile)
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return out, nil
}

// assertServes checks that active serves the phone's file over TFTP and HTTP(S)
// through the resource IP, and that passive (on its own address) answers
// /provisioning/ with 503 and Retry-After on HTTP and HTTPS and serves no TFTP
// (passive nil: the other node is dead).
func (c *cluster) assertServes(active, passive *haNode) {
	c.t.Helper()
	var last string
	ok := waitFor(10*time.Second, func() bool {
		for _, u := range []string{"http://" + vip + ":8080/provisioning/" + phoneFile, "https://" + vip + ":8443/provisioning/" + phoneFile} {
			code, _, body := httpGet(u)
			if code != 200 || !strings.Contains(body, phoneSIP) {
				last = fmt.Sprintf("%s: %d %.200q", u, code, body)
				return false
			}
		}
		if body, err := tftpGet(vip); err != nil || !strings.Contains(body, phoneSIP) {
			last = fmt.Sprintf("tftp via %s: %v %.200q", vip, err, body)
			return false
		}
		return c.answerer() == active.name
	})
	if !ok {
		c.t.Fatalf("active %s does not serve the phone's file through the resource IP: %s", active.name, last)
	}
	if passive == nil { // dead
		return
	}
	for _, u := range []string{"http://" + passive.mainIP + ":8080/provisioning/" + phoneFile, "https://" + passive.mainIP + ":8443/provisioning/" + phoneFile} {
		code, retry, body := httpGet(u)
		if code != 503 || retry == "" || !strings.Contains(body, "not the active") {
			c.t.Fatalf("passive %s: %s: %d (Retry-After %q) %.200q, want 503 with a reason", passive.name, u, code, retry, body)
		}
	}
	if body, err := tftpGet(passive.mainIP); err == nil {
		c.t.Fatalf("passive %s serves TFTP: %.200q", passive.name, body)
	}
	// The admin side stays up on the passive.
	if code, _, body := httpGet("https://" + passive.mainIP + ":8443/healthz"); code != 200 {
		c.t.Fatalf("passive %s /healthz: %d %s", passive.name, code, body)
	}
}

type auditItem struct {
	ID          int64  `json:"id"`
	Hash        string `json:"hash"`
	User        string `json:"user"`
	Description string `json:"description"`
	ObjectID    string `json:"object_id"`
}

// audit lists n's audit rows (newest first) and checks that its chain verifies.
func (c *cluster) audit(n *haNode) []auditItem {
	c.t.Helper()
	out, err := c.cli(n, "", "audit", "list", "--json", "--limit", "1000")
	if err != nil {
		c.t.Fatalf("audit list on %s: %v\n%s", n.name, err, out)
	}
	var res struct{ Items []auditItem }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		c.t.Fatalf("audit list on %s: %v\n%s", n.name, err, out)
	}
	if out, err := c.cli(n, "", "audit", "verify"); err != nil || !strings.Contains(out, "chain intact") {
		c.t.Fatalf("audit verify on %s: %v\n%s", n.name, err, out)
	}
	return res.Items
}

// assertAuditReplicated waits until to's audit log equals from's, both verifying.
func (c *cluster) assertAuditReplicated(from, to *haNode) []auditItem {
	c.t.Helper()
	var a, b []auditItem
	if !waitFor(5*time.Second, func() bool { a, b = c.audit(from), c.audit(to); return slices.Equal(a, b) }) {
		c.t.Fatalf("audit log of %s (%d rows) differs from %s's (%d rows)", to.name, len(b), from.name, len(a))
	}
	return a
}

// hasAudit reports whether rows include one for objectID or with description desc.
func hasAudit(rows []auditItem, match string) bool {
	for _, r := range rows {
		if r.ObjectID == match || r.Description == match {
			return true
		}
	}
	return false
}
