package asterisktest

import (
	"testing"
	"time"
)

func TestBasicCall(t *testing.T) {
	p := Start(t, Options{})
	a := p.AMI(t)
	callee := p.Register(t, "202", PhoneOptions{AnswerAfter: 200 * time.Millisecond, HangupAfter: 2 * time.Second})
	caller := p.Register(t, "201", PhoneOptions{})
	c := caller.Dial(t, "202", CallOptions{})
	in := callee.WaitCall(t, 5*time.Second)
	c.WaitAnswered(t, 5*time.Second)
	t.Logf("ended: %s / %s", in.WaitEnded(t, 10*time.Second), c.WaitEnded(t, 10*time.Second))
	cdr := a.Wait(t, 10*time.Second, Match("Event", "Cdr", "Destination", "202"))
	t.Logf("%s", cdr)
	t.Log(callee.debug())
}
