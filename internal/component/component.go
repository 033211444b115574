package component

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// Component is one service of "switchboard serve". The daemon is the list of
// its components; Run drives each one through the same life cycle:
//
//	Routes, Collectors (once) -> Bind -> Serve(ctx) ... ctx ends -> Serve returns
//
// and delivers store commits to Commit and asks Health for /healthz meanwhile.
// A component that follows the HA role (see ActiveOnly) is bound and served each
// time the node becomes active and stopped when it stops being active.
type Component interface {
	// Name is the component's name: the "component" key of its log lines, its
	// entry in /healthz and in errors Run returns ("tftp", "cti", ...).
	Name() string
	// Bind acquires what the component listens on. Without HA it runs for every
	// component before any serves, so that a busy port stops start-up with one
	// line naming it. It may run again after Serve returned.
	Bind(ctx context.Context) error
	// Serve runs until ctx ends, then releases what Bind acquired and returns
	// nil. An error means the component failed; Run stops the daemon (or, for a
	// component following the HA role, logs it and runs it again).
	Serve(ctx context.Context) error
	// Routes mounts the component's HTTP routes. It runs once, before Bind.
	Routes(r Router)
	// Collectors are the component's Prometheus metrics, registered once.
	Collectors() []prometheus.Collector
	// Commit receives store commits once they are durable: in revision order,
	// off the store's commit lock (a slow component never delays a writer), and
	// coalesced while the component is still busy with the previous delivery.
	Commit(c store.Commit)
	// Health is the component's state for /healthz.
	Health(ctx context.Context) Health
}

// Router is where components mount HTTP routes. There is one way to add an
// admin route (Admin), one for the HTTPS listener (Handle) and one for the
// plain-HTTP listener phones use (Plain).
type Router interface {
	// Admin adds an admin API route, a net/http pattern under /api/v1/
	// ("GET /api/v1/ha"): bearer-token or control-socket authentication,
	// auditors limited to GET and HEAD, errors answered as JSON.
	Admin(pattern string, h httpapi.Handler)
	// Handle adds a route to the HTTPS listener (the CTI's /webrest/, the
	// console's /). Routes of a component that follows the HA role answer 503
	// on the passive node.
	Handle(pattern string, h http.Handler)
	// Plain serves a path prefix on the plain-HTTP listener too (fasthttp: the
	// phones' boot-storm path), with the same HA rule as Handle.
	Plain(prefix string, h fasthttp.RequestHandler)
}

// Status is a component's health.
type Status string

// Health states. /healthz answers 200 while every component is OK, Off or
// Degraded, and 503 when one is Down.
const (
	OK       Status = "ok"
	Degraded Status = "degraded" // working, with a problem worth a look (AMI reconnecting, ...)
	Down     Status = "down"     // not doing its job
	Off      Status = "off"      // not running here by design (passive HA node, disabled)
)

// Health is what a component reports about itself.
type Health struct {
	Status Status `json:"status"`
	// Detail says why, in words an operator acts on.
	Detail string `json:"detail,omitempty"`
}

// Base gives a component the no-op parts of the contract; embed it and write
// only what the component needs (Name and Serve at least).
type Base struct{}

// Bind acquires nothing.
func (Base) Bind(context.Context) error { return nil }

// Routes mounts nothing.
func (Base) Routes(Router) {}

// Collectors registers nothing.
func (Base) Collectors() []prometheus.Collector { return nil }

// Commit ignores commits.
func (Base) Commit(store.Commit) {}

// Health is always OK.
func (Base) Health(context.Context) Health { return Health{Status: OK} }
