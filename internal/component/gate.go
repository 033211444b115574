package component

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

// RoleSource tells whether this node is the active HA node, and when that
// changes (package ha's Node is one).
type RoleSource interface {
	// IsActive reports whether the node is active now.
	IsActive() bool
	// OnActive registers f, called with the new state on every change.
	OnActive(f func(active bool))
}

// RoleFollower is a component that serves on both HA nodes but works
// otherwise on a passive one (provisioning renders at a pace there): Run
// hands it the role before anything binds. Without HA it is not called.
type RoleFollower interface {
	FollowRole(src RoleSource)
}

// ActiveOnly marks a component that runs on the active HA node only: it is
// bound and served when the node becomes active and stopped (its context
// cancelled, its sockets closed) when it stops being active; its HTTP routes
// answer 503 meanwhile. Without HA it runs as any other component.
func ActiveOnly(c Component) Component { return activeOnly{c} }

type activeOnly struct{ Component }

// Health of a component that is stopped on a passive node says so.
func gatedHealth(c Component, g *gate) func(ctx context.Context) Health {
	return func(ctx context.Context) Health {
		if g != nil && !g.active() {
			return Health{Status: Off, Detail: "runs on the active HA node only"}
		}
		return c.Health(ctx)
	}
}

// gate runs the components that follow the HA role. A nil *gate is always
// open (no HA).
type gate struct {
	log   *slog.Logger
	retry time.Duration

	mu      sync.Mutex
	on      bool
	changed chan struct{} // closed and replaced on every change
}

// retryAfter is what a passive node's 503 asks clients to wait, in seconds.
const retryAfter = 5

func newGate(log *slog.Logger, src RoleSource) *gate {
	g := &gate{log: log, retry: time.Second, changed: make(chan struct{})}
	src.OnActive(g.set)
	g.set(src.IsActive())
	return g
}

// set opens the gate (active) or closes it; gated components are started or
// their contexts cancelled at once.
func (g *gate) set(active bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.on == active {
		return
	}
	g.on = active
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *gate) active() bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.on
}

func (g *gate) state() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.on, g.changed
}

// run binds and serves c while the gate is open, until ctx ends. An error
// while the node is still active is logged and c is run again after a pause (a
// failed re-bind must not take the admin API down with it).
func (g *gate) run(ctx context.Context, c Component) error {
	log := g.log.With("component", c.Name())
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
		log.Info("node active: starting")
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			if err := c.Bind(rctx); err != nil {
				done <- err
				return
			}
			done <- c.Serve(rctx)
		}()
		var err error
		select {
		case err = <-done:
		case <-changed:
			// A change from active can only be to not active.
			cancel()
			<-done //nolint:errcheck // the error after cancel is the cancel itself
			log.Info("node no longer active: stopped")
			continue
		case <-ctx.Done():
			cancel()
			<-done //nolint:errcheck // the error after cancel is the cancel itself
			return nil
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		// It ended by itself while this node is active: retry a failure after a
		// pause; one that simply finished waits for the next activation.
		if err != nil {
			log.Error("failed; retrying", "err", err, "retry_in", g.retry)
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

// handler answers 503 (with a reason and Retry-After) while the gate is closed.
func (g *gate) handler(name string, h http.Handler) http.Handler {
	if g == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.active() {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":%q}`+"\n", passiveReason(name))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// fast is handler for the plain (fasthttp) listener.
func (g *gate) fast(name string, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	if g == nil {
		return h
	}
	return func(ctx *fasthttp.RequestCtx) {
		if !g.active() {
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(retryAfter))
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			fmt.Fprintf(ctx, `{"error":%q}`+"\n", passiveReason(name))
			return
		}
		h(ctx)
	}
}

func passiveReason(name string) string {
	return "this node is not the active HA node: " + name + " is served by the active node (the resource IP)"
}
