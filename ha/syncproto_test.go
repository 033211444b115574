package ha

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/switchboard-pbx/switchboard/store"
)

func TestSyncFrames(t *testing.T) {
	var buf bytes.Buffer
	fc := newFrameConn(&buf)
	fc.write(msgAck, revPayload(7))
	fc.write(msgChanges, []byte(`[]`))
	fc.write(msgKeepalive, nil)
	for _, want := range []struct {
		typ byte
		p   string
	}{{msgAck, string(revPayload(7))}, {msgChanges, `[]`}, {msgKeepalive, ""}} {
		typ, p, err := fc.read()
		if err != nil || typ != want.typ || string(p) != want.p {
			t.Fatalf("read %d %q %v, want %d %q", typ, p, err, want.typ, want.p)
		}
	}
	for _, bad := range [][]byte{
		{msgAck, 0, 0, 0},                     // short header
		{msgAck, 0, 0, 0, 9, 1},               // short payload
		{0, 0, 0, 0, 0},                       // unknown type
		{99, 0, 0, 0, 0},                      // unknown type
		{msgSnapshot, 0xff, 0xff, 0xff, 0xff}, // too large: refused before reading it
	} {
		if _, _, err := readFrame(bytes.NewReader(bad)); err == nil {
			t.Fatalf("frame %x accepted", bad)
		}
	}
}

// FuzzSyncFrame: the frame reader and every payload decoder on arbitrary bytes
// from the peer: no panic, and what is accepted is well formed.
func FuzzSyncFrame(f *testing.F) {
	frame := func(typ byte, p []byte) []byte {
		var b bytes.Buffer
		newFrameConn(&b).write(typ, p)
		return b.Bytes()
	}
	snap, _ := json.Marshal(store.Snapshot{Revision: 3, Objects: []store.ReplicaObject{{Kind: "user", ID: "x", Data: `{}`}}})
	doc := `{"a":1}`
	rows, _ := json.Marshal([]store.ReplicaAuditRow{{ID: 4, TxID: 2, Time: "2026-01-02T03:04:05.000000000Z", Action: "create",
		ObjectType: "thing", ObjectID: "a", After: &doc, PrevHash: "p", Hash: "h"}})
	f.Add(frame(msgSnapshot, snap))
	f.Add(frame(msgChanges, rows))
	f.Add(frame(msgHello, helloPayload(7, store.AuditMark{ID: 3, Hash: "abc"})))
	f.Add(append(frame(msgAck, revPayload(1)), frame(msgKeepalive, revPayload(2))...))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			typ, p, err := readFrame(r)
			if err != nil {
				return
			}
			if len(p) > maxFrame {
				t.Fatalf("frame of %d bytes accepted", len(p))
			}
			switch typ {
			case msgAck, msgKeepalive, msgResume:
				if rev, err := parseRev(p); err == nil && rev < 0 {
					t.Fatalf("negative revision %d", rev)
				}
			case msgHello:
				if rev, m, err := parseHello(p); err == nil && (rev < 0 || m.ID < 0) {
					t.Fatalf("hello %d %+v", rev, m)
				}
			case msgSnapshot:
				if snap, err := decodeSnapshot(p); err == nil {
					for _, o := range snap.Objects {
						if o.Kind == "" || o.ID == "" || !json.Valid([]byte(o.Data)) {
							t.Fatalf("accepted a malformed object %+v", o)
						}
					}
				}
			case msgChanges:
				if rows, err := decodeChanges(p); err == nil && len(rows) == 0 {
					t.Fatal("accepted an empty batch")
				}
			}
		}
	})
}

