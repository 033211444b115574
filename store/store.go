package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Config says where the database lives.
type Config struct {
	// Path of the SQLite file. Its directory is created if missing.
	Path string
	// BusyTimeout is how long a connection waits for a lock before failing.
	BusyTimeout time.Duration
}

// DefaultConfig returns a Config for dataDir/switchboard.db.
func DefaultConfig(dataDir string) Config {
	return Config{Path: filepath.Join(dataDir, "switchboard.db"), BusyTimeout: 5 * time.Second}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("store: path is empty")
	}
	if c.BusyTimeout <= 0 {
		return errors.New("store: busy timeout must be positive")
	}
	return nil
}

// Actor is who makes a change and from where; it is copied into every audit row.
type Actor struct {
	User string
	IP   string
}

// System is the actor for changes the daemon makes by itself (start-up defaults).
var System = Actor{User: "system", IP: "local"}

// Errors callers map to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrReadOnly = errors.New("read-only transaction")
)

// NotFoundError is ErrNotFound that says what was not found ("no tenant with
// id or name \"x\""), for answers better than a bare "not found".
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError is a uniqueness or reference violation; Field names the JSON field.
type ConflictError struct {
	Field string
	Msg   string
}

func (e *ConflictError) Error() string { return e.Msg }

// ValidationError is bad input; Field names the JSON field at fault.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Msg }

// Kind describes one type of configuration object.
type Kind struct {
	// Name is the object type as it appears in audit rows ("tenant", "user", ...).
	Name string
	// Secrets are top-level JSON keys whose values audit listings redact.
	Secrets []string
	// Check validates a document that Restore is about to write, with the same rules
	// as an API write, inside the restoring transaction. Nil accepts anything.
	Check func(tx *Tx, id string, data json.RawMessage) error
	// Tenant says which tenant a document belongs to, so that a restore files it
	// where the document says, not where the object was after the change.
	// Nil keeps the audit row's tenant.
	Tenant func(data json.RawMessage) string
	// OnRestore runs in the restoring transaction after the object is written
	// (after is nil when the restore deleted it), e.g. to revoke a user's tokens.
	OnRestore func(tx *Tx, id string, after json.RawMessage) error
	// Unique maps a unique index name (see migrations) to the JSON field it covers,
	// so that a violation is reported on the right field.
	Unique map[string]string
	// Local marks a kind whose objects belong to this node alone (its HA
	// settings): HA replication neither sends them nor removes them on the
	// passive. Their audit rows travel like any other: the audit chain is one.
	Local bool
}

// Store is an open database.
type Store struct {
	cfg   Config
	write *sql.DB // one connection: SQLite has one writer; IMMEDIATE avoids lock upgrades
	read  *sql.DB
	rev   atomic.Int64

	mu    sync.RWMutex
	kinds map[string]Kind
	hooks []func(rev int64, changes []Change)
	// prepares are the OnPrepareSync functions.
	prepares []func(rev int64, rows func() ([]ReplicaAuditRow, error)) func(error)
	subs     []*subscriber

	// commitMu is held from a write transaction's commit to the end of its
	// synchronous hooks (replication), so that the revision, the hooks and the
	// subscribers' feed follow commit order: the next writer's commit waits.
	commitMu sync.Mutex
	guard    atomic.Pointer[func(Actor) error] // see SetWriteGuard (replica.go)
}

// Open opens (creating if needed) the database and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.BusyTimeout.Milliseconds()))
		q.Add("_pragma", "foreign_keys(ON)")
		if extra != "" {
			q.Add("_txlock", extra)
		}
		return "file:" + cfg.Path + "?" + q.Encode()
	}
	// Create the file private before SQLite opens it: SQLite gives the -wal and
	// -shm files the database file's mode, and they hold the same secrets.
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create %s: %w", cfg.Path, err)
	}
	f.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Chmod(cfg.Path+suffix, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store: chmod: %w", err)
		}
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", cfg.Path, err)
	}
	r.SetMaxOpenConns(8)
	s := &Store{cfg: cfg, write: w, read: r, kinds: map[string]Kind{}}
	if err := s.migrate(ctx); err != nil {
		s.Close() //nolint:errcheck // opening failed already; that error is the one to report
		return nil, err
	}
	var rev int64
	if err := w.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&rev); err != nil {
		s.Close() //nolint:errcheck // opening failed already; that error is the one to report
		return nil, fmt.Errorf("store: read revision: %w", err)
	}
	s.rev.Store(rev)
	return s, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	return errors.Join(s.write.Close(), s.read.Close())
}

// Path is the database file.
func (s *Store) Path() string { return s.cfg.Path }

// Revision is the global revision: the number of committed configuration changes.
func (s *Store) Revision() int64 { return s.rev.Load() }

// Register declares an object kind. Registering a name twice replaces it.
func (s *Store) Register(k Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds[k.Name] = k
}

