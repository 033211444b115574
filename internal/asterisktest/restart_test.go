package asterisktest

import (
	"strings"
	"testing"
	"time"
)

// An Asterisk restart is a closed AMI connection; a new one logs in, and the
// phone's registration survived (PJSIP keeps contacts in AstDB), so a call
// reaches it without a new REGISTER.
func TestRestart(t *testing.T) {
	t.Parallel()
	p := Start(t, Options{Extensions: 3})
	a := p.AMI(t)
	ph := p.Register(t, "201", PhoneOptions{HangupAfter: 500 * time.Millisecond})
	caller := p.Register(t, "202", PhoneOptions{})
	a.MustAction(t, "DBPut", "Family", "DND", "Key", "203", "Val", "YES")
	first := p.StartTime

	began := time.Now()
	p.Restart(t)
	select {
	case <-a.Closed():
	case <-time.After(wait):
		t.Fatal("the AMI connection outlived the restart")
	}
	b := p.AMI(t)
	took := time.Since(began)
	t.Logf("first start %v; stop+start+login %v (start alone %v)", first, took, p.StartTime)
	if _, err := a.Action("Ping"); err == nil {
		t.Error("an action on the old connection succeeded")
	}
	if v, err := b.DBGet("DND", "203"); v != "YES" {
		t.Errorf("DND/203 after restart: %q, %v", v, err)
	}
	c := caller.Dial(t, "201", CallOptions{})
	in := ph.WaitCall(t, wait)
	c.WaitAnswered(t, wait)
	in.WaitEnded(t, wait)
	if n := strings.Count(strings.Join(messagesOf(ph, "REGISTER"), "\n"), "REGISTER"); n != 2 {
		t.Errorf("the phone sent %d REGISTERs, want the 2 of its first registration only", n)
	}
}

// DND and call forward live in AstDB as FreePBX keeps them: DND/<ext>=YES
// answers busy, CF/<ext> forwards at once.
func TestDNDAndCallForward(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	ea, eb, ec := p.FreeExt(t), p.FreeExt(t), p.FreeExt(t)
	pa := p.Register(t, ea.Number, PhoneOptions{})
	pb := p.Register(t, eb.Number, PhoneOptions{})
	pc := p.Register(t, ec.Number, PhoneOptions{HangupAfter: 300 * time.Millisecond})

	// The feature code *78 sets DND/<caller>=YES.
	c := pb.Dial(t, "*78", CallOptions{})
	c.WaitEnded(t, wait)
	if v, err := a.DBGet("DND", eb.Number); v != "YES" {
		t.Fatalf("DND/%s = %q (%v) after *78", eb.Number, v, err)
	}
	c = pa.Dial(t, eb.Number, CallOptions{})
	if how := c.WaitEnded(t, wait); how != "failed 486" {
		t.Errorf("call to a DND extension: %s, want failed 486", how)
	}
	a.MustAction(t, "DBDel", "Family", "DND", "Key", eb.Number)

	a.MustAction(t, "DBPut", "Family", "CF", "Key", eb.Number, "Val", ec.Number)
	c = pa.Dial(t, eb.Number, CallOptions{})
	pc.WaitCall(t, wait)
	c.WaitAnswered(t, wait)
	c.WaitEnded(t, wait)
	a.MustAction(t, "DBDel", "Family", "CF", "Key", eb.Number)
	for _, m := range pb.Messages() {
		if m.Method() == "INVITE" && m.Received {
			t.Error("the forwarded extension rang")
		}
	}
}

// The trunk: a call dialled as 0<number> leaves through it, and a call from
// it to a DID equal to an extension rings that extension.
func TestTrunk(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	trunk := p.TrunkPhone(t, PhoneOptions{HangupAfter: 300 * time.Millisecond})
	e := p.FreeExt(t)
	ph := p.Register(t, e.Number, PhoneOptions{HangupAfter: 300 * time.Millisecond})
	c := ph.Dial(t, "00612345678", CallOptions{})
	in := trunk.WaitCall(t, wait)
	if m := in.Messages()[0]; !strings.HasPrefix(firstLine(m.Text), "INVITE sip:0612345678@") {
		t.Errorf("trunk got %s", firstLine(m.Text))
	}
	c.WaitAnswered(t, wait)
	c.WaitEnded(t, wait)
	tc := trunk.Dial(t, e.Number, CallOptions{})
	ph.WaitCall(t, wait)
	tc.WaitAnswered(t, wait)
	tc.WaitEnded(t, wait)
}

func messagesOf(ph *Phone, method string) []string {
	var out []string
	for _, m := range ph.Messages() {
		if !m.Received && m.Method() == method {
			out = append(out, firstLine(m.Text))
		}
	}
	return out
}
