package admin

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// The endpoints the web console needs beyond the CLI's: pages of long lists
// with a search, previews of unsaved devices and templates, the appliance's
// interfaces, the user's preferences and what the appliance runs.

// pageParams reads q, limit and offset (see httpapi.PageParams).
var pageParams = httpapi.PageParams

// prefTenant is the preference key of the tenant the user worked on last.
const prefTenant = "tenant"

// SetFeatures tells GET /status which optional services run (the console shows
// their pages): serve lists the names of its optional components.
func (a *API) SetFeatures(names []string) {
	a.featureMu.Lock()
	defer a.featureMu.Unlock()
	a.features = append([]string(nil), names...)
	sort.Strings(a.features)
}

// Features lists the optional services that are on.
func (a *API) Features() []string {
	a.featureMu.Lock()
	defer a.featureMu.Unlock()
	return append([]string{}, a.features...)
}

func (a *API) consoleRoutes() {
	pv := a.prov
	const tb = "/api/v1/tenants/{tenant}"
	a.route("PUT /api/v1/me/preferences", func(w http.ResponseWriter, r *http.Request, p Principal) error {
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
	a.route("GET /api/v1/me/preferences", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		return a.writePrefs(w, r, p)
	})
	a.route("GET /api/v1/interfaces", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		if _, err := query(r); err != nil {
			return err
		}
		l, err := provision.InterfaceList()
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	})
	a.route("POST "+tb+"/devices/preview", func(w http.ResponseWriter, r *http.Request, p Principal) error {
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
	a.route("POST "+tb+"/templates/preview", func(w http.ResponseWriter, r *http.Request, p Principal) error {
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
