package redirect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Store kinds.
const (
	// KindServer is a tenant's account at a vendor's redirection service.
	KindServer = "redirect_server"
	// KindState is, per device (id = device id), what is registered at the
	// vendor and how the last attempt went. Written by the reconcile loop only.
	KindState = "redirect_state"
)

// Server is a redirection server of a tenant as stored. Credentials are sealed.
type Server struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Name is the label in Switchboard.
	Name    string `json:"name"`
	Brand   string `json:"brand"`
	API     string `json:"api"`
	Enabled bool   `json:"enabled"`
	// ServerName is the server defined beforehand in the vendor's web GUI
	// (Yealink, Escene; YMCS optional), or Gigaset's provider name.
	ServerName string `json:"server_name"`
	// ProvisioningURL is where phones are redirected; "" = the tenant's
	// provisioning URL.
	ProvisioningURL string `json:"provisioning_url"`
	// BaseURL overrides the vendor service's address ("" = the public one).
	BaseURL string `json:"base_url"`
	// Override takes over MACs another Yealink account registered.
	Override bool `json:"override"`
	// Credentials are the AES-GCM sealed {"username","password"}.
	Credentials string    `json:"credentials"`
	Created     time.Time `json:"created"`
}

// ServerView is a server as the API shows it: never its credentials.
type ServerView struct {
	ID                 string    `json:"id"`
	Tenant             string    `json:"tenant"`
	Name               string    `json:"name"`
	Brand              string    `json:"brand"`
	API                string    `json:"api"`
	Enabled            bool      `json:"enabled"`
	ServerName         string    `json:"server_name"`
	ProvisioningURL    string    `json:"provisioning_url"`
	EffectiveURL       string    `json:"effective_provisioning_url"`
	BaseURL            string    `json:"base_url"`
	EffectiveBaseURL   string    `json:"effective_base_url"`
	Override           bool      `json:"override"`
	HasCredentials     bool      `json:"has_credentials"`
	Devices            int       `json:"devices"`
	DevicesProvisioned int       `json:"devices_provisioned"`
	Created            time.Time `json:"created"`
}

// ServerInput is what a client may set; nil fields are unchanged. Username
// and Password are write-only.
type ServerInput struct {
	Name            *string `json:"name"`
	Brand           *string `json:"brand"`
	API             *string `json:"api"`
	Enabled         *bool   `json:"enabled"`
	ServerName      *string `json:"server_name"`
	ProvisioningURL *string `json:"provisioning_url"`
	BaseURL         *string `json:"base_url"`
	Override        *bool   `json:"override"`
	Username        *string `json:"username"`
	Password        *string `json:"password"`
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func verr(field, format string, args ...any) error {
	return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var yealinkServerRE = regexp.MustCompile(`^[A-Za-z0-9 ._-]{1,64}$`)

func oneLine(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Validate checks a stored server's own fields.
func (s Server) Validate() error {
	flavours, ok := apis[s.Brand]
	switch {
	case strings.TrimSpace(s.Name) == "" || len(s.Name) > 64 || !oneLine(s.Name):
		return verr("name", "name must be 1-64 characters on one line")
	case !ok:
		return verr("brand", "brand must be one of snom, yealink, escene, fanvil, gigaset")
	}
	found := false
	for _, a := range flavours {
		found = found || a == s.API
	}
	if !found {
		return verr("api", "api of %s must be one of %s", s.Brand, strings.Join(flavours, ", "))
	}
	needName := s.API == APIXMLRPC && (s.Brand == BrandYealink || s.Brand == BrandEscene)
	switch {
	case needName && s.ServerName == "":
		return verr("server_name", "server_name is required: the server defined beforehand in the %s web GUI", s.Brand)
	case s.ServerName != "" && !yealinkServerRE.MatchString(s.ServerName):
		return verr("server_name", "server_name must be 1-64 letters, digits, spaces, . _ or -")
	case s.ProvisioningURL != "" && !validURL(s.ProvisioningURL, "http", "https", "ftp", "tftp"):
		return verr("provisioning_url", "provisioning_url must be an http(s)://, ftp:// or tftp:// URL")
	case s.BaseURL != "" && !validURL(s.BaseURL, "http", "https"):
		return verr("base_url", "base_url must be an http(s):// URL")
	case s.Brand == BrandEscene && s.BaseURL == "":
		return verr("base_url", "base_url is required for escene: its service address is not published")
	case s.Credentials == "":
		return verr("password", "username and password (key id and secret for SRAPS, client id and secret for YMCS) are required")
	}
	return nil
}

func validURL(raw string, schemes ...string) bool {
	if len(raw) > 512 || !oneLine(raw) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return true
		}
	}
	return false
}

// strictDecode decodes a JSON object onto v, refusing unknown fields.
func strictDecode(patch json.RawMessage, v any) error {
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

func (s *Service) registerKinds() {
	s.st.Register(store.Kind{
		Name:    KindServer,
		Secrets: []string{"credentials"},
		Check: func(tx *store.Tx, id string, raw json.RawMessage) error {
			if raw == nil {
				return s.serverUnused(tx, id)
			}
			var sv Server
			if err := json.Unmarshal(raw, &sv); err != nil {
				return verr("", "stored server is not valid JSON")
			}
			return sv.Validate()
		},
	})
	// The target of a registration is a device's secret URL: masked in the
	// audit log like a password.
	s.st.Register(store.Kind{Name: KindState, Secrets: []string{"target"}, Check: func(*store.Tx, string, json.RawMessage) error {
		// It records what was done at the vendor: a restore cannot undo that.
		return &store.ConflictError{Field: "id", Msg: "redirect state is kept by the reconcile loop: restore the device or the server instead"}
	}})
	s.prov.AddDeviceCheck(s.checkDevice)
	s.prov.SetDeviceStatus(s.deviceStatus)
}

var codeRE = regexp.MustCompile(`^[0-9A-Za-z]{4}$`)

// checkDevice: a device's redirect_server must be a server of its tenant.
func (s *Service) checkDevice(tx *store.Tx, d *provision.Device) error {
	if d.RedirectCode != "" && !codeRE.MatchString(d.RedirectCode) {
		return verr("redirect_code", "redirect_code must be the 4 letters or digits after the MAC on the label")
	}
	if d.RedirectServer == "" {
		return nil
	}
	var sv Server
	ok, err := tx.Get(KindServer, d.RedirectServer, &sv)
	if err != nil {
		return err
	}
	if !ok || sv.Tenant != d.Tenant {
		return verr("redirect_server", "redirect server %q does not exist in this tenant", d.RedirectServer)
	}
	if sv.Brand == BrandGigaset && d.RedirectCode == "" {
		return verr("redirect_code", "a Gigaset redirect server needs the device's redirect_code (the 4 characters after the MAC on the label)")
	}
	return nil
}

// serverUnused refuses deleting a server that devices use or that still holds
// registrations to undo.
func (s *Service) serverUnused(tx *store.Tx, id string) error {
	n, err := tx.CountWhere(provision.KindDevice, "redirect_server", id)
	if err != nil {
		return err
	}
	if n > 0 {
		return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("the redirect server is assigned to %d device(s): unassign them first", n)}
	}
	m, err := tx.CountWhere(KindState, "server", id)
	if err != nil {
		return err
	}
	if m > 0 {
		return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("%d device(s) are still being deregistered from this server: retry later", m)}
	}
	return nil
}