// OnCommitSync adds a function called synchronously after each commit, under
// the commit lock, with the new revision and the objects it changed. It is the
// replication barrier (an acknowledged write must have reached the HA peer) and
// nothing else: every next writer waits for it. Components use Subscribe.
func (s *Store) OnCommitSync(f func(rev int64, changes []Change)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, f)
}

// OnPrepareSync adds a function called under the commit lock just before a
// write transaction that changed objects commits, with its revision and a
// function that reads the audit rows it wrote, from the open transaction and
// through ChangeLog's own query: its change log, exactly as ChangeLog returns
// those rows once they are committed. rows is valid only during the call, and
// costs a read only when called (a node with no HA peer attached does not). The
// function f returns is called right after the commit with the commit's error
// (nil: the transaction is durable here), before the OnCommitSync hooks. It
// lets replication send a transaction to the HA peer while this node's own
// commit and its fsync run, instead of after them; the OnCommitSync hook still
// waits for the peer before the writer goes on.
func (s *Store) OnPrepareSync(f func(rev int64, rows func() ([]ReplicaAuditRow, error)) (done func(error))) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prepares = append(s.prepares, f)
}

func (s *Store) kind(name string) (Kind, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.kinds[name]
	return k, ok
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok" when sound).
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	rows, err := s.read.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return "", fmt.Errorf("store: integrity check: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), rows.Err()
}

// Update runs fn in one write transaction. Every object written through the Tx gets
// its audit row in that transaction; if anything changed, the global revision is
// raised by one and that revision is the transaction id of all its audit rows.
// It returns the new revision (or the current one when nothing changed).
func (s *Store) Update(ctx context.Context, actor Actor, fn func(tx *Tx) error) (int64, error) {
	if actor.User == "" {
		return 0, errors.New("store: update without an actor")
	}
	if err := s.checkGuard(actor); err != nil {
		return 0, err
	}
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: begin: %w", err)
	}
	defer sqlTx.Rollback() // after Commit this is a no-op
	var cur int64
	if err := sqlTx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&cur); err != nil {
		return 0, fmt.Errorf("store: read revision: %w", err)
	}
	s.mu.RLock()
	prepares := s.prepares
	s.mu.RUnlock()
	tx := &Tx{s: s, ctx: ctx, tx: sqlTx, actor: actor, rev: cur + 1, now: time.Now().UTC()}
	if err := fn(tx); err != nil {
		return 0, err
	}
	if !tx.changed {
		// No object changed, but fn may have written what is not configuration
		// (revoked sessions, a device leaving the unknown list): keep that, with
		// no revision and no hooks.
		if err := sqlTx.Commit(); err != nil {
			return 0, fmt.Errorf("store: commit: %w", err)
		}
		return cur, nil
	}
	if _, err := sqlTx.ExecContext(ctx, `UPDATE meta SET value=? WHERE key='revision'`, tx.rev); err != nil {
		return 0, fmt.Errorf("store: raise revision: %w", err)
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	dones := make([]func(error), 0, len(prepares))
	rows := func() ([]ReplicaAuditRow, error) {
		// One transaction is returned whole, whatever maxRows.
		return changeLog(ctx, sqlTx, AuditMark{ID: tx.firstAudit - 1}, 1)
	}
	for _, p := range prepares {
		dones = append(dones, p(tx.rev, rows))
	}
	err = sqlTx.Commit()
	for _, done := range dones {
		done(err)
	}
	if err != nil {
		return 0, fmt.Errorf("store: commit: %w", err)
	}
	s.rev.Store(tx.rev)
	s.mu.RLock()
	hooks := s.hooks
	s.mu.RUnlock()
	for _, h := range hooks {
		h(tx.rev, tx.changes)
	}
	s.publish(tx.rev, tx.changes)
	return tx.rev, nil
}

// View runs fn in a read-only transaction that sees one consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer sqlTx.Rollback() // read-only
	return fn(&Tx{s: s, ctx: ctx, tx: sqlTx, readOnly: true})
}

// Tx is a transaction handed to Update or View.
type Tx struct {
	s        *Store
	ctx      context.Context
	tx       *sql.Tx
	actor    Actor
	rev      int64
	now      time.Time
	readOnly bool
	changed  bool
	changes  []Change
	// firstAudit is the id of the first audit row the transaction wrote (0:
	// none yet): where its change log starts (OnPrepareSync).
	firstAudit int64
}

// Get loads object kind/id into v. It reports false when there is no such object.
func (t *Tx) Get(kind, id string, v any) (bool, error) {
	raw, _, err := t.getRaw(kind, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("store: decode %s %s: %w", kind, id, err)
	}
	return true, nil
}

