package ha

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Node runs the election on this host: heartbeats on both paths, the ping group, the
// resource and the hooks.
type Node struct {
	cfg     Config
	log     *slog.Logger
	key     []byte
	dir     string
	res     *resource
	ping    *pingGroup
	hooks   *hookRunner
	boot    uint64
	started time.Time

	mu       sync.Mutex
	m        *Machine
	seq      uint64
	conns    [numPaths]*net.UDPConn
	peers    [numPaths]*net.UDPAddr
	echo     [numPaths]int64     // peer's Sent of the last packet per path
	echoAt   [numPaths]time.Time // when it arrived
	rtt      [numPaths]time.Duration
	revision func() int64
	watchers []func(Role)
	stopped  bool

	st         *store.Store
	repl       *replicator
	leftReason string // LeftUnpaired / LeftDisabled: no election any more

	pairedCh chan struct{} // closed when pairing installed the cluster key
	pairOnce sync.Once
}

// New checks the configuration and reads the cluster key and the persisted epoch.
// dataDir holds ha/epoch and, by default, ha/cluster.key.
func New(cfg Config, dataDir string, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	if !cfg.Enabled() {
		return nil, errors.New("ha: not enabled")
	}
	dir := filepath.Join(dataDir, "ha")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	if cfg.ClusterKeyFile == "" {
		cfg.ClusterKeyFile = filepath.Join(dir, "cluster.key")
	}
	var key []byte
	if _, err := os.Stat(cfg.ClusterKeyFile); err == nil {
		if key, err = readKey(cfg.ClusterKeyFile); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("ha: cluster key: %w", err)
	}
	var err error
	if cfg.Serial == "" {
		if cfg.Serial, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("ha: serial not set and no host name: %w", err)
		}
	}
	res, err := newResource(cfg.Interface, cfg.ResourceIP, log)
	if err != nil {
		return nil, err
	}
	var b [8]byte
	rand.Read(b[:])
	n := &Node{cfg: cfg, log: log.With("node", cfg.Serial), key: key, dir: dir, res: res,
		boot: binary.BigEndian.Uint64(b[:]), revision: func() int64 { return 0 }, pairedCh: make(chan struct{})}
	n.hooks = newHookRunner(cfg, n.log)
	// A target counts as reached while it answered within the dead timeout: losing
	// the targets is then noticed as fast as losing the peer.
	n.ping = newPingGroup(cfg.PingGroup, cfg.Keepalive, cfg.Dead, n.log)
	return n, nil
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ha: cluster key: %w (pair the nodes, or write 64 hex digits there)", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("ha: cluster key %s: want at least 64 hex digits", path)
	}
	return key, nil
}

func (n *Node) epochPath() string { return filepath.Join(n.dir, "epoch") }

func (n *Node) loadEpoch() uint64 {
	b, err := os.ReadFile(n.epochPath())
	if err != nil {
		return 0
	}
	e, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		n.log.Warn("unreadable epoch file, starting from 0", "err", err)
		return 0
	}
	return e
}

func (n *Node) saveEpoch(e uint64) {
	tmp := n.epochPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(e, 10)+"\n"), 0o600); err == nil {
		err = os.Rename(tmp, n.epochPath())
		if err == nil {
			return
		}
	}
	n.log.Error("could not persist the epoch", "epoch", e)
}

// SetRevision gives the node the store revision it reports to the peer.
func (n *Node) SetRevision(f func() int64) {
	n.mu.Lock()
	n.revision = f
	n.mu.Unlock()
}

// OnRole adds a function called (synchronously, with the node's lock held: keep it
// short, do not call the node) on each role change, including the role restored at
// start-up by a node that left the cluster and the release at shutdown.
func (n *Node) OnRole(f func(Role)) {
	n.mu.Lock()
	n.watchers = append(n.watchers, f)
	n.mu.Unlock()
}

