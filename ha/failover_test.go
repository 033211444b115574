package ha

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault cases run one after another, each on a fresh topology.

func TestHASigkillActive(t *testing.T) {
	c := newCluster(t)
	c.up("w1", "w2")
	c.provisionPhone(c.a)
	if s := c.status(c.b); s.Role != "passive" || s.ReplicationLag != 0 || s.Peer == nil || !s.Peer.Alive {
		t.Fatalf("passive status before the fault: %+v", s)
	}
	// Provisioning follows the active role; the audit log is replicated.
	c.assertServes(c.a, c.b)
	written := c.assertAuditReplicated(c.a, c.b)
	// The passive refuses admin writes and names the active node.
	out, err := c.cli(c.b, "pw-x-secret\n", "user", "add", "nope", "--role", "auditor", "--password-stdin")
	if err == nil || !strings.Contains(out, "node-a") {
		t.Fatalf("write on the passive: err=%v out=%s", err, out)
	}
	c.signal(c.a, syscall.SIGKILL)
	<-c.a.done
	c.a.cmd = nil
	// The killed daemon's address stays on a (nothing removes it), but b's gratuitous
	// ARPs move the client to b.
	if !waitFor(10*time.Second, func() bool { return holds(t, c.b) && c.answerer() == "b" }) {
		t.Fatalf("after SIGKILL of a: holders %v, client answered by %q", c.holders(), c.answerer())
	}
	c.assertWrites(c.b, "w1", "w2")
	c.assertServes(c.b, nil)
	// The new active has the audit rows written on the old one, and its chain
	// verifies and goes on from the replicated head.
	got := c.audit(c.b)
	for _, r := range written {
		if !slices.Contains(got, r) {
			t.Fatalf("audit row %d (%s) written on a is missing on b", r.ID, r.Description)
		}
	}
	c.write(c.b, "w3") // the new active takes writes
	if got = c.audit(c.b); got[0].ID <= written[0].ID || len(got) != int(got[0].ID) {
		t.Fatalf("the audit chain does not go on from the replicated head %d: newest %d, %d rows", written[0].ID, got[0].ID, len(got))
	}
	if !strings.Contains(readFile(t, filepath.Join(c.b.dir, "hooks.log")), "active") {
		t.Fatal("on_active hook did not run on b")
	}
	// The killed node left its address behind; restarted, it must remove it and stay
	// passive (b is newer), and catch up with the writes made meanwhile.
	if !holds(t, c.a) {
		t.Fatal("expected the killed node's address to be left behind")
	}
	c.start(c.a)
	c.settle("b", 10*time.Second)
	if !waitFor(5*time.Second, func() bool { return contains(c.users(c.a), "w3") }) {
		t.Fatalf("the restarted passive did not receive w3: %v", c.users(c.a))
	}
	c.assertAuditReplicated(c.b, c.a)
	c.assertServes(c.b, c.a)
}

func TestHASigstopSigcont(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	t.Logf("SIGSTOP at %s", time.Now().Format("15:04:05.000"))
	c.signal(c.a, syscall.SIGSTOP)
	// The stopped daemon still has the address; b's announcements move the client.
	if !waitFor(10*time.Second, func() bool { return holds(t, c.b) && c.answerer() == "b" }) {
		t.Fatalf("after SIGSTOP of a: holders %v, client answered by %q", c.holders(), c.answerer())
	}
	c.write(c.b, "w2")
	t.Logf("SIGCONT at %s", time.Now().Format("15:04:05.000"))
	c.signal(c.a, syscall.SIGCONT)
	// a wakes up still holding the address and believing it is active; b's newer epoch wins.
	c.settle("b", 10*time.Second)
	c.assertWrites(c.b, "w1", "w2")
	if s := c.status(c.a); s.Role != "passive" {
		t.Fatalf("a after SIGCONT: %s", s.Role)
	}
}

func TestHAMainLinkDown(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	sh(t, "ip", "-n", nsBridge, "link", "set", "sbhamp", "down")
	// The sync path still carries heartbeats, so a is not dead; but it reaches no ping
	// target any more and b reaches both: b wins.
	c.settle("b", 10*time.Second)
	c.assertWrites(c.b, "w1")
	if s := c.status(c.b); s.Peer == nil || !s.Peer.Alive {
		t.Fatalf("b should still hear a over the sync path: %+v", s.Peer)
	}
}

func TestHASyncLinkDown(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	sh(t, "ip", "-n", nsBridge, "link", "set", "sbhasp", "down")
	c.settle("a", 5*time.Second)
	c.write(c.a, "w2") // the passive is unreachable for sync: the write must not hang for good
	c.assertWrites(c.a, "w1", "w2")
}

