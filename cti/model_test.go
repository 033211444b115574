package cti

import (
	"testing"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
)

func toMsg(f Fields) Message {
	var m Message
	for _, kv := range f {
		m.Add(kv[0], kv[1])
	}
	return m
}

// The model stays bounded: a burst of calls leaves no channels, bridges or
// waiting callers behind once they hang up, even without BridgeDestroy or
// QueueCallerLeave.
func TestModelBounded(t *testing.T) {
	m := NewModel([]string{"provider1"})
	var sc Script
	for i := 0; i < 500; i++ {
		tr := sc.NewChan("provider1", "0611", "", nil)
		b := sc.NewChan("202", "202", "Bob", tr)
		var evs []Fields
		evs = append(evs, sc.Newchannel(tr), M("Event", "QueueCallerJoin", "Queue", "401", "Channel", tr.Name, "Position", "1"))
		evs = append(evs, sc.Dial(tr, b, "PJSIP/202")...)
		evs = append(evs, sc.Answer(tr, b, "bb")...)
		evs = append(evs, Enter(tr, "bb", "basic", 1), Enter(b, "bb", "basic", 2), Hangup(tr, 16, "Normal Clearing"), Hangup(b, 16, "Normal Clearing"))
		for _, ev := range evs {
			m.Apply(toMsg(ev))
		}
	}
	if len(m.chans) != 0 || len(m.byEP) != 0 || len(m.bridges) != 0 || len(m.queues["401"].WaitingCallers) != 0 {
		t.Fatalf("left behind: %d channels, %d bridges, %d waiting", len(m.chans), len(m.bridges), len(m.queues["401"].WaitingCallers))
	}
	if x := m.Extensions()["202"]; x == nil || len(x.Conversations) != 0 {
		t.Fatalf("202: %+v", x)
	}
}

// One event costs the same whatever the number of live calls elsewhere: the
// model never re-reads all channels (the reference server's weakness).
func BenchmarkModelApply(b *testing.B) {
	m := NewModel(nil)
	var sc Script
	for i := 0; i < 2000; i++ {
		c := sc.NewChan("3"+itoa(i), "x", "", nil)
		m.Apply(toMsg(sc.Newchannel(c)))
	}
	ev := toMsg(DeviceState("201", "INUSE"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Apply(ev)
	}
}