// Serve runs the node until ctx ends; then it releases the resource and tells the peer.
func (n *Node) Serve(ctx context.Context) error {
	if held, err := n.res.held(); err != nil {
		return err
	} else if len(held) > 0 {
		// Left behind by a killed daemon: it would keep answering for the address.
		n.log.Warn("removing a stale resource address at start-up", "addresses", fmt.Sprint(held))
		if err := n.res.release(); err != nil {
			return err
		}
	}
	n.mu.Lock()
	paired := n.key != nil
	n.mu.Unlock()
	if !paired {
		if err := n.awaitPairing(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	paths := []struct{ local, remote string }{{n.cfg.LocalIP, n.cfg.RemoteIP}}
	if n.cfg.SyncInterface != "" {
		paths = append(paths, struct{ local, remote string }{n.cfg.SyncLocalIP, n.cfg.SyncRemoteIP})
	}
	for i, p := range paths {
		la := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(p.local), uint16(n.cfg.Port)))
		c, err := net.ListenUDP("udp", la)
		if err != nil {
			n.closeConns()
			return fmt.Errorf("ha: heartbeat on the %s path: %w", pathNames[i], err)
		}
		n.conns[i] = c
		n.peers[i] = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(p.remote), uint16(n.cfg.Port)))
	}
	n.started = time.Now()
	n.mu.Lock()
	n.m = NewMachine(Timers{n.cfg.Keepalive, n.cfg.Warning, n.cfg.Dead, n.cfg.Init}, n.cfg.Serial,
		n.cfg.DefaultActive, len(n.cfg.PingGroup), n.loadEpoch(), n.started)
	if _, err := os.Stat(n.freshPath()); err == nil {
		n.m.SetFresh(n.started, true)
	}
	if reason, role := n.left(); reason != "" {
		// Unpaired or disabled earlier: no election; the node that was active keeps
		// serving the resource on its own.
		n.leftReason = reason
		n.m.role = role
		n.log.Warn("this node has left the cluster; no election (remove "+n.leftPath()+" to rejoin)", "reason", reason, "role", role.String())
		if role == RoleActive {
			if err := n.res.acquire(); err != nil {
				n.log.Error("acquiring the resource", "err", err)
			}
			go n.res.announce()
			n.hooks.roleChanged(RoleActive)
		}
		for _, w := range n.watchers {
			w(role)
		}
	}
	n.mu.Unlock()
	n.log.Info("started", "interface", n.cfg.Interface, "peer", n.cfg.RemoteIP, "sync_peer", n.cfg.SyncRemoteIP,
		"keepalive", n.cfg.Keepalive, "dead", n.cfg.Dead, "init", n.cfg.Init, "ping_group", len(n.cfg.PingGroup))

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	goRun := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	goRun(func() { n.hooks.run(ctx) })
	goRun(func() { n.ping.run(ctx) })
	for i, c := range n.conns {
		if c != nil {
			goRun(func() { n.receive(i, c) })
		}
	}
	goRun(func() { n.loop(ctx) })
	if n.repl != nil {
		goRun(func() {
			if err := n.repl.run(ctx); err != nil {
				n.log.Error("data sync stopped", "err", err)
			}
		})
	}
	<-ctx.Done()
	cancel()
	n.shutdown()
	n.closeConns()
	wg.Wait()
	return nil
}

func (n *Node) closeConns() {
	for _, c := range n.conns {
		if c != nil {
			c.Close()
		}
	}
}

// loop ticks the machine finely (dead detection is only as precise as the tick) and
// sends a heartbeat every keepalive.
func (n *Node) loop(ctx context.Context) {
	tick := max(n.cfg.Keepalive/50, time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n.mu.Lock()
			if n.stopped {
				n.mu.Unlock()
				return
			}
			if n.leftReason != "" {
				n.mu.Unlock()
				continue
			}
			n.apply(n.m.SetReach(now, n.ping.reach(now)))
			n.apply(n.m.Tick(now))
			if !now.Before(next) {
				n.sendLocked(now)
				// Keep the interval exact (not keepalive + tick): the peer's dead timer
				// counts from the last packet.
				next = next.Add(n.cfg.Keepalive)
				if next.Before(now) {
					next = now.Add(n.cfg.Keepalive)
				}
			}
			n.mu.Unlock()
		}
	}
}

func (n *Node) receive(path int, c *net.UDPConn) {
	buf := make([]byte, maxPacket+1)
	bad := 0
	for {
		sz, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		hb, err := ParseHeartbeat(buf[:sz], n.key)
		if err != nil {
			if bad++; bad <= 10 || bad%1000 == 0 {
				n.log.Warn("dropped a heartbeat", "path", pathNames[path], "from", from.String(), "err", err, "count", bad)
			}
			continue
		}
		n.mu.Lock()
		if n.stopped {
			n.mu.Unlock()
			return
		}
		if hb.Echo != 0 {
			if rtt := time.Duration(now.UnixNano() - hb.Echo - hb.Hold); rtt >= 0 && rtt < time.Minute {
				n.rtt[path] = rtt
			}
		}
		n.echo[path], n.echoAt[path] = hb.Sent, now
		if n.leftReason != "" {
			n.mu.Unlock()
			continue
		}
		n.apply(n.m.Receive(now, path, hb))
		if hb.Leave {
			reason := LeftUnpaired
			if hb.Disable {
				reason = LeftDisabled
			}
			if err := n.leaveLocked(reason); err != nil {
				n.log.Error("peer left the cluster", "err", err)
			}
		}
		n.mu.Unlock()
	}
}

