package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/switchboard-pbx/switchboard/store"
)

// Store is what replication needs of the store.
type Store interface {
	Revision() int64
	AuditHead(ctx context.Context) (store.AuditMark, error)
	Continues(ctx context.Context, rev int64, head store.AuditMark) (behind int64, ok bool, err error)
	ChangeLog(ctx context.Context, after store.AuditMark, maxRows int) ([]store.ReplicaAuditRow, error)
	ApplyChanges(ctx context.Context, rows []store.ReplicaAuditRow) error
	ExportSnapshotAfter(ctx context.Context, have store.AuditMark) (store.Snapshot, error)
	ImportSnapshot(ctx context.Context, snap store.Snapshot) error
}

const (
	// batchRows is about how many audit rows one changes message carries (a
	// larger transaction goes whole).
	batchRows = 1024
	// maxReplay is how far behind (in audit rows) a passive may be and still be
	// brought level by the change log; further behind, a snapshot is smaller.
	maxReplay = 20000
)

// replicator sends the store from the active to the passive. The passive's hello
// names its revision and the head of its audit chain; when that history is a
// prefix of the active's, the active sends the change log after it (the audit
// rows, each with the document it wrote), else a snapshot, and from then on the
// change log of every commit. Commits wait (up to the dead timeout) for the
// connected passive to acknowledge them, so a write the admin API acknowledged is
// on both nodes unless the passive was already gone.
type replicator struct {
	n       *Node
	st      Store
	log     *slog.Logger
	local   netip.AddrPort
	remote  netip.AddrPort
	timeout time.Duration

	mu        sync.Mutex
	connected bool          // a passive is attached to this (active) node
	acked     int64         // its last acknowledged revision
	ackCh     chan struct{} // closed and replaced on every ack
	commitCh  chan struct{} // a commit happened (capacity 1)
	peerRev   int64         // as the passive: the active's revision
	applied   time.Time     // as the passive: last change applied

	// sendMu guards the passive being fed: a commit sends its own change log
	// from the committing goroutine (no hand-over to another one on the path of
	// every write), the feed loop the catch-up and the keepalives.
	sendMu sync.Mutex
	feeder *feeder

	// What the active sent: bytes on the wire (SSH included), snapshots, change batches.
	sentBytes, snapshots, batches atomic.Int64
}

func newReplicator(n *Node, st Store) *replicator {
	ip, rip := n.cfg.LocalIP, n.cfg.RemoteIP
	if n.cfg.SyncInterface != "" {
		ip, rip = n.cfg.SyncLocalIP, n.cfg.SyncRemoteIP
	}
	port := uint16(n.cfg.SyncPort) //nolint:gosec // G115: Validate keeps the port in 1-65535
	return &replicator{n: n, st: st, log: n.log.With("part", "sync"),
		local:  netip.AddrPortFrom(netip.MustParseAddr(ip), port),
		remote: netip.AddrPortFrom(netip.MustParseAddr(rip), port), timeout: n.cfg.Dead,
		ackCh: make(chan struct{}), commitCh: make(chan struct{}, 1)}
}

// feeder is the passive this active node feeds (guarded by sendMu).
type feeder struct {
	ctx    context.Context
	cancel context.CancelFunc
	raw    net.Conn
	fc     *frameConn
	have   store.AuditMark // the last audit row sent
	// haveRev is the revision of that row: prepare sent a commit when it
	// reached the commit's revision.
	haveRev int64
}

// flushLocked sends the change log after f.have; r.sendMu is held. A failure
// ends the session (the passive comes back with a hello).
func (r *replicator) flushLocked(f *feeder, wait time.Duration) error {
	for {
		f.raw.SetWriteDeadline(time.Now().Add(wait))
		rows, err := r.st.ChangeLog(f.ctx, f.have, batchRows)
		if err != nil || len(rows) == 0 {
			return err
		}
		if err := r.sendLocked(f, rows); err != nil {
			return err
		}
	}
}

