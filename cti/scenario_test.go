package cti

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/cti/siotest"
)

type extEv struct {
	Exten         string                         `json:"exten"`
	Status        string                         `json:"status"`
	Conversations map[string]*model.Conversation `json:"conversations"`
}

func conv(x extEv, id string) *model.Conversation { return x.Conversations[id] }

func emitAll(s *Server, seqs ...[]Fields) {
	for _, q := range seqs {
		s.EmitAll(q...)
	}
}

func one(f ...Fields) []Fields { return f }

// noEventsAbout proves a socket got nothing about the given extensions: it waits
// for a fresh marker event and checks everything before it.
func noEventsAbout(t *testing.T, e *env, c *siotest.Client, marker string, exts ...string) {
	t.Helper()
	e.ami.Emit(DeviceState(marker, "UNAVAILABLE"))
	for {
		x := expect(t, c, "extenUpdate", func(extEv) bool { return true })
		if x.Exten == marker {
			break
		}
		for _, bad := range exts {
			if x.Exten == bad {
				t.Fatalf("socket got an update of %s it has no permission for", bad)
			}
		}
	}
	e.ami.Emit(DeviceState(marker, "NOT_INUSE"))
	expect(t, c, "extenUpdate", func(x extEv) bool { return x.Exten == marker })
}

func TestInternalCall(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob, carol := e.socket("alice"), e.socket("bob"), e.socket("carol")
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	a.State, a.Exten = 4, "202"
	b := sc.NewChan("202", "202", "Bob", a)
	id := a.Name + ">" + b.Name

	emitAll(e.ami, one(sc.Newchannel(a), DeviceState("201", "INUSE")), sc.Dial(a, b, "PJSIP/202"), one(DeviceState("202", "RINGING")))
	r := expect(t, bob, "extenRinging", func(x extEv) bool { return x.Exten == "202" && conv(x, id) != nil })
	if c := conv(r, id); c.Direction != "in" || c.CounterpartNum != "201" || c.CounterpartName != "Alice" || c.Connected {
		t.Fatalf("ringing conversation: %+v", c)
	}
	out := expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "201" && conv(x, id) != nil })
	if c := conv(out, id); c.Direction != "out" || c.CounterpartNum != "202" {
		t.Fatalf("caller's conversation: %+v", c)
	}
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && x.Status == "ringing" })

	emitAll(e.ami, sc.Answer(a, b, "b1"), one(DeviceState("202", "INUSE"), Enter(a, "b1", "basic", 1), Enter(b, "b1", "basic", 2)))
	cn := connected(t, bob, "202", func(x extEv) bool { return conv(x, id) != nil })
	if c := conv(cn, id); c == nil || !c.Connected {
		t.Fatalf("connected: %+v", cn)
	}
	if x := e.extOf("201"); x.Status != "busy" || !x.Conversations[id].Connected {
		t.Fatalf("model 201: %+v", x)
	}

	emitAll(e.ami, one(Leave(b, "b1", "basic", 1), Hangup(b, 16, "Normal Clearing"), Leave(a, "b1", "basic", 0), Hangup(a, 16, "Normal Clearing"),
		DeviceState("201", "NOT_INUSE"), DeviceState("202", "NOT_INUSE")))
	h := expect(t, bob, "extenHangup", func(m map[string]string) bool { return true })
	if h["cause"] != "normal_clearing" || h["callerNum"] != "202" || h["channelExten"] != "202" || h["calledNum"] != "201" {
		t.Fatalf("extenHangup: %v", h)
	}
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "201" && x.Status == "online" && len(x.Conversations) == 0 })
	eventually(t, "202 idle", func() bool { x := e.extOf("202"); return x.Status == "online" && len(x.Conversations) == 0 })
	// Carol has no presence panel: she heard nothing of this call.
	noEventsAbout(t, e, carol, "203", "201", "202")
}

