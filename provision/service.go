package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

// WaitRendered blocks until the provisioning files reflect revision rev, which
// must reach the service through Commit (as every commit does in serve).
func (s *Service) WaitRendered(ctx context.Context, rev int64) error {
	return s.render.waitRendered(ctx, rev)
}

// RenderedRevision is the newest store revision the files reflect.
func (s *Service) RenderedRevision() int64 {
	s.render.dirtyMu.Lock()
	defer s.render.dirtyMu.Unlock()
	return s.render.doneRev
}

// Lookup returns the rendered file name of tenant.
func (s *Service) Lookup(tenant, name string) (*File, bool) { return s.render.lookup(tenant, name) }

// Files lists a tenant's rendered files and, per device id, why a device has none.
func (s *Service) Files(tenant string) ([]*File, map[string]string) { return s.render.list(tenant) }

// BuiltinCatalog is the catalog shipped in the binary.
func (s *Service) BuiltinCatalog() Catalog { return s.builtin }

func (s *Service) registerKinds() {
	decodeCheck := func(kind string, validate func(tx *store.Tx, id string, raw json.RawMessage) error) store.Kind {
		return store.Kind{Name: kind, Check: func(tx *store.Tx, id string, raw json.RawMessage) error {
			if raw == nil {
				return s.checkDelete(tx, kind, id)
			}
			return validate(tx, id, raw)
		}}
	}
	acc := decodeCheck(KindAccount, func(tx *store.Tx, id string, raw json.RawMessage) error {
		var a Account
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		return a.Validate()
	})
	acc.Secrets = []string{"sip_password"}
	acc.Unique = map[string]string{"objects_account_extension": "extension", "objects_account_sip_username": "sip_username"}
	dev := decodeCheck(KindDevice, func(tx *store.Tx, id string, raw json.RawMessage) error {
		var d Device
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		return s.checkDevice(tx, &d)
	})
	dev.Secrets = []string{"phone_password", "url_token"}
	dev.Unique = map[string]string{"objects_device_mac": "mac"}
	ph := decodeCheck(KindPlaceholder, func(tx *store.Tx, id string, raw json.RawMessage) error {
		var p Placeholder
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		return p.Validate()
	})
	ph.Unique = map[string]string{"objects_placeholder_name": "name"}
	pbx := decodeCheck(KindPBX, func(tx *store.Tx, id string, raw json.RawMessage) error {
		var p PBXSettings
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		return p.Validate()
	})
	pbx.Secrets = []string{"http_password", "phone_admin_password"}
	tmpl := decodeCheck(KindTemplate, func(tx *store.Tx, id string, raw json.RawMessage) error {
		var t UserTemplate
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		tenant := t.Tenant
		if tenant == globalScope {
			tenant = ""
		}
		return s.checkTemplate(tx, t.Template, tenant)
	})
	model := decodeCheck(KindModel, func(tx *store.Tx, id string, raw json.RawMessage) error {
		var m UserModel
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		tenant := m.Tenant
		if tenant == globalScope {
			tenant = ""
		}
		return s.checkModel(tx, m.Model, tenant)
	})
	asset := store.Kind{Name: KindAsset}
	for _, k := range []store.Kind{acc, dev, ph, pbx, tmpl, model, asset} {
		s.st.Register(k)
	}
}

// checkDelete refuses deleting what others still use.
func (s *Service) checkDelete(tx *store.Tx, kind, id string) error {
	switch kind {
	case KindTemplate:
		return s.templateUnused(tx, id)
	case KindModel:
		if n, err := tx.CountWhere(KindDevice, "model", id); err != nil {
			return err
		} else if n > 0 {
			return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("model is used by %d device(s)", n)}
		}
	case KindAccount:
		var a Account
		if ok, err := tx.Get(KindAccount, id, &a); err != nil || !ok {
			return err
		}
		var macs []string
		err := listInto(tx, KindDevice, a.Tenant, func(d Device) {
			for _, l := range d.Lines {
				if l.Account == id {
					macs = append(macs, d.MAC)
					break
				}
			}
		})
		if err != nil {
			return err
		}
		if n := len(macs); n > 0 {
			sort.Strings(macs)
			if n > 10 {
				macs = append(macs[:10], "...")
			}
			return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("the account is linked to %d device(s) (%s), on one of their lines: take it off (set their account to none) or delete them first",
				n, strings.Join(macs, ", "))}
		}
	}
	return nil
}

