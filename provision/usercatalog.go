package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/switchboard-pbx/switchboard/store"
)

// User models and templates live in the store, global (tenant "*", admins) or in
// one tenant; they are never overwritten by an upgrade, which only replaces the
// read-only built-ins they were copied from.

// UserTemplate is a template object in the store.
type UserTemplate struct {
	Template
	Tenant string `json:"tenant"` // "*" for global
}

// UserModel is a model object in the store.
type UserModel struct {
	Model
	Tenant string `json:"tenant"`
}

func storeTenant(tenant string) string {
	if tenant == "" {
		return globalScope
	}
	return tenant
}

// Catalog returns the models and templates visible in tenant ("" = global only).
func (s *Service) Catalog(ctx context.Context, tenant string) ([]Model, []Template, error) {
	var models []Model
	var templates []Template
	err := s.st.View(ctx, func(tx *store.Tx) error {
		ms, ts, err := s.catalogIn(tx, tenant)
		for _, m := range ms {
			models = append(models, m)
		}
		for _, t := range ts {
			templates = append(templates, t)
		}
		return err
	})
	SortModels(models)
	sortTemplates(templates)
	return models, templates, err
}

func sortTemplates(ts []Template) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Name < ts[j-1].Name; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// customIn reports the custom placeholders defined in tenant.
func customIn(tx *store.Tx, tenant string) (func(string) bool, error) {
	names := map[string]bool{}
	if tenant != "" && tenant != globalScope {
		err := listInto(tx, KindPlaceholder, tenant, func(p Placeholder) { names[p.Name] = true })
		if err != nil {
			return nil, err
		}
	}
	return func(n string) bool { return names[n] }, nil
}

// CheckTemplate validates a template as saving would, for tenant ("" = global,
// where only built-in placeholders exist).
func (s *Service) checkTemplate(tx *store.Tx, t Template, tenant string) error {
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 128 {
		return verr("name", "name must be 1-128 characters")
	}
	if t.Scope != ScopeDevice && t.Scope != ScopeCommon {
		return verr("scope", "scope must be device or common")
	}
	if t.Escape != EscapeNone && t.Escape != EscapeXML {
		return verr("escape", "escape must be none or xml")
	}
	if len(t.Body) > 1<<20 {
		return verr("body", "body is larger than 1 MiB")
	}
	custom, err := customIn(tx, tenant)
	if err != nil {
		return err
	}
	if _, err := Compile(t.Body, KnownFor(t.Scope, custom)); err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			msg := te.Error()
			if t.Scope == ScopeCommon {
				if src, ok := BuiltinPlaceholder(te.Name); ok && src != SourcePBX {
					msg = fmt.Sprintf("line %d: %%%%%s%%%% is a %s placeholder: a common file has no device or account", te.Line, te.Name, src)
				}
			}
			return verr("body", "%s", msg)
		}
		return verr("body", "%v", err)
	}
	return nil
}

// SaveTemplate creates (id "") or updates a user template from a JSON patch.
func (s *Service) SaveTemplate(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (Template, error) {
	var ut UserTemplate
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		create := id == ""
		if create {
			ut = UserTemplate{Template: Template{ID: uuid.NewString(), Scope: ScopeDevice, Escape: EscapeNone, ContentType: "text/plain"}, Tenant: storeTenant(tenant)}
		} else {
			ok, err := tx.Get(KindTemplate, id, &ut)
			if err != nil {
				return err
			}
			if !ok || ut.Tenant != storeTenant(tenant) {
				if s.isBuiltinTemplate(id) {
					return &store.ConflictError{Field: "id", Msg: "built-in templates are read-only: copy it first (POST .../copy)"}
				}
				return store.ErrNotFound
			}
		}
		if err := strictMerge(&ut.Template, patch); err != nil {
			return err
		}
		if !create && ut.ID != id {
			return verr("id", "id cannot be changed")
		}
		ut.BuiltIn, ut.File = false, ""
		if err := s.checkTemplate(tx, ut.Template, tenant); err != nil {
			return err
		}
		if create {
			if s.isBuiltinTemplate(ut.ID) {
				return &store.ConflictError{Field: "id", Msg: "that id belongs to a built-in template"}
			}
			return tx.Create(KindTemplate, ut.Tenant, ut.ID, ut, fmt.Sprintf("template %q created", ut.Name))
		}
		return tx.Replace(KindTemplate, ut.Tenant, ut.ID, ut, fmt.Sprintf("template %q updated", ut.Name))
	})
	return ut.Template, err
}

