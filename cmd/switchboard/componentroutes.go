package main

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// componentRoutes mounts a component's routes on today's admin API and HTTPS
// mux, and feeds it the store's commits, until serve runs its components through
// internal/component (which replaces this file).
type componentRoutes struct {
	api    *admin.API
	secure *http.ServeMux
	gate   *roleGate
	what   string // how the gate names the component on the passive node
}

var _ component.Router = componentRoutes{}

func (r componentRoutes) Admin(pattern string, h httpapi.Handler) {
	r.api.Mount(pattern, func(w http.ResponseWriter, req *http.Request, p admin.Principal) error {
		return h(w, req, httpapi.Principal(p))
	})
}

func (r componentRoutes) Handle(pattern string, h http.Handler) {
	r.secure.Handle(pattern, r.gate.Handler(r.what, h))
}

func (r componentRoutes) Plain(string, fasthttp.RequestHandler) {
	panic("componentRoutes: no plain-HTTP routes before the component runner")
}

// feedCommits hands the store's commits to c. c.Commit must not block: it runs
// on the store's commit lock until the component runner delivers commits.
func feedCommits(st *store.Store, c component.Component) {
	st.OnCommit(func(rev int64, changes []store.Change) { c.Commit(store.Commit{Rev: rev, Changes: changes}) })
}
