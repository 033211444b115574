package report

import (
	"context"
	"strings"
	"time"
)

// CDR is one Asterisk call detail record: one leg of a call. A call's legs
// share LinkedID (the first channel's unique id) and are ordered by Sequence;
// park, pickup and transfers give a call several legs, sometimes with the same
// UniqueID, and every one is kept.
//
// Only what both the AMI Cdr event and the PBX's cdr table carry is here, so
// that the two sources export alike: the answer and end times are derived from
// Start, Duration and BillSec the way Asterisk computes those.
type CDR struct {
	Start       time.Time // calldate
	CallerID    string    // clid: "Name" <number>
	Src         string
	Dst         string
	DContext    string
	Channel     string
	DstChannel  string
	LastApp     string
	LastData    string
	Duration    int // seconds, start to end
	BillSec     int // seconds, answer to end
	Disposition string
	AccountCode string
	UniqueID    string
	LinkedID    string
	Sequence    int
	UserField   string
}

// Answered reports whether the leg was answered.
func (c *CDR) Answered() bool { return c.Disposition == "ANSWERED" }

// AnswerTime is when the leg was answered (zero when it was not).
func (c *CDR) AnswerTime() time.Time {
	if !c.Answered() {
		return time.Time{}
	}
	return c.Start.Add(time.Duration(c.Duration-c.BillSec) * time.Second)
}

// EndTime is when the leg ended.
func (c *CDR) EndTime() time.Time { return c.Start.Add(time.Duration(c.Duration) * time.Second) }

// CallerName and CallerNumber split CallerID ("Alice" <201>).
func (c *CDR) CallerName() string {
	name, _ := SplitCallerID(c.CallerID)
	return name
}

// SplitCallerID splits `"Name" <number>` (either part may be missing).
func SplitCallerID(cid string) (name, number string) {
	cid = strings.TrimSpace(cid)
	if i := strings.LastIndexByte(cid, '<'); i >= 0 && strings.HasSuffix(cid, ">") {
		return strings.Trim(strings.TrimSpace(cid[:i]), `"`), cid[i+1 : len(cid)-1]
	}
	return "", cid
}

// ChannelPeer is the endpoint of a channel name: PJSIP/202-00000003 -> 202,
// Local/400@from-queue-0000001;1 -> 400.
func ChannelPeer(ch string) string {
	if i := strings.IndexByte(ch, '/'); i >= 0 {
		ch = ch[i+1:]
	}
	if i := strings.LastIndexByte(ch, '-'); i > 0 {
		ch = ch[:i]
	}
	if i := strings.IndexByte(ch, '@'); i > 0 {
		ch = ch[:i]
	}
	return ch
}

// CDRSource gives CDR legs.
type CDRSource interface {
	// Legs calls fn with every leg of the calls whose first leg started in
	// [from, to): a call's legs one after the other by Sequence, the calls in
	// the order of their start. fn's argument is valid during the call only.
	Legs(ctx context.Context, from, to time.Time, fn func(*CDR) error) error
}

// SummarySource is a CDRSource that can also give legs with only what
// Summarize reads (Start, CallerID, Src, Dst, DstChannel, Duration, BillSec,
// Disposition, AccountCode, UniqueID, LinkedID; the other fields are empty),
// in the order of Legs: a CDR export without legs uses it, and reading less
// is cheaper on a million rows.
type SummarySource interface {
	SummaryLegs(ctx context.Context, from, to time.Time, fn func(*CDR) error) error
}

// CDRTables are the tables of a CDR export: calls, and their legs when detailed.
func CDRTables(lang Language, detailed bool) []*Table {
	calls := &Table{Sheet: tr(lang, "Calls"), File: "calls", Element: "call", Columns: []Column{
		col(lang, "call_id", "Call ID", text),
		col(lang, "start", "Start", datetime),
		col(lang, "caller", "Caller", text),
		col(lang, "caller_name", "Caller name", text),
		col(lang, "called", "Called", text),
		col(lang, "answered_by", "Answered by", text),
		col(lang, "outcome", "Outcome", text),
		col(lang, "wait", "Wait (s)", integer),
		col(lang, "talk", "Talk (s)", integer),
		col(lang, "duration", "Duration (s)", integer),
		col(lang, "leg_count", "Legs", integer),
		col(lang, "account_code", "Account code", text),
	}}
	if !detailed {
		return []*Table{calls}
	}
	legs := &Table{Sheet: tr(lang, "Call legs"), File: "legs", Element: "leg", Parent: calls, Columns: []Column{
		col(lang, "call_id", "Call ID", text),
		col(lang, "sequence", "Leg", integer),
		col(lang, "uniqueid", "Unique ID", text),
		col(lang, "start", "Start", datetime),
		col(lang, "answer", "Answered at", datetime),
		col(lang, "end", "End", datetime),
		col(lang, "clid", "Caller ID", text),
		col(lang, "src", "Source", text),
		col(lang, "dst", "Destination", text),
		col(lang, "dcontext", "Context", text),
		col(lang, "channel", "Channel", text),
		col(lang, "dstchannel", "Dest. channel", text),
		col(lang, "lastapp", "Application", text),
		col(lang, "lastdata", "App. data", text),
		col(lang, "duration", "Duration (s)", integer),
		col(lang, "billsec", "Billed (s)", integer),
		col(lang, "disposition", "Disposition", text),
		col(lang, "accountcode", "Account code", text),
		col(lang, "userfield", "User field", text),
	}}
	return []*Table{calls, legs}
}

