package admin

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

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

// features are the optional services whose API is mounted, by a route prefix
// that only they mount.
var features = []struct{ name, prefix string }{
	{"redirect", "/api/v1/tenants/{tenant}/redirect-servers"},
	{"dhcp", "/api/v1/dhcp/"},
	{"pnp", "/api/v1/pnp"},
	{"cti", "/api/v1/cti/"},
	{"ha", "/api/v1/ha"},
}

// noteFeature records which optional service a mounted route belongs to, so
// that GET /status tells the console which pages to show.
func (a *API) noteFeature(pattern string) {
	_, path, _ := strings.Cut(pattern, " ")
	for _, f := range features {
		if strings.HasPrefix(path, f.prefix) {
			a.featureMu.Lock()
			if a.features == nil {
				a.features = map[string]bool{}
			}
			a.features[f.name] = true
			a.featureMu.Unlock()
		}
	}
}

// Features lists the optional services that are on (their API is mounted).
func (a *API) Features() []string {
	a.featureMu.Lock()
	defer a.featureMu.Unlock()
	out := []string{}
	for name := range a.features {
		out = append(out, name)
	}
	sort.Strings(out)
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
