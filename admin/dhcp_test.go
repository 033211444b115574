package admin

import (
	"net/http"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

type fakeDHCP struct{ leases []store.DHCPLease }

func (f fakeDHCP) Leases() []store.DHCPLease { return f.leases }
func (f fakeDHCP) RulesView() any            { return map[string]any{"vendors": []string{"yealink"}} }

func TestDHCPRoutes(t *testing.T) {
	e := newEnv(t)
	// Without MountDHCP (dhcp disabled) the routes do not exist.
	wantError(t, e.do("GET", "/api/v1/dhcp/leases", e.adminTk, nil), http.StatusNotFound, "")
	acme := e.createTenant("acme")
	e.api.MountDHCP(fakeDHCP{leases: []store.DHCPLease{
		{IP: "10.0.0.10", MAC: "001565000001", State: "bound", Tenant: e.def.ID},
		{IP: "10.0.0.11", MAC: "001565000002", State: "bound", Tenant: acme},
		{IP: "10.0.0.12", MAC: "AA0000000003", State: "bound"},
	}})
	e.createUser("acmeadmin", "acme-password-1", RoleTenantAdmin, acme)
	tok := e.login("acmeadmin", "acme-password-1")

	items, _ := e.must(http.StatusOK, "GET", "/api/v1/dhcp/leases", e.adminTk, nil).obj(t)["items"].([]any)
	if len(items) != 3 {
		t.Errorf("admin sees %d leases, want 3", len(items))
	}
	items, _ = e.must(http.StatusOK, "GET", "/api/v1/dhcp/leases", tok, nil).obj(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["ip"] != "10.0.0.11" {
		t.Errorf("tenant admin sees %v, want only acme's lease", items)
	}
	wantError(t, e.do("GET", "/api/v1/dhcp/leases?x=1", e.adminTk, nil), http.StatusBadRequest, "x")
	wantError(t, e.do("GET", "/api/v1/dhcp/leases", "", nil), http.StatusUnauthorized, "")
	if v := e.must(http.StatusOK, "GET", "/api/v1/dhcp/rules", tok, nil).obj(t)["vendors"]; v == nil {
		t.Error("rules without vendors")
	}
}
