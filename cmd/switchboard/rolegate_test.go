package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// udpService binds a fresh UDP socket on 127.0.0.1:port at each run, as the gated
// services do, and reports each bound address.
type udpService struct {
	port  int
	runs  atomic.Int32
	bound chan string
	fail  atomic.Int32 // fail this many runs before binding
}

func (u *udpService) serve(ctx context.Context) error {
	u.runs.Add(1)
	if u.fail.Load() > 0 {
		u.fail.Add(-1)
		return errors.New("bind failed")
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(u.port)))
	if err != nil {
		return err
	}
	defer pc.Close()
	u.bound <- pc.LocalAddr().String()
	<-ctx.Done()
	return nil
}

func freeUDPPort(t *testing.T) int {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// portFree reports whether the service's socket is closed (the port can be bound).
func portFree(port int) bool {
	pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestRoleGateStartStopRestart(t *testing.T) {
	g := newRoleGate(quietLog())
	svc := &udpService{port: freeUDPPort(t), bound: make(chan string, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run("udp", svc.serve)(ctx) }()

	// Passive (the gate starts closed): nothing runs, nothing is bound.
	time.Sleep(50 * time.Millisecond)
	if n := svc.runs.Load(); n != 0 || !portFree(svc.port) {
		t.Fatalf("closed gate: %d runs, port free %v", n, portFree(svc.port))
	}
	for round := 1; round <= 3; round++ {
		g.set(true)
		select {
		case <-svc.bound:
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: not started when active", round)
		}
		if n := svc.runs.Load(); n != int32(round) {
			t.Fatalf("round %d: %d runs", round, n)
		}
		g.set(true) // no change: no restart
		time.Sleep(20 * time.Millisecond)
		if n := svc.runs.Load(); n != int32(round) {
			t.Fatalf("round %d: restarted on a non-change (%d runs)", round, n)
		}
		start := time.Now()
		g.set(false)
		waitFor(t, "the socket to close after leaving active", func() bool { return portFree(svc.port) })
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("stopping took %v", d)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return when ctx ended")
	}
}

func TestRoleGateRetriesFailureWhileActive(t *testing.T) {
	g := newRoleGate(quietLog())
	g.retry = 20 * time.Millisecond
	svc := &udpService{port: freeUDPPort(t), bound: make(chan string, 4)}
	svc.fail.Store(2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.set(true)
	go g.Run("udp", svc.serve)(ctx) //nolint:errcheck // ends with ctx
	select {
	case <-svc.bound:
	case <-time.After(2 * time.Second):
		t.Fatal("not retried after failing to bind")
	}
	if n := svc.runs.Load(); n != 3 {
		t.Fatalf("%d runs, want 3 (two failures, then bound)", n)
	}
}

func TestRoleGateCancelWhileActive(t *testing.T) {
	g := newRoleGate(quietLog())
	svc := &udpService{port: freeUDPPort(t), bound: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	g.set(true)
	done := make(chan error, 1)
	go func() { done <- g.Run("udp", svc.serve)(ctx) }()
	<-svc.bound
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !portFree(svc.port) {
		t.Fatal("socket still bound after shutdown")
	}
}

func TestRoleGateDisabledAlwaysOn(t *testing.T) {
	g := alwaysOpen()
	g.set(false) // ignored: without HA nothing follows a role
	if !g.Active() {
		t.Fatal("always-open gate closed")
	}
	// The service is not wrapped: it runs once, and its error comes back as is.
	boom := errors.New("boom")
	if err := g.Run("x", func(context.Context) error { return boom })(context.Background()); err != boom {
		t.Fatalf("got %v, want the service's own error", err)
	}
	h := g.Handler("provisioning", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/provisioning/x.cfg", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestRoleGateHandler503WhilePassive(t *testing.T) {
	g := newRoleGate(quietLog())
	h := g.Handler("provisioning", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/provisioning/x.cfg", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("passive: status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	g.set(true)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/provisioning/x.cfg", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("active: status %d", rec.Code)
	}
}

func TestRoleGateFast503WhilePassive(t *testing.T) {
	g := newRoleGate(quietLog())
	h := g.Fast("provisioning", func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(http.StatusTeapot) })
	var ctx fasthttp.RequestCtx
	h(&ctx)
	if ctx.Response.StatusCode() != http.StatusServiceUnavailable || len(ctx.Response.Header.Peek("Retry-After")) == 0 {
		t.Fatalf("passive: status %d", ctx.Response.StatusCode())
	}
	g.set(true)
	ctx.Response.Reset()
	h(&ctx)
	if ctx.Response.StatusCode() != http.StatusTeapot {
		t.Fatalf("active: status %d", ctx.Response.StatusCode())
	}
}