func (s *Service) isBuiltinTemplate(id string) bool {
	for _, t := range s.builtin.Templates {
		if t.ID == id {
			return true
		}
	}
	return false
}

func (s *Service) isBuiltinModel(id string) bool {
	for _, m := range s.builtin.Models {
		if m.ID == id {
			return true
		}
	}
	return false
}

// CopyTemplate makes an editable copy of any visible template.
func (s *Service) CopyTemplate(ctx context.Context, actor store.Actor, tenant, id, name string) (Template, error) {
	var out Template
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		_, templates, err := s.catalogIn(tx, tenant)
		if err != nil {
			return err
		}
		src, ok := templates[id]
		if !ok {
			return store.ErrNotFound
		}
		ut := UserTemplate{Template: src, Tenant: storeTenant(tenant)}
		ut.ID, ut.BuiltIn, ut.File = uuid.NewString(), false, ""
		ut.Name = name
		if ut.Name == "" {
			ut.Name = src.Name + " (copy)"
		}
		if err := s.checkTemplate(tx, ut.Template, tenant); err != nil {
			return err
		}
		out = ut.Template
		return tx.Create(KindTemplate, ut.Tenant, ut.ID, ut, fmt.Sprintf("template %q copied from %q", ut.Name, src.Name))
	})
	return out, err
}

// DeleteTemplate deletes a user template no model or device uses.
func (s *Service) DeleteTemplate(ctx context.Context, actor store.Actor, tenant, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var ut UserTemplate
		ok, err := tx.Get(KindTemplate, id, &ut)
		if err != nil {
			return err
		}
		if !ok || ut.Tenant != storeTenant(tenant) {
			return store.ErrNotFound
		}
		if err := s.templateUnused(tx, id); err != nil {
			return err
		}
		return tx.Delete(KindTemplate, id, fmt.Sprintf("template %q deleted", ut.Name))
	})
	return err
}

func (s *Service) templateUnused(tx *store.Tx, id string) error {
	if n, err := tx.CountWhere(KindDevice, "template", id); err != nil {
		return err
	} else if n > 0 {
		return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("template is used by %d device(s)", n)}
	}
	if n, err := tx.CountWhere(KindModel, "template", id); err != nil {
		return err
	} else if n > 0 {
		return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("template is the default of %d model(s)", n)}
	}
	return nil
}