func (t *Tx) getRaw(kind, id string) (json.RawMessage, string, error) {
	var data, tenant string
	err := t.tx.QueryRowContext(t.ctx, `SELECT data, tenant FROM objects WHERE kind=? AND id=?`, kind, id).Scan(&data, &tenant)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("store: get %s %s: %w", kind, id, err)
	}
	return json.RawMessage(data), tenant, nil
}

// List calls fn with the JSON of every object of kind, ordered by id. An empty
// tenant lists all tenants' objects.
func (t *Tx) List(kind, tenant string, fn func(id string, data json.RawMessage) error) error {
	q := `SELECT id, data FROM objects WHERE kind=?`
	args := []any{kind}
	if tenant != "" {
		q += ` AND tenant=?`
		args = append(args, tenant)
	}
	rows, err := t.tx.QueryContext(t.ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("store: list %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return fmt.Errorf("store: list %s: %w", kind, err)
		}
		if err := fn(id, json.RawMessage(data)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Count returns how many objects of kind exist (in tenant, when not empty).
func (t *Tx) Count(kind, tenant string) (int, error) {
	q := `SELECT count(*) FROM objects WHERE kind=?`
	args := []any{kind}
	if tenant != "" {
		q += ` AND tenant=?`
		args = append(args, tenant)
	}
	var n int
	if err := t.tx.QueryRowContext(t.ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", kind, err)
	}
	return n, nil
}

// CountWhere counts objects of kind whose JSON field equals value.
func (t *Tx) CountWhere(kind, field string, value any) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, `SELECT count(*) FROM objects WHERE kind=? AND json_extract(data, ?)=?`,
		kind, "$."+field, value).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count %s by %s: %w", kind, field, err)
	}
	return n, nil
}

// Create stores a new object; ErrExists if kind/id is taken.
func (t *Tx) Create(kind, tenant, id string, v any, desc string) error {
	if _, _, err := t.getRaw(kind, id); err == nil {
		return ErrExists
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	return t.write("create", kind, tenant, id, nil, data, desc)
}

// Replace overwrites an existing object; ErrNotFound if it does not exist. Writing
// the same document again is not a change: no audit row, no new revision.
func (t *Tx) Replace(kind, tenant, id string, v any, desc string) error {
	before, oldTenant, err := t.getRaw(kind, id)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	if string(before) == string(data) && oldTenant == tenant {
		return nil
	}
	return t.write("update", kind, tenant, id, before, data, desc)
}

// Delete removes an object; ErrNotFound if it does not exist.
func (t *Tx) Delete(kind, id, desc string) error {
	before, tenant, err := t.getRaw(kind, id)
	if err != nil {
		return err
	}
	return t.write("delete", kind, tenant, id, before, nil, desc)
}

func (t *Tx) write(action, kind, tenant, id string, before, after json.RawMessage, desc string) error {
	if t.readOnly {
		return ErrReadOnly
	}
	var err error
	switch {
	case after == nil:
		_, err = t.tx.ExecContext(t.ctx, `DELETE FROM objects WHERE kind=? AND id=?`, kind, id)
	case before == nil:
		_, err = t.tx.ExecContext(t.ctx, `INSERT INTO objects(kind,id,tenant,data,rev,updated) VALUES(?,?,?,?,?,?)`,
			kind, id, tenant, string(after), t.rev, t.now.Format(time.RFC3339Nano))
	default:
		_, err = t.tx.ExecContext(t.ctx, `UPDATE objects SET tenant=?, data=?, rev=?, updated=? WHERE kind=? AND id=?`,
			tenant, string(after), t.rev, t.now.Format(time.RFC3339Nano), kind, id)
	}
	if err != nil {
		return t.s.mapConstraint(kind, err)
	}
	t.changed = true
	t.changes = append(t.changes, Change{Kind: kind, ID: id, Tenant: tenant, Action: action})
	return t.appendAudit(AuditRow{
		TxID: t.rev, Time: t.now, User: t.actor.User, SourceIP: t.actor.IP,
		Action: action, ObjectType: kind, ObjectID: id, Tenant: tenant,
		Description: desc, Before: before, After: after,
	})
}

// mapConstraint turns a SQLite UNIQUE violation into a ConflictError on the field
// the index covers.
func (s *Store) mapConstraint(kind string, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "UNIQUE constraint failed") {
		return fmt.Errorf("store: write %s: %w", kind, err)
	}
	k, _ := s.kind(kind)
	for index, field := range k.Unique {
		if strings.Contains(msg, index) {
			return &ConflictError{Field: field, Msg: fmt.Sprintf("another %s has the same %s", kind, field)}
		}
	}
	return &ConflictError{Msg: fmt.Sprintf("%s conflicts with an existing one", kind)}
}

// TenantObjects counts, per kind, the objects that belong to tenant.
func (t *Tx) TenantObjects(tenant string) (map[string]int, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT kind, count(*) FROM objects WHERE tenant=? GROUP BY kind`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: objects of tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
