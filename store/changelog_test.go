package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// objectsOf lists the non-local objects of s as the replica sees them.
func objectsOf(t *testing.T, s *Store) []ReplicaObject {
	t.Helper()
	snap, err := s.ExportSnapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return snap.Objects
}

// catchUp ships what to lacks from from, as ha's replicator does: the change log
// after to's head, in batches of at most maxRows rows, through JSON.
func catchUp(t *testing.T, from, to *Store, maxRows int) (batches int) {
	t.Helper()
	ctx := t.Context()
	for {
		head, err := to.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := from.Continues(ctx, to.Revision(), head); err != nil || !ok {
			t.Fatalf("%v does not continue from revision %d head %d: %v", to.Path(), to.Revision(), head.ID, err)
		}
		rows, err := from.ChangeLog(ctx, head, maxRows)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			return batches
		}
		b, _ := json.Marshal(rows)
		var wire []ReplicaAuditRow
		if err := json.Unmarshal(b, &wire); err != nil {
			t.Fatal(err)
		}
		if err := to.ApplyChanges(ctx, wire); err != nil {
			t.Fatal(err)
		}
		batches++
	}
}

type dev struct {
	MAC  string `json:"mac"`
	Note string `json:"note,omitempty"`
}

// TestChangeLogReplays: creates, updates, deletes, a restore and a transaction
// that swaps a unique field between two objects, replayed from the change log,
// give the passive the same objects, revision and audit chain (list and verify),
// and tell its hooks what changed.
func TestChangeLogReplays(t *testing.T) {
	ctx := t.Context()
	active, passive := openTest(t), openTest(t)
	for _, s := range []*Store{active, passive} {
		s.Register(Kind{Name: "device"})
		s.Register(Kind{Name: "thing"})
	}
	up := func(fn func(tx *Tx) error) {
		t.Helper()
		if _, err := active.Update(ctx, alice, fn); err != nil {
			t.Fatal(err)
		}
	}
	up(func(tx *Tx) error {
		for i := range 3 {
			if err := tx.Create("device", "t1", fmt.Sprint("d", i), dev{MAC: fmt.Sprintf("00000000000%d", i)}, "add"); err != nil {
				return err
			}
		}
		return nil
	})
	// Seed the passive (a snapshot), then go on incrementally from there.
	snap, err := active.ExportSnapshotAfter(ctx, AuditMark{})
	if err != nil {
		t.Fatal(err)
	}
	if err := passive.ImportSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	var hooked []Change
	passive.OnCommitSync(func(_ int64, c []Change) { hooked = append(hooked, c...) })

	up(func(tx *Tx) error {
		return tx.Replace("device", "t1", "d0", dev{MAC: "000000000000", Note: "desk"}, "note")
	})
	// Swap the MACs of d1 and d2 through a third value: the unique index holds
	// only if the writes are replayed in their order.
	up(func(tx *Tx) error {
		if err := tx.Replace("device", "t1", "d1", dev{MAC: "ffffffffffff"}, "swap 1"); err != nil {
			return err
		}
		if err := tx.Replace("device", "t1", "d2", dev{MAC: "000000000001"}, "swap 2"); err != nil {
			return err
		}
		return tx.Replace("device", "t1", "d1", dev{MAC: "000000000002"}, "swap 3")
	})
	up(func(tx *Tx) error { return tx.Delete("device", "d0", "gone") })
	up(func(tx *Tx) error { return tx.Create("thing", "", "x", map[string]int{"v": 1}, "x") })
	rows := replicaAuditRows(t, active)
	var deleted int64
	for _, r := range rows {
		if r.ObjectID == "d0" && r.Action == "delete" {
			deleted = r.ID
		}
	}
	if _, err := active.Restore(ctx, bob, deleted); err != nil {
		t.Fatal(err)
	}
	if n := catchUp(t, active, passive, 2); n < 3 {
		t.Fatalf("%d batches of at most 2 rows for 8 rows", n)
	}
	if passive.Revision() != active.Revision() {
		t.Fatalf("revision %d, active %d", passive.Revision(), active.Revision())
	}
	if a, p := objectsOf(t, active), objectsOf(t, passive); !slices.Equal(a, p) {
		t.Fatalf("objects differ:\nactive  %+v\npassive %+v", a, p)
	}
	sameAudit(t, "after the change log", active, passive)
	acts := map[string]string{}
	for _, c := range hooked {
		acts[c.ID] = c.Action
	}
	if acts["d0"] != "restore" || acts["x"] != "create" || acts["d1"] != "update" {
		t.Fatalf("changes told to the passive's hooks: %+v", hooked)
	}
	// Level: nothing more to send, and the passive still continues the active.
	if rows, err := active.ChangeLog(ctx, AuditMark{ID: rows[0].ID + 1, Hash: ""}, 10); err != nil || len(rows) != 0 {
		t.Fatalf("change log past the head: %v %v", rows, err)
	}
}