// poison makes from unable to reach to's address (a neighbour entry with an unused MAC).
func poison(t *testing.T, from *haNode, dev, ip string) {
	sh(t, "ip", "-n", from.ns, "neigh", "replace", ip, "lladdr", "02:00:00:00:de:ad", "dev", dev, "nud", "permanent")
}

func TestHASplitBrainHeals(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	poison(t, c.a, "sbhm", "10.251.0.2")
	poison(t, c.a, "sbhs", "10.251.1.2")
	poison(t, c.b, "sbhm", "10.251.0.1")
	poison(t, c.b, "sbhs", "10.251.1.1")
	if !waitFor(10*time.Second, func() bool { return len(c.holders()) == 2 }) {
		t.Fatalf("partition: both nodes reach the targets, both should serve; holders %v", c.holders())
	}
	if a := c.answerer(); a != "a" && a != "b" {
		t.Fatalf("client not answered during the partition: %q", a)
	}
	healed := time.Now()
	// Permanent entries survive a flush: delete them.
	sh(t, "ip", "-n", c.a.ns, "neigh", "del", "10.251.0.2", "dev", "sbhm")
	sh(t, "ip", "-n", c.a.ns, "neigh", "del", "10.251.1.2", "dev", "sbhs")
	sh(t, "ip", "-n", c.b.ns, "neigh", "del", "10.251.0.1", "dev", "sbhm")
	sh(t, "ip", "-n", c.b.ns, "neigh", "del", "10.251.1.1", "dev", "sbhs")
	if !waitFor(5*time.Second, func() bool { return len(c.holders()) == 1 }) {
		t.Fatalf("after heal both still active: %v", c.holders())
	}
	t.Logf("dual active after heal: %v (polled)", time.Since(healed).Round(time.Millisecond))
	// b took over during the partition with a newer epoch: it keeps the resource.
	c.settle("b", 5*time.Second)
	c.assertWrites(c.b, "w1")
}

func TestHAActiveLosesPingTargets(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	sh(t, "ip", "-n", "sbh-a", "route", "add", "blackhole", "10.251.0.201/32")
	sh(t, "ip", "-n", "sbh-a", "route", "add", "blackhole", "10.251.0.202/32")
	c.settle("b", 10*time.Second)
	c.assertWrites(c.b, "w1")
}

func TestHABootTogether(t *testing.T) {
	c := newCluster(t)
	c.start(c.a)
	c.start(c.b)
	// Nothing is acquired before the init timeout.
	if !never(hInit/3, func() bool { return len(c.holders()) != 0 }) {
		t.Fatalf("resource acquired before the init timeout: %v", c.holders())
	}
	c.settle("a", 15*time.Second) // a is the default active node
	out, err := c.cli(c.a, "", "ha", "status")
	if err != nil || !strings.Contains(out, "role:") || !strings.Contains(out, "active") || !strings.Contains(out, "path sync:") {
		t.Fatalf("ha status table: %v\n%s", err, out)
	}
	m, err := shQuiet("ip", "netns", "exec", c.b.ns, "curl", "-sk", "https://127.0.0.1:8443/metrics")
	if err != nil || !strings.Contains(m, "switchboard_ha_active 0") || !strings.Contains(m, "switchboard_ha_peer_alive 1") ||
		!strings.Contains(m, `switchboard_ha_heartbeat_rtt_seconds{path="sync"}`) || !strings.Contains(m, "switchboard_ha_replication_lag_revisions 0") {
		t.Fatalf("metrics of the passive: %v\n%s", err, m)
	}
	c.write(c.a, "w1")
	if !waitFor(5*time.Second, func() bool { return contains(c.users(c.b), "w1") }) {
		t.Fatal("w1 not replicated to b")
	}
}

func TestHASwitch(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	c.provisionPhone(c.a)
	c.assertServes(c.a, c.b)
	if out, err := c.cli(c.b, "", "ha", "switch"); err == nil {
		t.Fatalf("switch accepted on the passive: %s", out)
	}
	if out, err := c.cli(c.a, "", "ha", "switch"); err != nil {
		t.Fatalf("switch: %v\n%s", err, out)
	}
	c.settle("b", 10*time.Second)
	c.assertWrites(c.b, "w1")
	// The switch was audited on a before it ran; the new active has that row.
	if !hasAudit(c.audit(c.b), "ha switch") {
		t.Fatal("the switch is not in the audit trail of the new active b")
	}
	c.write(c.b, "w2")
	c.assertAuditReplicated(c.b, c.a)
	// The services swapped with the roles.
	c.assertServes(c.b, c.a)
}

