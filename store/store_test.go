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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// Test helpers.

var (
	alice = Actor{User: "alice", IP: "192.0.2.10"}
	bob   = Actor{User: "bob", IP: "2001:db8::2"}
)

// openTest opens a fresh store in a temporary directory; it is closed when the test ends.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens the store's file with plain database/sql, the way an intruder (or an
// operator with the sqlite3 shell) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		t.Fatalf("raw open: %v", err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// update runs Update and fails the test on error.
func update(t *testing.T, s *Store, a Actor, fn func(tx *Tx) error) int64 {
	t.Helper()
	rev, err := s.Update(t.Context(), a, fn)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rev
}

// auditRows returns every stored audit row, oldest first, unredacted.
func auditRows(t *testing.T, s *Store) []AuditRow {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), auditSelect+` ORDER BY id`)
	if err != nil {
		t.Fatalf("audit rows: %v", err)
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			t.Fatalf("scan audit: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func auditCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.read.QueryRowContext(t.Context(), `SELECT count(*) FROM audit`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// metaRevision is the revision as stored, not as cached in memory.
func metaRevision(t *testing.T, s *Store) int64 {
	t.Helper()
	var rev int64
	if err := s.read.QueryRowContext(t.Context(), `SELECT CAST(value AS INTEGER) FROM meta WHERE key='revision'`).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// getObj loads kind/id as raw JSON through a View; nil when absent.
func getObj(t *testing.T, s *Store, kind, id string) json.RawMessage {
	t.Helper()
	var raw json.RawMessage
	err := s.View(t.Context(), func(tx *Tx) error {
		var m json.RawMessage
		ok, err := tx.Get(kind, id, &m)
		if ok {
			raw = m
		}
		return err
	})
	if err != nil {
		t.Fatalf("get %s %s: %v", kind, id, err)
	}
	return raw
}

func objTenant(t *testing.T, s *Store, kind, id string) string {
	t.Helper()
	var tenant string
	if err := s.read.QueryRowContext(t.Context(), `SELECT tenant FROM objects WHERE kind=? AND id=?`, kind, id).Scan(&tenant); err != nil {
		t.Fatalf("tenant of %s %s: %v", kind, id, err)
	}
	return tenant
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEq(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func verifyOK(t *testing.T, s *Store) VerifyResult {
	t.Helper()
	res, err := s.Verify(t.Context())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !res.OK || len(res.Problems) != 0 {
		t.Fatalf("Verify not OK: %+v", res)
	}
	return res
}

type doc map[string]any

// --- Config and Open ---

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"default", DefaultConfig("/var/lib/switchboard"), ""},
		{"empty path", Config{BusyTimeout: time.Second}, "path is empty"},
		{"zero timeout", Config{Path: "/x.db"}, "busy timeout"},
		{"negative timeout", Config{Path: "/x.db", BusyTimeout: -time.Second}, "busy timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
			if _, err := Open(t.Context(), tt.cfg); err == nil {
				t.Fatal("Open accepted an invalid config")
			}
		})
	}
	if got := DefaultConfig("/d").Path; got != "/d/switchboard.db" {
		t.Errorf("DefaultConfig path = %q", got)
	}
}

func TestOpenCreatesFileAndMigrates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data") // does not exist yet
	cfg := DefaultConfig(dir)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	fi, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatalf("database file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %o, want 600", perm)
	}
	if s.Path() != cfg.Path {
		t.Errorf("Path() = %q, want %q", s.Path(), cfg.Path)
	}
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("SchemaVersion = %d, want %d", v, len(migrations))
	}
	if s.Revision() != 0 {
		t.Errorf("fresh Revision = %d, want 0", s.Revision())
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// Every migration applied exactly once.
	var n int
	if err := s.read.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(migrations) {
		t.Errorf("schema_migrations rows = %d (%v), want %d", n, err, len(migrations))
	}
	for _, obj := range []struct{ typ, name string }{
		{"table", "meta"}, {"table", "objects"}, {"table", "audit"}, {"table", "sessions"},
		{"table", "unknown_devices"}, {"index", "objects_tenant_name"}, {"index", "objects_device_mac"},
		{"trigger", "audit_no_update"}, {"trigger", "audit_no_delete"},
	} {
		var got string
		err := s.read.QueryRow(`SELECT name FROM sqlite_master WHERE type=? AND name=?`, obj.typ, obj.name).Scan(&got)
		if err != nil {
			t.Errorf("%s %s missing: %v", obj.typ, obj.name, err)
		}
	}
	var mode string
	if err := s.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	verifyOK(t, s)
}

func TestOpenTightensExistingFileMode(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	if err := os.WriteFile(cfg.Path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open over an empty file: %v", err)
	}
	defer s.Close()
	fi, err := os.Stat(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %o, want 600", perm)
	}
}

func TestOpenRejectsGarbageFile(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	if err := os.WriteFile(cfg.Path, []byte(strings.Repeat("this is not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a file that is not a database")
	}
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"v": 1}, "") })
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "w2", doc{"v": 2}, "") })
	rev := update(t, s, alice, func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", doc{"v": 3}, "") })
	if rev != 3 {
		t.Fatalf("revision after 3 updates = %d", rev)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if s2.Revision() != 3 {
		t.Errorf("revision after reopen = %d, want 3", s2.Revision())
	}
	if got := getObj(t, s2, "widget", "w1"); !jsonEq(got, mustJSON(t, doc{"v": 3})) {
		t.Errorf("w1 after reopen = %s", got)
	}
	if got := getObj(t, s2, "widget", "w2"); !jsonEq(got, mustJSON(t, doc{"v": 2})) {
		t.Errorf("w2 after reopen = %s", got)
	}
	v, _ := s2.SchemaVersion(t.Context())
	var n int
	s2.read.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n)
	if v != len(migrations) || n != len(migrations) {
		t.Errorf("after reopen: schema version %d, %d migration rows; want %d", v, n, len(migrations))
	}
	verifyOK(t, s2)
	// The chain and the revision continue where they were.
	rev = update(t, s2, bob, func(tx *Tx) error { return tx.Delete("widget", "w2", "") })
	if rev != 4 {
		t.Errorf("revision of first update after reopen = %d, want 4", rev)
	}
	rows := auditRows(t, s2)
	if len(rows) != 4 || rows[3].ID != 4 || rows[3].TxID != 4 || rows[3].PrevHash != rows[2].Hash {
		t.Errorf("audit chain after reopen: %+v", rows)
	}
	verifyOK(t, s2)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, cfg.Path)
	mustExec(t, db, `INSERT INTO schema_migrations(version, applied) VALUES (?, 'future')`, len(migrations)+1)
	db.Close()
	s, err = Open(t.Context(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a database from a newer binary")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error = %v, want it to say the schema is newer", err)
	}
}