// SaveModel creates (id "") or updates a user model from a JSON patch. A
// "firmware" field sets the tenant's target firmware for the model (see
// ModelFirmware): in a tenant, a built-in or global model takes a patch of
// that field alone.
func (s *Service) SaveModel(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (Model, error) {
	var um UserModel
	fw, hasFW, rest, err := splitFirmware(patch)
	if err != nil {
		return Model{}, err
	}
	_, err = s.st.Update(ctx, actor, func(tx *store.Tx) error {
		create := id == ""
		if create {
			um = UserModel{Model: Model{ID: uuid.NewString(), Lines: 1, File: FileRule{MACFormat: MACLower, Suffix: ".cfg"}}, Tenant: storeTenant(tenant)}
		} else {
			ok, err := tx.Get(KindModel, id, &um)
			if err != nil {
				return err
			}
			if !ok || um.Tenant != storeTenant(tenant) {
				if hasFW && tenantScoped(tenant) && string(rest) == "{}" {
					// Only the tenant's firmware of a model it sees but does not own.
					models, _, err := s.catalogIn(tx, tenant)
					if err != nil {
						return err
					}
					m, ok := models[id]
					if !ok {
						return store.ErrNotFound
					}
					um = UserModel{Model: m}
					um.Firmware = fw
					return setFirmware(tx, tenant, m, fw)
				}
				if s.isBuiltinModel(id) {
					return &store.ConflictError{Field: "id", Msg: "built-in models are read-only: copy it first (POST .../copy), or set only its firmware"}
				}
				if ok && tenantScoped(tenant) && um.Tenant == globalScope {
					return &store.ConflictError{Field: "id", Msg: "a global model is changed by an administrator (PATCH /api/v1/models/{id}); a tenant sets only its firmware"}
				}
				return store.ErrNotFound
			}
		}
		if err := strictMerge(&um.Model, rest); err != nil {
			return err
		}
		if !create && um.ID != id {
			return verr("id", "id cannot be changed")
		}
		um.BuiltIn, um.Firmware = false, ""
		if err := s.checkModel(tx, um.Model, tenant); err != nil {
			return err
		}
		if create {
			if s.isBuiltinModel(um.ID) {
				return &store.ConflictError{Field: "id", Msg: "that id belongs to a built-in model"}
			}
			if err := tx.Create(KindModel, um.Tenant, um.ID, um, fmt.Sprintf("model %s %s created", um.Brand, um.Name)); err != nil {
				return err
			}
		} else if err := tx.Replace(KindModel, um.Tenant, um.ID, um, fmt.Sprintf("model %s %s updated", um.Brand, um.Name)); err != nil {
			return err
		}
		if hasFW {
			um.Firmware = fw
			return setFirmware(tx, tenant, um.Model, fw)
		}
		if tenantScoped(tenant) {
			var mf ModelFirmware
			if _, err := tx.Get(KindFirmware, firmwareID(tenant, um.ID), &mf); err != nil {
				return err
			}
			um.Firmware = mf.Asset
		}
		return nil
	})
	return um.Model, err
}

func (s *Service) checkModel(tx *store.Tx, m Model, tenant string) error {
	if strings.TrimSpace(m.Name) == "" || len(m.Name) > 64 {
		return verr("name", "name must be 1-64 characters")
	}
	if strings.TrimSpace(m.Brand) == "" || len(m.Brand) > 64 {
		return verr("brand", "brand must be 1-64 characters")
	}
	if err := m.File.Validate(); err != nil {
		return verr("file", "%v", err)
	}
	if err := m.checkCapabilities(); err != nil {
		return err
	}
	_, templates, err := s.catalogIn(tx, tenant)
	if err != nil {
		return err
	}
	if t, ok := templates[m.Template]; !ok || t.Scope != ScopeDevice {
		return verr("template", "template %q does not exist or is not a device template", m.Template)
	}
	for _, cf := range m.CommonFiles {
		if err := checkFileName(cf.Name, false); err != nil {
			return verr("common_files", "%v", err)
		}
		if t, ok := templates[cf.Template]; !ok || t.Scope != ScopeCommon {
			return verr("common_files", "common file %s: template %q does not exist or is not a common template", cf.Name, cf.Template)
		}
	}
	return nil
}

// CopyModel makes an editable copy of any visible model.
func (s *Service) CopyModel(ctx context.Context, actor store.Actor, tenant, id, name string) (Model, error) {
	var out Model
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		models, _, err := s.catalogIn(tx, tenant)
		if err != nil {
			return err
		}
		src, ok := models[id]
		if !ok {
			return store.ErrNotFound
		}
		um := UserModel{Model: src, Tenant: storeTenant(tenant)}
		um.ID, um.BuiltIn = uuid.NewString(), false
		um.CommonFiles = append([]CommonFile(nil), src.CommonFiles...)
		if name != "" {
			um.Name = name
		} else {
			um.Name = src.Name + " (copy)"
		}
		fw := um.Firmware
		um.Firmware = ""
		if err := tx.Create(KindModel, um.Tenant, um.ID, um, fmt.Sprintf("model %s %s copied from %s", um.Brand, um.Name, src.Name)); err != nil {
			return err
		}
		// The copy keeps the tenant's firmware of the original.
		um.Firmware = fw
		out = um.Model
		return setFirmware(tx, tenant, um.Model, fw)
	})
	return out, err
}

