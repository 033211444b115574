package provision

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/switchboard-pbx/switchboard/store"
)

// Previews render what saving would produce, without saving: the console shows
// a device's file before the device is saved and a template's output as it is
// typed. They go through the same checks as saving, so a preview that works is
// a save that works.

// DevicePreview is the file an unsaved device would get.
type DevicePreview struct {
	// File is the file's name; Body its content ("" when no file would be made).
	File string `json:"file"`
	Body string `json:"body"`
	// Problem says why the phone would not get the file (no linked account: the
	// device is saved disabled; disabled), as device lists say it.
	Problem string `json:"problem,omitempty"`
	// Device is the device as it would be saved (normalized MAC, enabled
	// cleared without an account).
	Device Device `json:"device"`
}

// PreviewDevice applies patch to device id of tenant (a new device when id is
// ""), checks it as saving would and renders its file.
func (s *Service) PreviewDevice(ctx context.Context, tenant, id string, patch json.RawMessage) (DevicePreview, error) {
	var out DevicePreview
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var d Device
		if id == "" {
			if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
				return orNotFound(err)
			}
			d = Device{ID: uuid.NewString(), Tenant: tenant, Enabled: true, IPAddrMode: "dhcp"}
		} else if err := getIn(tx, KindDevice, tenant, id, &d); err != nil {
			return err
		}
		if err := mergeDevice(&d, patch); err != nil {
			return err
		}
		if id != "" && d.ID != id {
			return verr("id", "id cannot be changed")
		}
		d.Tenant = tenant
		if err := s.checkDevice(tx, &d); err != nil {
			return err
		}
		out.Device = d
		vars, m, err := s.previewVars(tx, tenant, ScopeDevice)
		if err != nil {
			return err
		}
		model := m[d.Model]
		mac, _ := ParseMAC(d.MAC)
		out.File = model.File.Name(mac)
		if d.Account == "" {
			out.Problem = "no linked account: no file is generated"
			return nil
		}
		accounts, err := lineAccounts(tx, tenant, d)
		if err != nil {
			return err
		}
		if !d.Enabled {
			out.Problem = "disabled"
		}
		tid := d.Template
		if tid == "" {
			tid = model.Template
		}
		_, templates, err := s.catalogIn(tx, tenant)
		if err != nil {
			return err
		}
		t, ok := templates[tid]
		if !ok {
			return verr("template", "template %q does not exist", tid)
		}
		c, err := Compile(t.Body, KnownFor(ScopeDevice, knownVars(vars)))
		if err != nil {
			return verr("template", "template %q: %v", t.Name, err)
		}
		pbx := s.pbxOf(tx, tenant)
		deviceVars(vars, d, mac, model, pbx, accounts[d.Account], s.brandName(model.Brand))
		if err := firmwareVar(tx, tenant, vars, model); err != nil {
			return err
		}
		b, err := c.RenderScope(nil, deviceScope(c, vars, d, model, pbx, accounts), t.Escape)
		if err != nil {
			return verr("template", "template %q: %v", t.Name, err)
		}
		out.Body = string(b)
		return nil
	})
	return out, err
}

