package component

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// Authenticator turns an admin route into an HTTP handler that authenticates
// the caller first (the admin API's bearer tokens and control socket).
type Authenticator interface {
	Wrap(h httpapi.Handler) http.Handler
}

// Web is the HTTP side the components share: the HTTPS routes, the plain-HTTP
// prefixes phones use, /healthz on both, /metrics, and one count of every
// response. The listeners (package httpd) serve Secure and Plain; Run mounts
// the components' routes before any listener serves.
type Web struct {
	auth     Authenticator
	secure   *http.ServeMux
	plain    []plainRoute
	gatherer prometheus.Gatherer
	requests *prometheus.CounterVec
	health   func(ctx context.Context) healthReport
	routes   []Route
}

// Route is one API route a component mounted: the OpenAPI document is checked
// against this list, so it comes from the router itself.
type Route struct {
	// Pattern is the net/http pattern, "GET /api/v1/tenants/{id}".
	Pattern string
	// Component is the name of the component that mounted it.
	Component string
	// Public routes skip authentication (the login, the API description).
	Public bool
}

type plainRoute struct {
	prefix []byte
	h      fasthttp.RequestHandler
}

// NewWeb makes the shared HTTP side; auth wraps every admin route.
func NewWeb(auth Authenticator) *Web {
	return &Web{auth: auth, secure: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_http_requests_total",
			Help: "HTTP requests by listener, area and status code."}, []string{"listener", "area", "code"}),
		health: func(context.Context) healthReport { return healthReport{Status: OK, Components: map[string]Health{}} },
	}
}

// router is a component's view of the Web: routes of a component that follows
// the HA role go through its gate.
type router struct {
	w    *Web
	name string
	gate *gate // nil: always served
}

func (r router) Admin(pattern string, h httpapi.Handler) {
	if _, path, _ := strings.Cut(pattern, " "); !strings.HasPrefix(path, "/api/v1/") {
		panic("component " + r.name + ": admin route outside /api/v1/: " + pattern)
	}
	r.w.routes = append(r.w.routes, Route{Pattern: pattern, Component: r.name})
	r.w.secure.Handle(pattern, r.w.auth.Wrap(h))
}

func (r router) Handle(pattern string, h http.Handler) {
	// A method-qualified route under /api/v1/ is part of the API (the login);
	// prefixes ("/api/", "/webrest/") are not.
	if method, path, ok := strings.Cut(pattern, " "); ok && method != "" && strings.HasPrefix(path, "/api/v1/") {
		r.w.routes = append(r.w.routes, Route{Pattern: pattern, Component: r.name, Public: true})
	}
	r.w.secure.Handle(pattern, r.gate.handler(r.name, h))
}

// Routes lists the API routes mounted so far, sorted by path then method.
func (w *Web) Routes() []Route {
	out := append([]Route(nil), w.routes...)
	sort.Slice(out, func(i, j int) bool {
		mi, pi, _ := strings.Cut(out[i].Pattern, " ")
		mj, pj, _ := strings.Cut(out[j].Pattern, " ")
		if pi != pj {
			return pi < pj
		}
		return mi < mj
	})
	return out
}

func (r router) Plain(prefix string, h fasthttp.RequestHandler) {
	r.w.plain = append(r.w.plain, plainRoute{prefix: []byte(prefix), h: r.gate.fast(r.name, h)})
}

// Secure is the HTTPS listener's handler: every route, /healthz and /metrics.
func (w *Web) Secure() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", w.secure)
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		code, body := w.healthNow(r.Context(), r.URL.Query().Get("role") == "active")
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Cache-Control", "no-store")
		rw.WriteHeader(code)
		rw.Write(body) //nolint:errcheck // the client went away
	})
	// Run sets the registry after the listeners are built: look it up per scrape.
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, r *http.Request) {
		g := w.gatherer
		if g == nil {
			g = prometheus.NewRegistry()
		}
		promhttp.HandlerFor(g, promhttp.HandlerOpts{}).ServeHTTP(rw, r)
	})
	return countHTTP(w.requests, "https", mux)
}

// Plain is the plain-HTTP listener's handler: the components' prefixes,
// /healthz, and fallback (a redirect to HTTPS) for everything else.
func (w *Web) Plain(fallback fasthttp.RequestHandler) fasthttp.RequestHandler {
	h := func(ctx *fasthttp.RequestCtx) {
		p := ctx.Path()
		for _, rt := range w.plain {
			if bytes.HasPrefix(p, rt.prefix) {
				rt.h(ctx)
				return
			}
		}
		if string(p) == "/healthz" && ctx.IsGet() {
			code, body := w.healthNow(ctx, string(ctx.QueryArgs().Peek("role")) == "active")
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetStatusCode(code)
			ctx.SetBody(body)
			return
		}
		fallback(ctx)
	}
	return countFast(w.requests, h)
}

// healthNow is /healthz. A passive HA node is healthy (200) when its parts
// are: it is ready to take over. A load balancer in front of both nodes asks
// /healthz?role=active instead, which answers 503 on the passive node, so
// that only the active one gets traffic.
func (w *Web) healthNow(ctx context.Context, activeOnly bool) (int, []byte) {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := w.health(hctx)
	code, body := marshalHealth(r)
	if activeOnly && r.Role == "passive" {
		code = http.StatusServiceUnavailable
	}
	return code, body
}

// healthReport is the body of /healthz.
type healthReport struct {
	Status     Status            `json:"status"`
	Revision   int64             `json:"revision"`
	Role       string            `json:"role,omitempty"`
	Components map[string]Health `json:"components"`
}

func marshalHealth(r healthReport) (int, []byte) {
	b, _ := json.Marshal(r) //nolint:errchkjson // plain strings and numbers
	code := http.StatusOK
	if r.Status == Down {
		code = http.StatusServiceUnavailable
	}
	return code, append(b, '\n')
}

// area is the first path element of the routes worth a label of their own.
func area(path string) string {
	a, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch a {
	case "api", "provisioning", "healthz", "metrics", "webrest", "socket.io":
		return a
	}
	return "other"
}

// countHTTP records each response's status code by listener and area. Counters
// are looked up once per (area, code): this sits on the phones' hot path.
func countHTTP(c *prometheus.CounterVec, listener string, h http.Handler) http.Handler {
	var cache sync.Map
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		counter(&cache, c, listener, area(r.URL.Path), rec.code).Inc()
	})
}

// countFast is countHTTP for the plain (fasthttp) listener.
func countFast(c *prometheus.CounterVec, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	var cache sync.Map
	return func(ctx *fasthttp.RequestCtx) {
		h(ctx)
		a := "other"
		p := ctx.Path()
		switch {
		case string(p) == "/healthz":
			a = "healthz"
		case bytes.HasPrefix(p, []byte("/provisioning/")):
			a = "provisioning"
		}
		counter(&cache, c, "http", a, ctx.Response.StatusCode()).Inc()
	}
}

type counterKey struct {
	area string
	code int
}

func counter(cache *sync.Map, c *prometheus.CounterVec, listener, area string, code int) prometheus.Counter {
	k := counterKey{area, code}
	ctr, ok := cache.Load(k)
	if !ok {
		ctr, _ = cache.LoadOrStore(k, c.WithLabelValues(listener, area, strconv.Itoa(code)))
	}
	return ctr.(prometheus.Counter)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Mount adds the routes of components outside Run, ungated: for tests and
// tools that serve a few components' routes without running them.
func (w *Web) Mount(cs ...Component) {
	for _, c := range cs {
		c.Routes(router{w: w, name: c.Name()})
	}
}