func TestHelloCarriesTheAuditHead(t *testing.T) {
	head := store.AuditMark{ID: 42, Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	rev, got, err := parseHello(helloPayload(7, head))
	if err != nil || rev != 7 || got != head {
		t.Fatalf("got %d %+v %v", rev, got, err)
	}
	if rev, got, err = parseHello(helloPayload(0, store.AuditMark{})); err != nil || rev != 0 || got != (store.AuditMark{}) {
		t.Fatalf("empty store: %d %+v %v", rev, got, err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, revPayload(9), append(revPayload(1), 1, 2, 3),
		append(revPayload(1), make([]byte, 200)...), append(helloPayload(1, store.AuditMark{}), 'x')} {
		if _, _, err := parseHello(bad); err == nil {
			t.Fatalf("hello %x accepted", bad)
		}
	}
}

// syncPair is an active and a passive node, each with its own store, joined by
// the sync link on loopback (the active's listener on a port the kernel chose).
type syncPair struct {
	t               *testing.T
	active, passive *Node
	ast, pst        *store.Store
	ln              *net.TCPListener
	stopFollow      context.CancelFunc
	followDone      chan error
	alogs, plogs    syncWriter
}

func syncNode(t *testing.T, serial, local, remote string, key []byte, logs *syncWriter) (*Node, *store.Store) {
	t.Helper()
	c := DefaultConfig()
	c.State, c.Serial, c.Interface, c.LocalIP, c.RemoteIP = StateEnabled, serial, "lo", local, remote
	c.ResourceIP = []string{"127.0.0.99/32"}
	c.Keepalive, c.Warning, c.Dead = 50*time.Millisecond, 100*time.Millisecond, 500*time.Millisecond
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ha"), 0o700)
	os.WriteFile(filepath.Join(dir, "ha", "cluster.key"), []byte(fmt.Sprintf("%x\n", key)), 0o600)
	n, err := New(c, dir, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), store.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.Register(store.Kind{Name: "thing"})
	n.AttachStore(st)
	n.m = NewMachine(Timers{c.Keepalive, c.Warning, c.Dead, c.Init}, serial, false, 0, 0, time.Now())
	return n, st
}

func newSyncPair(t *testing.T, activeKey, passiveKey []byte) *syncPair {
	p := &syncPair{t: t}
	p.active, p.ast = syncNode(t, "node-a", "127.0.0.1", "127.0.0.2", activeKey, &p.alogs)
	p.passive, p.pst = syncNode(t, "node-b", "127.0.0.2", "127.0.0.1", passiveKey, &p.plogs)
	p.active.m.role = RoleActive
	p.passive.m.role = RolePassive
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	p.passive.repl.remote = ln.Addr().(*net.TCPAddr).AddrPort()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.active.repl.serve(ctx, ln); close(done) }()
	t.Cleanup(func() {
		p.stop()
		cancel()
		<-done
		if t.Failed() {
			t.Logf("active log:\n%s\npassive log:\n%s", p.alogs.String(), p.plogs.String())
		}
	})
	return p
}

// follow starts the passive following the active (what dialLoop does on a
// passive that hears an active peer).
func (p *syncPair) follow() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stopFollow, p.followDone = cancel, make(chan error, 1)
	go func() { p.followDone <- p.passive.repl.follow(ctx) }()
}

func (p *syncPair) stop() {
	if p.stopFollow != nil {
		p.stopFollow()
		<-p.followDone
		p.stopFollow = nil
	}
}