func TestBusyHangup(t *testing.T) {
	e := newEnv(t, nil)
	dave := e.socket("dave")
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	d := sc.NewChan("204", "204", "Dave", a)
	emitAll(e.ami, one(sc.Newchannel(a)), sc.Dial(a, d, "PJSIP/204"))
	expect(t, dave, "extenRinging", func(x extEv) bool { return x.Exten == "204" })
	e.ami.EmitAll(Hangup(d, 17, "User busy"), Hangup(a, 17, "User busy"))
	h := expect(t, dave, "extenHangup", func(m map[string]string) bool { return true })
	// callerNum is the hung-up channel's own number, channelExten its extension.
	if h["cause"] != "user_busy" || h["callerNum"] != "204" || h["channelExten"] != "204" || h["calledNum"] != "201" {
		t.Fatalf("extenHangup: %v", h)
	}
}

func TestInboundTrunkQueue(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.socket("alice"), e.socket("bob")
	var sc Script
	tr := sc.NewChan("provider1", "0612345678", "", nil)
	tr.State, tr.Context, tr.Exten = 6, "from-trunk", "401"
	e.ami.Emit(sc.Newchannel(tr))
	e.ami.Emit(append(ev2("QueueCallerJoin", tr), [2]string{"Queue", "401"}, [2]string{"Position", "1"}, [2]string{"Count", "1"}))
	q := expect(t, alice, "queueUpdate", func(q model.Queue) bool { return q.Queue == "401" && len(q.WaitingCallers) == 1 })
	if w := q.WaitingCallers[tr.Name]; w == nil || w.Num != "0612345678" || w.Position != 1 {
		t.Fatalf("waiting caller: %+v", q.WaitingCallers)
	}
	expect(t, alice, "trunkUpdate", func(x model.Trunk) bool { return x.Exten == "provider1" && len(x.Conversations) == 1 })

	b := sc.NewChan("202", "202", "Bob", tr)
	emitAll(e.ami, sc.Dial(tr, b, "PJSIP/202"), sc.Answer(tr, b, "b2"),
		one(append(ev2("QueueCallerLeave", tr), [2]string{"Queue", "401"}, [2]string{"Count", "0"}),
			Enter(tr, "b2", "basic", 1), Enter(b, "b2", "basic", 2)))
	id := tr.Name + ">" + b.Name
	cn := connected(t, bob, "202", func(x extEv) bool { return conv(x, id) != nil && conv(x, id).Connected })
	if c := conv(cn, id); !c.ThroughQueue || !c.ThroughTrunk || c.CounterpartNum != "0612345678" || c.Direction != "in" {
		t.Fatalf("queue call conversation: %+v", c)
	}
	expect(t, alice, "queueUpdate", func(q model.Queue) bool { return q.Queue == "401" && len(q.WaitingCallers) == 0 })

	// Bob pauses in the queue: the member event reaches him and the queue room.
	e.ami.Emit(M("Event", "QueueMemberPause", "Queue", "401", "MemberName", "Bob", "Interface", "PJSIP/202", "StateInterface", "PJSIP/202",
		"Membership", "dynamic", "Penalty", "0", "CallsTaken", "1", "LastCall", "0", "InCall", "1", "Status", "2", "Paused", "1", "PausedReason", "lunch"))
	m := expect(t, bob, "queueMemberUpdate", func(m model.QueueMember) bool { return true })
	if m.Member != "202" || !m.Paused || m.LastPausedInReason != "lunch" || m.CallsTaken != 1 {
		t.Fatalf("member: %+v", m)
	}
	expect(t, alice, "queueMemberUpdate", func(m model.QueueMember) bool { return m.Member == "202" })

	e.ami.EmitAll(M("Event", "AgentComplete", "Queue", "401", "Channel", tr.Name, "Reason", "caller"), Hangup(tr, 16, "Normal Clearing"), Hangup(b, 16, "Normal Clearing"))
	qq := expect(t, alice, "queueUpdate", func(q model.Queue) bool { return q.Completed == 1 })
	if qq.Members["202"] == nil || qq.Members["202"].Interface != "PJSIP/202" {
		t.Fatalf("member missing: %+v", qq)
	}
	expect(t, alice, "trunkUpdate", func(x model.Trunk) bool { return len(x.Conversations) == 0 })
}

