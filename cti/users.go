package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/store"
)

// Store kinds of CTI objects.
const (
	KindUser    = "cti_user"
	KindProfile = "cti_profile"
)

// Endpoint types a CTI user can have.
var endpointTypes = map[string]bool{"physical": true, "webrtc": true, "mobile": true, "nethlink": true}

// Endpoint is one device of a user. ID is the PBX extension of the device.
type Endpoint struct {
	ID   string `json:"id"`
	Type string `json:"type"` // physical|webrtc|mobile|nethlink
	// Device is the provisioned device (provision device id) behind a physical
	// endpoint, for click-to-call over the phone's HTTP interface.
	Device string `json:"device,omitempty"`
}

// User is a CTI user as stored.
type User struct {
	Username      string     `json:"username"`
	Name          string     `json:"name"`
	PasswordHash  string     `json:"password_hash"`
	MainExtension string     `json:"mainextension"`
	Endpoints     []Endpoint `json:"endpoints"`
	Cellphone     string     `json:"cellphone"`
	Email         string     `json:"email"`
	Voicemail     string     `json:"voicemail"`
	DefaultDevice string     `json:"default_device"`
	Profile       string     `json:"profile"`
	Disabled      bool       `json:"disabled"`
	// Groups are the operator panel groups the user is shown in.
	Groups []string `json:"groups,omitempty"`
}

// Permission is one permission inside a macro.
type Permission struct {
	Name  string `json:"name"`
	Value bool   `json:"value"`
}

// Macro groups permissions; they hold only while the macro is on.
type Macro struct {
	Value       bool         `json:"value"`
	Permissions []Permission `json:"permissions"`
}

// Profile is a named set of macro permissions.
type Profile struct {
	ID               string           `json:"id"`
	Name             string           `json:"name"`
	MacroPermissions map[string]Macro `json:"macro_permissions"`
	// ParamURL is the page the clients open for a call of this profile's
	// users ($CALLER_NUMBER, $CALLER_NAME, $CALLED, $UNIQUEID are filled in by
	// them); "" means none.
	ParamURL string `json:"param_url,omitempty"`
	// ParamURLOnlyQueues opens it only for calls through a queue.
	ParamURLOnlyQueues bool `json:"param_url_only_queues,omitempty"`
}

// Has reports whether permission name holds: some macro that is on grants it.
func (p *Profile) Has(name string) bool {
	if p == nil {
		return false
	}
	for _, m := range p.MacroPermissions {
		if !m.Value {
			continue
		}
		for _, pe := range m.Permissions {
			if pe.Name == name && pe.Value {
				return true
			}
		}
	}
	return false
}

// MacroOn reports whether a macro is on.
func (p *Profile) MacroOn(name string) bool {
	return p != nil && p.MacroPermissions[name].Value
}

var (
	nameRe  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)
	extenRe = regexp.MustCompile(`^[0-9*#+]{1,32}$`)
	groupRe = regexp.MustCompile(`^[^/\\<>"'\x00-\x1f]{1,64}$`)
)

