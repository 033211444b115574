package ha

import (
	"strings"
	"testing"
	"time"
)

var testTimers = Timers{Keepalive: 100 * time.Millisecond, Warning: 200 * time.Millisecond, Dead: 300 * time.Millisecond, Init: 600 * time.Millisecond}

// pair runs two machines against one fake clock, delivering each one's heartbeats
// to the other when the link is up.
type pair struct {
	t     *testing.T
	now   time.Time
	a, b  *Machine
	seq   uint64
	link  [numPaths]bool
	steps []Step
}

func newPair(t *testing.T, groupA, reachA, groupB, reachB int) *pair {
	now := time.Unix(1000, 0)
	p := &pair{t: t, now: now, link: [numPaths]bool{true, true},
		a: NewMachine(testTimers, "a", true, groupA, 0, now),
		b: NewMachine(testTimers, "b", false, groupB, 0, now)}
	p.a.SetReach(now, reachA)
	p.b.SetReach(now, reachB)
	return p
}

func hbOf(m *Machine, seq uint64, now time.Time) Heartbeat {
	return Heartbeat{Role: m.role, DefaultActive: m.defaultActive, Fresh: m.fresh, Reach: uint8(m.reach), Group: uint8(m.group),
		Epoch: m.epoch, Yield: m.Yielding(now), Boot: 1, Seq: seq, Name: m.self}
}

// run advances d in keepalive steps; alive says which machines still send.
func (p *pair) run(d time.Duration, aSends, bSends bool) {
	for end := p.now.Add(d); p.now.Before(end); {
		p.now = p.now.Add(testTimers.Keepalive / 4)
		p.seq++
		for path := 0; path < numPaths; path++ {
			if !p.link[path] {
				continue
			}
			if aSends {
				p.steps = append(p.steps, p.b.Receive(p.now, path, hbOf(p.a, p.seq, p.now)))
			}
			if bSends {
				p.steps = append(p.steps, p.a.Receive(p.now, path, hbOf(p.b, p.seq, p.now)))
			}
		}
		p.steps = append(p.steps, p.a.Tick(p.now), p.b.Tick(p.now))
	}
}

func (p *pair) roles() string { return p.a.Role().String() + "/" + p.b.Role().String() }

func TestBootTogetherDefaultActiveWinsAfterInit(t *testing.T) {
	p := newPair(t, 0, 0, 0, 0)
	p.run(testTimers.Init-50*time.Millisecond, true, true)
	if p.roles() != "init/init" {
		t.Fatalf("acquired before the init timeout: %s", p.roles())
	}
	p.run(200*time.Millisecond, true, true)
	if p.roles() != "active/passive" {
		t.Fatalf("after init: %s, want active/passive (a is default active)", p.roles())
	}
}

func TestNoPeerTakesOverAfterInitOnly(t *testing.T) {
	p := newPair(t, 0, 0, 0, 0)
	p.run(testTimers.Init-30*time.Millisecond, false, false)
	if p.a.Role() != RoleInit {
		t.Fatalf("acquired at %v, before init", testTimers.Init)
	}
	p.run(50*time.Millisecond, false, false)
	if p.a.Role() != RoleActive || p.b.Role() != RoleActive {
		t.Fatalf("alone after init: %s", p.roles())
	}
}

func TestPeerDeathTakeoverNeedsPingTarget(t *testing.T) {
	for _, tc := range []struct {
		name       string
		reachB     int
		wantB      Role
		groupEmpty bool
	}{{"reaches one", 1, RoleActive, false}, {"reaches none", 0, RolePassive, false}, {"empty group", 0, RoleActive, true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := 2
			if tc.groupEmpty {
				g = 0
			}
			p := newPair(t, g, g, g, tc.reachB)
			if tc.groupEmpty {
				p.b.SetReach(p.now, 0)
			}
			p.run(time.Second, true, true)
			if p.roles() != "active/passive" {
				t.Fatalf("before the fault: %s", p.roles())
			}
			died := p.now
			p.run(testTimers.Dead+2*testTimers.Keepalive, false, true)
			if p.b.Role() != tc.wantB {
				t.Fatalf("b is %s after a's death, want %s", p.b.Role(), tc.wantB)
			}
			if tc.wantB == RoleActive {
				var warned, dead bool
				for _, s := range p.steps {
					warned = warned || strings.Contains(s.Warn, "late")
					dead = dead || s.PeerDied
				}
				if !warned || !dead {
					t.Fatalf("warning=%v dead=%v, want both", warned, dead)
				}
			}
			_ = died
		})
	}
}

