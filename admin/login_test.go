package admin

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoginThrottledPerAddress(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.LoginIPBurst, c.LoginUserBurst = 3, 100 }))
	fails0 := e.counter("switchboard_admin_login_failures_total")

	// Different usernames from one address: the address is what runs out.
	for _, user := range []string{"admin", "nobody", "admin"} {
		wantError(t, e.do("POST", "/api/v1/login", "", obj{"username": user, "password": "wrong-password"}), http.StatusUnauthorized, "-")
	}
	r := e.do("POST", "/api/v1/login", "", obj{"username": "admin", "password": adminPassword})
	wantError(t, r, http.StatusTooManyRequests, "-")
	secs, err := strconv.Atoi(r.hdr.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 31 {
		t.Errorf("Retry-After = %q, want 1..31 seconds (one interval of 30s)", r.hdr.Get("Retry-After"))
	}
	// Still throttled: the right password does not get through, and does not count as a failure.
	wantError(t, e.do("POST", "/api/v1/login", "", obj{"username": "someone", "password": "x"}), http.StatusTooManyRequests, "-")

	if got := e.counter("switchboard_admin_login_failures_total") - fails0; got != 3 {
		t.Errorf("failure counter rose by %v, want 3", got)
	}
	if got := e.counter("switchboard_admin_login_throttled_total"); got != 2 {
		t.Errorf("throttled counter = %v, want 2", got)
	}
	if got := e.counter("switchboard_admin_logins_total"); got != 1 { // the set-up's login
		t.Errorf("logins counter = %v, want 1", got)
	}

	// fail2ban matches these lines.
	if n := len(e.log.Lines("login throttled", "user=admin", "src=127.0.0.1", "retry_after=")); n != 1 {
		t.Errorf("%d 'login throttled' lines for admin, want 1:\n%s", n, e.log)
	}
	if n := len(e.log.Lines("login failed", "src=127.0.0.1", "level=WARN")); n != 3 {
		t.Errorf("%d 'login failed' lines, want 3:\n%s", n, e.log)
	}
	if n := len(e.log.Lines("login failed", "user=admin", "src=127.0.0.1", `reason="bad password"`)); n != 2 {
		t.Errorf("%d 'login failed' lines for admin with a bad password, want 2:\n%s", n, e.log)
	}
	if n := len(e.log.Lines("login failed", "user=nobody", "src=127.0.0.1", `reason="unknown user"`)); n != 1 {
		t.Errorf("%d 'login failed' lines for an unknown user, want 1:\n%s", n, e.log)
	}
	if strings.Contains(e.log.String(), "wrong-password") || strings.Contains(e.log.String(), adminPassword) {
		t.Errorf("the log shows a password:\n%s", e.log)
	}
	// A token already held keeps working: only logins are throttled.
	e.must(http.StatusOK, "GET", "/api/v1/me", e.adminTk, nil)
}

func TestLoginThrottledPerUser(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.LoginIPBurst, c.LoginUserBurst = 100, 2 }))
	e.createUser("bob", "bob-password", RoleAuditor, "")
	for i := 0; i < 2; i++ {
		wantError(t, e.do("POST", "/api/v1/login", "", obj{"username": "admin", "password": "wrong-password"}), http.StatusUnauthorized, "-")
	}
	r := e.do("POST", "/api/v1/login", "", obj{"username": "admin", "password": adminPassword})
	wantError(t, r, http.StatusTooManyRequests, "-")
	if secs, err := strconv.Atoi(r.hdr.Get("Retry-After")); err != nil || secs < 1 || secs > 61 {
		t.Errorf("Retry-After = %q, want 1..61 seconds", r.hdr.Get("Retry-After"))
	}
	// The username is the key, whatever its case.
	wantError(t, e.do("POST", "/api/v1/login", "", obj{"username": "ADMIN", "password": "x"}), http.StatusTooManyRequests, "-")
	// Another user from the same address is not throttled.
	e.login("bob", "bob-password")
	if len(e.log.Lines("login throttled", "user=admin", "src=127.0.0.1")) != 1 {
		t.Errorf("no 'login throttled' line for admin:\n%s", e.log)
	}
}

func TestLoginBadRequests(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.LoginIPBurst = 1000 }))
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no username", obj{"password": "x"}, http.StatusBadRequest, "username"},
		{"unknown field", obj{"username": "admin", "password": "x", "otp": "1"}, http.StatusBadRequest, "otp"},
		{"wrong type", obj{"username": 1}, http.StatusBadRequest, "username"},
		{"malformed", `{"username":`, http.StatusBadRequest, "-"},
		{"empty", "", http.StatusBadRequest, "-"},
		{"wrong user", obj{"username": "root", "password": adminPassword}, http.StatusUnauthorized, "-"},
		{"empty password", obj{"username": "admin", "password": ""}, http.StatusUnauthorized, "-"},
		{"case matters", obj{"username": "Admin", "password": adminPassword}, http.StatusUnauthorized, "-"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.do("POST", "/api/v1/login", "", c.body), c.status, c.field)
		})
	}
}

// near compares durations computed in floating point.
func near(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}
