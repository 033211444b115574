package report

import (
	"context"
	"time"
)

// Outcomes of a queue call.
const (
	OutcomeAnswered  = "answered"   // an agent took it
	OutcomeAbandoned = "abandoned"  // the caller hung up while waiting
	OutcomeTimeout   = "timeout"    // the queue's timeout sent it on
	OutcomeExitEmpty = "exit-empty" // no agent (leavewhenempty)
	OutcomeExitKey   = "exit-key"   // the caller pressed a key to leave
	OutcomeFull      = "full"       // refused: the queue was full
	OutcomeExit      = "exit"       // left unanswered for a reason the source does not give (AMI: timeout, no agents or a key)
	OutcomeUnknown   = "unknown"    // still waiting, or the record is incomplete
)

// Results of an agent attempt.
const (
	AttemptAnswered = "answered"
	AttemptNoAnswer = "no answer" // rang for the member's timeout
	AttemptCanceled = "canceled"  // stopped: the caller left or another agent answered
)

// Operator events.
const (
	EventLogin   = "login"
	EventLogout  = "logout"
	EventPause   = "pause"
	EventUnpause = "unpause"
)

// QueueCall is one caller's stay in one queue.
type QueueCall struct {
	CallID     string // the caller channel's unique id
	LinkedID   string
	Queue      string
	CallerNum  string
	CallerName string
	Entered    time.Time
	Position   int // position on entry (1 = first)
	Wait       int // seconds from entry to answer or leaving
	Outcome    string
	Agent      string // who answered
	Talk       int    // seconds from answer to hang-up
	Attempts   []AgentAttempt
}

// AgentAttempt is one agent rung for a queue call.
type AgentAttempt struct {
	Agent  string
	Start  time.Time
	Ring   int // seconds
	Result string
}

// AgentEvent is an operator's login, logout, pause or unpause on a queue.
type AgentEvent struct {
	Time   time.Time
	Agent  string
	Queue  string // "" = every queue (a pause without a queue)
	Event  string
	Reason string // the pause reason
}

// QueueSource gives call-center data.
type QueueSource interface {
	// QueueCalls calls fn with every queue call that entered a queue in
	// [from, to), in order of entry.
	QueueCalls(ctx context.Context, from, to time.Time, fn func(*QueueCall) error) error
	// AgentEvents calls fn with every operator event in [from, to), in time order.
	AgentEvents(ctx context.Context, from, to time.Time, fn func(*AgentEvent) error) error
}

// QueueTables are the tables of a call-center export: queue calls; with
// detailed, each agent attempt; with events (detailed only), operator events.
func QueueTables(lang Language, detailed, events bool) []*Table {
	calls := &Table{Sheet: tr(lang, "Queue calls"), File: "queue_calls", Element: "queue_call", Columns: []Column{
		col(lang, "call_id", "Call ID", text),
		col(lang, "entered", "Entered", datetime),
		col(lang, "queue", "Queue", text),
		col(lang, "caller", "Caller", text),
		col(lang, "caller_name", "Caller name", text),
		col(lang, "position", "Position", integer),
		col(lang, "wait", "Wait (s)", integer),
		col(lang, "outcome", "Outcome", text),
		col(lang, "agent", "Agent", text),
		col(lang, "talk", "Talk (s)", integer),
	}}
	if !detailed {
		return []*Table{calls}
	}
	attempts := &Table{Sheet: tr(lang, "Agent attempts"), File: "attempts", Element: "attempt", Parent: calls, Columns: []Column{
		col(lang, "call_id", "Call ID", text),
		col(lang, "agent", "Agent", text),
		col(lang, "start", "Rang at", datetime),
		col(lang, "ring", "Ring (s)", integer),
		col(lang, "result", "Result", text),
	}}
	out := []*Table{calls, attempts}
	if events {
		out = append(out, &Table{Sheet: tr(lang, "Operator events"), File: "operator_events", Element: "operator_event", Columns: []Column{
			col(lang, "time", "Time", datetime),
			col(lang, "agent", "Agent", text),
			col(lang, "queue", "Queue", text),
			col(lang, "event", "Event", text),
			col(lang, "reason", "Reason", text),
		}})
	}
	return out
}

// WriteQueue streams the queue calls (and attempts, and operator events, as
// tables has them: see QueueTables) of [from, to) into sink.
func WriteQueue(ctx context.Context, src QueueSource, from, to time.Time, tables []*Table, sink Sink) (Stats, error) {
	var st Stats
	vals := make([]Value, 0, 10)
	n := 0
	err := src.QueueCalls(ctx, from, to, func(c *QueueCall) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		vals = append(vals[:0], c.CallID, c.Entered, c.Queue, c.CallerNum, c.CallerName, c.Position, c.Wait,
			c.Outcome, c.Agent, c.Talk)
		if err := sink.Row(tables[0], vals); err != nil {
			return err
		}
		st.Rows++
		if len(tables) < 2 {
			return nil
		}
		for _, a := range c.Attempts {
			vals = append(vals[:0], c.CallID, a.Agent, a.Start, a.Ring, a.Result)
			if err := sink.Row(tables[1], vals); err != nil {
				return err
			}
			st.Detail++
		}
		return nil
	})
	if err != nil || len(tables) < 3 {
		return st, err
	}
	err = src.AgentEvents(ctx, from, to, func(e *AgentEvent) error {
		vals = append(vals[:0], e.Time, e.Agent, e.Queue, e.Event, e.Reason)
		st.Detail++
		return sink.Row(tables[2], vals)
	})
	return st, err
}
