package cti

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Snapshot is what a full re-sync reads from Asterisk.
type Snapshot struct {
	Endpoints []Message // EndpointList events of PJSIPShowEndpoints
	Channels  []Message // CoreShowChannel events
	Queues    []Message // QueueParams, QueueMember, QueueEntry events of QueueStatus
	Parked    []Message // ParkedCall events of ParkedCalls
	// DND and CF are the AstDB entries of each extension (absent: unknown,
	// the previous value is kept).
	DND map[string]bool
	CF  map[string]string
}

// ReadSnapshot runs the list actions of a full re-sync on c.
func ReadSnapshot(ctx context.Context, c *AMIConn) (Snapshot, error) {
	var s Snapshot
	var err error
	for _, step := range []struct {
		action string
		dst    *[]Message
	}{
		{"PJSIPShowEndpoints", &s.Endpoints},
		{"CoreShowChannels", &s.Channels},
		{"QueueStatus", &s.Queues},
		{"ParkedCalls", &s.Parked},
	} {
		_, *step.dst, err = c.ActionList(ctx, NewMessage("Action", step.action))
		if err != nil {
			return s, fmt.Errorf("re-sync %s: %w", step.action, err)
		}
	}
	// DND and call forward live in AstDB, which sends no events: read them, so a
	// change made on the phone (*76, *72) while we were away is not missed.
	s.DND, s.CF = map[string]bool{}, map[string]string{}
	for _, ev := range s.Endpoints {
		e := firstNonEmpty(ev.Get("ObjectName"), ev.Get("Endpoint"))
		if e == "" || !extenRe.MatchString(e) {
			continue
		}
		if v, ok := dbGet(ctx, c, "DND", e); ok {
			s.DND[e] = v != ""
		}
		if v, ok := dbGet(ctx, c, "CF", e); ok {
			s.CF[e] = v
		}
	}
	return s, nil
}

// dbGet reads one AstDB key: ("", true) when absent, ok false on other errors.
func dbGet(ctx context.Context, c *AMIConn, family, key string) (string, bool) {
	resp, evs, err := c.ActionList(ctx, NewMessage("Action", "DBGet", "Family", family, "Key", key))
	if err != nil {
		return "", strings.Contains(strings.ToLower(resp.Get("Message")), "not found")
	}
	v := resp.Get("Val")
	for _, ev := range evs {
		if ev.Event() == "DBGetResponse" {
			v = ev.Get("Val")
		}
	}
	return v, true
}