// DeleteModel deletes a user model no device uses.
func (s *Service) DeleteModel(ctx context.Context, actor store.Actor, tenant, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var um UserModel
		ok, err := tx.Get(KindModel, id, &um)
		if err != nil {
			return err
		}
		if !ok || um.Tenant != storeTenant(tenant) {
			return store.ErrNotFound
		}
		if n, err := tx.CountWhere(KindDevice, "model", id); err != nil {
			return err
		} else if n > 0 {
			return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("model is used by %d device(s)", n)}
		}
		if err := dropFirmware(tx, id); err != nil {
			return err
		}
		return tx.Delete(KindModel, id, fmt.Sprintf("model %s %s deleted", um.Brand, um.Name))
	})
	return err
}

// Preview renders a template (a saved one by id, or body) for a device without
// saving anything; secrets are rendered as store.Mask.
func (s *Service) Preview(ctx context.Context, tenant, deviceID, templateID string, body *string) (string, error) {
	var out string
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var d Device
		if err := getIn(tx, KindDevice, tenant, deviceID, &d); err != nil {
			return err
		}
		var t Tenant
		if ok, err := tx.Get(KindTenant, tenant, &t); err != nil || !ok {
			return orNotFound(err)
		}
		pbx, err := getPBX(tx, tenant)
		if err != nil {
			return err
		}
		models, templates, err := s.catalogIn(tx, tenant)
		if err != nil {
			return err
		}
		m, ok := models[d.Model]
		if !ok {
			return verr("device", "the device's model %q does not exist", d.Model)
		}
		var tmpl Template
		switch {
		case body != nil:
			tmpl = Template{Name: "preview", Scope: ScopeDevice, Escape: EscapeNone, Body: *body}
			if tid := d.Template; templateID != "" || tid != "" {
				if templateID == "" {
					templateID = tid
				}
				if base, ok := templates[templateID]; ok {
					tmpl.Escape = base.Escape
				}
			}
		default:
			if templateID == "" {
				templateID = d.Template
			}
			if templateID == "" {
				templateID = m.Template
			}
			if tmpl, ok = templates[templateID]; !ok {
				return verr("template", "template %q does not exist", templateID)
			}
		}
		custom := map[string]string{}
		var places []Placeholder
		if err := listInto(tx, KindPlaceholder, tenant, func(p Placeholder) { places = append(places, p) }); err != nil {
			return err
		}
		for _, p := range places {
			if p.Type == "static" {
				custom[p.Name] = p.Value
			} else {
				custom[p.Name] = s.render.interfaceIPv4(p.Interface)
			}
		}
		c, err := Compile(tmpl.Body, KnownFor(ScopeDevice, func(n string) bool { _, ok := custom[n]; return ok }))
		if err != nil {
			return verr("body", "%v", err)
		}
		vars := s.pbxVars(t, pbx)
		for k, v := range custom {
			vars[k] = v
		}
		accounts, err := lineAccounts(tx, tenant, d)
		if err != nil {
			return err
		}
		mac, _ := ParseMAC(d.MAC)
		// A preview is for checking a template, not for reading secrets (see
		// RevealFile for that).
		for id, a := range accounts {
			if a.SIPPassword != "" {
				a.SIPPassword = store.Mask
				accounts[id] = a
			}
		}
		deviceVars(vars, d, mac, m, pbx, accounts[d.Account], s.brandName(m.Brand))
		if err := firmwareVar(tx, tenant, vars, m); err != nil {
			return err
		}
		for _, k := range secretVars {
			if vars[k] != "" {
				vars[k] = store.Mask
			}
		}
		b, err := c.RenderScope(nil, deviceScope(c, vars, d, m, pbx, accounts), tmpl.Escape)
		if err != nil {
			return verr("body", "%v", err)
		}
		out = string(b)
		return nil
	})
	return out, err
}
