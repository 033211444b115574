package ha

import (
	"fmt"
	"time"
)

// Paths a heartbeat can arrive on.
const (
	PathMain = iota
	PathSync
	numPaths
)

var pathNames = [numPaths]string{"main", "sync"}

// Timers are the heartbeat timers (see ValidateTimers).
type Timers struct {
	Keepalive, Warning, Dead, Init time.Duration
}

// Machine is the election as a pure state machine: it sees only what it is given
// (heartbeats, the ping-group count, the time) and says which role to hold. Node
// drives it with real sockets and clocks; tests drive it with a fake clock.
type Machine struct {
	t             Timers
	self          string
	defaultActive bool
	group         int
	start         time.Time

	role  Role
	epoch uint64
	reach int

	peer     Heartbeat
	peerSeen bool
	peerDead bool
	lastAny  time.Time
	lastPath [numPaths]time.Time
	lastSeq  [numPaths]uint64
	maxSeq   uint64 // highest sequence number of the peer's boot, over both paths
	warned   bool

	last        time.Time // the latest time the machine was given
	switchUntil time.Time // a requested switch: stay passive while the peer takes over
	askUntil    time.Time // a takeover asked for on this passive node: tell the active so
	booting     bool      // within the init timeout, as of the last decision
	fresh       bool      // newly paired, nothing replicated yet: let the peer (coordinator) win
}

// SetFresh marks a newly paired node that has not received the configuration yet:
// while both nodes are alive it never wins an election, so the coordinator's store
// (not its own empty one) is the one replicated. Peer death still makes it take over.
func (m *Machine) SetFresh(now time.Time, fresh bool) Step {
	m.fresh = fresh
	return m.decide(now)
}

// Fresh reports SetFresh's flag (sent as Heartbeat.Fresh).
func (m *Machine) Fresh() bool { return m.fresh }

// Step says what a call changed. Node acts on it.
type Step struct {
	From, To   Role
	Reason     string // why the role changed
	Warn       string // a late heartbeat, worth a log line
	PeerDied   bool   // the peer was declared dead now
	PeerBack   bool   // the peer was heard again after being dead (or for the first time)
	Reannounce bool   // still active, but the peer just released: announce the resource again
}

// Changed reports a role change.
func (s Step) Changed() bool { return s.From != s.To }

// NewMachine starts in RoleInit at now. epoch is the persisted epoch.
func NewMachine(t Timers, self string, defaultActive bool, group int, epoch uint64, now time.Time) *Machine {
	return &Machine{t: t, self: self, defaultActive: defaultActive, group: group, start: now, epoch: epoch, role: RoleInit}
}

// Role is the role held now.
func (m *Machine) Role() Role { return m.role }

// Epoch is the current epoch (persist it when it changes).
func (m *Machine) Epoch() uint64 { return m.epoch }

// Reach is this node's reachable ping-group count.
func (m *Machine) Reach() int { return m.reach }

// Group is the size of this node's ping group.
func (m *Machine) Group() int { return m.group }

// DefaultActive reports whether this node is the default active node.
func (m *Machine) DefaultActive() bool { return m.defaultActive }

// Peer is the last heartbeat heard from the peer, and whether any was heard.
func (m *Machine) Peer() (Heartbeat, bool) { return m.peer, m.peerSeen }

// Yielding reports whether a requested switch is in progress (sent as Heartbeat.Yield).
func (m *Machine) Yielding(now time.Time) bool { return now.Before(m.switchUntil) }

// Asking reports whether this passive node asks the active to hand over (sent
// as Heartbeat.Takeover).
func (m *Machine) Asking(now time.Time) bool { return m.role != RoleActive && now.Before(m.askUntil) }

// PeerAlive reports whether some path has carried a heartbeat within the dead timeout.
func (m *Machine) PeerAlive(now time.Time) bool {
	return m.peerSeen && now.Sub(m.lastAny) <= m.t.Dead
}

// LastSeen is when path last carried a heartbeat (zero: never).
func (m *Machine) LastSeen(path int) time.Time { return m.lastPath[path] }