// ---- PBX settings ----

func getPBX(tx *store.Tx, tenant string) (PBXSettings, error) {
	p := DefaultPBXSettings()
	// Settings stored before secret URLs existed have no secure_urls: those
	// tenants keep serving device files by name.
	p.SecureURLs = false
	ok, err := tx.Get(KindPBX, tenant, &p)
	if !ok {
		p.SecureURLs = true
	}
	return p, err
}

// PBX returns a tenant's PBX settings (defaults until first saved).
func (s *Service) PBX(ctx context.Context, tenant string) (PBXSettings, error) {
	var p PBXSettings
	err := s.st.View(ctx, func(tx *store.Tx) error {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return orNotFound(err)
		}
		var err error
		p, err = getPBX(tx, tenant)
		return err
	})
	return p, err
}

func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return store.ErrNotFound
}

// SetPBX replaces a tenant's PBX settings; patch is applied as JSON over the current ones.
func (s *Service) SetPBX(ctx context.Context, actor store.Actor, tenant string, patch json.RawMessage) (PBXSettings, error) {
	var p PBXSettings
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return orNotFound(err)
		}
		var err error
		if p, err = getPBX(tx, tenant); err != nil {
			return err
		}
		if p.PhoneAdminPassword == "" {
			p.PhoneAdminPassword = GeneratePassword(phoneAdminPasswordLength)
		}
		had := p.SIPServer
		if err := strictMerge(&p, keepMasked(patch, "http_password", "phone_admin_password")); err != nil {
			return err
		}
		if had != "" && p.SIPServer == "" {
			if n, err := tx.Count(KindDevice, tenant); err != nil {
				return err
			} else if n > 0 {
				return verr("sip_server", "sip_server is required: the tenant's %d device(s) register to it", n)
			}
		}
		if err := p.Validate(); err != nil {
			return err
		}
		ok, err := tx.Get(KindPBX, tenant, &PBXSettings{})
		if err != nil {
			return err
		}
		if !ok {
			return tx.Create(KindPBX, tenant, tenant, p, "PBX settings saved")
		}
		return tx.Replace(KindPBX, tenant, tenant, p, "PBX settings changed")
	})
	return p, err
}

// phoneAdminPasswordLength is the length of generated phone admin passwords:
// about 95 bits, typed on a keypad in a minute.
const phoneAdminPasswordLength = 16

// ensurePBX gives a tenant stored PBX settings with a phone admin password:
// new tenants get them with the tenant, older ones at start-up (an audited
// change, replicated like any other). An older tenant (old) without stored
// settings gets them with secure URLs off: its phones know no token.
func ensurePBX(tx *store.Tx, tenant string, old bool) error {
	var p PBXSettings
	ok, err := tx.Get(KindPBX, tenant, &p)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		p = DefaultPBXSettings()
		p.SecureURLs = !old
		p.PhoneAdminPassword = GeneratePassword(phoneAdminPasswordLength)
		return tx.Create(KindPBX, tenant, tenant, p, "PBX settings created with a generated phone admin password")
	case p.PhoneAdminPassword == "":
		p.PhoneAdminPassword = GeneratePassword(phoneAdminPasswordLength)
		return tx.Replace(KindPBX, tenant, tenant, p, "phone admin password generated")
	}
	return nil
}

// ensureTokens gives every device of tenant that has none (saved before
// secret URLs existed) its url_token: an audited change, replicated like any
// other.
func ensureTokens(tx *store.Tx, tenant string) error {
	var missing []Device
	if err := listInto(tx, KindDevice, tenant, func(d Device) {
		if d.URLToken == "" {
			missing = append(missing, d)
		}
	}); err != nil {
		return err
	}
	for _, d := range missing {
		d.URLToken = NewURLToken()
		if err := tx.Replace(KindDevice, tenant, d.ID, d, fmt.Sprintf("device %s: secret URL issued", d.MAC)); err != nil {
			return err
		}
	}
	return nil
}

