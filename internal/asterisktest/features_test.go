package asterisktest

import (
	"strings"
	"testing"
	"time"
)

// talking sets up a call from a new phone A to a new phone B, answered, and
// returns both phones, both calls and both channels.
type talk struct {
	A, B     *Phone
	AC, BC   *Call  // A's outgoing call, B's incoming one
	ChA, ChB string // Asterisk's channels of A and B
	EA, EB   Extension
	LinkedID string
}

func setupTalk(t *testing.T, p *PBX, a *AMI, bopts PhoneOptions) *talk {
	t.Helper()
	k := &talk{EA: p.FreeExt(t), EB: p.FreeExt(t)}
	k.B = p.Register(t, k.EB.Number, bopts)
	k.A = p.Register(t, k.EA.Number, PhoneOptions{})
	k.AC = k.A.Dial(t, k.EB.Number, CallOptions{})
	k.BC = k.B.WaitCall(t, wait)
	k.AC.WaitAnswered(t, wait)
	k.ChA = a.LiveChannel(t, wait, k.EA.Number)
	k.ChB = a.LiveChannel(t, wait, k.EB.Number)
	k.LinkedID = a.Wait(t, wait, Match("Event", "Newchannel", "Channel", k.ChA)).Get("Linkedid")
	a.Wait(t, wait, Match("Event", "BridgeEnter", "Channel", k.ChB))
	return k
}

// BlindTransfer's Channel is the transferrer's own channel: B transfers A to
// C; A talks to C, B is hung up; the CDRs of the call share A's linkedid.
func TestBlindTransfer(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	k := setupTalk(t, p, a, PhoneOptions{})
	ec := p.FreeExt(t)
	pc := p.Register(t, ec.Number, PhoneOptions{AnswerAfter: 200 * time.Millisecond, HangupAfter: time.Second})

	a.MustAction(t, "BlindTransfer", "Channel", k.ChB, "Exten", ec.Number, "Context", "from-internal")
	if how := k.BC.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("transferrer B: %s, want bye-received", how)
	}
	cc := pc.WaitCall(t, wait)
	if how := cc.WaitEnded(t, wait); how != "bye-sent" {
		t.Errorf("target C: %s", how)
	}
	// A was talking to C: C's BYE reaches A.
	if how := k.AC.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("transferee A: %s, want bye-received (C hung up on it)", how)
	}
	bt := a.Wait(t, wait, Match("Event", "BlindTransfer", "TransfererChannel", k.ChB))
	if bt.Get("Result") != "Success" || bt.Get("TransfereeChannel") != k.ChA || bt.Get("Extension") != ec.Number {
		t.Errorf("BlindTransfer event:\n%s", bt)
	}
	cdrs := a.WaitN(t, wait, 2, Match("Event", "Cdr", "LinkedID", k.LinkedID))
	var legs []string
	for _, c := range cdrs {
		legs = append(legs, c.Get("UniqueID")+"/"+c.Get("Sequence")+" "+c.Get("Channel")+"->"+c.Get("DestinationChannel")+" "+c.Get("Disposition")+" bill="+c.Get("BillableSeconds"))
	}
	t.Logf("CDR legs of the blind transfer:\n%s", strings.Join(legs, "\n"))
	if len(cdrs) < 2 || cdrs[0].Get("UniqueID") != cdrs[1].Get("UniqueID") || cdrs[0].Get("Sequence") == cdrs[1].Get("Sequence") {
		t.Errorf("want two legs with A's UniqueID and different Sequence: %v", legs)
	}
	logEvents(t, a, []string{k.LinkedID, k.ChB}, "BlindTransfer", "Cdr")
}

// AMI Atxfer (the transferrer's channel, the target's number; the number
// also in TRANSFER_EXTEN) then the transferrer's hangup completes an
// attended transfer.
func TestAttendedTransfer(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	k := setupTalk(t, p, a, PhoneOptions{})
	ec := p.FreeExt(t)
	pc := p.Register(t, ec.Number, PhoneOptions{AnswerAfter: 200 * time.Millisecond})

	// Atxfer queues the feature code and the number as DTMF; the number's
	// digits race with the "pbx-transfer" prompt and can be lost (seen 1 run
	// in 5 with Debian's prompts). TRANSFER_EXTEN on the transferrer's
	// channel makes Asterisk take the number from it instead.
	a.MustAction(t, "Setvar", "Channel", k.ChB, "Variable", "TRANSFER_EXTEN", "Value", ec.Number)
	a.MustAction(t, "Atxfer", "Channel", k.ChB, "Exten", ec.Number, "Context", "from-internal")
	cc := pc.WaitCall(t, wait)
	cc.WaitMessage(t, wait, "answer", func(m SIPMessage) bool { return !m.Received && m.Status() == 200 })
	a.Wait(t, wait, Match("Event", "MusicOnHoldStart", "Channel", k.ChA))
	// The consultation is up: B hangs up to complete the transfer.
	a.Wait(t, wait, func(m Msg) bool {
		return m.Get("Event") == "BridgeEnter" && strings.HasPrefix(m.Get("Channel"), "PJSIP/"+ec.Number+"-")
	})
	k.BC.Hangup(t)
	at := a.Wait(t, wait, Match("Event", "AttendedTransfer", "OrigTransfererChannel", k.ChB))
	if at.Get("Result") != "Success" {
		t.Errorf("AttendedTransfer:\n%s", at)
	}
	// A now talks to C: A hangs up and C gets the BYE.
	k.AC.Hangup(t)
	if how := cc.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("target C: %s, want bye-received from A's hangup", how)
	}
	a.WaitN(t, wait, 2, Match("Event", "Cdr", "LinkedID", k.LinkedID))
	logEvents(t, a, []string{k.LinkedID, k.ChB}, "AttendedTransfer", "MusicOnHoldStart", "MusicOnHoldStop", "Cdr", "Hold", "Unhold")
}

