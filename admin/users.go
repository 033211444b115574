package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Roles (see httpapi).
const (
	RoleAdmin       = httpapi.RoleAdmin
	RoleTenantAdmin = httpapi.RoleTenantAdmin
	RoleAuditor     = httpapi.RoleAuditor
)

// KindUser is the store kind of admin users.
const KindUser = "user"

// User is an admin login. PasswordHash is bcrypt; it is kept in audit images (so a
// restore brings the password back) but redacted whenever rows are shown.
type User struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Tenant   string `json:"tenant,omitempty"`
	FullName string `json:"full_name"`
	// Email receives mail the appliance sends to users; with Supervisor, the
	// call-center exports of tasks that notify all supervisors.
	Email        string    `json:"email,omitempty"`
	Supervisor   bool      `json:"supervisor,omitempty"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
}

// UserView is a user as the API shows it.
type UserView struct {
	Username   string    `json:"username"`
	Role       string    `json:"role"`
	Tenant     string    `json:"tenant,omitempty"`
	FullName   string    `json:"full_name"`
	Email      string    `json:"email"`
	Supervisor bool      `json:"supervisor"`
	Disabled   bool      `json:"disabled"`
	Created    time.Time `json:"created"`
}

func (u User) view() UserView {
	return UserView{Username: u.Username, Role: u.Role, Tenant: u.Tenant, FullName: u.FullName, Email: u.Email,
		Supervisor: u.Supervisor, Disabled: u.Disabled, Created: u.Created}
}

var usernameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$`)

func validRole(r string) bool { return r == RoleAdmin || r == RoleTenantAdmin || r == RoleAuditor }

func (u User) validate(tx *store.Tx) error {
	if !usernameRE.MatchString(u.Username) {
		return &store.ValidationError{Field: "username", Msg: "username must be 1-64 letters, digits or . _ @ - and start with a letter or digit"}
	}
	if !validRole(u.Role) {
		return &store.ValidationError{Field: "role", Msg: "role must be one of admin, tenant_admin, auditor"}
	}
	if len(u.FullName) > 128 {
		return &store.ValidationError{Field: "full_name", Msg: "full_name is longer than 128 characters"}
	}
	if u.Email != "" {
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || !strings.Contains(u.Email, "@") {
			return &store.ValidationError{Field: "email", Msg: "email must be an address (name@example.com)"}
		}
	}
	if u.Supervisor && u.Email == "" {
		return &store.ValidationError{Field: "email", Msg: "a supervisor needs an email address to be notified"}
	}
	if u.Role == RoleTenantAdmin {
		if u.Tenant == "" {
			return &store.ValidationError{Field: "tenant", Msg: "a tenant_admin needs a tenant"}
		}
		ok, err := tx.Get(provision.KindTenant, u.Tenant, &provision.Tenant{})
		if err != nil {
			return err
		}
		if !ok {
			return &store.ValidationError{Field: "tenant", Msg: fmt.Sprintf("tenant %s does not exist", u.Tenant)}
		}
	} else if u.Tenant != "" {
		return &store.ValidationError{Field: "tenant", Msg: "only a tenant_admin belongs to a tenant"}
	}
	if u.PasswordHash == "" {
		return &store.ValidationError{Field: "password", Msg: "password is required"}
	}
	return nil
}

func checkPassword(p string) error {
	switch {
	case len(p) < 8:
		return &store.ValidationError{Field: "password", Msg: "password must be at least 8 characters"}
	case len(p) > 72:
		return &store.ValidationError{Field: "password", Msg: "password must be at most 72 bytes (bcrypt limit)"}
	}
	return nil
}

// activeAdmins counts enabled admins other than except.
func activeAdmins(tx *store.Tx, except string) (int, error) {
	n := 0
	err := tx.List(KindUser, "", func(id string, data json.RawMessage) error {
		var u User
		if err := json.Unmarshal(data, &u); err != nil {
			return err
		}
		if id != except && u.Role == RoleAdmin && !u.Disabled {
			n++
		}
		return nil
	})
	return n, err
}

var errLastAdmin = &store.ConflictError{Field: "username", Msg: "this is the last enabled admin: add another admin first"}

// keepsAnAdmin refuses a change that would leave no enabled admin, unless none
// existed before (a fresh box whose first user is being made).
func keepsAnAdmin(tx *store.Tx, username string, after *User) error {
	if after != nil && after.Role == RoleAdmin && !after.Disabled {
		return nil
	}
	var before User
	ok, err := tx.Get(KindUser, username, &before)
	if err != nil || !ok || before.Role != RoleAdmin || before.Disabled {
		return err
	}
	n, err := activeAdmins(tx, username)
	if err != nil {
		return err
	}
	if n == 0 {
		return errLastAdmin
	}
	return nil
}

// Users implements the user rules over the store.
type Users struct {
	st   *store.Store
	cost int
}

func newUsers(st *store.Store, cost int) *Users {
	st.Register(store.Kind{
		Name:    KindUser,
		Secrets: []string{"password_hash"},
		Tenant: func(data json.RawMessage) string {
			var u User
			json.Unmarshal(data, &u) //nolint:errcheck // checked by Check first
			return u.Tenant
		},
		// A restored user starts without sessions: tokens issued before never
		// outlive the user state they were issued for.
		OnRestore: func(tx *store.Tx, id string, _ json.RawMessage) error { return tx.DeleteUserSessions(id) },
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return keepsAnAdmin(tx, id, nil)
			}
			var u User
			if err := json.Unmarshal(data, &u); err != nil || u.Username != id {
				return &store.ValidationError{Field: "id", Msg: "stored user does not match its id"}
			}
			if err := u.validate(tx); err != nil {
				return err
			}
			return keepsAnAdmin(tx, id, &u)
		},
	})
	return &Users{st: st, cost: cost}
}

