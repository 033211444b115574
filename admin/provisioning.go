package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/switchboard-pbx/switchboard/httpd"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// tenantOf resolves {tenant} ("default" is the single-tenant tenant) for p.
func (a *API) tenantOf(r *http.Request, p Principal) (string, error) {
	return httpapi.TenantOf(r, p, a.prov)
}

// mount adds a CRUD collection (see httpapi.MountCRUD).
func (a *API) mount(base string, global bool, c httpapi.CRUD) {
	httpapi.MountCRUD(a.rt, base, global, a.prov, c)
}

func (a *API) provisioningRoutes() {
	pv := a.prov
	const tb = "/api/v1/tenants/{tenant}"
	a.mount(tb+"/accounts", false, httpapi.CRUD{
		View: func(v any) any { return a.masked(provision.KindAccount, v) },
		List: func(ctx context.Context, t string) (any, error) { return pv.Accounts(ctx, t) },
		Page: func(ctx context.Context, t, q string, lim, off int) (any, int, error) {
			return pv.AccountPage(ctx, t, q, lim, off)
		},
		Get: func(ctx context.Context, t, id string) (any, error) { return pv.Account(ctx, t, id) },
		Save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
			return pv.SaveAccount(ctx, ac, t, id, b)
		},
		Delete: pv.DeleteAccount,
	})
	a.mount(tb+"/devices", false, httpapi.CRUD{
		View: func(v any) any { return a.masked(provision.KindDevice, v) },
		List: func(ctx context.Context, t string) (any, error) {
			l, err := pv.Devices(ctx, t)
			return pv.ViewDevices(t, l), err
		},
		Page: func(ctx context.Context, t, q string, lim, off int) (any, int, error) {
			return pv.DevicePage(ctx, t, q, lim, off)
		},
		Get: func(ctx context.Context, t, id string) (any, error) {
			d, err := pv.Device(ctx, t, id)
			if err != nil {
				return nil, err
			}
			return pv.ViewDevices(t, []provision.Device{d})[0], nil
		},
		Save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
			d, err := pv.SaveDevice(ctx, ac, t, id, b)
			if err != nil {
				return nil, err
			}
			// Answer once the device's file reflects the change.
			pv.WaitRendered(ctx, a.st.Revision()) //nolint:errcheck // ctx ended: answer anyway
			return pv.ViewDevices(t, []provision.Device{d})[0], nil
		},
		Delete: pv.DeleteDevice,
	})
	a.mount(tb+"/placeholders", false, httpapi.CRUD{
		List: func(ctx context.Context, t string) (any, error) { return pv.CustomPlaceholders(ctx, t) },
		Get: func(ctx context.Context, t, id string) (any, error) {
			l, err := pv.CustomPlaceholders(ctx, t)
			for _, x := range l {
				if x.ID == id {
					return x, err
				}
			}
			return nil, store.ErrNotFound
		},
		Save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
			return pv.SavePlaceholder(ctx, ac, t, id, b)
		},
		Delete: pv.DeletePlaceholder,
	})
	for _, global := range []bool{true, false} {
		prefix := tb
		if global {
			prefix = "/api/v1"
		}
		a.mount(prefix+"/templates", global, httpapi.CRUD{
			List: func(ctx context.Context, t string) (any, error) {
				_, ts, err := pv.Catalog(ctx, t)
				return ts, err
			},
			Get: func(ctx context.Context, t, id string) (any, error) {
				_, ts, err := pv.Catalog(ctx, t)
				for _, x := range ts {
					if x.ID == id {
						return x, err
					}
				}
				return nil, store.ErrNotFound
			},
			Save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
				return a.saveWithHint(ctx, t, "template", id, func() (any, string, error) {
					x, err := pv.SaveTemplate(ctx, ac, t, id, b)
					return x, x.ID, err
				})
			},
			Delete: pv.DeleteTemplate,
		})
		a.mount(prefix+"/models", global, httpapi.CRUD{
			List: func(ctx context.Context, t string) (any, error) {
				ms, _, err := pv.Catalog(ctx, t)
				return ms, err
			},
			Get: func(ctx context.Context, t, id string) (any, error) {
				ms, _, err := pv.Catalog(ctx, t)
				for _, x := range ms {
					if x.ID == id {
						return x, err
					}
				}
				return nil, store.ErrNotFound
			},
			Save: func(ctx context.Context, ac store.Actor, t, id string, b json.RawMessage) (any, error) {
				return a.saveWithHint(ctx, t, "model", id, func() (any, string, error) {
					x, err := pv.SaveModel(ctx, ac, t, id, b)
					return x, x.ID, err
				})
			},
			Delete: pv.DeleteModel,
		})
		for _, what := range []string{"templates", "models"} {
			a.route("POST "+prefix+"/"+what+"/{id}/copy", func(w http.ResponseWriter, r *http.Request, p Principal) error {
				t := ""
				var err error
				if global {
					if p.Role != RoleAdmin {
						return errAdminOnly
					}
				} else if t, err = a.tenantOf(r, p); err != nil {
					return err
				}
				var in struct {
					Name string `json:"name"`
				}
				if r.ContentLength != 0 {
					if err := decode(r, &in); err != nil {
						return err
					}
				}
				var v any
				if what == "templates" {
					v, err = pv.CopyTemplate(r.Context(), p.Actor(), t, r.PathValue("id"), in.Name)
				} else {
					v, err = pv.CopyModel(r.Context(), p.Actor(), t, r.PathValue("id"), in.Name)
				}
				if err != nil {
					return err
				}
				writeJSON(w, http.StatusCreated, v)
				return nil
			})
		}
	}
	a.route("GET /api/v1/placeholders", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		writeJSON(w, http.StatusOK, map[string]any{"items": provision.Placeholders})
		return nil
	})
	a.route("GET /api/v1/brands", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		writeJSON(w, http.StatusOK, map[string]any{"items": pv.BuiltinCatalog().Brands})
		return nil
	})
	a.route("GET "+tb+"/pbx", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		s, err := pv.PBX(r.Context(), t)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.masked(provision.KindPBX, s))
		return nil
	})
	a.route("PATCH "+tb+"/pbx", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		body, err := rawObject(r)
		if err != nil {
			return err
		}
		s, err := pv.SetPBX(r.Context(), p.Actor(), t, body)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, a.masked(provision.KindPBX, s))
		return nil
	})
	a.route("POST "+tb+"/devices/{id}/preview", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		var in struct {
			Template string  `json:"template"`
			Body     *string `json:"body"`
		}
		if r.ContentLength != 0 {
			if err := decode(r, &in); err != nil {
				return err
			}
		}
		out, err := pv.Preview(r.Context(), t, r.PathValue("id"), in.Template, in.Body)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"rendered": out})
		return nil
	})
	a.route("POST "+tb+"/devices/{id}/enroll", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		var in provision.EnrollInput
		if r.ContentLength != 0 {
			if err := decode(r, &in); err != nil {
				return err
			}
		}
		d, err := pv.Enroll(r.Context(), p.Actor(), t, r.PathValue("id"), in.Duration())
		if err != nil {
			return err
		}
		a.log.Info("device enrollment window set", "mac", d.MAC, "until", d.Enrollment.Until, "user", p.User, "src", p.IP, "tenant", t)
		// Answer once the bootstrap file reflects it.
		pv.WaitRendered(r.Context(), a.st.Revision()) //nolint:errcheck // ctx ended: answer anyway
		writeJSON(w, http.StatusOK, a.masked(provision.KindDevice, pv.ViewDevices(t, []provision.Device{d})[0]))
		return nil
	})
	a.route("GET "+tb+"/files", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		if r.URL.RawQuery != "" {
			q, lim, off, err := pageParams(r)
			if err != nil {
				return err
			}
			files, total := pv.FilePage(t, q, lim, off)
			writeJSON(w, http.StatusOK, map[string]any{"items": files, "total": total, "limit": lim, "offset": off})
			return nil
		}
		files, _ := pv.Files(t)
		if files == nil {
			files = []*provision.File{}
		}
		httpapi.SortItems(files)
		writeJSON(w, http.StatusOK, map[string]any{"items": files})
		return nil
	})
	a.route("GET "+tb+"/files/{name}", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		f, ok := pv.Lookup(t, r.PathValue("name"))
		if !ok {
			return store.ErrNotFound
		}
		body, err := pv.MaskedBody(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"file": f, "content": string(body)})
		return nil
	})
	a.route("GET "+tb+"/assets", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		l, err := pv.Assets(r.Context(), t)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	})
	a.route("PUT "+tb+"/assets/{name}", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		// Firmware is large and phones' installers upload it over slow links:
		// an authenticated upload gets the long body deadline.
		httpd.ExtendBody(r)
		as, err := pv.PutAsset(r.Context(), p.Actor(), t, r.PathValue("name"), r.Body)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, as)
		return nil
	})
	a.route("DELETE "+tb+"/assets/{name}", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		if err := pv.DeleteAsset(r.Context(), p.Actor(), t, r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	// device-keys.csv: one row per programmable key, the device by MAC.
	for _, what := range []string{"accounts", "devices", "device-keys"} {
		a.route("GET "+tb+"/"+what+".csv", func(w http.ResponseWriter, r *http.Request, p Principal) error {
			t, err := a.tenantOf(r, p)
			if err != nil {
				return err
			}
			q, err := query(r, "secrets")
			if err != nil {
				return err
			}
			// Secrets only when asked for, by a role that may reveal them,
			// and then the export is recorded as a reveal.
			secrets := q["secrets"] == "true"
			if secrets {
				if !p.CanWrite() {
					return errStatus(http.StatusForbidden, "secrets", "your role may not read secrets")
				}
				kind := provision.KindAccount
				if what == "devices" {
					kind = provision.KindDevice
				}
				if err := pv.RevealExport(r.Context(), p.Actor(), t, kind); err != nil {
					return err
				}
				a.log.Info("secrets revealed", "what", what+".csv", "user", p.User, "src", p.IP, "tenant", t)
			} else if v, ok := q["secrets"]; ok && v != "false" {
				return errStatus(http.StatusBadRequest, "secrets", "secrets must be true or false")
			}
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+what+`.csv"`)
			switch what {
			case "accounts":
				return pv.ExportAccounts(r.Context(), t, w, secrets)
			case "device-keys":
				return pv.ExportKeys(r.Context(), t, w)
			}
			return pv.ExportDevices(r.Context(), t, w, secrets)
		})
		a.route("POST "+tb+"/"+what+".csv", func(w http.ResponseWriter, r *http.Request, p Principal) error {
			t, err := a.tenantOf(r, p)
			if err != nil {
				return err
			}
			httpd.ExtendBody(r)
			body := http.MaxBytesReader(w, r.Body, 32<<20)
			var res provision.ImportResult
			switch what {
			case "accounts":
				res, err = pv.ImportAccounts(r.Context(), p.Actor(), t, body)
			case "device-keys":
				res, err = pv.ImportKeys(r.Context(), p.Actor(), t, body)
			default:
				res, err = pv.ImportDevices(r.Context(), p.Actor(), t, body)
			}
			if err != nil {
				return err
			}
			// Answer once the files reflect the import, as a device save does.
			pv.WaitRendered(r.Context(), a.st.Revision()) //nolint:errcheck // ctx ended: answer anyway
			writeJSON(w, http.StatusOK, res)
			return nil
		})
	}
	a.revealRoutes(tb)
	a.route("GET "+tb+"/unknown-devices", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		q, err := query(r, "limit", "offset")
		if err != nil {
			return err
		}
		limit, offset, err := page(q, 100, 1000)
		if err != nil {
			return err
		}
		l, total, err := pv.UnknownDevicesView(r.Context(), t, limit, offset)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": l, "total": total, "limit": limit, "offset": offset})
		return nil
	})
	a.route("POST "+tb+"/unknown-devices/{mac}/adopt", func(w http.ResponseWriter, r *http.Request, p Principal) error {
		t, err := a.tenantOf(r, p)
		if err != nil {
			return err
		}
		body, err := rawObject(r)
		if err != nil {
			return err
		}
		d, err := pv.Adopt(r.Context(), p.Actor(), t, r.PathValue("mac"), body)
		if err != nil {
			return err
		}
		// Answer with the device's file name, which exists once this revision is rendered.
		pv.WaitRendered(r.Context(), a.st.Revision()) //nolint:errcheck // ctx ended: answer anyway
		writeJSON(w, http.StatusCreated, pv.ViewDevices(t, []provision.Device{d})[0])
		return nil
	})
}