// prepare is the store's OnPrepareSync hook: just before a transaction commits
// on this (active) node, its change log goes to the attached passive, which
// applies it (and fsyncs) while this node's own commit and fsync run; committed
// then only waits for the acknowledgement. When the passive is not level with
// the rows before this transaction (a catch-up under way, a reveal not yet
// sent), nothing is sent here and committed sends after the commit, as the
// change log. Should this node's commit fail after the passive got the
// transaction, the passive holds a write that is not here: the session ends,
// and the passive's next hello, no longer a prefix of this history, gets it a
// snapshot (the writer saw the error, so no acknowledged write is involved).
func (r *replicator) prepare(rev int64, read func() ([]store.ReplicaAuditRow, error)) func(error) {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	nothing := func(error) {}
	f := r.feeder
	if f == nil || f.ctx.Err() != nil {
		return nothing
	}
	rows, err := read()
	if err != nil || len(rows) == 0 || rows[0].ID != f.have.ID+1 || rows[0].PrevHash != f.have.Hash {
		return nothing
	}
	f.raw.SetWriteDeadline(time.Now().Add(r.timeout))
	if err := r.sendLocked(f, rows); err != nil {
		r.log.Warn("sending a commit to the passive failed", "revision", rev, "err", err)
		return nothing
	}
	return func(err error) {
		if err == nil {
			return
		}
		r.log.Warn("a commit sent to the passive failed here; the passive is brought level again", "revision", rev, "err", err)
		f.cancel()
	}
}

// sendLocked sends rows (whole transactions following f.have); r.sendMu is held.
func (r *replicator) sendLocked(f *feeder, rows []store.ReplicaAuditRow) error {
	b, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	if err := f.fc.write(msgChanges, b); err != nil {
		f.cancel()
		return err
	}
	r.batches.Add(1)
	last := rows[len(rows)-1]
	f.have, f.haveRev = store.AuditMark{ID: last.ID, Hash: last.Hash}, last.TxID
	return nil
}

// committed is the store's OnCommitSync hook on every node: on the active it
// sends the commit to the attached passive (unless prepare did) and waits for
// its acknowledgement.
func (r *replicator) committed(rev int64, _ []store.Change) {
	start := time.Now()
	r.sendMu.Lock()
	f := r.feeder
	switch {
	case f != nil && f.ctx.Err() == nil && f.haveRev >= rev:
		// prepare sent it before the commit.
	case f != nil && f.ctx.Err() == nil:
		if err := r.flushLocked(f, r.timeout); err != nil {
			r.log.Warn("sending a commit to the passive failed", "revision", rev, "err", err)
		}
	default:
		select {
		case r.commitCh <- struct{}{}:
		default:
		}
	}
	r.sendMu.Unlock()
	deadline := time.NewTimer(max(r.timeout-time.Since(start), 0))
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if !r.connected || r.acked >= rev {
			r.mu.Unlock()
			return
		}
		ch := r.ackCh
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			r.log.Warn("the passive did not acknowledge a commit in time; continuing without it", "revision", rev, "timeout", r.timeout)
			return
		}
	}
}

// lag is the replication lag in revisions, as this node sees it.
func (r *replicator) lag() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.connected {
		return max(r.st.Revision()-r.acked, 0)
	}
	if r.peerRev > 0 {
		return max(r.peerRev-r.st.Revision(), 0)
	}
	return 0
}

func (r *replicator) run(ctx context.Context) error {
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(r.local))
	if err != nil {
		return fmt.Errorf("ha sync: listen on %s: %w", r.local, err)
	}
	r.serve(ctx, ln)
	return nil
}

// serve accepts the passive's connections on ln and dials the active while this
// node is not active, until ctx ends.
func (r *replicator) serve(ctx context.Context, ln *net.TCPListener) {
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.dialLoop(ctx) }()
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if ip := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); ip != r.remote.Addr() {
			r.log.Warn("sync connection from an address that is not the peer", "src", ip.String())
			c.Close()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.serveConn(ctx, c) }()
	}
	wg.Wait()
}

