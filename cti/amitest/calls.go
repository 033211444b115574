package amitest

import (
	"strconv"
)

// Chan is a channel in a scenario. Field names and values follow the channel
// snapshot Asterisk puts in every channel event (Asterisk 13+ AMI).
type Chan struct {
	Name     string // PJSIP/201-00000001
	Uniqueid string
	Linkedid string
	Num      string // CallerIDNum
	CIDName  string // CallerIDName
	ConnNum  string
	ConnName string
	Context  string
	Exten    string
	State    int // 0 Down, 4 Ring, 5 Ringing, 6 Up
}

var stateDesc = map[int]string{0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// snap is the channel snapshot with an optional key prefix ("Dest").
func (c *Chan) snap(prefix string) Fields {
	return M(prefix+"Channel", c.Name, prefix+"ChannelState", strconv.Itoa(c.State), prefix+"ChannelStateDesc", stateDesc[c.State],
		prefix+"CallerIDNum", orUnknown(c.Num), prefix+"CallerIDName", orUnknown(c.CIDName),
		prefix+"ConnectedLineNum", orUnknown(c.ConnNum), prefix+"ConnectedLineName", orUnknown(c.ConnName),
		prefix+"Language", "en", prefix+"AccountCode", "", prefix+"Context", c.Context, prefix+"Exten", c.Exten,
		prefix+"Priority", "1", prefix+"Uniqueid", c.Uniqueid, prefix+"Linkedid", c.Linkedid)
}

func ev(name string, parts ...Fields) Fields {
	f := M("Event", name, "Privilege", "call,all")
	for _, p := range parts {
		f = append(f, p...)
	}
	return f
}

// Script builds realistic event sequences for one PBX.
type Script struct {
	seq int
}

// NewChan makes a channel of endpoint (a new uniqueid; linkedid of link, or its own).
func (s *Script) NewChan(endpoint, num, name string, link *Chan) *Chan {
	s.seq++
	uid := "1700000000." + strconv.Itoa(s.seq)
	c := &Chan{Name: "PJSIP/" + endpoint + "-" + leftPad(strconv.FormatInt(int64(s.seq), 16)), Uniqueid: uid, Linkedid: uid,
		Num: num, CIDName: name, Context: "from-internal", Exten: "s"}
	if link != nil {
		c.Linkedid = link.Linkedid
	}
	return c
}

func leftPad(h string) string {
	for len(h) < 8 {
		h = "0" + h
	}
	return h
}

// Newchannel announces c.
func (s *Script) Newchannel(c *Chan) Fields { return ev("Newchannel", c.snap("")) }

// DeviceState is a DeviceStateChange of PJSIP/endpoint.
func DeviceState(endpoint, state string) Fields {
	return M("Event", "DeviceStateChange", "Privilege", "call,all", "Device", "PJSIP/"+endpoint, "State", state)
}

// Dial is src dialling dst: Newchannel of dst, DialBegin, and dst ringing.
func (s *Script) Dial(src, dst *Chan, dialString string) []Fields {
	dst.ConnNum, dst.ConnName = src.Num, src.CIDName
	out := []Fields{ev("Newchannel", dst.snap(""))}
	out = append(out, append(ev("DialBegin", src.snap(""), dst.snap("Dest")), [2]string{"DialString", dialString}))
	dst.State = 5
	out = append(out, ev("Newstate", dst.snap("")))
	return out
}

// Answer is dst answering src's dial, and both joining bridge.
func (s *Script) Answer(src, dst *Chan, bridge string) []Fields {
	dst.State, src.State = 6, 6
	src.ConnNum, src.ConnName = dst.Num, dst.CIDName
	return []Fields{
		ev("Newstate", dst.snap("")),
		append(ev("DialEnd", src.snap(""), dst.snap("Dest")), [2]string{"DialStatus", "ANSWER"}),
		ev("NewConnectedLine", src.snap("")),
	}
}

// Enter is c entering a bridge with n channels after it.
func Enter(c *Chan, bridge, typ string, n int) Fields {
	tech := "simple_bridge"
	if typ == "parking" {
		tech = "holding_bridge"
	}
	return ev("BridgeEnter", M("BridgeUniqueid", bridge, "BridgeType", typ, "BridgeTechnology", tech, "BridgeCreator", "<unknown>",
		"BridgeName", "<unknown>", "BridgeNumChannels", strconv.Itoa(n), "BridgeVideoSourceMode", "none"), c.snap(""))
}

// Leave is c leaving a bridge.
func Leave(c *Chan, bridge, typ string, n int) Fields {
	return ev("BridgeLeave", M("BridgeUniqueid", bridge, "BridgeType", typ, "BridgeTechnology", "simple_bridge",
		"BridgeCreator", "<unknown>", "BridgeName", "<unknown>", "BridgeNumChannels", strconv.Itoa(n)), c.snap(""))
}

// Hangup is c hanging up with a Q.850 cause (16 normal clearing, 17 busy, 19 no answer).
func Hangup(c *Chan, cause int, txt string) Fields {
	return append(ev("Hangup", c.snap("")), [2]string{"Cause", strconv.Itoa(cause)}, [2]string{"Cause-txt", txt})
}