func TestDeadTimeoutExact(t *testing.T) {
	p := newPair(t, 0, 0, 0, 0)
	p.run(time.Second, true, true)
	last := p.now
	m := p.b
	if s := m.Tick(last.Add(testTimers.Dead)); s.PeerDied || m.Role() != RolePassive {
		t.Fatal("peer declared dead at exactly the dead timeout")
	}
	if s := m.Tick(last.Add(testTimers.Dead + time.Millisecond)); !s.PeerDied || s.To != RoleActive {
		t.Fatalf("peer not dead just after the dead timeout: %+v", s)
	}
}

func TestOnePathSilentIsNotDeath(t *testing.T) {
	p := newPair(t, 0, 0, 0, 0)
	p.run(time.Second, true, true)
	p.link[PathMain] = false
	p.run(2*time.Second, true, true)
	if p.roles() != "active/passive" {
		t.Fatalf("sync path alone: %s", p.roles())
	}
}

func TestIsolatedActiveReleases(t *testing.T) {
	p := newPair(t, 2, 2, 2, 2)
	p.run(time.Second, true, true)
	p.link = [numPaths]bool{}
	p.a.SetReach(p.now, 0)
	p.run(testTimers.Dead+2*testTimers.Keepalive, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("a lost peer and targets: %s, want passive/active", p.roles())
	}
}

func TestActiveLosingTargetsHandsOver(t *testing.T) {
	p := newPair(t, 2, 2, 2, 2)
	p.run(time.Second, true, true)
	p.a.SetReach(p.now, 0)
	p.run(3*testTimers.Keepalive/4, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("a reaches none, b two: %s", p.roles())
	}
	p.a.SetReach(p.now, 1)
	p.run(time.Second, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("b reaches more (2 > 1): %s", p.roles())
	}
	p.a.SetReach(p.now, 2)
	p.run(time.Second, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("equal reach must not move the resource back: %s", p.roles())
	}
}

func TestSplitBrainHealNewerEpochWins(t *testing.T) {
	p := newPair(t, 1, 1, 1, 1)
	p.run(time.Second, true, true)
	ea := p.a.Epoch()
	p.link = [numPaths]bool{}
	p.run(time.Second, true, true)
	if p.roles() != "active/active" {
		t.Fatalf("partition: %s (both reach the target, both serve)", p.roles())
	}
	if p.b.Epoch() <= ea {
		t.Fatalf("b took over with epoch %d, not above a's %d", p.b.Epoch(), ea)
	}
	p.link = [numPaths]bool{true, true}
	p.steps = nil
	p.run(testTimers.Keepalive/4, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("one heartbeat after heal: %s, want b (newer epoch) to keep it", p.roles())
	}
	re := false
	p.run(testTimers.Keepalive, true, true)
	for _, s := range p.steps {
		re = re || s.Reannounce
	}
	if !re {
		t.Fatal("the winner did not announce again after the loser released")
	}
}

func TestSwitch(t *testing.T) {
	p := newPair(t, 0, 0, 0, 0)
	p.run(time.Second, true, true)
	if _, err := p.b.Switch(p.now); err == nil {
		t.Fatal("the passive accepted a switch")
	}
	if _, err := p.a.Switch(p.now); err != nil {
		t.Fatal(err)
	}
	p.run(time.Second, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("after switch: %s", p.roles())
	}
	p.run(5*time.Second, true, true)
	if p.roles() != "passive/active" {
		t.Fatalf("switch did not stick: %s", p.roles())
	}
	p.run(time.Second, true, false)
	if _, err := p.a.Switch(p.now); err == nil {
		t.Fatal("switch to a dead peer accepted")
	}
}

func TestReplayIgnored(t *testing.T) {
	m := NewMachine(testTimers, "a", false, 0, 0, time.Unix(0, 0))
	now := time.Unix(10, 0)
	hb := Heartbeat{Role: RoleActive, Boot: 5, Seq: 10, Name: "b"}
	m.Receive(now, PathMain, hb)
	m.Tick(now.Add(time.Second))
	if m.PeerAlive(now.Add(time.Second)) {
		t.Fatal("peer alive after dead timeout")
	}
	m.Receive(now.Add(time.Second), PathMain, hb)
	if m.PeerAlive(now.Add(time.Second)) {
		t.Fatal("a replayed heartbeat revived the peer")
	}
	hb.Name = "a"
	hb.Seq = 99
	m.Receive(now.Add(time.Second), PathSync, hb)
	if m.PeerAlive(now.Add(time.Second)) {
		t.Fatal("own reflected heartbeat counted as the peer")
	}
}