// strictMerge decodes a JSON object over v, refusing unknown fields.
func strictMerge(v any, patch json.RawMessage) error {
	dec := json.NewDecoder(strings.NewReader(string(patch)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return verr(te.Field, "field %q must be %s", te.Field, te.Type)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return verr(f, "unknown field %q", f)
		}
		return verr("", "bad JSON: %v", err)
	}
	return nil
}

// ---- catalog visible to a tenant ----

// catalogIn is the built-in catalog plus the user's models and templates that are
// global or belong to tenant.
func (s *Service) catalogIn(tx *store.Tx, tenant string) (map[string]Model, map[string]Template, error) {
	models := make(map[string]Model, len(s.builtin.Models))
	templates := make(map[string]Template, len(s.builtin.Templates))
	for _, m := range s.builtin.Models {
		models[m.ID] = m
	}
	for _, t := range s.builtin.Templates {
		templates[t.ID] = t
	}
	for _, scope := range []string{"", tenant} {
		if scope == "" {
			scope = globalScope
		}
		if err := listInto(tx, KindModel, scope, func(m Model) { models[m.ID] = m }); err != nil {
			return nil, nil, err
		}
		if err := listInto(tx, KindTemplate, scope, func(t Template) { templates[t.ID] = t }); err != nil {
			return nil, nil, err
		}
	}
	if err := overlayFirmware(tx, tenant, models); err != nil {
		return nil, nil, err
	}
	return models, templates, nil
}

// globalScope is the store tenant of user models and templates every tenant sees.
const globalScope = "*"

func (s *Service) brandName(id string) string {
	for _, b := range s.builtin.Brands {
		if b.ID == id {
			return b.Name
		}
	}
	return id
}

// ---- accounts ----

// Accounts lists a tenant's accounts.
func (s *Service) Accounts(ctx context.Context, tenant string) ([]Account, error) {
	out := []Account{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return listInto(tx, KindAccount, tenant, func(a Account) { out = append(out, a) })
	})
	return out, err
}

// Account returns one account of tenant.
func (s *Service) Account(ctx context.Context, tenant, id string) (Account, error) {
	var a Account
	err := s.st.View(ctx, func(tx *store.Tx) error { return getIn(tx, KindAccount, tenant, id, &a) })
	return a, err
}

// getIn loads an object that must belong to tenant; another tenant's is not found.
func getIn(tx *store.Tx, kind, tenant, id string, v interface{ tenantID() string }) error {
	ok, err := tx.Get(kind, id, v)
	if err != nil {
		return err
	}
	if !ok || v.tenantID() != tenant {
		return store.ErrNotFound
	}
	if d, ok := v.(*Device); ok {
		d.normalize()
	}
	return nil
}

func (a *Account) tenantID() string     { return a.Tenant }
func (d *Device) tenantID() string      { return d.Tenant }
func (p *Placeholder) tenantID() string { return p.Tenant }

// SaveAccount creates (id "") or updates an account from a JSON patch.
func (s *Service) SaveAccount(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (Account, error) {
	var a Account
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var err error
		a, err = s.saveAccount(tx, tenant, id, patch)
		return err
	})
	return a, err
}

func (s *Service) saveAccount(tx *store.Tx, tenant, id string, patch json.RawMessage) (Account, error) {
	var a Account
	create := id == ""
	if create {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return a, orNotFound(err)
		}
		a = Account{ID: uuid.NewString(), Tenant: tenant}
	} else if err := getIn(tx, KindAccount, tenant, id, &a); err != nil {
		return a, err
	}
	if err := strictMerge(&a, keepMasked(patch, "sip_password")); err != nil {
		return a, err
	}
	if create && a.ID != "" {
		if _, err := uuid.Parse(a.ID); err != nil {
			return a, verr("id", "id must be a UUID")
		}
	}
	if !create && a.ID != id {
		return a, verr("id", "id cannot be changed")
	}
	a.Tenant = tenant
	if a.SIPUsername == "" {
		a.SIPUsername = a.Extension
	}
	if err := a.Validate(); err != nil {
		return a, err
	}
	if create {
		err := tx.Create(KindAccount, tenant, a.ID, a, fmt.Sprintf("account %s created", a.Extension))
		if errors.Is(err, store.ErrExists) {
			return a, &store.ConflictError{Field: "id", Msg: "an account with this id exists"}
		}
		return a, err
	}
	return a, tx.Replace(KindAccount, tenant, a.ID, a, fmt.Sprintf("account %s updated", a.Extension))
}

