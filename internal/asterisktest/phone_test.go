package asterisktest

import (
	"strings"
	"testing"
)

// The phone controls a test relies on: a ringing call refused with 486 fails
// the caller with 486 (Asterisk passes BUSY on); a caller giving up while it
// rings cancels the callee; after Unregister the extension is unreachable.
func TestPhoneControls(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	ea, eb := p.FreeExt(t), p.FreeExt(t)
	pb := p.Register(t, eb.Number, PhoneOptions{Manual: true})
	pa := p.Register(t, ea.Number, PhoneOptions{})

	c := pa.Dial(t, eb.Number, CallOptions{})
	in := pb.WaitCall(t, wait)
	in.Reject(t, 486)
	if how := c.WaitEnded(t, wait); how != "failed 486" {
		t.Errorf("rejected call: %s, want failed 486", how)
	}

	c = pa.Dial(t, eb.Number, CallOptions{})
	in = pb.WaitCall(t, wait)
	c.WaitMessage(t, wait, "180", func(m SIPMessage) bool { return m.Received && m.Status() == 180 })
	c.Hangup(t)
	if how := in.WaitEnded(t, wait); how != "cancelled" {
		t.Errorf("callee of a cancelled call: %s", how)
	}
	if how := c.WaitEnded(t, wait); how != "failed 487" {
		t.Errorf("cancelled call: %s, want failed 487", how)
	}

	pb.Unregister(t)
	seen := len(pb.Messages())
	c = pa.Dial(t, eb.Number, CallOptions{})
	how := c.WaitEnded(t, wait)
	if !strings.HasPrefix(how, "failed ") {
		t.Errorf("call to an unregistered extension: %s", how)
	}
	for _, m := range pb.Messages()[seen:] {
		if m.Received && m.Method() == "INVITE" {
			t.Errorf("the unregistered phone still got %s", m)
		}
	}
	t.Logf("call to an unregistered extension: %s", how)
}