func TestValidateTimers(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		k, w, d, i time.Duration
		rule       string
	}{
		{100 * ms, 200 * ms, 300 * ms, 300 * ms, ""},
		{100 * ms, 100 * ms, 200 * ms, 400 * ms, "2 x keepalive"},
		{100 * ms, 300 * ms, 300 * ms, 600 * ms, "less than dead"},
		{100 * ms, 200 * ms, 300 * ms, 299 * ms, "at least dead"},
		{0, 200 * ms, 300 * ms, 600 * ms, "keepalive"},
	} {
		err := ValidateTimers(tc.k, tc.w, tc.d, tc.i)
		if tc.rule == "" && err != nil || tc.rule != "" && (err == nil || !strings.Contains(err.Error(), tc.rule)) {
			t.Errorf("%v/%v/%v/%v: %v, want rule %q", tc.k, tc.w, tc.d, tc.i, err, tc.rule)
		}
	}
}

func TestStalePathDoesNotRollBack(t *testing.T) {
	start := time.Unix(0, 0)
	m := NewMachine(testTimers, "a", true, 0, 1, start)
	now := start.Add(time.Second)
	m.Receive(now, PathMain, Heartbeat{Role: RolePassive, Boot: 1, Seq: 1, Name: "b"})
	m.Tick(now)
	if m.Role() != RoleActive {
		t.Fatalf("a should be active: %s", m.Role())
	}
	// b took over (newer epoch) and says so on the sync path; an older packet from
	// the main path's queue arrives afterwards and must not bring back "passive".
	m.Receive(now, PathSync, Heartbeat{Role: RoleActive, Epoch: 5, Boot: 1, Seq: 10, Name: "b"})
	if m.Role() != RolePassive {
		t.Fatalf("b is newer: a is %s", m.Role())
	}
	m.Receive(now, PathMain, Heartbeat{Role: RolePassive, Epoch: 0, Boot: 1, Seq: 9, Name: "b"})
	if m.Role() != RolePassive {
		t.Fatalf("a stale packet rolled the peer back: a is %s", m.Role())
	}
	if p, _ := m.Peer(); p.Seq != 10 {
		t.Fatalf("peer state from the stale packet: %+v", p)
	}
}

func TestFreshNodeLetsTheCoordinatorWin(t *testing.T) {
	// b is the default active node but was just paired: a (the coordinator, with the
	// configuration) must become active so that its store is the one replicated.
	p := newPair(t, 0, 0, 0, 0)
	p.a.defaultActive, p.b.defaultActive = false, true
	p.b.SetFresh(p.now, true)
	p.run(2*time.Second, true, true)
	if p.roles() != "active/passive" {
		t.Fatalf("fresh b: %s, want the coordinator a active", p.roles())
	}
	// Configured, b keeps standing by (stickiness), and takes over when a dies.
	p.b.SetFresh(p.now, false)
	p.run(time.Second, true, true)
	if p.roles() != "active/passive" {
		t.Fatalf("after configuration: %s", p.roles())
	}
	p.run(time.Second, false, true)
	if p.b.Role() != RoleActive {
		t.Fatal("b did not take over from a dead a")
	}
}

func TestFreshNodeStillTakesOverFromADeadPeer(t *testing.T) {
	p := newPair(t, 0, 0, 0, 0)
	p.b.SetFresh(p.now, true)
	p.run(2*time.Second, true, true)
	p.run(time.Second, false, true)
	if p.b.Role() != RoleActive {
		t.Fatalf("fresh b with a dead peer: %s", p.b.Role())
	}
	// a comes back with the configuration: fresh b hands the resource back.
	p.run(time.Second, true, true)
	if p.roles() != "active/passive" {
		t.Fatalf("a back: %s", p.roles())
	}
}

