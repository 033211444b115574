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

// Store keeps call detail records from AMI "Cdr" events (cdr_manager) in a
// SQLite file of its own beside the configuration store: they are not
// configuration, are never audited, and grow with traffic. One row per Asterisk
// CDR; a repeated event (re-sent after a reconnect) replaces its row instead of
// duplicating it. Several Stores (the CTI writing, an export reading) may have
// the same file open: SQLite's WAL mode lets readers run beside the writer.
type Store struct {
	db *sql.DB
}

// Open opens (creating if needed) the history file at path. The file is made
// private (0600) before SQLite opens it, as the store's is: SQLite gives the
// -wal and -shm files the database file's mode, and they hold the same call
// records; files an older version left readable are made private too.
func Open(ctx context.Context, path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
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
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cdr (
		uniqueid TEXT NOT NULL, dst TEXT NOT NULL, time INTEGER NOT NULL, src TEXT NOT NULL,
		cnum TEXT NOT NULL, cnam TEXT NOT NULL, channel TEXT NOT NULL, dstchannel TEXT NOT NULL,
		duration INTEGER NOT NULL, billsec INTEGER NOT NULL, disposition TEXT NOT NULL,
		recordingfile TEXT NOT NULL, PRIMARY KEY (uniqueid, dst));
		CREATE INDEX IF NOT EXISTS cdr_by_time ON cdr(time);`); err != nil {
		db.Close()
		return nil, fmt.Errorf("cdr: schema of %s: %w", path, err)
	}
	return &Store{db: db}, nil
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
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO cdr(uniqueid, dst, time, src, cnum, cnam, channel, dstchannel,
		duration, billsec, disposition, recordingfile) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		uid, ev.Get("Destination"), start.Unix(), ev.Get("Source"), cnum, cnam, ev.Get("Channel"), ev.Get("DestinationChannel"),
		atoi(ev.Get("Duration")), atoi(ev.Get("BillableSeconds")), ev.Get("Disposition"), ev.Get("UserField"))
	if err != nil {
		return fmt.Errorf("cdr: store %s: %w", uid, err)
	}
	return nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// Row is one call, as nethcti's historycall answers it.
type Row struct {
	Time          int64  `json:"time"` // unix seconds
	Uniqueid      string `json:"uniqueid"`
	Src           string `json:"src"`
	Dst           string `json:"dst"`
	Cnum          string `json:"cnum"`
	Cnam          string `json:"cnam"`
	Duration      int    `json:"duration"`
	Billsec       int    `json:"billsec"`
	Disposition   string `json:"disposition"`
	Direction     string `json:"direction"` // in|out (seen from Query.Extensions)
	Recordingfile string `json:"recordingfile"`
}

// Query selects calls.
type Query struct {
	// Extensions are the extensions whose calls are wanted (as caller or
	// called); nil or empty selects every call. A row's Direction is "in" when
	// its destination is one of them.
	Extensions []string
	// From and To bound the start time: From <= time < To.
	From, To time.Time
	// Direction "in" keeps calls to Extensions, "out" calls from them, ""
	// both. It needs Extensions.
	Direction string
	// Filter keeps calls whose source, destination or caller id contains it.
	Filter string
	// Limit (at least 1) and Offset page through the result, newest first.
	Limit, Offset int
}

// QueryError is a query the store refuses; Field names the parameter at fault.
type QueryError struct {
	Field, Msg string
}

func (e *QueryError) Error() string { return e.Msg }

// Query counts the calls q selects and returns the page it asks for, newest first.
func (s *Store) Query(ctx context.Context, q Query) (int, []Row, error) {
	if !q.From.Before(q.To) {
		return 0, nil, &QueryError{Field: "from", Msg: "from must be before to"}
	}
	if q.Limit < 1 || q.Offset < 0 {
		return 0, nil, &QueryError{Field: "limit", Msg: "limit must be at least 1 and offset not negative"}
	}
	where := `time >= ? AND time < ?`
	args := []any{q.From.Unix(), q.To.Unix()}
	var exts []any
	for _, e := range q.Extensions {
		exts = append(exts, e)
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(exts)), ",")
	switch {
	case q.Direction != "" && q.Direction != "in" && q.Direction != "out":
		return 0, nil, &QueryError{Field: "direction", Msg: "direction must be in or out"}
	case len(exts) == 0 && q.Direction != "":
		return 0, nil, &QueryError{Field: "direction", Msg: "direction needs extensions"}
	case len(exts) == 0:
	case q.Direction == "in":
		where += ` AND dst IN (` + ph + `)`
		args = append(args, exts...)
	case q.Direction == "out":
		where += ` AND (src IN (` + ph + `) OR cnum IN (` + ph + `))`
		args = append(append(args, exts...), exts...)
	default:
		where += ` AND (dst IN (` + ph + `) OR src IN (` + ph + `) OR cnum IN (` + ph + `))`
		args = append(append(append(args, exts...), exts...), exts...)
	}
	if q.Filter != "" {
		where += ` AND (src LIKE ? ESCAPE '\' OR dst LIKE ? ESCAPE '\' OR cnum LIKE ? ESCAPE '\' OR cnam LIKE ? ESCAPE '\')`
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q.Filter) + "%"
		args = append(args, like, like, like, like)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cdr WHERE `+where, args...).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("cdr: count: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT time, uniqueid, src, dst, cnum, cnam, duration, billsec, disposition, recordingfile
		FROM cdr WHERE `+where+` ORDER BY time DESC, uniqueid DESC LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return 0, nil, fmt.Errorf("cdr: query: %w", err)
	}
	defer rows.Close()
	mine := map[string]bool{}
	for _, e := range q.Extensions {
		mine[e] = true
	}
	out := []Row{}
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.Time, &r.Uniqueid, &r.Src, &r.Dst, &r.Cnum, &r.Cnam, &r.Duration, &r.Billsec, &r.Disposition, &r.Recordingfile); err != nil {
			return 0, nil, fmt.Errorf("cdr: read: %w", err)
		}
		r.Direction = "out"
		if mine[r.Dst] {
			r.Direction = "in"
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("cdr: read: %w", err)
	}
	return n, out, nil
}