// ev2 is an event carrying a channel snapshot.
func ev2(name string, c *Chan) Fields {
	f := M("Event", name, "Privilege", "call,all", "Channel", c.Name, "Uniqueid", c.Uniqueid, "Linkedid", c.Linkedid,
		"CallerIDNum", c.Num, "CallerIDName", orUnknownT(c.CIDName))
	return f
}

func orUnknownT(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

func connect(e *env, sc *Script, from, to *Chan, bridge string) {
	emitAll(e.ami, one(sc.Newchannel(from)), sc.Dial(from, to, "PJSIP/x"), sc.Answer(from, to, bridge),
		one(Enter(from, bridge, "basic", 1), Enter(to, bridge, "basic", 2)))
}

func TestBlindTransfer(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob, carol := e.socket("alice"), e.socket("bob"), e.socket("carol")
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	b := sc.NewChan("202", "202", "Bob", a)
	connect(e, &sc, a, b, "b3")
	connected(t, bob, "202", func(extEv) bool { return true })

	// Bob sends Alice to 203: Asterisk raises BlindTransfer, Bob's leg ends, and
	// Alice's channel dials 203 from the dialplan.
	c := sc.NewChan("203", "203", "Carol", a)
	e.ami.EmitAll(M("Event", "BlindTransfer", "Result", "Success", "TransfererChannel", b.Name, "TransfereeChannel", a.Name,
		"IsExternal", "No", "Context", "from-internal", "Extension", "203", "BridgeUniqueid", "b3"),
		Leave(b, "b3", "basic", 1), Hangup(b, 16, "Normal Clearing"), Leave(a, "b3", "basic", 0))
	emitAll(e.ami, sc.Dial(a, c, "PJSIP/203"), sc.Answer(a, c, "b4"), one(Enter(a, "b4", "basic", 1), Enter(c, "b4", "basic", 2)))
	id := a.Name + ">" + c.Name
	cn := connected(t, carol, "203", func(x extEv) bool { return conv(x, id) != nil && conv(x, id).Connected })
	if cv := conv(cn, id); !cv.Connected || cv.CounterpartNum != "201" || cv.Direction != "in" {
		t.Fatalf("carol: %+v", cv)
	}
	expect(t, bob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && len(x.Conversations) == 0 })
	expect(t, alice, "extenUpdate", func(x extEv) bool {
		return x.Exten == "201" && len(x.Conversations) == 1 && conv(x, id) != nil && conv(x, id).CounterpartNum == "203"
	})
}

func TestAttendedTransfer(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob, carol := e.socket("alice"), e.socket("bob"), e.socket("carol")
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	b := sc.NewChan("202", "202", "Bob", a)
	connect(e, &sc, a, b, "b5")
	connected(t, bob, "202", func(extEv) bool { return true })
	// Alice holds Bob and consults Carol on a second channel.
	e.ami.Emit(append(ev2("Hold", a), [2]string{"MusicClass", "default"}))
	a2 := sc.NewChan("201", "201", "Alice", nil)
	c := sc.NewChan("203", "203", "Carol", a2)
	connect(e, &sc, a2, c, "b6")
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "201" && len(x.Conversations) == 2 })
	// Alice completes the transfer: Bob is moved into Carol's bridge, Alice's legs end.
	e.ami.EmitAll(M("Event", "AttendedTransfer", "Result", "Success", "OrigTransfererChannel", a.Name, "SecondTransfererChannel", a2.Name,
		"DestType", "Bridge", "DestBridgeUniqueid", "b6"),
		Leave(b, "b5", "basic", 1), Enter(b, "b6", "basic", 3), Leave(a2, "b6", "basic", 2), Hangup(a2, 16, "Normal Clearing"),
		Leave(a, "b5", "basic", 0), Hangup(a, 16, "Normal Clearing"))
	id := b.Name + ">" + c.Name
	cu := expect(t, carol, "extenUpdate", func(x extEv) bool { return x.Exten == "203" && conv(x, id) != nil && len(x.Conversations) == 1 })
	if cv := conv(cu, id); !cv.Connected || cv.CounterpartNum != "202" || cv.Direction != "in" {
		t.Fatalf("carol after transfer: %+v", cv)
	}
	bu := expect(t, bob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && conv(x, id) != nil })
	if cv := conv(bu, id); !cv.Connected || cv.CounterpartNum != "203" || cv.Direction != "out" {
		t.Fatalf("bob after transfer: %+v", cv)
	}
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "201" && len(x.Conversations) == 0 })
}

