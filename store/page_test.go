package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type pageDev struct {
	MAC     string `json:"mac"`
	Notes   string `json:"notes"`
	Account string `json:"account"`
}

type pageAcc struct {
	Extension   string `json:"extension"`
	DisplayName string `json:"display_name"`
}

func TestListPage(t *testing.T) {
	s := openTest(t)
	s.Register(Kind{Name: "device"})
	s.Register(Kind{Name: "account"})
	_, err := s.Update(t.Context(), alice, func(tx *Tx) error {
		if err := tx.Create("account", "t1", "acc-1", pageAcc{"201", "Grace Hopper"}, "a"); err != nil {
			return err
		}
		if err := tx.Create("account", "t2", "acc-2", pageAcc{"202", "Grace Other"}, "a"); err != nil {
			return err
		}
		for i := range 30 {
			d := pageDev{MAC: fmt.Sprintf("001565%06X", 29-i), Notes: fmt.Sprintf("desk %d", i)}
			if i == 7 {
				d.Notes = "100% _done_"
				d.Account = "acc-1"
			}
			if i == 8 {
				d.Account = "acc-2" // another tenant's account: never matches in t1
			}
			if err := tx.Create("device", "t1", fmt.Sprintf("id-%02d", i), d, "d"); err != nil {
				return err
			}
		}
		return tx.Create("device", "t2", "other", pageDev{MAC: "001565000000", Notes: "desk 1"}, "d")
	})
	if err != nil {
		t.Fatal(err)
	}
	page := func(p Page) ([]pageDev, int) {
		t.Helper()
		var out []pageDev
		var total int
		err := s.View(t.Context(), func(tx *Tx) error {
			var err error
			total, err = tx.ListPage("device", "t1", p, func(id string, raw json.RawMessage) error {
				var d pageDev
				out = append(out, d)
				return json.Unmarshal(raw, &out[len(out)-1])
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out, total
	}
	// Sorted by MAC across pages, counting only the tenant's objects.
	first, total := page(Page{Order: "mac", OrderUnique: true, Limit: 10})
	if total != 30 || len(first) != 10 || first[0].MAC != "001565000000" || first[9].MAC != "001565000009" {
		t.Fatalf("first page: total %d, %v", total, first)
	}
	last, _ := page(Page{Order: "mac", OrderUnique: true, Limit: 10, Offset: 25})
	if len(last) != 5 || last[4].MAC != "00156500001D" {
		t.Fatalf("last page: %v", last)
	}
	// Case-insensitive, anywhere in the field.
	if got, n := page(Page{Match: []Match{{Field: "notes", Text: "DESK 2"}}, Order: "mac", OrderUnique: true, Limit: 50}); n != 11 || len(got) != 11 {
		t.Errorf("notes contain 'DESK 2': %d (%d rows)", n, len(got))
	}
	// % and _ are literal, not wildcards.
	if got, n := page(Page{Match: []Match{{Field: "notes", Text: "100% _"}}, Limit: 50}); n != 1 || got[0].Notes != "100% _done_" {
		t.Errorf("literal %%: %d %v", n, got)
	}
	if _, n := page(Page{Match: []Match{{Field: "notes", Text: "1_0"}}, Limit: 50}); n != 0 {
		t.Errorf("_ matched as a wildcard: %d", n)
	}
	// Through the linked account, in the same tenant only.
	ref := Match{Field: "account", Text: "grace", RefKind: "account", RefFields: []string{"extension", "display_name"}}
	if got, n := page(Page{Match: []Match{ref}, Limit: 50}); n != 1 || got[0].Account != "acc-1" {
		t.Errorf("by account name: %d %v", n, got)
	}
	// OR of terms.
	if _, n := page(Page{Match: []Match{ref, {Field: "mac", Text: "00001D"}}, Limit: 50}); n != 2 {
		t.Errorf("two terms: %d", n)
	}
	// Names are never taken from input.
	err = s.View(t.Context(), func(tx *Tx) error {
		for _, p := range []Page{{Order: "mac'; --", Limit: 1}, {Limit: 0}, {Limit: 1, Offset: -1},
			{Limit: 1, Match: []Match{{Field: "x) OR 1=1 --", Text: "a"}}}} {
			if _, err := tx.ListPage("device", "t1", p, func(string, json.RawMessage) error { return nil }); err == nil {
				t.Errorf("accepted %+v", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestListPageUsesIndex: the first page of a tenant's devices sorted by MAC is
// read from the per-tenant MAC index, not by sorting every device, so it stays
// fast however many devices there are.
func TestListPageUsesIndex(t *testing.T) {
	s := openTest(t)
	_, listSQL, args, err := pageQuery("device", "t1", Page{Order: "mac", OrderUnique: true, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.read.Query(`EXPLAIN QUERY PLAN `+listSQL, append(args, 50, 0)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	p := strings.Join(plan, "; ")
	t.Logf("plan: %s", p)
	if !strings.Contains(p, "objects_device_mac") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("query plan does not use objects_device_mac: %s", p)
	}
}
