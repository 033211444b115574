package cdr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/report"
)

var (
	_ report.CDRSource = (*Store)(nil)
	_ report.QueueLog  = (*Store)(nil)
)

// local is t as the PBX's wall time (how rows are filtered: the same
// wall-clock semantics as the PBX's own cdr table).
func (s *Store) local(t time.Time) string { return t.In(s.loc).Format(localLayout) }

func (s *Store) parseLocal(v string) time.Time {
	t, _ := time.ParseInLocation(localLayout, v, s.loc)
	return t
}

// hourCache parses "2006-01-02 15:04:05" wall times that come in order,
// mostly within the same hour: the hour is parsed once (offsets change only
// at hour boundaries in practice, and a wall time in the repeated autumn hour
// is ambiguous anyway), minutes and seconds are added.
type hourCache struct {
	s    *Store
	hour string // "2006-01-02 15"
	base time.Time
}

func (h *hourCache) parse(v string) time.Time {
	if len(v) != len(localLayout) || v[13] != ':' || v[16] != ':' {
		return h.s.parseLocal(v)
	}
	if v[:13] != h.hour {
		h.hour, h.base = v[:13], h.s.parseLocal(v[:13]+":00:00")
	}
	m, s := atoi(v[14:16]), atoi(v[17:19])
	return h.base.Add(time.Duration(m*60+s) * time.Second)
}

// margin widens the window a call's queue rows are looked for in: a long
// call's last ones come after to.
const margin = 24 * time.Hour

// sep joins a leg's columns into one string: with modernc's SQLite every
// column read costs a locked call into the engine, and one column per row
// instead of seventeen halves the time of a million-row export. The columns
// are joined by concat_ws, which sizes the result once: a chain of || copies
// the growing string at each of its 32 steps (a seventh of the export's CPU
// time). Add keeps the separator (a control character) out of stored values,
// and no column is NULL (concat_ws would skip it).
const sep = "\x1f"

// legsQuery selects a leg's columns joined by sep (char(31)), in the order
// Legs reads them.
const legsQuery = `SELECT concat_ws(char(31),
	start_local, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec, disposition,
	accountcode, uniqueid, linkedid, sequence, userfield)
	FROM cdr_leg WHERE call_start >= ? AND call_start < ?
	ORDER BY call_start, callkey, sequence, id`

// summaryLegsQuery is legsQuery with what report.Summarize does not read left
// empty: dcontext, channel, lastapp, lastdata, sequence (0: the order is the
// query's) and userfield.
const summaryLegsQuery = `SELECT concat_ws(char(31),
	start_local, clid, src, dst, '', '', dstchannel, '', '', duration, billsec, disposition,
	accountcode, uniqueid, linkedid, 0, '')
	FROM cdr_leg WHERE call_start >= ? AND call_start < ?
	ORDER BY call_start, callkey, sequence, id`

// Legs streams the legs of the calls whose first leg started in [from, to):
// one call's legs together by sequence, the calls by their start. The table is
// kept in that order (see schema): this is one range scan.
func (s *Store) Legs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	return s.legs(ctx, from, to, legsQuery, fn)
}

// SummaryLegs is Legs with only the fields report.Summarize reads: what a
// CDR export without legs needs, and less for SQLite to assemble.
func (s *Store) SummaryLegs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	return s.legs(ctx, from, to, summaryLegsQuery, fn)
}

var _ report.SummarySource = (*Store)(nil)

