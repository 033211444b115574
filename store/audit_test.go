package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// at runs fn with the transaction's clock set to when, so that audit rows get a
// known time and the chain stays valid.
func at(when time.Time, fn func(tx *Tx) error) func(tx *Tx) error {
	return func(tx *Tx) error {
		tx.now = when
		return fn(tx)
	}
}

func ids(rows []AuditRow) []int64 {
	out := []int64{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// auditFixture writes six rows at known times:
//
//	1 2024-01-15 10:00        alice create tenant t1   (tenant t1)
//	2 2024-01-31 23:59:59.9.. alice update tenant t1   (tenant t1)
//	3 2024-02-01 00:00        bob   create user   u1   (tenant t1, secrets)
//	4 2024-02-01 08:00        bob   update user   u1   (tenant t1, secrets)
//	5 2024-03-05 09:00        carol create device d1   (tenant t2)
//	6 2024-03-05 17:00        carol delete device d1   (tenant t2)
func auditFixture(t *testing.T) *Store {
	t.Helper()
	s := openTest(t)
	s.Register(Kind{Name: "user", Secrets: []string{"password", "token", "not_present"}})
	carol := Actor{User: "carol", IP: "198.51.100.7"}
	d := func(y int, m time.Month, day, h, min, sec, ns int) time.Time {
		return time.Date(y, m, day, h, min, sec, ns, time.UTC)
	}
	update(t, s, alice, at(d(2024, 1, 15, 10, 0, 0, 0), func(tx *Tx) error {
		return tx.Create("tenant", "t1", "t1", doc{"name": "acme"}, "tenant acme created")
	}))
	update(t, s, alice, at(d(2024, 1, 31, 23, 59, 59, 999999999), func(tx *Tx) error {
		return tx.Replace("tenant", "t1", "t1", doc{"name": "acme2"}, "tenant renamed")
	}))
	update(t, s, bob, at(d(2024, 2, 1, 0, 0, 0, 0), func(tx *Tx) error {
		return tx.Create("user", "t1", "u1", doc{"username": "u1", "password": "s3cret", "token": "tok1", "nested": doc{"password": "inner"}}, "user created")
	}))
	update(t, s, bob, at(d(2024, 2, 1, 8, 0, 0, 0), func(tx *Tx) error {
		return tx.Replace("user", "t1", "u1", doc{"username": "u1", "password": "n3w", "token": "tok2", "nested": doc{"password": "inner"}}, "password changed")
	}))
	update(t, s, carol, at(d(2024, 3, 5, 9, 0, 0, 0), func(tx *Tx) error {
		return tx.Create("device", "t2", "d1", doc{"mac": "001122334455"}, "device created")
	}))
	update(t, s, carol, at(d(2024, 3, 5, 17, 0, 0, 0), func(tx *Tx) error {
		return tx.Delete("device", "d1", "device deleted")
	}))
	return s
}

func TestAuditListing(t *testing.T) {
	s := auditFixture(t)
	tests := []struct {
		name      string
		f         AuditFilter
		wantIDs   []int64
		wantTotal int
	}{
		{"everything, newest first", AuditFilter{}, []int64{6, 5, 4, 3, 2, 1}, 6},
		{"month", AuditFilter{Month: "2024-01"}, []int64{2, 1}, 2},
		{"month starting at midnight", AuditFilter{Month: "2024-02"}, []int64{4, 3}, 2},
		{"month without rows", AuditFilter{Month: "2023-12"}, []int64{}, 0},
		{"day", AuditFilter{Day: "2024-03-05"}, []int64{6, 5}, 2},
		{"day, last nanosecond", AuditFilter{Day: "2024-01-31"}, []int64{2}, 1},
		{"day without rows", AuditFilter{Day: "2024-02-02"}, []int64{}, 0},
		{"user", AuditFilter{User: "bob"}, []int64{4, 3}, 2},
		{"unknown user", AuditFilter{User: "mallory"}, []int64{}, 0},
		{"object type", AuditFilter{ObjectType: "device"}, []int64{6, 5}, 2},
		{"object id", AuditFilter{ObjectID: "u1"}, []int64{4, 3}, 2},
		{"action create", AuditFilter{Action: "create"}, []int64{5, 3, 1}, 3},
		{"action update", AuditFilter{Action: "update"}, []int64{4, 2}, 2},
		{"action delete", AuditFilter{Action: "delete"}, []int64{6}, 1},
		{"action restore", AuditFilter{Action: "restore"}, []int64{}, 0},
		{"tenant t1", AuditFilter{Tenant: "t1"}, []int64{4, 3, 2, 1}, 4},
		{"tenant t2", AuditFilter{Tenant: "t2"}, []int64{6, 5}, 2},
		{"combined", AuditFilter{User: "alice", Action: "update", Month: "2024-01"}, []int64{2}, 1},
		{"combined, disjoint", AuditFilter{User: "alice", Tenant: "t2"}, []int64{}, 0},
		{"limit", AuditFilter{Limit: 2}, []int64{6, 5}, 6},
		{"limit and offset", AuditFilter{Limit: 2, Offset: 2}, []int64{4, 3}, 6},
		{"last page", AuditFilter{Limit: 4, Offset: 4}, []int64{2, 1}, 6},
		{"offset past the end", AuditFilter{Offset: 10}, []int64{}, 6},
		{"filter and page", AuditFilter{Tenant: "t1", Limit: 1, Offset: 1}, []int64{3}, 4},
		{"maximum limit", AuditFilter{Limit: 1000}, []int64{6, 5, 4, 3, 2, 1}, 6},
		{"minimum limit", AuditFilter{Limit: 1}, []int64{6}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, total, err := s.Audit(t.Context(), tt.f)
			if err != nil {
				t.Fatalf("Audit: %v", err)
			}
			if rows == nil {
				t.Error("Audit returned a nil slice (JSON null)")
			}
			if got := ids(rows); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("ids = %v, want %v", got, tt.wantIDs)
			}
			if total != tt.wantTotal {
				t.Errorf("total = %d, want %d", total, tt.wantTotal)
			}
		})
	}
}

