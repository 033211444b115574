package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/store"
)

// Tenancy modes.
const (
	ModeSingle = "single"
	ModeMulti  = "multi"
)

// TenancyConfig is the "tenancy" section of the configuration file.
type TenancyConfig struct {
	// Mode is "single" (one tenant, files at the root of the provisioning tree) or
	// "multi" (many tenants, each under its UUID).
	Mode string `yaml:"mode"`
	// DefaultTenant is the name of the tenant created on first start.
	DefaultTenant string `yaml:"default_tenant"`
}

// DefaultTenancyConfig is single-tenant.
func DefaultTenancyConfig() TenancyConfig {
	return TenancyConfig{Mode: ModeSingle, DefaultTenant: "default"}
}

// Config is the "provisioning" section of the configuration file.
type Config struct {
	// BaseURL is scheme://host[:port] as phones reach this appliance; templates get
	// it in %%KPBX_PROVISIONING_URL%%. Empty: http:// and the host's first IPv4
	// address with the plain HTTP port.
	BaseURL string `yaml:"base_url"`
	// UnknownBurst requests for unknown files (TFTP and HTTP) from one address are
	// answered before it is throttled; then one more per UnknownInterval.
	UnknownBurst    int           `yaml:"unknown_burst"`
	UnknownInterval time.Duration `yaml:"unknown_interval"`
	// UnknownMaxPerTenant is how many phones a tenant's "seen, not configured"
	// list keeps; a new one evicts the one seen least recently.
	UnknownMaxPerTenant int `yaml:"unknown_max_per_tenant"`
	// UnknownMaxAge drops a phone from the list once it has not been seen for
	// this long.
	UnknownMaxAge time.Duration `yaml:"unknown_max_age"`
	// UnknownNewBurst phones not on any list yet may be added at once, from all
	// sources together; after that one more per UnknownNewInterval. Sightings
	// of listed phones are always recorded. (The per-source budget above does
	// not bound a flood from spoofed UDP sources; this does.)
	UnknownNewBurst    int           `yaml:"unknown_new_burst"`
	UnknownNewInterval time.Duration `yaml:"unknown_new_interval"`
	// InterfacePoll is how often the addresses of the interfaces dynamic
	// placeholders name are re-read; a change re-renders the files.
	InterfacePoll time.Duration `yaml:"interface_poll"`
	// Tenancy is filled from the "tenancy" section.
	Mode string `yaml:"-"`
}

// DefaultConfig leaves a phone's normal probing of a few names well inside the burst.
func DefaultConfig() Config {
	return Config{UnknownBurst: 30, UnknownInterval: 10 * time.Second, InterfacePoll: 10 * time.Second,
		// A site's unconfigured phones fit; a flood cannot grow the list
		// beyond this, and it churns at most one phone a second.
		UnknownMaxPerTenant: 1000, UnknownMaxAge: 30 * 24 * time.Hour,
		UnknownNewBurst: 200, UnknownNewInterval: time.Second}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("base_url: %q must be http(s)://host[:port]", c.BaseURL)
	}
	if c.UnknownBurst < 1 {
		return errors.New("unknown_burst: must be at least 1")
	}
	if c.UnknownInterval <= 0 {
		return errors.New("unknown_interval: must be positive")
	}
	if c.UnknownMaxPerTenant < 1 {
		return errors.New("unknown_max_per_tenant: must be at least 1")
	}
	if c.UnknownMaxAge < time.Hour {
		return errors.New("unknown_max_age: must be at least 1h")
	}
	if c.UnknownNewBurst < 1 {
		return errors.New("unknown_new_burst: must be at least 1")
	}
	if c.UnknownNewInterval <= 0 {
		return errors.New("unknown_new_interval: must be positive")
	}
	if c.InterfacePoll < 0 {
		return errors.New("interface_poll: must not be negative")
	}
	return nil
}

// Validate names the first bad key (relative to the section).
func (c TenancyConfig) Validate() error {
	if c.Mode != ModeSingle && c.Mode != ModeMulti {
		return fmt.Errorf("mode: %q is not one of single, multi", c.Mode)
	}
	if err := checkName(c.DefaultTenant); err != nil {
		return fmt.Errorf("default_tenant: %w", err)
	}
	return nil
}

// KindTenant is the store kind of tenants.
const KindTenant = "tenant"

// Tenant is one customer of the appliance. Its UUID is its address in the
// provisioning tree, not a secret.
type Tenant struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Created     time.Time `json:"created"`
}

