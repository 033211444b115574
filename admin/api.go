package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

// API is the /api/v1 handler set.
type API struct {
	cfg     Config
	log     *slog.Logger
	st      *store.Store
	prov    *provision.Service
	users   *Users
	version string
	byIP    *ratelimit.Limiter
	byUser  *ratelimit.Limiter
	mux     *http.ServeMux

	// dummyHash makes a login for an unknown user cost as much as for a known
	// one (same bcrypt cost), so timing does not reveal which users exist.
	dummyHash []byte

	loginFailures  prometheus.Counter
	loginThrottled prometheus.Counter
	logins         prometheus.Counter
}

// New builds the API. reg may be nil (no metrics).
func New(cfg Config, log *slog.Logger, st *store.Store, prov *provision.Service, reg prometheus.Registerer, version string) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	a := &API{
		cfg: cfg, log: log, st: st, prov: prov, version: version,
		users:  newUsers(st, cfg.BcryptCost),
		byIP:   ratelimit.New(cfg.LoginIPBurst, cfg.LoginIPInterval),
		byUser: ratelimit.New(cfg.LoginUserBurst, cfg.LoginUserInterval),
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
	if reg != nil {
		for _, c := range []prometheus.Collector{a.loginFailures, a.loginThrottled, a.logins} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("admin: metrics: %w", err)
			}
		}
	}
	a.routes()
	return a, nil
}

// Users exposes the user rules (the demo set-up uses them).
func (a *API) Users() *Users { return a.users }

// Handler serves /api/v1/.
func (a *API) Handler() http.Handler { return a.recoverer(a.mux) }

type handler func(w http.ResponseWriter, r *http.Request, p Principal) error

func (a *API) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/v1/login", a.wrapErr(a.login))
	auth := func(pattern string, h handler) { m.HandleFunc(pattern, a.authed(h)) }
	auth("POST /api/v1/logout", a.logout)
	auth("GET /api/v1/status", a.status)
	auth("GET /api/v1/me", a.me)
	auth("PUT /api/v1/me/password", a.myPassword)

	auth("GET /api/v1/users", a.listUsers)
	auth("POST /api/v1/users", a.createUser)
	auth("GET /api/v1/users/{name}", a.getUser)
	auth("PATCH /api/v1/users/{name}", a.updateUser)
	auth("DELETE /api/v1/users/{name}", a.deleteUser)
	auth("DELETE /api/v1/users/{name}/sessions", a.revokeUser)

	auth("GET /api/v1/tenants", a.listTenants)
	auth("POST /api/v1/tenants", a.createTenant)
	auth("GET /api/v1/tenants/{id}", a.getTenant)
	auth("PATCH /api/v1/tenants/{id}", a.updateTenant)
	auth("DELETE /api/v1/tenants/{id}", a.deleteTenant)

	auth("GET /api/v1/audit", a.listAudit)
	auth("GET /api/v1/audit/verify", a.verifyAudit)
	auth("GET /api/v1/audit/{id}", a.getAudit)
	auth("POST /api/v1/audit/{id}/restore", a.restoreAudit)

	a.mux = m
	a.provisioningRoutes()
	a.consoleRoutes()
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	a.mux = m
}

// Mount lets other packages add routes under /api/v1 with the same authentication.
func (a *API) Mount(pattern string, h func(w http.ResponseWriter, r *http.Request, p Principal) error) {
	a.mux.HandleFunc(pattern, a.authed(h))
}

// ---- plumbing ----

// apiError is an error with its HTTP status and the field at fault.
type apiError struct {
	status int
	field  string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errStatus(status int, field, format string, args ...any) error {
	return &apiError{status: status, field: field, msg: fmt.Sprintf(format, args...)}
}

var (
	errForbiddenWrite = errStatus(http.StatusForbidden, "", "your role is read-only")
	errAdminOnly      = errStatus(http.StatusForbidden, "", "only an admin may do this")
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) //nolint:errcheck // the client went away
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, body)
}

// fail maps an error to its status: input problems are 4xx, anything else is a
// server fault, logged with the request.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae.status, ae.field, ae.msg)
		return
	}
	if status, field, msg, ok := StoreError(err); ok {
		writeError(w, status, field, msg)
		return
	}
	a.log.Error("admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "", "internal error (see the daemon log)")
}

// StoreError maps the store's refusals to their HTTP answer: a validation error
// is 400 naming the field, a conflict 409, a missing object 404, a write on the
// passive HA node 503 naming the active one. Every HTTP front end over the store
// (the admin API, the CTI's /webrest) answers them alike; ok is false for
// anything else, which is a server fault.
func StoreError(err error) (status int, field, msg string, ok bool) {
	var ve *store.ValidationError
	var ce *store.ConflictError
	var ro *store.ReadOnlyError
	switch {
	case errors.As(err, &ro):
		return http.StatusServiceUnavailable, "", ro.Msg, true
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Field, ve.Msg, true
	case errors.As(err, &ce):
		return http.StatusConflict, ce.Field, ce.Msg, true
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "", "not found", true
	}
	return 0, "", "", false
}

func (a *API) wrapErr(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.fail(w, r, err)
		}
	}
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
				a.log.Error("admin API panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "", "internal error (see the daemon log)")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

const maxBody = 1 << 20

// decode reads exactly one JSON object into v, refusing unknown fields, and names
// the field at fault when it can.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errStatus(http.StatusUnsupportedMediaType, "", "Content-Type must be application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errStatus(http.StatusBadRequest, "", "request body is empty: expected a JSON object")
		case errors.As(err, &se):
			return errStatus(http.StatusBadRequest, "", "malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return errStatus(http.StatusBadRequest, te.Field, "field %q must be %s, not %s", te.Field, te.Type, te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return errStatus(http.StatusBadRequest, f, "unknown field %q", f)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errStatus(http.StatusBadRequest, "", "truncated JSON body")
		default:
			return errStatus(http.StatusBadRequest, "", "bad JSON body: %v", err)
		}
	}
	if dec.More() {
		return errStatus(http.StatusBadRequest, "", "request body has data after the JSON object")
	}
	if dec.InputOffset() > maxBody {
		return errStatus(http.StatusRequestEntityTooLarge, "", "request body is larger than 1 MiB")
	}
	return nil
}

// query returns the query parameters, refusing any not in allowed.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			if a == k {
				ok = true
			}
		}
		if !ok {
			return nil, errStatus(http.StatusBadRequest, k, "unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, errStatus(http.StatusBadRequest, k, "query parameter %q given more than once", k)
		}
		out[k] = vs[0]
	}
	return out, nil
}

func intParam(q map[string]string, name string) (int, error) {
	s, ok := q[name]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errStatus(http.StatusBadRequest, name, "%s must be an integer", name)
	}
	return n, nil
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
	wait := max(a.byIP.Wait(ip), a.byUser.Wait(strings.ToLower(req.Username)))
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
		a.byUser.Fail(strings.ToLower(req.Username))
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
		"version":      a.version,
		"revision":     a.st.Revision(),
		"schema":       schema,
		"tenancy_mode": a.prov.Mode(),
		"features":     a.Features(),
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