// DeleteAccount deletes an account no device links to.
func (s *Service) DeleteAccount(ctx context.Context, actor store.Actor, tenant, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var a Account
		if err := getIn(tx, KindAccount, tenant, id, &a); err != nil {
			return err
		}
		if err := s.checkDelete(tx, KindAccount, id); err != nil {
			return err
		}
		return tx.Delete(KindAccount, id, fmt.Sprintf("account %s deleted", a.Extension))
	})
	return err
}

// ---- devices ----

// DeviceView is a device with its provisioning state.
type DeviceView struct {
	Device
	// File is the generated file's name; Problem says why there is none.
	File    string `json:"file,omitempty"`
	Problem string `json:"problem,omitempty"`
	// Redirect is the vendor redirection status (read-only), when there is one.
	Redirect any `json:"redirect,omitempty"`
	// Warnings say what is wrong with the file though it is served (the PBX
	// settings have no sip_server, ...), with the field to fix.
	Warnings []Warning `json:"warnings,omitempty"`
	// EnrollState is the enrollment state now (Enrollment.State): open
	// (awaiting enrollment), claimed or closed.
	EnrollState string `json:"enroll_state"`
}

// Devices lists a tenant's devices.
func (s *Service) Devices(ctx context.Context, tenant string) ([]Device, error) {
	out := []Device{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return listInto(tx, KindDevice, tenant, func(d Device) { out = append(out, d) })
	})
	return out, err
}

// Device returns one device of tenant.
func (s *Service) Device(ctx context.Context, tenant, id string) (Device, error) {
	var d Device
	err := s.st.View(ctx, func(tx *store.Tx) error { return getIn(tx, KindDevice, tenant, id, &d) })
	return d, err
}

// DeviceByMAC finds a tenant's device by MAC (any accepted format).
func (s *Service) DeviceByMAC(ctx context.Context, tenant, mac string) (Device, error) {
	m, err := ParseMAC(mac)
	if err != nil {
		return Device{}, verr("mac", "%v", err)
	}
	var found Device
	err = s.st.View(ctx, func(tx *store.Tx) error {
		return listInto(tx, KindDevice, tenant, func(d Device) {
			if d.MAC == m.String() {
				found = d
			}
		})
	})
	if err == nil && found.ID == "" {
		err = store.ErrNotFound
	}
	return found, err
}

// checkDevice normalizes and validates a device and its references.
func (s *Service) checkDevice(tx *store.Tx, d *Device) error {
	if m, err := ParseMAC(d.MAC); err == nil {
		d.MAC = m.String()
	}
	if d.IPAddrMode == "" {
		d.IPAddrMode = "dhcp"
	}
	d.normalize()
	placeKeys(d.Keys)
	if d.Lines == nil {
		d.Lines = []DeviceLine{}
	}
	if d.Keys == nil {
		d.Keys = []Key{}
	}
	// KalliopePBX's rule: without a linked account there is no file, and the
	// device is saved disabled.
	if d.Account == "" {
		d.Enabled = false
	}
	if err := d.Validate(); err != nil {
		return err
	}
	models, templates, err := s.catalogIn(tx, d.Tenant)
	if err != nil {
		return err
	}
	if _, ok := models[d.Model]; !ok {
		return verr("model", "model %q does not exist%s (the models: GET /api/v1/models, switchboard catalog models)", d.Model, closestModel(models, d.Model))
	}
	if d.Template != "" {
		t, ok := templates[d.Template]
		if !ok || t.Scope != ScopeDevice {
			return verr("template", "template %q does not exist or is not a device template", d.Template)
		}
	}
	if err := models[d.Model].checkDevice(d); err != nil {
		return err
	}
	for i, l := range d.Lines {
		var a Account
		if err := getIn(tx, KindAccount, d.Tenant, l.Account, &a); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if i == 0 {
				return verr("account", "account %q does not exist in this tenant", l.Account)
			}
			return verr("lines", "line %d: account %q does not exist in this tenant", i+1, l.Account)
		}
	}
	for _, check := range s.deviceChecks {
		if err := check(tx, d); err != nil {
			return err
		}
	}
	return nil
}

