package cti

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// History keeps call detail records from AMI "Cdr" events (cdr_manager) in a
// SQLite file of its own beside the store: they are not configuration, are never
// audited, and grow with traffic. One row per Asterisk CDR; a repeated event
// (re-sent after a reconnect) replaces its row instead of duplicating it.
type History struct {
	db *sql.DB
}

func openHistory(ctx context.Context, path string) (*History, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("cti: history %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cdr (
		uniqueid TEXT NOT NULL, dst TEXT NOT NULL, time INTEGER NOT NULL, src TEXT NOT NULL,
		cnum TEXT NOT NULL, cnam TEXT NOT NULL, channel TEXT NOT NULL, dstchannel TEXT NOT NULL,
		duration INTEGER NOT NULL, billsec INTEGER NOT NULL, disposition TEXT NOT NULL,
		recordingfile TEXT NOT NULL, PRIMARY KEY (uniqueid, dst));
		CREATE INDEX IF NOT EXISTS cdr_by_time ON cdr(time);`); err != nil {
		db.Close()
		return nil, fmt.Errorf("cti: history schema: %w", err)
	}
	return &History{db: db}, nil
}

func (h *History) close() error { return h.db.Close() }

// cdrTime reads "2026-12-01 10:00:00" (Asterisk's local time format).
func cdrTime(s string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(s), time.Local)
	return t, err == nil
}

// add stores one Cdr event; events without a uniqueid or start time are skipped.
func (h *History) add(ctx context.Context, ev Message) error {
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
	_, err := h.db.ExecContext(ctx, `INSERT OR REPLACE INTO cdr(uniqueid, dst, time, src, cnum, cnam, channel, dstchannel,
		duration, billsec, disposition, recordingfile) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		uid, ev.Get("Destination"), start.Unix(), ev.Get("Source"), cnum, cnam, ev.Get("Channel"), ev.Get("DestinationChannel"),
		atoi(ev.Get("Duration")), atoi(ev.Get("BillableSeconds")), ev.Get("Disposition"), ev.Get("UserField"))
	return err
}

// HistoryRow is one call as nethcti's historycall answers it.
type HistoryRow struct {
	Time          int64  `json:"time"` // unix seconds
	Uniqueid      string `json:"uniqueid"`
	Src           string `json:"src"`
	Dst           string `json:"dst"`
	Cnum          string `json:"cnum"`
	Cnam          string `json:"cnam"`
	Duration      int    `json:"duration"`
	Billsec       int    `json:"billsec"`
	Disposition   string `json:"disposition"`
	Direction     string `json:"direction"` // in|out (seen from the target)
	Recordingfile string `json:"recordingfile"`
}

var dateRe = regexp.MustCompile(`^\d{8}$`)

