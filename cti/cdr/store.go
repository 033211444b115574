package cdr

import (
	"context"
	"database/sql"
	"fmt"
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

// Store keeps call detail records from AMI "Cdr" events (cdr_manager) in a
// SQLite file of its own beside the configuration store: they are not
// configuration, are never audited, and grow with traffic. Every CDR is kept:
// a call that is parked and picked up, or transferred, gives several CDRs
// with one UniqueID, told apart by their Sequence (cdr_manager's "sequence =>
// Sequence" mapping; without it, by destination, channel and start). A
// repeated event (re-sent after a reconnect) replaces its row instead of
// duplicating it. Queries merge the legs of a call as nethcti does. Several
// Stores (the CTI writing, an export reading) may have the same file open:
// SQLite's WAL mode lets readers run beside the writer.
type Store struct {
	db *sql.DB
}

const schema = `CREATE TABLE IF NOT EXISTS cdr (
		uniqueid TEXT NOT NULL, leg TEXT NOT NULL, linkedid TEXT NOT NULL DEFAULT '', sequence INTEGER NOT NULL DEFAULT 0,
		time INTEGER NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL, dcontext TEXT NOT NULL DEFAULT '',
		cnum TEXT NOT NULL, cnam TEXT NOT NULL, clid TEXT NOT NULL DEFAULT '', channel TEXT NOT NULL, dstchannel TEXT NOT NULL,
		lastapp TEXT NOT NULL DEFAULT '', lastdata TEXT NOT NULL DEFAULT '', duration INTEGER NOT NULL, billsec INTEGER NOT NULL,
		disposition TEXT NOT NULL, userfield TEXT NOT NULL DEFAULT '', recordingfile TEXT NOT NULL, accountcode TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (uniqueid, leg));
	CREATE INDEX IF NOT EXISTS cdr_by_time ON cdr(time);
	CREATE INDEX IF NOT EXISTS cdr_by_linkedid ON cdr(linkedid);`

// Open opens (creating if needed) the history file at path. A file of the
// first format (one row per UniqueID and destination) is converted.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("cdr: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: schema of %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: schema of %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// migrate converts a table without the leg column.
func migrate(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('cdr')`)
	if err != nil {
		return err
	}
	cols := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		cols[n] = true
	}
	rows.Close()
	if len(cols) == 0 || cols["leg"] {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	for _, q := range []string{`ALTER TABLE cdr RENAME TO cdr_v1`, `DROP INDEX IF EXISTS cdr_by_time`, schema,
		`INSERT INTO cdr(uniqueid, leg, time, src, dst, cnum, cnam, channel, dstchannel, duration, billsec, disposition, recordingfile)
			SELECT uniqueid, dst, time, src, dst, cnum, cnam, channel, dstchannel, duration, billsec, disposition, recordingfile FROM cdr_v1`,
		`DROP TABLE cdr_v1`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Legs counts the CDRs kept of a call, by its linkedid (a parked or
// transferred call has several, some of them with one uniqueid).
func (s *Store) Legs(ctx context.Context, linkedid string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cdr WHERE linkedid = ?`, linkedid).Scan(&n)
	return n, err
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// cdrTime reads "2026-12-01 10:00:00" (Asterisk's local time format).
func cdrTime(v string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(v), time.Local)
	return t, err == nil
}