// --- Update and the audit rows it writes ---

func TestUpdateWritesOneAuditRow(t *testing.T) {
	type setup func(tx *Tx) error
	create := func(kind, tenant, id string, v any) setup {
		return func(tx *Tx) error { return tx.Create(kind, tenant, id, v, "setup") }
	}
	tests := []struct {
		name       string
		setup      setup
		op         func(tx *Tx) error
		action     string
		kind, id   string
		tenant     string
		before     json.RawMessage
		after      json.RawMessage
		desc       string
		wantObject json.RawMessage // nil: the object must be absent afterwards
	}{
		{
			name: "create",
			op: func(tx *Tx) error {
				return tx.Create("widget", "t1", "w1", doc{"name": "a", "n": 1}, "widget a created")
			},
			action: "create", kind: "widget", id: "w1", tenant: "t1",
			before: nil, after: json.RawMessage(`{"n":1,"name":"a"}`), desc: "widget a created",
			wantObject: json.RawMessage(`{"n":1,"name":"a"}`),
		},
		{
			name:  "replace",
			setup: create("widget", "t1", "w1", doc{"name": "a", "n": 1}),
			op: func(tx *Tx) error {
				return tx.Replace("widget", "t1", "w1", doc{"name": "a", "n": 2}, "widget a changed")
			},
			action: "update", kind: "widget", id: "w1", tenant: "t1",
			before: json.RawMessage(`{"n":1,"name":"a"}`), after: json.RawMessage(`{"n":2,"name":"a"}`), desc: "widget a changed",
			wantObject: json.RawMessage(`{"n":2,"name":"a"}`),
		},
		{
			name:   "replace moves tenant",
			setup:  create("widget", "t1", "w1", doc{"n": 1}),
			op:     func(tx *Tx) error { return tx.Replace("widget", "t2", "w1", doc{"n": 2}, "moved") },
			action: "update", kind: "widget", id: "w1", tenant: "t2",
			before: json.RawMessage(`{"n":1}`), after: json.RawMessage(`{"n":2}`), desc: "moved",
			wantObject: json.RawMessage(`{"n":2}`),
		},
		{
			name:   "delete takes the tenant from the object",
			setup:  create("widget", "t9", "w1", doc{"n": 1}),
			op:     func(tx *Tx) error { return tx.Delete("widget", "w1", "widget gone") },
			action: "delete", kind: "widget", id: "w1", tenant: "t9",
			before: json.RawMessage(`{"n":1}`), after: nil, desc: "widget gone",
			wantObject: nil,
		},
		{
			name:   "create without tenant",
			op:     func(tx *Tx) error { return tx.Create("setting", "", "global", []int{1, 2}, "") },
			action: "create", kind: "setting", id: "global", tenant: "",
			before: nil, after: json.RawMessage(`[1,2]`),
			wantObject: json.RawMessage(`[1,2]`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			if tt.setup != nil {
				update(t, s, System, tt.setup)
			}
			rev0, rows0 := s.Revision(), auditCount(t, s)
			start := time.Now().UTC()

			rev := update(t, s, bob, tt.op)

			if rev != rev0+1 || s.Revision() != rev || metaRevision(t, s) != rev {
				t.Errorf("revision: returned %d, Revision() %d, stored %d; want %d", rev, s.Revision(), metaRevision(t, s), rev0+1)
			}
			rows := auditRows(t, s)
			if len(rows) != rows0+1 {
				t.Fatalf("audit rows: %d -> %d, want exactly one more", rows0, len(rows))
			}
			r := rows[len(rows)-1]
			if r.TxID != rev {
				t.Errorf("TxID = %d, want new revision %d", r.TxID, rev)
			}
			if r.ID != int64(len(rows)) {
				t.Errorf("row id = %d, want %d", r.ID, len(rows))
			}
			if r.Action != tt.action || r.User != bob.User || r.SourceIP != bob.IP ||
				r.ObjectType != tt.kind || r.ObjectID != tt.id || r.Tenant != tt.tenant || r.Description != tt.desc {
				t.Errorf("row = %+v\nwant action %q user %q ip %q type %q id %q tenant %q desc %q",
					r, tt.action, bob.User, bob.IP, tt.kind, tt.id, tt.tenant, tt.desc)
			}
			if (r.Before == nil) != (tt.before == nil) || !jsonEq(r.Before, tt.before) {
				t.Errorf("before = %s, want %s", r.Before, tt.before)
			}
			if (r.After == nil) != (tt.after == nil) || !jsonEq(r.After, tt.after) {
				t.Errorf("after = %s, want %s", r.After, tt.after)
			}
			if r.Time.Before(start.Add(-time.Second)) || r.Time.After(time.Now().Add(time.Second)) {
				t.Errorf("row time %v is not now", r.Time)
			}
			got := getObj(t, s, tt.kind, tt.id)
			if (got == nil) != (tt.wantObject == nil) || !jsonEq(got, tt.wantObject) {
				t.Errorf("object after = %s, want %s", got, tt.wantObject)
			}
			if tt.wantObject != nil {
				if tn := objTenant(t, s, tt.kind, tt.id); tn != tt.tenant {
					t.Errorf("object tenant = %q, want %q", tn, tt.tenant)
				}
				var orev int64
				s.read.QueryRow(`SELECT rev FROM objects WHERE kind=? AND id=?`, tt.kind, tt.id).Scan(&orev)
				if orev != rev {
					t.Errorf("object rev = %d, want %d", orev, rev)
				}
			}
			verifyOK(t, s)
		})
	}
}

func TestUpdateRevisionPerTransaction(t *testing.T) {
	s := openTest(t)
	rev := update(t, s, alice, func(tx *Tx) error {
		for i := range 3 {
			if err := tx.Create("widget", "t1", fmt.Sprint("w", i), doc{"i": i}, ""); err != nil {
				return err
			}
		}
		return tx.Replace("widget", "t1", "w0", doc{"i": 100}, "")
	})
	if rev != 1 || s.Revision() != 1 {
		t.Fatalf("one Update with 4 writes: revision %d / %d, want 1", rev, s.Revision())
	}
	rows := auditRows(t, s)
	if len(rows) != 4 {
		t.Fatalf("audit rows = %d, want 4 (one per write)", len(rows))
	}
	for i, r := range rows {
		if r.TxID != 1 {
			t.Errorf("row %d TxID = %d, want 1", r.ID, r.TxID)
		}
		if r.ID != int64(i+1) {
			t.Errorf("row %d has id %d", i, r.ID)
		}
		if !r.Time.Equal(rows[0].Time) {
			t.Errorf("rows of one transaction have different times: %v vs %v", r.Time, rows[0].Time)
		}
	}
	if rows[3].Action != "update" || !jsonEq(rows[3].Before, json.RawMessage(`{"i":0}`)) {
		t.Errorf("replace inside the creating transaction: %+v", rows[3])
	}
	rev = update(t, s, alice, func(tx *Tx) error { return tx.Delete("widget", "w1", "") })
	if rev != 2 {
		t.Errorf("next Update revision = %d, want 2", rev)
	}
	verifyOK(t, s)
}

