package model

import (
	"encoding/json"
	"sort"
	"time"
)

// SetDND records a DND change made through the API (AstDB is written by the caller).
func (m *Model) SetDND(e string, on bool) []Emit {
	x := m.ensureExt(e)
	x.DND = on
	m.rebuild(e)
	return []Emit{{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{e}}}
}

// SetCF records a call forward set through the API: family CF, CFB or CFU
// and AstDB's value ("" = off, "vmu<box>" = to voice mail).
func (m *Model) SetCF(e, family, value string) []Emit {
	x := m.ensureExt(e)
	num, box := splitVM(value)
	switch family {
	case "CF":
		x.CF, x.CFVm = num, box
	case "CFB":
		x.CFB, x.CFBVm = num, box
	case "CFU":
		x.CFU, x.CFUVm = num, box
	default:
		return nil
	}
	m.rebuild(e)
	return []Emit{{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{e}}}
}

// Extension returns a copy of one extension (nil when unknown).
func (m *Model) Extension(e string) *Extension {
	if m.exts[e] == nil {
		return nil
	}
	m.rebuild(e)
	return cloneOne(m.exts[e])
}

// Conferences returns a copy of the conferences, keyed by id (owner extension).
func (m *Model) Conferences() map[string]*Conference {
	out := map[string]*Conference{}
	for _, c := range m.confs {
		out[c.ID] = cloneOne(c)
		for id, u := range c.Users {
			out[c.ID].Users[id].channel = u.channel
		}
		out[c.ID].room = c.room
	}
	return out
}

// ConfChannel is the channel of a conference user (by user id or extension).
func (m *Model) ConfChannel(id, user, exten string) (string, bool) {
	for _, c := range m.confs {
		if c.ID != id {
			continue
		}
		for uid, u := range c.Users {
			if (user != "" && uid == user) || (exten != "" && u.ExtenID == exten) {
				return u.channel, true
			}
		}
	}
	return "", false
}

// Extensions, Queues, Trunks and Parkings return deep copies for the REST API.
func (m *Model) Extensions() map[string]*Extension {
	for e := range m.exts {
		m.rebuild(e) // refresh durations
	}
	return cloneJSON(m.exts)
}

// Queues returns a copy of the queues, with each caller's wait so far.
func (m *Model) Queues() map[string]*Queue {
	out := cloneJSON(m.queues)
	now := m.now().UnixMilli()
	for _, q := range out {
		for _, w := range q.WaitingCallers {
			w.Waiting = (now - w.WaitingTime) / 1000
		}
	}
	return out
}

// Trunks returns a copy of the trunks.
func (m *Model) Trunks() map[string]*Trunk {
	for e := range m.trunks {
		m.rebuild(e)
	}
	return cloneJSON(m.trunks)
}

// Parkings returns a copy of the parkings, with the seconds each parked call
// has left.
func (m *Model) Parkings() map[string]*Parking {
	out := make(map[string]*Parking, len(m.parkings))
	for k, p := range m.parkings {
		cp := *p
		if p.ParkedCaller != nil {
			pc := *p.ParkedCaller
			if p.Timeout > 0 {
				pc.Timeout = p.Timeout - int(m.now().Sub(pc.since)/time.Second)
			}
			cp.ParkedCaller = &pc
		}
		out[k] = &cp
	}
	return out
}

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
	Name, Endpoint, Peer, Bridge, State, CallerNum, ConnNum, Uniqueid, Linkedid, Conference string
	Source, Parked, Hold, Muted                                                             bool
}

// Channel returns one channel.
func (m *Model) Channel(name string) (ChannelInfo, bool) {
	c := m.chans[name]
	if c == nil {
		return ChannelInfo{}, false
	}
	return ChannelInfo{Name: c.Name, Endpoint: c.Endpoint, Peer: c.Peer, Bridge: c.Bridge, State: c.State,
		CallerNum: c.CallerNum, ConnNum: c.ConnNum, Uniqueid: c.Uniqueid, Linkedid: c.Linkedid, Conference: c.Conference,
		Source: c.Source, Parked: c.Parked, Hold: c.Hold, Muted: c.Muted}, true
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

// SetMuted records a mute made through the CTI (AMI has no event for it).
func (m *Model) SetMuted(ch string, on bool) {
	if c := m.chans[ch]; c != nil {
		c.Muted = on
	}
}

// ChannelByUniqueid finds a live channel by its uniqueid.
func (m *Model) ChannelByUniqueid(uid string) (string, bool) {
	for n, c := range m.chans {
		if c.Uniqueid == uid {
			return n, true
		}
	}
	return "", false
}

func cloneOne[T any](v *T) *T {
	b, _ := json.Marshal(v)
	out := new(T)
	json.Unmarshal(b, out) //nolint:errcheck // our own JSON
	return out
}

func cloneJSON[T any](v map[string]*T) map[string]*T {
	b, _ := json.Marshal(v)
	out := map[string]*T{}
	json.Unmarshal(b, &out) //nolint:errcheck // our own JSON
	return out
}

// DND reports whether extension e is in do-not-disturb.
func (m *Model) DND(e string) bool {
	x := m.exts[e]
	return x != nil && x.DND
}

// Parked reports whether a call is parked on space.
func (m *Model) Parked(space string) bool {
	p := m.parkings[space]
	return p != nil && p.ParkedCaller != nil
}

// ExtState is what presence is derived from: an extension's status and its
// do-not-disturb and unconditional call forward.
type ExtState struct {
	Status    string
	DND       bool
	CF, CFVm  string
	Connected bool // it has a connected conversation
}

// State returns extension e's state (ok false when unknown).
func (m *Model) State(e string) (ExtState, bool) {
	x := m.exts[e]
	if x == nil {
		return ExtState{}, false
	}
	st := ExtState{Status: x.Status, DND: x.DND, CF: x.CF, CFVm: x.CFVm}
	for _, cv := range x.Conversations {
		if cv.Connected {
			st.Connected = true
		}
	}
	return st, true
}
