package tasks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// ---- data sources ----

type legSource []report.CDR

func (s legSource) Legs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	for i := range s {
		if !s[i].Start.Before(from) && s[i].Start.Before(to) {
			if err := fn(&s[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

type queueSource struct{ calls []report.QueueCall }

func (q queueSource) QueueCalls(ctx context.Context, from, to time.Time, fn func(*report.QueueCall) error) error {
	for i := range q.calls {
		if !q.calls[i].Entered.Before(from) && q.calls[i].Entered.Before(to) {
			if err := fn(&q.calls[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (q queueSource) AgentEvents(ctx context.Context, from, to time.Time, fn func(*report.AgentEvent) error) error {
	return nil
}

// ---- a fake clock ----

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t.c, func() {}
	}
	c.timers = append(c.timers, t)
	return t.c, func() { c.remove(t) }
}

func (c *fakeClock) remove(t *fakeTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// set moves the clock to t and fires the timers due.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.timers[:0]
	for _, x := range c.timers {
		if !x.at.After(t) {
			x.c <- t
		} else {
			keep = append(keep, x)
		}
	}
	c.timers = keep
}

// nextTimer waits until a timer is armed and returns its deadline.
func (c *fakeClock) nextTimer(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	eventually(t, "the scheduler arms a timer", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.timers) == 0 {
			return false
		}
		at = c.timers[0].at
		for _, x := range c.timers {
			if x.at.Before(at) {
				at = x.at
			}
		}
		return true
	})
	return at
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- the service over a real store, and its API ----

type env struct {
	t    *testing.T
	st   *store.Store
	svc  *Service
	mux  *http.ServeMux
	srv  *httptest.Server
	stop context.CancelFunc
	done chan struct{}
}

func newEnv(t *testing.T, cfg Config, d Deps) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.KeyFile == "" {
		cfg.KeyFile = filepath.Join(dir, "mail.key")
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(dir, "exports")
	}
	d.Store = st
	svc, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	svc.mail.sleep = func(ctx context.Context, d time.Duration) error { return nil }
	e := &env{t: t, st: st, svc: svc, mux: http.NewServeMux()}
	svc.Routes(testRouter{e.mux})
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	return e
}

func testConfig() Config {
	c := DefaultConfig()
	c.TimeZone = "Europe/Rome"
	return c
}

// serve starts the scheduler; it stops at the end of the test.
func (e *env) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		e.svc.Serve(ctx) //nolint:errcheck // returns nil
	}()
	eventually(e.t, "the scheduler is up", func() bool { return e.svc.active.Load() != nil })
	e.t.Cleanup(func() { cancel(); <-e.done })
}

// testRouter mounts admin routes with the principal named by X-Role.
type testRouter struct{ mux *http.ServeMux }

func (r testRouter) Admin(pattern string, h httpapi.Handler) {
	r.mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
		p := httpapi.Principal{User: "alice", Role: httpapi.RoleAdmin, IP: "192.0.2.1"}
		switch req.Header.Get("X-Role") {
		case "auditor":
			p = httpapi.Principal{User: "audrey", Role: httpapi.RoleAuditor, IP: "192.0.2.2"}
			if req.Method != http.MethodGet {
				httpapi.WriteError(w, http.StatusForbidden, "", "your role is read-only")
				return
			}
		case "tenant_admin":
			p = httpapi.Principal{User: "tina", Role: httpapi.RoleTenantAdmin, Tenant: "t1", IP: "192.0.2.3"}
		}
		if err := h(w, req, p); err != nil {
			if status, field, msg, ok := httpapi.Status(err); ok {
				httpapi.WriteError(w, status, field, msg)
				return
			}
			httpapi.WriteError(w, http.StatusInternalServerError, "", err.Error())
		}
	})
}
func (testRouter) Handle(string, http.Handler)           {}
func (testRouter) Plain(string, fasthttp.RequestHandler) {}

// do sends a JSON request and decodes the answer into out (if not nil).
func (e *env) do(method, path, role, body string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("X-Role", role)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}