// AddDeviceCheck adds a rule every saved or restored device must pass, for
// references that belong to other packages (redirect checks redirect_server).
func (s *Service) AddDeviceCheck(f func(tx *store.Tx, d *Device) error) {
	s.deviceChecks = append(s.deviceChecks, f)
}

// SetDeviceStatus adds a read-only status to device views (redirect's
// "provisioned on redirection server"); f returns nil when it has none.
func (s *Service) SetDeviceStatus(f func(d Device) any) { s.deviceStatus = f }

// ProvisioningURL is the URL of tenant's provisioning tree, as phones reach it.
func (s *Service) ProvisioningURL(tenant string) string {
	return provisioningURL(s.cfg.BaseURL, tenant, s.cfg.Mode == ModeMulti)
}

// SaveDevice creates (id "") or updates a device from a JSON patch.
func (s *Service) SaveDevice(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (Device, error) {
	var d Device
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var err error
		d, err = s.saveDevice(tx, tenant, id, patch)
		return err
	})
	return d, err
}

func (s *Service) saveDevice(tx *store.Tx, tenant, id string, patch json.RawMessage) (Device, error) {
	var d Device
	create := id == ""
	if create {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return d, orNotFound(err)
		}
		d = Device{ID: uuid.NewString(), Tenant: tenant, Enabled: true, IPAddrMode: "dhcp", Created: time.Now().UTC().Truncate(time.Second)}
	} else if err := getIn(tx, KindDevice, tenant, id, &d); err != nil {
		return d, err
	}
	token, enrollment := d.URLToken, d.Enrollment
	if err := mergeDevice(&d, keepMasked(patch, "phone_password", "url_token")); err != nil {
		return d, err
	}
	// The enrollment is the daemon's: what a client sends back is ignored.
	d.Enrollment = enrollment
	switch {
	case d.URLToken == "":
		// A new device, or a new URL asked for: the phone needs the new
		// directory, so the bootstrap file may hand it out for a while.
		d.URLToken = NewURLToken()
		pbx, err := getPBX(tx, tenant)
		if err != nil {
			return d, err
		}
		openEnrollment(&d, pbx)
	case d.URLToken != token:
		return d, verr("url_token", "url_token is generated: send \"\" for a new one")
	}
	if !create && d.ID != id {
		return d, verr("id", "id cannot be changed")
	}
	if create {
		if _, err := uuid.Parse(d.ID); err != nil {
			return d, verr("id", "id must be a UUID")
		}
	}
	d.Tenant = tenant
	if err := s.checkDevice(tx, &d); err != nil {
		return d, err
	}
	desc := fmt.Sprintf("device %s (%s)", d.MAC, d.Model)
	if err := tx.ForgetUnknown(tenant, d.MAC); err != nil {
		return d, err
	}
	if create {
		err := tx.Create(KindDevice, tenant, d.ID, d, desc+" created")
		if errors.Is(err, store.ErrExists) {
			return d, &store.ConflictError{Field: "id", Msg: "a device with this id exists"}
		}
		return d, err
	}
	return d, tx.Replace(KindDevice, tenant, d.ID, d, desc+" updated")
}

