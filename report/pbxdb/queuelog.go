package pbxdb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/report"
)

// shape reads which data columns the queue_log table has: "data" (the
// fields joined with "|"), data1..data5 (queue_adaptive_realtime), or both
// (FreePBX's table; Asterisk fills one or the other). It is asked once it
// succeeds (the table may be created later).
func (d *DB) shape(ctx context.Context) (qlShape, error) {
	d.qlMu.Lock()
	defer d.qlMu.Unlock()
	if d.qlKnown {
		return d.ql, nil
	}
	cols, err := d.columns(ctx, d.cfg.QueueLog)
	if err != nil {
		return qlShape{}, fmt.Errorf("pbxdb: queue_log columns: %w", err)
	}
	sh := qlShape{data: cols["data"], data1: cols["data1"] && cols["data2"] && cols["data3"] && cols["data4"] && cols["data5"]}
	switch {
	case len(cols) == 0:
		return sh, fmt.Errorf("pbxdb: table %s does not exist (or is not readable)", d.cfg.QueueLog)
	case !sh.data && !sh.data1:
		return sh, fmt.Errorf("pbxdb: table %s has neither data1..data5 nor data", d.cfg.QueueLog)
	}
	d.ql, d.qlKnown = sh, true
	return sh, nil
}

// qlShape is which data columns queue_log has.
type qlShape struct{ data, data1 bool }

func (sh qlShape) cols() string {
	data, data1 := `''`, `'', '', '', '', ''`
	if sh.data {
		data = `COALESCE(q.data, '')`
	}
	if sh.data1 {
		data1 = `COALESCE(q.data1, ''), COALESCE(q.data2, ''), COALESCE(q.data3, ''), COALESCE(q.data4, ''), COALESCE(q.data5, '')`
	}
	return data + ", " + data1
}

// entryEvents start a queue call.
const entryEvents = `'ENTERQUEUE', 'FULL', 'JOINEMPTY', 'JOINUNAVAIL'`

// CallRows streams the rows of the queue calls that entered in [from, to),
// one call after the other, by entry; a call's later rows (a long talk) are
// read up to a day after to.
func (d *DB) CallRows(ctx context.Context, from, to time.Time, fn func(*report.QueueLogRow) error) error {
	sh, err := d.shape(ctx)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`SELECT CAST(q.time AS CHAR), q.callid, q.queuename, COALESCE(q.agent, ''), q.event, %[2]s
		FROM %[1]s q JOIN (
			SELECT callid, queuename, MIN(time) AS entered FROM %[1]s
			WHERE event IN (%[3]s) AND time >= ? AND time < ?
			GROUP BY callid, queuename
		) e ON q.callid = e.callid AND q.queuename = e.queuename
		WHERE q.time >= ? AND q.time < ?
		ORDER BY e.entered, q.callid, q.queuename, q.time, q.event = 'ENTERQUEUE' DESC`,
		"`"+d.cfg.QueueLog+"`", sh.cols(), entryEvents)
	f, t := d.local(from), d.local(to)
	return d.rows(ctx, q, fn, f, t, f, d.local(to.Add(margin)))
}

// MemberRows streams the operator events of [from, to).
func (d *DB) MemberRows(ctx context.Context, from, to time.Time, fn func(*report.QueueLogRow) error) error {
	sh, err := d.shape(ctx)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`SELECT CAST(q.time AS CHAR), q.callid, q.queuename, COALESCE(q.agent, ''), q.event, %[2]s
		FROM %[1]s q WHERE q.event IN ('%[3]s') AND q.time >= ? AND q.time < ? ORDER BY q.time`,
		"`"+d.cfg.QueueLog+"`", sh.cols(), strings.Join(report.MemberEvents, "', '"))
	return d.rows(ctx, q, fn, d.local(from), d.local(to))
}

func (d *DB) rows(ctx context.Context, q string, fn func(*report.QueueLogRow) error, args ...any) error {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("pbxdb: queue_log: %w", err)
	}
	defer rows.Close()
	var r report.QueueLogRow
	var ts, joined string
	for rows.Next() {
		if err := rows.Scan(&ts, &r.CallID, &r.Queue, &r.Agent, &r.Event, &joined, &r.Data[0], &r.Data[1], &r.Data[2], &r.Data[3], &r.Data[4]); err != nil {
			return fmt.Errorf("pbxdb: queue_log: %w", err)
		}
		if r.Time, err = d.parse(ts); err != nil {
			continue // a hand-written row with a bad time is no event
		}
		if r.Data == [5]string{} && joined != "" {
			copy(r.Data[:], strings.SplitN(joined, "|", 5))
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pbxdb: queue_log: %w", err)
	}
	return nil
}
