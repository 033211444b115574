package cti

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// testRouter mounts a component's routes on one mux; admin routes run as the
// principal given.
type testRouter struct {
	mux *http.ServeMux
	p   httpapi.Principal
}

func (r *testRouter) Admin(pattern string, h httpapi.Handler) {
	r.mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
		if err := h(w, req, r.p); err != nil {
			httpapi.WriteError(w, http.StatusInternalServerError, "", err.Error())
		}
	})
}
func (r *testRouter) Handle(pattern string, h http.Handler)          { r.mux.Handle(pattern, h) }
func (r *testRouter) Plain(prefix string, h fasthttp.RequestHandler) {}

func routed(t *testing.T, e *env, role string) *httptest.Server {
	t.Helper()
	r := &testRouter{mux: http.NewServeMux(), p: httpapi.Principal{User: "root", Role: role, IP: "127.0.0.1"}}
	if role == httpapi.RoleTenantAdmin {
		r.p.Tenant = "t1"
	}
	e.svc.Routes(r)
	srv := httptest.NewServer(r.mux)
	t.Cleanup(srv.Close)
	return srv
}

func request(t *testing.T, method, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func loginStatus(t *testing.T, base, user, pw string) bool {
	t.Helper()
	resp, err := http.Post(base+"/webrest/authentication/login", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("WWW-Authenticate") != ""
}

// Routes mounts /webrest/, /socket.io/ and the admin routes; a change made
// through the admin routes holds for the very next request, with no wait for
// the asynchronous commit delivery.
func TestRoutesAndOwnWritesVisibleAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	srv := routed(t, e, httpapi.RoleAdmin)
	if code := request(t, "POST", srv.URL+"/api/v1/cti/users",
		`{"username":"erin","password":"erin-password","mainextension":"205","endpoints":[{"id":"205","type":"physical"}],"profile":"basic"}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if !loginStatus(t, srv.URL, "erin", "erin-password") || !loginStatus(t, srv.URL, "205", "erin-password") {
		t.Fatal("a user just created cannot log in")
	}
	if code := request(t, "PATCH", srv.URL+"/api/v1/cti/users/erin", `{"disabled":true}`); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	if loginStatus(t, srv.URL, "erin", "erin-password") {
		t.Fatal("a user just disabled can log in")
	}
	if code := request(t, "DELETE", srv.URL+"/api/v1/cti/users/erin", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := request(t, "GET", srv.URL+"/api/v1/cti/users/erin", ""); code != 404 {
		t.Fatalf("deleted user: %d", code)
	}
	// Refusals answer with their status and field, and change nothing.
	rev := e.st.Revision()
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/v1/cti/users", `{"username":"zed","password":"long-enough","bogus":1}`, 400},
		{"POST", "/api/v1/cti/users", `{"username":"bob","password":"long-enough"}`, 409},
		{"PUT", "/api/v1/cti/profiles/x", `{"id":"y"}`, 400},
		{"DELETE", "/api/v1/cti/profiles/basic", "", 409},
		{"DELETE", "/api/v1/cti/profiles/none", "", 404},
	} {
		if code := request(t, c.method, srv.URL+c.path, c.body); code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, code, c.want)
		}
	}
	if e.st.Revision() != rev {
		t.Fatal("a refused request changed the store")
	}
	if code := request(t, "GET", srv.URL+"/webrest/user/me", ""); code != 401 {
		t.Fatalf("/webrest through Routes: %d", code)
	}
	if code := request(t, "GET", srv.URL+"/socket.io/?EIO=3&transport=polling", ""); code != 400 {
		t.Fatalf("/socket.io through Routes: %d", code)
	}
	// CTI users are global: a tenant administrator may not touch them.
	tenant := routed(t, e, httpapi.RoleTenantAdmin)
	if code := request(t, "GET", tenant.URL+"/api/v1/cti/users", ""); code != 403 {
		t.Fatalf("tenant admin: %d", code)
	}
}

// Commit schedules a reload for commits that changed users or profiles and
// returns at once; commits the directory has already read, or of other kinds,
// schedule nothing.
func TestCommitSchedulesReload(t *testing.T) {
	st, err := store.Open(context.Background(), store.DefaultConfig(filepath.Join(t.TempDir(), "db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.BcryptCost = 4
	svc, err := New(cfg, testLogger(t), st)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.dir.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	loaded := svc.dir.Revision()
	for _, c := range []struct {
		name string
		c    store.Commit
		want int
	}{
		{"other kinds", store.Commit{Rev: loaded + 1, Changes: []store.Change{{Kind: "device", ID: "d1"}}}, 0},
		{"already read", store.Commit{Rev: loaded, Changes: []store.Change{{Kind: KindUser, ID: "u"}}}, 0},
		{"a user", store.Commit{Rev: loaded + 1, Changes: []store.Change{{Kind: "device"}, {Kind: KindUser, ID: "u"}}}, 1},
		{"a profile, while a reload is pending", store.Commit{Rev: loaded + 2, Changes: []store.Change{{Kind: KindProfile, ID: "p"}}}, 1},
	} {
		svc.Commit(c.c)
		if len(svc.reload) != c.want {
			t.Errorf("%s: %d reloads pending, want %d", c.name, len(svc.reload), c.want)
		}
	}
}

// A slow directory reload never holds up a writer: the write that triggers it
// completes while the reload is stuck, and the reload catches up afterwards.
func TestSlowReloadDoesNotDelayWriters(t *testing.T) {
	e := newEnv(t, nil)
	e.svc.dir.loadMu.Lock() // a reload in progress that does not finish
	locked := true
	defer func() {
		if locked {
			e.svc.dir.loadMu.Unlock()
		}
	}()
	h, _ := bcrypt.GenerateFromPassword([]byte("erin-password"), 4)
	done := make(chan error, 1)
	go func() {
		_, err := e.st.Update(context.Background(), store.System, func(tx *store.Tx) error {
			return tx.Create(KindUser, "", "erin", &User{Username: "erin", PasswordHash: string(h), MainExtension: "205"}, "CTI user erin created")
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write waited for the CTI's reload")
	}
	if _, _, ok := e.svc.dir.Resolve("erin"); ok {
		t.Fatal("erin resolves while the reload is stuck")
	}
	e.svc.dir.loadMu.Unlock()
	locked = false
	eventually(t, "the reload after the write", func() bool { _, _, ok := e.svc.dir.Resolve("205"); return ok })
	e.login("erin", "erin-password")
}

func TestHealth(t *testing.T) {
	e := newEnv(t, nil)
	h := e.svc.Health(context.Background())
	if h.Status != component.OK || !strings.Contains(h.Detail, e.ami.Addr()) {
		t.Fatalf("connected: %+v", h)
	}
	e.ami.SetDown(true)
	eventually(t, "reconnecting", func() bool {
		h = e.svc.Health(context.Background())
		return h.Status == component.Degraded && strings.Contains(h.Detail, "reconnecting")
	})
	e.drainResync()
	e.ami.SetDown(false)
	e.waitResync()
	if h := e.svc.Health(context.Background()); h.Status != component.OK {
		t.Fatalf("back: %+v", h)
	}

	// A service never served (the passive node) and a disabled one are off.
	st, err := store.Open(context.Background(), store.DefaultConfig(filepath.Join(t.TempDir(), "db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ami, err := amitest.Start("switchboard", "other")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ami.Close)
	cfg := testConfig(ami) // its secret is not the one the double wants
	svc, err := New(cfg, testLogger(t), st)
	if err != nil {
		t.Fatal(err)
	}
	if h := svc.Health(context.Background()); h.Status != component.Off {
		t.Fatalf("not serving: %+v", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); svc.Serve(ctx) }()
	defer func() { cancel(); <-served }()
	// Asterisk refuses the login: degraded (provisioning still works), saying why.
	eventually(t, "degraded", func() bool {
		h := svc.Health(context.Background())
		return h.Status == component.Degraded && strings.Contains(h.Detail, "refused")
	})
	off, err := New(DefaultConfig(), testLogger(t), st)
	if err != nil {
		t.Fatal(err)
	}
	if h := off.Health(context.Background()); h.Status != component.Off {
		t.Fatalf("disabled: %+v", h)
	}
}
