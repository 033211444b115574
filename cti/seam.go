package cti

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Caller is the logged-in CTI user of a request, as another package's routes
// see it (see Mount). It carries no secret.
type Caller struct {
	// Username is the CTI user name (the owner of rows a route stores).
	Username string
	// Name is the user's display name.
	Name string
	// MainExtension is the user's main extension ("" when none).
	MainExtension string
	// Extensions are the main extension first, then the user's devices.
	Extensions []string
	// IP is the client's address, for logs and audit rows.
	IP string

	profile *Profile
}

// Has reports whether the user's profile grants permission name (inside a
// macro that is on), e.g. "ad_phonebook".
func (c Caller) Has(permission string) bool { return c.profile.Has(permission) }

// MacroOn reports whether a macro of the user's profile is on, e.g. "phonebook".
func (c Caller) MacroOn(macro string) bool { return c.profile.MacroOn(macro) }

// Owns reports whether extension is one of the user's.
func (c Caller) Owns(extension string) bool {
	return extension != "" && slices.Contains(c.Extensions, extension)
}

// UserHandler serves a route mounted with Mount for an authenticated user.
// An error made with httpapi.Errorf is answered with its status as
// {"error","field"}; any other error is a 500 logged by the CTI.
type UserHandler func(w http.ResponseWriter, r *http.Request, c Caller) error

// Mount adds a route under /webrest/ that only logged-in CTI users reach, with
// the CTI's own authentication ("Authorization: <user>:<token>", persistent
// tokens included), CORS and error format. pattern is a net/http pattern with
// a method, e.g. "GET /webrest/phonebook/search/{term}". Call it once per
// route, typically in serve right after New; it fails for a pattern outside
// /webrest/ or one that conflicts with a route already there.
func (svc *Service) Mount(pattern string, h UserHandler) (err error) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(strings.TrimSpace(path), "/webrest/") {
		return fmt.Errorf("cti: mount %q: want \"METHOD /webrest/...\"", pattern)
	}
	defer func() {
		// ServeMux panics on a conflicting pattern: a programming error the
		// caller reports at start-up.
		if v := recover(); v != nil {
			err = fmt.Errorf("cti: mount %q: %v", pattern, v)
		}
	}()
	svc.mux.HandleFunc(pattern, svc.wrap(func(w http.ResponseWriter, r *http.Request) error {
		c, ok := svc.authenticate(r)
		if !ok {
			return errUnauthorized
		}
		return h(w, r, c.public())
	}))
	return nil
}

// Authenticate checks a request's CTI credentials, for a handler that is not
// mounted with Mount (e.g. one that answers both users and phones).
func (svc *Service) Authenticate(r *http.Request) (Caller, bool) {
	c, ok := svc.authenticate(r)
	if !ok {
		return Caller{}, false
	}
	return c.public(), true
}

var errUnauthorized = rerr(http.StatusUnauthorized, "", "missing or expired token: log in at POST /webrest/authentication/login")

func (c *caller) public() Caller {
	return Caller{Username: c.user.Username, Name: c.user.Name, MainExtension: c.user.MainExtension,
		Extensions: c.user.Endpoints0(), IP: c.ip, profile: c.profile}
}