// Add stores one Cdr event; events without a uniqueid or start time are skipped.
func (s *Store) Add(ctx context.Context, ev ami.Message) error {
	start, ok := cdrTime(ev.Get("StartTime"))
	uid := ev.Get("UniqueID")
	if !ok || uid == "" {
		return nil
	}
	cnum, cnam := ev.Get("Source"), ""
	if cid := ev.Get("CallerID"); cid != "" {
		// "Alice" <201>
		if i := strings.LastIndexByte(cid, '<'); i >= 0 && strings.HasSuffix(cid, ">") {
			cnam = strings.Trim(strings.TrimSpace(cid[:i]), `"`)
			cnum = cid[i+1 : len(cid)-1]
		}
	}
	seq := ev.Get("Sequence")
	leg := "s" + seq
	if seq == "" {
		leg = ev.Get("Destination") + "|" + ev.Get("DestinationChannel") + "|" + strconv.FormatInt(start.Unix(), 10)
	}
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO cdr(uniqueid, leg, linkedid, sequence, time, src, dst, dcontext, cnum, cnam, clid,
		channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, userfield, recordingfile, accountcode)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		uid, leg, firstNonEmpty(ev.Get("LinkedID"), ev.Get("Linkedid"), uid), atoi(seq), start.Unix(), ev.Get("Source"), ev.Get("Destination"),
		ev.Get("DestinationContext"), cnum, cnam, ev.Get("CallerID"), ev.Get("Channel"), ev.Get("DestinationChannel"),
		ev.Get("LastApplication"), ev.Get("LastData"), atoi(ev.Get("Duration")), atoi(ev.Get("BillableSeconds")), ev.Get("Disposition"),
		ev.Get("UserField"), ev.Get("UserField"), ev.Get("AccountCode"))
	if err != nil {
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

// Query counts the calls q selects and returns the page it asks for.
func (s *Store) Query(ctx context.Context, q Query) (int, []Row, error) {
	if !q.From.Before(q.To) {
		return 0, nil, &QueryError{Field: "from", Msg: "from must be before to"}
	}
	if q.Limit < 1 || q.Offset < 0 {
		return 0, nil, &QueryError{Field: "limit", Msg: "limit must be at least 1 and offset not negative"}
	}
	order := "time DESC"
	if q.Sort != "" {
		col, dir, _ := strings.Cut(strings.TrimSpace(q.Sort), " ")
		dir = strings.ToUpper(strings.TrimSpace(dir))
		if !sortColumns[col] || (dir != "" && dir != "ASC" && dir != "DESC") {
			return 0, nil, &QueryError{Field: "sort", Msg: "sort must be a column (time, duration, billsec, src, dst, cnum, cnam, disposition) and asc or desc"}
		}
		order = col + " " + firstNonEmpty(dir, "ASC")
	}
	where := `time >= ? AND time < ?`
	args := []any{q.From.Unix(), q.To.Unix()}
	var exts []any
	for _, e := range q.Extensions {
		exts = append(exts, e)
	}
	ph := "(" + strings.TrimSuffix(strings.Repeat("?,", len(exts)), ",") + ")"
	mine := func(col string) string { return col + " IN " + ph }
	notAnsweredElsewhere := ` AND NOT EXISTS (SELECT 1 FROM cdr b WHERE b.uniqueid = cdr.linkedid AND b.disposition = 'ANSWERED')`
	switch {
	case q.Direction != "" && q.Direction != "in" && q.Direction != "out" && q.Direction != "lost":
		return 0, nil, &QueryError{Field: "direction", Msg: "direction must be in, out or lost"}
	case len(exts) == 0 && q.Direction != "":
		return 0, nil, &QueryError{Field: "direction", Msg: "direction needs extensions"}
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
	where += ` AND NOT (disposition = 'NO ANSWER' AND EXISTS (SELECT 1 FROM cdr b WHERE b.uniqueid = cdr.uniqueid AND b.linkedid = cdr.linkedid AND b.disposition = 'ANSWERED'))`
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
	switch q.Type {
	case "":
	case "in", "out", "internal":
		where += ` AND (` + typ + `) = '` + q.Type + `'`
	default:
		return 0, nil, &QueryError{Field: "type", Msg: "type must be in, out or internal"}
	}
	group := ` GROUP BY uniqueid, linkedid, disposition`
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM cdr WHERE `+where+group+`)`, args...).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("cdr: count: %w", err)
	}
	// One row per call: the leg with the longest duration gives the fields
	// (SQLite takes bare columns from the row MAX picks).
	dir := `''`
	if len(exts) > 0 {
		dir = `CASE WHEN ` + mine("cnum") + ` AND NOT ` + mine("dst") + ` THEN 'out' WHEN NOT ` + mine("cnum") + ` AND ` + mine("dst") + ` THEN 'in' ELSE '' END`
	}
	sel := `SELECT time, channel, dstchannel, uniqueid, linkedid, userfield, MAX(duration) AS duration,
		CASE WHEN MIN(disposition) = 'ANSWERED' THEN MAX(billsec) ELSE MIN(billsec) END AS billsec, disposition, dcontext, lastapp,
		recordingfile, cnum, cnam, src, dst, clid, ` + dir + `, ` + typ + `,
		COALESCE((SELECT c.dst FROM cdr c WHERE c.uniqueid = cdr.linkedid AND c.dst != cdr.dst AND c.lastapp = 'Queue' LIMIT 1), '')
		FROM cdr WHERE ` + where + group + ` ORDER BY ` + order + `, uniqueid DESC LIMIT ? OFFSET ?`
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