// Validate checks a tenant document.
func (t Tenant) Validate() error {
	if _, err := uuid.Parse(t.ID); err != nil {
		return &store.ValidationError{Field: "id", Msg: "id must be a UUID"}
	}
	if err := checkName(t.Name); err != nil {
		return &store.ValidationError{Field: "name", Msg: "name " + err.Error()}
	}
	if len(t.Description) > 1024 {
		return &store.ValidationError{Field: "description", Msg: "description is longer than 1024 characters"}
	}
	return nil
}

func checkName(n string) error {
	if strings.TrimSpace(n) == "" {
		return errors.New("must not be empty")
	}
	if len(n) > 64 {
		return errors.New("is longer than 64 characters")
	}
	if n != strings.TrimSpace(n) {
		return errors.New("must not start or end with spaces")
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return errors.New("must not contain control characters")
		}
	}
	return nil
}

// Service applies the domain rules and persists through the store. It is the
// "provisioning" component of switchboard serve: Serve renders the files as
// commits arrive (see Commit).
type Service struct {
	component.Base
	st      *store.Store
	tcfg    TenancyConfig
	cfg     Config
	log     *slog.Logger
	builtin Catalog
	render  *renderer
	assets  assetStore
	ifaces  Interfaces
	metrics *metrics
	// role is the HA role (FollowRole); nil: this node always serves.
	role component.RoleSource

	sightings chan sighting
	// enrollEvents are the bootstrap hand-outs and claims to record (Served).
	enrollEvents chan enrollEvent
	enroll       *enrollState

	deviceChecks []func(tx *store.Tx, d *Device) error
	deviceStatus func(d Device) any
	// subdirs are the sub-directories other components serve (AddDirectory).
	subdirs map[string]DirSource
}

// New loads the built-in catalog and registers the provision kinds with the store.
func New(st *store.Store, tcfg TenancyConfig, cfg Config, log *slog.Logger) (*Service, error) {
	if err := tcfg.Validate(); err != nil {
		return nil, fmt.Errorf("provision: tenancy.%w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("provision: provisioning.%w", err)
	}
	cfg.Mode = tcfg.Mode
	cat, err := Builtin()
	if err != nil {
		return nil, err
	}
	s := &Service{st: st, tcfg: tcfg, cfg: cfg, log: log, builtin: cat, ifaces: SystemInterfaces{}, metrics: newMetrics()}
	s.render = newRenderer(s, log)
	s.assets = assetStore{s: s}
	s.sightings = make(chan sighting, 1024)
	s.enrollEvents = make(chan enrollEvent, 1024)
	s.enroll = newEnrollState()
	s.registerKinds()
	st.Register(store.Kind{
		Name: KindTenant,
		Tenant: func(data json.RawMessage) string {
			var t Tenant
			json.Unmarshal(data, &t) //nolint:errcheck // checked by Check first
			return t.ID
		},
		Unique: map[string]string{"objects_tenant_name": "name"},
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return s.checkDeletable(tx, id)
			}
			var t Tenant
			if err := json.Unmarshal(data, &t); err != nil {
				return &store.ValidationError{Field: "id", Msg: "stored tenant is not valid JSON"}
			}
			if t.ID != id {
				return &store.ValidationError{Field: "id", Msg: "tenant id does not match"}
			}
			if n, err := tx.Count(KindTenant, ""); err != nil {
				return err
			} else if s.tcfg.Mode == ModeSingle && n > 0 {
				if ok, _ := tx.Get(KindTenant, id, &Tenant{}); !ok {
					return errSingle
				}
			}
			return t.Validate()
		},
	})
	return s, nil
}

// DefaultTenant is the tenant single-tenant mode serves at the root (the oldest).
func (s *Service) DefaultTenant() string { return s.singleTenant() }

// Mode is the tenancy mode.
func (s *Service) Mode() string { return s.tcfg.Mode }

var errSingle = &store.ConflictError{Field: "name", Msg: "single-tenant mode allows one tenant: set tenancy.mode to multi to add more"}

