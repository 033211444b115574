package redirect

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// Routes adds the vendor redirection servers of a tenant:
// /api/v1/tenants/{tenant}/redirect-servers[/{id}] (CRUD; credentials are
// write-only), POST .../{id}/test (checks the credentials with the vendor) and
// GET /api/v1/tenants/{tenant}/redirect-status (each device's registration).
func (svc *Service) Routes(rt component.Router) {
	ts := svc.prov
	const base = "/api/v1/tenants/{tenant}/redirect-servers"
	httpapi.MountCRUD(rt, base, false, ts, httpapi.CRUD{
		List: func(ctx context.Context, t string) (any, error) { return svc.Servers(ctx, t) },
		Get:  func(ctx context.Context, t, id string) (any, error) { return svc.Server(ctx, t, id) },
		Save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
			return svc.SaveServer(ctx, ac, t, id, b)
		},
		Delete: svc.DeleteServer,
	})
	rt.Admin("POST "+base+"/{id}/test", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		t, err := httpapi.TenantOf(r, p, ts)
		if err != nil {
			return err
		}
		res, err := svc.TestServer(r.Context(), t, r.PathValue("id"))
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, res)
		return nil
	})
	rt.Admin("GET /api/v1/tenants/{tenant}/redirect-status", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		t, err := httpapi.TenantOf(r, p, ts)
		if err != nil {
			return err
		}
		l, err := svc.Statuses(r.Context(), t)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	})
}