// query lists the calls of the given extensions between from and to (YYYYMMDD,
// both included), newest first.
func (h *History) query(ctx context.Context, exts []string, from, to, filter, direction string, limit, offset int) (int, []HistoryRow, error) {
	f, err1 := time.ParseInLocation("20060102", from, time.Local)
	t, err2 := time.ParseInLocation("20060102", to, time.Local)
	if err1 != nil || err2 != nil || t.Before(f) {
		return 0, nil, rerr(http.StatusBadRequest, "from", "from and to must be dates YYYYMMDD with from <= to")
	}
	if len(exts) == 0 {
		return 0, []HistoryRow{}, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(exts)), ",")
	var args []any
	where := `time >= ? AND time < ?`
	args = append(args, f.Unix(), t.AddDate(0, 0, 1).Unix())
	var extArgs []any
	for _, e := range exts {
		extArgs = append(extArgs, e)
	}
	switch direction {
	case "in":
		where += ` AND dst IN (` + ph + `)`
		args = append(args, extArgs...)
	case "out":
		where += ` AND (src IN (` + ph + `) OR cnum IN (` + ph + `))`
		args = append(append(args, extArgs...), extArgs...)
	case "":
		where += ` AND (dst IN (` + ph + `) OR src IN (` + ph + `) OR cnum IN (` + ph + `))`
		args = append(append(append(args, extArgs...), extArgs...), extArgs...)
	default:
		return 0, nil, rerr(http.StatusBadRequest, "direction", "direction must be in or out")
	}
	if filter != "" {
		where += ` AND (src LIKE ? ESCAPE '\' OR dst LIKE ? ESCAPE '\' OR cnum LIKE ? ESCAPE '\' OR cnam LIKE ? ESCAPE '\')`
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(filter) + "%"
		args = append(args, like, like, like, like)
	}
	var n int
	if err := h.db.QueryRowContext(ctx, `SELECT count(*) FROM cdr WHERE `+where, args...).Scan(&n); err != nil {
		return 0, nil, err
	}
	rows, err := h.db.QueryContext(ctx, `SELECT time, uniqueid, src, dst, cnum, cnam, duration, billsec, disposition, recordingfile
		FROM cdr WHERE `+where+` ORDER BY time DESC, uniqueid DESC LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	mine := map[string]bool{}
	for _, e := range exts {
		mine[e] = true
	}
	out := []HistoryRow{}
	for rows.Next() {
		var r HistoryRow
		if err := rows.Scan(&r.Time, &r.Uniqueid, &r.Src, &r.Dst, &r.Cnum, &r.Cnam, &r.Duration, &r.Billsec, &r.Disposition, &r.Recordingfile); err != nil {
			return 0, nil, err
		}
		r.Direction = "out"
		if mine[r.Dst] {
			r.Direction = "in"
		}
		out = append(out, r)
	}
	return n, out, rows.Err()
}

// historyPath is the history file beside the store's database.
func historyPath(storePath string) string {
	return filepath.Join(filepath.Dir(storePath), "cti-history.db")
}

// GET /webrest/historycall/interval/{type}/{target}/{from}/{to}[/{filter}]
func (svc *Service) historyCall(w http.ResponseWriter, r *http.Request, c *caller) error {
	hist := svc.historyDB()
	if hist == nil {
		return rerr(http.StatusServiceUnavailable, "", "call history is not available (see the daemon log)")
	}
	q := r.URL.Query()
	limit, offset := 100, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return rerr(http.StatusBadRequest, "limit", "limit must be 1-1000")
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return rerr(http.StatusBadRequest, "offset", "offset must be a non-negative integer")
		}
		offset = n
	}
	target := r.PathValue("target")
	var exts []string
	switch r.PathValue("type") {
	case "user":
		if target != c.user.Username && !c.profile.MacroOn("cdr") {
			return rerr(http.StatusForbidden, "target", "the history of another user needs the cdr macro")
		}
		u, _, ok := svc.dir.Resolve(target)
		if !ok {
			return rerr(http.StatusNotFound, "target", "no user %s", target)
		}
		exts = u.Endpoints0()
	case "extension":
		if !c.owns(target) && !c.profile.MacroOn("cdr") {
			return rerr(http.StatusForbidden, "target", "extension %s is not yours and your profile has no cdr macro", target)
		}
		if !extenRe.MatchString(target) {
			return rerr(http.StatusBadRequest, "target", "target must be an extension")
		}
		exts = []string{target}
	default:
		return rerr(http.StatusBadRequest, "type", "type must be user or extension")
	}
	from, to := r.PathValue("from"), r.PathValue("to")
	if !dateRe.MatchString(from) || !dateRe.MatchString(to) {
		return rerr(http.StatusBadRequest, "from", "from and to must be dates YYYYMMDD")
	}
	n, rows, err := hist.query(r.Context(), exts, from, to, r.PathValue("filter"), q.Get("direction"), limit, offset)
	if err != nil {
		var re *restError
		if errors.As(err, &re) {
			return err
		}
		return fmt.Errorf("cti: history: %w", err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "rows": rows})
	return nil
}