func TestHAUnpair(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	if out, err := c.cli(c.a, "", "ha", "unpair"); err == nil {
		t.Fatalf("unpair accepted on the active: %s", out)
	}
	if out, err := c.cli(c.b, "", "ha", "unpair"); err != nil {
		t.Fatalf("unpair: %v\n%s", err, out)
	}
	if !waitFor(3*time.Second, func() bool { return c.status(c.a).Left == LeftUnpaired }) {
		t.Fatalf("a did not learn of the unpair: %+v", c.status(c.a))
	}
	if !contains(c.auditActions(c.b), "ha unpair") {
		t.Fatal("the unpair is not audited on b")
	}
	// Unpaired: the resource stays on a, and b no longer takes over when a goes away.
	c.settle("a", 5*time.Second)
	c.assertWrites(c.a, "w1")
	c.kill(c.a)
	if !never(3*hDead, func() bool { return holds(t, c.b) }) {
		t.Fatal("the unpaired node took the resource")
	}
}

func TestHADisable(t *testing.T) {
	c := newCluster(t)
	c.up("w1")
	if out, err := c.cli(c.a, "", "ha", "disable"); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	if !waitFor(3*time.Second, func() bool { return !c.status(c.b).Enabled }) {
		t.Fatalf("b still enabled: %+v", c.status(c.b))
	}
	c.settle("a", 5*time.Second)
	c.assertWrites(c.a, "w1")
	if !contains(c.auditActions(c.a), "ha disable") {
		t.Fatal("the disable is not audited on a")
	}
	// Disabled survives a restart, and the active one keeps serving.
	c.kill(c.a)
	c.start(c.a)
	c.settle("a", 10*time.Second)
}

