package store

import (
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
	dst.OnCommit(func(rev int64, c []Change) { got = c })
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
