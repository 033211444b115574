package pbxdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
)

// cdrShape is which optional columns the cdr table has: FreePBX/NethVoice add
// cnum, cnam, dst_cnam and recordingfile to Asterisk's own columns; a plain
// cdr_mysql table has none of them.
type cdrShape struct{ cnum, cnam, dstCnam, recordingfile bool }

// cdrColumns reads the cdr table's optional columns, once it succeeds.
func (d *DB) cdrColumns(ctx context.Context) (cdrShape, error) {
	d.qlMu.Lock()
	defer d.qlMu.Unlock()
	if d.cdrKnown {
		return d.cdrSh, nil
	}
	cols, err := d.columns(ctx, d.cfg.Table)
	if err != nil {
		return cdrShape{}, fmt.Errorf("pbxdb: cdr columns: %w", err)
	}
	if !cols["calldate"] || !cols["uniqueid"] || !cols["linkedid"] {
		return cdrShape{}, fmt.Errorf("pbxdb: table %s does not exist, is not readable or has no calldate, uniqueid and linkedid", d.cfg.Table)
	}
	d.cdrSh = cdrShape{cnum: cols["cnum"], cnam: cols["cnam"], dstCnam: cols["dst_cnam"], recordingfile: cols["recordingfile"]}
	d.cdrKnown = true
	return d.cdrSh, nil
}

// columns is the set of table's column names, lower-cased (empty when the
// table does not exist or cannot be read).
func (d *DB) columns(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err == nil {
			cols[c] = true
		}
	}
	return cols, rows.Err()
}

// likeEscape escapes LIKE's wildcards with '!', which means the same whether
// or not the server's sql_mode has NO_BACKSLASH_ESCAPES.
var likeEscape = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// placeholders is "(?,?,...)" for n values.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
}

