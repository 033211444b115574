package phonebook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

func TestCreateAuditsAndRefusesBadInput(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	c := e.create(t, Contact{Type: TypePublic, Name: "  Mario Rossi ", Company: "ACME", WorkPhone: "+39 0721 405516", Extension: "201"})
	if c.ID <= 0 || c.Name != "Mario Rossi" || c.Tenant != e.tenant {
		t.Fatalf("created %+v", c)
	}
	rows, _, err := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindContact})
	if err != nil || len(rows) != 1 {
		t.Fatalf("audit rows %d %v", len(rows), err)
	}
	var after Contact
	if err := json.Unmarshal(rows[0].After, &after); err != nil || after.ID != c.ID || after.WorkPhone != "+39 0721 405516" {
		t.Fatalf("audit after %s: %v", rows[0].After, err)
	}
	if rows[0].User != "admin" || rows[0].Action != "create" || !strings.Contains(rows[0].Description, "Mario Rossi") {
		t.Fatalf("audit row %+v", rows[0])
	}
	rev := e.st.Revision()
	for _, tc := range []struct {
		c     Contact
		field string
	}{
		{Contact{Name: "x"}, "type"},
		{Contact{Type: "friends", Name: "x"}, "type"},
		{Contact{Type: TypePublic}, "name"},
		{Contact{Type: TypePrivate, Name: "x"}, "owner_id"},
		{Contact{Type: TypeSpeedDial, Owner: "alice", Name: "x"}, "speeddial_num"},
		{Contact{Type: TypePublic, Name: "x", WorkPhone: "call me"}, "workphone"},
		{Contact{Type: TypePublic, Name: "x", Extension: "201; DROP"}, "extension"},
		{Contact{Type: TypePublic, Name: "bell\x07"}, "name"},
		{Contact{Type: TypePublic, Name: "x", WorkEmail: "not an address"}, "workemail"},
		{Contact{Type: TypePublic, Name: strings.Repeat("x", 256)}, "name"},
		{Contact{Type: TypePublic, Name: "x", Owner: "../etc"}, "owner_id"},
		{Contact{Type: TypePublic, Name: "bad \xff utf8"}, "name"},
	} {
		tc.c.Tenant = e.tenant
		_, err := e.pb.Create(e.ctx, e.admin, tc.c)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%+v: want a validation error on %s, got %v", tc.c, tc.field, err)
		}
	}
	if e.st.Revision() != rev {
		t.Fatalf("refused writes changed the store: revision %d -> %d", rev, e.st.Revision())
	}
	if n := len(e.pb.book(e.tenant).entries); n != 1 {
		t.Fatalf("%d contacts after refused writes", n)
	}
}