// TestTakeoverFromThePassive: the passive asks, the active hands over as on a
// switch; a passive that could not serve (no ping-group target) or an active
// peer that is dead cannot ask.
func TestTakeoverFromThePassive(t *testing.T) {
	p := newPair(t, 1, 1, 1, 1)
	hb := func(m *Machine) Heartbeat {
		h := hbOf(m, p.seq, p.now)
		h.Takeover = m.Asking(p.now)
		return h
	}
	released := false // a reported the change (Node releases the resource on it)
	step := func(d time.Duration) {
		for end := p.now.Add(d); p.now.Before(end); {
			p.now = p.now.Add(testTimers.Keepalive / 4)
			p.seq++
			p.b.Receive(p.now, PathMain, hb(p.a))
			for _, s := range []Step{p.a.Receive(p.now, PathMain, hb(p.b)), p.a.Tick(p.now)} {
				if s.From == RoleActive && s.To == RolePassive {
					released = true
				}
			}
			p.b.Tick(p.now)
		}
	}
	step(time.Second)
	if p.roles() != "active/passive" {
		t.Fatalf("start: %s", p.roles())
	}
	if err := p.a.RequestTakeover(p.now); err == nil {
		t.Fatal("the active asked to take over")
	}
	p.b.SetReach(p.now, 0)
	if err := p.b.RequestTakeover(p.now); err == nil {
		t.Fatal("a passive reaching no target asked to take over")
	}
	p.b.SetReach(p.now, 1)
	if err := p.b.RequestTakeover(p.now); err != nil {
		t.Fatal(err)
	}
	step(time.Second)
	if p.roles() != "passive/active" || !released {
		t.Fatalf("after the takeover: %s (release reported: %v)", p.roles(), released)
	}
	if p.b.Asking(p.now) {
		t.Fatal("the new active still asks")
	}
	step(5 * time.Second)
	if p.roles() != "passive/active" {
		t.Fatalf("the takeover did not stick: %s", p.roles())
	}
	lone := NewMachine(testTimers, "c", false, 0, 0, p.now)
	lone.Tick(p.now.Add(time.Second))
	if err := lone.RequestTakeover(p.now.Add(time.Second)); err == nil {
		t.Fatal("asked to take over with no active peer heard")
	}
}

// TestFrozenActiveDoesNotComeBackOnStaleHeartbeats: the active node is stopped
// (SIGSTOP) long enough for the passive to take over. Waking up, it reaches no
// ping target for a moment (the replies are as old as the freeze) and releases,
// and it ticks before reading the heartbeats queued for it, so the peer looks
// dead. Acting on that it would take the resource back with an epoch as new as
// the peer's and win on the default-active tie (the writes made on the peer
// meanwhile lost); instead it waits, as at boot, and then sees the new active.
func TestFrozenActiveDoesNotComeBackOnStaleHeartbeats(t *testing.T) {
	p := newPair(t, 2, 2, 2, 2)
	p.run(2*time.Second, true, true)
	if p.roles() != "active/passive" {
		t.Fatalf("start: %s", p.roles())
	}
	// a frozen: it neither runs nor hears; b keeps sending (queued for a).
	var queued []Heartbeat
	for end := p.now.Add(time.Second); p.now.Before(end); {
		p.now = p.now.Add(testTimers.Keepalive / 4)
		p.seq++
		queued = append(queued, hbOf(p.b, p.seq, p.now))
		p.b.Tick(p.now)
	}
	if p.b.Role() != RoleActive {
		t.Fatalf("b did not take over from the frozen a: %s", p.roles())
	}
	// a wakes: its ping replies are stale for a moment, and its first tick runs
	// before it has read the heartbeats queued for it: the peer looks dead.
	p.now = p.now.Add(time.Millisecond)
	took := false
	for _, s := range []Step{p.a.SetReach(p.now, 0), p.a.Tick(p.now), p.a.SetReach(p.now, 2), p.a.Tick(p.now)} {
		if s.To == RoleActive && s.From != RoleActive {
			took = true
		}
	}
	for _, hb := range queued {
		if s := p.a.Receive(p.now, PathMain, hb); s.To == RoleActive && s.From != RoleActive {
			took = true
		}
	}
	for end := p.now.Add(3 * time.Second); p.now.Before(end); {
		p.now = p.now.Add(testTimers.Keepalive / 4)
		p.seq++
		p.a.Receive(p.now, PathMain, hbOf(p.b, p.seq, p.now))
		p.b.Receive(p.now, PathMain, hbOf(p.a, p.seq, p.now))
		if s := p.a.Tick(p.now); s.To == RoleActive && s.From != RoleActive {
			took = true
		}
		p.b.Tick(p.now)
	}
	if took || p.roles() != "passive/active" {
		t.Fatalf("after the freeze: %s (a took the resource again: %v)", p.roles(), took)
	}
}