// CallHistory answers the CTI's call history from the cdr table, as
// cdr.Store.Query answers it from the CDRs the CTI kept: the same selection,
// filters, merging and order, so a client sees the same rows whichever source
// serves it. A call's legs are grouped by uniqueid, linkedid (uniqueid
// without one) and disposition; the group's longest leg gives the fields, and
// its billable seconds are the answered leg's. Everything is done by the
// server: only the page asked for is read. Legs are looked at a day around
// the interval, to tell a lost call from one answered by another leg.
func (d *DB) CallHistory(ctx context.Context, q cdr.Query) (int, []cdr.Row, error) {
	col, dir, err := q.Order()
	if err != nil {
		return 0, nil, err
	}
	sh, err := d.cdrColumns(ctx)
	if err != nil {
		return 0, nil, err
	}
	switch col {
	case "time":
		col = "calldate"
	case "billsec":
		col = "bill" // the group's, as the rows show it
	}
	order := col + " " + dir

	// The columns FreePBX fills, or what Asterisk's clid says (as the CTI
	// reads the CallerID of a Cdr event).
	cnum := `CASE WHEN c.clid LIKE '%<%>' THEN SUBSTRING_INDEX(SUBSTRING_INDEX(c.clid, '<', -1), '>', 1) ELSE c.src END`
	if sh.cnum {
		cnum = `CASE WHEN COALESCE(c.cnum, '') <> '' THEN c.cnum ELSE ` + cnum + ` END`
	}
	cnam := `CASE WHEN c.clid LIKE '%<%>' THEN TRIM(BOTH '"' FROM TRIM(LEFT(c.clid, CHAR_LENGTH(c.clid) - CHAR_LENGTH(SUBSTRING_INDEX(c.clid, '<', -1)) - 1))) ELSE '' END`
	if sh.cnam {
		cnam = `CASE WHEN COALESCE(c.cnam, '') <> '' THEN c.cnam ELSE ` + cnam + ` END`
	}
	// The recording: FreePBX's column, else the userfield (where the CTI
	// finds it in a Cdr event, which has no recordingfile).
	dstCnam, recording := `''`, `COALESCE(c.userfield, '')`
	if sh.dstCnam {
		dstCnam = `COALESCE(c.dst_cnam, '')`
	}
	if sh.recordingfile {
		recording = `COALESCE(NULLIF(c.recordingfile, ''), c.userfield, '')`
	}

	// legs: every leg a day around the interval, with what the selection
	// needs: the call's key, the group's billable seconds, whether the
	// group or the call's first channel was answered, the queue the call's
	// first channel went to. All are window functions: a subquery on the
	// CTE per row would build it again for each row.
	var args []any
	typ := `'internal'`
	if len(q.Trunks) > 0 {
		var in, out []string
		for _, t := range q.Trunks {
			in = append(in, `c.channel LIKE ?`)
			args = append(args, "%/"+likeEscape.Replace(t)+"-%")
		}
		for _, t := range q.Trunks {
			out = append(out, `c.dstchannel LIKE ?`)
			args = append(args, "%/"+likeEscape.Replace(t)+"-%")
		}
		// LIKE's default escape is the backslash; '!' is named in each test.
		for i := range in {
			in[i] += ` ESCAPE '!'`
			out[i] += ` ESCAPE '!'`
		}
		typ = `CASE WHEN ` + strings.Join(in, " OR ") + ` THEN 'in' WHEN ` + strings.Join(out, " OR ") + ` THEN 'out' ELSE 'internal' END`
	}
	lo, hi := d.local(q.From.Add(-margin)), d.local(q.To.Add(margin))
	from, to := d.local(q.From), d.local(q.To)
	args = append(args, lo, hi)
	// Open lets only a plain identifier be the table name.
	legs := fmt.Sprintf(`legs0 AS (
		SELECT c.calldate, CAST(c.calldate AS CHAR) AS start, COALESCE(c.channel, '') AS channel,
			COALESCE(c.dstchannel, '') AS dstchannel, c.uniqueid, COALESCE(NULLIF(c.linkedid, ''), c.uniqueid) AS callkey,
			COALESCE(c.userfield, '') AS userfield, COALESCE(c.duration, 0) AS duration, COALESCE(c.billsec, 0) AS billsec,
			COALESCE(c.disposition, '') AS disposition, COALESCE(c.dcontext, '') AS dcontext, COALESCE(c.lastapp, '') AS lastapp,
			%[2]s AS recordingfile, COALESCE(%[3]s, '') AS cnum, COALESCE(%[4]s, '') AS cnam, COALESCE(c.src, '') AS src,
			COALESCE(c.dst, '') AS dst, %[5]s AS dst_cnam, COALESCE(c.clid, '') AS clid, %[6]s AS typ, COALESCE(c.sequence, 0) AS sequence
		FROM %[1]s c WHERE c.calldate >= ? AND c.calldate < ?
	), legs AS (
		SELECT l.*,
			CASE WHEN l.disposition = 'ANSWERED' THEN MAX(l.billsec) OVER grp ELSE MIN(l.billsec) OVER grp END AS bill,
			MAX(l.disposition = 'ANSWERED') OVER (PARTITION BY l.uniqueid, l.callkey) AS leg_answered,
			MAX(l.uniqueid = l.callkey AND l.disposition = 'ANSWERED') OVER (PARTITION BY l.callkey) AS call_answered,
			MAX(CASE WHEN l.uniqueid = l.callkey AND l.lastapp = 'Queue' THEN l.dst END) OVER (PARTITION BY l.callkey) AS queue
		FROM legs0 l WINDOW grp AS (PARTITION BY l.uniqueid, l.callkey, l.disposition)
	)`, "`"+d.cfg.Table+"`", recording, cnum, cnam, dstCnam, typ)

	where := `l.calldate >= ? AND l.calldate < ?`
	wargs := []any{from, to}
	var exts []any
	for _, e := range q.Extensions {
		exts = append(exts, e)
	}
	mine := func(col string) string { return col + " IN " + placeholders(len(exts)) }
	lost := `('NO ANSWER','BUSY','FAILED')`
	switch {
	case len(exts) == 0:
	case q.Direction == "in":
		where += ` AND NOT ` + mine("l.cnum") + ` AND ` + mine("l.dst")
		wargs = append(append(wargs, exts...), exts...)
	case q.Direction == "lost":
		where += ` AND NOT ` + mine("l.cnum") + ` AND ` + mine("l.dst") + ` AND l.disposition IN ` + lost + ` AND NOT l.call_answered`
		wargs = append(append(wargs, exts...), exts...)
	case q.Direction == "out":
		where += ` AND ` + mine("l.cnum") + ` AND NOT ` + mine("l.dst")
		wargs = append(append(wargs, exts...), exts...)
	default:
		where += ` AND (` + mine("l.cnum") + ` OR ` + mine("l.dst") + ` OR ` + mine("l.src") + `)`
		wargs = append(append(append(wargs, exts...), exts...), exts...)
	}
	// The unanswered leg of a call that was answered is not a call of its own.
	where += ` AND NOT (l.disposition = 'NO ANSWER' AND l.leg_answered)`
	if q.RemoveLost {
		where += ` AND l.disposition NOT IN ` + lost
	}
	if q.Filter != "" {
		where += ` AND (l.src LIKE ? ESCAPE '!' OR l.dst LIKE ? ESCAPE '!' OR l.cnum LIKE ? ESCAPE '!' OR l.cnam LIKE ? ESCAPE '!' OR l.clid LIKE ? ESCAPE '!')`
		like := "%" + likeEscape.Replace(q.Filter) + "%"
		wargs = append(wargs, like, like, like, like, like)
	}
	if q.Type != "" {
		where += ` AND l.typ = ?`
		wargs = append(wargs, q.Type)
	}
	direction := `''`
	var dargs []any
	if len(exts) > 0 {
		direction = `CASE WHEN ` + mine("l.cnum") + ` AND NOT ` + mine("l.dst") + ` THEN 'out' WHEN NOT ` + mine("l.cnum") + ` AND ` + mine("l.dst") + ` THEN 'in' ELSE '' END`
		dargs = append(append(append(append(dargs, exts...), exts...), exts...), exts...)
	}
	// picked: the selected legs, the longest of each group first.
	picked := `picked AS (
		SELECT l.*, ` + direction + ` AS direction, ROW_NUMBER() OVER (PARTITION BY l.uniqueid, l.callkey, l.disposition
			ORDER BY l.duration DESC, l.sequence, l.calldate) AS rn
		FROM legs l WHERE ` + where + `
	)`
	with := `WITH ` + legs + `, ` + picked + ` `
	allArgs := append(append(append([]any{}, args...), dargs...), wargs...)

	var n int
	if err := d.db.QueryRowContext(ctx, with+`SELECT COUNT(*) FROM picked WHERE rn = 1`, allArgs...).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("pbxdb: history count: %w", err)
	}
	out := []cdr.Row{}
	if n <= q.Offset {
		return n, out, nil
	}
	//nolint:gosec // G202: with and order are built from constants (Query.Order checks the sort); values go through placeholders
	sel := with + `SELECT p.start, p.channel, p.dstchannel, p.uniqueid, p.callkey, p.userfield, p.duration, p.bill, p.disposition,
		p.dcontext, p.lastapp, p.recordingfile, p.cnum, p.cnam, p.src, p.dst, p.dst_cnam, p.clid, p.direction, p.typ,
		CASE WHEN p.queue IS NOT NULL AND p.queue <> p.dst THEN p.queue ELSE '' END
		FROM picked p WHERE p.rn = 1 ORDER BY p.` + order + `, p.uniqueid DESC LIMIT ? OFFSET ?`
	rows, err := d.db.QueryContext(ctx, sel, append(allArgs, q.Limit, q.Offset)...)
	if err != nil {
		return 0, nil, fmt.Errorf("pbxdb: history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r cdr.Row
		var start string
		if err := rows.Scan(&start, &r.Channel, &r.DstChannel, &r.Uniqueid, &r.Linkedid, &r.Userfield, &r.Duration, &r.Billsec,
			&r.Disposition, &r.Dcontext, &r.Lastapp, &r.Recordingfile, &r.Cnum, &r.Cnam, &r.Src, &r.Dst, &r.DstCnam, &r.Clid,
			&r.Direction, &r.Type, &r.Queue); err != nil {
			return 0, nil, fmt.Errorf("pbxdb: history: %w", err)
		}
		t, err := d.parse(start)
		if err != nil {
			return 0, nil, fmt.Errorf("pbxdb: history calldate %q: %w", start, err)
		}
		r.Time = t.Unix()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("pbxdb: history: %w", err)
	}
	return n, out, nil
}
