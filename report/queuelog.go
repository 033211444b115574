package report

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// QueueLogRow is one line of Asterisk's queue log (the queue_log file or
// table): time|callid|queuename|agent|event|data1|...|data5. The AMI-fed store
// keeps queue events in this same form, so that both sources build queue
// calls with one code.
type QueueLogRow struct {
	Time   time.Time
	CallID string // the caller channel's unique id ("NONE" for member events)
	Queue  string
	Agent  string // the member name ("NONE" when none)
	Event  string
	Data   [5]string
}

// QueueLog gives queue-log rows; QueueLogSource builds the call-center data
// from it.
type QueueLog interface {
	// CallRows calls fn with the rows of every queue call that entered a queue
	// in [from, to): one call's rows together (in time order), the calls in
	// order of entry. A call is (CallID, Queue).
	CallRows(ctx context.Context, from, to time.Time, fn func(*QueueLogRow) error) error
	// MemberRows calls fn with the member events (ADDMEMBER, REMOVEMEMBER,
	// PAUSE, UNPAUSE, PAUSEALL, UNPAUSEALL, AGENTLOGIN, AGENTLOGOFF) of
	// [from, to), in time order.
	MemberRows(ctx context.Context, from, to time.Time, fn func(*QueueLogRow) error) error
}

// QueueLogSource is a QueueSource over a queue log.
type QueueLogSource struct{ Log QueueLog }

var _ QueueSource = QueueLogSource{}

// MemberEvents are the queue-log events of operators.
var MemberEvents = []string{"ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "AGENTLOGIN", "AGENTLOGOFF"}

// QueueCalls builds each call from its rows.
func (s QueueLogSource) QueueCalls(ctx context.Context, from, to time.Time, fn func(*QueueCall) error) error {
	var rows []QueueLogRow
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		c, ok := BuildQueueCall(rows)
		rows = rows[:0]
		if !ok {
			return nil
		}
		return fn(&c)
	}
	err := s.Log.CallRows(ctx, from, to, func(r *QueueLogRow) error {
		if len(rows) > 0 && (rows[0].CallID != r.CallID || rows[0].Queue != r.Queue) {
			if err := flush(); err != nil {
				return err
			}
		}
		rows = append(rows, *r)
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// AgentEvents turns member rows into operator events.
func (s QueueLogSource) AgentEvents(ctx context.Context, from, to time.Time, fn func(*AgentEvent) error) error {
	return s.Log.MemberRows(ctx, from, to, func(r *QueueLogRow) error {
		e := AgentEvent{Time: r.Time, Agent: AgentName(r.Agent), Queue: r.Queue}
		if e.Queue == "NONE" {
			e.Queue = ""
		}
		switch r.Event {
		case "ADDMEMBER", "AGENTLOGIN":
			e.Event = EventLogin
		case "REMOVEMEMBER", "AGENTLOGOFF":
			e.Event = EventLogout
		case "PAUSE", "PAUSEALL":
			e.Event, e.Reason = EventPause, r.Data[0]
		case "UNPAUSE", "UNPAUSEALL":
			e.Event, e.Reason = EventUnpause, r.Data[0]
		default:
			return nil
		}
		return fn(&e)
	})
}

// AgentName is how an agent reads in exports: the extension of a member
// interface (PJSIP/201, SIP/201, Local/201@from-queue/n -> 201), a member name
// as it is. queue_log names a member by interface in ADDMEMBER and by member
// name elsewhere; both read the same this way.
func AgentName(a string) string {
	if a == "NONE" {
		return ""
	}
	tech, rest, ok := strings.Cut(a, "/")
	if !ok {
		return a
	}
	switch strings.ToUpper(tech) {
	case "PJSIP", "SIP", "IAX2", "LOCAL", "DAHDI":
	default:
		return a
	}
	if i := strings.IndexAny(rest, "@/"); i > 0 {
		rest = rest[:i]
	}
	return rest
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// BuildQueueCall reads one call's rows (app_queue's queue_log events):
//
//	ENTERQUEUE url|callerid|position[|name]   the call enters
//	RINGNOANSWER ringms, RINGCANCELED ringms  an agent rang in vain
//	CONNECT holdtime|bridged uniqueid|ringtime an agent answered
//	COMPLETECALLER/COMPLETEAGENT holdtime|calltime|position
//	BLINDTRANSFER exten|context|holdtime|calltime|position
//	ATTENDEDTRANSFER method|data|holdtime|calltime|position
//	ABANDON position|origposition|waittime
//	EXITWITHTIMEOUT position|origposition|waittime
//	EXITEMPTY position|origposition|waittime
//	EXITWITHKEY key|position|origposition|waittime
//	FULL, JOINEMPTY, JOINUNAVAIL              refused at entry
//
// ok is false for rows that are no call (no ENTERQUEUE and no refusal).
func BuildQueueCall(rows []QueueLogRow) (QueueCall, bool) {
	c := QueueCall{CallID: rows[0].CallID, Queue: rows[0].Queue, Outcome: OutcomeUnknown}
	entered := false
	var left time.Time
	for i := range rows {
		r := &rows[i]
		switch r.Event {
		case "ENTERQUEUE":
			entered = true
			c.Entered, c.CallerNum, c.Position, c.CallerName = r.Time, r.Data[1], atoi(r.Data[2]), r.Data[3]
		case "FULL":
			entered, c.Entered, c.Outcome = true, r.Time, OutcomeFull
		case "JOINEMPTY", "JOINUNAVAIL":
			entered, c.Entered, c.Outcome = true, r.Time, OutcomeExitEmpty
		case "RINGNOANSWER", "RINGCANCELED":
			ring := atoi(r.Data[0]) // milliseconds
			res := AttemptNoAnswer
			if r.Event == "RINGCANCELED" {
				res = AttemptCanceled
			}
			c.Attempts = append(c.Attempts, AgentAttempt{Agent: r.Agent, Start: r.Time.Add(-time.Duration(ring) * time.Millisecond),
				Ring: (ring + 500) / 1000, Result: res})
		case "CONNECT":
			c.Outcome, c.Agent, c.Wait = OutcomeAnswered, r.Agent, atoi(r.Data[0])
			ring := atoi(r.Data[2])
			c.Attempts = append(c.Attempts, AgentAttempt{Agent: r.Agent, Start: r.Time.Add(-time.Duration(ring) * time.Second),
				Ring: ring, Result: AttemptAnswered})
		case "COMPLETECALLER", "COMPLETEAGENT":
			c.Talk = atoi(r.Data[1])
		case "BLINDTRANSFER", "ATTENDEDTRANSFER":
			c.Talk = atoi(r.Data[3])
		case "ABANDON":
			c.Outcome, c.Wait = OutcomeAbandoned, atoi(r.Data[2])
		case "EXITWITHTIMEOUT":
			c.Outcome, c.Wait = OutcomeTimeout, atoi(r.Data[2])
		case "EXITEMPTY":
			c.Outcome, c.Wait = OutcomeExitEmpty, atoi(r.Data[2])
		case "EXITWITHKEY":
			c.Outcome, c.Wait = OutcomeExitKey, atoi(r.Data[3])
		case "LEAVE": // the AMI store's QueueCallerLeave
			left = r.Time
		}
	}
	if !entered {
		return c, false
	}
	if c.Outcome == OutcomeUnknown && !left.IsZero() {
		c.Outcome, c.Wait = OutcomeExit, int(left.Sub(c.Entered)/time.Second)
	}
	c.Agent = AgentName(c.Agent)
	for i := range c.Attempts {
		c.Attempts[i].Agent = AgentName(c.Attempts[i].Agent)
	}
	return c, true
}
