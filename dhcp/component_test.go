package dhcp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// as authenticates every admin route as one principal.
type as httpapi.Principal

func (a as) Wrap(h httpapi.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, httpapi.Principal(a)); err != nil {
			status, field, msg, _ := httpapi.Status(err)
			httpapi.WriteError(w, status, field, msg)
		}
	})
}

// TestRoutes: an admin sees every lease, a tenant admin only its tenant's
// phones; unknown query parameters are refused; the rules are readable.
func TestRoutes(t *testing.T) {
	st := &memStore{m: map[string]store.DHCPLease{
		"10.9.0.10": {IP: "10.9.0.10", MAC: "001565000001", State: "bound", Tenant: "t-one"},
		"10.9.0.11": {IP: "10.9.0.11", MAC: "001565000002", State: "bound", Tenant: "t-acme"},
		"10.9.0.12": {IP: "10.9.0.12", MAC: "AA0000000003", State: "bound"},
	}}
	s, _ := newTestServer(t, testConfig(), st)
	get := func(p httpapi.Principal, path string) (int, map[string]any) {
		web := component.NewWeb(as(p))
		web.Mount(s)
		rec := httptest.NewRecorder()
		web.Secure().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m) //nolint:errcheck // checked through m
		return rec.Code, m
	}
	admin := httpapi.Principal{User: "root", Role: httpapi.RoleAdmin}
	acme := httpapi.Principal{User: "acme", Role: httpapi.RoleTenantAdmin, Tenant: "t-acme"}
	if code, m := get(admin, "/api/v1/dhcp/leases"); code != http.StatusOK || len(m["items"].([]any)) != 3 {
		t.Errorf("admin: %d %v", code, m)
	}
	code, m := get(acme, "/api/v1/dhcp/leases")
	items, _ := m["items"].([]any)
	if code != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["ip"] != "10.9.0.11" {
		t.Errorf("tenant admin: %d %v, want only acme's lease", code, m)
	}
	if code, m := get(admin, "/api/v1/dhcp/leases?x=1"); code != http.StatusBadRequest || m["field"] != "x" {
		t.Errorf("unknown parameter: %d %v", code, m)
	}
	if code, m := get(acme, "/api/v1/dhcp/rules"); code != http.StatusOK || m["vendors"] == nil {
		t.Errorf("rules: %d %v", code, m)
	}
}
