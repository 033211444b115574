package store

// Replication support for ha: a snapshot of every object and of the audit chain,
// applying one on the passive node, and a guard that refuses writes while this node
// is not active.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	defer tx.Rollback() //nolint:errcheck // read-only
	if err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&snap.Revision); err != nil {
		return snap, fmt.Errorf("store: snapshot revision: %w", err)
	}
	if snap.Objects, err = exportObjects(ctx, tx); err != nil {
		return snap, err
	}
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
		var r ReplicaAuditRow
		var before, after sql.NullString
		if err := rows.Scan(&r.ID, &r.TxID, &r.Time, &r.User, &r.SourceIP, &r.Action, &r.ObjectType, &r.ObjectID,
			&r.Tenant, &r.Description, &before, &after, &r.PrevHash, &r.Hash); err != nil {
			return snap, fmt.Errorf("store: snapshot audit: %w", err)
		}
		if before.Valid {
			r.Before = &before.String
		}
		if after.Valid {
			r.After = &after.String
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
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	old, err := exportObjects(ctx, tx)
	if err != nil {
		return err
	}
	type key struct{ kind, id string }
	before := map[key]ReplicaObject{}
	for _, o := range old {
		before[key{o.Kind, o.ID}] = o
	}
	var changes []Change
	if _, err := tx.ExecContext(ctx, `DELETE FROM objects`); err != nil {
		return fmt.Errorf("store: import: %w", err)
	}
	for _, o := range snap.Objects {
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