func TestReplaceIdenticalIsNoChange(t *testing.T) {
	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"a": 1, "b": "x"}, "") })
	calls := 0
	s.OnCommitSync(func(int64, []Change) { calls++ })

	// The same document, built as a map or as a struct: still no change.
	type w struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	for _, v := range []any{doc{"b": "x", "a": 1}, w{A: 1, B: "x"}} {
		rev := update(t, s, bob, func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", v, "") })
		if rev != 1 || s.Revision() != 1 || metaRevision(t, s) != 1 {
			t.Errorf("no-op Replace(%v): revision %d/%d/%d, want 1", v, rev, s.Revision(), metaRevision(t, s))
		}
	}
	if n := auditCount(t, s); n != 1 {
		t.Errorf("audit rows = %d after no-op replaces, want 1", n)
	}
	if calls != 0 {
		t.Errorf("OnCommit called %d times for no-op updates", calls)
	}
	// A no-op next to a real change: one row, one revision.
	rev := update(t, s, bob, func(tx *Tx) error {
		if err := tx.Replace("widget", "t1", "w1", doc{"a": 1, "b": "x"}, ""); err != nil {
			return err
		}
		return tx.Create("widget", "t1", "w2", doc{}, "")
	})
	rows := auditRows(t, s)
	if rev != 2 || len(rows) != 2 || rows[1].ObjectID != "w2" {
		t.Errorf("no-op + create: rev %d, rows %+v", rev, rows)
	}
}

func TestUpdateErrorRollsBack(t *testing.T) {
	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "keep", doc{"v": 1}, "") })
	if err := s.CreateSession(t.Context(), Session{TokenHash: "h1", Username: "carol", Kind: "admin",
		Created: time.Now(), Expires: time.Now().Add(time.Hour), SourceIP: "x"}); err != nil {
		t.Fatal(err)
	}
	hooked := false
	s.OnCommitSync(func(int64, []Change) { hooked = true })
	boom := errors.New("boom")
	rev, err := s.Update(t.Context(), bob, func(tx *Tx) error {
		if err := tx.Create("widget", "t1", "new", doc{"v": 2}, ""); err != nil {
			return err
		}
		if err := tx.Replace("widget", "t1", "keep", doc{"v": 3}, ""); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions("carol"); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}
	if rev != 0 {
		t.Errorf("failed Update returned revision %d", rev)
	}
	if got := getObj(t, s, "widget", "new"); got != nil {
		t.Errorf("object created in a failed Update exists: %s", got)
	}
	if got := getObj(t, s, "widget", "keep"); !jsonEq(got, json.RawMessage(`{"v":1}`)) {
		t.Errorf("object replaced in a failed Update = %s", got)
	}
	if n := auditCount(t, s); n != 1 {
		t.Errorf("audit rows = %d, want 1", n)
	}
	if s.Revision() != 1 || metaRevision(t, s) != 1 {
		t.Errorf("revision = %d/%d, want 1", s.Revision(), metaRevision(t, s))
	}
	if _, err := s.LookupSession(t.Context(), "h1", time.Now()); err != nil {
		t.Errorf("session revoked by a failed Update: %v", err)
	}
	if hooked {
		t.Error("OnCommit called for a failed Update")
	}
	verifyOK(t, s)
	// The next change continues the chain without a gap.
	if rev := update(t, s, bob, func(tx *Tx) error { return tx.Create("widget", "t1", "new", doc{}, "") }); rev != 2 {
		t.Errorf("revision after rollback = %d, want 2", rev)
	}
	rows := auditRows(t, s)
	if len(rows) != 2 || rows[1].ID != 2 || rows[1].PrevHash != rows[0].Hash {
		t.Errorf("chain after rollback: %+v", rows)
	}
	verifyOK(t, s)
}

