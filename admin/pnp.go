package admin

import "net/http"

// PnPSource is the running SIP PnP responder as the admin API sees it.
type PnPSource interface {
	// State is its policy, interfaces, counters and newest sightings (read-only).
	State() any
}

// MountPnP adds GET /api/v1/pnp; serve calls it only when PnP is enabled, so a
// box without the responder has no such route. The state names phones of every
// tenant, so tenant admins are refused.
func (a *API) MountPnP(src PnPSource) {
	a.Mount("GET /api/v1/pnp", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if _, err := query(r); err != nil {
			return err
		}
		if p.Role == RoleTenantAdmin {
			return errAdminOnly
		}
		writeJSON(w, http.StatusOK, src.State())
		return nil
	})
}