// Servers lists a tenant's redirection servers.
func (s *Service) Servers(ctx context.Context, tenant string) ([]ServerView, error) {
	out := []ServerView{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(KindServer, tenant, func(id string, raw json.RawMessage) error {
			var sv Server
			if err := json.Unmarshal(raw, &sv); err != nil {
				return fmt.Errorf("redirect: server %s: %w", id, err)
			}
			v, err := s.view(tx, sv)
			out = append(out, v)
			return err
		})
	})
	return out, err
}

// Server returns one server of tenant.
func (s *Service) Server(ctx context.Context, tenant, id string) (ServerView, error) {
	var v ServerView
	err := s.st.View(ctx, func(tx *store.Tx) error {
		sv, err := getServer(tx, tenant, id)
		if err != nil {
			return err
		}
		v, err = s.view(tx, sv)
		return err
	})
	return v, err
}

func getServer(tx *store.Tx, tenant, id string) (Server, error) {
	var sv Server
	ok, err := tx.Get(KindServer, id, &sv)
	if err != nil {
		return sv, err
	}
	if !ok || sv.Tenant != tenant {
		return sv, store.ErrNotFound
	}
	return sv, nil
}

func (s *Service) effectiveURL(sv Server) string {
	if sv.ProvisioningURL != "" {
		return sv.ProvisioningURL
	}
	return s.prov.ProvisioningURL(sv.Tenant)
}

func (s *Service) view(tx *store.Tx, sv Server) (ServerView, error) {
	v := ServerView{ID: sv.ID, Tenant: sv.Tenant, Name: sv.Name, Brand: sv.Brand, API: sv.API, Enabled: sv.Enabled,
		ServerName: sv.ServerName, ProvisioningURL: sv.ProvisioningURL, EffectiveURL: s.effectiveURL(sv),
		BaseURL: sv.BaseURL, EffectiveBaseURL: sv.BaseURL, Override: sv.Override, HasCredentials: sv.Credentials != "", Created: sv.Created}
	if v.EffectiveBaseURL == "" {
		v.EffectiveBaseURL = defaultBaseURL(sv.Brand, sv.API)
	}
	n, err := tx.CountWhere(provision.KindDevice, "redirect_server", sv.ID)
	if err != nil {
		return v, err
	}
	v.Devices = n
	s.mu.Lock()
	for _, st := range s.states {
		if st.Server == sv.ID && st.Provisioned {
			v.DevicesProvisioned++
		}
	}
	s.mu.Unlock()
	return v, nil
}