func TestModifyDeleteAndIDs(t *testing.T) {
	e := newEnv(t, provision.ModeMulti)
	a := e.create(t, Contact{Type: TypePublic, Name: "A", WorkPhone: "1001"})
	b := e.create(t, Contact{Type: TypePublic, Name: "B", WorkPhone: "1002", Tenant: e.other})
	if b.ID != a.ID+1 {
		t.Fatalf("ids %d then %d: want consecutive", a.ID, b.ID)
	}
	// Another tenant's contact is not found from this one.
	if _, err := e.pb.Modify(e.ctx, e.admin, e.tenant, b.ID, func(c *Contact) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant modify: %v", err)
	}
	if err := e.pb.Delete(e.ctx, e.admin, e.tenant, b.ID, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-tenant delete: %v", err)
	}
	m, err := e.pb.Modify(e.ctx, e.admin, e.tenant, a.ID, func(c *Contact) error { c.CellPhone = "333 1234567"; return nil })
	if err != nil || m.CellPhone != "333 1234567" || m.WorkPhone != "1001" {
		t.Fatalf("modify: %+v %v", m, err)
	}
	if got, _ := e.pb.Contact(e.tenant, a.ID); got == nil || got.CellPhone != "333 1234567" {
		t.Fatalf("the index did not see the change: %+v", got)
	}
	if err := e.pb.Delete(e.ctx, e.admin, e.tenant, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pb.Contact(e.tenant, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted contact still found: %v", err)
	}
	// A restart reads the contacts back and goes on numbering after them.
	pb2, err := New(e.ctx, DefaultConfig(), e.pb.log, e.st, e.prov)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pb2.Contact(e.other, b.ID); err != nil || got.Name != "B" {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	c, err := pb2.Create(e.ctx, e.admin, Contact{Tenant: e.tenant, Type: TypePublic, Name: "C", WorkPhone: "1003"})
	if err != nil || c.ID <= b.ID {
		t.Fatalf("after a restart: id %d, want more than %d (%v)", c.ID, b.ID, err)
	}
}

func TestMaxContacts(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	e.pb.cfg.MaxContacts = 2
	e.create(t, Contact{Type: TypePublic, Name: "A"})
	e.create(t, Contact{Type: TypePublic, Name: "B"})
	_, err := e.pb.Create(e.ctx, e.admin, Contact{Tenant: e.tenant, Type: TypePublic, Name: "C"})
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("third contact over max_contacts 2: %v", err)
	}
}

func TestSearchVisibilityAndMatching(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	pub := e.create(t, Contact{Type: TypePublic, Name: "Mario Rossì", Company: "ACME", WorkPhone: "0721 405516", Notes: "fornitore carta"})
	e.create(t, Contact{Type: TypePublic, Company: "ACME", WorkPhone: "0721 400000", WorkCity: "Pesaro"})
	e.create(t, Contact{Type: TypePublic, Name: "Zeta", Company: "Beta srl", CellPhone: "333 1111111"})
	alice := e.create(t, Contact{Type: TypePrivate, Owner: "alice", Name: "Alice's dentist", HomePhone: "0721 999"})
	e.create(t, Contact{Type: TypePrivate, Owner: "bob", Name: "Bob's dentist", HomePhone: "0721 998"})
	e.create(t, Contact{Type: TypeSpeedDial, Owner: "alice", Name: "Mum", SpeedDialNum: "0721 997"})

	ids := func(p Page) []int64 {
		var out []int64
		for _, c := range p.Rows {
			out = append(out, c.ID)
		}
		return out
	}
	b := e.pb.book(e.tenant)
	// alice sees the public contacts and her own, never bob's nor speed dials.
	all := b.search("", ViewAll, "alice", 0, -1)
	if all.Count != 4 {
		t.Fatalf("alice sees %d contacts: %+v", all.Count, ids(all))
	}
	for _, c := range all.Rows {
		if c.Owner == "bob" || c.Type == TypeSpeedDial {
			t.Fatalf("alice sees %+v", c)
		}
	}
	if p := b.search("dentist", ViewAll, "bob", 0, -1); p.Count != 1 || p.Rows[0].Owner != "bob" {
		t.Fatalf("bob's search: %+v", p)
	}
	// nethcti's order: company, then name; no company first.
	if all.Rows[0].ID != alice.ID || all.Rows[len(all.Rows)-1].Company != "Beta srl" {
		t.Fatalf("order: %+v", ids(all))
	}
	for _, tc := range []struct {
		term, view string
		want       int
	}{
		{"rossi", ViewAll, 1},     // accent and case
		{"ROSSÌ", ViewAll, 1},     // accent and case
		{"acme", ViewAll, 2},      // company
		{"acme", ViewPerson, 0},   // person: the name only
		{"mario", ViewCompany, 0}, // company: the company only
		{"072140", ViewAll, 2},    // number, however grouped
		{"0721 40", ViewAll, 2},   // number, grouped otherwise
		{"405516", ViewPerson, 1}, // numbers in every view
		{"carta", ViewAll, 1},     // notes
		{"pesaro", ViewAll, 0},    // not a searched field
		{"%", ViewAll, 0},         // LIKE's wildcard is a character here
		{"333-111", ViewAll, 1},   // digits only when it looks like a number
		{"nobody", ViewAll, 0},
	} {
		if p := b.search(tc.term, tc.view, "alice", 0, -1); p.Count != tc.want {
			t.Errorf("search %q view %s: %d results %+v, want %d", tc.term, tc.view, p.Count, ids(p), tc.want)
		}
	}
	// Pages: count is every match, rows the page.
	p := b.search("", ViewAll, "alice", 1, 2)
	if p.Count != 4 || len(p.Rows) != 2 || p.Rows[0].ID != all.Rows[1].ID || p.Rows[1].ID != all.Rows[2].ID {
		t.Fatalf("page 1,2: %+v", ids(p))
	}
	if p := b.search("", ViewAll, "alice", 10, 2); p.Count != 4 || len(p.Rows) != 0 {
		t.Fatalf("page past the end: %+v", p)
	}
	// The company view groups: ACME with its card (no name) and Mario.
	n, groups := b.searchCompanies("acm", "alice", 0, -1)
	if n != 1 || len(groups) != 1 || groups[0].card == nil || groups[0].card.WorkCity != "Pesaro" ||
		len(groups[0].people) != 1 || groups[0].people[0].ID != pub.ID {
		t.Fatalf("company view: %d %+v", n, groups)
	}
	if n, _ := b.searchCompanies("", "alice", 0, -1); n != 2 {
		t.Fatalf("companies alice sees: %d, want ACME and Beta srl", n)
	}
	// Speed dials are their owner's.
	if sd := b.speedDials("alice"); len(sd) != 1 || sd[0].Name != "Mum" {
		t.Fatalf("alice's speed dials: %+v", sd)
	}
	if sd := b.speedDials("bob"); len(sd) != 0 {
		t.Fatalf("bob's speed dials: %+v", sd)
	}
}

// A write that did not go through the package (another node's, replicated; an
// audit restore) reaches the index and the files through the commit delivery.
func TestCommitDeliveryUpdatesIndexAndFiles(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	first := e.create(t, Contact{Type: TypePublic, Name: "First", WorkPhone: "1001"})
	eventually(t, "the first contact in the Yealink file", func() bool {
		return strings.Contains(string(e.pb.DirFile(e.tenant, FileYealink).Body), "First")
	})
	c := Contact{ID: 9000, Tenant: e.tenant, Type: TypePublic, Name: "Replicated", WorkPhone: "5555"}
	if _, err := e.st.Update(e.ctx, store.Actor{User: "peer", IP: "10.0.0.2"}, func(tx *store.Tx) error {
		if err := tx.Delete(KindContact, objectID(first.ID), "deleted elsewhere"); err != nil {
			return err
		}
		return tx.Create(KindContact, e.tenant, objectID(c.ID), c, "created elsewhere")
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the replicated contact in a search", func() bool {
		p := e.pb.book(e.tenant).search("replicated", ViewAll, "", 0, -1)
		return p.Count == 1
	})
	eventually(t, "the Yealink file to follow", func() bool {
		body := string(e.pb.DirFile(e.tenant, FileYealink).Body)
		return strings.Contains(body, "Replicated") && !strings.Contains(body, "First")
	})
	// Ids go on after the highest one seen.
	if next := e.create(t, Contact{Type: TypePublic, Name: "Next"}); next.ID <= 9000 {
		t.Fatalf("id %d after 9000", next.ID)
	}
	// An audit restore of the deleted contact brings it back everywhere.
	rows, _, err := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindContact, ObjectID: objectID(first.ID), Action: "delete"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("delete row: %v %v", rows, err)
	}
	if _, err := e.st.Restore(e.ctx, e.admin, rows[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the restored contact", func() bool {
		_, err := e.pb.Contact(e.tenant, first.ID)
		return err == nil
	})
}

