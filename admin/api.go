package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

var _ component.Component = (*API)(nil)

// API is the /api/v1 handler set.
type API struct {
	component.Base
	cfg     Config
	log     *slog.Logger
	st      *store.Store
	prov    *provision.Service
	users   *Users
	version string
	// Failed logins are counted per source address, per (username, source)
	// and per username from everywhere (a larger budget): the last two lock a
	// user out only where the guesses come from, unless they come from many
	// places.
	byIP   *ratelimit.Limiter
	byPair *ratelimit.Limiter
	byUser *ratelimit.Limiter
	rt     component.Router
	off    []featureOff

	featureMu sync.Mutex
	features  []string // optional services that run (SetFeatures)
	saveHint  SaveHint // what template and model saves answer besides the object

	// dummyHash makes a login for an unknown user cost as much as for a known
	// one (same bcrypt cost), so timing does not reveal which users exist.
	dummyHash []byte

	loginFailures  prometheus.Counter
	loginThrottled prometheus.Counter
	logins         prometheus.Counter
}

// New builds the API.
func New(cfg Config, log *slog.Logger, st *store.Store, prov *provision.Service, version string) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	a := &API{
		cfg: cfg, log: log, st: st, prov: prov, version: version,
		users:  newUsers(st, cfg.BcryptCost),
		byIP:   ratelimit.New(cfg.LoginIPBurst, cfg.LoginIPInterval),
		byPair: ratelimit.New(cfg.LoginUserBurst, cfg.LoginUserInterval),
		byUser: ratelimit.New(cfg.LoginUserTotalBurst, cfg.LoginUserTotalInterval),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_admin_login_failures_total", Help: "Failed admin logins (bad username or password)."}),
		loginThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_admin_login_throttled_total", Help: "Admin logins refused by the rate limiter."}),
		logins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_admin_logins_total", Help: "Successful admin logins."}),
	}
	h, err := bcrypt.GenerateFromPassword([]byte("switchboard-timing-equaliser"), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	a.dummyHash = h
	return a, nil
}

// Collectors are the login counters.
func (a *API) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.loginFailures, a.loginThrottled, a.logins}
}

// Users exposes the user rules (the demo set-up uses them).
func (a *API) Users() *Users { return a.users }

type handler = httpapi.Handler

// Name is the admin API's component name.
func (a *API) Name() string { return "admin" }

// Routes mounts /api/v1/login, the API's own routes and the JSON 404 of
// unknown /api/ paths.
func (a *API) Routes(r component.Router) {
	a.rt = r
	r.Handle("POST /api/v1/login", a.recoverer(a.wrapErr(a.login)))
	a.route("POST /api/v1/logout", a.logout)
	a.route("GET /api/v1/status", a.status)
	a.route("GET /api/v1/me", a.me)
	a.route("PUT /api/v1/me/password", a.myPassword)

	a.route("GET /api/v1/users", a.listUsers)
	a.route("POST /api/v1/users", a.createUser)
	a.route("GET /api/v1/users/{name}", a.getUser)
	a.route("PATCH /api/v1/users/{name}", a.updateUser)
	a.route("DELETE /api/v1/users/{name}", a.deleteUser)
	a.route("DELETE /api/v1/users/{name}/sessions", a.revokeUser)

	a.route("GET /api/v1/tenants", a.listTenants)
	a.route("POST /api/v1/tenants", a.createTenant)
	a.route("GET /api/v1/tenants/{id}", a.getTenant)
	a.route("PATCH /api/v1/tenants/{id}", a.updateTenant)
	a.route("DELETE /api/v1/tenants/{id}", a.deleteTenant)

	a.route("GET /api/v1/audit", a.listAudit)
	a.route("GET /api/v1/audit/verify", a.verifyAudit)
	a.route("GET /api/v1/audit/{id}", a.getAudit)
	a.route("POST /api/v1/audit/{id}/restore", a.restoreAudit)

	a.provisioningRoutes()
	a.consoleRoutes()
	r.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, f := range a.off {
			if r.URL.Path == f.prefix || strings.HasPrefix(r.URL.Path, f.prefix+"/") {
				writeError(w, http.StatusNotFound, "", f.msg)
				return
			}
		}
		writeError(w, http.StatusNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))
}

// FeatureOff makes the routes under prefix, which a switched-off service would
// mount, answer msg (what is off and how to turn it on) instead of "no such
// endpoint". Call it before the routes are mounted.
func (a *API) FeatureOff(prefix, msg string) {
	a.off = append(a.off, featureOff{prefix: strings.TrimSuffix(prefix, "/"), msg: msg})
}

type featureOff struct{ prefix, msg string }

// route adds one of the API's own admin routes.
func (a *API) route(pattern string, h handler) { a.rt.Admin(pattern, h) }

// Serve purges expired sessions until ctx ends.
func (a *API) Serve(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := a.st.PurgeSessions(ctx, time.Now()); err != nil {
				a.log.Warn("purging expired sessions failed", "err", err)
			} else if n > 0 {
				a.log.Debug("purged expired sessions", "count", n)
			}
		}
	}
}

// ---- plumbing ----