// Receive takes an authenticated heartbeat that arrived on path. Replays (a sequence
// number not above the last one of the same boot on that path) are ignored. The
// sender numbers its packets across both paths, so a packet older than one already
// seen on the other path proves the peer alive but does not roll its state back.
func (m *Machine) Receive(now time.Time, path int, hb Heartbeat) Step {
	m.observe(now)
	if path < 0 || path >= numPaths || hb.Name == m.self {
		return m.noStep()
	}
	sameBoot := m.peerSeen && hb.Boot == m.peer.Boot
	if sameBoot && hb.Seq <= m.lastSeq[path] {
		return m.noStep()
	}
	if !sameBoot {
		m.lastSeq, m.maxSeq = [numPaths]uint64{}, 0
	}
	back := !m.peerSeen || m.peerDead
	wasActive := m.peerSeen && !m.peerDead && m.peer.Role == RoleActive
	m.lastSeq[path] = hb.Seq
	m.peerDead, m.warned = false, false
	m.lastAny, m.lastPath[path] = now, now
	stale := sameBoot && hb.Seq <= m.maxSeq
	if !stale {
		m.peer, m.peerSeen, m.maxSeq = hb, true, hb.Seq
		if hb.Takeover && m.role == RoleActive && !m.Yielding(now) {
			// The passive asked for the resource: hand it over as on a local
			// switch, if the peer could serve (else it keeps asking, in vain).
			m.startSwitch(now) //nolint:errcheck // refused: the asking node's wait ends without a takeover

		}
	}
	s := m.decide(now)
	s.PeerBack = back
	if !stale && s.To == RoleActive && s.From == RoleActive && wasActive && hb.Role != RoleActive {
		s.Reannounce = true
	}
	return s
}

// observe notices that the machine was not run for longer than the dead timeout
// (the process was stopped, or the host froze): the peer has taken over by now if
// it could, and the heartbeats queued meanwhile describe a past that is gone. So
// the init wait starts again: nothing is acquired until the peer's current
// heartbeats have been heard (a node still active keeps its role and epoch, and
// the newer epoch decides).
func (m *Machine) observe(now time.Time) {
	if !m.last.IsZero() && now.Sub(m.last) > m.t.Dead {
		m.start = now
	}
	if now.After(m.last) {
		m.last = now
	}
}

// SetReach records how many ping-group targets this node reaches now.
func (m *Machine) SetReach(now time.Time, n int) Step {
	m.observe(now)
	m.reach = n
	return m.decide(now)
}

// Tick advances time: warnings, peer death, the end of the init wait.
func (m *Machine) Tick(now time.Time) Step {
	m.observe(now)
	var warn string
	died := false
	if m.peerSeen && !m.peerDead {
		silent := now.Sub(m.lastAny)
		if silent > m.t.Dead {
			m.peerDead, died = true, true
		} else if silent > m.t.Warning && !m.warned {
			m.warned = true
			warn = fmt.Sprintf("heartbeat from %s late: silent for %v on every path", m.peer.Name, silent.Round(time.Millisecond))
		}
	}
	s := m.decide(now)
	s.Warn, s.PeerDied = warn, died
	return s
}

// Switch asks this (active) node to hand the resource to the peer. It fails unless
// the peer is alive and could take over.
func (m *Machine) Switch(now time.Time) (Step, error) {
	if err := m.startSwitch(now); err != nil {
		return m.noStep(), err
	}
	return m.decide(now), nil
}

// startSwitch checks that a switch can happen and starts it; the caller decides.
func (m *Machine) startSwitch(now time.Time) error {
	if !m.PeerAlive(now) {
		return fmt.Errorf("ha: cannot switch: the peer is not heard from")
	}
	if m.peer.Group > 0 && m.peer.Reach == 0 {
		return fmt.Errorf("ha: cannot switch: %s reaches no ping-group target", m.peer.Name)
	}
	if m.role != RoleActive {
		return fmt.Errorf("ha: cannot switch: this node is %s, ask the active node", m.role)
	}
	m.switchUntil = now.Add(4 * m.t.Dead)
	return nil
}

// RequestTakeover asks, on the passive node, that the active hand the resource
// to this node: the next heartbeats carry the request for up to four dead
// timeouts. It fails unless the active peer is alive and this node could serve.
func (m *Machine) RequestTakeover(now time.Time) error {
	switch {
	case m.role == RoleActive:
		return fmt.Errorf("ha: this node is already active")
	case !m.PeerAlive(now) || m.peer.Role != RoleActive:
		return fmt.Errorf("ha: cannot take over: no active peer is heard from")
	case m.group > 0 && m.reach == 0:
		return fmt.Errorf("ha: cannot take over: this node reaches no ping-group target")
	case m.fresh:
		return fmt.Errorf("ha: cannot take over: this node has not received the configuration yet")
	}
	m.askUntil = now.Add(4 * m.t.Dead)
	return nil
}

