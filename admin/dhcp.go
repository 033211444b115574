package admin

import (
	"net/http"

	"github.com/switchboard-pbx/switchboard/store"
)

// DHCPSource is the running DHCP server as the admin API sees it.
type DHCPSource interface {
	// Leases are every lease the server holds, by address.
	Leases() []store.DHCPLease
	// RulesView is the vendor rules and default options, for display.
	RulesView() any
}

// MountDHCP adds GET /api/v1/dhcp/leases and /api/v1/dhcp/rules; serve calls it
// only when the DHCP server is enabled, so a box without one has no such routes.
// Tenant admins see the leases of their tenant's phones only; the rules are the
// box's configuration, shown to everyone who may read.
func (a *API) MountDHCP(src DHCPSource) {
	a.Mount("GET /api/v1/dhcp/leases", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if _, err := query(r); err != nil {
			return err
		}
		out := []store.DHCPLease{}
		for _, l := range src.Leases() {
			if p.Sees(l.Tenant) {
				out = append(out, l)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": out})
		return nil
	})
	a.Mount("GET /api/v1/dhcp/rules", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if _, err := query(r); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, src.RulesView())
		return nil
	})
}
