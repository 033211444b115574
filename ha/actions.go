package ha

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Reasons a node stops taking part in the election (persisted in ha/left).
const (
	LeftUnpaired = "unpaired"
	LeftDisabled = "disabled"
)

func (n *Node) leftPath() string { return filepath.Join(n.dir, "left") }

// left reads the persisted reason and the role held when leaving ("" when in the cluster).
func (n *Node) left() (reason string, role Role) {
	b, err := os.ReadFile(n.leftPath())
	if err != nil {
		return "", RoleInit
	}
	reason, r, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if r == RoleActive.String() {
		return reason, RoleActive
	}
	return reason, RolePassive
}

func (n *Node) clusterKey() []byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.key
}

// Role is the role held now.
func (n *Node) Role() Role {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		return RoleInit
	}
	return n.m.Role()
}

func (n *Node) peerActive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || n.leftReason != "" {
		return false
	}
	p, ok := n.m.Peer()
	return ok && n.m.PeerAlive(time.Now()) && p.Role == RoleActive
}

// AttachStore replicates st between the nodes and makes it refuse writes from users
// while this node is not active. Call before Serve. (The ha component, Service,
// installs one hook and guard for the nodes it runs one after another: useStore.)
func (n *Node) AttachStore(st *store.Store) {
	st.Register(store.Kind{Name: KindHAAction})
	n.useStore(st)
	st.OnPrepareSync(n.repl.prepare)
	st.OnCommitSync(n.repl.committed)
	st.SetWriteGuard(n.writeGuard)
}

// useStore replicates st; the caller routes its commits and writes to the node.
func (n *Node) useStore(st *store.Store) {
	n.st = st
	n.repl = newReplicator(n, st)
	n.SetRevision(st.Revision)
}

func (n *Node) writeGuard(a store.Actor) error {
	if a == store.System {
		return nil // start-up defaults; the next snapshot replaces them on a passive
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || n.leftReason != "" || n.m.Role() == RoleActive {
		return nil
	}
	if p, ok := n.m.Peer(); ok && n.m.PeerAlive(time.Now()) && p.Role == RoleActive {
		return &store.ReadOnlyError{Msg: fmt.Sprintf("this node (%s) is the passive HA node: make changes on the active node %s (%s)",
			n.cfg.Serial, p.Name, n.cfg.RemoteIP)}
	}
	return &store.ReadOnlyError{Msg: fmt.Sprintf("this node (%s) is %s and no HA node is active yet: try again shortly", n.cfg.Serial, n.m.Role())}
}

// Switch hands the resource to the peer; only the active node can.
func (n *Node) Switch(ctx context.Context) error {
	n.mu.Lock()
	if n.m == nil || n.leftReason != "" {
		n.mu.Unlock()
		return errors.New("ha: not running")
	}
	s, err := n.m.Switch(time.Now())
	if err == nil {
		n.apply(s)
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(4 * n.cfg.Dead)
	for time.Now().Before(deadline) {
		if n.peerActive() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(n.cfg.Keepalive / 4):
		}
	}
	return errors.New("ha: switch requested, but the peer has not taken over yet")
}

// Takeover asks, on the passive node, that the active hand the resource to this
// node, and waits until it has (the passive's side of a switch).
func (n *Node) Takeover(ctx context.Context) error {
	n.mu.Lock()
	if n.m == nil || n.leftReason != "" {
		n.mu.Unlock()
		return errors.New("ha: not running")
	}
	err := n.m.RequestTakeover(time.Now())
	if err == nil {
		n.sendLocked(time.Now())
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(4 * n.cfg.Dead)
	for time.Now().Before(deadline) {
		if n.IsActive() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(n.cfg.Keepalive / 4):
		}
	}
	return errors.New("ha: takeover requested, but the active node has not handed over (can it still reach the ping group?)")
}

// Leave stops HA on this node and tells the peer to do the same (reason is
// LeftUnpaired or LeftDisabled). The active node keeps the resource.
func (n *Node) Leave(reason string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		return errors.New("ha: not running")
	}
	if n.leftReason != "" {
		return fmt.Errorf("ha: already %s", n.leftReason)
	}
	if err := n.leaveLocked(reason); err != nil {
		return err
	}
	// Say it a few times on every path: one lost datagram must not leave the peer
	// thinking this node died (it would take over).
	for i := 0; i < 5; i++ {
		n.sendLocked(time.Now())
	}
	return nil
}

func (n *Node) leaveLocked(reason string) error {
	body := reason + " " + n.m.Role().String() + "\n"
	if err := os.WriteFile(n.leftPath(), []byte(body), 0o600); err != nil {
		return fmt.Errorf("ha: persist %s: %w", reason, err)
	}
	n.leftReason = reason
	n.log.Warn("this node left the cluster", "reason", reason, "role", n.m.Role().String())
	return nil
}