func (u *User) validate(profiles map[string]*Profile) error {
	bad := func(field, format string, args ...any) error {
		return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if !nameRe.MatchString(u.Username) {
		return bad("username", "username must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if u.MainExtension != "" && !extenRe.MatchString(u.MainExtension) {
		return bad("mainextension", "mainextension must be digits (and * # +)")
	}
	if u.Cellphone != "" && !extenRe.MatchString(u.Cellphone) {
		return bad("cellphone", "cellphone must be digits (and * # +)")
	}
	seen := map[string]bool{}
	for i, e := range u.Endpoints {
		if !extenRe.MatchString(e.ID) {
			return bad(fmt.Sprintf("endpoints[%d].id", i), "endpoint id must be an extension (digits)")
		}
		if !endpointTypes[e.Type] {
			return bad(fmt.Sprintf("endpoints[%d].type", i), "endpoint type must be physical, webrtc, mobile or nethlink, not %q", e.Type)
		}
		if seen[e.ID] {
			return bad(fmt.Sprintf("endpoints[%d].id", i), "endpoint %s is listed twice", e.ID)
		}
		seen[e.ID] = true
	}
	for i, g := range u.Groups {
		if !groupRe.MatchString(g) {
			return bad(fmt.Sprintf("groups[%d]", i), "a group name is 1-64 characters without / \\ < > or quotes")
		}
	}
	if u.DefaultDevice != "" && !seen[u.DefaultDevice] {
		return bad("default_device", "default_device %q is not one of the user's endpoints", u.DefaultDevice)
	}
	if u.Profile != "" && profiles != nil && profiles[u.Profile] == nil {
		return bad("profile", "no profile %q", u.Profile)
	}
	return nil
}

func (p *Profile) validate() error {
	if !nameRe.MatchString(p.ID) {
		return &store.ValidationError{Field: "id", Msg: "id must be 1-64 letters, digits, '.', '_' or '-'"}
	}
	if p.ParamURL != "" {
		u, err := url.Parse(p.ParamURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(p.ParamURL) > 2048 {
			return &store.ValidationError{Field: "param_url", Msg: "param_url must be an http(s) URL"}
		}
	}
	for name := range p.MacroPermissions {
		if !nameRe.MatchString(name) {
			return &store.ValidationError{Field: "macro_permissions", Msg: fmt.Sprintf("bad macro name %q", name)}
		}
	}
	return nil
}

// directory is the in-memory copy of CTI users and profiles. It is refreshed
// after each committed change, so authentication never touches SQLite.
type directory struct {
	st   *store.Store
	cost int

	// revoke ends every token of a user; Load calls it for users deleted,
	// disabled or given a new password, whichever path changed them (API, CLI,
	// audit restore).
	revoke func(user string)
	// loaded runs after each Load (the call model takes the display names).
	loaded func()

	// loadMu makes Loads one at a time, so a slow one never installs an older
	// snapshot over a newer one.
	loadMu sync.Mutex
	rev    atomic.Int64 // store revision the directory has read at least

	mu       sync.RWMutex
	users    map[string]*User
	byAlias  map[string]string // main extension and endpoint ids -> username
	profiles map[string]*Profile
}

func newDirectory(st *store.Store, cost int) *directory {
	d := &directory{st: st, cost: cost}
	st.Register(store.Kind{Name: KindUser, Secrets: []string{"password_hash"},
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return nil
			}
			var u User
			if err := json.Unmarshal(data, &u); err != nil || u.Username != id {
				return &store.ValidationError{Field: "username", Msg: "stored CTI user does not match its id"}
			}
			return u.validate(nil)
		}})
	st.Register(store.Kind{Name: KindProfile,
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return nil
			}
			var p Profile
			if err := json.Unmarshal(data, &p); err != nil || p.ID != id {
				return &store.ValidationError{Field: "id", Msg: "stored CTI profile does not match its id"}
			}
			return p.validate()
		}})
	return d
}

// Revision is the store revision whose users and profiles the directory holds
// (or a newer one).
func (d *directory) Revision() int64 { return d.rev.Load() }

// Load (re)reads users and profiles from the store.
func (d *directory) Load(ctx context.Context) error {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	// Read before the snapshot: what the snapshot sees is at least this revision.
	rev := d.st.Revision()
	users := map[string]*User{}
	profiles := map[string]*Profile{}
	err := d.st.View(ctx, func(tx *store.Tx) error {
		if err := tx.List(KindUser, "", func(id string, data json.RawMessage) error {
			var u User
			if err := json.Unmarshal(data, &u); err != nil {
				return fmt.Errorf("user %s: %w", id, err)
			}
			users[id] = &u
			return nil
		}); err != nil {
			return err
		}
		return tx.List(KindProfile, "", func(id string, data json.RawMessage) error {
			var p Profile
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("profile %s: %w", id, err)
			}
			profiles[id] = &p
			return nil
		})
	})
	if err != nil {
		return err
	}
	alias := map[string]string{}
	for _, u := range users {
		if u.MainExtension != "" {
			alias[u.MainExtension] = u.Username
		}
		for _, e := range u.Endpoints {
			if _, taken := alias[e.ID]; !taken {
				alias[e.ID] = u.Username
			}
		}
	}
	d.mu.Lock()
	old := d.users
	d.users, d.profiles, d.byAlias = users, profiles, alias
	d.mu.Unlock()
	d.rev.Store(rev)
	if d.revoke != nil {
		for name, o := range old {
			n := users[name]
			if n == nil || n.PasswordHash != o.PasswordHash || (n.Disabled && !o.Disabled) {
				d.revoke(name)
			}
		}
	}
	if d.loaded != nil {
		d.loaded()
	}
	return nil
}

// Resolve finds a user by username, main extension, endpoint or "user@domain".
func (d *directory) Resolve(name string) (*User, *Profile, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	u := d.users[name]
	if u == nil {
		if at := strings.IndexByte(name, '@'); at > 0 {
			u = d.users[name[:at]]
		}
	}
	if u == nil {
		if un, ok := d.byAlias[name]; ok {
			u = d.users[un]
		}
	}
	if u == nil {
		return nil, nil, false
	}
	return u, d.profiles[u.Profile], true
}

