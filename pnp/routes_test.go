package pnp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
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

// TestStateRoute: GET /api/v1/pnp shows the policy and counters to admins;
// tenant admins are refused (the sightings name every tenant's phones).
func TestStateRoute(t *testing.T) {
	e := provtest.New(t, provision.ModeSingle, 100)
	cfg := DefaultConfig()
	cfg.Enabled, cfg.Unknown = true, UnknownBootstrap
	srv, err := New(cfg, e.Logger, e.Prov, e.Prov.BuiltinCatalog().Brands)
	if err != nil {
		t.Fatal(err)
	}
	get := func(p httpapi.Principal) (int, map[string]any) {
		web := component.NewWeb(as(p))
		web.Mount(srv)
		rec := httptest.NewRecorder()
		web.Secure().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/pnp", nil))
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m) //nolint:errcheck // checked through m
		return rec.Code, m
	}
	if code, m := get(httpapi.Principal{User: "root", Role: httpapi.RoleAdmin}); code != http.StatusOK || m["unknown"] != "bootstrap" || m["counters"] == nil {
		t.Errorf("admin: %d %v", code, m)
	}
	if code, _ := get(httpapi.Principal{User: "t", Role: httpapi.RoleTenantAdmin, Tenant: e.Tenant}); code != http.StatusForbidden {
		t.Errorf("tenant admin: %d", code)
	}
}