func TestParkAndPickup(t *testing.T) {
	e := newEnv(t, nil)
	alice, carol := e.socket("alice"), e.socket("carol")
	var sc Script
	tr := sc.NewChan("provider1", "0698765432", "ACME", nil)
	a := sc.NewChan("201", "201", "Alice", tr)
	connect(e, &sc, tr, a, "b7")
	connected(t, alice, "201", func(extEv) bool { return true })

	e.ami.EmitAll(M("Event", "ParkedCall", "ParkeeChannel", tr.Name, "ParkeeCallerIDNum", "0698765432", "ParkeeCallerIDName", "ACME",
		"ParkeeUniqueid", tr.Uniqueid, "ParkerDialString", "PJSIP/201", "ParkingLot", "default", "ParkingSpace", "71",
		"ParkingTimeout", "45", "ParkingDuration", "0"),
		Leave(tr, "b7", "basic", 1), Enter(tr, "park-default", "parking", 1), Leave(a, "b7", "basic", 0), Hangup(a, 16, "Normal Clearing"))
	p := expect(t, alice, "parkingUpdate", func(p model.Parking) bool { return p.Parking == "71" })
	if pc := p.ParkedCaller; pc == nil || pc.Num != "0698765432" || pc.Channel != tr.Name || pc.Timeout != 45 || pc.Parking != "71" || pc.ParkeeNum != "201" {
		t.Fatalf("parking: %+v", p)
	}
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "201" && len(x.Conversations) == 0 })

	// Carol picks it up by dialling 71.
	c := sc.NewChan("203", "203", "Carol", nil)
	c.Exten = "71"
	e.ami.EmitAll(sc.Newchannel(c), M("Event", "UnParkedCall", "ParkeeChannel", tr.Name, "RetrieverChannel", c.Name, "ParkingSpace", "71",
		"ParkingLot", "default"), Leave(tr, "park-default", "parking", 0), Enter(c, "b8", "basic", 1), Enter(tr, "b8", "basic", 2))
	p = expect(t, alice, "parkingUpdate", func(p model.Parking) bool { return p.Parking == "71" })
	if p.ParkedCaller != nil && p.ParkedCaller.Channel != "" {
		t.Fatalf("parking still busy: %+v", p)
	}
	cn := connected(t, carol, "203", func(extEv) bool { return true })
	var cv *model.Conversation
	for _, v := range cn.Conversations {
		cv = v
	}
	if cv == nil || !cv.Connected || !cv.ThroughTrunk || cv.CounterpartNum != "0698765432" || cv.ID != tr.Name+">"+c.Name {
		t.Fatalf("pickup conversation: %+v", cv)
	}
}