// OwnerOf returns the username owning an endpoint, or "".
func (d *directory) OwnerOf(endpoint string) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.byAlias[endpoint]
}

// Owners maps extensions to their users.
func (d *directory) Owners() map[string]model.Owner {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := map[string]model.Owner{}
	for ext, un := range d.byAlias {
		if u := d.users[un]; u != nil {
			out[ext] = model.Owner{Name: u.Name, Username: u.Username}
		}
	}
	return out
}

// user returns a stored user (shared: do not change it).
func (d *directory) user(name string) *User {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.users[name]
}

// all returns every user (shared: do not change them), sorted by name.
func (d *directory) all() []*User {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]*User, 0, len(d.users))
	for _, u := range d.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

// userView is a user without its password hash.
type userView struct {
	Username      string     `json:"username"`
	Name          string     `json:"name"`
	MainExtension string     `json:"mainextension"`
	Endpoints     []Endpoint `json:"endpoints"`
	Cellphone     string     `json:"cellphone"`
	Email         string     `json:"email"`
	Voicemail     string     `json:"voicemail"`
	DefaultDevice string     `json:"default_device"`
	Profile       string     `json:"profile"`
	Disabled      bool       `json:"disabled"`
	Groups        []string   `json:"groups"`
}

func (u *User) view() userView {
	eps := u.Endpoints
	if eps == nil {
		eps = []Endpoint{}
	}
	gs := u.Groups
	if gs == nil {
		gs = []string{}
	}
	return userView{u.Username, u.Name, u.MainExtension, eps, u.Cellphone, u.Email, u.Voicemail, u.DefaultDevice, u.Profile, u.Disabled, gs}
}

// userInput is what the admin API accepts; nil fields stay unchanged on update.
type userInput struct {
	Username      *string     `json:"username"`
	Password      *string     `json:"password"`
	Name          *string     `json:"name"`
	MainExtension *string     `json:"mainextension"`
	Endpoints     *[]Endpoint `json:"endpoints"`
	Cellphone     *string     `json:"cellphone"`
	Email         *string     `json:"email"`
	Voicemail     *string     `json:"voicemail"`
	DefaultDevice *string     `json:"default_device"`
	Profile       *string     `json:"profile"`
	Disabled      *bool       `json:"disabled"`
	Groups        *[]string   `json:"groups"`
}

func (in userInput) apply(u *User, cost int) error {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&u.Name, in.Name)
	set(&u.MainExtension, in.MainExtension)
	set(&u.Cellphone, in.Cellphone)
	set(&u.Email, in.Email)
	set(&u.Voicemail, in.Voicemail)
	set(&u.DefaultDevice, in.DefaultDevice)
	set(&u.Profile, in.Profile)
	if in.Endpoints != nil {
		u.Endpoints = append([]Endpoint{}, (*in.Endpoints)...)
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	if in.Groups != nil {
		u.Groups = nil
		for _, g := range *in.Groups {
			if g = strings.TrimSpace(g); g != "" && !slices.Contains(u.Groups, g) {
				u.Groups = append(u.Groups, g)
			}
		}
	}
	if in.Password != nil {
		if len(*in.Password) < 8 || len(*in.Password) > 72 {
			return &store.ValidationError{Field: "password", Msg: "password must be 8 to 72 characters"}
		}
		h, err := bcrypt.GenerateFromPassword([]byte(*in.Password), cost)
		if err != nil {
			return fmt.Errorf("cti: hash password: %w", err)
		}
		u.PasswordHash = string(h)
	}
	return nil
}

func (d *directory) profilesTx(tx *store.Tx) (map[string]*Profile, error) {
	out := map[string]*Profile{}
	err := tx.List(KindProfile, "", func(id string, data json.RawMessage) error {
		out[id] = &Profile{ID: id}
		return nil
	})
	return out, err
}

// CreateUser adds a user (audited as actor).
func (d *directory) CreateUser(ctx context.Context, actor store.Actor, in userInput) (userView, error) {
	if in.Username == nil || *in.Username == "" {
		return userView{}, &store.ValidationError{Field: "username", Msg: "username is required"}
	}
	if in.Password == nil {
		return userView{}, &store.ValidationError{Field: "password", Msg: "password is required"}
	}
	u := User{Username: *in.Username}
	if err := in.apply(&u, d.cost); err != nil {
		return userView{}, err
	}
	_, err := d.st.Update(ctx, actor, func(tx *store.Tx) error {
		ps, err := d.profilesTx(tx)
		if err != nil {
			return err
		}
		if err := u.validate(ps); err != nil {
			return err
		}
		if err := d.aliasFree(tx, &u); err != nil {
			return err
		}
		err = tx.Create(KindUser, "", u.Username, &u, "CTI user "+u.Username+" created")
		if errors.Is(err, store.ErrExists) {
			return &store.ConflictError{Field: "username", Msg: "CTI user " + u.Username + " already exists"}
		}
		return err
	})
	if err != nil {
		return userView{}, err
	}
	return u.view(), d.Load(ctx)
}

