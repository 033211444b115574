package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/store"
)

// MountRedirect adds the vendor redirection servers of a tenant:
// /api/v1/tenants/{tenant}/redirect-servers[/{id}] (CRUD; credentials are
// write-only), POST .../{id}/test (checks the credentials with the vendor) and
// GET /api/v1/tenants/{tenant}/redirect-status (each device's registration).
func (a *API) MountRedirect(svc *redirect.Service) {
	const base = "/api/v1/tenants/{tenant}/redirect-servers"
	a.mount(base, false, crud{
		list: func(ctx context.Context, t string) (any, error) { return svc.Servers(ctx, t) },
		get:  func(ctx context.Context, t, id string) (any, error) { return svc.Server(ctx, t, id) },
		save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
			return svc.SaveServer(ctx, ac, t, id, b)
		},
		del: svc.DeleteServer,
	})
	a.Mount("POST "+base+"/{id}/test", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		res, err := svc.TestServer(r.Context(), t, r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	})
	a.Mount("GET /api/v1/tenants/{tenant}/redirect-status", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		l, err := svc.Statuses(r.Context(), t)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	})
}
