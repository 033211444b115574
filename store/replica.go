package store

// Replication support for ha. The change log is the audit chain itself: every
// object a transaction writes has its audit row, in write order, with the
// document after the write, and the row's txid is the revision the transaction
// made. So the rows after a passive's audit head are exactly the writes it lacks
// (ChangeLog), and replaying them in order (ApplyChanges) gives the passive the
// active's objects and the same chain. A snapshot of every object and of the
// chain seeds or heals a node whose history is not a prefix of the active's
// (Continues). A guard refuses writes while this node is not active.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ReplicaObject is one row of the objects table as it travels to the passive node.
type ReplicaObject struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Tenant  string `json:"tenant"`
	Data    string `json:"data"`
	Rev     int64  `json:"rev"`
	Updated string `json:"updated"`
}

// Snapshot is every object at one revision, and the audit chain up to its head.
type Snapshot struct {
	Revision int64           `json:"revision"`
	Objects  []ReplicaObject `json:"objects"`
	// Audit is nil in a snapshot from a node that does not replicate the audit log;
	// the passive's chain is then left alone.
	Audit *ReplicaAudit `json:"audit,omitempty"`
}

// AuditMark names one row of the audit chain by id and hash; the zero mark is the
// empty chain (before the first row).
type AuditMark struct {
	ID   int64  `json:"id"`
	Hash string `json:"hash"`
}

// ReplicaAudit is the part of the audit chain a passive lacks: Rows continue the
// chain right after From (From.ID 0: the whole chain), up to Head.
type ReplicaAudit struct {
	From AuditMark         `json:"from"`
	Rows []ReplicaAuditRow `json:"rows"`
	Head AuditMark         `json:"head"`
}

// ReplicaAuditRow is one audit row exactly as stored (not redacted: the sync
// channel is encrypted, and the objects carry the same secrets).
type ReplicaAuditRow struct {
	ID          int64   `json:"id"`
	TxID        int64   `json:"tx_id"`
	Time        string  `json:"time"`
	User        string  `json:"user"`
	SourceIP    string  `json:"source_ip"`
	Action      string  `json:"action"`
	ObjectType  string  `json:"object_type"`
	ObjectID    string  `json:"object_id"`
	Tenant      string  `json:"tenant"`
	Description string  `json:"description"`
	Before      *string `json:"before"`
	After       *string `json:"after"`
	PrevHash    string  `json:"prev_hash"`
	Hash        string  `json:"hash"`
}

// ReadOnlyError is returned by Update while the write guard refuses writes.
type ReadOnlyError struct{ Msg string }

func (e *ReadOnlyError) Error() string { return e.Msg }

// SetWriteGuard installs f, asked before every Update; a non-nil error (use
// *ReadOnlyError) refuses the write. nil removes the guard.
func (s *Store) SetWriteGuard(f func(Actor) error) {
	if f == nil {
		s.guard.Store(nil)
		return
	}
	s.guard.Store(&f)
}

func (s *Store) checkGuard(a Actor) error {
	if g := s.guard.Load(); g != nil {
		return (*g)(a)
	}
	return nil
}

// ExportSnapshot reads every object, the revision and the whole audit chain in
// one consistent read.
func (s *Store) ExportSnapshot(ctx context.Context) (Snapshot, error) {
	return s.ExportSnapshotAfter(ctx, AuditMark{})
}