// aliasFree refuses an extension that another user already has.
func (d *directory) aliasFree(tx *store.Tx, u *User) error {
	mine := map[string]bool{u.MainExtension: u.MainExtension != ""}
	for _, e := range u.Endpoints {
		mine[e.ID] = true
	}
	return tx.List(KindUser, "", func(id string, data json.RawMessage) error {
		if id == u.Username {
			return nil
		}
		var o User
		if err := json.Unmarshal(data, &o); err != nil {
			return err
		}
		exts := []string{o.MainExtension}
		for _, e := range o.Endpoints {
			exts = append(exts, e.ID)
		}
		for _, x := range exts {
			if x != "" && mine[x] {
				return &store.ConflictError{Field: "endpoints", Msg: fmt.Sprintf("extension %s belongs to CTI user %s", x, id)}
			}
		}
		return nil
	})
}

// UpdateUser changes a user; check (optional) may refuse based on the old state.
func (d *directory) UpdateUser(ctx context.Context, actor store.Actor, name string, in userInput) (userView, error) {
	if in.Username != nil && *in.Username != name {
		return userView{}, &store.ValidationError{Field: "username", Msg: "username cannot be changed"}
	}
	var u User
	_, err := d.st.Update(ctx, actor, func(tx *store.Tx) error {
		ok, err := tx.Get(KindUser, name, &u)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if err := in.apply(&u, d.cost); err != nil {
			return err
		}
		ps, err := d.profilesTx(tx)
		if err != nil {
			return err
		}
		if err := u.validate(ps); err != nil {
			return err
		}
		if err := d.aliasFree(tx, &u); err != nil {
			return err
		}
		return tx.Replace(KindUser, "", name, &u, "CTI user "+name+" changed")
	})
	if err != nil {
		return userView{}, err
	}
	return u.view(), d.Load(ctx)
}

// DeleteUser removes a user.
func (d *directory) DeleteUser(ctx context.Context, actor store.Actor, name string) error {
	_, err := d.st.Update(ctx, actor, func(tx *store.Tx) error {
		return tx.Delete(KindUser, name, "CTI user "+name+" deleted")
	})
	if err != nil {
		return err
	}
	return d.Load(ctx)
}

// Users lists users, sorted by name.
func (d *directory) Users() []userView {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]userView, 0, len(d.users))
	for _, u := range d.users {
		out = append(out, u.view())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

// Profiles lists profiles, sorted by id.
func (d *directory) Profiles() []Profile {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Profile, 0, len(d.profiles))
	for _, p := range d.profiles {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PutProfile creates or replaces a profile.
func (d *directory) PutProfile(ctx context.Context, actor store.Actor, p Profile) (Profile, error) {
	if p.MacroPermissions == nil {
		p.MacroPermissions = map[string]Macro{}
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	if err := p.validate(); err != nil {
		return p, err
	}
	_, err := d.st.Update(ctx, actor, func(tx *store.Tx) error {
		var old Profile
		ok, err := tx.Get(KindProfile, p.ID, &old)
		if err != nil {
			return err
		}
		if ok {
			return tx.Replace(KindProfile, "", p.ID, &p, "CTI profile "+p.ID+" changed")
		}
		return tx.Create(KindProfile, "", p.ID, &p, "CTI profile "+p.ID+" created")
	})
	if err != nil {
		return p, err
	}
	return p, d.Load(ctx)
}

// DeleteProfile removes a profile no user has.
func (d *directory) DeleteProfile(ctx context.Context, actor store.Actor, id string) error {
	_, err := d.st.Update(ctx, actor, func(tx *store.Tx) error {
		n, err := tx.CountWhere(KindUser, "profile", id)
		if err != nil {
			return err
		}
		if n > 0 {
			return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("profile %s is used by %d CTI user(s)", id, n)}
		}
		return tx.Delete(KindProfile, id, "CTI profile "+id+" deleted")
	})
	if err != nil {
		return err
	}
	return d.Load(ctx)
}