func TestAMIConnectionLossAndReturn(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.socket("bob")
	tok := e.login("bob", "bob-password")
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	b := sc.NewChan("202", "202", "Bob", a)
	connect(e, &sc, a, b, "b9")
	e.ami.Emit(DeviceState("202", "INUSE"))
	expect(t, bob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && x.Status == "busy" && len(x.Conversations) == 1 })
	logins := e.ami.Logins()

	// Asterisk goes away; while it is gone the call ends.
	e.ami.SetDown(true)
	eventually(t, "AMI down", func() bool { e.svc.mu.Lock(); defer e.svc.mu.Unlock(); return !e.svc.amiUp })
	code, body := e.do("POST", "/webrest/astproxy/hangup", "bob", tok, `{"convid":"`+a.Name+">"+b.Name+`","endpointId":"202"}`)
	if code != 503 {
		t.Fatalf("call op while AMI is down: %d %s", code, body)
	}
	e.ami.EmitAll(Hangup(a, 16, "Normal Clearing"), Hangup(b, 16, "Normal Clearing"), DeviceState("202", "NOT_INUSE"))

	e.drainResync()
	// It returns: the client reconnects, logs in again, re-syncs, and the socket
	// hears that the call is over without any refresh.
	e.ami.SetDown(false)
	e.waitResync()
	if e.ami.Logins() <= logins {
		t.Fatal("no new AMI login")
	}
	expect(t, bob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && x.Status == "online" && len(x.Conversations) == 0 })
	// FullyBooted (Asterisk restarted or reloaded) forces a re-sync too, but
	// not the one that greets each new session (the connect re-sync covers it).
	e.drainResync()
	e.advance(2100 * time.Millisecond)
	e.ami.Emit(M("Event", "FullyBooted", "Privilege", "system,all", "Status", "Fully Booted"))
	e.waitResync()
	// And incremental updates flow again.
	e.ami.Emit(DeviceState("202", "UNAVAILABLE"))
	expect(t, bob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && x.Status == "offline" })
}

// A re-sync picks up calls already in progress (CoreShowChannels) and their pairing.
func TestResyncReadsLiveCalls(t *testing.T) {
	e := newEnv(t, nil)
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	b := sc.NewChan("202", "202", "Bob", a)
	connect(e, &sc, a, b, "b10")
	e.ami.Emit(DeviceState("201", "INUSE"))
	eventually(t, "call seen", func() bool { return len(e.extOf("201").Conversations) == 1 })
	// A fresh service knows nothing and must learn the call from the lists.
	e.svc.mu.Lock()
	e.svc.model = model.New(nil, time.Now)
	e.svc.mu.Unlock()
	if err := e.svc.resyncAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	x := e.extOf("201")
	id := a.Name + ">" + b.Name
	if cv := x.Conversations[id]; cv == nil || !cv.Connected || cv.Direction != "out" || x.Status != "busy" {
		t.Fatalf("after re-sync: %+v", x)
	}
	if !strings.HasPrefix(id, "PJSIP/201-") {
		t.Fatal(id)
	}
	_ = time.Second
}

// Queues in FreePBX/NethVoice dial members through Local channels: the member's
// conversation must still show the outside caller, the queue and the trunk.
func TestQueueThroughLocalChannels(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.socket("bob")
	var sc Script
	tr := sc.NewChan("provider1", "0612345678", "ACME", nil)
	tr.State, tr.Context, tr.Exten = 6, "from-trunk", "401"
	e.ami.Emit(sc.Newchannel(tr))
	e.ami.Emit(append(ev2("QueueCallerJoin", tr), [2]string{"Queue", "401"}, [2]string{"Position", "1"}, [2]string{"Count", "1"}))
	l1 := &Chan{Name: "Local/202@from-queue-00000001;1", Uniqueid: "1700000000.90", Linkedid: tr.Linkedid, Num: "0612345678", CIDName: "ACME", Context: "from-queue", Exten: "202"}
	l2 := &Chan{Name: "Local/202@from-queue-00000001;2", Uniqueid: "1700000000.91", Linkedid: tr.Linkedid, Num: "0612345678", CIDName: "ACME", Context: "from-queue", Exten: "202"}
	b := sc.NewChan("202", "202", "Bob", tr)
	emitAll(e.ami, sc.Dial(tr, l1, "Local/202@from-queue"), one(sc.Newchannel(l2)), sc.Dial(l2, b, "PJSIP/202"))
	id := l2.Name + ">" + b.Name
	r := expect(t, bob, "extenRinging", func(x extEv) bool { return conv(x, id) != nil })
	if c := conv(r, id); c.CounterpartNum != "0612345678" || !c.ThroughTrunk || !c.ThroughQueue || c.Direction != "in" {
		t.Fatalf("ringing via Local: %+v", c)
	}
	emitAll(e.ami, sc.Answer(l2, b, "bq1"), sc.Answer(tr, l1, "bq2"),
		one(Enter(l2, "bq1", "basic", 1), Enter(b, "bq1", "basic", 2), Enter(tr, "bq2", "basic", 1), Enter(l1, "bq2", "basic", 2)))
	cn := connected(t, bob, "202", func(x extEv) bool { return conv(x, id) != nil && conv(x, id).Connected })
	if c := conv(cn, id); c.CounterpartName != "ACME" || !c.ThroughTrunk {
		t.Fatalf("connected via Local: %+v", c)
	}
}