// mergeDevice applies a JSON patch to a device. "lines" replaces the lines and
// sets the account (line 1's); "account" alone replaces line 1's account, or
// with "" removes the only line. "keys" replaces the keys.
func mergeDevice(d *Device, patch json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil {
		return verr("", "bad JSON: %v", err)
	}
	_, hasLines := fields["lines"]
	_, hasAccount := fields["account"]
	_, hasKeys := fields["keys"]
	prev := slices.Clone(d.Lines)
	// Decoding an array into a slice reuses its elements, which would keep
	// the fields the patch leaves out: start from nothing.
	if hasLines {
		d.Lines = nil
	}
	if hasKeys {
		d.Keys = nil
	}
	if err := strictMerge(d, patch); err != nil {
		return err
	}
	switch {
	case hasLines:
		first := ""
		if len(d.Lines) > 0 {
			first = d.Lines[0].Account
		}
		if hasAccount && d.Account != first {
			return verr("account", "account and the account of lines[0] differ: send one of them")
		}
		d.Account = first
	case hasAccount && d.Account == "":
		if len(prev) > 1 {
			return verr("account", "the device has %d lines: send lines to take them off", len(prev))
		}
		d.Lines = nil
	case hasAccount:
		d.Lines = prev
		if len(d.Lines) == 0 {
			d.Lines = []DeviceLine{{}}
		}
		d.Lines[0].Account = d.Account
	}
	return nil
}

// DeleteDevice deletes a device.
func (s *Service) DeleteDevice(ctx context.Context, actor store.Actor, tenant, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var d Device
		if err := getIn(tx, KindDevice, tenant, id, &d); err != nil {
			return err
		}
		return tx.Delete(KindDevice, id, fmt.Sprintf("device %s deleted", d.MAC))
	})
	return err
}

// ViewDevices adds each device's file name or problem.
func (s *Service) ViewDevices(tenant string, list []Device) []DeviceView {
	byDevice, problems, warnings := s.render.deviceFiles(tenant, list)
	out := make([]DeviceView, len(list))
	now := time.Now()
	for i, d := range list {
		// Hand-outs are kept in memory (and the audit log), not on the device.
		if en, ok := s.enroll.get(d.ID); ok && d.Enrollment.ClaimedAt.IsZero() && en.HandedTo != "" {
			d.Enrollment.HandedTo, d.Enrollment.HandedAt = en.HandedTo, en.HandedAt
		}
		out[i] = DeviceView{Device: d, File: byDevice[d.ID], Problem: problems[d.ID], EnrollState: d.Enrollment.State(now)}
		if out[i].File != "" {
			out[i].Warnings = warnings
		}
		if s.deviceStatus != nil {
			if st := s.deviceStatus(d); st != nil {
				out[i].Redirect = st
			}
		}
	}
	return out
}

// ---- custom placeholders ----

// CustomPlaceholders lists a tenant's custom placeholders.
func (s *Service) CustomPlaceholders(ctx context.Context, tenant string) ([]Placeholder, error) {
	out := []Placeholder{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return listInto(tx, KindPlaceholder, tenant, func(p Placeholder) { out = append(out, p) })
	})
	return out, err
}

// SavePlaceholder creates (id "") or updates a custom placeholder.
func (s *Service) SavePlaceholder(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (Placeholder, error) {
	var p Placeholder
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		create := id == ""
		if create {
			if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
				return orNotFound(err)
			}
			p = Placeholder{ID: uuid.NewString(), Tenant: tenant, Type: "static"}
		} else if err := getIn(tx, KindPlaceholder, tenant, id, &p); err != nil {
			return err
		}
		old := p.Name
		if err := strictMerge(&p, patch); err != nil {
			return err
		}
		if p.ID != id && !create {
			return verr("id", "id cannot be changed")
		}
		p.Tenant = tenant
		if err := p.Validate(); err != nil {
			return err
		}
		if !create && old != p.Name {
			if err := s.placeholderUnused(tx, tenant, old); err != nil {
				return err
			}
		}
		if create {
			return tx.Create(KindPlaceholder, tenant, p.ID, p, fmt.Sprintf("placeholder %%%%%s%%%% created", p.Name))
		}
		return tx.Replace(KindPlaceholder, tenant, p.ID, p, fmt.Sprintf("placeholder %%%%%s%%%% updated", p.Name))
	})
	return p, err
}