func (s *Store) legs(ctx context.Context, from, to time.Time, query string, fn func(*report.CDR) error) error {
	rows, err := s.db.QueryContext(ctx, query, s.local(from), s.local(to))
	if err != nil {
		return fmt.Errorf("cdr: legs: %w", err)
	}
	defer rows.Close()
	var c report.CDR
	var packed string
	var f [17]string
	hc := hourCache{s: s}
	for rows.Next() {
		if err := rows.Scan(&packed); err != nil {
			return fmt.Errorf("cdr: legs: %w", err)
		}
		n := 0
		for n < len(f)-1 {
			i := strings.Index(packed, sep)
			if i < 0 {
				break
			}
			f[n], packed = packed[:i], packed[i+1:]
			n++
		}
		f[n] = packed
		if n != len(f)-1 {
			return fmt.Errorf("cdr: legs: a damaged row (%d columns)", n+1)
		}
		c = report.CDR{Start: hc.parse(f[0]), CallerID: f[1], Src: f[2], Dst: f[3], DContext: f[4], Channel: f[5],
			DstChannel: f[6], LastApp: f[7], LastData: f[8], Duration: atoi(f[9]), BillSec: atoi(f[10]), Disposition: f[11],
			AccountCode: f[12], UniqueID: f[13], LinkedID: f[14], Sequence: atoi(f[15]), UserField: f[16]}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cdr: legs: %w", err)
	}
	return nil
}

// QueueEvents are the AMI events AddQueueEvent records.
var QueueEvents = map[string]bool{
	"QueueCallerJoin": true, "QueueCallerLeave": true, "QueueCallerAbandon": true, "AgentConnect": true,
	"AgentComplete": true, "AgentRingNoAnswer": true, "QueueMemberAdded": true, "QueueMemberRemoved": true,
	"QueueMemberPause": true,
}

