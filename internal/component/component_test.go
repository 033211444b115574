package component

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/component/roletest"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// udpComp binds a fresh UDP socket at each Bind, as the gated services do, and
// counts what is open, so tests see binding and release without guessing ports.
type udpComp struct {
	Base
	name   string
	runs   atomic.Int32
	open   atomic.Int32
	fail   atomic.Int32 // fail this many binds
	mu     sync.Mutex
	pc     net.PacketConn
	commit chan store.Commit
}

func (u *udpComp) Name() string { return u.name }

func (u *udpComp) Bind(context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pc != nil {
		return nil
	}
	if u.fail.Load() > 0 {
		u.fail.Add(-1)
		return errors.New("bind failed")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	u.pc = pc
	u.open.Add(1)
	return nil
}

func (u *udpComp) Serve(ctx context.Context) error {
	if err := u.Bind(ctx); err != nil {
		return err
	}
	u.runs.Add(1)
	<-ctx.Done()
	u.mu.Lock()
	u.pc.Close()
	u.pc = nil
	u.open.Add(-1)
	u.mu.Unlock()
	return nil
}

func (u *udpComp) Routes(r Router) {
	r.Handle("/"+u.name+"/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	r.Plain("/"+u.name+"/", func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(http.StatusTeapot) })
	r.Admin("GET /api/v1/"+u.name, func(w http.ResponseWriter, _ *http.Request, p httpapi.Principal) error {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"user": p.User})
		return nil
	})
}

func (u *udpComp) Commit(c store.Commit) {
	if u.commit != nil {
		u.commit <- c
	}
}

// auth lets every admin route through as "tester".
type auth struct{}

func (auth) Wrap(h httpapi.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, httpapi.Principal{User: "tester", Role: httpapi.RoleAdmin}); err != nil {
			httpapi.WriteError(w, http.StatusInternalServerError, "", err.Error())
		}
	})
}

type harness struct {
	st    *store.Store
	web   *Web
	done  chan error
	stop  context.CancelFunc
	ready chan struct{}
}

func start(t *testing.T, rs RoleSource, list ...Component) *harness {
	t.Helper()
	st, err := store.Open(t.Context(), store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{st: st, web: NewWeb(auth{}), done: make(chan error, 1), ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	log := slog.New(slog.DiscardHandler)
	go func() {
		h.done <- Run(ctx, Options{Log: log, Store: st, Registry: prometheus.NewRegistry(), Web: h.web, Role: rs,
			Ready: func() { close(h.ready) }}, list...)
	}()
	t.Cleanup(func() { cancel(); <-h.done })
	select {
	case <-h.ready:
	case err := <-h.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	return h
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) get(path string) int {
	rec := httptest.NewRecorder()
	h.web.Secure().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code
}

func (h *harness) getPlain(path string) int {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(path)
	h.web.Plain(func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(http.StatusMovedPermanently) })(&ctx)
	return ctx.Response.StatusCode()
}

func (h *harness) health(t *testing.T) (int, healthReport) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.web.Secure().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var r healthReport
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("healthz %q: %v", rec.Body.String(), err)
	}
	return rec.Code, r
}

// TestActiveOnlyFollowsRole: a gated component is not bound while passive
// (its routes answer 503, its health is off), is bound and served on
// activation, and released at once when the node stops being active, three
// times over; an ungated one runs throughout.
func TestActiveOnlyFollowsRole(t *testing.T) {
	rs := &roletest.Role{}
	gated, always := &udpComp{name: "gated"}, &udpComp{name: "always"}
	h := start(t, rs, always, ActiveOnly(gated))
	if gated.runs.Load() != 0 || gated.open.Load() != 0 {
		t.Fatalf("passive: %d runs, %d open", gated.runs.Load(), gated.open.Load())
	}
	if always.open.Load() != 1 {
		t.Fatal("ungated component not bound")
	}
	for round := int32(1); round <= 3; round++ {
		if c := h.get("/gated/x"); c != http.StatusServiceUnavailable {
			t.Fatalf("round %d passive: HTTPS %d", round, c)
		}
		if c := h.getPlain("/gated/x"); c != http.StatusServiceUnavailable {
			t.Fatalf("round %d passive: plain %d", round, c)
		}
		if code, r := h.health(t); code != http.StatusOK || r.Components["gated"].Status != Off || r.Role != "passive" {
			t.Fatalf("round %d passive health %d: %+v", round, code, r)
		}
		// A load balancer asks for the active node: the passive one is out.
		if c := h.get("/healthz?role=active"); c != http.StatusServiceUnavailable {
			t.Fatalf("round %d passive: /healthz?role=active %d", round, c)
		}
		rs.Set(true)
		waitFor(t, "activation", func() bool { return gated.runs.Load() == round && gated.open.Load() == 1 })
		if c := h.get("/gated/x"); c != http.StatusTeapot {
			t.Fatalf("round %d active: HTTPS %d", round, c)
		}
		if c := h.getPlain("/gated/x"); c != http.StatusTeapot {
			t.Fatalf("round %d active: plain %d", round, c)
		}
		if code, r := h.health(t); code != http.StatusOK || r.Components["gated"].Status != OK || r.Role != "active" {
			t.Fatalf("round %d active health %d: %+v", round, code, r)
		}
		if c := h.get("/healthz?role=active"); c != http.StatusOK {
			t.Fatalf("round %d active: /healthz?role=active %d", round, c)
		}
		rs.Set(true) // no change: no restart
		rs.Set(false)
		waitFor(t, "release", func() bool { return gated.open.Load() == 0 })
	}
	if always.runs.Load() != 1 || always.open.Load() != 1 {
		t.Fatalf("ungated: %d runs, %d open", always.runs.Load(), always.open.Load())
	}
	if c := h.get("/always/x"); c != http.StatusTeapot {
		t.Fatalf("ungated route: %d", c)
	}
	h.stop()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for the cleanup
	if always.open.Load() != 0 || gated.open.Load() != 0 {
		t.Fatal("sockets open after shutdown")
	}
}

