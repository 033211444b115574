package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/store"
)

// Options is what Run needs besides the components.
type Options struct {
	// Log is the daemon's logger; Run's own lines carry component=<name>.
	Log *slog.Logger
	// Store delivers commits to the components and answers /healthz.
	Store *store.Store
	// Registry receives every component's collectors; /metrics serves it.
	Registry *prometheus.Registry
	// Web is where routes are mounted (the listeners serve it).
	Web *Web
	// Role is the HA role; nil runs every component unconditionally.
	Role RoleSource
	// Ready is called once every component is bound and serving.
	Ready func()
}

type entry struct {
	c    Component
	gate *gate // nil: not gated
}

// Run mounts the components' routes and metrics, binds them (a component that
// follows the HA role binds when the node becomes active), delivers store
// commits to them and serves them until ctx ends or one fails. It returns when
// every component has stopped, with the failures joined.
func Run(ctx context.Context, o Options, list ...Component) error {
	var g *gate
	if o.Role != nil {
		g = newGate(o.Log, o.Role)
	}
	entries := make([]entry, len(list))
	for i, c := range list {
		e := entry{c: c}
		if a, ok := c.(activeOnly); ok {
			e.c, e.gate = a.Component, g
		}
		if f, ok := e.c.(RoleFollower); ok && o.Role != nil {
			f.FollowRole(o.Role)
		}
		entries[i] = e
	}
	if err := mount(o, entries); err != nil {
		return err
	}
	o.Web.health = healthFunc(o, entries)
	// Bind what serves unconditionally; without HA everything, so that a busy
	// port stops start-up with one line naming it.
	for _, e := range entries {
		if e.gate == nil {
			if err := e.c.Bind(ctx); err != nil {
				return fmt.Errorf("%s: %w", e.c.Name(), err)
			}
		}
	}
	for _, e := range entries {
		defer o.Store.Subscribe(e.c.Commit)()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(entries))
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if e.gate != nil {
				err = e.gate.run(ctx, e.c)
			} else {
				err = e.c.Serve(ctx)
			}
			if err != nil {
				errc <- fmt.Errorf("%s: %w", e.c.Name(), err)
				cancel()
			}
		}()
	}
	if o.Ready != nil {
		o.Ready()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mount adds every component's routes and registers its collectors, and the
// Web's own request counter.
func mount(o Options, entries []entry) error {
	o.Web.gatherer = o.Registry
	if err := o.Registry.Register(o.Web.requests); err != nil {
		return fmt.Errorf("http: metrics: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		name := e.c.Name()
		if names[name] {
			return fmt.Errorf("component %q listed twice", name)
		}
		names[name] = true
		e.c.Routes(router{w: o.Web, name: name, gate: e.gate})
		for _, col := range e.c.Collectors() {
			if err := o.Registry.Register(col); err != nil {
				return fmt.Errorf("%s: metrics: %w", name, err)
			}
		}
	}
	return nil
}

// healthFunc is /healthz: the store, then every component; 503 when the store
// or a component is down.
func healthFunc(o Options, entries []entry) func(ctx context.Context) healthReport {
	return func(ctx context.Context) healthReport {
		r := healthReport{Status: OK, Revision: o.Store.Revision(), Components: map[string]Health{}}
		if o.Role != nil {
			r.Role = "passive"
			if o.Role.IsActive() {
				r.Role = "active"
			}
		}
		worst := func(h Health) {
			switch {
			case h.Status == Down:
				r.Status = Down
			case h.Status == Degraded && r.Status == OK:
				r.Status = Degraded
			}
		}
		st := Health{Status: OK}
		if err := o.Store.Ping(ctx); err != nil {
			st = Health{Status: Down, Detail: "database: " + err.Error()}
		}
		r.Components["store"] = st
		worst(st)
		for _, e := range entries {
			h := gatedHealth(e.c, e.gate)(ctx)
			r.Components[e.c.Name()] = h
			worst(h)
		}
		return r
	}
}