// page reads limit (default def, at most max) and offset (default 0).
func page(q map[string]string, def, max int) (limit, offset int, err error) {
	limit = def
	if _, ok := q["limit"]; ok {
		if limit, err = intParam(q, "limit"); err != nil {
			return 0, 0, err
		}
		if limit < 1 || limit > max {
			return 0, 0, errStatus(http.StatusBadRequest, "limit", "limit must be between 1 and %d", max)
		}
	}
	if offset, err = intParam(q, "offset"); err != nil {
		return 0, 0, err
	}
	if offset < 0 {
		return 0, 0, errStatus(http.StatusBadRequest, "offset", "offset must not be negative")
	}
	return limit, offset, nil
}

// masked is v (an object or a list of objects) as JSON with the secret fields
// of the store kind masked: every role reads configuration, and a secret only
// through a reveal.
func (a *API) masked(kind string, v any) any {
	if kind == "" {
		return v
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for i := range list {
			list[i] = a.st.Redact(kind, list[i])
		}
		return list
	}
	return a.st.Redact(kind, raw)
}

// revealRoutes are the explicit, audited ways to read a secret: POST (they
// write an audit row), so the auditor, who may not write, cannot; a tenant
// admin can for its own tenant.
func (a *API) revealRoutes(tb string) {
	pv := a.prov
	reveal := func(pattern, what string, f func(r *http.Request, p Principal, tenant string) (any, error)) {
		a.route("POST "+tb+pattern, func(w http.ResponseWriter, r *http.Request, p Principal) error {
			t, err := a.tenantOf(r, p)
			if err != nil {
				return err
			}
			v, err := f(r, p, t)
			if err != nil {
				return err
			}
			a.log.Info("secrets revealed", "what", what, "user", p.User, "src", p.IP, "tenant", t)
			writeJSON(w, http.StatusOK, v)
			return nil
		})
	}
	reveal("/accounts/{id}/reveal", "sip_password", func(r *http.Request, p Principal, t string) (any, error) {
		pw, err := pv.RevealAccount(r.Context(), p.Actor(), t, r.PathValue("id"))
		return map[string]string{"sip_password": pw}, err
	})
	reveal("/devices/{id}/reveal", "phone_password,provisioning_url", func(r *http.Request, p Principal, t string) (any, error) {
		pw, u, err := pv.RevealDevice(r.Context(), p.Actor(), t, r.PathValue("id"))
		return map[string]string{"phone_password": pw, "provisioning_url": u}, err
	})
	reveal("/pbx/reveal", "http_password,phone_admin_password", func(r *http.Request, p Principal, t string) (any, error) {
		pw, admin, err := pv.RevealPBX(r.Context(), p.Actor(), t)
		return map[string]string{"http_password": pw, "phone_admin_password": admin}, err
	})
	reveal("/files/{name}/reveal", "file", func(r *http.Request, p Principal, t string) (any, error) {
		f, err := pv.RevealFile(r.Context(), p.Actor(), t, r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"file": f, "content": string(f.Body)}, nil
	})
}
