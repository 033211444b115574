package cti

import (
	"strings"
	"sync"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
)

// pbxSim makes the AMI double react to the CTI's actions the way Asterisk
// does (the event sequences of internal/asterisktest's observations), so
// that clients driving the CTI over REST see the events a real PBX causes:
// Originate rings the device and connects it to the number, Hangup ends
// both legs, BlindTransfer moves the other party, QueueAdd/QueuePause change
// the member, Park parks the other party and dialling the space picks it up.
type pbxSim struct {
	mu     sync.Mutex
	sc     Script
	chans  map[string]*Chan // by name
	peer   map[string]string
	bridge map[string]string
	n      int
	names  map[string]string // extension -> caller id name
	parked map[string]string // space -> channel
}

func newPBXSim(names map[string]string) *pbxSim {
	return &pbxSim{chans: map[string]*Chan{}, peer: map[string]string{}, bridge: map[string]string{}, names: names, parked: map[string]string{}}
}

func (p *pbxSim) newChan(ext string, link *Chan) *Chan {
	c := p.sc.NewChan(ext, ext, p.names[ext], link)
	p.chans[c.Name] = c
	return c
}

func endpoint(ch string) string {
	_, rest, _ := strings.Cut(ch, "/")
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		rest = rest[:i]
	}
	return rest
}

// connectCall is a answering b's call: both in a new bridge.
func (p *pbxSim) connectCall(a, b *Chan) []Fields {
	p.n++
	br := "sim-b" + itoa(p.n)
	var out []Fields
	out = append(out, p.sc.Dial(a, b, "PJSIP/"+endpoint(b.Name))...)
	out = append(out, DeviceState(endpoint(b.Name), "RINGING"))
	out = append(out, p.sc.Answer(a, b, br)...)
	out = append(out, Enter(a, br, "basic", 1), Enter(b, br, "basic", 2),
		DeviceState(endpoint(a.Name), "INUSE"), DeviceState(endpoint(b.Name), "INUSE"))
	p.peer[a.Name], p.peer[b.Name] = b.Name, a.Name
	p.bridge[a.Name], p.bridge[b.Name] = br, br
	return out
}

func (p *pbxSim) hangupChan(c *Chan) []Fields {
	delete(p.chans, c.Name)
	var out []Fields
	if br := p.bridge[c.Name]; br != "" {
		out = append(out, Leave(c, br, "basic", 0))
	}
	delete(p.bridge, c.Name)
	delete(p.peer, c.Name)
	return append(out, Hangup(c, 16, "Normal Clearing"), DeviceState(endpoint(c.Name), "NOT_INUSE"))
}

// phoneDials is the desk phone of ext calling num by itself (its own HTTP
// interface was told to).
func (p *pbxSim) phoneDials(ext, num string) []Fields {
	return p.react(M("Action", "Originate", "Channel", "PJSIP/"+ext, "Exten", num, "Context", "from-internal"))
}

