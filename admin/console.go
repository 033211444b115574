package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// The endpoints the web console needs beyond the CLI's: pages of long lists
// with a search, previews of unsaved devices and templates, the appliance's
// interfaces, the user's preferences and what the appliance runs.

// Page sizes of paged lists.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// pageParams reads q, limit (default 50, at most 1000) and offset.
func pageParams(r *http.Request) (q string, limit, offset int, err error) {
	qs, err := query(r, "q", "limit", "offset")
	if err != nil {
		return "", 0, 0, err
	}
	if limit, err = intParam(qs, "limit"); err != nil {
		return "", 0, 0, err
	}
	if offset, err = intParam(qs, "offset"); err != nil {
		return "", 0, 0, err
	}
	if _, ok := qs["limit"]; !ok {
		limit = defaultPageSize
	}
	switch {
	case limit < 1 || limit > maxPageSize:
		return "", 0, 0, errStatus(http.StatusBadRequest, "limit", "limit must be 1-%d", maxPageSize)
	case offset < 0:
		return "", 0, 0, errStatus(http.StatusBadRequest, "offset", "offset must not be negative")
	case len(qs["q"]) > 128:
		return "", 0, 0, errStatus(http.StatusBadRequest, "q", "q is longer than 128 characters")
	}
	return qs["q"], limit, offset, nil
}

// prefTenant is the preference key of the tenant the user worked on last.
const prefTenant = "tenant"

// features are the optional services, each by a route only it mounts.
var features = []struct{ name, probe string }{
	{"redirect", "/api/v1/tenants/x/redirect-servers"},
	{"dhcp", "/api/v1/dhcp/leases"},
	{"pnp", "/api/v1/pnp"},
	{"cti", "/api/v1/cti/users"},
	{"ha", "/api/v1/ha"},
}

// Features lists the optional services that are on, found by asking the
// router which of their routes exist (however they were mounted): a box
// without DHCP has no DHCP route, and the console no DHCP page.
func (a *API) Features() []string {
	out := []string{}
	for _, f := range features {
		r, _ := http.NewRequest(http.MethodGet, f.probe, nil)
		if _, pattern := a.mux.Handler(r); pattern != "" && pattern != "/api/" {
			out = append(out, f.name)
		}
	}
	return out
}

func (a *API) consoleRoutes() {
	pv := a.prov
	const tb = "/api/v1/tenants/{tenant}"
	a.Mount("PUT /api/v1/me/preferences", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		var in struct {
			Tenant *string `json:"tenant"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		if in.Tenant != nil {
			t := *in.Tenant
			if t != "" {
				if !p.Sees(t) {
					return errStatus(http.StatusBadRequest, "tenant", "tenant %s does not exist", t)
				}
				if _, err := pv.Tenant(r.Context(), t); err != nil {
					return errStatus(http.StatusBadRequest, "tenant", "tenant %s does not exist", t)
				}
			}
			if err := a.st.SetPref(r.Context(), p.User, prefTenant, t); err != nil {
				return err
			}
		}
		return a.writePrefs(w, r, p)
	})
	a.Mount("GET /api/v1/me/preferences", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		return a.writePrefs(w, r, p)
	})
	a.Mount("GET /api/v1/interfaces", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if _, err := query(r); err != nil {
			return err
		}
		l, err := provision.Interfaces()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	})
	a.Mount("POST "+tb+"/devices/preview", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		qs, err := query(r, "id")
		if err != nil {
			return err
		}
		body, err := rawObject(r)
		if err != nil {
			return err
		}
		// Like every POST, refused to auditors: the file holds credentials.
		out, err := pv.PreviewDevice(r.Context(), t, qs["id"], body)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
	a.Mount("POST "+tb+"/templates/preview", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		var in provision.TemplatePreview
		if err := decode(r, &in); err != nil {
			return err
		}
		out, err := pv.PreviewTemplate(r.Context(), t, in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"rendered": out})
		return nil
	})
}

func (a *API) writePrefs(w http.ResponseWriter, r *http.Request, p Principal) error {
	t, err := a.lastTenant(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant": t})
	return nil
}

// lastTenant is the tenant the user worked on last, "" when it is unset or
// no longer exists or visible.
func (a *API) lastTenant(ctx context.Context, p Principal) (string, error) {
	t, err := a.st.Pref(ctx, p.User, prefTenant)
	if err != nil || t == "" {
		return "", err
	}
	if !p.Sees(t) {
		return "", nil
	}
	if _, err := a.prov.Tenant(ctx, t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return "", err
	}
	return t, nil
}
