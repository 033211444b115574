package resync

import (
	"net/http"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// Routes adds
//
//	POST /api/v1/tenants/{tenant}/devices/{id}/resync  {"reboot": false, "via": "auto"}  (body optional)
//	POST /api/v1/tenants/{tenant}/resync               {"devices"|"template"|"model"|"all", "reboot", "via"}
//	GET  /api/v1/resync/vendors                        the Event header of each brand
//
// Both POSTs answer a Report (one result per device) once every NOTIFY was
// sent or failed; admins and the tenant's admins may use them, auditors not.
func (s *Service) Routes(rt component.Router) {
	rt.Admin("POST /api/v1/tenants/{tenant}/devices/{id}/resync", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		t, err := httpapi.TenantOf(r, p, s.prov)
		if err != nil {
			return err
		}
		var body struct {
			Reboot bool   `json:"reboot"`
			Via    string `json:"via"`
		}
		if r.ContentLength != 0 {
			if err := httpapi.Decode(r, &body); err != nil {
				return err
			}
		}
		rep, err := s.Run(r.Context(), p.Actor(), t, Request{Devices: []string{r.PathValue("id")}, Reboot: body.Reboot, Via: body.Via})
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, rep)
		return nil
	})
	rt.Admin("POST /api/v1/tenants/{tenant}/resync", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		t, err := httpapi.TenantOf(r, p, s.prov)
		if err != nil {
			return err
		}
		var req Request
		if err := httpapi.Decode(r, &req); err != nil {
			return err
		}
		rep, err := s.Run(r.Context(), p.Actor(), t, req)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, rep)
		return nil
	})
	rt.Admin("GET /api/v1/resync/vendors", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": Vendors(), "configured": s.Configured(), "via": s.cfg.Via})
		return nil
	})
}