func (m *Machine) noStep() Step { return Step{From: m.role, To: m.role} }

// decide applies the election rules and moves to the resulting role.
func (m *Machine) decide(now time.Time) Step {
	want, reason := m.want(now)
	s := Step{From: m.role, To: want}
	if want == m.role {
		return s
	}
	if want == RoleActive {
		if m.peerSeen && m.peer.Epoch > m.epoch {
			m.epoch = m.peer.Epoch
		}
		m.epoch++
	}
	if want == RoleActive {
		m.switchUntil, m.askUntil = time.Time{}, time.Time{}
	}
	m.role, s.Reason = want, reason
	return s
}

func (m *Machine) want(now time.Time) (Role, string) {
	alive := m.PeerAlive(now)
	booting := now.Sub(m.start) < m.t.Init
	m.booting = booting
	canServe := m.group == 0 || m.reach > 0
	if !alive {
		switch {
		case !canServe && m.role == RoleActive:
			return RolePassive, "peer silent and no ping-group target reachable: this node is the isolated one"
		case !canServe:
			return m.idle(), ""
		case booting:
			return m.role, "" // nothing is acquired before the init timeout
		case m.role == RoleActive:
			return RoleActive, ""
		case m.peerSeen:
			return RoleActive, fmt.Sprintf("peer %s silent for more than %v on every path", m.peer.Name, m.t.Dead)
		default:
			return RoleActive, fmt.Sprintf("no peer heard within the init timeout (%v)", m.t.Init)
		}
	}
	peerActive := m.peer.Role == RoleActive
	if now.Before(m.switchUntil) {
		if !peerActive || m.role == RoleActive {
			return RolePassive, "switch requested: handing the resource to " + m.peer.Name
		}
		m.switchUntil = time.Time{} // the peer took it: the switch is done
	}
	if !canServe {
		if m.role == RoleActive {
			return RolePassive, "no ping-group target reachable"
		}
		return m.idle(), ""
	}
	win := m.wins()
	if m.fresh != m.peer.Fresh {
		win = !m.fresh
	}
	if m.role == RoleActive {
		if m.fresh && !m.peer.Fresh {
			return RolePassive, m.peer.Name + " has the configuration and this node has none yet"
		}
		if peerActive && !win {
			return RolePassive, fmt.Sprintf("both nodes active: %s wins (%s)", m.peer.Name, m.why())
		}
		if !peerActive && m.reach < int(m.peer.Reach) && !m.peer.Fresh {
			return RolePassive, fmt.Sprintf("%s reaches more ping-group targets (%d > %d)", m.peer.Name, m.peer.Reach, m.reach)
		}
		return RoleActive, ""
	}
	// Not active: never take the resource while the peer still holds it; it releases
	// on the same information and announces that at once.
	if peerActive || booting {
		return m.idle(), ""
	}
	if m.peer.Role == RolePassive || m.peer.Role == RoleInit {
		if m.peer.Yield {
			return RoleActive, m.peer.Name + " hands the resource over (switch)"
		}
		if m.fresh && !m.peer.Fresh {
			return m.idle(), "" // wait for the coordinator's configuration
		}
		if m.reach > int(m.peer.Reach) || win {
			return RoleActive, "elected: " + m.why()
		}
	}
	return m.idle(), ""
}

// idle is the role of a node that does not hold the resource.
func (m *Machine) idle() Role {
	if m.role == RoleInit && m.booting {
		return RoleInit
	}
	return RolePassive
}

// wins breaks a tie between the two nodes: more targets, newer epoch, the default
// active node, then the smaller name.
func (m *Machine) wins() bool {
	p := m.peer
	switch {
	case m.reach != int(p.Reach):
		return m.reach > int(p.Reach)
	case m.role == RoleActive && p.Role == RoleActive && m.epoch != p.Epoch:
		return m.epoch > p.Epoch
	case m.defaultActive != p.DefaultActive:
		return m.defaultActive
	}
	return m.self < p.Name
}

func (m *Machine) why() string {
	p := m.peer
	switch {
	case m.fresh != p.Fresh:
		return "the peer was just paired and has no configuration yet"

	case m.reach != int(p.Reach):
		return fmt.Sprintf("ping-group targets %d vs %d", m.reach, p.Reach)
	case m.role == RoleActive && p.Role == RoleActive && m.epoch != p.Epoch:
		return fmt.Sprintf("epoch %d vs %d", m.epoch, p.Epoch)
	case m.defaultActive != p.DefaultActive:
		return "default active node"
	}
	return "node name order"
}
