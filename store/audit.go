package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuditRow is one configuration change of one object.
type AuditRow struct {
	ID          int64           `json:"id"`
	TxID        int64           `json:"tx_id"`
	Time        time.Time       `json:"time"`
	User        string          `json:"user"`
	SourceIP    string          `json:"source_ip"`
	Action      string          `json:"action"`
	ObjectType  string          `json:"object_type"`
	ObjectID    string          `json:"object_id"`
	Tenant      string          `json:"tenant,omitempty"`
	Description string          `json:"description"`
	Before      json.RawMessage `json:"before"`
	After       json.RawMessage `json:"after"`
	PrevHash    string          `json:"prev_hash"`
	Hash        string          `json:"hash"`
}

// AuditColumns are the names a listing can select.
var AuditColumns = []string{"id", "tx_id", "time", "user", "source_ip", "action", "object_type",
	"object_id", "tenant", "description", "before", "after", "prev_hash", "hash"}

// Actions that appear in audit rows. A "reveal" changed nothing: someone was
// shown a secret in clear (see Reveal).
var AuditActions = []string{"create", "update", "delete", "restore", "reveal"}

const timeLayout = "2006-01-02T15:04:05.000000000Z"

// rowHash is the chain hash: it covers every field of the row and the previous hash,
// so changing any stored byte of a row, or removing one, breaks the chain.
func rowHash(r AuditRow) string {
	h := sha256.New()
	fields := []string{
		fmt.Sprint(r.ID), fmt.Sprint(r.TxID), r.Time.UTC().Format(timeLayout), r.User, r.SourceIP,
		r.Action, r.ObjectType, r.ObjectID, r.Tenant, r.Description,
		nullable(r.Before), nullable(r.After), r.PrevHash,
	}
	for _, f := range fields {
		// Length-prefixed so that moving bytes between fields changes the hash.
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func nullable(b json.RawMessage) string {
	if b == nil {
		return "\x00null"
	}
	return string(b)
}

func (t *Tx) appendAudit(r AuditRow) error {
	var headID int64
	var headHash string
	err := t.tx.QueryRowContext(t.ctx, `SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key='audit_head_id'),
		(SELECT value FROM meta WHERE key='audit_head_hash')`).Scan(&headID, &headHash)
	if err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	r.ID = headID + 1
	r.PrevHash = headHash
	r.Time = r.Time.UTC().Truncate(time.Nanosecond)
	r.Hash = rowHash(r)
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO audit(id, txid, time, username, source_ip, action, object_type,
		object_id, tenant, description, before, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.TxID, r.Time.Format(timeLayout), r.User, r.SourceIP, r.Action, r.ObjectType, r.ObjectID, r.Tenant,
		r.Description, nullString(r.Before), nullString(r.After), r.PrevHash, r.Hash)
	if err != nil {
		return fmt.Errorf("store: write audit row: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE meta SET value = CASE key WHEN 'audit_head_id' THEN ? ELSE ? END
		WHERE key IN ('audit_head_id', 'audit_head_hash')`, fmt.Sprint(r.ID), r.Hash); err != nil {
		return fmt.Errorf("store: audit head: %w", err)
	}
	if t.firstAudit == 0 {
		t.firstAudit = r.ID
	}
	return nil
}

func nullString(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// AuditFilter selects audit rows. Zero fields do not filter.
type AuditFilter struct {
	Month      string // YYYY-MM
	Day        string // YYYY-MM-DD
	User       string
	ObjectType string
	ObjectID   string
	Action     string
	Tenant     string // restricts to one tenant's rows (tenant admins)
	Limit      int    // default 100, at most 1000
	Offset     int
}

// Validate checks the formats of the filter fields.
func (f *AuditFilter) Validate() error {
	if f.Month != "" {
		if _, err := time.Parse("2006-01", f.Month); err != nil {
			return &ValidationError{Field: "month", Msg: "month must be YYYY-MM"}
		}
	}
	if f.Day != "" {
		if _, err := time.Parse("2006-01-02", f.Day); err != nil {
			return &ValidationError{Field: "day", Msg: "day must be YYYY-MM-DD"}
		}
	}
	if f.Action != "" && !contains(AuditActions, f.Action) {
		return &ValidationError{Field: "action", Msg: "action must be one of " + strings.Join(AuditActions, ", ")}
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return &ValidationError{Field: "limit", Msg: "limit must be between 1 and 1000"}
	}
	if f.Offset < 0 {
		return &ValidationError{Field: "offset", Msg: "offset must not be negative"}
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

const auditSelect = `SELECT id, txid, time, username, source_ip, action, object_type, object_id, tenant,
	description, before, after, prev_hash, hash FROM audit`

func scanAudit(sc interface{ Scan(...any) error }) (AuditRow, error) {
	var r AuditRow
	var ts string
	var before, after sql.NullString
	if err := sc.Scan(&r.ID, &r.TxID, &ts, &r.User, &r.SourceIP, &r.Action, &r.ObjectType, &r.ObjectID,
		&r.Tenant, &r.Description, &before, &after, &r.PrevHash, &r.Hash); err != nil {
		return r, err
	}
	t, err := time.Parse(timeLayout, ts)
	if err != nil {
		// A hand-edited time still has to surface in Verify, not abort the listing.
		t = time.Time{}
	}
	r.Time = t
	if before.Valid {
		r.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		r.After = json.RawMessage(after.String)
	}
	return r, nil
}

// Audit lists rows matching f, newest first, and the total number that match.
// Secret fields of each kind are redacted.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditRow, int, error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	cond, args := f.where()
	var total int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: count audit: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, auditSelect+cond+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditRow{}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list audit: %w", err)
		}
		out = append(out, s.redact(r))
	}
	return out, total, rows.Err()
}

// where is the SQL condition of the filter (with its leading WHERE).
func (f *AuditFilter) where() (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Month != "" {
		add("substr(time, 1, 7) = ?", f.Month)
	}
	if f.Day != "" {
		add("substr(time, 1, 10) = ?", f.Day)
	}
	if f.User != "" {
		add("username = ?", f.User)
	}
	if f.ObjectType != "" {
		add("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// AuditEach calls fn with every row matching f (Limit and Offset aside), oldest
// first, redacted, from one consistent snapshot: the export of the audit log.
func (s *Store) AuditEach(ctx context.Context, f AuditFilter, fn func(*AuditRow) error) error {
	f.Limit, f.Offset = 1, 0
	if err := f.Validate(); err != nil {
		return err
	}
	cond, args := f.where()
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	defer tx.Rollback() // read-only
	rows, err := tx.QueryContext(ctx, auditSelect+cond+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("store: export audit: %w", err)
		}
		r = s.redact(r)
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuditRowByID returns one row, redacted.
func (s *Store) AuditRowByID(ctx context.Context, id int64) (AuditRow, error) {
	r, err := scanAudit(s.read.QueryRowContext(ctx, auditSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: audit row %d: %w", id, err)
	}
	return s.redact(r), nil
}

// Mask stands for a secret wherever one is not shown: audit images, API
// answers, rendered files. A client that sends it back as a secret's value
// means "unchanged".
const Mask = "********"

const redacted = `"` + Mask + `"`

// Redact replaces the values of kind's secret keys in the JSON object doc with
// Mask (a doc that is not an object comes back as is).
func (s *Store) Redact(kind string, doc json.RawMessage) json.RawMessage {
	k, ok := s.kind(kind)
	if !ok || len(k.Secrets) == 0 {
		return doc
	}
	return redactJSON(doc, k.Secrets)
}

// Reveal records, as an audit row of its own, that actor was shown a secret
// of object id of kind in clear (what in desc, never the secret). It changes
// no object and raises no revision: the row's tx_id is the revision the
// secret was read at. Like any write it is refused on a passive HA node.
func (s *Store) Reveal(ctx context.Context, actor Actor, kind, tenant, id, desc string) error {
	_, err := s.Update(ctx, actor, func(tx *Tx) error {
		return tx.appendAudit(AuditRow{TxID: tx.rev - 1, Time: tx.now, User: actor.User, SourceIP: actor.IP,
			Action: "reveal", ObjectType: kind, ObjectID: id, Tenant: tenant, Description: desc})
	})
	return err
}

func (s *Store) redact(r AuditRow) AuditRow {
	k, ok := s.kind(r.ObjectType)
	if !ok || len(k.Secrets) == 0 {
		return r
	}
	r.Before = redactJSON(r.Before, k.Secrets)
	r.After = redactJSON(r.After, k.Secrets)
	return r
}

func redactJSON(doc json.RawMessage, secrets []string) json.RawMessage {
	if doc == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return doc
	}
	for _, k := range secrets {
		if _, ok := m[k]; ok {
			m[k] = json.RawMessage(redacted)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return out
}

// Problem is one finding of Verify.
type Problem struct {
	Row    int64  `json:"row"`
	Reason string `json:"reason"`
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Rows     int64     `json:"rows"`
	HeadID   int64     `json:"head_id"`
	OK       bool      `json:"ok"`
	Problems []Problem `json:"problems"`
}

// Verify walks the audit chain and reports every row that was changed, and every
// row that is missing (a gap in the ids, a broken link, or a head that no longer
// matches the last row).
func (s *Store) Verify(ctx context.Context) (VerifyResult, error) {
	res := VerifyResult{Problems: []Problem{}}
	// The head and the rows come from one read transaction (one WAL snapshot):
	// a change committed between two separate reads would look like rows added
	// outside the application.
	rtx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, fmt.Errorf("store: verify: %w", err)
	}
	defer rtx.Rollback() // read-only
	var headHash string
	err = rtx.QueryRowContext(ctx, `SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key='audit_head_id'),
		(SELECT value FROM meta WHERE key='audit_head_hash')`).Scan(&res.HeadID, &headHash)
	if err != nil {
		return res, fmt.Errorf("store: audit head: %w", err)
	}
	rows, err := rtx.QueryContext(ctx, auditSelect+` ORDER BY id`)
	if err != nil {
		return res, fmt.Errorf("store: verify: %w", err)
	}
	defer rows.Close()
	var prevID int64
	prevHash := ""
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return res, fmt.Errorf("store: verify: %w", err)
		}
		res.Rows++
		if r.ID != prevID+1 {
			for missing := prevID + 1; missing < r.ID; missing++ {
				res.Problems = append(res.Problems, Problem{Row: missing, Reason: "row deleted"})
			}
		} else if r.PrevHash != prevHash {
			res.Problems = append(res.Problems, Problem{Row: r.ID, Reason: "link to the previous row broken (previous row changed or replaced)"})
		}
		if rowHash(r) != r.Hash {
			res.Problems = append(res.Problems, Problem{Row: r.ID, Reason: "row content changed after it was written"})
		}
		prevID, prevHash = r.ID, r.Hash
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("store: verify: %w", err)
	}
	switch {
	case prevID < res.HeadID:
		for missing := prevID + 1; missing <= res.HeadID; missing++ {
			res.Problems = append(res.Problems, Problem{Row: missing, Reason: "row deleted"})
		}
	case prevID > res.HeadID:
		res.Problems = append(res.Problems, Problem{Row: res.HeadID + 1, Reason: "rows added outside the application"})
	case prevHash != headHash:
		res.Problems = append(res.Problems, Problem{Row: prevID, Reason: "last row changed or replaced"})
	}
	res.OK = len(res.Problems) == 0
	return res, nil
}

// Restore re-applies the before-image of audit row id as a new, audited change:
// an update or delete is undone by writing the old document back, a create by
// deleting the object. The kind's Check validates the document first.
func (s *Store) Restore(ctx context.Context, actor Actor, id int64) (int64, error) {
	return s.Update(ctx, actor, func(tx *Tx) error {
		src, err := scanAudit(tx.tx.QueryRowContext(ctx, auditSelect+` WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: audit row %d: %w", id, err)
		}
		if src.Action == "reveal" {
			return &ValidationError{Field: "id", Msg: fmt.Sprintf("audit row %d records a reveal, which changed nothing: there is nothing to restore", id)}
		}
		k, ok := s.kind(src.ObjectType)
		if !ok {
			return &ValidationError{Field: "id", Msg: fmt.Sprintf("objects of type %q cannot be restored", src.ObjectType)}
		}
		cur, curTenant, err := tx.getRaw(src.ObjectType, src.ObjectID)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		desc := fmt.Sprintf("restore of audit row %d (%s)", src.ID, src.Action)
		if src.Before == nil {
			if !exists {
				return &ConflictError{Field: "id", Msg: fmt.Sprintf("%s %s no longer exists: nothing to undo", src.ObjectType, src.ObjectID)}
			}
			if k.Check != nil {
				if err := k.Check(tx, src.ObjectID, nil); err != nil {
					return err
				}
			}
			// Filed under the tenant the object is in now: it may have moved since.
			if err := tx.write("restore", src.ObjectType, curTenant, src.ObjectID, cur, nil, desc); err != nil {
				return err
			}
			if k.OnRestore != nil {
				return k.OnRestore(tx, src.ObjectID, nil)
			}
			return nil
		}
		if k.Check != nil {
			if err := k.Check(tx, src.ObjectID, src.Before); err != nil {
				return err
			}
		}
		if exists && string(cur) == string(src.Before) {
			return &ConflictError{Field: "id", Msg: fmt.Sprintf("%s %s already equals that before-image", src.ObjectType, src.ObjectID)}
		}
		if !exists {
			cur = nil
		}
		tenant := src.Tenant
		if k.Tenant != nil {
			tenant = k.Tenant(src.Before)
		}
		if err := tx.write("restore", src.ObjectType, tenant, src.ObjectID, cur, src.Before, desc); err != nil {
			return err
		}
		if k.OnRestore != nil {
			return k.OnRestore(tx, src.ObjectID, src.Before)
		}
		return nil
	})
}

// Change is one object touched by a transaction.
type Change struct {
	Kind   string
	ID     string
	Tenant string
	Action string
}

// Commit is what components receive after a transaction is durable: the new
// revision and the objects changed since the previous delivery (several commits
// are coalesced into one while the receiver is busy; Rev is then the newest).
type Commit struct {
	Rev     int64
	Changes []Change
	// All is set instead of Changes when more changes piled up for a busy
	// receiver than are worth listing: anything may have changed.
	All bool
}

// Touches reports whether the commit changed an object of one of kinds.
func (c Commit) Touches(kinds ...string) bool {
	if c.All {
		return true
	}
	for _, ch := range c.Changes {
		for _, k := range kinds {
			if ch.Kind == k {
				return true
			}
		}
	}
	return false
}