// Load replaces the model with a snapshot (keeping DND and call forward, which
// live in AstDB) and returns updates for everything that differs from before, so
// that clients never need a refresh after a reconnection.
func (m *Model) Load(s Snapshot) []Emit {
	oldExt := map[string]string{}
	keep := map[string]*Extension{}
	for e, x := range m.exts {
		oldExt[e] = fingerprint(x.Status+strconv.FormatBool(x.DND)+x.CF, x.Conversations)
		keep[e] = x
	}
	oldTrunk := map[string]string{}
	for e, t := range m.trunks {
		oldTrunk[e] = fingerprint(t.Status, t.Conversations)
	}
	oldQueue := map[string]string{}
	for n, q := range m.queues {
		oldQueue[n] = jsonString(q)
	}
	oldPark := map[string]string{}
	for n, p := range m.parkings {
		oldPark[n] = jsonString(p)
	}
	m.reset()
	for _, ev := range s.Endpoints {
		e := firstNonEmpty(ev.Get("ObjectName"), ev.Get("Endpoint"))
		if e == "" {
			continue
		}
		m.devState[e] = ev.Get("DeviceState")
		if m.isTrunk[e] {
			m.ensureTrunk(e)
		} else {
			x := m.ensureExt(e)
			if k := keep[e]; k != nil {
				x.DND, x.CF = k.DND, k.CF
			}
			if v, ok := s.DND[e]; ok {
				x.DND = v
			}
			if v, ok := s.CF[e]; ok {
				x.CF = v
			}
		}
	}
	byBridge := map[string][]*channel{}
	byLinked := map[string][]*channel{}
	for _, ev := range s.Channels {
		c := m.chanOf(ev, "")
		if c == nil {
			continue
		}
		c.Start = m.now().Add(-parseHMS(ev.Get("Duration")))
		if b := ev.Get("BridgeId"); b != "" {
			c.Bridge = b
			byBridge[b] = append(byBridge[b], c)
			if m.bridges[b] == nil {
				m.bridges[b] = map[string]bool{}
			}
			m.bridges[b][c.Name] = true
		} else if c.Linkedid != "" {
			byLinked[c.Linkedid] = append(byLinked[c.Linkedid], c)
		}
		if e := c.Endpoint; e != "" && m.devState[e] == "" {
			m.devState[e] = "INUSE"
		}
	}
	pair := func(cs []*channel) {
		if len(cs) != 2 {
			return
		}
		sort.Slice(cs, func(i, j int) bool { return uniqueLess(cs[i].Uniqueid, cs[j].Uniqueid) })
		cs[0].Peer, cs[0].Source = cs[1].Name, true
		cs[1].Peer, cs[1].Source = cs[0].Name, false
	}
	for _, cs := range byBridge {
		pair(cs)
	}
	for _, cs := range byLinked {
		pair(cs)
	}
	for _, ev := range s.Queues {
		switch ev.Event() {
		case "QueueParams":
			if q := m.ensureQueue(ev.Get("Queue")); q != nil {
				q.Strategy = ev.Get("Strategy")
				q.Completed = atoi(ev.Get("Completed"))
				q.Abandoned = atoi(ev.Get("Abandoned"))
			}
		case "QueueMember":
			m.memberFrom(ev)
		case "QueueEntry":
			q := m.ensureQueue(ev.Get("Queue"))
			if q == nil {
				continue
			}
			ch := ev.Get("Channel")
			if c := m.chans[ch]; c != nil {
				c.Queue = q.Queue
			}
			wait := time.Duration(atoi(ev.Get("Wait"))) * time.Second
			q.WaitingCallers[ch] = &QueueCaller{Queue: q.Queue, Channel: ch, Num: unknownEmpty(ev.Get("CallerIDNum")),
				Name: unknownEmpty(ev.Get("CallerIDName")), Position: atoi(ev.Get("Position")), Since: m.now().Add(-wait).UnixMilli()}
		}
	}
	for _, ev := range s.Parked {
		m.parkingFrom(ev)
		if c := m.chans[ev.Get("ParkeeChannel")]; c != nil {
			c.Parked = true
		}
	}
	var out []Emit
	for e, x := range keep {
		if m.exts[e] == nil && !m.isTrunk[e] {
			// Gone from Asterisk: tell clients it is offline, then forget it.
			x.Status, x.Conversations = "offline", map[string]*Conversation{}
			out = append(out, Emit{Name: "extenUpdate", Data: x, Room: "presence_panel", Also: []string{e}})
		}
	}
	for e := range m.exts {
		m.rebuild(e)
		x := m.exts[e]
		if oldExt[e] != fingerprint(x.Status+strconv.FormatBool(x.DND)+x.CF, x.Conversations) {
			out = append(out, Emit{Name: "extenUpdate", Data: x, Room: "presence_panel", Also: []string{e}})
		}
	}
	for e := range m.trunks {
		m.rebuild(e)
		t := m.trunks[e]
		if oldTrunk[e] != fingerprint(t.Status, t.Conversations) {
			out = append(out, Emit{Name: "trunkUpdate", Data: t, Room: "trunks"})
		}
	}
	for n, q := range m.queues {
		if oldQueue[n] != jsonString(q) {
			out = append(out, Emit{Name: "queueUpdate", Data: q, Room: "queues"})
		}
	}
	for n, p := range m.parkings {
		if oldPark[n] != jsonString(p) {
			out = append(out, Emit{Name: "parkingUpdate", Data: p, Room: "parkings"})
		}
	}
	for n := range oldPark {
		if m.parkings[n] == nil {
			out = append(out, Emit{Name: "parkingUpdate", Data: &Parking{Parking: n}, Room: "parkings"})
		}
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// parseHMS reads CoreShowChannel's "Duration: 00:01:05".
func parseHMS(s string) time.Duration {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0
	}
	return time.Duration(atoi(parts[0]))*time.Hour + time.Duration(atoi(parts[1]))*time.Minute + time.Duration(atoi(parts[2]))*time.Second
}

// uniqueLess orders Asterisk uniqueids ("1700000000.42") by creation.
func uniqueLess(a, b string) bool {
	as, an, _ := strings.Cut(a, ".")
	bs, bn, _ := strings.Cut(b, ".")
	if as != bs {
		return atoi(as) < atoi(bs)
	}
	return atoi(an) < atoi(bn)
}

// SetDND records a DND change made through the API (AstDB is written by the caller).
func (m *Model) SetDND(e string, on bool) []Emit {
	x := m.ensureExt(e)
	x.DND = on
	m.rebuild(e)
	return []Emit{{Name: "extenUpdate", Data: x, Room: "presence_panel", Also: []string{e}}}
}

// SetCF records an unconditional call forward set through the API ("" = off).
func (m *Model) SetCF(e, to string) []Emit {
	x := m.ensureExt(e)
	x.CF = to
	m.rebuild(e)
	return []Emit{{Name: "extenUpdate", Data: x, Room: "presence_panel", Also: []string{e}}}
}

// Extensions, Queues, Trunks and Parkings return deep copies for the REST API.
func (m *Model) Extensions() map[string]*Extension {
	for e := range m.exts {
		m.rebuild(e) // refresh durations
	}
	return cloneJSON(m.exts)
}

// Queues returns a copy of the queues.
func (m *Model) Queues() map[string]*Queue { return cloneJSON(m.queues) }

// Trunks returns a copy of the trunks.
func (m *Model) Trunks() map[string]*Trunk {
	for e := range m.trunks {
		m.rebuild(e)
	}
	return cloneJSON(m.trunks)
}

// Parkings returns a copy of the parkings.
func (m *Model) Parkings() map[string]*Parking { return cloneJSON(m.parkings) }

// ChannelsOf lists the live channels of an endpoint, newest first.
func (m *Model) ChannelsOf(e string) []string {
	var cs []*channel
	for _, c := range m.byEP[e] {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq > cs[j].seq })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// ChannelInfo is a channel for dumps and the call operations.
type ChannelInfo struct {
	Name, Endpoint, Peer, Bridge, State, CallerNum, ConnNum string
	Source, Parked                                          bool
}

// Channel returns one channel.
func (m *Model) Channel(name string) (ChannelInfo, bool) {
	c := m.chans[name]
	if c == nil {
		return ChannelInfo{}, false
	}
	return ChannelInfo{Name: c.Name, Endpoint: c.Endpoint, Peer: c.Peer, Bridge: c.Bridge, State: c.State,
		CallerNum: c.CallerNum, ConnNum: c.ConnNum, Source: c.Source, Parked: c.Parked}, true
}

// Channels lists every channel (for dumps).
func (m *Model) Channels() []ChannelInfo {
	out := make([]ChannelInfo, 0, len(m.chans))
	for n := range m.chans {
		ci, _ := m.Channel(n)
		out = append(out, ci)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func cloneJSON[T any](v map[string]*T) map[string]*T {
	b, _ := json.Marshal(v)
	out := map[string]*T{}
	json.Unmarshal(b, &out) //nolint:errcheck // our own JSON
	return out
}