// Park with AMI Park (Channel: the parkee, TimeoutChannel: the parker), then
// another phone picks the call up by dialling the slot.
func TestParkAndPickup(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	k := setupTalk(t, p, a, PhoneOptions{})
	a.MustAction(t, "Park", "Channel", k.ChA, "TimeoutChannel", k.ChB)
	parked := a.Wait(t, wait, Match("Event", "ParkedCall", "ParkeeChannel", k.ChA))
	slot := parked.Get("ParkingSpace")
	if slot < "701" || slot > "720" || parked.Get("ParkingLot") != "default" {
		t.Errorf("ParkedCall:\n%s", parked)
	}
	// The parker's call ends: Asterisk hangs it up.
	if how := k.BC.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("parker B: %s, want bye-received", how)
	}
	ec := p.FreeExt(t)
	pc := p.Register(t, ec.Number, PhoneOptions{})
	cc := pc.Dial(t, slot, CallOptions{HangupAfter: time.Second})
	cc.WaitAnswered(t, wait)
	un := a.Wait(t, wait, Match("Event", "UnParkedCall", "ParkeeChannel", k.ChA))
	if !strings.HasPrefix(un.Get("RetrieverChannel"), "PJSIP/"+ec.Number+"-") {
		t.Errorf("UnParkedCall:\n%s", un)
	}
	if how := k.AC.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("parked A: %s, want the retriever's hangup", how)
	}
	// Several CDRs with the parkee's UniqueID, told apart by Sequence: wait
	// for the end of the call (the retriever's ParkedCall CDR and the
	// parkee's hangup), then look at them.
	a.Wait(t, wait, func(m Msg) bool {
		return m.Get("Event") == "Cdr" && m.Get("LastApplication") == "ParkedCall" && m.Get("LinkedID") == k.LinkedID
	})
	a.Wait(t, wait, Match("Event", "Hangup", "Channel", k.ChA))
	legs := a.WaitN(t, wait, 2, Match("Event", "Cdr", "UniqueID", parked.Get("ParkeeUniqueid")))
	apps := map[string]bool{}
	seqs := map[string]bool{}
	for _, c := range legs {
		apps[c.Get("LastApplication")] = true
		seqs[c.Get("Sequence")] = true
		if c.Get("LinkedID") != k.LinkedID {
			t.Errorf("leg with another LinkedID:\n%s", c)
		}
	}
	if !apps["Dial"] || len(seqs) != len(legs) {
		t.Errorf("parkee's legs: apps %v, sequences %v", apps, seqs)
	}
	t.Logf("parkee's CDR legs: %d, applications %v", len(legs), apps)
	logEvents(t, a, []string{k.LinkedID, k.ChA}, "ParkedCall", "UnParkedCall", "ParkedCallGiveUp", "ParkedCallTimeOut", "Cdr")
}

// A ringing phone is picked up by another one dialling **<ext> (directed)
// pickup; the ringing phone gets a CANCEL.
func TestDirectedPickup(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	ea, eb, ec := p.FreeExt(t), p.FreeExt(t), p.FreeExt(t)
	pb := p.Register(t, eb.Number, PhoneOptions{Manual: true})
	pa := p.Register(t, ea.Number, PhoneOptions{})
	pc := p.Register(t, ec.Number, PhoneOptions{})
	ac := pa.Dial(t, eb.Number, CallOptions{})
	bc := pb.WaitCall(t, wait)
	cc := pc.Dial(t, "**"+eb.Number, CallOptions{})
	cc.WaitAnswered(t, wait)
	ac.WaitAnswered(t, wait)
	if how := bc.WaitEnded(t, wait); how != "cancelled" {
		t.Errorf("ringing B: %s, want cancelled", how)
	}
	pk := a.Wait(t, wait, Match("Event", "Pickup"))
	if !strings.HasPrefix(pk.Get("Channel"), "PJSIP/"+ec.Number+"-") || !strings.HasPrefix(pk.Get("TargetChannel"), "PJSIP/"+eb.Number+"-") {
		t.Errorf("Pickup event:\n%s", pk)
	}
	ac.Hangup(t)
	if how := cc.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("picker C: %s", how)
	}
	logEvents(t, a, []string{"PJSIP/" + ec.Number + "-", "PJSIP/" + eb.Number + "-"}, "Pickup", "Cdr")
}

