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
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Store is what replication needs of the store.
type Store interface {
	Revision() int64
	AuditHead(ctx context.Context) (store.AuditMark, error)
	ExportSnapshotAfter(ctx context.Context, have store.AuditMark) (store.Snapshot, error)
	ImportSnapshot(ctx context.Context, snap store.Snapshot) error
}

// replicator sends the store from the active to the passive: a full snapshot when the
// passive connects, then again after every commit. Commits wait (up to the dead
// timeout) for the connected passive to acknowledge them, so a write the admin API
// acknowledged is on both nodes unless the passive was already gone. The audit
// chain travels with the objects: the passive's hello names its chain's head, and
// each snapshot carries only the rows after it (the whole chain when the two
// diverged).
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
	applied   time.Time     // as the passive: last snapshot applied
}

func newReplicator(n *Node, st Store) *replicator {
	ip, rip := n.cfg.LocalIP, n.cfg.RemoteIP
	if n.cfg.SyncInterface != "" {
		ip, rip = n.cfg.SyncLocalIP, n.cfg.SyncRemoteIP
	}
	port := uint16(n.cfg.SyncPort)
	return &replicator{n: n, st: st, log: n.log.With("part", "sync"),
		local:  netip.AddrPortFrom(netip.MustParseAddr(ip), port),
		remote: netip.AddrPortFrom(netip.MustParseAddr(rip), port), timeout: n.cfg.Dead,
		ackCh: make(chan struct{}), commitCh: make(chan struct{}, 1)}
}

// committed is the store's OnCommit hook on every node.
func (r *replicator) committed(rev int64, _ []store.Change) {
	select {
	case r.commitCh <- struct{}{}:
	default:
	}
	deadline := time.NewTimer(r.timeout)
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
			r.log.Warn("sync connection from an address that is not the peer", "from", ip.String())
			c.Close()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.serveConn(ctx, c) }()
	}
	wg.Wait()
	return nil
}

// serveConn feeds one passive while this node is active.
func (r *replicator) serveConn(ctx context.Context, c *net.TCPConn) {
	defer c.Close()
	if r.n.Role() != RoleActive {
		return
	}
	c.SetDeadline(time.Now().Add(r.timeout))
	sc, err := handshake(c, r.n.clusterKey(), false)
	if err != nil {
		r.log.Warn("sync handshake", "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	typ, p, err := sc.read()
	if err != nil || typ != msgAck {
		r.log.Warn("no hello from the passive on the sync link", "err", err)
		return
	}
	_, have, err := parseHello(p)
	if err != nil {
		r.log.Warn("bad hello from the passive on the sync link", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); c.Close() }()
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
	r.log.Info("passive attached for replication", "peer", c.RemoteAddr().String())
	go func() {
		defer cancel()
		for {
			c.SetReadDeadline(time.Now().Add(3 * r.timeout))
			typ, p, err := sc.read()
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
	var sent int64 = -1
	tick := time.NewTicker(r.n.cfg.Keepalive)
	defer tick.Stop()
	for {
		if r.n.Role() != RoleActive {
			return
		}
		c.SetWriteDeadline(time.Now().Add(3 * r.timeout))
		if rev := r.st.Revision(); rev != sent {
			snap, err := r.st.ExportSnapshotAfter(ctx, have)
			if err != nil {
				r.log.Error("sync snapshot failed", "err", err)
				return
			}
			b, _ := json.Marshal(snap)
			if err := sc.write(msgSnapshot, b); err != nil {
				return
			}
			// The passive applies snapshots in order or drops the connection (and
			// says where its chain ends in its next hello).
			sent, have = snap.Revision, snap.Audit.Head
		} else if err := sc.write(msgKeepalive, revPayload(rev)); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.commitCh:
		case <-tick.C:
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
	d := net.Dialer{Timeout: r.timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(r.local.Addr(), 0))}
	c, err := d.DialContext(ctx, "tcp", r.remote.String())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// Stop following as soon as this node becomes active.
		t := time.NewTicker(r.n.cfg.Keepalive / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				c.Close()
				return
			case <-t.C:
				if r.n.Role() == RoleActive {
					c.Close()
					return
				}
			}
		}
	}()
	c.SetDeadline(time.Now().Add(r.timeout))
	sc, err := handshake(c, r.n.clusterKey(), true)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Time{})
	head, err := r.st.AuditHead(ctx)
	if err != nil {
		return err
	}
	if err := sc.write(msgAck, helloPayload(r.st.Revision(), head)); err != nil {
		return err
	}
	applied := int64(-1) // the revision of the last snapshot applied on this connection
	for {
		c.SetReadDeadline(time.Now().Add(3 * r.timeout))
		typ, p, err := sc.read()
		if err != nil {
			return err
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
				c.SetWriteDeadline(time.Now().Add(r.timeout))
				if err := sc.write(msgAck, revPayload(applied)); err != nil {
					return err
				}
			}
		case msgSnapshot:
			snap, err := decodeSnapshot(p)
			if err != nil {
				return err
			}
			if r.n.Role() == RoleActive {
				return errors.New("became active")
			}
			if err := r.st.ImportSnapshot(ctx, snap); err != nil {
				return fmt.Errorf("applying the snapshot: %w", err)
			}
			r.mu.Lock()
			r.peerRev, r.applied = snap.Revision, time.Now()
			r.mu.Unlock()
			applied = snap.Revision
			r.n.configured()
			r.log.Debug("replicated", "revision", snap.Revision, "objects", len(snap.Objects))
			c.SetWriteDeadline(time.Now().Add(r.timeout))
			if err := sc.write(msgAck, revPayload(snap.Revision)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("ha sync: unknown message type %d", typ)
		}
	}
}

func decodeSnapshot(p []byte) (store.Snapshot, error) {
	var snap store.Snapshot
	if err := json.Unmarshal(p, &snap); err != nil {
		return snap, fmt.Errorf("ha sync: snapshot: %w", err)
	}
	if snap.Revision < 0 {
		return snap, errors.New("ha sync: snapshot with a negative revision")
	}
	for i, o := range snap.Objects {
		if o.Kind == "" || o.ID == "" || !json.Valid([]byte(o.Data)) {
			return snap, fmt.Errorf("ha sync: snapshot object %d is malformed", i)
		}
	}
	return snap, nil
}
