package cdr

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// FileName is the name of the history file, kept beside the store's database.
const FileName = "cti-history.db"

// PathBeside is the history file beside the store's database file.
func PathBeside(storePath string) string {
	return filepath.Join(filepath.Dir(storePath), FileName)
}

// Store keeps call detail records from AMI "Cdr" events (cdr_manager) and the
// queue events of app_queue in a SQLite file of its own beside the
// configuration store: they are not configuration, are never audited, and grow
// with traffic. Every CDR is kept: park, pickup and transfers give a call
// several CDRs, some with the same UniqueID, told apart by Sequence (cdr_manager
// sends LinkedID and Sequence when its [mappings] name them, as they should); a
// repeated event (re-sent after a reconnect) replaces its row instead of
// duplicating it. Several Stores (the CTI writing, an export reading) may have
// the same file open: SQLite's WAL mode lets readers run beside the writer.
type Store struct {
	db  *sql.DB
	loc *time.Location // the PBX's zone: Asterisk writes local times
}

// The legs are stored in export order: the primary key starts with the
// start of the leg's call (the earliest start among its legs, kept up to date
// as legs arrive in any order), so that an export of a period is one range
// scan with no sort, and a million rows stream in seconds.
const schema = `
CREATE TABLE IF NOT EXISTS cdr_leg (
	call_start  TEXT NOT NULL,    -- the earliest start_local of the call's legs
	callkey     TEXT NOT NULL,    -- linkedid, or uniqueid without one
	sequence    INTEGER NOT NULL,
	id          TEXT NOT NULL,    -- uniqueid/sequence (see legID)
	uniqueid    TEXT NOT NULL,
	linkedid    TEXT NOT NULL,
	time        INTEGER NOT NULL, -- start, unix seconds
	start_local TEXT NOT NULL,    -- start as Asterisk wrote it (the PBX's wall time)
	clid TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL, dcontext TEXT NOT NULL,
	channel TEXT NOT NULL, dstchannel TEXT NOT NULL, lastapp TEXT NOT NULL, lastdata TEXT NOT NULL,
	duration INTEGER NOT NULL, billsec INTEGER NOT NULL, disposition TEXT NOT NULL,
	accountcode TEXT NOT NULL, userfield TEXT NOT NULL,
	cnum TEXT NOT NULL, cnam TEXT NOT NULL, recordingfile TEXT NOT NULL,
	PRIMARY KEY (call_start, callkey, sequence, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS cdr_leg_id ON cdr_leg(id);
CREATE INDEX IF NOT EXISTS cdr_leg_by_time ON cdr_leg(time);
CREATE INDEX IF NOT EXISTS cdr_leg_by_call ON cdr_leg(callkey);
CREATE TABLE IF NOT EXISTS queue_log (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	time       INTEGER NOT NULL, -- unix seconds
	time_local TEXT NOT NULL,    -- the PBX's wall time, as queue_log writes it
	callid TEXT NOT NULL, queuename TEXT NOT NULL, agent TEXT NOT NULL, event TEXT NOT NULL,
	data1 TEXT NOT NULL, data2 TEXT NOT NULL, data3 TEXT NOT NULL, data4 TEXT NOT NULL, data5 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_log_by_local ON queue_log(time_local);
CREATE INDEX IF NOT EXISTS queue_log_by_call ON queue_log(callid, queuename);
`

// migrateV1 moves the rows of the first schema (one row per uniqueid and
// destination, the last CDR of a uniqueid overwriting the others) into cdr_leg.
const migrateV1 = `
INSERT OR IGNORE INTO cdr_leg(call_start, id, callkey, uniqueid, linkedid, sequence, time, start_local, clid, src, dst, dcontext,
	channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, accountcode, userfield, cnum, cnam, recordingfile)
SELECT datetime(time, 'unixepoch', 'localtime'), uniqueid || '/' || dst, uniqueid, uniqueid, '', 0, time, datetime(time, 'unixepoch', 'localtime'),
	CASE WHEN cnam = '' THEN '<' || cnum || '>' ELSE '"' || cnam || '" <' || cnum || '>' END,
	src, dst, '', channel, dstchannel, '', '', duration, billsec, disposition, '', recordingfile, cnum, cnam, recordingfile
FROM (SELECT uniqueid, replace(dst, char(31), '') AS dst, time, replace(src, char(31), '') AS src,
	replace(cnum, char(31), '') AS cnum, replace(cnam, char(31), '') AS cnam, replace(channel, char(31), '') AS channel,
	replace(dstchannel, char(31), '') AS dstchannel, duration, billsec, disposition,
	replace(recordingfile, char(31), '') AS recordingfile FROM cdr);
DROP TABLE cdr;
`