func (p *syncPair) waitAttached() {
	p.t.Helper()
	waitUntil(p.t, "the passive attached and acknowledged", func() bool {
		r := p.active.repl
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.connected && r.acked == p.ast.Revision()
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func (p *syncPair) write(id string, v int) int64 {
	p.t.Helper()
	rev, err := p.ast.Update(p.t.Context(), store.Actor{User: "alice", IP: "192.0.2.1"}, func(tx *store.Tx) error {
		if ok, _ := tx.Get("thing", id, new(map[string]int)); ok {
			return tx.Replace("thing", "", id, map[string]int{"v": v}, "set")
		}
		return tx.Create("thing", "", id, map[string]int{"v": v}, "create")
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return rev
}

func (p *syncPair) same(what string) {
	p.t.Helper()
	a, err := p.ast.ExportSnapshot(p.t.Context())
	if err != nil {
		p.t.Fatal(err)
	}
	b, err := p.pst.ExportSnapshot(p.t.Context())
	if err != nil {
		p.t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Audit.Rows)
	jb, _ := json.Marshal(b.Audit.Rows)
	if a.Revision != b.Revision || !slices.Equal(a.Objects, b.Objects) || !bytes.Equal(ja, jb) {
		p.t.Fatalf("%s: the passive differs: revision %d/%d, %d/%d objects, %d/%d audit rows", what,
			a.Revision, b.Revision, len(a.Objects), len(b.Objects), len(a.Audit.Rows), len(b.Audit.Rows))
	}
	for _, st := range []*store.Store{p.ast, p.pst} {
		if v, err := st.Verify(p.t.Context()); err != nil || !v.OK {
			p.t.Fatalf("%s: audit verify: %+v %v", what, v, err)
		}
	}
}

// TestReplicationIncremental: a passive that wrote on its own is healed by one
// snapshot; then every commit reaches it through the change log before the
// commit returns on the active; a passive that was away catches up from the
// change log, without a snapshot; the sync link carries SSH.
func TestReplicationIncremental(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	p := newSyncPair(t, key, key)
	p.write("a", 1)
	p.write("b", 1)
	// Start-up defaults of the passive: its history is not the active's.
	if _, err := p.pst.Update(t.Context(), store.System, func(tx *store.Tx) error {
		return tx.Create("thing", "", "own", 1, "default")
	}); err != nil {
		t.Fatal(err)
	}
	p.follow()
	p.waitAttached()
	p.same("after attaching")
	if s := p.active.repl.snapshots.Load(); s != 1 {
		t.Fatalf("%d snapshots to heal a diverged passive, want 1", s)
	}
	for i := range 20 {
		rev := p.write(fmt.Sprint("k", i%3), i)
		// The barrier: an acknowledged commit is on the passive when Update returns.
		if got := p.pst.Revision(); got != rev {
			t.Fatalf("commit %d returned before the passive had it (passive at %d)", rev, got)
		}
	}
	p.same("after 20 commits")
	if s, b := p.active.repl.snapshots.Load(), p.active.repl.batches.Load(); s != 1 || b < 20 {
		t.Fatalf("%d snapshots and %d change batches for 20 commits", s, b)
	}

	// The passive goes away; the active goes on alone (no wait for a passive
	// that is not attached), then the passive comes back and catches up.
	p.stop()
	waitUntil(t, "the active saw the passive go", func() bool {
		p.active.repl.mu.Lock()
		defer p.active.repl.mu.Unlock()
		return !p.active.repl.connected
	})
	for i := range 5 {
		p.write(fmt.Sprint("away", i), i)
	}
	p.follow()
	p.waitAttached()
	p.same("after catching up")
	if s := p.active.repl.snapshots.Load(); s != 1 {
		t.Fatalf("a passive that was only behind got a snapshot (%d in all)", s)
	}
	if !strings.Contains(p.alogs.String(), "sending the change log") {
		t.Fatal("the catch-up is not logged")
	}
	// Bytes per commit do not grow with the store: one more commit costs about
	// what its own rows weigh, whatever the number of objects.
	before := p.active.repl.sentBytes.Load()
	p.write("a", 99)
	if sent := p.active.repl.sentBytes.Load() - before; sent > 4096 {
		t.Fatalf("one small commit sent %d bytes", sent)
	}
}

// TestCommitOverlapsThePassive: a transaction reaches the passive before the
// active's own commit (and fsync) ends, so the two run side by side; the commit
// still returns only once the passive holds it. When the active's commit then
// fails, the passive, which holds a transaction the active does not, is
// detached and brought level by a snapshot when it comes back.
func TestCommitOverlapsThePassive(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	p := newSyncPair(t, key, key)
	p.write("a", 1)
	p.follow()
	p.waitAttached()
	// Registered after the replicator's: runs once the rows are sent, before the commit.
	var beforeCommit []bool
	var failAfter context.CancelFunc
	p.ast.OnPrepareSync(func(rev int64, _ func() ([]store.ReplicaAuditRow, error)) func(error) {
		held := false
		for end := time.Now().Add(5 * time.Second); !held && time.Now().Before(end); time.Sleep(time.Millisecond) {
			held = p.pst.Revision() == rev
		}
		beforeCommit = append(beforeCommit, held)
		if failAfter != nil {
			failAfter()
		}
		return func(error) {}
	})
	for i := range 5 {
		rev := p.write("a", i)
		if got := p.pst.Revision(); got != rev {
			t.Fatalf("commit %d returned before the passive had it (passive at %d)", rev, got)
		}
	}
	if !slices.Equal(beforeCommit, []bool{true, true, true, true, true}) {
		t.Fatalf("the passive held the transaction before the active committed it: %v", beforeCommit)
	}
	p.same("after overlapped commits")

	// The active's commit fails after the passive applied it.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	failAfter = cancel
	rev := p.ast.Revision()
	if _, err := p.ast.Update(ctx, store.Actor{User: "alice"}, func(tx *store.Tx) error {
		return tx.Create("thing", "", "lost", map[string]int{"v": 1}, "create")
	}); err == nil {
		t.Fatal("the commit did not fail")
	}
	failAfter = nil
	if p.ast.Revision() != rev || p.pst.Revision() != rev+1 {
		t.Fatalf("revisions after the failed commit: active %d, passive %d (want %d and %d)", p.ast.Revision(), p.pst.Revision(), rev, rev+1)
	}
	select {
	case <-p.followDone:
		p.stopFollow = nil
	case <-time.After(5 * time.Second):
		t.Fatal("the passive holding a transaction the active lost stayed attached")
	}
	p.write("b", 1) // the same revision again, another transaction
	p.follow()
	p.waitAttached()
	p.same("after the failed commit")
	if s := p.active.repl.snapshots.Load(); s != 1 {
		t.Fatalf("%d snapshots to heal the passive, want 1", s)
	}
	p.write("c", 1)
	p.same("after healing")
}

// TestSyncRefusesAnotherKey: a passive with another cluster key cannot attach:
// the SSH handshake fails on the key, and nothing reaches its store.
func TestSyncRefusesAnotherKey(t *testing.T) {
	p := newSyncPair(t, bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32))
	p.write("a", 1)
	p.follow()
	select {
	case err := <-p.followDone:
		p.stopFollow = nil
		if err == nil || !strings.Contains(err.Error(), "handshake") {
			t.Fatalf("follow with another key: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow with another key did not fail")
	}
	if p.pst.Revision() != 0 {
		t.Fatal("a passive with another key received data")
	}
}

// TestSyncUsesPinnedHostKeys: paired nodes authenticate with the host keys the
// pairing pinned; a host key that is not the pinned one is refused even with
// the right cluster key.
func TestSyncUsesPinnedHostKeys(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	p := newSyncPair(t, key, key)
	pin := func(n, peer *Node, hostOf *Node) {
		t.Helper()
		s, err := hostOf.hostKey()
		if err != nil {
			t.Fatal(err)
		}
		_, remote := n.pairAddrs()
		line := knownhosts.Line([]string{knownhosts.Normalize(remote.String())}, s.PublicKey()) + "\n"
		if err := os.WriteFile(filepath.Join(n.dir, "known_hosts"), []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pin(p.active, p.passive, p.passive)
	pin(p.passive, p.active, p.active)
	for _, n := range []*Node{p.active, p.passive} {
		k, err := n.syncKeys()
		if err != nil || !k.pinned {
			t.Fatalf("%s: pinned keys not used: %+v %v", n.cfg.Serial, k, err)
		}
	}
	p.write("a", 1)
	p.follow()
	p.waitAttached()
	p.same("pinned keys")
	if !strings.Contains(p.alogs.String(), "pinned_keys=true") {
		t.Fatal("the active does not say it used the pinned keys")
	}
	p.stop()
	// The passive's pinned key for the active is replaced by another one.
	_, priv, _ := ed25519.GenerateKey(nil)
	other, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	_, remote := p.passive.pairAddrs()
	os.WriteFile(filepath.Join(p.passive.dir, "known_hosts"),
		[]byte(knownhosts.Line([]string{knownhosts.Normalize(remote.String())}, other.PublicKey())+"\n"), 0o600)
	p.write("b", 1)
	p.follow()
	select {
	case err := <-p.followDone:
		p.stopFollow = nil
		if err == nil || !strings.Contains(err.Error(), "pinned") {
			t.Fatalf("follow with a changed host key: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a changed host key was accepted")
	}
}