// SaveServer creates (id "") or updates a server from a JSON patch.
func (s *Service) SaveServer(ctx context.Context, actor store.Actor, tenant, id string, patch json.RawMessage) (ServerView, error) {
	var in ServerInput
	if err := strictDecode(patch, &in); err != nil {
		return ServerView{}, err
	}
	var out ServerView
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var sv Server
		create := id == ""
		var cred credentials
		if create {
			if ok, err := tx.Get(provision.KindTenant, tenant, &provision.Tenant{}); err != nil {
				return err
			} else if !ok {
				return store.ErrNotFound
			}
			sv = Server{ID: uuid.NewString(), Tenant: tenant, Enabled: true, Created: time.Now().UTC().Truncate(time.Second)}
		} else {
			var err error
			if sv, err = getServer(tx, tenant, id); err != nil {
				return err
			}
			if in.Username != nil || in.Password != nil {
				plain, err := s.keys.open(sv.Credentials, sv.ID)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(plain, &cred); err != nil {
					return fmt.Errorf("redirect: credentials: %w", err)
				}
			}
		}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = strings.TrimSpace(*src)
			}
		}
		set(&sv.Name, in.Name)
		set(&sv.Brand, in.Brand)
		if in.Brand != nil && in.API == nil && create {
			if f := apis[sv.Brand]; len(f) > 0 {
				sv.API = f[0]
			}
		}
		set(&sv.API, in.API)
		set(&sv.ServerName, in.ServerName)
		set(&sv.ProvisioningURL, in.ProvisioningURL)
		set(&sv.BaseURL, in.BaseURL)
		if in.Enabled != nil {
			sv.Enabled = *in.Enabled
		}
		if in.Override != nil {
			sv.Override = *in.Override
		}
		if in.Username != nil || in.Password != nil {
			if in.Username != nil {
				cred.Username = *in.Username
			}
			if in.Password != nil {
				cred.Password = *in.Password
			}
			switch {
			case cred.Username == "" || len(cred.Username) > 256 || !oneLine(cred.Username):
				return verr("username", "username must be 1-256 characters on one line")
			case cred.Password == "" || len(cred.Password) > 256 || !oneLine(cred.Password):
				return verr("password", "password must be 1-256 characters on one line")
			}
			plain, _ := json.Marshal(cred) //nolint:gosec // G117: sealed with the server key just below, never served
			sealed, err := s.keys.seal(plain, sv.ID)
			if err != nil {
				return err
			}
			sv.Credentials = sealed
		}
		if !create && sv.Brand == BrandGigaset {
			if n, err := s.devicesWithoutCode(tx, sv.ID); err != nil {
				return err
			} else if n > 0 {
				return verr("brand", "%d assigned device(s) have no redirect_code, which Gigaset needs", n)
			}
		}
		if err := sv.Validate(); err != nil {
			return err
		}
		var err error
		if create {
			err = tx.Create(KindServer, tenant, sv.ID, sv, fmt.Sprintf("redirect server %q (%s %s) created", sv.Name, sv.Brand, sv.API))
		} else {
			err = tx.Replace(KindServer, tenant, sv.ID, sv, fmt.Sprintf("redirect server %q updated", sv.Name))
		}
		if err != nil {
			return err
		}
		out, err = s.view(tx, sv)
		return err
	})
	return out, err
}

func (s *Service) devicesWithoutCode(tx *store.Tx, server string) (int, error) {
	n := 0
	err := tx.List(provision.KindDevice, "", func(_ string, raw json.RawMessage) error {
		var d provision.Device
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if d.RedirectServer == server && d.RedirectCode == "" {
			n++
		}
		return nil
	})
	return n, err
}

// DeleteServer deletes a server no device uses any more.
func (s *Service) DeleteServer(ctx context.Context, actor store.Actor, tenant, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		sv, err := getServer(tx, tenant, id)
		if err != nil {
			return err
		}
		if err := s.serverUnused(tx, id); err != nil {
			return err
		}
		return tx.Delete(KindServer, id, fmt.Sprintf("redirect server %q deleted", sv.Name))
	})
	return err
}

// TestResult is the outcome of a connection test.
type TestResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// TestServer checks a server's credentials against the vendor (nothing changes).
func (s *Service) TestServer(ctx context.Context, tenant, id string) (TestResult, error) {
	var sv Server
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		sv, err = getServer(tx, tenant, id)
		return err
	})
	if err != nil {
		return TestResult{}, err
	}
	c, err := s.client(sv)
	if err != nil {
		return TestResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.Test(ctx); err != nil {
		var e *Error
		res := TestResult{Error: ClassOf(err), Detail: err.Error()}
		if errors.As(err, &e) {
			res.Detail = e.Detail
		}
		s.log.Info("connection test failed", "server", sv.ID, "brand", sv.Brand, "api", sv.API, "err", res.Error, "detail", res.Detail)
		return res, nil
	}
	return TestResult{OK: true}, nil
}
