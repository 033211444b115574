package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoginThrottledPerAddress(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.LoginIPBurst, c.LoginUserBurst, c.LoginUserTotalBurst = 3, 100, 100 }))
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

// TestLoginThrottledPerUser: a username is throttled from the address its
// guesses come from, whatever the case it is typed in.
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

// doFrom is do from another loopback address (127.0.0.0/8 is all local).
func (e *env) doFrom(local, method, path string, body any) resp {
	e.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}).DialContext}}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s from %s: %v", method, path, local, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, hdr: res.Header, raw: b}
}

// TestLoginLockoutPerSource (F9): five wrong passwords for admin from one
// address lock admin out from that address only; admin logs in from another.
func TestLoginLockoutPerSource(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		wantError(t, e.doFrom("127.0.0.2", "POST", "/api/v1/login", obj{"username": "admin", "password": "guess"}), http.StatusUnauthorized, "-")
	}
	wantError(t, e.doFrom("127.0.0.2", "POST", "/api/v1/login", obj{"username": "admin", "password": adminPassword}), http.StatusTooManyRequests, "-")
	if r := e.doFrom("127.0.0.3", "POST", "/api/v1/login", obj{"username": "admin", "password": adminPassword}); r.code != http.StatusOK {
		t.Fatalf("admin from another address after 5 guesses elsewhere: %d %s, want 200", r.code, r.raw)
	}
	if n := len(e.log.Lines(`level=WARN msg="login throttled" user=admin src=127.0.0.2`)); n != 1 {
		t.Errorf("%d 'login throttled' lines for 127.0.0.2, want 1:\n%s", n, e.log)
	}
}

// TestLoginUserLimitAcrossSources (F9): guesses for one user spread over many
// addresses meet the slower per-user limit, which then throttles that user from
// every address (a token already held keeps working).
func TestLoginUserLimitAcrossSources(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.LoginUserTotalBurst, c.LoginUserTotalInterval = 8, time.Hour }))
	for i := 0; i < 8; i++ {
		src := fmt.Sprintf("127.0.1.%d", 1+i/2)
		wantError(t, e.doFrom(src, "POST", "/api/v1/login", obj{"username": "admin", "password": "guess"}), http.StatusUnauthorized, "-")
	}
	r := e.doFrom("127.0.2.1", "POST", "/api/v1/login", obj{"username": "admin", "password": adminPassword})
	wantError(t, r, http.StatusTooManyRequests, "-")
	if secs, err := strconv.Atoi(r.hdr.Get("Retry-After")); err != nil || secs < 3000 {
		t.Errorf("Retry-After %q, want about an hour", r.hdr.Get("Retry-After"))
	}
	e.must(http.StatusOK, "GET", "/api/v1/me", e.adminTk, nil)
	e.createUser("carol", "carol-password", RoleAuditor, "")
	e.login("carol", "carol-password") // other users are not affected
}
