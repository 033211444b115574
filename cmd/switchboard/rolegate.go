package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// roleGate runs the services that follow the HA active role: each one runs with a
// context that ends when this node stops being active, and runs again (binding its
// sockets anew: every gated Serve listens when it has no socket) when it becomes
// active again. Without HA the gate is always open and a service runs exactly once,
// as if it were not gated.
type roleGate struct {
	log    *slog.Logger
	always bool // HA disabled: open for good
	retry  time.Duration

	mu      sync.Mutex
	active  bool
	changed chan struct{} // closed and replaced on every change
}

// retryAfter is what a passive node's 503 asks clients to wait, in seconds.
const retryAfter = 5

// alwaysOpen is the gate without HA.
func alwaysOpen() *roleGate {
	return &roleGate{always: true, active: true, changed: make(chan struct{})}
}

// newRoleGate starts closed; feed it with set (ha.Node.OnRole).
func newRoleGate(log *slog.Logger) *roleGate {
	return &roleGate{log: log, retry: time.Second, changed: make(chan struct{})}
}

// set opens the gate (active) or closes it; gated services are started or their
// contexts cancelled at once.
func (g *roleGate) set(active bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.always || g.active == active {
		return
	}
	g.active = active
	close(g.changed)
	g.changed = make(chan struct{})
}

// Active reports whether the gated services should be running now.
func (g *roleGate) Active() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active
}

func (g *roleGate) state() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active, g.changed
}

// Run wraps svc: the result runs svc while the gate is open and until ctx ends.
// An error of svc while the node is still active is logged and svc is run again
// after a pause (a failed re-bind must not take the admin API down with it);
// without HA the error is returned, as an ungated service's would be.
func (g *roleGate) Run(name string, svc func(context.Context) error) func(context.Context) error {
	if g.always {
		return svc
	}
	return func(ctx context.Context) error {
		for {
			active, changed := g.state()
			if !active {
				select {
				case <-ctx.Done():
					return nil
				case <-changed:
					continue
				}
			}
			g.log.Info("ha: active: starting service", "service", name)
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- svc(rctx) }()
			var err error
			select {
			case err = <-done:
			case <-changed:
				// A change from active can only be to not active.
				cancel()
				<-done
				g.log.Info("ha: no longer active: service stopped", "service", name)
				continue
			case <-ctx.Done():
				cancel()
				<-done
				return nil
			}
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			// The service ended by itself while this node is active: retry a failure
			// after a pause; one that simply finished waits for the next activation.
			if err != nil {
				g.log.Error("ha: service failed; retrying", "service", name, "err", err, "retry_in", g.retry)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(g.retry):
				}
				continue
			}
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
			}
		}
	}
}

// Handler answers 503 (with a reason and Retry-After) while the gate is closed.
func (g *roleGate) Handler(what string, h http.Handler) http.Handler {
	if g.always {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.Active() {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":%q}`+"\n", passiveReason(what))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Fast is Handler for the plain (fasthttp) listener.
func (g *roleGate) Fast(what string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	if g.always {
		return h
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !g.Active() {
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(retryAfter))
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			fmt.Fprintf(ctx, `{"error":%q}`+"\n", passiveReason(what))
			return
		}
		h(ctx)
	}
}

func passiveReason(what string) string {
	return "this node is not the active HA node: " + what + " is served by the active node (the resource IP)"
}