// DND and call forward set on the phone while we were disconnected are read
// from AstDB on the re-sync.
func TestResyncReadsAstDB(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.socket("alice")
	e.ami.SetDB("DND", "203", "YES")
	e.ami.SetDB("CF", "204", "0611")
	e.ami.Drop()
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "203" && x.Status == "dnd" })
	eventually(t, "cf of 204", func() bool { return e.extOf("204").CF == "0611" })
	e.ami.SetDB("DND", "203", "")
	if err := e.svc.resyncAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if x := e.extOf("203"); x.DND || x.Status != "online" {
		t.Fatalf("DND cleared on the phone: %+v", x)
	}
}

// Click-to-call from a desk phone: the API originates, Asterisk rings the
// caller's phone, then dials the number; the caller's socket follows it.
func TestClickToCallOriginateFlow(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.socket("bob")
	var sc Script
	e.ami.OnAction(func(a Fields) []Fields {
		if a.Get("Action") != "Originate" {
			return nil
		}
		own := sc.NewChan("202", "202", "Bob", nil)
		own.Uniqueid, own.Linkedid = a.Get("ChannelId"), a.Get("ChannelId")
		own.Exten, own.ConnNum = a.Get("Exten"), a.Get("Exten")
		dst := sc.NewChan("203", "203", "Carol", own)
		out := []Fields{sc.Newchannel(own), DeviceState("202", "RINGING")}
		own.State = 6
		out = append(out, DeviceState("202", "INUSE"))
		out = append(out, sc.Dial(own, dst, "PJSIP/203")...)
		return append(out, M("Event", "OriginateResponse", "ActionID", a.Get("ActionID"), "Response", "Success",
			"Channel", own.Name, "Context", a.Get("Context"), "Exten", a.Get("Exten"), "Reason", "4", "Uniqueid", own.Uniqueid,
			"CallerIDNum", "202", "CallerIDName", "Bob"))
	})
	tok := e.login("bob", "bob-password")
	code, body := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"callto:203"}`)
	var res map[string]string
	if code != 200 || json.Unmarshal(body, &res) != nil || res["uniqueid"] == "" {
		t.Fatalf("call: %d %s", code, body)
	}
	a := e.ami.Actions()[0]
	if a.Get("Channel") != "PJSIP/202" || a.Get("Exten") != "203" || a.Get("Context") != "from-internal" || a.Get("Async") != "true" || a.Get("ChannelId") != res["uniqueid"] {
		t.Fatalf("originate: %v", a)
	}
	x := expect(t, bob, "extenUpdate", func(x extEv) bool {
		for _, c := range x.Conversations {
			if c.Direction == "out" && c.CounterpartNum == "203" && c.ChDest != nil && strings.HasPrefix(c.ChDest.Channel, "PJSIP/203-") {
				return true
			}
		}
		return false
	})
	if x.Exten != "202" || x.Status != "busy" {
		t.Fatalf("caller: %+v", x)
	}
}
