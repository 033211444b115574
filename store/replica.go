package store

// Replication support for ha: a snapshot of every object, applying one on the
// passive node, and a guard that refuses writes while this node is not active.

import (
	"context"
	"database/sql"
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

// Snapshot is every object at one revision.
type Snapshot struct {
	Revision int64           `json:"revision"`
	Objects  []ReplicaObject `json:"objects"`
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

// ExportSnapshot reads every object and the revision in one consistent read.
func (s *Store) ExportSnapshot(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return snap, fmt.Errorf("store: snapshot: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	if err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&snap.Revision); err != nil {
		return snap, fmt.Errorf("store: snapshot revision: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT kind, id, tenant, data, rev, updated FROM objects ORDER BY kind, id`)
	if err != nil {
		return snap, fmt.Errorf("store: snapshot: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o ReplicaObject
		if err := rows.Scan(&o.Kind, &o.ID, &o.Tenant, &o.Data, &o.Rev, &o.Updated); err != nil {
			return snap, fmt.Errorf("store: snapshot: %w", err)
		}
		snap.Objects = append(snap.Objects, o)
	}
	return snap, rows.Err()
}

// ImportSnapshot makes the objects and the revision exactly those of snap, in one
// transaction, and tells the OnCommit hooks what changed. The audit rows of the
// active node stay there: the passive keeps its own chain.
func (s *Store) ImportSnapshot(ctx context.Context, snap Snapshot) error {
	old, err := s.ExportSnapshot(ctx)
	if err != nil {
		return err
	}
	type key struct{ kind, id string }
	before := map[key]ReplicaObject{}
	for _, o := range old.Objects {
		before[key{o.Kind, o.ID}] = o
	}
	var changes []Change
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
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
	return nil
}