func (p *pbxSim) react(a Fields) []Fields {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch a.Get("Action") {
	case "Originate":
		dev := endpoint(a.Get("Channel"))
		own := p.newChan(dev, nil)
		own.Uniqueid, own.Linkedid = firstNonEmpty(a.Get("ChannelId"), own.Uniqueid), firstNonEmpty(a.Get("ChannelId"), own.Linkedid)
		out := []Fields{p.sc.Newchannel(own), DeviceState(dev, "RINGING")}
		own.State = 6
		out = append(out, DeviceState(dev, "INUSE"))
		ok := M("Event", "OriginateResponse", "ActionID", a.Get("ActionID"), "Response", "Success", "Channel", own.Name,
			"Context", a.Get("Context"), "Exten", a.Get("Exten"), "Reason", "4", "Uniqueid", own.Uniqueid,
			"CallerIDNum", dev, "CallerIDName", p.names[dev])
		num := a.Get("Exten")
		if ch, parked := p.parked[num]; parked {
			// Dialling a parking space picks the parked call up.
			c := p.chans[ch]
			delete(p.parked, num)
			out = append(out, ok, M("Event", "UnParkedCall", "ParkeeChannel", ch, "RetrieverChannel", own.Name,
				"ParkingSpace", num, "Parkinglot", "default"), Leave(c, "park-default", "parking", 0))
			p.n++
			br := "sim-b" + itoa(p.n)
			out = append(out, Enter(own, br, "basic", 1), Enter(c, br, "basic", 2))
			p.peer[own.Name], p.peer[c.Name] = c.Name, own.Name
			p.bridge[own.Name], p.bridge[c.Name] = br, br
			return out
		}
		dst := p.newChan(num, own)
		return append(append(out, ok), p.connectCall(own, dst)...)
	case "Hangup":
		c := p.chans[a.Get("Channel")]
		if c == nil {
			return nil
		}
		out := p.hangupChan(c)
		if pc := p.chans[p.peer[c.Name]]; pc != nil {
			out = append(out, p.hangupChan(pc)...)
		}
		return out
	case "BlindTransfer":
		own := p.chans[a.Get("Channel")]
		if own == nil {
			return nil
		}
		other := p.chans[p.peer[own.Name]]
		out := []Fields{M("Event", "BlindTransfer", "Result", "Success", "TransfererChannel", own.Name, "TransfereeChannel", other.Name,
			"Extension", a.Get("Exten"), "Context", a.Get("Context"), "IsExternal", "Yes")}
		br := p.bridge[other.Name]
		out = append(out, Leave(other, br, "basic", 1))
		delete(p.bridge, other.Name)
		out = append(out, p.hangupChan(own)...)
		target := p.newChan(a.Get("Exten"), other)
		return append(out, p.connectCall(other, target)...)
	case "Park":
		c := p.chans[a.Get("Channel")]
		own := p.chans[a.Get("TimeoutChannel")]
		if c == nil {
			return nil
		}
		space := "701"
		p.parked[space] = c.Name
		out := []Fields{M("Event", "ParkedCall", "ParkeeChannel", c.Name, "ParkeeCallerIDNum", c.Num, "ParkeeCallerIDName", c.CIDName,
			"ParkeeUniqueid", c.Uniqueid, "ParkerDialString", "PJSIP/"+endpoint(a.Get("TimeoutChannel")), "Parkinglot", "default",
			"ParkingSpace", space, "ParkingTimeout", "45", "ParkingDuration", "0")}
		if br := p.bridge[c.Name]; br != "" {
			out = append(out, Leave(c, br, "basic", 1))
		}
		delete(p.bridge, c.Name)
		out = append(out, Enter(c, "park-default", "parking", 1))
		if own != nil {
			out = append(out, p.hangupChan(own)...)
		}
		return out
	case "QueueAdd":
		iface := a.Get("Interface")
		return []Fields{M("Event", "QueueMemberAdded", "Queue", a.Get("Queue"), "MemberName", firstNonEmpty(a.Get("MemberName"), iface),
			"Interface", iface, "StateInterface", iface, "Membership", "dynamic", "Penalty", "0", "CallsTaken", "0", "LastCall", "0",
			"LastPause", "0", "InCall", "0", "Status", "1", "Paused", "0", "PausedReason", "")}
	case "QueuePause":
		iface := a.Get("Interface")
		paused := "0"
		if a.Get("Paused") == "true" {
			paused = "1"
		}
		return []Fields{M("Event", "QueueMemberPause", "Queue", a.Get("Queue"), "MemberName", iface, "Interface", iface,
			"StateInterface", iface, "Membership", "dynamic", "Penalty", "0", "CallsTaken", "0", "LastCall", "0", "LastPause", "0",
			"InCall", "0", "Status", "1", "Paused", paused, "PausedReason", a.Get("Reason"))}
	}
	return nil
}