func (c *cluster) auditActions(n *haNode) []string {
	out, err := c.cli(n, "", "audit", "list", "--json")
	if err != nil {
		c.t.Fatalf("audit list: %v\n%s", err, out)
	}
	var acts []string
	for _, l := range []string{"ha switch", "ha unpair", "ha disable"} {
		if strings.Contains(out, l) {
			acts = append(acts, l)
		}
	}
	return acts
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func TestHAPairing(t *testing.T) {
	c := newClusterWith(t, false)
	c.start(c.a)
	c.start(c.b)
	if !waitFor(10*time.Second, func() bool { return c.socketsReady(c.a) && c.socketsReady(c.b) }) {
		t.Fatal("daemons did not start")
	}
	if !never(2*hInit, func() bool { return len(c.holders()) != 0 }) {
		t.Fatalf("unpaired nodes took the resource: %v", c.holders())
	}
	// A wrong serial: refused, logged on the secondary, nothing installed.
	if out, err := c.cli(c.a, "", "ha", "pair", "--serial", "not-b"); err == nil {
		t.Fatalf("pairing with a wrong serial succeeded: %s", out)
	}
	if !waitFor(3*time.Second, func() bool { return strings.Contains(c.b.log.String(), "wrong pairing password") }) {
		t.Fatal("the wrong password is not logged on the secondary")
	}
	if _, err := os.Stat(filepath.Join(c.b.dir, "ha", "cluster.key")); err == nil {
		t.Fatal("a wrong password installed a cluster key")
	}
	if out, err := c.cli(c.a, "", "ha", "pair", "--serial", "node-b"); err != nil {
		t.Fatalf("pair: %v\n%s", err, out)
	}
	ka, kb := readFile(t, filepath.Join(c.a.dir, "ha", "cluster.key")), readFile(t, filepath.Join(c.b.dir, "ha", "cluster.key"))
	if len(ka) < 64 || ka != kb {
		t.Fatalf("cluster keys differ or are missing: %q %q", ka, kb)
	}
	for _, n := range []*haNode{c.a, c.b} {
		if !strings.Contains(readFile(t, filepath.Join(n.dir, "ha", "known_hosts")), "ssh-ed25519") {
			t.Fatalf("node %s pinned no host key", n.name)
		}
	}
	c.settle("a", 15*time.Second)
	c.write(c.a, "w1")
	if !waitFor(5*time.Second, func() bool { return contains(c.users(c.b), "w1") }) {
		t.Fatal("the coordinator's configuration did not reach the secondary")
	}
	if _, err := os.Stat(filepath.Join(c.b.dir, "ha", "fresh")); err == nil {
		t.Fatal("the secondary still marks itself fresh after receiving the configuration")
	}
	// Paired: the password listener is gone.
	if out := sh(t, "ip", "netns", "exec", c.b.ns, "ss", "-Htln", "sport = :7022"); strings.TrimSpace(out) != "" {
		t.Fatalf("pairing listener still open after pairing: %s", out)
	}
	if out, err := c.cli(c.a, "", "ha", "pair", "--serial", "node-b"); err == nil {
		t.Fatalf("a second pairing was accepted: %s", out)
	}
}

// TestHAConfiguredAtRunTime: both configuration files leave HA disabled; the
// installer saves and starts each node's settings (the console's form, here the
// CLI on the same API), pairs from the coordinator and switches from the
// passive, without restarting a daemon. A setting that does not fit the node is
// refused naming the field, and changes nothing.
func TestHAConfiguredAtRunTime(t *testing.T) {
	c := newClusterMode(t, false, true)
	c.start(c.a)
	c.start(c.b)
	if !waitFor(15*time.Second, func() bool { return c.socketsReady(c.a) && c.socketsReady(c.b) }) {
		t.Fatal("daemons did not start")
	}
	for _, n := range []*haNode{c.a, c.b} {
		if s := c.status(n); s.State != StateDisabled || s.ServiceState != "disabled" {
			t.Fatalf("node %s before: %+v", n.name, s)
		}
	}
	common := []string{"interface=sbhm", "sync_interface=sbhs", "resource_ip=" + vip + "/24,fd51::10/64",
		"ping_group=10.251.0.201,10.251.0.202", "keepalive_ms=100", "warning_ms=300", "dead_ms=600", "init_ms=1200"}
	set := func(n *haNode, kv ...string) (string, error) {
		return c.cli(n, "", append([]string{"ha", "set"}, append(kv, common...)...)...)
	}
	// Not an address of b: refused, naming the field; nothing saved or started.
	out, err := set(c.b, "state=enabled", "local_ip=10.251.0.77", "remote_ip=10.251.0.1", "sync_local_ip=10.251.1.2", "sync_remote_ip=10.251.1.1")
	if err == nil || !strings.Contains(out, "local_ip") {
		t.Fatalf("a local_ip that is not b's: err=%v\n%s", err, out)
	}
	if out, _ := c.cli(c.b, "", "ha", "config"); !strings.Contains(out, "configuration file") {
		t.Fatalf("a refused setting was saved:\n%s", out)
	}
	if out, err := set(c.b, "state=enabled", "local_ip=10.251.0.2", "remote_ip=10.251.0.1", "sync_local_ip=10.251.1.2", "sync_remote_ip=10.251.1.1"); err != nil {
		t.Fatalf("ha set on b: %v\n%s", err, out)
	}
	if s := c.status(c.b); s.State != StateEnabled || s.Pairing != "waiting" {
		t.Fatalf("b after save and start: %+v", s)
	}
	if out, err := set(c.a, "state=coordinator", "remote_serial=node-b", "default_active=true", "local_ip=10.251.0.1",
		"remote_ip=10.251.0.2", "sync_local_ip=10.251.1.1", "sync_remote_ip=10.251.1.2"); err != nil {
		t.Fatalf("ha set on a: %v\n%s", err, out)
	}
	// The saving is audited on a (before pairing replaces b's log with a's).
	if !hasAuditPrefix(c.audit(c.a), "HA settings of node node-a") {
		t.Fatal("saving the HA settings is not audited")
	}
	if out, err := c.cli(c.a, "", "ha", "pair"); err != nil {
		t.Fatalf("pair with the saved remote serial: %v\n%s", err, out)
	}
	c.settle("a", 15*time.Second)
	c.write(c.a, "w1")
	if !waitFor(5*time.Second, func() bool { return contains(c.users(c.b), "w1") }) {
		t.Fatal("w1 not replicated to b")
	}
	c.provisionPhone(c.a)
	c.assertServes(c.a, c.b)
	// Switch from the passive node.
	if out, err := c.cli(c.b, "", "ha", "takeover"); err != nil {
		t.Fatalf("takeover on b: %v\n%s", err, out)
	}
	c.settle("b", 10*time.Second)
	c.assertWrites(c.b, "w1")
	c.assertServes(c.b, c.a)
	for _, n := range []*haNode{c.a, c.b} {
		if s := c.status(n); s.ActiveNode != "node-b" {
			t.Fatalf("node %s says the active node is %q", n.name, s.ActiveNode)
		}
	}
	// Each node kept its own settings through the replication.
	for n, ip := range map[*haNode]string{c.a: "10.251.0.1", c.b: "10.251.0.2"} {
		out, err := c.cli(n, "", "ha", "config", "--json")
		if err != nil || !strings.Contains(out, `"local_ip": "`+ip+`"`) {
			t.Fatalf("settings of %s after replication: %v\n%s", n.name, err, out)
		}
	}
}

func hasAuditPrefix(rows []auditItem, prefix string) bool {
	for _, r := range rows {
		if strings.HasPrefix(r.Description, prefix) {
			return true
		}
	}
	return false
}