// The HA passive node: the active's snapshot imported into its store (what
// package ha does) brings the contacts into its index and its directory
// files, ready when it takes over.
func TestReplicatedToPassive(t *testing.T) {
	active := newEnv(t, provision.ModeSingle)
	passive := newEnv(t, provision.ModeSingle)
	c := active.create(t, Contact{Type: TypePublic, Name: "Replicated", WorkPhone: "100"})
	active.create(t, Contact{Type: TypeSpeedDial, Owner: "alice", Name: "Mum", SpeedDialNum: "200"})
	snap, err := active.st.ExportSnapshot(active.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := passive.st.ImportSnapshot(passive.ctx, snap); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the contacts on the passive", func() bool {
		got, err := passive.pb.Contact(active.tenant, c.ID)
		return err == nil && got.Name == "Replicated" && len(passive.pb.book(active.tenant).speedDials("alice")) == 1
	})
	eventually(t, "the passive's directory file", func() bool {
		got, err := passive.prov.Resolve("phonebook/yealink.xml")
		return err == nil && got.Tenant == active.tenant && strings.Contains(string(got.File.Body), "Replicated")
	})
	// Ids go on after the replicated ones when the passive takes over.
	next, err := passive.pb.Create(passive.ctx, passive.admin, Contact{Tenant: active.tenant, Type: TypePublic, Name: "After failover"})
	if err != nil || next.ID <= c.ID+1 {
		t.Fatalf("after failover: %+v %v", next, err)
	}
}