// apply acts on a step; n.mu is held. Address changes happen here, synchronously, so
// that a release is complete before the heartbeat announcing it leaves.
func (n *Node) apply(s Step) {
	if s.Warn != "" {
		n.log.Warn(""+s.Warn, "warning_threshold", n.cfg.Warning)
	}
	if s.PeerDied {
		n.log.Warn("peer dead: silent on every path", "peer", n.m.peer.Name, "dead_timeout", n.cfg.Dead)
	}
	if s.PeerBack {
		n.log.Info("peer heard", "peer", n.m.peer.Name, "peer_role", n.m.peer.Role.String(), "peer_epoch", n.m.peer.Epoch)
	}
	if s.Reannounce {
		n.log.Info("peer released the resource; announcing it again")
		go n.res.announce()
	}
	if !s.Changed() {
		return
	}
	n.log.Info("role changed", "from", s.From.String(), "to", s.To.String(), "reason", s.Reason, "epoch", n.m.Epoch(), "reach", n.m.Reach())
	switch {
	case s.To == RoleActive:
		n.saveEpoch(n.m.Epoch())
		if err := n.res.acquire(); err != nil {
			n.log.Error("acquiring the resource", "err", err)
		}
		go func() {
			n.res.announce()
			time.Sleep(reannounceAfter)
			n.mu.Lock()
			still := !n.stopped && n.m.Role() == RoleActive
			n.mu.Unlock()
			if still {
				n.res.announce()
			}
		}()
	case s.From == RoleActive:
		if err := n.res.release(); err != nil {
			n.log.Error("releasing the resource", "err", err)
		}
	}
	// Init -> passive runs the passive hooks too: whatever the active node runs (a
	// PBX) must not be running here.
	if s.To != RoleInit {
		n.hooks.roleChanged(s.To)
	}
	for _, w := range n.watchers {
		w(s.To)
	}
	n.sendLocked(time.Now()) // tell the peer at once: it may be waiting for this
}

// sendLocked sends one heartbeat on every path; n.mu is held.
func (n *Node) sendLocked(now time.Time) {
	for i, c := range n.conns {
		if c == nil {
			continue
		}
		n.seq++
		hb := Heartbeat{Role: n.m.Role(), DefaultActive: n.cfg.DefaultActive, Yield: n.m.Yielding(now) || n.stopped,
			Reach: uint8(n.m.Reach()), Group: uint8(n.m.Group()), Epoch: n.m.Epoch(), Boot: n.boot, Seq: n.seq,
			Fresh: n.m.Fresh(), Takeover: n.m.Asking(now), Leave: n.leftReason != "", Disable: n.leftReason == LeftDisabled, Sent: now.UnixNano(), Revision: uint64(max(n.revision(), 0)), Name: n.cfg.Serial}
		if n.echo[i] != 0 {
			hb.Echo, hb.Hold = n.echo[i], int64(now.Sub(n.echoAt[i]))
		}
		b, err := hb.Marshal(n.key)
		if err != nil {
			n.log.Error("encoding a heartbeat", "err", err)
			return
		}
		c.SetWriteDeadline(now.Add(n.cfg.Keepalive))
		c.WriteToUDP(b, n.peers[i]) //nolint:errcheck // a path that is down is what heartbeats detect
	}
}

// shutdown releases the resource and tells the peer to take it over at once.
func (n *Node) shutdown() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || n.stopped {
		return
	}
	wasActive := n.m.Role() == RoleActive
	n.stopped = true
	if wasActive {
		if err := n.res.release(); err != nil {
			n.log.Error("releasing the resource at shutdown", "err", err)
		}
		n.log.Info("released the resource at shutdown")
		n.m.role = RolePassive
		for _, w := range n.watchers {
			w(RolePassive)
		}
	}
	n.sendLocked(time.Now())
}