// The JSON plumbing every front end shares (internal/httpapi), by the names the
// handlers of this package use.
var (
	errStatus  = httpapi.Errorf
	writeJSON  = httpapi.WriteJSON
	writeError = httpapi.WriteError
	decode     = httpapi.Decode
	query      = httpapi.Query
	intParam   = httpapi.IntParam
	rawObject  = httpapi.RawObject

	errForbiddenWrite = httpapi.ErrForbiddenWrite
	errAdminOnly      = httpapi.ErrAdminOnly
)

// fail maps an error to its status: input problems are 4xx, anything else is a
// server fault, logged with the request.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if status, field, msg, ok := httpapi.Status(err); ok {
		writeError(w, status, field, msg)
		return
	}
	a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "", "internal error (see the daemon log)")
}

func (a *API) wrapErr(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	}
}

// Wrap makes an admin route a handler: the caller is authenticated (bearer
// token, or the control socket's peer), auditors may only read, errors are
// answered as JSON and a panic as a 500. The component runner wraps every
// admin route of every component with it.
func (a *API) Wrap(h httpapi.Handler) http.Handler {
	return a.recoverer(a.authed(h))
}

func (a *API) authed(h handler) http.HandlerFunc {
	return a.wrapErr(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := a.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			return errStatus(http.StatusUnauthorized, "", "missing, expired or revoked token: log in at POST /api/v1/login")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !p.CanWrite() && !selfService[r.URL.Path] {
			return errForbiddenWrite
		}
		return h(w, r, p)
	})
}

// selfService paths change only the caller's own session or password, which every
// role, the read-only auditor included, may do.
var selfService = map[string]bool{"/api/v1/logout": true, "/api/v1/me/password": true, "/api/v1/me/preferences": true}

func (a *API) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "", "internal error (see the daemon log)")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// ---- session ----

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      UserView  `json:"user"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return errStatus(http.StatusBadRequest, "username", "username is required")
	}
	ip := remoteIP(r)
	user := strings.ToLower(req.Username)
	pair := user + "\x00" + ip
	wait := max(a.byIP.Wait(ip), a.byPair.Wait(pair), a.byUser.Wait(user))
	if wait > 0 {
		a.loginThrottled.Inc()
		a.log.Warn("login throttled", "user", req.Username, "src", ip, "retry_after", wait.Round(time.Second).String())
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return errStatus(http.StatusTooManyRequests, "", "too many failed logins: retry in %d s", secs)
	}
	u, err := a.users.Get(r.Context(), req.Username)
	hash := a.dummyHash
	if err == nil {
		hash = []byte(u.PasswordHash)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	pwErr := bcrypt.CompareHashAndPassword(hash, []byte(req.Password))
	if err != nil || pwErr != nil || u.Disabled {
		reason := "bad password"
		switch {
		case err != nil:
			reason = "unknown user"
		case pwErr == nil && u.Disabled:
			reason = "user disabled"
		}
		a.byIP.Fail(ip)
		a.byPair.Fail(pair)
		a.byUser.Fail(user)
		a.loginFailures.Inc()
		a.log.Warn("login failed", "user", req.Username, "src", ip, "reason", reason)
		return errStatus(http.StatusUnauthorized, "", "invalid username or password")
	}
	tok, err := newToken()
	if err != nil {
		return fmt.Errorf("admin: token: %w", err)
	}
	now := time.Now().UTC()
	se := store.Session{TokenHash: hashToken(tok), Username: u.Username, Kind: "admin", Created: now,
		Expires: now.Add(a.cfg.TokenTTL), SourceIP: ip}
	if err := a.st.CreateSession(r.Context(), se); err != nil {
		return err
	}
	a.logins.Inc()
	a.log.Info("login", "user", u.Username, "src", ip, "role", u.Role)
	writeJSON(w, http.StatusOK, loginResponse{Token: tok, ExpiresAt: se.Expires, User: u.view()})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, p Principal) error {
	if p.Token == "" {
		return errStatus(http.StatusBadRequest, "", "the control socket has no session to end")
	}
	if err := a.st.DeleteSession(r.Context(), p.Token); err != nil {
		return err
	}
	a.log.Info("logout", "user", p.User, "src", p.IP)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) status(w http.ResponseWriter, r *http.Request, p Principal) error {
	schema, err := a.st.SchemaVersion(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"version":  a.version,
		"revision": a.st.Revision(),
		// The newest revision the provisioning files reflect: a change has
		// reached the phones' files once this is at least its revision.
		"rendered_revision": a.prov.RenderedRevision(),
		"schema":            schema,
		"tenancy_mode":      a.prov.Mode(),
		"features":          a.Features(),
	})
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request, p Principal) error {
	last, err := a.lastTenant(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"username": p.User, "role": p.Role, "tenant": p.Tenant, "source_ip": p.IP,
		"last_tenant": last})
	return nil
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (a *API) myPassword(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req passwordChange
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkPassword(req.NewPassword); err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			return &store.ValidationError{Field: "new_password", Msg: strings.Replace(ve.Msg, "password", "new_password", 1)}
		}
		return err
	}
	_, err := a.users.Update(r.Context(), p.Actor(), p.User, UserInput{Password: &req.NewPassword}, func(u User) error {
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(req.CurrentPassword)) != nil {
			return errStatus(http.StatusBadRequest, "current_password", "current_password is wrong")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return errStatus(http.StatusBadRequest, "", "the control socket user has no password")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
