package model

import (
	"encoding/json"
	"sort"
)

// SetDND records a DND change made through the API (AstDB is written by the caller).
func (m *Model) SetDND(e string, on bool) []Emit {
	x := m.ensureExt(e)
	x.DND = on
	m.rebuild(e)
	return []Emit{{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{e}}}
}

// SetCF records an unconditional call forward set through the API ("" = off).
func (m *Model) SetCF(e, to string) []Emit {
	x := m.ensureExt(e)
	x.CF = to
	m.rebuild(e)
	return []Emit{{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{e}}}
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

// DND reports whether extension e is in do-not-disturb.
func (m *Model) DND(e string) bool {
	x := m.exts[e]
	return x != nil && x.DND
}

// Parked reports whether a call is parked on space.
func (m *Model) Parked(space string) bool {
	p := m.parkings[space]
	return p != nil && p.Channel != ""
}
