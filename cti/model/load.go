package model

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// Snapshot is what a full re-sync reads from Asterisk.
type Snapshot struct {
	Endpoints []ami.Message // EndpointList events of PJSIPShowEndpoints
	Channels  []ami.Message // CoreShowChannel events
	Queues    []ami.Message // QueueParams, QueueMember, QueueEntry events of QueueStatus
	Parked    []ami.Message // ParkedCall events of ParkedCalls
	Lots      []ami.Message // Parkinglot events of Parkinglots
	Confs     []ami.Message // ConfbridgeList events of each room of ConfbridgeListRooms
	// DND and the call forwards are the AstDB entries of each extension
	// (absent: unknown, the previous value is kept). CF, CFB and CFU hold
	// AstDB's values ("vmu<box>" is a forward to voice mail).
	DND          map[string]bool
	CF, CFB, CFU map[string]string
}

// Load replaces the model with a snapshot (keeping DND and call forward, which
// live in AstDB) and returns updates for everything that differs from before, so
// that clients never need a refresh after a reconnection.
func (m *Model) Load(s Snapshot) []Emit {
	oldExt := map[string]string{}
	keep := map[string]*Extension{}
	for e, x := range m.exts {
		oldExt[e] = extPrint(x)
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
				x.DND, x.CF, x.CFVm, x.CFB, x.CFBVm, x.CFU, x.CFUVm = k.DND, k.CF, k.CFVm, k.CFB, k.CFBVm, k.CFU, k.CFUVm
				x.SipUserAgent = k.SipUserAgent
			}
			if v, ok := s.DND[e]; ok {
				x.DND = v
			}
			if v, ok := s.CF[e]; ok {
				x.CF, x.CFVm = splitVM(v)
			}
			if v, ok := s.CFB[e]; ok {
				x.CFB, x.CFBVm = splitVM(v)
			}
			if v, ok := s.CFU[e]; ok {
				x.CFU, x.CFUVm = splitVM(v)
			}
			for _, ct := range strings.Split(ev.Get("Contacts"), ",") {
				// "201/sip:201@192.0.2.7:5062"
				if _, uri, ok := strings.Cut(ct, "/"); ok && uri != "" {
					x.IP, x.Port = contactAddr(uri)
					break
				}
			}
			x.UseWebsocket = strings.Contains(strings.ToLower(ev.Get("Transport")), "ws")
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
				q.AvgHoldTime = atoi(ev.Get("Holdtime"))
				q.AvgTalkTime = atoi(ev.Get("TalkTime"))
				q.ServiceLevelTimePeriod = atoi(ev.Get("ServiceLevel"))
				q.ServiceLevelPercentage = ev.Get("ServicelevelPerf")
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
			q.WaitingCallers[ch] = &QueueCaller{ID: ch, Queue: q.Queue, Channel: ch, Num: unknownEmpty(ev.Get("CallerIDNum")),
				Name: unknownEmpty(ev.Get("CallerIDName")), Position: atoi(ev.Get("Position")), WaitingTime: m.now().Add(-wait).UnixMilli()}
		}
	}
	for _, ev := range s.Lots {
		m.lotFrom(ev)
	}
	for _, ev := range s.Confs {
		m.conference(ev, touched{})
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
			out = append(out, Emit{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{e}})
		}
	}
	for e := range m.exts {
		m.rebuild(e)
		x := m.exts[e]
		if oldExt[e] != extPrint(x) {
			out = append(out, Emit{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{e}})
		}
	}
	for e := range m.trunks {
		m.rebuild(e)
		t := m.trunks[e]
		if oldTrunk[e] != fingerprint(t.Status, t.Conversations) {
			out = append(out, Emit{Name: "trunkUpdate", Data: t, Room: RoomTrunks})
		}
	}
	for n, q := range m.queues {
		if oldQueue[n] != jsonString(q) {
			out = append(out, Emit{Name: "queueUpdate", Data: q, Room: RoomQueues})
		}
	}
	for n, p := range m.parkings {
		if oldPark[n] != jsonString(p) {
			out = append(out, Emit{Name: "parkingUpdate", Data: p, Room: RoomParkings})
		}
	}
	for n := range oldPark {
		if m.parkings[n] == nil {
			out = append(out, Emit{Name: "parkingUpdate", Data: &Parking{Name: n, Parking: n}, Room: RoomParkings})
		}
	}
	return out
}

// splitVM reads an AstDB call forward: "vmu201" forwards to voice mail box
// 201, anything else to a number.
func splitVM(v string) (number, box string) {
	if b, ok := strings.CutPrefix(v, "vmu"); ok {
		return "", b
	}
	return v, ""
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