func TestAuditDefaultLimit(t *testing.T) {
	s := openTest(t)
	update(t, s, alice, func(tx *Tx) error {
		for i := range 120 {
			if err := tx.Create("widget", "", fmt.Sprint(i), doc{}, ""); err != nil {
				return err
			}
		}
		return nil
	})
	rows, total, err := s.Audit(t.Context(), AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 100 || total != 120 || rows[0].ID != 120 || rows[99].ID != 21 {
		t.Errorf("default page: %d rows (first %d), total %d; want 100 rows from 120, total 120", len(rows), rows[0].ID, total)
	}
}

func TestAuditRowContents(t *testing.T) {
	s := auditFixture(t)
	rows, _, err := s.Audit(t.Context(), AuditFilter{ObjectType: "tenant"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows: %+v", rows)
	}
	r := rows[0]
	want := time.Date(2024, 1, 31, 23, 59, 59, 999999999, time.UTC)
	if r.ID != 2 || r.TxID != 2 || !r.Time.Equal(want) || r.User != "alice" || r.SourceIP != alice.IP ||
		r.Action != "update" || r.ObjectType != "tenant" || r.ObjectID != "t1" || r.Tenant != "t1" ||
		r.Description != "tenant renamed" || string(r.Before) != `{"name":"acme"}` || string(r.After) != `{"name":"acme2"}` {
		t.Errorf("row 2 = %+v", r)
	}
	if r.PrevHash != rows[1].Hash || rows[1].PrevHash != "" || len(r.Hash) != 64 {
		t.Errorf("hash chain: row1 prev %q hash %q, row2 prev %q hash %q", rows[1].PrevHash, rows[1].Hash, r.PrevHash, r.Hash)
	}
	got, err := s.AuditRowByID(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || got.Hash != r.Hash || string(got.After) != string(r.After) || !got.Time.Equal(r.Time) {
		t.Errorf("AuditRowByID(2) = %+v, want %+v", got, r)
	}
	// JSON field names callers (the admin API) rely on.
	b, _ := json.Marshal(got)
	for _, key := range AuditColumns {
		if !strings.Contains(string(b), `"`+key+`":`) {
			t.Errorf("JSON of an audit row lacks %q: %s", key, b)
		}
	}
	for _, id := range []int64{0, -1, 7, 1 << 40} {
		if _, err := s.AuditRowByID(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("AuditRowByID(%d) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestAuditFilterValidation(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		name  string
		f     AuditFilter
		field string // "" = valid
	}{
		{"valid month", AuditFilter{Month: "2024-12"}, ""},
		{"valid day", AuditFilter{Day: "2024-02-29"}, ""},
		{"month 13", AuditFilter{Month: "2024-13"}, "month"},
		{"month with slash", AuditFilter{Month: "2024/01"}, "month"},
		{"month one digit", AuditFilter{Month: "2024-1"}, "month"},
		{"month is a day", AuditFilter{Month: "2024-01-01"}, "month"},
		{"month injection", AuditFilter{Month: "2024-01' OR 1=1 --"}, "month"},
		{"day 30 february", AuditFilter{Day: "2024-02-30"}, "day"},
		{"day not a leap year", AuditFilter{Day: "2023-02-29"}, "day"},
		{"day one digit", AuditFilter{Day: "2024-02-1"}, "day"},
		{"day word", AuditFilter{Day: "yesterday"}, "day"},
		{"day is a month", AuditFilter{Day: "2024-02"}, "day"},
		{"unknown action", AuditFilter{Action: "remove"}, "action"},
		{"action case", AuditFilter{Action: "CREATE"}, "action"},
		{"negative limit", AuditFilter{Limit: -1}, "limit"},
		{"limit too big", AuditFilter{Limit: 1001}, "limit"},
		{"negative offset", AuditFilter{Offset: -1}, "offset"},
	}
	for _, a := range AuditActions {
		tests = append(tests, struct {
			name  string
			f     AuditFilter
			field string
		}{"action " + a, AuditFilter{Action: a}, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Audit(t.Context(), tt.f)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Audit(%+v) = %v", tt.f, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Audit(%+v) error = %v (%T), want *ValidationError", tt.f, err, err)
			}
			if ve.Field != tt.field || ve.Error() == "" {
				t.Errorf("ValidationError{Field: %q, Msg: %q}, want field %q", ve.Field, ve.Msg, tt.field)
			}
		})
	}
	f := AuditFilter{}
	if err := f.Validate(); err != nil || f.Limit != 100 {
		t.Errorf("Validate of a zero filter: %v, limit %d; want limit 100", err, f.Limit)
	}
}

func TestAuditRedactsSecrets(t *testing.T) {
	s := auditFixture(t)
	secretValues := []string{"s3cret", "n3w", "tok1", "tok2"}
	check := func(t *testing.T, r AuditRow, wantBefore, wantAfter bool) {
		t.Helper()
		for _, side := range []struct {
			name string
			raw  json.RawMessage
			want bool
		}{{"before", r.Before, wantBefore}, {"after", r.After, wantAfter}} {
			if !side.want {
				if side.raw != nil {
					t.Errorf("row %d %s = %s, want null", r.ID, side.name, side.raw)
				}
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(side.raw, &m); err != nil {
				t.Fatalf("row %d %s is not an object: %s", r.ID, side.name, side.raw)
			}
			for _, k := range []string{"password", "token"} {
				if string(m[k]) != `"********"` {
					t.Errorf("row %d %s.%s = %s, want redacted", r.ID, side.name, k, m[k])
				}
			}
			if string(m["username"]) != `"u1"` {
				t.Errorf("row %d %s.username = %s, want it kept", r.ID, side.name, m["username"])
			}
			if _, ok := m["not_present"]; ok {
				t.Errorf("redaction added a key that was not there: %s", side.raw)
			}
			for _, v := range secretValues {
				if strings.Contains(string(side.raw), v) {
					t.Errorf("row %d %s leaks %q: %s", r.ID, side.name, v, side.raw)
				}
			}
		}
	}
	rows, _, err := s.Audit(t.Context(), AuditFilter{ObjectType: "user"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("user rows: %+v", rows)
	}
	check(t, rows[0], true, true)  // row 4: update
	check(t, rows[1], false, true) // row 3: create
	for _, id := range []int64{3, 4} {
		r, err := s.AuditRowByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, id == 4, true)
	}
	// Other kinds are untouched.
	r, err := s.AuditRowByID(t.Context(), 5)
	if err != nil || string(r.After) != `{"mac":"001122334455"}` {
		t.Errorf("device row = %s, %v", r.After, err)
	}
	// Storage keeps the real values (Restore needs them) and the chain is intact.
	stored := auditRows(t, s)
	if !strings.Contains(string(stored[3].After), "n3w") || !strings.Contains(string(stored[3].Before), "s3cret") {
		t.Errorf("stored row 4 lost its real values: %s -> %s", stored[3].Before, stored[3].After)
	}
	verifyOK(t, s)
}

// --- Verify ---

func TestVerifyClean(t *testing.T) {
	s := openTest(t)
	res := verifyOK(t, s)
	if res.Rows != 0 || res.HeadID != 0 || res.Problems == nil {
		t.Errorf("empty store: %+v", res)
	}
	s = auditFixture(t)
	res = verifyOK(t, s)
	if res.Rows != 6 || res.HeadID != 6 {
		t.Errorf("fixture: %+v", res)
	}
}

func TestAuditTriggersBlockEdits(t *testing.T) {
	s := auditFixture(t)
	db := rawDB(t, s.Path())
	for _, q := range []string{
		`UPDATE audit SET description='edited' WHERE id=3`,
		`UPDATE audit SET hash='' `,
		`DELETE FROM audit WHERE id=3`,
		`DELETE FROM audit`,
	} {
		_, err := db.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only trigger to stop it", q, err)
		}
	}
	if n := auditCount(t, s); n != 6 {
		t.Errorf("audit rows = %d, want 6", n)
	}
	if r, _ := s.AuditRowByID(t.Context(), 3); r.Description != "user created" {
		t.Errorf("row 3 description = %q", r.Description)
	}
	verifyOK(t, s)
}

func TestVerifyDetectsTampering(t *testing.T) {
	const (
		changed = "row content changed after it was written"
		deleted = "row deleted"
		link    = "link to the previous row broken"
		last    = "last row changed or replaced"
		added   = "rows added outside the application"
	)
	// forge rewrites row id with edit applied and a correctly recomputed hash, as an
	// intruder who knows the algorithm would.
	forge := func(t *testing.T, s *Store, id int64, edit func(r *AuditRow)) (string, []any) {
		t.Helper()
		rows := auditRows(t, s)
		r := rows[id-1]
		edit(&r)
		r.Hash = rowHash(r)
		return `UPDATE audit SET description=?, hash=? WHERE id=?`, []any{r.Description, r.Hash, id}
	}
	type want struct {
		row    int64
		reason string
	}
	tests := []struct {
		name   string
		drop   []string
		tamper func(t *testing.T, s *Store) (string, []any)
		rows   int64
		want   []want
	}{
		{
			name: "description of a middle row", drop: []string{"audit_no_update"},
			tamper: func(*testing.T, *Store) (string, []any) {
				return `UPDATE audit SET description='nothing happened' WHERE id=3`, nil
			},
			rows: 6, want: []want{{3, changed}},
		},
		{
			name: "before image", drop: []string{"audit_no_update"},
			tamper: func(*testing.T, *Store) (string, []any) {
				return `UPDATE audit SET before='{"name":"evil"}' WHERE id=2`, nil
			},
			rows: 6, want: []want{{2, changed}},
		},
		{
			name: "after image set to null", drop: []string{"audit_no_update"},
			tamper: func(*testing.T, *Store) (string, []any) {
				return `UPDATE audit SET after=NULL WHERE id=5`, nil
			},
			rows: 6, want: []want{{5, changed}},
		},
		{
			name: "user of the first row", drop: []string{"audit_no_update"},
			tamper: func(*testing.T, *Store) (string, []any) {
				return `UPDATE audit SET username='system' WHERE id=1`, nil
			},
			rows: 6, want: []want{{1, changed}},
		},
		{
			name: "unparsable time", drop: []string{"audit_no_update"},
			tamper: func(*testing.T, *Store) (string, []any) {
				return `UPDATE audit SET time='yesterday' WHERE id=4`, nil
			},
			rows: 6, want: []want{{4, changed}},
		},
		{
			name: "time moved by a second", drop: []string{"audit_no_update"},
			tamper: func(*testing.T, *Store) (string, []any) {
				return `UPDATE audit SET time='2024-02-01T00:00:01.000000000Z' WHERE id=3`, nil
			},
			rows: 6, want: []want{{3, changed}},
		},
		{
			name: "middle row rewritten with a valid hash", drop: []string{"audit_no_update"},
			tamper: func(t *testing.T, s *Store) (string, []any) {
				return forge(t, s, 3, func(r *AuditRow) { r.Description = "forged" })
			},
			rows: 6, want: []want{{4, link}},
		},
		{
			name: "last row rewritten with a valid hash", drop: []string{"audit_no_update"},
			tamper: func(t *testing.T, s *Store) (string, []any) {
				return forge(t, s, 6, func(r *AuditRow) { r.Description = "forged" })
			},
			rows: 6, want: []want{{6, last}},
		},
		{
			name: "middle row deleted", drop: []string{"audit_no_delete"},
			tamper: func(*testing.T, *Store) (string, []any) { return `DELETE FROM audit WHERE id=3`, nil },
			rows:   5, want: []want{{3, deleted}},
		},
		{
			name: "first row deleted", drop: []string{"audit_no_delete"},
			tamper: func(*testing.T, *Store) (string, []any) { return `DELETE FROM audit WHERE id=1`, nil },
			rows:   5, want: []want{{1, deleted}},
		},
		{
			name: "last row deleted", drop: []string{"audit_no_delete"},
			tamper: func(*testing.T, *Store) (string, []any) { return `DELETE FROM audit WHERE id=6`, nil },
			rows:   5, want: []want{{6, deleted}},
		},
		{
			name: "two rows deleted", drop: []string{"audit_no_delete"},
			tamper: func(*testing.T, *Store) (string, []any) { return `DELETE FROM audit WHERE id IN (2, 3)`, nil },
			rows:   4, want: []want{{2, deleted}, {3, deleted}},
		},
		{
			name: "every row deleted", drop: []string{"audit_no_delete"},
			tamper: func(*testing.T, *Store) (string, []any) { return `DELETE FROM audit`, nil },
			rows:   0, want: []want{{1, deleted}, {2, deleted}, {3, deleted}, {4, deleted}, {5, deleted}, {6, deleted}},
		},
		{
			name: "row appended outside the application",
			tamper: func(t *testing.T, s *Store) (string, []any) {
				rows := auditRows(t, s)
				r := rows[5]
				r.ID, r.PrevHash, r.Description = 7, r.Hash, "sneaky"
				r.Hash = rowHash(r)
				return `INSERT INTO audit(id, txid, time, username, source_ip, action, object_type, object_id, tenant,
					description, before, after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
					[]any{r.ID, r.TxID, r.Time.Format(timeLayout), r.User, r.SourceIP, r.Action, r.ObjectType, r.ObjectID,
						r.Tenant, r.Description, nullString(r.Before), nullString(r.After), r.PrevHash, r.Hash}
			},
			rows: 7, want: []want{{7, added}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := auditFixture(t)
			verifyOK(t, s)
			db := rawDB(t, s.Path())
			for _, tr := range tt.drop {
				mustExec(t, db, `DROP TRIGGER `+tr)
			}
			q, args := tt.tamper(t, s)
			mustExec(t, db, q, args...)

			res, err := s.Verify(t.Context())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.OK {
				t.Fatalf("Verify OK after tampering: %+v", res)
			}
			if res.Rows != tt.rows || res.HeadID != 6 {
				t.Errorf("rows %d head %d, want %d and 6", res.Rows, res.HeadID, tt.rows)
			}
			if len(res.Problems) != len(tt.want) {
				t.Fatalf("problems = %+v, want %+v", res.Problems, tt.want)
			}
			for i, w := range tt.want {
				p := res.Problems[i]
				if p.Row != w.row || !strings.HasPrefix(p.Reason, w.reason) {
					t.Errorf("problem %d = %+v, want row %d reason %q", i, p, w.row, w.reason)
				}
			}
		})
	}
}

// TestVerifyDuringWrites: Verify must judge one consistent snapshot; rows committed
// while it runs are not tampering.
func TestVerifyDuringWrites(t *testing.T) {

	s := openTest(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				s.Update(t.Context(), alice, func(tx *Tx) error { //nolint:errcheck
					return tx.Create("widget", "", fmt.Sprint(w, "-", i), doc{}, "")
				})
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			verifyOK(t, s)
			return
		default:
		}
		res, err := s.Verify(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK {
			<-done
			t.Fatalf("Verify during writes reported %+v", res.Problems)
		}
	}
}

// --- Restore ---

type checkCall struct {
	id   string
	data string // "<nil>" for a nil document
}

func rawString(b json.RawMessage) string {
	if b == nil {
		return "<nil>"
	}
	return string(b)
}

func TestRestore(t *testing.T) {
	restorer := Actor{User: "root", IP: "203.0.113.9"}
	tenantOf := func(data json.RawMessage) string {
		var v struct {
			Tenant string `json:"tenant"`
		}
		json.Unmarshal(data, &v) //nolint:errcheck
		return v.Tenant
	}
	type step func(tx *Tx) error
	create := func(tenant, id string, v any) step {
		return func(tx *Tx) error { return tx.Create("widget", tenant, id, v, "") }
	}
	replace := func(tenant, id string, v any) step {
		return func(tx *Tx) error { return tx.Replace("widget", tenant, id, v, "") }
	}
	del := func(id string) step { return func(tx *Tx) error { return tx.Delete("widget", id, "") } }
	restore := func(row int64) func(t *testing.T, s *Store) {
		return func(t *testing.T, s *Store) {
			if _, err := s.Restore(t.Context(), alice, row); err != nil {
				t.Fatalf("restore %d: %v", row, err)
			}
		}
	}
	tests := []struct {
		name       string
		withTenant bool
		steps      []step
		extra      func(t *testing.T, s *Store) // after steps, before the restore under test
		row        int64                        // audit row to restore
		wantObj    json.RawMessage              // nil: object gone
		wantTenant string
		wantBefore json.RawMessage
		wantAfter  json.RawMessage
		wantCheck  checkCall
		wantSrc    string // action named in the description
	}{
		{
			name:    "undo an update",
			steps:   []step{create("t1", "w1", doc{"v": 1}), replace("t1", "w1", doc{"v": 2})},
			row:     2,
			wantObj: json.RawMessage(`{"v":1}`), wantTenant: "t1",
			wantBefore: json.RawMessage(`{"v":2}`), wantAfter: json.RawMessage(`{"v":1}`),
			wantCheck: checkCall{"w1", `{"v":1}`}, wantSrc: "update",
		},
		{
			name:    "undo an older update after later changes",
			steps:   []step{create("t1", "w1", doc{"v": 1}), replace("t1", "w1", doc{"v": 2}), replace("t1", "w1", doc{"v": 3})},
			row:     2,
			wantObj: json.RawMessage(`{"v":1}`), wantTenant: "t1",
			wantBefore: json.RawMessage(`{"v":3}`), wantAfter: json.RawMessage(`{"v":1}`),
			wantCheck: checkCall{"w1", `{"v":1}`}, wantSrc: "update",
		},
		{
			name:    "undo a delete recreates the object",
			steps:   []step{create("t7", "w1", doc{"v": 1}), del("w1")},
			row:     2,
			wantObj: json.RawMessage(`{"v":1}`), wantTenant: "t7",
			wantBefore: nil, wantAfter: json.RawMessage(`{"v":1}`),
			wantCheck: checkCall{"w1", `{"v":1}`}, wantSrc: "delete",
		},
		{
			name:       "undo a create deletes the object",
			steps:      []step{create("t1", "w1", doc{"v": 1}), replace("t1", "w1", doc{"v": 2})},
			row:        1,
			wantObj:    nil,
			wantBefore: json.RawMessage(`{"v":2}`), wantAfter: nil, wantTenant: "t1",
			wantCheck: checkCall{"w1", "<nil>"}, wantSrc: "create",
		},
		{
			name:    "undo a restore",
			steps:   []step{create("t1", "w1", doc{"v": 1}), replace("t1", "w1", doc{"v": 2})},
			extra:   restore(2), // row 3: {"v":2} -> {"v":1}
			row:     3,
			wantObj: json.RawMessage(`{"v":2}`), wantTenant: "t1",
			wantBefore: json.RawMessage(`{"v":1}`), wantAfter: json.RawMessage(`{"v":2}`),
			wantCheck: checkCall{"w1", `{"v":2}`}, wantSrc: "restore",
		},
		{
			name:    "without Kind.Tenant the row's tenant is kept",
			steps:   []step{create("t1", "w1", doc{"tenant": "t1"}), replace("t2", "w1", doc{"tenant": "t2"})},
			row:     2,
			wantObj: json.RawMessage(`{"tenant":"t1"}`), wantTenant: "t2",
			wantBefore: json.RawMessage(`{"tenant":"t2"}`), wantAfter: json.RawMessage(`{"tenant":"t1"}`),
			wantCheck: checkCall{"w1", `{"tenant":"t1"}`}, wantSrc: "update",
		},
		{
			name:       "Kind.Tenant files the object where the document says",
			withTenant: true,
			steps:      []step{create("t1", "w1", doc{"tenant": "t1"}), replace("t2", "w1", doc{"tenant": "t2"})},
			row:        2,
			wantObj:    json.RawMessage(`{"tenant":"t1"}`), wantTenant: "t1",
			wantBefore: json.RawMessage(`{"tenant":"t2"}`), wantAfter: json.RawMessage(`{"tenant":"t1"}`),
			wantCheck: checkCall{"w1", `{"tenant":"t1"}`}, wantSrc: "update",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			var checks []checkCall
			var onRestore []checkCall
			k := Kind{
				Name: "widget",
				Check: func(tx *Tx, id string, data json.RawMessage) error {
					if tx == nil || tx.readOnly {
						t.Error("Check did not get the write transaction")
					}
					checks = append(checks, checkCall{id, rawString(data)})
					return nil
				},
				OnRestore: func(tx *Tx, id string, after json.RawMessage) error {
					onRestore = append(onRestore, checkCall{id, rawString(after)})
					return nil
				},
			}
			if tt.withTenant {
				k.Tenant = tenantOf
			}
			s.Register(k)
			for _, st := range tt.steps {
				update(t, s, bob, st)
			}
			if tt.extra != nil {
				tt.extra(t, s)
			}
			checks, onRestore = nil, nil
			rev0, rows0 := s.Revision(), auditCount(t, s)
			var hookRev int64
			s.OnCommitSync(func(rev int64, ch []Change) {
				hookRev = rev
				if len(ch) != 1 || ch[0].Action != "restore" || ch[0].ID != "w1" {
					t.Errorf("hook changes = %+v", ch)
				}
			})

			rev, err := s.Restore(t.Context(), restorer, tt.row)
			if err != nil {
				t.Fatalf("Restore(%d): %v", tt.row, err)
			}
			if rev != rev0+1 || s.Revision() != rev || metaRevision(t, s) != rev || hookRev != rev {
				t.Errorf("revision: returned %d, Revision() %d, stored %d, hook %d; want %d",
					rev, s.Revision(), metaRevision(t, s), hookRev, rev0+1)
			}
			rows := auditRows(t, s)
			if len(rows) != rows0+1 {
				t.Fatalf("audit rows %d -> %d, want one more", rows0, len(rows))
			}
			r := rows[len(rows)-1]
			if r.Action != "restore" || r.TxID != rev || r.User != restorer.User || r.SourceIP != restorer.IP ||
				r.ObjectType != "widget" || r.ObjectID != "w1" || r.Tenant != tt.wantTenant {
				t.Errorf("restore row = %+v", r)
			}
			if wantDesc := fmt.Sprintf("restore of audit row %d (%s)", tt.row, tt.wantSrc); r.Description != wantDesc {
				t.Errorf("description = %q, want %q", r.Description, wantDesc)
			}
			if rawString(r.Before) != rawString(tt.wantBefore) || rawString(r.After) != rawString(tt.wantAfter) {
				t.Errorf("restore row images %s -> %s, want %s -> %s", rawString(r.Before), rawString(r.After),
					rawString(tt.wantBefore), rawString(tt.wantAfter))
			}
			got := getObj(t, s, "widget", "w1")
			if rawString(got) != rawString(tt.wantObj) {
				t.Errorf("object = %s, want %s", rawString(got), rawString(tt.wantObj))
			}
			if tt.wantObj != nil {
				if tn := objTenant(t, s, "widget", "w1"); tn != tt.wantTenant {
					t.Errorf("object tenant = %q, want %q", tn, tt.wantTenant)
				}
			}
			if !slices.Equal(checks, []checkCall{tt.wantCheck}) {
				t.Errorf("Check calls = %+v, want %+v", checks, tt.wantCheck)
			}
			if !slices.Equal(onRestore, []checkCall{{"w1", rawString(tt.wantObj)}}) {
				t.Errorf("OnRestore calls = %+v, want [{w1 %s}]", onRestore, rawString(tt.wantObj))
			}
			verifyOK(t, s)
		})
	}
}

func TestRestoreErrors(t *testing.T) {
	checkErr := errors.New("check says no")
	hookErr := errors.New("on-restore says no")
	tests := []struct {
		name    string
		kind    *Kind // registered as "widget"; nil = not registered
		setup   func(tx *Tx) error
		actor   Actor
		row     int64
		is      error  // errors.Is target
		as      string // "validation", "conflict"
		field   string
		checked bool // Check must have been called
	}{
		{
			name: "check rejects", kind: &Kind{Name: "widget", Check: func(*Tx, string, json.RawMessage) error { return checkErr }},
			row: 2, is: checkErr, checked: true,
		},
		{
			name: "check rejects a delete", kind: &Kind{Name: "widget", Check: func(*Tx, string, json.RawMessage) error { return checkErr }},
			row: 1, is: checkErr, checked: true,
		},
		{
			name: "on-restore fails", kind: &Kind{Name: "widget", OnRestore: func(*Tx, string, json.RawMessage) error { return hookErr }},
			row: 2, is: hookErr,
		},
		{name: "kind not registered", kind: nil, row: 2, as: "validation", field: "id"},
		{name: "missing row", kind: &Kind{Name: "widget"}, row: 99, is: ErrNotFound},
		{name: "row zero", kind: &Kind{Name: "widget"}, row: 0, is: ErrNotFound},
		{name: "no actor", kind: &Kind{Name: "widget"}, actor: Actor{IP: "x"}, row: 2, as: "any"},
		{
			name: "undo a create of an object deleted since", kind: &Kind{Name: "widget"},
			setup: func(tx *Tx) error { return tx.Delete("widget", "w1", "") },
			row:   1, as: "conflict", field: "id",
		},
		{
			name: "object already equals the before-image", kind: &Kind{Name: "widget"},
			setup: func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", doc{"name": "one"}, "") },
			row:   2, as: "conflict", field: "id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			checked := false
			if tt.kind != nil {
				k := *tt.kind
				if k.Check != nil {
					inner := k.Check
					k.Check = func(tx *Tx, id string, data json.RawMessage) error { checked = true; return inner(tx, id, data) }
				}
				s.Register(k)
			}
			update(t, s, bob, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"name": "one"}, "") })
			update(t, s, bob, func(tx *Tx) error { return tx.Replace("widget", "t1", "w1", doc{"name": "two"}, "") })
			if tt.setup != nil {
				update(t, s, bob, tt.setup)
			}
			rev0, rows0, obj0 := s.Revision(), auditCount(t, s), getObj(t, s, "widget", "w1")
			actor := tt.actor
			if actor == (Actor{}) {
				actor = alice
			}
			rev, err := s.Restore(t.Context(), actor, tt.row)
			if err == nil {
				t.Fatalf("Restore(%d) succeeded (rev %d)", tt.row, rev)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error = %v, want %v", err, tt.is)
			}
			switch tt.as {
			case "validation":
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.field {
					t.Errorf("error = %v (%T), want *ValidationError on %q", err, err, tt.field)
				}
			case "conflict":
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.Field != tt.field {
					t.Errorf("error = %v (%T), want *ConflictError on %q", err, err, tt.field)
				}
			}
			if checked != tt.checked {
				t.Errorf("Check called = %v, want %v", checked, tt.checked)
			}
			if s.Revision() != rev0 || metaRevision(t, s) != rev0 || auditCount(t, s) != rows0 {
				t.Errorf("failed restore changed revision (%d -> %d) or audit (%d -> %d rows)", rev0, s.Revision(), rows0, auditCount(t, s))
			}
			if got := getObj(t, s, "widget", "w1"); rawString(got) != rawString(obj0) {
				t.Errorf("failed restore changed the object: %s -> %s", rawString(obj0), rawString(got))
			}
			verifyOK(t, s)
		})
	}
}

func TestRestoreUniqueConflict(t *testing.T) {
	s := openTest(t)
	s.Register(Kind{Name: "tenant", Unique: map[string]string{"objects_tenant_name": "name"}})
	update(t, s, bob, func(tx *Tx) error { return tx.Create("tenant", "", "t1", doc{"name": "acme"}, "") })
	update(t, s, bob, func(tx *Tx) error { return tx.Replace("tenant", "", "t1", doc{"name": "globex"}, "") })
	update(t, s, bob, func(tx *Tx) error { return tx.Create("tenant", "", "t2", doc{"name": "acme"}, "") })
	_, err := s.Restore(t.Context(), alice, 2) // would rename t1 back to "acme"
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Field != "name" {
		t.Fatalf("Restore = %v (%T), want *ConflictError on name", err, err)
	}
	if s.Revision() != 3 || auditCount(t, s) != 3 {
		t.Error("failed restore changed the revision or the audit log")
	}
	if got := getObj(t, s, "tenant", "t1"); string(got) != `{"name":"globex"}` {
		t.Errorf("t1 = %s", got)
	}
}

func TestRestoreUsesRealSecrets(t *testing.T) {
	s := openTest(t)
	s.Register(Kind{Name: "user", Secrets: []string{"password"}})
	update(t, s, bob, func(tx *Tx) error { return tx.Create("user", "", "u1", doc{"password": "old"}, "") })
	update(t, s, bob, func(tx *Tx) error { return tx.Replace("user", "", "u1", doc{"password": "new"}, "") })
	if _, err := s.Restore(t.Context(), alice, 2); err != nil {
		t.Fatal(err)
	}
	if got := getObj(t, s, "user", "u1"); string(got) != `{"password":"old"}` {
		t.Errorf("restored user = %s, want the real old password", got)
	}
	// The restore row itself is redacted when listed.
	r, err := s.AuditRowByID(t.Context(), 3)
	if err != nil || r.Action != "restore" || string(r.After) != `{"password":"********"}` || string(r.Before) != `{"password":"********"}` {
		t.Errorf("restore row listed as %s -> %s (%v)", r.Before, r.After, err)
	}
}

func TestRestoreCheckSeesTransaction(t *testing.T) {
	// Check runs inside the restoring transaction: it can read other objects, and
	// what OnRestore writes commits (or rolls back) with the restore.
	s := openTest(t)
	now := time.Now()
	if err := s.CreateSession(t.Context(), Session{TokenHash: "h", Username: "u1", Kind: "admin", Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var sawOthers int
	s.Register(Kind{
		Name: "user",
		Check: func(tx *Tx, id string, data json.RawMessage) error {
			n, err := tx.Count("user", "")
			sawOthers = n
			return err
		},
		OnRestore: func(tx *Tx, id string, _ json.RawMessage) error { return tx.DeleteUserSessions(id) },
	})
	update(t, s, bob, func(tx *Tx) error { return tx.Create("user", "", "u1", doc{"role": "admin"}, "") })
	update(t, s, bob, func(tx *Tx) error { return tx.Create("user", "", "u2", doc{"role": "admin"}, "") })
	update(t, s, bob, func(tx *Tx) error { return tx.Replace("user", "", "u1", doc{"role": "viewer"}, "") })
	if _, err := s.Restore(t.Context(), alice, 3); err != nil {
		t.Fatal(err)
	}
	if sawOthers != 2 {
		t.Errorf("Check counted %d users, want 2", sawOthers)
	}
	if _, err := s.LookupSession(t.Context(), "h", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("OnRestore's session revocation did not commit: %v", err)
	}
}

// TestRestoreCreateUsesCurrentTenant: undoing a create deletes the object from the
// tenant it is in now; the audit row and the commit hook must name that tenant
// (tenant admins filter on it, the renderer re-renders it).
func TestRestoreCreateUsesCurrentTenant(t *testing.T) {

	s := openTest(t)
	s.Register(Kind{Name: "widget"})
	update(t, s, bob, func(tx *Tx) error { return tx.Create("widget", "t1", "w1", doc{"v": 1}, "") })
	update(t, s, bob, func(tx *Tx) error { return tx.Replace("widget", "t2", "w1", doc{"v": 2}, "") })
	var changes []Change
	s.OnCommitSync(func(_ int64, ch []Change) { changes = ch })
	if _, err := s.Restore(t.Context(), alice, 1); err != nil {
		t.Fatal(err)
	}
	rows := auditRows(t, s)
	if r := rows[len(rows)-1]; r.Tenant != "t2" {
		t.Errorf("restore row tenant = %q, want t2 (where the object was)", r.Tenant)
	}
	if len(changes) != 1 || changes[0].Tenant != "t2" {
		t.Errorf("hook changes = %+v, want tenant t2", changes)
	}
}