// ExportSnapshotAfter is ExportSnapshot for a passive whose audit chain ends at
// have: when this chain holds that very row, only the rows after it are included;
// otherwise (the chains diverged, or have is unknown here) the whole chain is.
func (s *Store) ExportSnapshotAfter(ctx context.Context, have AuditMark) (Snapshot, error) {
	var snap Snapshot
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return snap, fmt.Errorf("store: snapshot: %w", err)
	}
	defer tx.Rollback() // read-only
	if err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&snap.Revision); err != nil {
		return snap, fmt.Errorf("store: snapshot revision: %w", err)
	}
	if snap.Objects, err = exportObjects(ctx, tx); err != nil {
		return snap, err
	}
	snap.Objects = s.withoutLocal(snap.Objects)
	a := &ReplicaAudit{Rows: []ReplicaAuditRow{}}
	if a.Head, err = auditHead(ctx, tx); err != nil {
		return snap, err
	}
	if have.ID > 0 && have.ID <= a.Head.ID {
		var hash string
		err := tx.QueryRowContext(ctx, `SELECT hash FROM audit WHERE id=?`, have.ID).Scan(&hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return snap, fmt.Errorf("store: snapshot audit: %w", err)
		}
		if err == nil && hash == have.Hash {
			a.From = have
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, txid, time, username, source_ip, action, object_type, object_id,
		tenant, description, before, after, prev_hash, hash FROM audit WHERE id > ? ORDER BY id`, a.From.ID)
	if err != nil {
		return snap, fmt.Errorf("store: snapshot audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanReplicaRow(rows)
		if err != nil {
			return snap, err
		}
		a.Rows = append(a.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("store: snapshot audit: %w", err)
	}
	snap.Audit = a
	return snap, nil
}

// AuditHead is the last row of the audit chain (the zero mark when it is empty).
func (s *Store) AuditHead(ctx context.Context) (AuditMark, error) {
	return auditHead(ctx, s.read)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditHead(ctx context.Context, q queryer) (AuditMark, error) {
	var m AuditMark
	err := q.QueryRowContext(ctx, `SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key='audit_head_id'),
		(SELECT value FROM meta WHERE key='audit_head_hash')`).Scan(&m.ID, &m.Hash)
	if err != nil {
		return m, fmt.Errorf("store: audit head: %w", err)
	}
	return m, nil
}

func exportObjects(ctx context.Context, tx *sql.Tx) ([]ReplicaObject, error) {
	rows, err := tx.QueryContext(ctx, `SELECT kind, id, tenant, data, rev, updated FROM objects ORDER BY kind, id`)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	defer rows.Close()
	var out []ReplicaObject
	for rows.Next() {
		var o ReplicaObject
		if err := rows.Scan(&o.Kind, &o.ID, &o.Tenant, &o.Data, &o.Rev, &o.Updated); err != nil {
			return nil, fmt.Errorf("store: snapshot: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// ImportSnapshot makes the objects, the revision and the audit chain exactly those
// of snap, in one transaction, and tells the hooks and subscribers what changed. The audit
// rows are appended after snap.Audit.From (which must be this chain's row of that
// id); rows of this node's own past that follow it (written while it was active,
// never replicated, or system defaults while passive) are replaced: after the
// import this node's audit log is the active's, and it continues that chain when it
// takes over.
func (s *Store) ImportSnapshot(ctx context.Context, snap Snapshot) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: import: %w", err)
	}
	defer tx.Rollback() // after Commit this is a no-op
	old, err := exportObjects(ctx, tx)
	if err != nil {
		return err
	}
	type key struct{ kind, id string }
	before := map[key]ReplicaObject{}
	for _, o := range s.withoutLocal(old) {
		before[key{o.Kind, o.ID}] = o
	}
	var changes []Change
	// This node's own (Local) objects stay: they are not the active's to replace.
	del, args := `DELETE FROM objects`, []any{}
	if locals := s.localKinds(); len(locals) > 0 {
		del += ` WHERE kind NOT IN (?` + strings.Repeat(`,?`, len(locals)-1) + `)` //nolint:gosec // G202: placeholders only, the kinds are bound
		for _, k := range locals {
			args = append(args, k)
		}
	}
	if _, err := tx.ExecContext(ctx, del, args...); err != nil {
		return fmt.Errorf("store: import: %w", err)
	}
	for _, o := range s.withoutLocal(snap.Objects) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO objects(kind, id, tenant, data, rev, updated) VALUES (?,?,?,?,?,?)`,
			o.Kind, o.ID, o.Tenant, o.Data, o.Rev, o.Updated); err != nil {
			return fmt.Errorf("store: import %s/%s: %w", o.Kind, o.ID, err)
		}
		k := key{o.Kind, o.ID}
		if b, ok := before[k]; !ok {
			changes = append(changes, Change{Kind: o.Kind, ID: o.ID, Tenant: o.Tenant, Action: "create"})
		} else if b != o {
			changes = append(changes, Change{Kind: o.Kind, ID: o.ID, Tenant: o.Tenant, Action: "update"})
		}
		delete(before, k)
	}
	for _, o := range before {
		changes = append(changes, Change{Kind: o.Kind, ID: o.ID, Tenant: o.Tenant, Action: "delete"})
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value=? WHERE key='revision'`, snap.Revision); err != nil {
		return fmt.Errorf("store: import revision: %w", err)
	}
	if snap.Audit != nil {
		if err := importAudit(ctx, tx, snap.Audit); err != nil {
			return err
		}
	}
	// Like Update: the revision and the hooks follow commit order.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: import commit: %w", err)
	}
	s.rev.Store(snap.Revision)
	s.mu.RLock()
	hooks := s.hooks
	s.mu.RUnlock()
	for _, h := range hooks {
		h(snap.Revision, changes)
	}
	s.publish(snap.Revision, changes)
	return nil
}

// importAudit appends a.Rows after a.From inside the import transaction, first
// removing whatever this chain holds after a.From. The rows are copied as stored:
// a chain that fails verification on the active fails it here in the same way.
func importAudit(ctx context.Context, tx *sql.Tx, a *ReplicaAudit) error {
	if a.From.ID < 0 {
		return errors.New("store: import audit: negative row id")
	}
	if a.From.ID > 0 {
		var hash string
		err := tx.QueryRowContext(ctx, `SELECT hash FROM audit WHERE id=?`, a.From.ID).Scan(&hash)
		if err != nil || hash != a.From.Hash {
			return fmt.Errorf("store: import audit: this node's chain does not hold row %d as the active has it", a.From.ID)
		}
	}
	next, last := a.From.ID+1, a.From
	for _, r := range a.Rows {
		if r.ID != next {
			return fmt.Errorf("store: import audit: row %d where %d was expected", r.ID, next)
		}
		next++
		last = AuditMark{r.ID, r.Hash}
	}
	if last != a.Head {
		return fmt.Errorf("store: import audit: the rows end at %d, the head is %d", last.ID, a.Head.ID)
	}
	var extra int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit WHERE id > ?`, a.From.ID).Scan(&extra); err != nil {
		return fmt.Errorf("store: import audit: %w", err)
	}
	if extra > 0 {
		// Audit rows are append-only (a trigger refuses deletes): lift it for this
		// transaction only, with the exact definition put back.
		var def sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type='trigger' AND name='audit_no_delete'`).Scan(&def)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: import audit: %w", err)
		}
		if def.Valid {
			if _, err := tx.ExecContext(ctx, `DROP TRIGGER audit_no_delete`); err != nil {
				return fmt.Errorf("store: import audit: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit WHERE id > ?`, a.From.ID); err != nil {
			return fmt.Errorf("store: import audit: %w", err)
		}
		if def.Valid {
			if _, err := tx.ExecContext(ctx, def.String); err != nil {
				return fmt.Errorf("store: import audit: restoring the append-only trigger: %w", err)
			}
		}
	}
	for _, r := range a.Rows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit(id, txid, time, username, source_ip, action, object_type,
			object_id, tenant, description, before, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			r.ID, r.TxID, r.Time, r.User, r.SourceIP, r.Action, r.ObjectType, r.ObjectID, r.Tenant,
			r.Description, r.Before, r.After, r.PrevHash, r.Hash); err != nil {
			return fmt.Errorf("store: import audit row %d: %w", r.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = CASE key WHEN 'audit_head_id' THEN ? ELSE ? END
		WHERE key IN ('audit_head_id', 'audit_head_hash')`, fmt.Sprint(a.Head.ID), a.Head.Hash); err != nil {
		return fmt.Errorf("store: import audit head: %w", err)
	}
	return nil
}

// localKinds are the names of the kinds registered Local, sorted.
func (s *Store) localKinds() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for name, k := range s.kinds {
		if k.Local {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Store) isLocal(kind string) bool {
	k, ok := s.kind(kind)
	return ok && k.Local
}

// withoutLocal drops the objects of Local kinds.
func (s *Store) withoutLocal(objs []ReplicaObject) []ReplicaObject {
	locals := s.localKinds()
	if len(locals) == 0 {
		return objs
	}
	out := objs[:0:0]
	for _, o := range objs {
		if !slices.Contains(locals, o.Kind) {
			out = append(out, o)
		}
	}
	return out
}

// Continues reports whether a node at revision rev whose audit chain ends at head
// holds exactly this node's history up to there (its chain is a prefix of this
// one and ends with the last row of transaction rev), so that the rows after head
// (ChangeLog) bring it level. behind is how many audit rows it lacks.
func (s *Store) Continues(ctx context.Context, rev int64, head AuditMark) (behind int64, ok bool, err error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, false, fmt.Errorf("store: continues: %w", err)
	}
	defer tx.Rollback() // read-only
	mine, err := auditHead(ctx, tx)
	if err != nil {
		return 0, false, err
	}
	if head.ID < 0 || head.ID > mine.ID {
		return 0, false, nil
	}
	behind = mine.ID - head.ID
	if head.ID == 0 {
		return behind, rev == 0 && head.Hash == "", nil
	}
	var txid int64
	var hash string
	err = tx.QueryRowContext(ctx, `SELECT txid, hash FROM audit WHERE id=?`, head.ID).Scan(&txid, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: continues: %w", err)
	}
	if hash != head.Hash || txid != rev {
		return 0, false, nil
	}
	// Rows of one transaction are contiguous: the next row must start the next one.
	// A reveal's row (auditOnly) carries the revision it was made at.
	var next int64
	var action string
	err = tx.QueryRowContext(ctx, `SELECT txid, action FROM audit WHERE id=?`, head.ID+1).Scan(&next, &action)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return behind, true, nil
	case err != nil:
		return 0, false, fmt.Errorf("store: continues: %w", err)
	}
	return behind, next > rev || (next == rev && auditOnly(action)), nil
}

// ChangeLog returns the audit rows after mark, whole transactions only, stopping
// at the first transaction boundary after maxRows rows (one large transaction is
// returned whole). The rows are the change log: see ApplyChanges.
func (s *Store) ChangeLog(ctx context.Context, after AuditMark, maxRows int) ([]ReplicaAuditRow, error) {
	return changeLog(ctx, s.read, after, maxRows)
}

// changeLog is ChangeLog on q: the store's reader, or a write transaction that
// has not committed yet (which sees its own rows).
func changeLog(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, after AuditMark, maxRows int) ([]ReplicaAuditRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, txid, time, username, source_ip, action, object_type, object_id,
		tenant, description, before, after, prev_hash, hash FROM audit WHERE id > ? ORDER BY id`, after.ID)
	if err != nil {
		return nil, fmt.Errorf("store: change log: %w", err)
	}
	defer rows.Close()
	var out []ReplicaAuditRow
	for rows.Next() {
		r, err := scanReplicaRow(rows)
		if err != nil {
			return nil, err
		}
		if len(out) >= maxRows && r.TxID != out[len(out)-1].TxID {
			break
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: change log: %w", err)
	}
	return out, nil
}

func scanReplicaRow(sc interface{ Scan(...any) error }) (ReplicaAuditRow, error) {
	var r ReplicaAuditRow
	var before, after sql.NullString
	if err := sc.Scan(&r.ID, &r.TxID, &r.Time, &r.User, &r.SourceIP, &r.Action, &r.ObjectType, &r.ObjectID,
		&r.Tenant, &r.Description, &before, &after, &r.PrevHash, &r.Hash); err != nil {
		return r, fmt.Errorf("store: audit row: %w", err)
	}
	if before.Valid {
		r.Before = &before.String
	}
	if after.Valid {
		r.After = &after.String
	}
	return r, nil
}

// auditOnly reports whether rows of action record an event without changing
// an object: a reveal (Reveal) is written at the revision it was made at, with
// no document, and is replayed as an audit row only.
func auditOnly(action string) bool { return action == "reveal" }

// CheckChanges rejects a change-log batch that is malformed in itself (what
// ApplyChanges checks against this node's state comes on top): rows with
// consecutive ids, each linked to the previous one's hash, transactions
// numbered consecutively, known actions, valid JSON documents and times.
func CheckChanges(rows []ReplicaAuditRow) error {
	if len(rows) == 0 {
		return errors.New("store: empty change batch")
	}
	for i, r := range rows {
		if r.ID < 1 || r.TxID < 1 {
			return fmt.Errorf("store: change %d: ids must be positive", i)
		}
		if i > 0 {
			p := rows[i-1]
			if r.ID != p.ID+1 || r.PrevHash != p.Hash || (r.TxID != p.TxID && r.TxID != p.TxID+1) {
				return fmt.Errorf("store: change %d does not follow change %d", i, i-1)
			}
		}
		if r.ObjectType == "" || r.ObjectID == "" || r.Hash == "" {
			return fmt.Errorf("store: change %d: object type, id and hash are required", i)
		}
		if !slices.Contains(AuditActions, r.Action) {
			return fmt.Errorf("store: change %d: unknown action %q", i, r.Action)
		}
		if _, err := time.Parse(timeLayout, r.Time); err != nil {
			return fmt.Errorf("store: change %d: time %q", i, r.Time)
		}
		for _, doc := range []*string{r.Before, r.After} {
			if doc != nil && !json.Valid([]byte(*doc)) {
				return fmt.Errorf("store: change %d: a document is not JSON", i)
			}
		}
		if r.After == nil && r.Action != "delete" && r.Action != "restore" && !auditOnly(r.Action) {
			return fmt.Errorf("store: change %d: %s without a document", i, r.Action)
		}
	}
	return nil
}

// ApplyChanges replays a change-log batch from the active node (see ChangeLog) in
// one transaction: every write again in its order (a row without a document
// deletes the object), the audit rows copied as stored, the revision and the
// audit head moved to the batch's last. The batch must continue this node's
// chain and revision exactly; otherwise nothing changes and the error says why
// (the caller then asks for a snapshot). Objects of Local kinds are not touched.
func (s *Store) ApplyChanges(ctx context.Context, rows []ReplicaAuditRow) error {
	if err := CheckChanges(rows); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	defer tx.Rollback() // after Commit this is a no-op
	var cur int64
	if err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&cur); err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	head, err := auditHead(ctx, tx)
	if err != nil {
		return err
	}
	if first := rows[0]; first.ID != head.ID+1 || first.PrevHash != head.Hash ||
		(first.TxID != cur+1 && (first.TxID != cur || !auditOnly(first.Action))) {
		return fmt.Errorf("store: apply: the batch starts at row %d of revision %d; this node is at row %d of revision %d",
			first.ID, first.TxID, head.ID, cur)
	}
	var changes []Change
	for _, r := range rows {
		if !s.isLocal(r.ObjectType) && !auditOnly(r.Action) {
			if r.After == nil {
				_, err = tx.ExecContext(ctx, `DELETE FROM objects WHERE kind=? AND id=?`, r.ObjectType, r.ObjectID)
			} else {
				at, _ := time.Parse(timeLayout, r.Time) // checked
				_, err = tx.ExecContext(ctx, `INSERT INTO objects(kind, id, tenant, data, rev, updated) VALUES (?,?,?,?,?,?)
					ON CONFLICT(kind, id) DO UPDATE SET tenant=excluded.tenant, data=excluded.data, rev=excluded.rev, updated=excluded.updated`,
					r.ObjectType, r.ObjectID, r.Tenant, *r.After, r.TxID, at.Format(time.RFC3339Nano))
			}
			if err != nil {
				return fmt.Errorf("store: apply %s/%s: %w", r.ObjectType, r.ObjectID, err)
			}
			changes = append(changes, Change{Kind: r.ObjectType, ID: r.ObjectID, Tenant: r.Tenant, Action: r.Action})
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit(id, txid, time, username, source_ip, action, object_type,
			object_id, tenant, description, before, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			r.ID, r.TxID, r.Time, r.User, r.SourceIP, r.Action, r.ObjectType, r.ObjectID, r.Tenant,
			r.Description, r.Before, r.After, r.PrevHash, r.Hash); err != nil {
			return fmt.Errorf("store: apply audit row %d: %w", r.ID, err)
		}
	}
	last := rows[len(rows)-1]
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = CASE key WHEN 'revision' THEN ? WHEN 'audit_head_id' THEN ? ELSE ? END
		WHERE key IN ('revision', 'audit_head_id', 'audit_head_hash')`, fmt.Sprint(last.TxID), fmt.Sprint(last.ID), last.Hash); err != nil {
		return fmt.Errorf("store: apply: %w", err)
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: apply commit: %w", err)
	}
	s.rev.Store(last.TxID)
	s.mu.RLock()
	hooks := s.hooks
	s.mu.RUnlock()
	for _, h := range hooks {
		h(last.TxID, changes)
	}
	s.publish(last.TxID, changes)
	return nil
}