// PJSIPNotify reaches a registered phone: ad hoc (Variable: Event=...), by a
// pjsip_notify.conf entry (Option:), and to a URI (the contact, directly).
func TestPJSIPNotify(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	e := p.FreeExt(t)
	ph := p.Register(t, e.Number, PhoneOptions{})
	a.MustAction(t, "PJSIPNotify", "Endpoint", e.Number, "Variable", "Event=check-sync")
	n := ph.WaitNotify(t, wait, "check-sync")
	if !strings.Contains(n.Header("To"), "sip:"+e.Number+"@") {
		t.Errorf("NOTIFY To: %s", n.Header("To"))
	}
	a.MustAction(t, "PJSIPNotify", "Endpoint", e.Number, "Option", "resync")
	ph.WaitNotify(t, wait, "resync")
	a.MustAction(t, "PJSIPNotify", "URI", "sip:"+e.Number+"@"+ph.Addr, "Variable", "Event=check-sync;reboot=true")
	if m := ph.WaitNotify(t, wait, "check-sync;reboot=true"); m.Header("Event") != "check-sync;reboot=true" {
		t.Errorf("Event: %s", m.Header("Event"))
	}
}

// PlayDTMF with Receive: true puts the digit into the call (the peer's phone
// gets it); without it the digit goes to the channel's own phone. A phone's
// own DTMF (SIP INFO) shows as DTMFBegin/DTMFEnd Direction=Received.
func TestDTMF(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	k := setupTalk(t, p, a, PhoneOptions{})
	info := func(c *Call, digit string) {
		t.Helper()
		c.WaitMessage(t, wait, "INFO "+digit, func(m SIPMessage) bool {
			return m.Received && m.Method() == "INFO" && strings.Contains(m.Body(), "Signal="+digit)
		})
	}
	a.MustAction(t, "PlayDTMF", "Channel", k.ChA, "Digit", "5", "Duration", "200", "Receive", "true")
	info(k.BC, "5")
	a.Wait(t, wait, Match("Event", "DTMFEnd", "Channel", k.ChA, "Digit", "5", "Direction", "Received"))
	a.MustAction(t, "PlayDTMF", "Channel", k.ChA, "Digit", "6", "Duration", "200")
	info(k.AC, "6")
	k.BC.SendDTMF(t, "7")
	a.Wait(t, wait, Match("Event", "DTMFEnd", "Channel", k.ChB, "Digit", "7", "Direction", "Received"))
	info(k.AC, "7")
	for _, m := range k.BC.Messages() {
		if m.Received && m.Method() == "INFO" && strings.Contains(m.Body(), "Signal=6") {
			t.Error("PlayDTMF without Receive reached the peer")
		}
	}
	logEvents(t, a, []string{k.ChA, k.ChB}, "DTMFBegin", "DTMFEnd")
	k.AC.Hangup(t)
}

// A phone's hold key (re-INVITE a=sendonly) gives Hold and music on hold to
// the peer; unhold gives Unhold. Mute (res_mutestream) is an action only.
func TestHoldAndMute(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	k := setupTalk(t, p, a, PhoneOptions{})
	k.AC.Hold(t)
	a.Wait(t, wait, Match("Event", "Hold", "Channel", k.ChA))
	a.Wait(t, wait, Match("Event", "MusicOnHoldStart", "Channel", k.ChB))
	k.AC.Unhold(t)
	a.Wait(t, wait, Match("Event", "Unhold", "Channel", k.ChA))
	a.Wait(t, wait, Match("Event", "MusicOnHoldStop", "Channel", k.ChB))
	a.MustAction(t, "MuteAudio", "Channel", k.ChA, "Direction", "in", "State", "on")
	a.MustAction(t, "MuteAudio", "Channel", k.ChA, "Direction", "in", "State", "off")
	if r, err := a.Action("MuteAudio", "Channel", "PJSIP/nonexistent-00000000", "Direction", "in", "State", "on"); err != nil || r.Get("Response") != "Error" {
		t.Errorf("MuteAudio on a missing channel: %v %v", r, err)
	}
	logEvents(t, a, []string{k.ChA, k.ChB}, "Hold", "Unhold", "MusicOnHoldStart", "MusicOnHoldStop")
	k.AC.Hangup(t)
	k.BC.WaitEnded(t, wait)
}