// lineAccounts loads the accounts on d's lines (and its linked one, line
// 1's, for a device saved before lines), by id; a deleted one is left out.
func lineAccounts(tx *store.Tx, tenant string, d Device) (map[string]Account, error) {
	accounts := map[string]Account{}
	for _, id := range d.accountIDs() {
		var a Account
		if err := getIn(tx, KindAccount, tenant, id, &a); err == nil {
			accounts[id] = a
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return accounts, nil
}

// TemplatePreview is an unsaved template to render.
type TemplatePreview struct {
	Body string `json:"body"`
	// Scope is device (rendered for Device) or common (tenant-wide values only).
	Scope  string `json:"scope"`
	Escape string `json:"escape"`
	// Device is the id of the tenant's device to render a device template for.
	Device string `json:"device"`
}

// PreviewTemplate renders an unsaved template body in tenant: for one of its
// devices (device scope) or with the tenant's values alone (common scope). An
// unknown placeholder is a validation error of "body" naming its line.
func (s *Service) PreviewTemplate(ctx context.Context, tenant string, in TemplatePreview) (string, error) {
	if in.Scope == "" {
		in.Scope = ScopeDevice
	}
	if in.Scope != ScopeDevice && in.Scope != ScopeCommon {
		return "", verr("scope", "scope must be device or common")
	}
	if in.Escape == "" {
		in.Escape = EscapeNone
	}
	if in.Escape != EscapeNone && in.Escape != EscapeXML {
		return "", verr("escape", "escape must be none or xml")
	}
	if len(in.Body) > 1<<20 {
		return "", verr("body", "body is larger than 1 MiB")
	}
	var out string
	err := s.st.View(ctx, func(tx *store.Tx) error {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return orNotFound(err)
		}
		vars, models, err := s.previewVars(tx, tenant, in.Scope)
		if err != nil {
			return err
		}
		c, err := Compile(in.Body, KnownFor(in.Scope, knownVars(vars)))
		if err != nil {
			var te *TemplateError
			if errors.As(err, &te) && in.Scope == ScopeCommon {
				if src, ok := BuiltinPlaceholder(te.Name); ok && src != SourcePBX {
					return verr("body", "line %d: %%%%%s%%%% is a %s placeholder: a common file has no device or account", te.Line, te.Name, src)
				}
			}
			return verr("body", "%v", err)
		}
		sc := &Scope{Vars: vars}
		if in.Scope == ScopeDevice {
			if in.Device == "" {
				return verr("device", "choose a device to render a device template for")
			}
			var d Device
			if err := getIn(tx, KindDevice, tenant, in.Device, &d); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return verr("device", "device %q does not exist in this tenant", in.Device)
				}
				return err
			}
			m, ok := models[d.Model]
			if !ok {
				return verr("device", "the device's model %q does not exist", d.Model)
			}
			accounts, err := lineAccounts(tx, tenant, d)
			if err != nil {
				return err
			}
			mac, _ := ParseMAC(d.MAC)
			pbx := s.pbxOf(tx, tenant)
			deviceVars(vars, d, mac, m, pbx, accounts[d.Account], s.brandName(m.Brand))
			if err := firmwareVar(tx, tenant, vars, m); err != nil {
				return err
			}
			sc = deviceScope(c, vars, d, m, pbx, accounts)
		}
		b, err := c.RenderScope(nil, sc, in.Escape)
		if err != nil {
			return verr("body", "%v", err)
		}
		out = string(b)
		return nil
	})
	return out, err
}

// previewVars are the tenant-wide values (PBX settings and custom
// placeholders, dynamic ones read from their interface now) and the models.
func (s *Service) previewVars(tx *store.Tx, tenant, scope string) (map[string]string, map[string]Model, error) {
	var t Tenant
	if ok, err := tx.Get(KindTenant, tenant, &t); err != nil || !ok {
		return nil, nil, orNotFound(err)
	}
	pbx, err := getPBX(tx, tenant)
	if err != nil {
		return nil, nil, err
	}
	vars := s.pbxVars(t, pbx)
	err = listInto(tx, KindPlaceholder, tenant, func(p Placeholder) {
		if p.Type == "static" {
			vars[p.Name] = p.Value
		} else {
			vars[p.Name] = s.render.interfaceIPv4(p.Interface)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	models, _, err := s.catalogIn(tx, tenant)
	return vars, models, err
}

// pbxOf is the tenant's PBX settings (defaults on a read error, which the
// caller's own reads would have reported).
func (s *Service) pbxOf(tx *store.Tx, tenant string) PBXSettings {
	p, _ := getPBX(tx, tenant)
	return p
}

// knownVars says which custom placeholders exist: those with a value in vars
// (custom names start with "_").
func knownVars(vars map[string]string) func(string) bool {
	return func(n string) bool {
		_, ok := vars[n]
		return ok && strings.HasPrefix(n, "_")
	}
}