func TestUpdateWithoutActor(t *testing.T) {
	s := openTest(t)
	for _, a := range []Actor{{}, {IP: "192.0.2.1"}} {
		called := false
		_, err := s.Update(t.Context(), a, func(tx *Tx) error {
			called = true
			return tx.Create("widget", "", "w", doc{}, "")
		})
		if err == nil {
			t.Errorf("Update with actor %+v succeeded", a)
		}
		if called {
			t.Errorf("fn ran for actor %+v", a)
		}
	}
	if s.Revision() != 0 || auditCount(t, s) != 0 || getObj(t, s, "widget", "w") != nil {
		t.Error("an Update without an actor changed something")
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		op   func(tx *Tx) error
		want error
	}{
		{"create existing", func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"x": 1}, "") }, ErrExists},
		{"create existing in another tenant", func(tx *Tx) error { return tx.Create("widget", "t2", "w1", doc{}, "") }, ErrExists},
		{"replace missing", func(tx *Tx) error { return tx.Replace("widget", "t1", "nope", doc{}, "") }, ErrNotFound},
		{"replace other kind", func(tx *Tx) error { return tx.Replace("gadget", "t1", "w1", doc{}, "") }, ErrNotFound},
		{"delete missing", func(tx *Tx) error { return tx.Delete("widget", "nope", "") }, ErrNotFound},
		{"create same id other kind", func(tx *Tx) error { return tx.Create("gadget", "t1", "w1", doc{}, "") }, nil},
		{"create unencodable", func(tx *Tx) error { return tx.Create("widget", "t1", "w2", make(chan int), "") }, errAny},
		{"replace unencodable", func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", func() {}, "") }, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"v": 1}, "") })
			var opErr error
			_, err := s.Update(t.Context(), bob, func(tx *Tx) error {
				opErr = tt.op(tx)
				return opErr
			})
			switch {
			case tt.want == nil:
				if opErr != nil || err != nil {
					t.Fatalf("got %v / %v, want success", opErr, err)
				}
				return
			case tt.want == errAny:
				if opErr == nil {
					t.Fatal("want an error")
				}
			case !errors.Is(opErr, tt.want) || !errors.Is(err, tt.want):
				t.Fatalf("op error %v, Update error %v; want %v", opErr, err, tt.want)
			}
			if s.Revision() != 1 || auditCount(t, s) != 1 {
				t.Errorf("failed write changed revision (%d) or audit (%d rows)", s.Revision(), auditCount(t, s))
			}
			if got := getObj(t, s, "widget", "w1"); !jsonEq(got, json.RawMessage(`{"v":1}`)) {
				t.Errorf("w1 = %s after failed write", got)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestUniqueIndexConflict(t *testing.T) {
	tenantKind := Kind{Name: "tenant", Unique: map[string]string{"objects_tenant_name": "name"}}
	deviceKind := Kind{Name: "device", Unique: map[string]string{"objects_device_mac": "mac"}}
	tests := []struct {
		name      string
		kinds     []Kind
		first     func(tx *Tx) error
		second    func(tx *Tx) error
		wantField string // "-" = no conflict expected
	}{
		{
			name:      "tenant name with registered index",
			kinds:     []Kind{tenantKind},
			first:     func(tx *Tx) error { return tx.Create("tenant", "", "t1", doc{"name": "acme"}, "") },
			second:    func(tx *Tx) error { return tx.Create("tenant", "", "t2", doc{"name": "acme"}, "") },
			wantField: "name",
		},
		{
			name:      "tenant name without a registered kind",
			first:     func(tx *Tx) error { return tx.Create("tenant", "", "t1", doc{"name": "acme"}, "") },
			second:    func(tx *Tx) error { return tx.Create("tenant", "", "t2", doc{"name": "acme"}, "") },
			wantField: "",
		},
		{
			name:  "tenant renamed onto another",
			kinds: []Kind{tenantKind},
			first: func(tx *Tx) error {
				if err := tx.Create("tenant", "", "t1", doc{"name": "acme"}, ""); err != nil {
					return err
				}
				return tx.Create("tenant", "", "t2", doc{"name": "globex"}, "")
			},
			second:    func(tx *Tx) error { return tx.Replace("tenant", "", "t2", doc{"name": "acme"}, "") },
			wantField: "name",
		},
		{
			name:      "different tenant names",
			kinds:     []Kind{tenantKind},
			first:     func(tx *Tx) error { return tx.Create("tenant", "", "t1", doc{"name": "acme"}, "") },
			second:    func(tx *Tx) error { return tx.Create("tenant", "", "t2", doc{"name": "globex"}, "") },
			wantField: "-",
		},
		{
			name:      "same name on another kind is no conflict",
			kinds:     []Kind{tenantKind},
			first:     func(tx *Tx) error { return tx.Create("tenant", "", "t1", doc{"name": "acme"}, "") },
			second:    func(tx *Tx) error { return tx.Create("widget", "", "w1", doc{"name": "acme"}, "") },
			wantField: "-",
		},
		{
			name:      "device mac in one tenant",
			kinds:     []Kind{deviceKind},
			first:     func(tx *Tx) error { return tx.Create("device", "t1", "d1", doc{"mac": "001122334455"}, "") },
			second:    func(tx *Tx) error { return tx.Create("device", "t1", "d2", doc{"mac": "001122334455"}, "") },
			wantField: "mac",
		},
		{
			name:      "device mac in two tenants",
			kinds:     []Kind{deviceKind},
			first:     func(tx *Tx) error { return tx.Create("device", "t1", "d1", doc{"mac": "001122334455"}, "") },
			second:    func(tx *Tx) error { return tx.Create("device", "t2", "d2", doc{"mac": "001122334455"}, "") },
			wantField: "-",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			for _, k := range tt.kinds {
				s.Register(k)
			}
			update(t, s, alice, tt.first)
			rev0, rows0 := s.Revision(), auditCount(t, s)
			_, err := s.Update(t.Context(), bob, tt.second)
			if tt.wantField == "-" {
				if err != nil {
					t.Fatalf("second write: %v", err)
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want *ConflictError", err, err)
			}
			if ce.Field != tt.wantField {
				t.Errorf("ConflictError.Field = %q, want %q (msg %q)", ce.Field, tt.wantField, ce.Msg)
			}
			if ce.Error() == "" || ce.Error() != ce.Msg {
				t.Errorf("Error() = %q, Msg = %q", ce.Error(), ce.Msg)
			}
			if s.Revision() != rev0 || auditCount(t, s) != rows0 {
				t.Error("a conflicting write changed the revision or the audit log")
			}
			verifyOK(t, s)
		})
	}
}

func TestConflictInsideUpdateKeepsOtherWrites(t *testing.T) {
	// A caller that handles a conflict and carries on must not leave a half-written
	// object or an audit row without its object.
	s := openTest(t)
	s.Register(Kind{Name: "tenant", Unique: map[string]string{"objects_tenant_name": "name"}})
	update(t, s, alice, func(tx *Tx) error { return tx.Create("tenant", "", "t1", doc{"name": "acme"}, "") })
	rev := update(t, s, alice, func(tx *Tx) error {
		var ce *ConflictError
		if err := tx.Create("tenant", "", "t2", doc{"name": "acme"}, ""); !errors.As(err, &ce) {
			return fmt.Errorf("want conflict, got %v", err)
		}
		return tx.Create("tenant", "", "t3", doc{"name": "initech"}, "")
	})
	if rev != 2 {
		t.Errorf("revision = %d, want 2", rev)
	}
	rows := auditRows(t, s)
	if len(rows) != 2 || rows[1].ObjectID != "t3" {
		t.Errorf("audit rows: %+v", rows)
	}
	if getObj(t, s, "tenant", "t2") != nil {
		t.Error("conflicting object was written")
	}
	verifyOK(t, s)
}

// --- Reads ---

func TestViewReads(t *testing.T) {
	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error {
		for _, o := range []struct {
			kind, tenant, id string
			v                doc
		}{
			{"widget", "t1", "b", doc{"color": "red", "n": 1}},
			{"widget", "t1", "a", doc{"color": "blue", "n": 2}},
			{"widget", "t2", "c", doc{"color": "red", "n": 3}},
			{"gadget", "t1", "g", doc{"color": "red"}},
		} {
			if err := tx.Create(o.kind, o.tenant, o.id, o.v, ""); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(t.Context(), func(tx *Tx) error {
		var w struct {
			Color string `json:"color"`
			N     int    `json:"n"`
		}
		ok, err := tx.Get("widget", "a", &w)
		if err != nil || !ok || w.Color != "blue" || w.N != 2 {
			t.Errorf("Get a = %v %v %+v", ok, err, w)
		}
		ok, err = tx.Get("widget", "zz", &w)
		if err != nil || ok {
			t.Errorf("Get missing = %v %v", ok, err)
		}
		var wrong int
		if _, err := tx.Get("widget", "a", &wrong); err == nil {
			t.Error("Get into a mismatched type did not fail")
		}

		listTests := []struct {
			kind, tenant string
			want         []string
		}{
			{"widget", "", []string{"a", "b", "c"}},
			{"widget", "t1", []string{"a", "b"}},
			{"widget", "t2", []string{"c"}},
			{"widget", "t3", nil},
			{"gadget", "", []string{"g"}},
		}
		for _, lt := range listTests {
			var got []string
			if err := tx.List(lt.kind, lt.tenant, func(id string, data json.RawMessage) error {
				if !json.Valid(data) {
					t.Errorf("List %s gave invalid JSON %s", id, data)
				}
				got = append(got, id)
				return nil
			}); err != nil {
				t.Errorf("List: %v", err)
			}
			if !slices.Equal(got, lt.want) {
				t.Errorf("List(%s, %q) = %v, want %v", lt.kind, lt.tenant, got, lt.want)
			}
			n, err := tx.Count(lt.kind, lt.tenant)
			if err != nil || n != len(lt.want) {
				t.Errorf("Count(%s, %q) = %d %v, want %d", lt.kind, lt.tenant, n, err, len(lt.want))
			}
		}
		stop := errors.New("stop")
		calls := 0
		if err := tx.List("widget", "", func(string, json.RawMessage) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List did not stop at the callback's error: %v after %d calls", err, calls)
		}

		whereTests := []struct {
			kind, field string
			value       any
			want        int
		}{
			{"widget", "color", "red", 2},
			{"widget", "color", "blue", 1},
			{"widget", "color", "green", 0},
			{"widget", "n", 3, 1},
			{"gadget", "color", "red", 1},
		}
		for _, wt := range whereTests {
			n, err := tx.CountWhere(wt.kind, wt.field, wt.value)
			if err != nil || n != wt.want {
				t.Errorf("CountWhere(%s, %s, %v) = %d %v, want %d", wt.kind, wt.field, wt.value, n, err, wt.want)
			}
		}
		per, err := tx.TenantObjects("t1")
		if err != nil || len(per) != 2 || per["widget"] != 2 || per["gadget"] != 1 {
			t.Errorf("TenantObjects(t1) = %v %v", per, err)
		}
		per, err = tx.TenantObjects("none")
		if err != nil || len(per) != 0 {
			t.Errorf("TenantObjects(none) = %v %v", per, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"v": 1}, "") })
	ops := []struct {
		name string
		op   func(tx *Tx) error
	}{
		{"create", func(tx *Tx) error { return tx.Create("widget", "t1", "w2", doc{}, "") }},
		{"replace", func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", doc{"v": 2}, "") }},
		{"delete", func(tx *Tx) error { return tx.Delete("widget", "w1", "") }},
		{"delete sessions", func(tx *Tx) error { return tx.DeleteUserSessions("alice") }},
		{"forget unknown", func(tx *Tx) error { return tx.ForgetUnknown("t1", "001122334455") }},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			var opErr error
			err := s.View(t.Context(), func(tx *Tx) error { opErr = o.op(tx); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if !errors.Is(opErr, ErrReadOnly) {
				t.Errorf("%s in View = %v, want ErrReadOnly", o.name, opErr)
			}
		})
	}
	if s.Revision() != 1 || auditCount(t, s) != 1 || !jsonEq(getObj(t, s, "widget", "w1"), json.RawMessage(`{"v":1}`)) {
		t.Error("a View changed something")
	}
	// View returns fn's error.
	sentinel := errors.New("x")
	if err := s.View(t.Context(), func(*Tx) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("View error = %v", err)
	}
}

// --- Hooks, integrity ---

func TestOnCommit(t *testing.T) {
	s := openTest(t)
	type call struct {
		rev     int64
		changes []Change
	}
	var first, second []call
	s.OnCommitSync(func(rev int64, ch []Change) { first = append(first, call{rev, slices.Clone(ch)}) })
	s.OnCommitSync(func(rev int64, ch []Change) { second = append(second, call{rev, slices.Clone(ch)}) })

	update(t, s, alice, func(tx *Tx) error {
		if err := tx.Create("widget", "t1", "w1", doc{"v": 1}, ""); err != nil {
			return err
		}
		return tx.Create("widget", "t2", "w2", doc{"v": 1}, "")
	})
	update(t, s, alice, func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", doc{"v": 1}, "") }) // no-op
	s.Update(t.Context(), alice, func(tx *Tx) error {
		tx.Delete("widget", "w1", "")
		return errors.New("abort")
	})
	update(t, s, alice, func(tx *Tx) error { return tx.Delete("widget", "w2", "") })

	want := []call{
		{1, []Change{{Kind: "widget", ID: "w1", Tenant: "t1", Action: "create"}, {Kind: "widget", ID: "w2", Tenant: "t2", Action: "create"}}},
		{2, []Change{{Kind: "widget", ID: "w2", Tenant: "t2", Action: "delete"}}},
	}
	for name, got := range map[string][]call{"first": first, "second": second} {
		if len(got) != len(want) {
			t.Fatalf("%s hook: %d calls %+v, want %d", name, len(got), got, len(want))
		}
		for i := range want {
			if got[i].rev != want[i].rev || !slices.Equal(got[i].changes, want[i].changes) {
				t.Errorf("%s hook call %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
}

func TestOnCommitSeesCommittedState(t *testing.T) {
	// A hook runs after the commit: a reader it starts sees the change and the revision.
	s := openTest(t)
	var seen json.RawMessage
	var seenRev int64
	s.OnCommitSync(func(rev int64, _ []Change) {
		seenRev = s.Revision()
		seen = getObj(t, s, "widget", "w1")
	})
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "", "w1", doc{"v": 7}, "") })
	if seenRev != 1 || !jsonEq(seen, json.RawMessage(`{"v":7}`)) {
		t.Errorf("hook saw revision %d and object %s", seenRev, seen)
	}
}

func TestIntegrityCheck(t *testing.T) {
	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "", "w1", doc{"v": 1}, "") })
	got, err := s.IntegrityCheck(t.Context())
	if err != nil || got != "ok" {
		t.Errorf("IntegrityCheck = %q, %v; want ok", got, err)
	}
}

// --- Concurrency ---

func TestConcurrentUpdates(t *testing.T) {
	const workers, each = 8, 50
	s := openTest(t)
	var mu sync.Mutex
	hookRevs := map[int64]bool{}
	s.OnCommitSync(func(rev int64, _ []Change) {
		mu.Lock()
		hookRevs[rev] = true
		mu.Unlock()
	})
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := Actor{User: fmt.Sprint("user", w), IP: "192.0.2.1"}
			for i := range each {
				_, err := s.Update(context.Background(), a, func(tx *Tx) error {
					return tx.Create("widget", fmt.Sprint("t", w), fmt.Sprintf("w%d-%d", w, i), doc{"w": w, "i": i}, "")
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Readers run alongside the writers.
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	for range 2 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.View(context.Background(), func(tx *Tx) error { _, err := tx.Count("widget", ""); return err }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent: %v", err)
	}
	const total = workers * each
	if got := metaRevision(t, s); got != total {
		t.Errorf("stored revision = %d, want %d", got, total)
	}
	if got := s.Revision(); got != total {
		t.Errorf("Revision() = %d, want %d", got, total)
	}
	rows := auditRows(t, s)
	if len(rows) != total {
		t.Fatalf("audit rows = %d, want %d", len(rows), total)
	}
	txids := map[int64]bool{}
	for _, r := range rows {
		txids[r.TxID] = true
	}
	if len(txids) != total || len(hookRevs) != total {
		t.Errorf("distinct txids %d, hook revisions %d; want %d each", len(txids), len(hookRevs), total)
	}
	res := verifyOK(t, s)
	if res.Rows != total || res.HeadID != total {
		t.Errorf("Verify rows %d head %d, want %d", res.Rows, res.HeadID, total)
	}
	var n int
	s.View(t.Context(), func(tx *Tx) error { n, _ = tx.Count("widget", ""); return nil })
	if n != total {
		t.Errorf("objects = %d, want %d", n, total)
	}
}

// --- Unknown devices ---

func TestUnknownDevices(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	see := func(tenant, mac string, at time.Time, file string) {
		t.Helper()
		if err := s.SeeUnknown(t.Context(), UnknownDevice{Tenant: tenant, MAC: mac, LastSeen: at, IP: "10.0.0.5", UserAgent: "ua", File: file}); err != nil {
			t.Fatal(err)
		}
	}
	see("t1", "aa", t0, "f1")
	see("t1", "bb", t0.Add(time.Minute), "f2")
	see("t1", "aa", t0.Add(2*time.Minute), "f3")
	see("t2", "aa", t0, "f4")
	if s.Revision() != 0 || auditCount(t, s) != 0 {
		t.Error("unknown devices raised the revision or wrote audit rows")
	}
	got, err := s.UnknownDevices(t.Context(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].MAC != "aa" || got[1].MAC != "bb" {
		t.Fatalf("UnknownDevices(t1) = %+v", got)
	}
	if got[0].Requests != 2 || !got[0].FirstSeen.Equal(t0) || !got[0].LastSeen.Equal(t0.Add(2*time.Minute)) || got[0].File != "f3" {
		t.Errorf("refreshed device = %+v", got[0])
	}
	update(t, s, alice, func(tx *Tx) error {
		if err := tx.ForgetUnknown("t1", "aa"); err != nil {
			return err
		}
		return tx.Create("device", "t1", "d1", doc{"mac": "aa"}, "adopted")
	})
	got, _ = s.UnknownDevices(t.Context(), "t1")
	if len(got) != 1 || got[0].MAC != "bb" {
		t.Errorf("after ForgetUnknown: %+v", got)
	}
	if got, _ := s.UnknownDevices(t.Context(), "t2"); len(got) != 1 {
		t.Errorf("ForgetUnknown touched another tenant: %+v", got)
	}
	if got, err := s.UnknownDevices(t.Context(), "none"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("UnknownDevices(none) = %#v %v, want empty non-nil", got, err)
	}
}

// TestUnknownBounds (F3): RecordUnknown caps a tenant's list, evicting the
// phones seen least recently, adds nothing new when told not to (but still
// refreshes), and ExpireUnknown and the paged listing drop old phones.
func TestUnknownBounds(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	rec := func(tenant, mac string, at time.Time, allowNew bool) bool {
		t.Helper()
		added, err := s.RecordUnknown(t.Context(), UnknownDevice{Tenant: tenant, MAC: mac, LastSeen: at, IP: "10.0.0.5", File: "f"}, 3, allowNew)
		if err != nil {
			t.Fatal(err)
		}
		return added
	}
	macs := func(tenant string) string {
		l, _ := s.UnknownDevices(t.Context(), tenant)
		var out []string
		for _, u := range l {
			out = append(out, u.MAC)
		}
		return strings.Join(out, ",")
	}
	for i, m := range []string{"a", "b", "c"} {
		if !rec("t1", m, t0.Add(time.Duration(i)*time.Minute), true) {
			t.Fatalf("%s not added", m)
		}
	}
	rec("t1", "a", t0.Add(10*time.Minute), true) // seen again: now the most recent
	if rec("t1", "a", t0.Add(11*time.Minute), true) {
		t.Error("a refresh reported as an addition")
	}
	rec("t1", "d", t0.Add(12*time.Minute), true) // evicts b, the least recently seen
	rec("t2", "x", t0, true)                     // another tenant's cap is its own
	if got := macs("t1"); got != "d,a,c" {
		t.Errorf("t1 after the cap: %s, want d,a,c", got)
	}
	if rec("t1", "e", t0.Add(13*time.Minute), false) || macs("t1") != "d,a,c" {
		t.Errorf("a new phone was added without budget: %s", macs("t1"))
	}
	rec("t1", "c", t0.Add(14*time.Minute), false) // a listed one is refreshed anyway
	if got := macs("t1"); got != "c,d,a" {
		t.Errorf("refresh without budget: %s, want c,d,a", got)
	}
	// Paging, with phones last seen before since left out.
	page, total, err := s.UnknownDevicesPage(t.Context(), "t1", t0.Add(11*time.Minute+time.Second), 1, 1)
	if err != nil || total != 2 || len(page) != 1 || page[0].MAC != "d" {
		t.Errorf("page = %+v total %d %v, want [d] of 2", page, total, err)
	}
	n, err := s.ExpireUnknown(t.Context(), t0.Add(11*time.Minute+time.Second))
	if err != nil || n != 2 || macs("t1") != "c,d" || macs("t2") != "" {
		t.Errorf("expire: %d %v, t1 %s t2 %s", n, err, macs("t1"), macs("t2"))
	}
}

// --- Sessions ---

func TestSessions(t *testing.T) {
	s := openTest(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	sessions := []Session{
		{TokenHash: "h-alice-1", Username: "alice", Kind: "admin", Created: now.Add(-time.Hour), Expires: now.Add(time.Hour), SourceIP: "192.0.2.1"},
		{TokenHash: "h-alice-2", Username: "alice", Kind: "admin", Created: now.Add(-time.Hour), Expires: now.Add(2 * time.Hour), SourceIP: "192.0.2.2"},
		{TokenHash: "h-alice-old", Username: "alice", Kind: "admin", Created: now.Add(-3 * time.Hour), Expires: now.Add(-time.Hour), SourceIP: "192.0.2.3"},
		{TokenHash: "h-bob", Username: "bob", Kind: "admin", Created: now, Expires: now.Add(time.Minute), SourceIP: "2001:db8::1"},
		{TokenHash: "h-edge", Username: "carol", Kind: "admin", Created: now.Add(-time.Hour), Expires: now, SourceIP: "x"},
	}
	for _, se := range sessions {
		if err := s.CreateSession(t.Context(), se); err != nil {
			t.Fatalf("CreateSession %s: %v", se.TokenHash, err)
		}
	}
	if err := s.CreateSession(t.Context(), sessions[0]); err == nil {
		t.Error("CreateSession accepted a duplicate token hash")
	}
	if s.Revision() != 0 || auditCount(t, s) != 0 {
		t.Error("sessions raised the revision or wrote audit rows")
	}

	lookups := []struct {
		name  string
		token string
		at    time.Time
		want  *Session
	}{
		{"valid", "h-alice-1", now, &sessions[0]},
		{"valid ipv6", "h-bob", now, &sessions[3]},
		{"just before expiry", "h-bob", now.Add(time.Minute - time.Nanosecond), &sessions[3]},
		{"at expiry", "h-bob", now.Add(time.Minute), nil},
		{"after expiry", "h-bob", now.Add(time.Hour), nil},
		{"expired long ago", "h-alice-old", now, nil},
		{"expires exactly now", "h-edge", now, nil},
		{"unknown token", "h-nobody", now, nil},
		{"empty token", "", now, nil},
	}
	for _, lt := range lookups {
		t.Run("lookup "+lt.name, func(t *testing.T) {
			got, err := s.LookupSession(t.Context(), lt.token, lt.at)
			if lt.want == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("LookupSession = %+v, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LookupSession: %v", err)
			}
			w := *lt.want
			if got.TokenHash != w.TokenHash || got.Username != w.Username || got.Kind != w.Kind || got.SourceIP != w.SourceIP ||
				!got.Created.Equal(w.Created) || !got.Expires.Equal(w.Expires) {
				t.Errorf("LookupSession = %+v, want %+v", got, w)
			}
		})
	}

	// DeleteSession revokes exactly one; deleting an unknown one is not an error.
	if err := s.DeleteSession(t.Context(), "h-alice-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupSession(t.Context(), "h-alice-1", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted session still found: %v", err)
	}
	if _, err := s.LookupSession(t.Context(), "h-alice-2", now); err != nil {
		t.Errorf("DeleteSession removed another session: %v", err)
	}
	if err := s.DeleteSession(t.Context(), "h-nobody"); err != nil {
		t.Errorf("DeleteSession(unknown) = %v", err)
	}

	// PurgeSessions removes only what has expired (expires <= now).
	n, err := s.PurgeSessions(t.Context(), now)
	if err != nil || n != 2 {
		t.Errorf("PurgeSessions = %d, %v; want 2 (h-alice-old, h-edge)", n, err)
	}
	var left []string
	rows, _ := s.read.Query(`SELECT token_hash FROM sessions ORDER BY token_hash`)
	for rows.Next() {
		var h string
		rows.Scan(&h)
		left = append(left, h)
	}
	rows.Close()
	if !slices.Equal(left, []string{"h-alice-2", "h-bob"}) {
		t.Errorf("sessions after purge = %v", left)
	}
	if n, _ := s.PurgeSessions(t.Context(), now); n != 0 {
		t.Errorf("second purge removed %d", n)
	}

	// DeleteUserSessions removes every session of one user and says how many.
	if err := s.CreateSession(t.Context(), Session{TokenHash: "h-alice-3", Username: "alice", Kind: "admin", Created: now, Expires: now.Add(time.Hour), SourceIP: "x"}); err != nil {
		t.Fatal(err)
	}
	n, err = s.DeleteUserSessions(t.Context(), "alice")
	if err != nil || n != 2 {
		t.Errorf("DeleteUserSessions(alice) = %d, %v; want 2", n, err)
	}
	for _, h := range []string{"h-alice-2", "h-alice-3"} {
		if _, err := s.LookupSession(t.Context(), h, now); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s survived DeleteUserSessions: %v", h, err)
		}
	}
	if _, err := s.LookupSession(t.Context(), "h-bob", now); err != nil {
		t.Errorf("DeleteUserSessions(alice) removed bob's session: %v", err)
	}
	if n, err := s.DeleteUserSessions(t.Context(), "nobody"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(nobody) = %d, %v", n, err)
	}
}

func TestTxDeleteUserSessions(t *testing.T) {
	now := time.Now().UTC()
	seed := func(t *testing.T, s *Store) {
		t.Helper()
		for _, se := range []Session{
			{TokenHash: "a1", Username: "alice", Kind: "admin", Created: now, Expires: now.Add(time.Hour)},
			{TokenHash: "a2", Username: "alice", Kind: "admin", Created: now, Expires: now.Add(time.Hour)},
			{TokenHash: "b1", Username: "bob", Kind: "admin", Created: now, Expires: now.Add(time.Hour)},
		} {
			if err := s.CreateSession(t.Context(), se); err != nil {
				t.Fatal(err)
			}
		}
	}
	alive := func(t *testing.T, s *Store, h string) bool {
		t.Helper()
		_, err := s.LookupSession(t.Context(), h, now)
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	tests := []struct {
		name      string
		fn        func(tx *Tx) error
		wantErr   bool
		wantAlice bool // alice's sessions still valid afterwards
		wantRev   int64
	}{
		{
			name: "with the change that requires it",
			fn: func(tx *Tx) error {
				if err := tx.DeleteUserSessions("alice"); err != nil {
					return err
				}
				return tx.Replace("user", "", "alice", doc{"password": "new"}, "password changed")
			},
			wantAlice: false, wantRev: 2,
		},
		{
			name: "rolled back with a failed Update",
			fn: func(tx *Tx) error {
				if err := tx.DeleteUserSessions("alice"); err != nil {
					return err
				}
				if err := tx.Replace("user", "", "alice", doc{"password": "new"}, ""); err != nil {
					return err
				}
				return errors.New("validation failed")
			},
			wantErr: true, wantAlice: true, wantRev: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			update(t, s, System, func(tx *Tx) error { return tx.Create("user", "", "alice", doc{"password": "old"}, "") })
			seed(t, s)
			_, err := s.Update(t.Context(), alice, tt.fn)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Update error = %v, wantErr %v", err, tt.wantErr)
			}
			for _, h := range []string{"a1", "a2"} {
				if got := alive(t, s, h); got != tt.wantAlice {
					t.Errorf("session %s alive = %v, want %v", h, got, tt.wantAlice)
				}
			}
			if !alive(t, s, "b1") {
				t.Error("bob's session was revoked")
			}
			if s.Revision() != tt.wantRev {
				t.Errorf("revision = %d, want %d", s.Revision(), tt.wantRev)
			}
		})
	}
}

// TestTxDeleteUserSessionsWithoutChange: an Update whose only effect is revoking
// sessions (no object changed) must still commit the revocation.
func TestTxDeleteUserSessionsWithoutChange(t *testing.T) {

	s := openTest(t)
	now := time.Now()
	if err := s.CreateSession(t.Context(), Session{TokenHash: "a1", Username: "alice", Kind: "admin", Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SeeUnknown(t.Context(), UnknownDevice{Tenant: "t1", MAC: "aa", LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(t.Context(), alice, func(tx *Tx) error {
		if err := tx.ForgetUnknown("t1", "aa"); err != nil {
			return err
		}
		return tx.DeleteUserSessions("alice")
	})
	if err != nil || rev != 0 {
		t.Fatalf("Update = %d, %v", rev, err)
	}
	if _, err := s.LookupSession(t.Context(), "a1", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("session survived tx.DeleteUserSessions in a committed Update: %v", err)
	}
	if got, _ := s.UnknownDevices(t.Context(), "t1"); len(got) != 0 {
		t.Errorf("unknown device survived tx.ForgetUnknown in a committed Update: %+v", got)
	}
}

// TestOpenSidecarFilesPrivate: the WAL and shared-memory files hold the same data as
// the database (password hashes, secrets) and must be as private as the file itself.
func TestOpenSidecarFilesPrivate(t *testing.T) {

	cfg := DefaultConfig(t.TempDir())
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	update(t, s, alice, func(tx *Tx) error { return tx.Create("user", "", "u", doc{"password_hash": "secret"}, "") })
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(cfg.Path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s mode = %o, want no group/other access", filepath.Base(cfg.Path+suffix), perm)
		}
	}
}

// TestOnCommitInRevisionOrder: hooks (the revision feed HA and the renderer follow)
// must see revisions in commit order even when a hook is slow.
func TestOnCommitInRevisionOrder(t *testing.T) {

	s := openTest(t)
	release := make(chan struct{})
	s.OnCommitSync(func(rev int64, _ []Change) {
		if rev == 1 {
			select { // the first commit's hooks are slow
			case <-release:
			case <-time.After(2 * time.Second):
			}
		}
	})
	var mu sync.Mutex
	var seen []int64
	s.OnCommitSync(func(rev int64, _ []Change) { mu.Lock(); seen = append(seen, rev); mu.Unlock() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Update(context.Background(), alice, func(tx *Tx) error { return tx.Create("w", "", "1", doc{}, "") })
	}()
	for s.Revision() < 1 { // the first commit is in
		time.Sleep(time.Millisecond)
	}
	second := make(chan struct{})
	go func() {
		defer close(second)
		s.Update(context.Background(), alice, func(tx *Tx) error { return tx.Create("w", "", "2", doc{}, "") })
	}()
	select {
	case <-second:
	case <-time.After(200 * time.Millisecond): // a fixed store makes it wait for the first
	}
	close(release)
	<-done
	<-second
	if !slices.Equal(seen, []int64{1, 2}) {
		t.Errorf("hooks saw revisions %v, want [1 2]", seen)
	}
}

// TestReplaceMovesTenantWithSameDocument: moving an object to another tenant is a
// change even when its JSON is unchanged.
func TestReplaceMovesTenantWithSameDocument(t *testing.T) {

	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"v": 1}, "") })
	rev := update(t, s, alice, func(tx *Tx) error { return tx.Replace("widget", "t2", "w1", doc{"v": 1}, "moved") })
	if rev != 2 || auditCount(t, s) != 2 {
		t.Errorf("tenant move: revision %d, %d audit rows; want 2 and 2", rev, auditCount(t, s))
	}
	if tn := objTenant(t, s, "widget", "w1"); tn != "t2" {
		t.Errorf("object tenant = %q, want t2", tn)
	}
}

// TestSubscribeOffTheCommitLock: a subscriber that never returns does not delay
// writers: 200 commits complete while its first delivery is still blocked, and
// once released it gets the rest coalesced, in order, ending at the last revision.
func TestSubscribeOffTheCommitLock(t *testing.T) {
	s := openTest(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var got []Commit
	stop := s.Subscribe(func(c Commit) {
		mu.Lock()
		got = append(got, c)
		first := len(got) == 1
		mu.Unlock()
		if first {
			<-release // the slow consumer: stuck until the writers are done
		}
	})
	defer stop()
	const writes = 200
	for i := range writes {
		update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "", fmt.Sprint(i), doc{"v": i}, "") })
	}
	if s.Revision() != writes {
		t.Fatalf("revision %d after %d writes", s.Revision(), writes)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		last := Commit{}
		if n > 0 {
			last = got[n-1]
		}
		mu.Unlock()
		if last.Rev == writes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries stopped at %+v", last)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) >= writes {
		t.Errorf("%d deliveries for %d commits: nothing was coalesced behind the slow consumer", len(got), writes)
	}
	seen := map[string]bool{}
	var prev int64
	for _, c := range got {
		if c.Rev <= prev {
			t.Fatalf("delivery out of order: %d after %d", c.Rev, prev)
		}
		prev = c.Rev
		for _, ch := range c.Changes {
			seen[ch.ID] = true
		}
	}
	if len(seen) != writes {
		t.Errorf("%d of %d changes delivered", len(seen), writes)
	}
}

// TestSubscribeOverflow: a receiver that falls far behind gets All instead of
// an unbounded list.
func TestSubscribeOverflow(t *testing.T) {
	s := openTest(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var got []Commit
	stop := s.Subscribe(func(c Commit) {
		mu.Lock()
		got = append(got, c)
		first := len(got) == 1
		mu.Unlock()
		if first {
			<-release
		}
	})
	defer stop()
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "", "first", doc{}, "") })
	update(t, s, alice, func(tx *Tx) error {
		for i := range maxPendingChanges + 10 {
			if err := tx.Create("widget", "", fmt.Sprint(i), doc{}, ""); err != nil {
				return err
			}
		}
		return nil
	})
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !got[1].All || got[1].Changes != nil || got[1].Rev != 2 || !got[1].Touches("anything") {
		t.Fatalf("deliveries %d, second %+v", len(got), got)
	}
}

// TestSubscribeStopWaitsForTheDelivery: stop returns only once a delivery in
// progress has ended, so that the store a subscriber reads may be closed
// right after (a test's clean-up, serve's shutdown).
func TestSubscribeStopWaitsForTheDelivery(t *testing.T) {
	s := openTest(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var running sync.Mutex // held while fn runs
	stop := s.Subscribe(func(Commit) {
		running.Lock()
		defer running.Unlock()
		close(entered)
		<-release
	})
	update(t, s, alice, func(tx *Tx) error { return tx.Create("widget", "", "w", doc{}, "") })
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while the delivery was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return once the delivery ended")
	}
	if !running.TryLock() {
		t.Fatal("fn still running after stop returned")
	}
	stop() // a second stop returns at once
}
