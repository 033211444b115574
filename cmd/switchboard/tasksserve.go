package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/report/pbxdb"
	"github.com/switchboard-pbx/switchboard/store"
	"github.com/switchboard-pbx/switchboard/tasks"
)

// setupTasks makes the scheduled-tasks component with its data source and
// mounts its API. Until serve is the list of components, its admin routes go
// through adminRouter and its Serve through the role gate (active node only).
func setupTasks(cfg config.Config, log *slog.Logger, st *store.Store, prov *provision.Service, api *admin.API,
	reg prometheus.Registerer) (*tasks.Service, func() error, error) {
	var src report.Sources
	closeSrc := func() error { return nil }
	if cfg.Tasks.CDR.Source == "database" {
		loc := time.Local
		if z := cfg.Tasks.CDR.PBXTimeZone; z != "" {
			loc, _ = time.LoadLocation(z) // validated by config
		} else if z := cfg.Tasks.TimeZone; z != "" {
			loc, _ = time.LoadLocation(z)
		}
		db, err := pbxdb.Open(pbxdb.Config{DSN: cfg.Tasks.CDR.DSN, Table: cfg.Tasks.CDR.Table,
			QueueLog: cfg.Tasks.CDR.QueueLogTable, Location: loc})
		if err != nil {
			return nil, nil, fmt.Errorf("config: key tasks.cdr.dsn: %w", err)
		}
		src = report.Sources{CDR: db, Queue: report.QueueLogSource{Log: db}}
		closeSrc = db.Close
	}
	svc, err := tasks.New(cfg.Tasks, tasks.Deps{Store: st, Log: log.With("component", "tasks"), Sources: src,
		DefaultTenant: prov.DefaultTenant})
	if err != nil {
		closeSrc()
		return nil, nil, err
	}
	svc.Routes(adminRouter{api})
	for _, c := range svc.Collectors() {
		if err := reg.Register(c); err != nil {
			closeSrc()
			return nil, nil, fmt.Errorf("tasks: metrics: %w", err)
		}
	}
	return svc, closeSrc, nil
}

// adminRouter mounts a component's admin routes on the admin API, mapping the
// errors of internal/httpapi to their answers.
type adminRouter struct{ api *admin.API }

func (r adminRouter) Admin(pattern string, h httpapi.Handler) {
	r.api.Mount(pattern, func(w http.ResponseWriter, req *http.Request, p admin.Principal) error {
		err := h(w, req, httpapi.Principal{User: p.User, Role: p.Role, Tenant: p.Tenant, IP: p.IP, Token: p.Token})
		var he *httpapi.Error
		if errors.As(err, &he) {
			httpapi.WriteError(w, he.Status, he.Field, he.Msg)
			return nil
		}
		return err
	})
}

func (adminRouter) Handle(string, http.Handler)           {}
func (adminRouter) Plain(string, fasthttp.RequestHandler) {}
