package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// obj is a decoded JSON object.
type obj = map[string]any

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server's log.
type syncBuffer = testlog.Buffer

const adminPassword = "admin-password-1"

// env is an admin API over a real store, served on a loopback listener.
type env struct {
	t       testing.TB
	st      *store.Store
	prov    *provision.Service
	api     *API
	reg     *prometheus.Registry
	web     *component.Web
	srv     *httptest.Server
	log     *syncBuffer
	def     provision.Tenant // the default tenant
	adminTk string           // bearer token of "admin"
}

type envOption func(*Config, *provision.TenancyConfig)

func withConfig(f func(*Config)) envOption {
	return func(c *Config, _ *provision.TenancyConfig) { f(c) }
}

func singleTenant() envOption {
	return func(_ *Config, tc *provision.TenancyConfig) { tc.Mode = provision.ModeSingle }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.BcryptCost = 4
	tc := provision.TenancyConfig{Mode: provision.ModeMulti, DefaultTenant: "default"}
	for _, o := range opts {
		o(&cfg, &tc)
	}
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pcfg := provision.DefaultConfig()
	pcfg.BaseURL = "http://192.0.2.10"
	prov, err := provision.New(st, tc, pcfg, log)
	if err != nil {
		t.Fatalf("provision.New: %v", err)
	}
	t.Cleanup(st.Subscribe(prov.Commit)) // what the component runner does in serve
	def, err := prov.EnsureDefaultTenant(ctx)
	if err != nil {
		t.Fatalf("EnsureDefaultTenant: %v", err)
	}
	reg := prometheus.NewRegistry()
	api, err := New(cfg, log, st, prov, "test-version")
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	reg.MustRegister(api.Collectors()...)
	web := component.NewWeb(api)
	web.Mount(api)
	name, pw, role := "admin", adminPassword, RoleAdmin
	if _, err := api.Users().Create(ctx, store.System, UserInput{Username: &name, Password: &pw, Role: &role}); err != nil {
		t.Fatalf("create first admin: %v", err)
	}
	srv := httptest.NewServer(web.Secure())
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, prov: prov, api: api, web: web, reg: reg, srv: srv, log: logBuf, def: def}
	// Whatever a test does, the API must never have failed internally.
	t.Cleanup(func() {
		for _, bad := range []string{"request failed", "panic"} {
			if lines := logBuf.Lines(bad); len(lines) > 0 {
				t.Errorf("server logged an internal failure:\n%s", strings.Join(lines, "\n"))
			}
		}
	})
	e.adminTk = e.login("admin", adminPassword)
	return e
}

// resp is one HTTP exchange's outcome.
type resp struct {
	code int
	hdr  http.Header
	raw  []byte
}

// obj decodes the body as a JSON object.
func (r resp) obj(t testing.TB) obj {
	t.Helper()
	var m obj
	if err := json.Unmarshal(r.raw, &m); err != nil {
		t.Fatalf("body is not a JSON object (%v): %s", err, r.raw)
	}
	return m
}

// do sends a request. body is sent as is when it is a string or []byte, as JSON
// otherwise; a nil body sends none.
func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	return e.doCT(method, path, token, "application/json", body)
}

func (e *env) doCT(method, path, token, ctype string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != nil && ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{code: res.StatusCode, hdr: res.Header, raw: raw}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.code != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.code, want, r.raw)
	}
	return r
}

// wantError checks a JSON error answer: its status, its "error" text and, when
// field is not "-", its "field".
func wantError(t testing.TB, r resp, status int, field string) obj {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.raw)
	}
	if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	m := r.obj(t)
	if s, _ := m["error"].(string); s == "" {
		t.Errorf("no \"error\" text in %s", r.raw)
	}
	if field != "-" {
		if got, _ := m["field"].(string); got != field {
			t.Errorf("field %q, want %q (body %s)", got, field, r.raw)
		}
	}
	return m
}

func (e *env) login(user, pw string) string {
	e.t.Helper()
	r := e.must(http.StatusOK, "POST", "/api/v1/login", "", obj{"username": user, "password": pw})
	tok, _ := r.obj(e.t)["token"].(string)
	if tok == "" {
		e.t.Fatalf("login %s: no token in %s", user, r.raw)
	}
	return tok
}

// createTenant makes a tenant as admin and returns its id.
func (e *env) createTenant(name string) string {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/api/v1/tenants", e.adminTk, obj{"name": name})
	id, _ := r.obj(e.t)["id"].(string)
	if id == "" {
		e.t.Fatalf("no tenant id in %s", r.raw)
	}
	return id
}

// createUser makes a user as admin.
func (e *env) createUser(name, pw, role, tenant string) {
	e.t.Helper()
	in := obj{"username": name, "password": pw, "role": role}
	if tenant != "" {
		in["tenant"] = tenant
	}
	e.must(http.StatusCreated, "POST", "/api/v1/users", e.adminTk, in)
}

// audit lists audit rows with the query q (without "?").
func (e *env) audit(token, q string) (items []obj, total int) {
	e.t.Helper()
	path := "/api/v1/audit"
	if q != "" {
		path += "?" + q
	}
	m := e.must(http.StatusOK, "GET", path, token, nil).obj(e.t)
	list, ok := m["items"].([]any)
	if !ok {
		e.t.Fatalf("audit listing has no items array: %v", m)
	}
	for _, it := range list {
		items = append(items, it.(obj))
	}
	return items, int(m["total"].(float64))
}

func (e *env) revision() int64 {
	e.t.Helper()
	m := e.must(http.StatusOK, "GET", "/api/v1/status", e.adminTk, nil).obj(e.t)
	return int64(m["revision"].(float64))
}

// id returns a row's numeric id as an int64.
func rowID(t testing.TB, row obj) int64 {
	t.Helper()
	f, ok := row["id"].(float64)
	if !ok {
		t.Fatalf("row without id: %v", row)
	}
	return int64(f)
}

// image returns a row's before or after image (nil when JSON null).
func image(t testing.TB, row obj, key string) obj {
	t.Helper()
	v, ok := row[key]
	if !ok {
		t.Fatalf("row has no %q key: %v", key, row)
	}
	if v == nil {
		return nil
	}
	m, ok := v.(obj)
	if !ok {
		t.Fatalf("row %q is not an object: %v", key, v)
	}
	return m
}

// counter reads a counter's value from the registry.
func (e *env) counter(name string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	e.t.Fatalf("no metric %s", name)
	return 0
}
