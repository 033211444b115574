package asterisktest

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
)

// A call to queue 400 answered by a dynamic member (added with QueueAdd, as
// the CTI's queue login does) gives the queue events and queue_log lines of
// one call, and queue_log loads into MariaDB.
func TestQueueCall(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	agent, caller := p.FreeExt(t), p.FreeExt(t)
	iface := "PJSIP/" + agent.Number
	ag := p.Register(t, agent.Number, PhoneOptions{AnswerAfter: 500 * time.Millisecond})
	cl := p.Register(t, caller.Number, PhoneOptions{})
	a.MustAction(t, "QueueAdd", "Queue", "400", "Interface", iface, "MemberName", "Agent "+agent.Number, "Paused", "false")
	t.Cleanup(func() { a.Action("QueueRemove", "Queue", "400", "Interface", iface) }) //nolint:errcheck
	a.Wait(t, wait, Match("Event", "QueueMemberAdded", "Queue", "400", "Interface", iface))
	a.MustAction(t, "QueuePause", "Queue", "400", "Interface", iface, "Paused", "true", "Reason", "lunch")
	a.Wait(t, wait, Match("Event", "QueueMemberPause", "Interface", iface, "Paused", "1", "PausedReason", "lunch"))
	a.MustAction(t, "QueuePause", "Queue", "400", "Interface", iface, "Paused", "false")
	a.Wait(t, wait, Match("Event", "QueueMemberPause", "Interface", iface, "Paused", "0"))

	c := cl.Dial(t, "400", CallOptions{HangupAfter: 2 * time.Second})
	in := ag.WaitCall(t, wait)
	c.WaitAnswered(t, wait)
	join := a.Wait(t, wait, Match("Event", "QueueCallerJoin", "Queue", "400", "CallerIDNum", caller.Number))
	uid := join.Get("Uniqueid")
	a.Wait(t, wait, Match("Event", "AgentCalled", "Queue", "400", "Interface", iface, "Uniqueid", uid))
	conn := a.Wait(t, wait, Match("Event", "AgentConnect", "Queue", "400", "Interface", iface, "Uniqueid", uid))
	leave := a.Wait(t, wait, Match("Event", "QueueCallerLeave", "Queue", "400", "Uniqueid", uid))
	if c.WaitEnded(t, wait) != "bye-sent" || in.WaitEnded(t, wait) != "bye-received" {
		t.Error("the caller should have hung up")
	}
	done := a.Wait(t, wait, Match("Event", "AgentComplete", "Queue", "400", "Interface", iface, "Uniqueid", uid))
	if done.Get("Reason") != "caller" || conn.Get("HoldTime") == "" || done.Get("TalkTime") == "" || leave.Get("Position") == "" {
		t.Errorf("AgentConnect %s\nAgentComplete %s\nQueueCallerLeave %s", conn, done, leave)
	}
	logEvents(t, a, []string{uid, iface}, "QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentComplete", "QueueCallerLeave", "QueueMemberAdded", "QueueMemberPause", "QueueMemberStatus")

	// queue_log: ENTERQUEUE, CONNECT and COMPLETECALLER for this call.
	var events []string
	deadline := time.Now().Add(wait)
	for {
		entries, err := mariadbtest.ReadQueueLog(p.QueueLog())
		if err != nil {
			t.Fatal(err)
		}
		events = events[:0]
		for _, e := range entries {
			if e.CallID == uid {
				events = append(events, e.Event+"("+e.Agent+")")
				if e.Event == "ENTERQUEUE" && strings.Join(e.Data, "|") != "|"+caller.Number+"|1" {
					t.Errorf("ENTERQUEUE data %q, want url|callerid|position", e.Data)
				}
			}
		}
		if strings.Contains(strings.Join(events, " "), "COMPLETECALLER") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := strings.Join(events, " ")
	// Operator events: ADDMEMBER by AMI QueueAdd has callid MANAGER and (with
	// log_membername_as_agent = no, the default) the interface as agent;
	// PAUSE (with the reason) and UNPAUSE have callid NONE and the member name.
	var member []string
	if entries, err := mariadbtest.ReadQueueLog(p.QueueLog()); err == nil {
		for _, e := range entries {
			if (e.Agent == "Agent "+agent.Number || e.Agent == iface) && (e.CallID == "NONE" || e.CallID == "MANAGER") {
				member = append(member, e.CallID+":"+e.Event+"("+strings.Join(e.Data, "|")+")")
				if e.Event == "ADDMEMBER" && e.Agent != iface || e.Event != "ADDMEMBER" && e.Agent != "Agent "+agent.Number {
					t.Errorf("queue_log %s with agent %q", e.Event, e.Agent)
				}
			}
		}
	}
	if m := strings.Join(member, " "); !strings.HasPrefix(m, "MANAGER:ADDMEMBER(") || !strings.Contains(m, "NONE:PAUSE(lunch") || !strings.Contains(m, "NONE:UNPAUSE(") {
		t.Errorf("queue_log operator events of %s: %s", agent.Number, m)
	}
	t.Logf("queue_log operator events: %s", strings.Join(member, " "))
	for _, w := range []string{"ENTERQUEUE(NONE)", "CONNECT(Agent " + agent.Number + ")", "COMPLETECALLER(Agent " + agent.Number + ")"} {
		if !strings.Contains(got, w) {
			t.Errorf("queue_log of %s: %s; missing %s", uid, got, w)
		}
	}
	t.Logf("queue_log of the call: %s", got)

	srv := mariadbtest.Shared(t)
	db := srv.DB(t, srv.NewCDRDB(t))
	mariadbtest.LoadQueueLog(t, db, p.QueueLog(), time.UTC)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM queue_log WHERE callid = ? AND queuename = '400' AND event IN ('ENTERQUEUE','CONNECT','COMPLETECALLER')", uid).Scan(&n); err != nil || n != 3 {
		t.Errorf("queue_log rows in MariaDB: %d (%v)", n, err)
	}
}