// countingConn counts the bytes written to the sync link.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// serveConn feeds one passive while this node is active.
func (r *replicator) serveConn(ctx context.Context, raw net.Conn) {
	defer raw.Close()
	if r.n.Role() != RoleActive {
		return
	}
	keys, err := r.n.syncKeys()
	if err != nil {
		r.log.Error("sync keys", "err", err)
		return
	}
	raw.SetDeadline(time.Now().Add(r.timeout))
	conn, chans, reqs, err := ssh.NewServerConn(countingConn{raw, &r.sentBytes}, keys.serverConfig())
	if err != nil {
		r.log.Warn("sync handshake", "src", raw.RemoteAddr().String(), "err", err)
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	nc, ok := <-chans
	if !ok {
		return
	}
	if nc.ChannelType() != syncChannel {
		nc.Reject(ssh.UnknownChannelType, "only "+syncChannel) //nolint:errcheck // refusing; the peer may be gone
		return
	}
	ch, creqs, err := nc.Accept()
	if err != nil {
		return
	}
	go ssh.DiscardRequests(creqs)
	go func() {
		for nc := range chans {
			nc.Reject(ssh.Prohibited, "one sync channel per connection") //nolint:errcheck // refusing; the peer may be gone
		}
	}()
	fc := newFrameConn(ch)
	typ, p, err := fc.read()
	if err != nil || typ != msgHello {
		r.log.Warn("no hello from the passive on the sync link", "type", typ, "err", err)
		return
	}
	rev, have, err := parseHello(p)
	if err != nil {
		r.log.Warn("bad hello from the passive on the sync link", "err", err)
		return
	}
	raw.SetDeadline(time.Time{})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); raw.Close() }()
	r.mu.Lock()
	r.connected, r.acked = true, -1
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.connected = false
		close(r.ackCh)
		r.ackCh = make(chan struct{})
		r.mu.Unlock()
	}()
	r.log.Info("passive attached for replication", "src", raw.RemoteAddr().String(), "pinned_keys", keys.pinned)
	go func() {
		defer cancel()
		for {
			raw.SetReadDeadline(time.Now().Add(3 * r.timeout))
			typ, p, err := fc.read()
			if err != nil {
				if ctx.Err() == nil {
					r.log.Info("passive detached", "err", err)
				}
				return
			}
			rev, err := parseRev(p)
			if typ != msgAck || err != nil {
				r.log.Warn("unexpected message from the passive on the sync link", "type", typ)
				return
			}
			r.mu.Lock()
			r.acked = rev
			close(r.ackCh)
			r.ackCh = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	if err := r.feed(ctx, raw, fc, rev, have); err != nil && ctx.Err() == nil {
		r.log.Warn("replication to the passive stopped", "err", err)
	}
}

// feed brings the passive level (change log or snapshot) and then sends the
// change log of every commit, and a keepalive every keepalive interval.
func (r *replicator) feed(ctx context.Context, raw net.Conn, fc *frameConn, rev int64, have store.AuditMark) error {
	deadline := func() { raw.SetWriteDeadline(time.Now().Add(3 * r.timeout)) }
	deadline()
	behind, ok, err := r.st.Continues(ctx, rev, have)
	if err != nil {
		return err
	}
	if ok && behind <= maxReplay {
		if err := fc.write(msgResume, revPayload(rev)); err != nil {
			return err
		}
		r.log.Info("the passive continues this node's history: sending the change log", "passive_revision", rev, "behind_rows", behind)
	} else {
		snap, err := r.st.ExportSnapshotAfter(ctx, have)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		b, err := json.Marshal(snap)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if err := fc.write(msgSnapshot, b); err != nil {
			return err
		}
		r.snapshots.Add(1)
		r.log.Info("sent a snapshot to the passive", "passive_revision", rev, "revision", snap.Revision,
			"objects", len(snap.Objects), "bytes", len(b), "diverged", !ok)
		have = snap.Audit.Head
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &feeder{ctx: ctx, cancel: cancel, raw: raw, fc: fc, have: have}
	r.sendMu.Lock()
	r.feeder = f
	r.sendMu.Unlock()
	defer func() {
		r.sendMu.Lock()
		if r.feeder == f {
			r.feeder = nil
		}
		r.sendMu.Unlock()
	}()
	tick := time.NewTicker(r.n.cfg.Keepalive)
	defer tick.Stop()
	keepalive := false
	for {
		if r.n.Role() != RoleActive {
			return nil
		}
		r.sendMu.Lock()
		err := r.flushLocked(f, 3*r.timeout)
		if err == nil && keepalive {
			err = fc.write(msgKeepalive, revPayload(r.st.Revision()))
			keepalive = false
		}
		r.sendMu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.commitCh:
		case <-tick.C:
			keepalive = true
		}
	}
}

// dialLoop attaches this node to the active peer while this node is not active.
func (r *replicator) dialLoop(ctx context.Context) {
	last := ""
	for ctx.Err() == nil {
		if r.n.Role() != RoleActive && r.n.peerActive() {
			// Log a failure once, not at every retry.
			if err := r.follow(ctx); err != nil && ctx.Err() == nil && err.Error() != last {
				last = err.Error()
				r.log.Info("replication from the active stopped", "err", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.n.cfg.Keepalive):
		}
	}
}

func (r *replicator) follow(ctx context.Context) error {
	keys, err := r.n.syncKeys()
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: r.timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(r.local.Addr(), 0))}
	raw, err := d.DialContext(ctx, "tcp", r.remote.String())
	if err != nil {
		return err
	}
	defer raw.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// Stop following as soon as this node becomes active.
		t := time.NewTicker(r.n.cfg.Keepalive / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				raw.Close()
				return
			case <-t.C:
				if r.n.Role() == RoleActive {
					raw.Close()
					return
				}
			}
		}
	}()
	raw.SetDeadline(time.Now().Add(r.timeout))
	conn, chans, reqs, err := ssh.NewClientConn(raw, r.remote.String(), keys.clientConfig())
	if err != nil {
		return fmt.Errorf("ha sync: handshake: %w", err)
	}
	client := ssh.NewClient(conn, chans, reqs)
	defer client.Close()
	ch, creqs, err := client.OpenChannel(syncChannel, nil)
	if err != nil {
		return fmt.Errorf("ha sync: channel: %w", err)
	}
	go ssh.DiscardRequests(creqs)
	fc := newFrameConn(ch)
	head, err := r.st.AuditHead(ctx)
	if err != nil {
		return err
	}
	if err := fc.write(msgHello, helloPayload(r.st.Revision(), head)); err != nil {
		return err
	}
	raw.SetDeadline(time.Time{})
	applied := int64(-1) // the active's revision this node is known to hold
	ack := func(rev int64) error {
		applied = rev
		r.mu.Lock()
		r.peerRev, r.applied = max(r.peerRev, rev), time.Now()
		r.mu.Unlock()
		r.n.configured()
		raw.SetWriteDeadline(time.Now().Add(r.timeout))
		return fc.write(msgAck, revPayload(rev))
	}
	for {
		raw.SetReadDeadline(time.Now().Add(3 * r.timeout))
		typ, p, err := fc.read()
		if err != nil {
			return err
		}
		if r.n.Role() == RoleActive {
			return errors.New("became active")
		}
		switch typ {
		case msgKeepalive:
			rev, err := parseRev(p)
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.peerRev = rev
			r.mu.Unlock()
			if applied >= 0 {
				// Acknowledged again, so that the active, which expects a word from
				// this node every few dead timeouts, keeps an idle session.
				raw.SetWriteDeadline(time.Now().Add(r.timeout))
				if err := fc.write(msgAck, revPayload(applied)); err != nil {
					return err
				}
			}
		case msgResume:
			rev, err := parseRev(p)
			if err != nil {
				return err
			}
			if err := ack(rev); err != nil {
				return err
			}
		case msgSnapshot:
			snap, err := decodeSnapshot(p)
			if err != nil {
				return err
			}
			if err := r.st.ImportSnapshot(ctx, snap); err != nil {
				return fmt.Errorf("applying the snapshot: %w", err)
			}
			r.log.Info("applied a snapshot from the active", "revision", snap.Revision, "objects", len(snap.Objects))
			if err := ack(snap.Revision); err != nil {
				return err
			}
		case msgChanges:
			rows, err := decodeChanges(p)
			if err != nil {
				return err
			}
			if err := r.st.ApplyChanges(ctx, rows); err != nil {
				// The next hello shows the divergence and the active sends a snapshot.
				return fmt.Errorf("applying the change log: %w", err)
			}
			last := rows[len(rows)-1]
			r.log.Debug("replicated", "revision", last.TxID, "rows", len(rows))
			if err := ack(last.TxID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("ha sync: unexpected message type %d", typ)
		}
	}
}

// syncKeys are the keys of the sync link: the host keys pinned at pairing when
// the peer's is pinned, else the identity derived from the cluster key.
func (n *Node) syncKeys() (syncKeys, error) {
	_, remote := n.pairAddrs()
	peer, err := pinnedPeerKey(n.dir, remote.String())
	if err != nil {
		return syncKeys{}, err
	}
	if peer != nil {
		own, err := n.hostKey()
		return syncKeys{own: own, peer: peer, pinned: true}, err
	}
	key := n.clusterKey()
	if key == nil {
		return syncKeys{}, errors.New("ha sync: no cluster key")
	}
	id, err := clusterIdentity(key)
	if err != nil {
		return syncKeys{}, err
	}
	return syncKeys{own: id, peer: id.PublicKey()}, nil
}
