package pbxdb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/report"
)

// shape says whether the queue_log table has only "data" (joined with
// "|") rather than data1..data5: Asterisk writes whichever the table has.
// It is asked once it succeeds (the table may be created later).
func (d *DB) shape(ctx context.Context) (bool, error) {
	d.qlMu.Lock()
	defer d.qlMu.Unlock()
	if d.qlKnown {
		return d.qlSplit, nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, d.cfg.QueueLog)
	if err != nil {
		return false, fmt.Errorf("pbxdb: queue_log columns: %w", err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err == nil {
			cols[c] = true
		}
	}
	switch {
	case len(cols) == 0:
		return false, fmt.Errorf("pbxdb: table %s does not exist (or is not readable)", d.cfg.QueueLog)
	case cols["data1"]:
	case cols["data"]:
		d.qlSplit = true
	default:
		return false, fmt.Errorf("pbxdb: table %s has neither data1..data5 nor data", d.cfg.QueueLog)
	}
	d.qlKnown = true
	return d.qlSplit, nil
}

func (d *DB) dataCols(split bool) string {
	if split {
		return `COALESCE(q.data, ''), '', '', '', ''`
	}
	return `COALESCE(q.data1, ''), COALESCE(q.data2, ''), COALESCE(q.data3, ''), COALESCE(q.data4, ''), COALESCE(q.data5, '')`
}

// entryEvents start a queue call.
const entryEvents = `'ENTERQUEUE', 'FULL', 'JOINEMPTY', 'JOINUNAVAIL'`

// CallRows streams the rows of the queue calls that entered in [from, to),
// one call after the other, by entry; a call's later rows (a long talk) are
// read up to a day after to.
func (d *DB) CallRows(ctx context.Context, from, to time.Time, fn func(*report.QueueLogRow) error) error {
	split, err := d.shape(ctx)
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
		"`"+d.cfg.QueueLog+"`", d.dataCols(split), entryEvents)
	f, t := d.local(from), d.local(to)
	return d.rows(ctx, q, split, fn, f, t, f, d.local(to.Add(margin)))
}

// MemberRows streams the operator events of [from, to).
func (d *DB) MemberRows(ctx context.Context, from, to time.Time, fn func(*report.QueueLogRow) error) error {
	split, err := d.shape(ctx)
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`SELECT CAST(q.time AS CHAR), q.callid, q.queuename, COALESCE(q.agent, ''), q.event, %[2]s
		FROM %[1]s q WHERE q.event IN ('%[3]s') AND q.time >= ? AND q.time < ? ORDER BY q.time`,
		"`"+d.cfg.QueueLog+"`", d.dataCols(split), strings.Join(report.MemberEvents, "', '"))
	return d.rows(ctx, q, split, fn, d.local(from), d.local(to))
}

func (d *DB) rows(ctx context.Context, q string, split bool, fn func(*report.QueueLogRow) error, args ...any) error {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("pbxdb: queue_log: %w", err)
	}
	defer rows.Close()
	var r report.QueueLogRow
	var ts string
	for rows.Next() {
		if err := rows.Scan(&ts, &r.CallID, &r.Queue, &r.Agent, &r.Event, &r.Data[0], &r.Data[1], &r.Data[2], &r.Data[3], &r.Data[4]); err != nil {
			return fmt.Errorf("pbxdb: queue_log: %w", err)
		}
		if r.Time, err = d.parse(ts); err != nil {
			continue // a hand-written row with a bad time is no event
		}
		if split {
			parts := strings.SplitN(r.Data[0], "|", 5)
			r.Data = [5]string{}
			copy(r.Data[:], parts)
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