// PathStatus is one heartbeat path as this node sees it.
type PathStatus struct {
	Name     string     `json:"name"`
	Peer     string     `json:"peer"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	RTTMs    float64    `json:"rtt_ms"`
}

// PeerStatus is the last word from the peer.
type PeerStatus struct {
	Serial   string `json:"serial"`
	SyncIP   string `json:"sync_ip"`
	Role     string `json:"role"`
	Alive    bool   `json:"alive"`
	Epoch    uint64 `json:"epoch"`
	Reach    int    `json:"reach"`
	Revision int64  `json:"revision"`
}

// Status is the cluster as this node sees it.
type Status struct {
	// State is the configured state: disabled, enabled or coordinator.
	State string `json:"state"`
	// Enabled is false when HA is disabled here (configured so, or "disable HA").
	Enabled bool `json:"enabled"`
	// Paired: the nodes share a cluster key and neither left the cluster.
	Paired bool `json:"paired"`
	// Pairing is paired, waiting (no cluster key yet: the coordinator waits for
	// "pair", the secondary for the coordinator), unpaired or disabled (left), or
	// off (HA disabled).
	Pairing        string       `json:"pairing"`
	Left           string       `json:"left,omitempty"`
	Serial         string       `json:"serial"`
	SyncIP         string       `json:"sync_ip"`
	Role           string       `json:"role"`
	ServiceState   string       `json:"service_state"` // active, standby, degraded (peer lost), standalone, down, disabled, failed
	ActiveNode     string       `json:"active_node"`
	Epoch          uint64       `json:"epoch"`
	Reach          int          `json:"reach"`
	PingGroup      int          `json:"ping_group"`
	Resource       []string     `json:"resource"`
	Revision       int64        `json:"revision"`
	ReplicationLag int64        `json:"replication_lag"`
	Peer           *PeerStatus  `json:"peer,omitempty"`
	Paths          []PathStatus `json:"paths"`
	// Error is why the HA service is not running with the saved settings.
	Error string `json:"error,omitempty"`
}

// syncIPs are the two addresses of the sync path (the main ones without a sync interface).
func (c Config) syncIPs() (local, remote string) {
	if c.SyncInterface != "" {
		return c.SyncLocalIP, c.SyncRemoteIP
	}
	return c.LocalIP, c.RemoteIP
}

// Status reports the node's view.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	local, remote := n.cfg.syncIPs()
	s := Status{State: n.cfg.State, Enabled: true, Paired: n.key != nil && n.leftReason == "", Left: n.leftReason,
		Serial: n.cfg.Serial, SyncIP: local, Resource: n.cfg.ResourceIP, PingGroup: len(n.cfg.PingGroup),
		Revision: n.revision(), Role: RoleInit.String(), Pairing: "paired",
		Peer: &PeerStatus{Serial: n.cfg.RemoteSerial, SyncIP: remote}}
	switch {
	case n.leftReason != "":
		s.Pairing = n.leftReason
	case n.key == nil:
		s.Pairing = "waiting"
	}
	if n.leftReason == LeftDisabled {
		s.Enabled = false
	}
	if n.m == nil {
		s.ServiceState = "starting"
		if n.key == nil {
			s.ServiceState = "waiting"
		}
		return s
	}
	s.Role, s.Epoch, s.Reach = n.m.Role().String(), n.m.Epoch(), n.m.Reach()
	alive := n.m.PeerAlive(now)
	if p, ok := n.m.Peer(); ok {
		s.Peer = &PeerStatus{Serial: p.Name, SyncIP: remote, Role: p.Role.String(), Alive: alive,
			Epoch: p.Epoch, Reach: int(p.Reach), Revision: int64(p.Revision)} //nolint:gosec // G115: revisions count commits from 1, far below 2^63
		if alive && p.Role == RoleActive {
			s.ActiveNode = p.Name
		}
	}
	if n.m.Role() == RoleActive {
		s.ActiveNode = n.cfg.Serial
	}
	switch {
	case n.leftReason != "":
		s.ServiceState = "standalone"
	case !alive && n.m.Role() == RoleActive:
		s.ServiceState = "degraded"
	case n.m.Role() == RoleActive:
		s.ServiceState = "active"
	case alive:
		s.ServiceState = "standby"
	default:
		s.ServiceState = "down"
	}
	if n.repl != nil {
		s.ReplicationLag = n.repl.lag()
	}
	for i, c := range n.conns {
		if c == nil {
			continue
		}
		ps := PathStatus{Name: pathNames[i], Peer: n.peers[i].IP.String(), RTTMs: float64(n.rtt[i].Microseconds()) / 1000}
		if t := n.m.LastSeen(i); !t.IsZero() {
			ps.LastSeen = &t
		}
		s.Paths = append(s.Paths, ps)
	}
	return s
}

// IsActive reports whether this node holds the resource.
func (n *Node) IsActive() bool { return n.Role() == RoleActive }

// OnActive adds f, called with whether the node is active on every role change
// (component.RoleSource: the components that follow the role start and stop).
func (n *Node) OnActive(f func(active bool)) {
	n.OnRole(func(r Role) { f(r == RoleActive) })
}