// Call is the summary of one call's legs.
type Call struct {
	ID          string
	Start       time.Time
	Caller      string
	CallerName  string
	Called      string
	AnsweredBy  string
	Outcome     string // ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION
	Wait        int    // first leg's start to the first answer (or to the end)
	Talk        int    // first answer to the end of the last leg
	Duration    int    // first start to the last end
	Legs        int
	AccountCode string
}

// outcomeRank orders dispositions: the call's outcome is the best of its legs'.
var outcomeRank = map[string]int{"ANSWERED": 5, "BUSY": 4, "NO ANSWER": 3, "CONGESTION": 2, "FAILED": 1}

// Summarize makes the call of legs (one call's, in Sequence order).
func Summarize(legs []CDR) Call {
	first := &legs[0]
	name, num := SplitCallerID(first.CallerID)
	if num == "" {
		num = first.Src
	}
	c := Call{ID: first.LinkedID, Start: first.Start, Caller: num, CallerName: name, Called: first.Dst,
		Legs: len(legs), AccountCode: first.AccountCode}
	if c.ID == "" {
		c.ID = first.UniqueID
	}
	var end, answer time.Time
	best := -1
	for i := range legs {
		l := &legs[i]
		if l.Start.Before(c.Start) {
			c.Start = l.Start
		}
		if e := l.EndTime(); e.After(end) {
			end = e
		}
		if r := outcomeRank[l.Disposition]; r > best {
			best, c.Outcome = r, l.Disposition
		}
		if l.Answered() {
			if a := l.AnswerTime(); answer.IsZero() || a.Before(answer) {
				answer = a
				c.AnsweredBy = ChannelPeer(l.DstChannel)
				if c.AnsweredBy == "" {
					c.AnsweredBy = l.Dst
				}
			}
		}
	}
	c.Duration = int(end.Sub(c.Start) / time.Second)
	if answer.IsZero() {
		c.Wait = c.Duration
	} else {
		c.Wait = int(answer.Sub(c.Start) / time.Second)
		c.Talk = c.Duration - c.Wait
	}
	return c
}

// Stats counts what an export wrote.
type Stats struct {
	// Rows is the number of data rows of the main table (calls, queue calls,
	// audit rows).
	Rows int64
	// Detail is the number of rows of the other tables (legs, attempts, events).
	Detail int64
}

// WriteCDRs streams the calls started in [from, to) from src into sink, with
// their legs when tables has the legs table (see CDRTables).
func WriteCDRs(ctx context.Context, src CDRSource, from, to time.Time, tables []*Table, sink Sink) (Stats, error) {
	var st Stats
	calls := tables[0]
	var legsT *Table
	if len(tables) > 1 {
		legsT = tables[1]
	}
	var buf []CDR
	out := newCellWriter(sink)
	callCells := make([]cell, 0, len(calls.Columns))
	var legCells []cell
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		c := Summarize(buf)
		callCells = append(callCells[:0], textCell(c.ID), timeCell(c.Start), textCell(c.Caller), textCell(c.CallerName),
			textCell(c.Called), textCell(c.AnsweredBy), textCell(c.Outcome), intCell(c.Wait), intCell(c.Talk),
			intCell(c.Duration), intCell(c.Legs), textCell(c.AccountCode))
		if err := out.row(calls, callCells); err != nil {
			return err
		}
		st.Rows++
		if legsT != nil {
			for i := range buf {
				l := &buf[i]
				legCells = append(legCells[:0], textCell(c.ID), intCell(l.Sequence), textCell(l.UniqueID), timeCell(l.Start),
					timeCell(l.AnswerTime()), timeCell(l.EndTime()), textCell(l.CallerID), textCell(l.Src), textCell(l.Dst),
					textCell(l.DContext), textCell(l.Channel), textCell(l.DstChannel), textCell(l.LastApp), textCell(l.LastData),
					intCell(l.Duration), intCell(l.BillSec), textCell(l.Disposition), textCell(l.AccountCode), textCell(l.UserField))
				if err := out.row(legsT, legCells); err != nil {
					return err
				}
				st.Detail++
			}
		}
		buf = buf[:0]
		return nil
	}
	legs := src.Legs
	if ss, ok := src.(SummarySource); ok && legsT == nil {
		legs = ss.SummaryLegs
	}
	n := 0
	err := legs(ctx, from, to, func(l *CDR) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key := l.LinkedID
		if key == "" {
			key = l.UniqueID
		}
		if len(buf) > 0 {
			prev := buf[0].LinkedID
			if prev == "" {
				prev = buf[0].UniqueID
			}
			if prev != key {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		buf = append(buf, *l)
		return nil
	})
	if err != nil {
		return st, err
	}
	return st, flush()
}