// placeholderUnused refuses removing a custom placeholder a template still uses.
func (s *Service) placeholderUnused(tx *store.Tx, tenant, name string) error {
	_, templates, err := s.catalogIn(tx, tenant)
	if err != nil {
		return err
	}
	for _, t := range templates {
		if c, err := Compile(t.Body, func(string) bool { return true }); err == nil && c.Uses(name) {
			return &store.ConflictError{Field: "name", Msg: fmt.Sprintf("placeholder %%%%%s%%%% is used by template %q", name, t.Name)}
		}
	}
	return nil
}

// DeletePlaceholder deletes a custom placeholder no template uses.
func (s *Service) DeletePlaceholder(ctx context.Context, actor store.Actor, tenant, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var p Placeholder
		if err := getIn(tx, KindPlaceholder, tenant, id, &p); err != nil {
			return err
		}
		if err := s.placeholderUnused(tx, tenant, p.Name); err != nil {
			return err
		}
		return tx.Delete(KindPlaceholder, id, fmt.Sprintf("placeholder %%%%%s%%%% deleted", p.Name))
	})
	return err
}

// ---- seen, not configured ----

type sighting struct {
	tenant, mac, ip, ua, file string
	at                        time.Time
}

// SeeUnknown queues a sighting of an unconfigured device; it never blocks the
// request that saw it (a full queue drops the sighting).
func (s *Service) SeeUnknown(tenant, mac, ip, userAgent, file string) {
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	select {
	case s.sightings <- sighting{tenant, mac, ip, userAgent, file, time.Now()}:
	default:
	}
}

// recordSightings writes the queued sightings, within the list's bounds: a
// budget of new phones shared by all sources, the per-tenant cap and the
// expiry (applied at start and every hour; listings leave expired phones out
// in between).
func (s *Service) recordSightings(ctx context.Context) {
	newPhones := ratelimit.New(s.cfg.UnknownNewBurst, s.cfg.UnknownNewInterval)
	expire := time.NewTicker(time.Hour)
	defer expire.Stop()
	s.expireUnknown(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-expire.C:
			s.expireUnknown(ctx)
		case x := <-s.sightings:
			allowNew := newPhones.Wait("") == 0
			u := store.UnknownDevice{Tenant: x.tenant, MAC: x.mac, IP: x.ip, UserAgent: x.ua, File: x.file, LastSeen: x.at}
			added, err := s.st.RecordUnknown(ctx, u, s.cfg.UnknownMaxPerTenant, allowNew)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("recording an unknown device", "mac", x.mac, "err", err)
			case added:
				if newPhones.Fail("") {
					s.log.Warn("too many new unknown devices, recording only those already listed",
						"burst", s.cfg.UnknownNewBurst, "interval", s.cfg.UnknownNewInterval.String())
				}
			}
		}
	}
}

func (s *Service) expireUnknown(ctx context.Context) {
	n, err := s.st.ExpireUnknown(ctx, time.Now().Add(-s.cfg.UnknownMaxAge))
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("expiring unknown devices", "err", err)
	case n > 0:
		s.log.Info("unknown devices expired", "count", n, "max_age", s.cfg.UnknownMaxAge.String())
	}
}

// UnknownDevices is the "seen, not configured" list of a tenant (all of it,
// expired phones left out).
func (s *Service) UnknownDevices(ctx context.Context, tenant string) ([]store.UnknownDevice, error) {
	l, _, err := s.st.UnknownDevicesPage(ctx, tenant, time.Now().Add(-s.cfg.UnknownMaxAge), -1, 0)
	return l, err
}

// closestModel suggests the model id nearest to id (" (did you mean
// \"yealink-t46u\"?)"): a typo, or the model without its variant suffix.
func closestModel(models map[string]Model, id string) string {
	best, bestD := "", 4
	for m := range models {
		d := EditDistance(strings.ToLower(id), m)
		if strings.HasPrefix(m, strings.ToLower(id)) {
			d = min(d, 1)
		}
		if d < bestD || (d == bestD && m < best) {
			best, bestD = m, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is Levenshtein's distance between a and b (in bytes): the
// "did you mean" of the API's model names and of the CLI's verbs.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