// Open opens (creating if needed) the history file at path. The file is made
// private (0600) before SQLite opens it, as the store's is: SQLite gives the
// -wal and -shm files the database file's mode, and they hold the same call
// records; files an older version left readable are made private too. Times
// Asterisk sends are read in the system's zone (see SetLocation).
func Open(ctx context.Context, path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // G304: the configured history file (PathBeside the store's)
	if err != nil {
		return nil, fmt.Errorf("cdr: create %s: %w", path, err)
	}
	f.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cdr: %w", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("cdr: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: open %s: %w", path, err)
	}
	defer tx.Rollback() // after Commit a no-op
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: schema of %s: %w", path, err)
	}
	var old int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'cdr'`).Scan(&old); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: schema of %s: %w", path, err)
	}
	if old > 0 {
		if _, err := tx.ExecContext(ctx, migrateV1); err != nil {
			db.Close()
			return nil, fmt.Errorf("cdr: migrating %s: %w", path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: schema of %s: %w", path, err)
	}
	return &Store{db: db, loc: time.Local}, nil
}

// SetLocation sets the PBX's time zone, in which Asterisk writes StartTime.
func (s *Store) SetLocation(loc *time.Location) {
	if loc != nil {
		s.loc = loc
	}
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

const localLayout = "2006-01-02 15:04:05"

// cdrTime reads "2026-12-01 10:00:00" (Asterisk's local time format).
func (s *Store) cdrTime(v string) (time.Time, string, bool) {
	v = strings.TrimSpace(v)
	t, err := time.ParseInLocation(localLayout, v, s.loc)
	return t, v, err == nil
}

// legID names a CDR: its UniqueID and Sequence when cdr_manager sends the
// sequence; without it, what tells the CDRs of one UniqueID apart.
func legID(ev ami.Message) string {
	uid := ev.Get("UniqueID")
	if seq := strings.TrimSpace(ev.Get("Sequence")); seq != "" {
		return uid + "/" + seq
	}
	return strings.Join([]string{uid, ev.Get("StartTime"), ev.Get("AnswerTime"), ev.Get("DestinationChannel"),
		ev.Get("LastApplication"), ev.Get("Destination")}, "/")
}

// clean drops control characters other than tab and line breaks: they mean
// nothing in a CDR, and the export's column separator is one of them.
func clean(ev ami.Message) ami.Message {
	out := ami.Message{Fields: make([]ami.Field, len(ev.Fields))}
	for i, f := range ev.Fields {
		if strings.ContainsFunc(f.Value, ctl) {
			f.Value = strings.Map(func(r rune) rune {
				if ctl(r) {
					return -1
				}
				return r
			}, f.Value)
		}
		out.Fields[i] = f
	}
	return out
}

func ctl(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }

// Add stores one Cdr event; events without a uniqueid or start time are skipped.
func (s *Store) Add(ctx context.Context, ev ami.Message) error {
	ev = clean(ev)
	start, local, ok := s.cdrTime(ev.Get("StartTime"))
	uid := ev.Get("UniqueID")
	if !ok || uid == "" {
		return nil
	}
	cnum, cnam := ev.Get("Source"), ""
	cid := ev.Get("CallerID")
	if cid != "" {
		// "Alice" <201>
		if i := strings.LastIndexByte(cid, '<'); i >= 0 && strings.HasSuffix(cid, ">") {
			cnam = strings.Trim(strings.TrimSpace(cid[:i]), `"`)
			cnum = cid[i+1 : len(cid)-1]
		}
	}
	linked := ev.Get("LinkedID")
	key := linked
	if key == "" {
		key = uid
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: store %s: %w", uid, err)
	}
	defer tx.Rollback() // after Commit a no-op
	// The call starts with its earliest leg, whichever arrives first.
	callStart := local
	var earliest sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT MIN(start_local) FROM cdr_leg WHERE callkey = ? AND id != ?`, key, legID(ev)).Scan(&earliest); err != nil {
		return fmt.Errorf("cdr: store %s: %w", uid, err)
	}
	if earliest.Valid && earliest.String < callStart {
		callStart = earliest.String
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cdr_leg SET call_start = ? WHERE callkey = ? AND call_start != ?`, callStart, key, callStart); err != nil {
		return fmt.Errorf("cdr: store %s: %w", uid, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO cdr_leg(call_start, id, callkey, uniqueid, linkedid, sequence, time, start_local,
		clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, accountcode, userfield,
		cnum, cnam, recordingfile) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		callStart, legID(ev), key, uid, linked, atoi(ev.Get("Sequence")), start.Unix(), local,
		cid, ev.Get("Source"), ev.Get("Destination"), ev.Get("DestinationContext"), ev.Get("Channel"), ev.Get("DestinationChannel"),
		ev.Get("LastApplication"), ev.Get("LastData"), atoi(ev.Get("Duration")), atoi(ev.Get("BillableSeconds")),
		ev.Get("Disposition"), ev.Get("AccountCode"), ev.Get("UserField"), cnum, cnam, ev.Get("UserField")); err != nil {
		return fmt.Errorf("cdr: store %s: %w", uid, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cdr: store %s: %w", uid, err)
	}
	return nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// CallLegs counts the CDRs kept of a call, by its linkedid (a parked or
// transferred call has several, some of them with one uniqueid).
func (s *Store) CallLegs(ctx context.Context, linkedid string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cdr_leg WHERE callkey = ?`, linkedid).Scan(&n)
	return n, err
}

// Row is one call as nethcti's history answers it: the legs of one UniqueID,
// LinkedID and disposition merged (longest duration; billable seconds of the
// answered leg).
type Row struct {
	Time          int64  `json:"time"` // unix seconds
	Channel       string `json:"channel"`
	DstChannel    string `json:"dstchannel"`
	Uniqueid      string `json:"uniqueid"`
	Linkedid      string `json:"linkedid"`
	Userfield     string `json:"userfield"`
	Duration      int    `json:"duration"`
	Billsec       int    `json:"billsec"`
	Disposition   string `json:"disposition"`
	Dcontext      string `json:"dcontext"`
	Lastapp       string `json:"lastapp"`
	Recordingfile string `json:"recordingfile"`
	Cnum          string `json:"cnum"`
	Cnam          string `json:"cnam"`
	Ccompany      string `json:"ccompany"`
	Src           string `json:"src"`
	Dst           string `json:"dst"`
	DstCnam       string `json:"dst_cnam"`
	DstCcompany   string `json:"dst_ccompany"`
	Clid          string `json:"clid"`
	// Direction is "in" or "out" seen from Query.Extensions ("" when both
	// ends or neither are theirs).
	Direction string `json:"direction"`
	// Type is "in" or "out" for calls through a trunk, "internal" otherwise
	// (switchboard history).
	Type  string `json:"type"`
	Queue string `json:"queue"` // the queue the call went through, or ""
}

// Query selects calls.
type Query struct {
	// Extensions are the extensions whose calls are wanted (as caller or
	// called); nil or empty selects every call.
	Extensions []string
	// From and To bound the start time: From <= time < To.
	From, To time.Time
	// Direction "in" keeps calls to Extensions, "out" calls from them, "lost"
	// unanswered calls to them, "" all. It needs Extensions.
	Direction string
	// Type keeps only "in", "out" (through a trunk) or "internal" calls; "" all.
	Type string
	// Trunks are the trunks' endpoint names (for Type and Row.Type).
	Trunks []string
	// Filter keeps calls whose numbers, caller id or names contain it.
	Filter string
	// RemoveLost leaves out calls not answered (NO ANSWER, BUSY, FAILED).
	RemoveLost bool
	// Sort is "<column> asc|desc" with column time, duration, billsec, src,
	// dst, cnum, cnam or disposition; "" is "time desc".
	Sort string
	// Limit (at least 1) and Offset page through the result.
	Limit, Offset int
}

// QueryError is a query the store refuses; Field names the parameter at fault.
type QueryError struct {
	Field, Msg string
}

func (e *QueryError) Error() string { return e.Msg }

var sortColumns = map[string]bool{"time": true, "duration": true, "billsec": true, "src": true, "dst": true, "cnum": true, "cnam": true, "disposition": true}

const lost = `('NO ANSWER','BUSY','FAILED')`

// Order checks what q asks for, as every history source must refuse it, and
// returns its ordering: the sort column (time, duration, billsec, src, dst,
// cnum, cnam or disposition) and ASC or DESC.
func (q Query) Order() (col, dir string, err error) {
	if !q.From.Before(q.To) {
		return "", "", &QueryError{Field: "from", Msg: "from must be before to"}
	}
	if q.Limit < 1 || q.Offset < 0 {
		return "", "", &QueryError{Field: "limit", Msg: "limit must be at least 1 and offset not negative"}
	}
	switch {
	case q.Direction != "" && q.Direction != "in" && q.Direction != "out" && q.Direction != "lost":
		return "", "", &QueryError{Field: "direction", Msg: "direction must be in, out or lost"}
	case len(q.Extensions) == 0 && q.Direction != "":
		return "", "", &QueryError{Field: "direction", Msg: "direction needs extensions"}
	}
	switch q.Type {
	case "", "in", "out", "internal":
	default:
		return "", "", &QueryError{Field: "type", Msg: "type must be in, out or internal"}
	}
	col, dir = "time", "DESC"
	if q.Sort != "" {
		var d string
		col, d, _ = strings.Cut(strings.TrimSpace(q.Sort), " ")
		d = strings.ToUpper(strings.TrimSpace(d))
		if !sortColumns[col] || (d != "" && d != "ASC" && d != "DESC") {
			return "", "", &QueryError{Field: "sort", Msg: "sort must be a column (time, duration, billsec, src, dst, cnum, cnam, disposition) and asc or desc"}
		}
		dir = firstNonEmpty(d, "ASC")
	}
	return col, dir, nil
}

// CallHistory is Query: the method every source of the CTI's history has.
func (s *Store) CallHistory(ctx context.Context, q Query) (int, []Row, error) { return s.Query(ctx, q) }

// Query counts the calls q selects and returns the page it asks for.
func (s *Store) Query(ctx context.Context, q Query) (int, []Row, error) {
	col, asc, err := q.Order()
	if err != nil {
		return 0, nil, err
	}
	order := col + " " + asc
	where := `time >= ? AND time < ?`
	args := []any{q.From.Unix(), q.To.Unix()}
	var exts []any
	for _, e := range q.Extensions {
		exts = append(exts, e)
	}
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", len(exts)), ",") + ")"
	mine := func(col string) string { return col + " IN " + ph }
	notAnsweredElsewhere := ` AND NOT EXISTS (SELECT 1 FROM cdr_leg b WHERE b.uniqueid = cdr_leg.callkey AND b.disposition = 'ANSWERED')`
	switch {
	case len(exts) == 0:
	case q.Direction == "in":
		where += ` AND NOT ` + mine("cnum") + ` AND ` + mine("dst")
		args = append(append(args, exts...), exts...)
	case q.Direction == "lost":
		where += ` AND NOT ` + mine("cnum") + ` AND ` + mine("dst") + ` AND disposition IN ` + lost + notAnsweredElsewhere
		args = append(append(args, exts...), exts...)
	case q.Direction == "out":
		where += ` AND ` + mine("cnum") + ` AND NOT ` + mine("dst")
		args = append(append(args, exts...), exts...)
	default:
		where += ` AND (` + mine("cnum") + ` OR ` + mine("dst") + ` OR ` + mine("src") + `)`
		args = append(append(append(args, exts...), exts...), exts...)
	}
	// The unanswered leg of a call that was answered is not a call of its own.
	where += ` AND NOT (disposition = 'NO ANSWER' AND EXISTS (SELECT 1 FROM cdr_leg b WHERE b.uniqueid = cdr_leg.uniqueid AND b.callkey = cdr_leg.callkey AND b.disposition = 'ANSWERED'))`
	if q.RemoveLost {
		where += ` AND disposition NOT IN ` + lost
	}
	if q.Filter != "" {
		where += ` AND (src LIKE ? ESCAPE '\' OR dst LIKE ? ESCAPE '\' OR cnum LIKE ? ESCAPE '\' OR cnam LIKE ? ESCAPE '\' OR clid LIKE ? ESCAPE '\')`
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q.Filter) + "%"
		args = append(args, like, like, like, like, like)
	}
	typ := `'internal'`
	if len(q.Trunks) > 0 {
		var in, out []string
		for _, t := range q.Trunks {
			in = append(in, `channel LIKE `+sqlString("%/"+t+"-%"))
			out = append(out, `dstchannel LIKE `+sqlString("%/"+t+"-%"))
		}
		typ = `CASE WHEN ` + strings.Join(in, " OR ") + ` THEN 'in' WHEN ` + strings.Join(out, " OR ") + ` THEN 'out' ELSE 'internal' END`
	}
	if q.Type != "" {
		where += ` AND (` + typ + `) = '` + q.Type + `'`
	}
	group := ` GROUP BY uniqueid, callkey, disposition`
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM cdr_leg WHERE `+where+group+`)`, args...).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("cdr: count: %w", err)
	}
	// One row per call: the leg with the longest duration gives the fields
	// (SQLite takes bare columns from the row MAX picks when MAX is the only
	// aggregate: the billable seconds are a subquery for that reason).
	dir := `''`
	if len(exts) > 0 {
		dir = `CASE WHEN ` + mine("cnum") + ` AND NOT ` + mine("dst") + ` THEN 'out' WHEN NOT ` + mine("cnum") + ` AND ` + mine("dst") + ` THEN 'in' ELSE '' END`
	}
	//nolint:gosec // G202: dir, typ, where, group and order are built from constants (Query.Order checks the sort); values go through placeholders
	sel := `SELECT time, channel, dstchannel, uniqueid, callkey, userfield, MAX(duration) AS duration,
		(SELECT CASE WHEN b.disposition = 'ANSWERED' THEN MAX(b.billsec) ELSE MIN(b.billsec) END FROM cdr_leg b
			WHERE b.uniqueid = cdr_leg.uniqueid AND b.callkey = cdr_leg.callkey AND b.disposition = cdr_leg.disposition) AS billsec,
		disposition, dcontext, lastapp,
		recordingfile, cnum, cnam, src, dst, clid, ` + dir + `, ` + typ + `,
		COALESCE((SELECT c.dst FROM cdr_leg c WHERE c.uniqueid = cdr_leg.callkey AND c.dst != cdr_leg.dst AND c.lastapp = 'Queue' LIMIT 1), '')
		FROM cdr_leg WHERE ` + where + group + ` ORDER BY ` + order + `, uniqueid DESC LIMIT ? OFFSET ?`
	selArgs := append([]any{}, args...)
	if len(exts) > 0 {
		selArgs = append(append(append(append(exts, exts...), exts...), exts...), selArgs...)
	}
	rows, err := s.db.QueryContext(ctx, sel, append(selArgs, q.Limit, q.Offset)...)
	if err != nil {
		return 0, nil, fmt.Errorf("cdr: query: %w", err)
	}
	defer rows.Close()
	out := []Row{}
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Time, &r.Channel, &r.DstChannel, &r.Uniqueid, &r.Linkedid, &r.Userfield, &r.Duration, &r.Billsec,
			&r.Disposition, &r.Dcontext, &r.Lastapp, &r.Recordingfile, &r.Cnum, &r.Cnam, &r.Src, &r.Dst, &r.Clid, &r.Direction,
			&r.Type, &r.Queue); err != nil {
			return 0, nil, fmt.Errorf("cdr: read: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("cdr: read: %w", err)
	}
	return n, out, nil
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
