package model

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	. "github.com/switchboard-pbx/switchboard/cti/amitest"
)

func toMsg(f Fields) ami.Message {
	var m ami.Message
	for _, kv := range f {
		m.Add(kv[0], kv[1])
	}
	return m
}

// The model stays bounded: a burst of calls leaves no channels, bridges or
// waiting callers behind once they hang up, even without BridgeDestroy or
// QueueCallerLeave.
func TestModelBounded(t *testing.T) {
	m := New([]string{"provider1"}, time.Now)
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
	m := New(nil, time.Now)
	var sc Script
	for i := 0; i < 2000; i++ {
		c := sc.NewChan("3"+strconv.Itoa(i), "x", "", nil)
		m.Apply(toMsg(sc.Newchannel(c)))
	}
	ev := toMsg(DeviceState("201", "INUSE"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Apply(ev)
	}
}

// The model must take any event sequence without panicking.
func FuzzModelApply(f *testing.F) {
	f.Add("Event: DialBegin\r\nChannel: PJSIP/201-1\r\nDestChannel: PJSIP/202-2\r\n\r\nEvent: BridgeEnter\r\nChannel: PJSIP/202-2\r\nBridgeUniqueid: b\r\n\r\nEvent: Hangup\r\nChannel: PJSIP/201-1\r\n\r\n")
	f.Add("Event: QueueCallerJoin\r\nQueue: q\r\nChannel: x\r\n\r\nEvent: ParkedCall\r\nParkingSpace: 71\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		m := New([]string{"trunk"}, time.Now)
		r := bufio.NewReader(strings.NewReader(s))
		for i := 0; i < 200; i++ {
			ev, err := ami.ReadMessage(r)
			if err != nil {
				return
			}
			m.Apply(ev)
		}
		m.Extensions()
		m.Queues()
	})
}

// Durations and start times come from the injected clock only, so a
// conversation's age is exact under a fake clock.
func TestInjectedClock(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := New(nil, func() time.Time { return now })
	var sc Script
	a := sc.NewChan("201", "201", "Alice", nil)
	b := sc.NewChan("202", "202", "Bob", a)
	evs := append([]Fields{sc.Newchannel(a)}, sc.Dial(a, b, "PJSIP/202")...)
	for _, ev := range evs {
		m.Apply(toMsg(ev))
	}
	now = now.Add(42 * time.Second)
	x := m.Extensions()["201"]
	if x == nil || len(x.Conversations) != 1 {
		t.Fatalf("201: %+v", x)
	}
	for _, c := range x.Conversations {
		if c.StartTime != 1_700_000_000_000 || c.Duration != 42 {
			t.Fatalf("conversation: start %d duration %d", c.StartTime, c.Duration)
		}
	}
}

// Each change goes to the room clients of that kind listen in.
func TestEmitRooms(t *testing.T) {
	m := New([]string{"provider1"}, time.Now)
	var sc Script
	tr := sc.NewChan("provider1", "0611", "", nil)
	b := sc.NewChan("202", "202", "Bob", tr)
	rooms := map[string]map[string]bool{}
	evs := []Fields{sc.Newchannel(tr), M("Event", "QueueCallerJoin", "Queue", "401", "Channel", tr.Name, "Position", "1")}
	evs = append(evs, sc.Dial(tr, b, "PJSIP/202")...)
	evs = append(evs, M("Event", "ParkedCall", "ParkeeChannel", tr.Name, "ParkingSpace", "71", "ParkingLot", "default"))
	for _, ev := range evs {
		for _, e := range m.Apply(toMsg(ev)) {
			if rooms[e.Name] == nil {
				rooms[e.Name] = map[string]bool{}
			}
			rooms[e.Name][e.Room] = true
		}
	}
	for name, want := range map[string]string{"queueUpdate": RoomQueues, "extenRinging": ExtenRoom("202"),
		"extenUpdate": RoomPresence, "trunkUpdate": RoomTrunks, "parkingUpdate": RoomParkings} {
		if !rooms[name][want] || len(rooms[name]) != 1 {
			t.Errorf("%s went to %v, want %s", name, rooms[name], want)
		}
	}
	if !m.Parked("71") || m.Parked("72") {
		t.Error("Parked")
	}
	m.SetDND("202", true)
	if !m.DND("202") || m.DND("201") {
		t.Error("DND")
	}
}
