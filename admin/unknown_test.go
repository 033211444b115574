package admin

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// TestUnknownDevicesPaged (F3): the "seen, not configured" list is served a page
// at a time with the total, most recently seen first, and bad paging
// parameters are refused naming the parameter.
func TestUnknownDevicesPaged(t *testing.T) {
	e := newEnv(t)
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 25; i++ {
		u := store.UnknownDevice{Tenant: e.def.ID, MAC: fmt.Sprintf("0015650000%02X", i), IP: "192.0.2.7",
			UserAgent: "Yealink SIP-T54W", File: fmt.Sprintf("0015650000%02x.cfg", i), LastSeen: base.Add(time.Duration(i) * time.Second)}
		if err := e.st.SeeUnknown(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/tenants/" + e.def.ID + "/unknown-devices"
	seen := map[string]bool{}
	var order []string
	for _, off := range []int{0, 10, 20} {
		m := e.must(http.StatusOK, "GET", fmt.Sprintf("%s?limit=10&offset=%d", path, off), e.adminTk, nil).obj(t)
		items, _ := m["items"].([]any)
		want := min(10, 25-off)
		if len(items) != want || m["total"] != float64(25) || m["limit"] != float64(10) || m["offset"] != float64(off) {
			t.Fatalf("offset %d: %d items, total %v limit %v offset %v; want %d of 25", off, len(items), m["total"], m["limit"], m["offset"], want)
		}
		for _, it := range items {
			mac := it.(map[string]any)["mac"].(string)
			if seen[mac] {
				t.Errorf("%s on two pages", mac)
			}
			seen[mac] = true
			order = append(order, mac)
		}
	}
	if order[0] != "001565000018" || order[24] != "001565000000" {
		t.Errorf("order %v, want most recently seen first", order)
	}
	// Without parameters: the first page of the default size.
	if m := e.must(http.StatusOK, "GET", path, e.adminTk, nil).obj(t); len(m["items"].([]any)) != 25 || m["limit"] != float64(100) {
		t.Errorf("default page: %d items, limit %v", len(m["items"].([]any)), m["limit"])
	}
	for _, q := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=-1", "limit"}, {"limit=1001", "limit"}, {"limit=x", "limit"},
		{"offset=-1", "offset"}, {"offset=y", "offset"}, {"page=2", "page"},
	} {
		wantError(t, e.do("GET", path+"?"+q.query, e.adminTk, nil), http.StatusBadRequest, q.field)
	}
}