// TestChangeLogKeepsTransactionsWhole: a batch ends on a transaction boundary,
// and one transaction larger than the limit comes whole.
func TestChangeLogKeepsTransactionsWhole(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	s.Register(Kind{Name: "thing"})
	for _, n := range []int{2, 5, 1} {
		if _, err := s.Update(ctx, alice, func(tx *Tx) error {
			for i := range n {
				if err := tx.Create("thing", "", fmt.Sprint(n, "-", i), i, ""); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		from     int64
		max, got int
	}{{0, 1, 2}, {0, 2, 2}, {0, 3, 7}, {2, 1, 5}, {2, 6, 6}, {7, 100, 1}, {8, 1, 0}} {
		head := AuditMark{ID: c.from}
		rows, err := s.ChangeLog(ctx, head, c.max)
		if err != nil || len(rows) != c.got {
			t.Fatalf("after row %d, max %d: %d rows (%v), want %d", c.from, c.max, len(rows), err, c.got)
		}
	}
}

// TestChangeLogRefusesWhatDoesNotContinue: a node that wrote on its own, or one
// that lacks rows before a batch, is not continued: Continues says so, and
// ApplyChanges refuses the batch and changes nothing.
func TestChangeLogRefusesWhatDoesNotContinue(t *testing.T) {
	ctx := t.Context()
	active, passive := openTest(t), openTest(t)
	for _, s := range []*Store{active, passive} {
		s.Register(Kind{Name: "thing"})
	}
	write := func(s *Store, id string) {
		t.Helper()
		if _, err := s.Update(ctx, alice, func(tx *Tx) error { return tx.Create("thing", "", id, 1, id) }); err != nil {
			t.Fatal(err)
		}
	}
	write(active, "a")
	write(active, "b")
	// An empty node continues any chain (from the start).
	if behind, ok, err := active.Continues(ctx, 0, AuditMark{}); err != nil || !ok || behind != 2 {
		t.Fatalf("empty node: behind %d ok %v err %v", behind, ok, err)
	}
	catchUp(t, active, passive, 100)
	write(active, "c")
	write(active, "d")

	// A gap: the batch of revision 4 alone.
	all, _ := active.ChangeLog(ctx, AuditMark{ID: 2}, 100)
	if err := passive.ApplyChanges(ctx, all[1:]); err == nil {
		t.Fatal("a batch after a gap was applied")
	}
	// Tampered: a link of the chain does not hold.
	bad := slices.Clone(all)
	bad[1].PrevHash = "x"
	if err := passive.ApplyChanges(ctx, bad); err == nil {
		t.Fatal("a batch with a broken link was applied")
	}
	if passive.Revision() != 2 {
		t.Fatalf("refused batches moved the revision to %d", passive.Revision())
	}

	// Divergence: the passive wrote on its own (split brain, or start-up defaults).
	write(passive, "own")
	head, _ := passive.AuditHead(ctx)
	if _, ok, err := active.Continues(ctx, passive.Revision(), head); err != nil || ok {
		t.Fatalf("a diverged node is continued: %v %v", ok, err)
	}
	if err := passive.ApplyChanges(ctx, all); err == nil {
		t.Fatal("a batch was applied over a diverged chain")
	}
	// A node further than the active, and one naming a row with another revision.
	if _, ok, _ := active.Continues(ctx, 9, AuditMark{ID: 9, Hash: "h"}); ok {
		t.Fatal("a node ahead of the active is continued")
	}
	first, _ := active.AuditHead(ctx)
	if _, ok, _ := active.Continues(ctx, 1, first); ok {
		t.Fatal("head of revision 4 with revision 1 is continued")
	}
	// The snapshot heals it; then the log continues it again.
	snap, _ := active.ExportSnapshotAfter(ctx, head)
	if err := passive.ImportSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	write(active, "e")
	catchUp(t, active, passive, 100)
	sameAudit(t, "healed", active, passive)
	if !slices.Equal(objectsOf(t, active), objectsOf(t, passive)) {
		t.Fatal("objects differ after healing")
	}
}

// TestLocalKindsStayOnTheirNode: each node keeps its own objects of a Local
// kind through snapshots and the change log, while their audit rows travel
// like any other (the chain stays one).
func TestLocalKindsStayOnTheirNode(t *testing.T) {
	ctx := t.Context()
	active, passive := openTest(t), openTest(t)
	for _, s := range []*Store{active, passive} {
		s.Register(Kind{Name: "thing"})
		s.Register(Kind{Name: "node_setting", Local: true})
	}
	if _, err := passive.Update(ctx, System, func(tx *Tx) error {
		return tx.Create("node_setting", "", "ha", map[string]string{"node": "passive"}, "")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := active.Update(ctx, alice, func(tx *Tx) error {
		if err := tx.Create("node_setting", "", "ha", map[string]string{"node": "active"}, ""); err != nil {
			return err
		}
		return tx.Create("thing", "", "x", 1, "")
	}); err != nil {
		t.Fatal(err)
	}
	snap, err := active.ExportSnapshotAfter(ctx, AuditMark{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range snap.Objects {
		if o.Kind == "node_setting" {
			t.Fatal("a snapshot carries a Local object")
		}
	}
	if err := passive.ImportSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := active.Update(ctx, alice, func(tx *Tx) error {
		return tx.Replace("node_setting", "", "ha", map[string]string{"node": "active", "v": "2"}, "")
	}); err != nil {
		t.Fatal(err)
	}
	catchUp(t, active, passive, 100)
	sameAudit(t, "local kinds", active, passive)
	var got map[string]string
	if err := passive.View(ctx, func(tx *Tx) error {
		ok, err := tx.Get("node_setting", "ha", &got)
		if !ok && err == nil {
			err = errors.New("gone")
		}
		return err
	}); err != nil || got["node"] != "passive" {
		t.Fatalf("the passive's own setting after replication: %v %v", got, err)
	}
}

func FuzzCheckChanges(f *testing.F) {
	doc := `{"mac":"001565000001"}`
	ok, _ := json.Marshal([]ReplicaAuditRow{{ID: 1, TxID: 1, Time: "2026-01-02T03:04:05.000000000Z", User: "u", Action: "create",
		ObjectType: "device", ObjectID: "d", After: &doc, Hash: "h1"}, {ID: 2, TxID: 2, Time: "2026-01-02T03:04:05.000000000Z",
		Action: "delete", ObjectType: "device", ObjectID: "d", Before: &doc, PrevHash: "h1", Hash: "h2"}})
	f.Add(ok)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"id":1,"tx_id":1,"action":"update","object_type":"x","object_id":"y","hash":"z","after":"{"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rows []ReplicaAuditRow
		if json.Unmarshal(b, &rows) != nil || CheckChanges(rows) != nil {
			return
		}
		for i, r := range rows {
			if i > 0 && (r.ID != rows[i-1].ID+1 || r.PrevHash != rows[i-1].Hash) {
				t.Fatalf("accepted a broken chain: %+v", rows)
			}
			if r.After != nil && !json.Valid([]byte(*r.After)) {
				t.Fatalf("accepted a document that is not JSON: %q", *r.After)
			}
		}
	})
}

// TestPrepareSyncHandsOverTheChangeLog: just before a transaction commits,
// OnPrepareSync gets its audit rows exactly as ChangeLog returns them once
// committed (the replica applies the one like the other), while nothing of it
// is visible yet; the function it returns learns the commit's outcome, and a
// commit that fails leaves nothing behind.
func TestPrepareSyncHandsOverTheChangeLog(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	s.Register(Kind{Name: "device"})
	if _, err := s.Update(ctx, alice, func(tx *Tx) error {
		return tx.Create("device", "t1", "d0", dev{MAC: "000000000000"}, "add")
	}); err != nil {
		t.Fatal(err)
	}
	head, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []ReplicaAuditRow
	var outcome []error
	cancelIn := context.CancelFunc(nil) // set: the prepare cancels the transaction's context
	s.OnPrepareSync(func(rev int64, read func() ([]ReplicaAuditRow, error)) func(error) {
		rows, err := read()
		if err != nil {
			t.Errorf("reading the transaction's rows: %v", err)
		}
		got = rows
		if rev != s.Revision()+1 || len(rows) == 0 || rows[0].TxID != rev {
			t.Errorf("prepare of revision %d at revision %d with %d rows", rev, s.Revision(), len(rows))
		}
		if seen, err := s.ChangeLog(ctx, head, 100); err != nil || len(seen) != 0 {
			t.Errorf("the transaction is visible before its commit: %d rows, %v", len(seen), err)
		}
		if cancelIn != nil {
			cancelIn()
		}
		return func(err error) { outcome = append(outcome, err) }
	})
	rev, err := s.Update(ctx, alice, func(tx *Tx) error {
		if err := tx.Replace("device", "t1", "d0", dev{MAC: "000000000000", Note: "desk"}, "note"); err != nil {
			return err
		}
		return tx.Create("device", "t1", "d1", dev{MAC: "000000000001"}, "add")
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outcome) != 1 || outcome[0] != nil {
		t.Fatalf("outcomes of a commit that succeeded: %v", outcome)
	}
	committed, err := s.ChangeLog(ctx, head, 100)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(committed)
	if len(committed) != 2 || committed[1].TxID != rev || string(a) != string(b) {
		t.Fatalf("prepare got\n%s\nthe change log is\n%s", a, b)
	}

	// A commit that fails after the prepare (its context ends): the prepare
	// learns it, and the store is as before.
	head, _ = s.AuditHead(ctx)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cancelIn = cancel
	if _, err := s.Update(tctx, alice, func(tx *Tx) error {
		return tx.Delete("device", "d1", "gone")
	}); err == nil {
		t.Fatal("the commit did not fail")
	}
	if len(outcome) != 2 || outcome[1] == nil {
		t.Fatalf("outcomes after a failed commit: %v", outcome)
	}
	if after, _ := s.AuditHead(ctx); after != head || s.Revision() != rev {
		t.Fatalf("a failed commit left audit head %d (was %d), revision %d (was %d)", after.ID, head.ID, s.Revision(), rev)
	}
}

// TestChangeLogCarriesReveals: a reveal writes an audit row of the current
// revision (no object changes, no new revision). The passive takes it from the
// change log like any row, alone or at the head of the next transaction's
// batch, and its history still continues the active's, so the link goes on
// incrementally instead of falling back to a snapshot; the revealed object is
// untouched on the passive.
func TestChangeLogCarriesReveals(t *testing.T) {
	ctx := t.Context()
	active, passive := openTest(t), openTest(t)
	for _, s := range []*Store{active, passive} {
		s.Register(Kind{Name: "device"})
	}
	up := func(fn func(tx *Tx) error) {
		t.Helper()
		if _, err := active.Update(ctx, alice, fn); err != nil {
			t.Fatal(err)
		}
	}
	up(func(tx *Tx) error { return tx.Create("device", "t1", "d0", dev{MAC: "000000000000"}, "add") })
	catchUp(t, active, passive, 100)

	// A reveal alone, then a reveal followed by a transaction in one batch,
	// then two reveals in a row.
	if err := active.Reveal(ctx, alice, "device", "t1", "d0", "shown"); err != nil {
		t.Fatal(err)
	}
	catchUp(t, active, passive, 100)
	if err := active.Reveal(ctx, alice, "device", "t1", "d0", "shown again"); err != nil {
		t.Fatal(err)
	}
	up(func(tx *Tx) error {
		return tx.Replace("device", "t1", "d0", dev{MAC: "000000000000", Note: "desk"}, "note")
	})
	catchUp(t, active, passive, 100)
	for range 2 {
		if err := active.Reveal(ctx, alice, "device", "t1", "d0", "twice"); err != nil {
			t.Fatal(err)
		}
	}
	catchUp(t, active, passive, 100)

	ah, _ := active.AuditHead(ctx)
	ph, _ := passive.AuditHead(ctx)
	if ah != ph || active.Revision() != passive.Revision() {
		t.Fatalf("passive at row %d revision %d, active at row %d revision %d", ph.ID, passive.Revision(), ah.ID, active.Revision())
	}
	if a, p := objectsOf(t, active), objectsOf(t, passive); len(p) != 1 || fmt.Sprint(a) != fmt.Sprint(p) {
		t.Fatalf("objects differ after the reveals:\nactive  %v\npassive %v", a, p)
	}
}
