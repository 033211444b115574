package store

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestSnapshotReplicates(t *testing.T) {
	ctx := t.Context()
	src, dst := openTest(t), openTest(t)
	for _, s := range []*Store{src, dst} {
		s.Register(Kind{Name: "thing"})
	}
	if _, err := dst.Update(ctx, bob, func(tx *Tx) error {
		return tx.Create("thing", "", "stale", map[string]string{"v": "old"}, "stale")
	}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "b"} {
		if _, err := src.Update(ctx, alice, func(tx *Tx) error {
			return tx.Create("thing", "t1", id, map[string]int{"n": i}, "create")
		}); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := src.ExportSnapshot(ctx)
	if err != nil || snap.Revision != 2 || len(snap.Objects) != 2 {
		t.Fatalf("export: %+v %v", snap, err)
	}
	var got []Change
	dst.OnCommitSync(func(rev int64, c []Change) { got = c })
	if err := dst.ImportSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if dst.Revision() != 2 {
		t.Fatalf("revision after import: %d", dst.Revision())
	}
	again, _ := dst.ExportSnapshot(ctx)
	if len(again.Objects) != 2 || again.Objects[0] != snap.Objects[0] || again.Objects[1] != snap.Objects[1] {
		t.Fatalf("imported objects differ: %+v", again.Objects)
	}
	acts := map[string]string{}
	for _, c := range got {
		acts[c.ID] = c.Action
	}
	if acts["a"] != "create" || acts["b"] != "create" || acts["stale"] != "delete" {
		t.Fatalf("changes told to hooks: %+v", got)
	}
	// A bad snapshot changes nothing.
	bad := snap
	bad.Objects = append([]ReplicaObject{{Kind: "thing", ID: "x", Data: "{not json", Updated: "now"}}, snap.Objects...)
	bad.Revision = 9
	if err := dst.ImportSnapshot(ctx, bad); err == nil {
		t.Fatal("invalid JSON imported")
	}
	if dst.Revision() != 2 {
		t.Fatal("failed import moved the revision")
	}
}

func TestWriteGuard(t *testing.T) {
	s := openTest(t)
	s.Register(Kind{Name: "thing"})
	s.SetWriteGuard(func(a Actor) error {
		if a.User == alice.User {
			return &ReadOnlyError{Msg: "passive: write on node-b"}
		}
		return nil
	})
	_, err := s.Update(t.Context(), alice, func(tx *Tx) error { return tx.Create("thing", "", "x", 1, "") })
	var ro *ReadOnlyError
	if !errors.As(err, &ro) || s.Revision() != 0 {
		t.Fatalf("guarded write: %v, revision %d", err, s.Revision())
	}
	if _, err := s.Update(t.Context(), bob, func(tx *Tx) error { return tx.Create("thing", "", "x", 1, "") }); err != nil {
		t.Fatal(err)
	}
	s.SetWriteGuard(nil)
	if _, err := s.Update(t.Context(), alice, func(tx *Tx) error { return tx.Create("thing", "", "y", 1, "") }); err != nil {
		t.Fatal(err)
	}
}

// replicaAuditRows lists every audit row, newest first.
func replicaAuditRows(t *testing.T, s *Store) []AuditRow {
	t.Helper()
	rows, _, err := s.Audit(t.Context(), AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func sameAudit(t *testing.T, what string, a, b *Store) {
	t.Helper()
	ra, rb := replicaAuditRows(t, a), replicaAuditRows(t, b)
	if len(ra) != len(rb) {
		t.Fatalf("%s: %d audit rows against %d", what, len(ra), len(rb))
	}
	for i := range ra {
		if ra[i].ID != rb[i].ID || ra[i].Hash != rb[i].Hash || ra[i].User != rb[i].User || ra[i].ObjectID != rb[i].ObjectID ||
			!ra[i].Time.Equal(rb[i].Time) || string(ra[i].Before) != string(rb[i].Before) || string(ra[i].After) != string(rb[i].After) {
			t.Fatalf("%s: audit row %d differs:\n%+v\n%+v", what, i, ra[i], rb[i])
		}
	}
	for _, s := range []*Store{a, b} {
		v, err := s.Verify(t.Context())
		if err != nil || !v.OK {
			t.Fatalf("%s: verify: %+v %v", what, v, err)
		}
	}
	ha, _ := a.AuditHead(t.Context())
	hb, _ := b.AuditHead(t.Context())
	if ha != hb {
		t.Fatalf("%s: heads %+v and %+v", what, ha, hb)
	}
}

func TestSnapshotReplicatesAudit(t *testing.T) {
	ctx := t.Context()
	active, passive := openTest(t), openTest(t)
	for _, s := range []*Store{active, passive} {
		s.Register(Kind{Name: "thing"})
	}
	write := func(s *Store, who Actor, id string, v int) {
		t.Helper()
		if _, err := s.Update(ctx, who, func(tx *Tx) error {
			if ok, _ := tx.Get("thing", id, new(map[string]int)); ok {
				return tx.Replace("thing", "", id, map[string]int{"v": v}, "set")
			}
			return tx.Create("thing", "", id, map[string]int{"v": v}, "create")
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The passive wrote rows of its own before it was first replicated (start-up
	// defaults): they do not survive the first snapshot.
	write(passive, System, "own", 1)
	write(passive, System, "own", 2)
	write(active, alice, "a", 1)
	write(active, bob, "b", 1)
	write(active, alice, "a", 2)
	// sync sends what the passive lacks, as ha's replicator does.
	sync := func(from, to *Store) Snapshot {
		t.Helper()
		have, err := to.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := from.ExportSnapshotAfter(ctx, have)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(snap) // over the wire
		var got Snapshot
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if err := to.ImportSnapshot(ctx, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	snap := sync(active, passive)
	if snap.Audit.From.ID != 0 || len(snap.Audit.Rows) != 3 {
		t.Fatalf("diverged chains: want the whole chain, got from %d, %d rows", snap.Audit.From.ID, len(snap.Audit.Rows))
	}
	sameAudit(t, "first snapshot", active, passive)

	// Then only the new rows travel.
	write(active, bob, "c", 1)
	snap = sync(active, passive)
	if snap.Audit.From.ID != 3 || len(snap.Audit.Rows) != 1 {
		t.Fatalf("incremental: from %d, %d rows", snap.Audit.From.ID, len(snap.Audit.Rows))
	}
	sameAudit(t, "incremental", active, passive)
	snap = sync(active, passive) // nothing new
	if len(snap.Audit.Rows) != 0 {
		t.Fatalf("no change: %d rows sent", len(snap.Audit.Rows))
	}

	// Failover: the passive takes over and continues the replicated chain.
	write(passive, alice, "d", 1)
	rows := replicaAuditRows(t, passive)
	if rows[0].ID != 5 || rows[0].PrevHash != rows[1].Hash {
		t.Fatalf("after takeover the chain does not continue: %+v", rows[0])
	}
	// The old active wrote a row nobody acknowledged before it died; back as the
	// passive it gets the new active's chain, and loses that row.
	write(active, bob, "lost", 1)
	sync(passive, active)
	sameAudit(t, "after the old active rejoined", passive, active)
	if replicaAuditRows(t, active)[0].ObjectID != "d" {
		t.Fatal("the old active kept its unreplicated row")
	}
	// The append-only trigger is back in place.
	if _, err := active.write.ExecContext(ctx, `DELETE FROM audit WHERE id = 1`); err == nil {
		t.Fatal("audit rows can be deleted after an import")
	}

	// A snapshot whose rows do not continue this chain changes nothing.
	bad, _ := passive.ExportSnapshot(ctx)
	bad.Audit.From = AuditMark{ID: 2, Hash: "not the hash"}
	bad.Audit.Rows = bad.Audit.Rows[2:]
	if err := active.ImportSnapshot(ctx, bad); err == nil {
		t.Fatal("imported rows after a row this chain does not have")
	}
	gap, _ := passive.ExportSnapshot(ctx)
	gap.Audit.Rows = append(gap.Audit.Rows[:1], gap.Audit.Rows[2:]...)
	if err := active.ImportSnapshot(ctx, gap); err == nil {
		t.Fatal("imported a chain with a gap")
	}
	sameAudit(t, "after refused imports", passive, active)

	// A snapshot without audit (an older peer) leaves the chain alone.
	noAudit, _ := passive.ExportSnapshot(ctx)
	noAudit.Audit = nil
	if err := active.ImportSnapshot(ctx, noAudit); err != nil {
		t.Fatal(err)
	}
	sameAudit(t, "snapshot without audit", passive, active)
}
