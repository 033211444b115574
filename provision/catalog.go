package provision

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Brand is a phone vendor.
type Brand struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
	// OUIs are the vendor's MAC prefixes (AABBCC), for recognising unknown phones.
	OUIs    []string `json:"ouis" yaml:"ouis"`
	BuiltIn bool     `json:"builtin" yaml:"-"`
}

// FileRule names a device's file: prefix + MAC in a format + suffix
// (snom370-0004167898B1.htm is prefix "snom370-", AABBCCDDEEFF, ".htm").
type FileRule struct {
	Prefix    string `json:"prefix" yaml:"prefix"`
	MACFormat string `json:"mac_format" yaml:"mac_format"`
	Suffix    string `json:"suffix" yaml:"suffix"`
}

// Name is the file name for mac.
func (r FileRule) Name(m MAC) string { return r.Prefix + m.Format(r.MACFormat) + r.Suffix }

// Validate checks the rule.
func (r FileRule) Validate() error {
	if !ValidMACFormat(r.MACFormat) {
		return fmt.Errorf("mac_format must be one of %s", strings.Join(MACFormats, ", "))
	}
	for _, s := range []string{r.Prefix, r.Suffix} {
		if err := checkFileName(s, true); err != nil {
			return err
		}
	}
	return nil
}

// checkFileName refuses names that could leave the tree or confuse a phone.
func checkFileName(s string, part bool) error {
	if !part && s == "" {
		return fmt.Errorf("file name is empty")
	}
	if len(s) > 128 {
		return fmt.Errorf("file name %q is longer than 128 characters", s)
	}
	for _, c := range []byte(s) {
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f || c == '%' || c == '?' || c == '#' {
			return fmt.Errorf("file name %q contains %q", s, c)
		}
	}
	if !part && (s == "." || s == "..") {
		return fmt.Errorf("file name %q is not allowed", s)
	}
	return nil
}

// CommonFile is a fixed-name file a model also requests (Yealink y0000000000xx.cfg,
// Polycom 000000000000.cfg), rendered once per tenant from its own template.
type CommonFile struct {
	Name     string `json:"name" yaml:"name"`
	Template string `json:"template" yaml:"template"`
}

// Model is a phone model and the files it asks for.
type Model struct {
	ID    string   `json:"id" yaml:"id"`
	Brand string   `json:"brand" yaml:"brand"`
	Name  string   `json:"name" yaml:"name"`
	File  FileRule `json:"file" yaml:"file"`
	// Template is the default device template of the model.
	Template    string       `json:"template" yaml:"template"`
	CommonFiles []CommonFile `json:"common_files" yaml:"common_files"`
	// Lines is how many SIP accounts the phone holds (a DECT base: accounts,
	// one per handset).
	Lines int `json:"lines" yaml:"lines"`
	// Keys is how many programmable (line/DSS) keys the phone has.
	Keys int `json:"keys" yaml:"keys"`
	// ExpansionModules is how many expansion modules may be attached, each
	// with ModuleKeys keys.
	ExpansionModules int `json:"expansion_modules" yaml:"expansion_modules"`
	ModuleKeys       int `json:"module_keys" yaml:"module_keys"`
	// DECTHandsets is how many handsets a DECT base registers (0: not DECT).
	DECTHandsets int `json:"dect_handsets" yaml:"dect_handsets"`
	// KeyTypes are the key types the model's template maps to the vendor's
	// codes; keys of other types are refused.
	KeyTypes []string `json:"key_types" yaml:"key_types"`
	// Firmware is the tenant's target firmware for the model: the name of
	// one of its uploaded files ("" = none, the phones keep theirs). It is
	// per tenant, also for built-in and global models (see ModelFirmware),
	// so it is set only in a tenant's view of the catalog.
	Firmware string `json:"firmware" yaml:"-"`
	BuiltIn  bool   `json:"builtin" yaml:"-"`
}

// checkCapabilities validates the model's capability fields.
func (m Model) checkCapabilities() error {
	switch {
	case m.Lines < 1 || m.Lines > 128:
		return verr("lines", "lines must be 1-128")
	case m.Keys < 0 || m.Keys > 512:
		return verr("keys", "keys must be 0-512")
	case m.ExpansionModules < 0 || m.ExpansionModules > 16:
		return verr("expansion_modules", "expansion_modules must be 0-16")
	case m.ModuleKeys < 0 || m.ModuleKeys > 512:
		return verr("module_keys", "module_keys must be 0-512")
	case m.ExpansionModules > 0 && m.ModuleKeys == 0:
		return verr("module_keys", "a model with expansion modules needs module_keys")
	case m.DECTHandsets < 0 || m.DECTHandsets > 1000:
		return verr("dect_handsets", "dect_handsets must be 0-1000")
	}
	for _, t := range m.KeyTypes {
		if !containsStr(KeyTypes, t) {
			return verr("key_types", "key type %q is not one of %s", t, strings.Join(KeyTypes, ", "))
		}
	}
	return nil
}

