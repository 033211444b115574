package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// ---- users ----

// scopeUser hides users outside a tenant admin's tenant, and keeps tenant admins
// away from admins and auditors.
func scopeUser(p Principal) func(User) error {
	return func(u User) error {
		if !p.Sees(u.Tenant) || (p.Role == RoleTenantAdmin && u.Role != RoleTenantAdmin) {
			return store.ErrNotFound
		}
		return nil
	}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	tenant := ""
	if p.Role == RoleTenantAdmin {
		tenant = p.Tenant
	}
	list, err := a.users.List(r.Context(), tenant)
	if err != nil {
		return err
	}
	httpapi.SortItems(list)
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	u, err := a.users.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := scopeUser(p)(u); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u.view())
	return nil
}

// tenantAdminUserInput confines what a tenant admin may set on users: only other
// tenant admins of its own tenant.
func tenantAdminUserInput(p Principal, in *UserInput) error {
	if p.Role != RoleTenantAdmin {
		return nil
	}
	if in.Role != nil && *in.Role != RoleTenantAdmin {
		return errStatus(http.StatusForbidden, "role", "a tenant admin can only manage tenant_admin users")
	}
	if in.Tenant != nil && *in.Tenant != p.Tenant {
		return errStatus(http.StatusForbidden, "tenant", "a tenant admin can only manage users of its own tenant")
	}
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	var in UserInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := tenantAdminUserInput(p, &in); err != nil {
		return err
	}
	if p.Role == RoleTenantAdmin {
		role, tenant := RoleTenantAdmin, p.Tenant
		in.Role, in.Tenant = &role, &tenant
	}
	v, err := a.users.Create(r.Context(), p.Actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	var in UserInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := tenantAdminUserInput(p, &in); err != nil {
		return err
	}
	v, err := a.users.Update(r.Context(), p.Actor(), r.PathValue("name"), in, scopeUser(p))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.users.Delete(r.Context(), p.Actor(), r.PathValue("name"), scopeUser(p)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) revokeUser(w http.ResponseWriter, r *http.Request, p Principal) error {
	u, err := a.users.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := scopeUser(p)(u); err != nil {
		return err
	}
	n, err := a.st.DeleteUserSessions(r.Context(), u.Username)
	if err != nil {
		return err
	}
	a.log.Info("sessions revoked", "user", u.Username, "count", n, "by", p.User, "src", p.IP)
	writeJSON(w, http.StatusOK, map[string]any{"revoked": n})
	return nil
}

// ---- tenants ----

func (a *API) listTenants(w http.ResponseWriter, r *http.Request, p Principal) error {
	if _, err := query(r); err != nil {
		return err
	}
	list, err := a.prov.Tenants(r.Context())
	if err != nil {
		return err
	}
	counts, err := a.prov.DeviceCounts(r.Context())
	if err != nil {
		return err
	}
	// Each with its number of devices: the console opens on one that has some.
	type tenantItem struct {
		provision.Tenant
		Devices         int    `json:"devices"`
		ProvisioningURL string `json:"provisioning_url"`
	}
	out := []tenantItem{}
	for _, t := range list {
		if p.Sees(t.ID) {
			out = append(out, tenantItem{Tenant: t, Devices: counts[t.ID], ProvisioningURL: a.prov.ProvisioningURL(t.ID)})
		}
	}
	httpapi.SortItems(out)
	writeJSON(w, http.StatusOK, map[string]any{"mode": a.prov.Mode(), "items": out})
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	id := r.PathValue("id")
	if !p.Sees(id) {
		return store.ErrNotFound
	}
	t, err := a.prov.Tenant(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	if p.Role != RoleAdmin {
		return errAdminOnly
	}
	var in provision.TenantInput
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := a.prov.CreateTenant(r.Context(), p.Actor(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	id := r.PathValue("id")
	if !p.Sees(id) {
		return store.ErrNotFound
	}
	var in provision.TenantInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if p.Role != RoleAdmin && in.Enabled != nil {
		return errStatus(http.StatusForbidden, "enabled", "only an admin may enable or disable a tenant")
	}
	t, err := a.prov.UpdateTenant(r.Context(), p.Actor(), id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request, p Principal) error {
	id := r.PathValue("id")
	if !p.Sees(id) {
		return store.ErrNotFound
	}
	if p.Role != RoleAdmin {
		return errAdminOnly
	}
	if err := a.prov.DeleteTenant(r.Context(), p.Actor(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- audit ----

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p Principal) error {
	q, err := query(r, "month", "day", "user", "object_type", "object_id", "action", "columns", "limit", "offset")
	if err != nil {
		return err
	}
	f := store.AuditFilter{Month: q["month"], Day: q["day"], User: q["user"], ObjectType: q["object_type"],
		ObjectID: q["object_id"], Action: q["action"]}
	if f.Limit, err = intParam(q, "limit"); err != nil {
		return err
	}
	if f.Offset, err = intParam(q, "offset"); err != nil {
		return err
	}
	if p.Role == RoleTenantAdmin {
		f.Tenant = p.Tenant
	}
	if err := f.Validate(); err != nil { // fills the default limit the answer reports
		return err
	}
	var cols []string
	if c := q["columns"]; c != "" {
		for _, name := range strings.Split(c, ",") {
			name = strings.TrimSpace(name)
			if !contains(store.AuditColumns, name) {
				return errStatus(http.StatusBadRequest, "columns", "unknown column %q (columns: %s)", name, strings.Join(store.AuditColumns, ", "))
			}
			cols = append(cols, name)
		}
	}
	rows, total, err := a.st.Audit(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]any, 0, len(rows))
	for _, row := range rows {
		if cols == nil {
			items = append(items, row)
			continue
		}
		items = append(items, selectColumns(row, cols))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": total, "limit": f.Limit, "offset": f.Offset, "items": items})
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func selectColumns(row store.AuditRow, cols []string) map[string]json.RawMessage {
	b, _ := json.Marshal(row)
	var all map[string]json.RawMessage
	json.Unmarshal(b, &all) //nolint:errcheck // our own marshalling
	out := make(map[string]json.RawMessage, len(cols))
	for _, c := range cols {
		if v, ok := all[c]; ok {
			out[c] = v
		} else {
			out[c] = json.RawMessage("null")
		}
	}
	return out
}

func auditID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errStatus(http.StatusBadRequest, "id", "audit row id must be a positive integer")
	}
	return id, nil
}

func (a *API) getAudit(w http.ResponseWriter, r *http.Request, p Principal) error {
	id, err := auditID(r)
	if err != nil {
		return err
	}
	row, err := a.st.AuditRowByID(r.Context(), id)
	if err != nil {
		return err
	}
	if !p.Sees(row.Tenant) {
		return store.ErrNotFound
	}
	writeJSON(w, http.StatusOK, row)
	return nil
}

func (a *API) restoreAudit(w http.ResponseWriter, r *http.Request, p Principal) error {
	id, err := auditID(r)
	if err != nil {
		return err
	}
	if p.Role != RoleAdmin {
		if row, err := a.st.AuditRowByID(r.Context(), id); err != nil || !p.Sees(row.Tenant) {
			return store.ErrNotFound
		}
		return errAdminOnly
	}
	rev, err := a.st.Restore(r.Context(), p.Actor(), id)
	if err != nil {
		return err
	}
	a.log.Info("audit restore", "row", id, "user", p.User, "src", p.IP, "revision", rev)
	rows, _, err := a.st.Audit(r.Context(), store.AuditFilter{Limit: 1})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": rev, "audit": rows[0]})
	return nil
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request, p Principal) error {
	if p.Role == RoleTenantAdmin {
		return errAdminOnly
	}
	res, err := a.st.Verify(r.Context())
	if err != nil {
		return err
	}
	if !res.OK {
		a.log.Warn("audit chain verification failed", "problems", len(res.Problems), "first_row", res.Problems[0].Row, "reason", res.Problems[0].Reason)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