// TestActiveOnlyRetriesFailure: a gated component that fails to bind while
// active is retried; the daemon does not stop.
func TestActiveOnlyRetriesFailure(t *testing.T) {
	rs := &roletest.Role{}
	rs.Set(true)
	c := &udpComp{name: "flaky"}
	c.fail.Store(2)
	start(t, rs, ActiveOnly(c))
	waitFor(t, "bound after two failures", func() bool { return c.open.Load() == 1 })
}

// TestBindFailureStopsStartup: without HA a component that cannot bind stops
// Run before anything serves, naming the component.
func TestBindFailureStopsStartup(t *testing.T) {
	c := &udpComp{name: "busy"}
	c.fail.Store(1)
	st, err := store.Open(t.Context(), store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = Run(t.Context(), Options{Log: slog.New(slog.DiscardHandler), Store: st,
		Registry: prometheus.NewRegistry(), Web: NewWeb(auth{})}, c)
	if err == nil || err.Error() != "busy: bind failed" {
		t.Fatalf("Run = %v", err)
	}
	if c.runs.Load() != 0 {
		t.Fatal("served after a failed bind")
	}
}

// TestCommitsReachComponents: commits reach every component, in order, and an
// admin route gets the authenticated principal.
func TestCommitsReachComponents(t *testing.T) {
	a := &udpComp{name: "a", commit: make(chan store.Commit, 16)}
	b := &udpComp{name: "b", commit: make(chan store.Commit, 16)}
	h := start(t, nil, a, b)
	for i := range 3 {
		if _, err := h.st.Update(t.Context(), store.System, func(tx *store.Tx) error {
			return tx.Create("widget", "", string(rune('x'+i)), map[string]int{"v": i}, "")
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*udpComp{a, b} {
		var last int64
		for last < 3 {
			select {
			case cm := <-c.commit:
				if cm.Rev <= last {
					t.Fatalf("%s: revision %d after %d", c.name, cm.Rev, last)
				}
				last = cm.Rev
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no commit after revision %d", c.name, last)
			}
		}
	}
	rec := httptest.NewRecorder()
	h.web.Secure().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/a", nil))
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) || rec.Body.String() == "" {
		t.Fatalf("admin route: %d %s", rec.Code, rec.Body)
	}
}

// TestListedTwice: a name is one component.
func TestListedTwice(t *testing.T) {
	st, err := store.Open(t.Context(), store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = Run(t.Context(), Options{Log: slog.New(slog.DiscardHandler), Store: st,
		Registry: prometheus.NewRegistry(), Web: NewWeb(auth{})}, &udpComp{name: "x"}, &udpComp{name: "x"})
	if err == nil {
		t.Fatal("two components named x accepted")
	}
}

// follower is a component that records the role Run hands it.
type follower struct {
	Base
	got RoleSource
}

func (f *follower) Name() string                    { return "follower" }
func (f *follower) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (f *follower) FollowRole(src RoleSource)       { f.got = src }

// TestRoleFollowerGetsTheRole: a component that serves on both nodes but
// follows the role (RoleFollower) gets the HA role from Run before it serves,
// gated or not; without HA it is not asked.
func TestRoleFollowerGetsTheRole(t *testing.T) {
	rs := &roletest.Role{}
	plain, gated := &follower{}, &follower{}
	start(t, rs, plain)
	if plain.got != rs {
		t.Fatalf("a follower got role %v, want the daemon's", plain.got)
	}
	start(t, rs, ActiveOnly(gated))
	if gated.got != rs {
		t.Fatalf("a gated follower got role %v, want the daemon's", gated.got)
	}
	none := &follower{}
	start(t, nil, none)
	if none.got != nil {
		t.Fatalf("without HA a follower got role %v", none.got)
	}
}