// checkDevice applies the model's limits to a device's lines and keys.
func (m Model) checkDevice(d *Device) error {
	if len(d.Lines) > m.Lines {
		return verr("lines", "model %s holds %d line(s); the device has %d", m.Name, m.Lines, len(d.Lines))
	}
	if m.DECTHandsets > 0 && len(d.Lines) > m.DECTHandsets {
		return verr("lines", "model %s registers %d handset(s), one per line; the device has %d lines", m.Name, m.DECTHandsets, len(d.Lines))
	}
	for i, k := range d.Keys {
		n := i + 1
		switch {
		case m.Keys == 0 && m.ExpansionModules == 0:
			return verr("keys", "model %s has no programmable keys", m.Name)
		case len(m.KeyTypes) > 0 && !containsStr(m.KeyTypes, k.Type):
			return verr("keys", "key %d: model %s has no %s key (it has %s)", n, m.Name, k.Type, strings.Join(m.KeyTypes, ", "))
		case k.Module == 0 && k.Index > m.Keys:
			return verr("keys", "key %d: model %s has %d key(s), not %d", n, m.Name, m.Keys, k.Index)
		case k.Module > m.ExpansionModules:
			return verr("keys", "key %d: model %s takes %d expansion module(s), not %d", n, m.Name, m.ExpansionModules, k.Module)
		case k.Module > 0 && k.Index > m.ModuleKeys:
			return verr("keys", "key %d: an expansion module of model %s has %d keys, not %d", n, m.Name, m.ModuleKeys, k.Index)
		}
	}
	return nil
}

// Template is configuration text with placeholders.
type Template struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name" yaml:"name"`
	// Scope is device (one file per device) or common (one per tenant and model).
	Scope string `json:"scope" yaml:"scope"`
	// Escape is xml for XML files (values are escaped) or none.
	Escape      string `json:"escape" yaml:"escape"`
	ContentType string `json:"content_type" yaml:"content_type"`
	Body        string `json:"body" yaml:"-"`
	BuiltIn     bool   `json:"builtin" yaml:"-"`
	// File is the embedded file holding the body (built-ins only).
	File string `json:"-" yaml:"file"`
}

// Catalog is the set of brands, models and templates.
type Catalog struct {
	Brands    []Brand    `yaml:"brands"`
	Models    []Model    `yaml:"models"`
	Templates []Template `yaml:"templates"`
}

//go:embed catalog
var builtinFS embed.FS

// Builtin loads the catalog shipped in the binary. It is read-only: users copy a
// built-in model or template to change it, and their copies live in the store, so
// upgrades replace built-ins without touching users' work.
func Builtin() (Catalog, error) {
	raw, err := builtinFS.ReadFile("catalog/catalog.yaml")
	if err != nil {
		return Catalog{}, fmt.Errorf("provision: built-in catalog: %w", err)
	}
	var c Catalog
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Catalog{}, fmt.Errorf("provision: built-in catalog: %w", err)
	}
	for i := range c.Brands {
		c.Brands[i].BuiltIn = true
	}
	for i := range c.Models {
		c.Models[i].BuiltIn = true
	}
	for i := range c.Templates {
		t := &c.Templates[i]
		t.BuiltIn = true
		body, err := builtinFS.ReadFile(path.Join("catalog/templates", t.File))
		if err != nil {
			return Catalog{}, fmt.Errorf("provision: built-in template %s: %w", t.ID, err)
		}
		t.Body = string(body)
	}
	if err := c.Check(nil); err != nil {
		return Catalog{}, fmt.Errorf("provision: built-in catalog: %w", err)
	}
	return c, nil
}

// Check validates the catalog's internal references and compiles every template.
func (c Catalog) Check(custom func(string) bool) error {
	brands := map[string]bool{}
	for _, b := range c.Brands {
		if b.ID == "" || brands[b.ID] {
			return fmt.Errorf("brand %q: empty or duplicate id", b.ID)
		}
		brands[b.ID] = true
	}
	tmpls := map[string]Template{}
	for _, t := range c.Templates {
		if t.ID == "" || tmpls[t.ID].ID != "" {
			return fmt.Errorf("template %q: empty or duplicate id", t.ID)
		}
		if err := t.validate(custom); err != nil {
			return fmt.Errorf("template %s: %w", t.ID, err)
		}
		tmpls[t.ID] = t
	}
	models := map[string]bool{}
	for _, m := range c.Models {
		if m.ID == "" || models[m.ID] {
			return fmt.Errorf("model %q: empty or duplicate id", m.ID)
		}
		models[m.ID] = true
		if !brands[m.Brand] {
			return fmt.Errorf("model %s: unknown brand %q", m.ID, m.Brand)
		}
		if err := m.checkCapabilities(); err != nil {
			return fmt.Errorf("model %s: %w", m.ID, err)
		}
		if err := m.File.Validate(); err != nil {
			return fmt.Errorf("model %s: %w", m.ID, err)
		}
		if t, ok := tmpls[m.Template]; !ok || t.Scope != ScopeDevice {
			return fmt.Errorf("model %s: template %q is not a device template of the catalog", m.ID, m.Template)
		}
		for _, cf := range m.CommonFiles {
			if err := checkFileName(cf.Name, false); err != nil {
				return fmt.Errorf("model %s: %w", m.ID, err)
			}
			if t, ok := tmpls[cf.Template]; !ok || t.Scope != ScopeCommon {
				return fmt.Errorf("model %s: common file %s: template %q is not a common template", m.ID, cf.Name, cf.Template)
			}
		}
	}
	return nil
}

func (t Template) validate(custom func(string) bool) error {
	if t.Scope != ScopeDevice && t.Scope != ScopeCommon {
		return fmt.Errorf("scope must be device or common")
	}
	if t.Escape != EscapeNone && t.Escape != EscapeXML {
		return fmt.Errorf("escape must be none or xml")
	}
	_, err := Compile(t.Body, KnownFor(t.Scope, custom))
	return err
}

// SortModels orders models by brand then name, as lists show them.
func SortModels(ms []Model) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Brand != ms[j].Brand {
			return ms[i].Brand < ms[j].Brand
		}
		return ms[i].Name < ms[j].Name
	})
}