// AddQueueEvent records an app_queue AMI event as the queue_log line Asterisk
// writes for it (see report.BuildQueueCall), so that exports from AMI and
// from the PBX's queue_log are built alike:
//
//	QueueCallerJoin    -> ENTERQUEUE |<caller>|<position>|<caller name>
//	AgentRingNoAnswer  -> RINGNOANSWER <ring ms>
//	AgentConnect       -> CONNECT <hold>|<agent uniqueid>|<ring s>
//	AgentComplete      -> COMPLETECALLER / COMPLETEAGENT <hold>|<talk>|, or
//	                      (Reason transfer) ATTENDEDTRANSFER ||<hold>|<talk>|
//	QueueCallerAbandon -> ABANDON <position>|<original position>|<hold>
//	QueueCallerLeave   -> LEAVE <position> (AMI does not say why; a call
//	                      with no other outcome "exit"s)
//	QueueMemberAdded   -> ADDMEMBER (agent = interface, as queue_log)
//	QueueMemberRemoved -> REMOVEMEMBER (agent = interface)
//	QueueMemberPause   -> PAUSE / UNPAUSE <reason> (agent = member name)
//
// The time is the event's Timestamp header when Asterisk sends one
// (timestampevents = yes), else now.
func (s *Store) AddQueueEvent(ctx context.Context, ev ami.Message, now time.Time) error {
	t := now
	if ts := ev.Get("Timestamp"); ts != "" {
		var sec, usec int64
		if _, err := fmt.Sscanf(ts, "%d.%d", &sec, &usec); err == nil && sec > 0 {
			t = time.Unix(sec, usec*1000)
		}
	}
	q, uid := ev.Get("Queue"), ev.Get("Uniqueid")
	var event, agent string
	var data [5]string
	switch ev.Event() {
	case "QueueCallerJoin":
		event, agent = "ENTERQUEUE", "NONE"
		data = [5]string{"", ev.Get("CallerIDNum"), ev.Get("Position"), callerName(ev.Get("CallerIDName"))}
	case "AgentRingNoAnswer":
		event, agent, data[0] = "RINGNOANSWER", ev.Get("MemberName"), ev.Get("RingTime")
	case "AgentConnect":
		event, agent = "CONNECT", ev.Get("MemberName")
		data = [5]string{ev.Get("HoldTime"), ev.Get("DestUniqueid"), ev.Get("RingTime")}
	case "AgentComplete":
		agent = ev.Get("MemberName")
		switch strings.ToLower(ev.Get("Reason")) {
		case "agent":
			event = "COMPLETEAGENT"
		case "transfer":
			event = "ATTENDEDTRANSFER"
		default:
			event = "COMPLETECALLER"
		}
		data = [5]string{ev.Get("HoldTime"), ev.Get("TalkTime")}
		if event == "ATTENDEDTRANSFER" {
			data = [5]string{"", "", ev.Get("HoldTime"), ev.Get("TalkTime")}
		}
	case "QueueCallerAbandon":
		event, agent = "ABANDON", "NONE"
		data = [5]string{ev.Get("Position"), ev.Get("OriginalPosition"), ev.Get("HoldTime")}
	case "QueueCallerLeave":
		event, agent, data[0] = "LEAVE", "NONE", ev.Get("Position")
	case "QueueMemberAdded", "QueueMemberRemoved":
		event, agent, uid = "ADDMEMBER", ev.Get("Interface"), "MANAGER"
		if ev.Event() == "QueueMemberRemoved" {
			event = "REMOVEMEMBER"
		} else if ev.Get("Paused") == "1" {
			data[0] = "PAUSED"
		}
	case "QueueMemberPause":
		event, agent, uid = "UNPAUSE", ev.Get("MemberName"), "NONE"
		if ev.Get("Paused") == "1" {
			event = "PAUSE"
		}
		data[0] = ev.Get("PausedReason")
		if data[0] == "" {
			data[0] = ev.Get("Reason") // before Asterisk 13
		}
	default:
		return nil
	}
	if q == "" || uid == "" {
		return nil
	}
	if agent == "" {
		agent = "NONE"
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO queue_log(time, time_local, callid, queuename, agent, event, data1, data2, data3, data4, data5)
		VALUES (?,?,?,?,?,?,?,?,?,?,?)`, t.Unix(), s.local(t), uid, q, agent, event, data[0], data[1], data[2], data[3], data[4])
	if err != nil {
		return fmt.Errorf("cdr: queue event %s: %w", ev.Event(), err)
	}
	return nil
}

// callerName drops Asterisk's "<unknown>" placeholder.
func callerName(n string) string {
	if n == "<unknown>" {
		return ""
	}
	return n
}

// CallRows streams the queue-log rows of the calls that entered a queue in
// [from, to), call by call.
func (s *Store) CallRows(ctx context.Context, from, to time.Time, fn func(*report.QueueLogRow) error) error {
	return s.queueRows(ctx, `SELECT q.time_local, q.callid, q.queuename, q.agent, q.event, q.data1, q.data2, q.data3, q.data4, q.data5
		FROM queue_log q JOIN (
			SELECT callid, queuename, MIN(time_local) AS entered FROM queue_log
			WHERE event IN ('ENTERQUEUE', 'FULL', 'JOINEMPTY', 'JOINUNAVAIL') AND time_local >= ? AND time_local < ?
			GROUP BY callid, queuename
		) e ON q.callid = e.callid AND q.queuename = e.queuename
		WHERE q.time_local >= ? AND q.time_local < ?
		ORDER BY e.entered, q.callid, q.queuename, q.id`, fn, s.local(from), s.local(to), s.local(from), s.local(to.Add(margin)))
}

// MemberRows streams the operator events of [from, to).
func (s *Store) MemberRows(ctx context.Context, from, to time.Time, fn func(*report.QueueLogRow) error) error {
	return s.queueRows(ctx, `SELECT time_local, callid, queuename, agent, event, data1, data2, data3, data4, data5
		FROM queue_log WHERE event IN ('`+strings.Join(report.MemberEvents, "', '")+`') AND time_local >= ? AND time_local < ?
		ORDER BY time_local, id`, fn, s.local(from), s.local(to))
}

func (s *Store) queueRows(ctx context.Context, q string, fn func(*report.QueueLogRow) error, args ...any) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("cdr: queue log: %w", err)
	}
	defer rows.Close()
	var r report.QueueLogRow
	var ts string
	for rows.Next() {
		if err := rows.Scan(&ts, &r.CallID, &r.Queue, &r.Agent, &r.Event, &r.Data[0], &r.Data[1], &r.Data[2], &r.Data[3], &r.Data[4]); err != nil {
			return fmt.Errorf("cdr: queue log: %w", err)
		}
		r.Time = s.parseLocal(ts)
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cdr: queue log: %w", err)
	}
	return nil
}