// EnsureDefaultTenant creates the default tenant on first start and returns the
// tenant to use in single-tenant mode (the oldest one).
func (s *Service) EnsureDefaultTenant(ctx context.Context) (Tenant, error) {
	var out Tenant
	defer func() { s.render.setSingle(out.ID) }()
	_, err := s.st.Update(ctx, store.System, func(tx *store.Tx) error {
		list, err := listTenants(tx)
		if err != nil {
			return err
		}
		created := ""
		if len(list) > 0 {
			out = list[0]
		} else {
			out = Tenant{ID: uuid.NewString(), Name: s.tcfg.DefaultTenant, Enabled: true, Created: time.Now().UTC().Truncate(time.Second)}
			if err := tx.Create(KindTenant, out.ID, out.ID, out, "default tenant created at first start"); err != nil {
				return err
			}
			list = append(list, out)
			created = out.ID
		}
		// Tenants created before phone admin passwords existed get theirs now
		// (and keep serving device files by name: secure URLs are for new
		// tenants, and turning them on breaks phones that know no token).
		for _, t := range list {
			if err := ensurePBX(tx, t.ID, t.ID != created); err != nil {
				return err
			}
			if err := ensureTokens(tx, t.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func listTenants(tx *store.Tx) ([]Tenant, error) {
	var list []Tenant
	err := tx.List(KindTenant, "", func(id string, data json.RawMessage) error {
		var t Tenant
		if err := json.Unmarshal(data, &t); err != nil {
			return fmt.Errorf("provision: tenant %s: %w", id, err)
		}
		list = append(list, t)
		return nil
	})
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.Before(list[j].Created)
		}
		return list[i].Name < list[j].Name
	})
	return list, err
}

// Tenants lists every tenant, oldest first.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) {
	var list []Tenant
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		list, err = listTenants(tx)
		return err
	})
	if list == nil {
		list = []Tenant{}
	}
	return list, err
}

// Tenant returns one tenant or store.ErrNotFound.
func (s *Service) Tenant(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	err := s.st.View(ctx, func(tx *store.Tx) error {
		ok, err := tx.Get(KindTenant, id, &t)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	})
	return t, err
}

// TenantInput is what an API client may set on a tenant; nil fields are unchanged.
type TenantInput struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Enabled     *bool   `json:"enabled"`
}

func (in TenantInput) apply(t *Tenant) {
	if in.Name != nil {
		t.Name = *in.Name
	}
	if in.Description != nil {
		t.Description = *in.Description
	}
	if in.Enabled != nil {
		t.Enabled = *in.Enabled
	}
}

// CreateTenant adds a tenant with a new UUID (multi-tenant mode only).
func (s *Service) CreateTenant(ctx context.Context, actor store.Actor, in TenantInput) (Tenant, error) {
	if in.Name == nil {
		return Tenant{}, &store.ValidationError{Field: "name", Msg: "name is required"}
	}
	t := Tenant{ID: uuid.NewString(), Enabled: true, Created: time.Now().UTC().Truncate(time.Second)}
	in.apply(&t)
	if err := t.Validate(); err != nil {
		return t, err
	}
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		if s.tcfg.Mode == ModeSingle {
			if n, err := tx.Count(KindTenant, ""); err != nil {
				return err
			} else if n > 0 {
				return errSingle
			}
		}
		if err := tx.Create(KindTenant, t.ID, t.ID, t, fmt.Sprintf("tenant %q created", t.Name)); err != nil {
			return err
		}
		return ensurePBX(tx, t.ID, false)
	})
	return t, err
}

// UpdateTenant changes the fields set in in.
func (s *Service) UpdateTenant(ctx context.Context, actor store.Actor, id string, in TenantInput) (Tenant, error) {
	var t Tenant
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		ok, err := tx.Get(KindTenant, id, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		in.apply(&t)
		if err := t.Validate(); err != nil {
			return err
		}
		return tx.Replace(KindTenant, t.ID, t.ID, t, fmt.Sprintf("tenant %q updated", t.Name))
	})
	return t, err
}

// DeleteTenant removes an empty tenant; one that still owns objects is refused.
func (s *Service) DeleteTenant(ctx context.Context, actor store.Actor, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var t Tenant
		ok, err := tx.Get(KindTenant, id, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if err := s.checkDeletable(tx, id); err != nil {
			return err
		}
		// The settings go with the tenant (they hold its phones' password).
		if err := tx.Delete(KindPBX, id, fmt.Sprintf("PBX settings of tenant %q deleted with it", t.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Delete(KindTenant, id, fmt.Sprintf("tenant %q deleted", t.Name))
	})
	return err
}

func (s *Service) checkDeletable(tx *store.Tx, id string) error {
	n, err := tx.Count(KindTenant, "")
	if err != nil {
		return err
	}
	if n <= 1 {
		return &store.ConflictError{Field: "id", Msg: "the last tenant cannot be deleted"}
	}
	owned, err := tx.TenantObjects(id)
	if err != nil {
		return err
	}
	delete(owned, KindTenant)
	delete(owned, KindPBX) // settings, deleted with the tenant
	if len(owned) > 0 {
		var parts []string
		for k, c := range owned {
			parts = append(parts, fmt.Sprintf("%d %s", c, k))
		}
		sort.Strings(parts)
		return &store.ConflictError{Field: "id", Msg: "tenant still owns " + strings.Join(parts, ", ") + ": delete them first"}
	}
	return nil
}