// Get returns a user or store.ErrNotFound.
func (us *Users) Get(ctx context.Context, name string) (User, error) {
	var u User
	err := us.st.View(ctx, func(tx *store.Tx) error {
		ok, err := tx.Get(KindUser, name, &u)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	})
	return u, err
}

// List returns users, all or one tenant's.
func (us *Users) List(ctx context.Context, tenant string) ([]UserView, error) {
	out := []UserView{}
	err := us.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(KindUser, tenant, func(id string, data json.RawMessage) error {
			var u User
			if err := json.Unmarshal(data, &u); err != nil {
				return fmt.Errorf("admin: user %s: %w", id, err)
			}
			out = append(out, u.view())
			return nil
		})
	})
	return out, err
}

// UserInput is what the API accepts for a user; nil fields are unchanged.
type UserInput struct {
	Username   *string `json:"username"`
	Password   *string `json:"password"`
	Role       *string `json:"role"`
	Tenant     *string `json:"tenant"`
	FullName   *string `json:"full_name"`
	Email      *string `json:"email"`
	Supervisor *bool   `json:"supervisor"`
	Disabled   *bool   `json:"disabled"`
}

func (us *Users) apply(u *User, in UserInput) error {
	if in.Role != nil {
		u.Role = *in.Role
	}
	if in.Tenant != nil {
		u.Tenant = *in.Tenant
	}
	if in.FullName != nil {
		u.FullName = *in.FullName
	}
	if in.Email != nil {
		u.Email = strings.TrimSpace(*in.Email)
	}
	if in.Supervisor != nil {
		u.Supervisor = *in.Supervisor
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	if in.Password != nil {
		if err := checkPassword(*in.Password); err != nil {
			return err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(*in.Password), us.cost)
		if err != nil {
			return fmt.Errorf("admin: hash password: %w", err)
		}
		u.PasswordHash = string(h)
	}
	return nil
}

// Create adds a user.
func (us *Users) Create(ctx context.Context, actor store.Actor, in UserInput) (UserView, error) {
	if in.Username == nil {
		return UserView{}, &store.ValidationError{Field: "username", Msg: "username is required"}
	}
	if in.Password == nil {
		return UserView{}, &store.ValidationError{Field: "password", Msg: "password is required"}
	}
	if in.Role == nil {
		return UserView{}, &store.ValidationError{Field: "role", Msg: "role is required"}
	}
	u := User{Username: *in.Username, Created: time.Now().UTC().Truncate(time.Second)}
	if err := us.apply(&u, in); err != nil {
		return UserView{}, err
	}
	_, err := us.st.Update(ctx, actor, func(tx *store.Tx) error {
		if err := u.validate(tx); err != nil {
			return err
		}
		// Tokens of an earlier user of this name (restored away) must not apply.
		if err := tx.DeleteUserSessions(u.Username); err != nil {
			return err
		}
		err := tx.Create(KindUser, u.Tenant, u.Username, u, fmt.Sprintf("user %s created with role %s", u.Username, u.Role))
		if errors.Is(err, store.ErrExists) {
			return &store.ConflictError{Field: "username", Msg: fmt.Sprintf("user %s already exists", u.Username)}
		}
		return err
	})
	return u.view(), err
}

// Update changes a user. A password change, a role change or disabling revokes the
// user's tokens in the same transaction.
func (us *Users) Update(ctx context.Context, actor store.Actor, name string, in UserInput, check func(before User) error) (UserView, error) {
	if in.Username != nil && *in.Username != name {
		return UserView{}, &store.ValidationError{Field: "username", Msg: "a username cannot be changed: create a new user"}
	}
	var u User
	_, err := us.st.Update(ctx, actor, func(tx *store.Tx) error {
		ok, err := tx.Get(KindUser, name, &u)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if check != nil {
			if err := check(u); err != nil {
				return err
			}
		}
		before := u
		if err := us.apply(&u, in); err != nil {
			return err
		}
		if err := u.validate(tx); err != nil {
			return err
		}
		if err := keepsAnAdmin(tx, name, &u); err != nil {
			return err
		}
		desc := fmt.Sprintf("user %s updated", name)
		if u.PasswordHash != before.PasswordHash {
			desc = fmt.Sprintf("user %s: password changed", name)
		}
		if u.PasswordHash != before.PasswordHash || u.Role != before.Role || u.Tenant != before.Tenant || u.Disabled {
			if err := tx.DeleteUserSessions(name); err != nil {
				return err
			}
		}
		return tx.Replace(KindUser, u.Tenant, name, u, desc)
	})
	return u.view(), err
}

// Delete removes a user and its tokens.
func (us *Users) Delete(ctx context.Context, actor store.Actor, name string, check func(before User) error) error {
	_, err := us.st.Update(ctx, actor, func(tx *store.Tx) error {
		var u User
		ok, err := tx.Get(KindUser, name, &u)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if check != nil {
			if err := check(u); err != nil {
				return err
			}
		}
		if err := keepsAnAdmin(tx, name, nil); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(name); err != nil {
			return err
		}
		return tx.Delete(KindUser, name, fmt.Sprintf("user %s deleted", name))
	})
	return err
}
