package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/report/pbxdb"
	"github.com/switchboard-pbx/switchboard/store"
	"github.com/switchboard-pbx/switchboard/tasks"
)

// pbxLocation is the zone of the PBX's local times (tasks.cdr.pbx_time_zone,
// else tasks.time_zone, else the system's).
func pbxLocation(cfg config.Config) *time.Location {
	loc := time.Local
	if z := cfg.Tasks.CDR.PBXTimeZone; z != "" {
		loc, _ = time.LoadLocation(z) // validated by config
	} else if z := cfg.Tasks.TimeZone; z != "" {
		loc, _ = time.LoadLocation(z)
	}
	return loc
}

// openPBXDB opens the PBX's CDR database (tasks.cdr.*) when the exports
// (tasks.cdr.source: database) or the CTI's history (cti.history.source)
// read it, else it returns nil. It connects on first use.
func openPBXDB(cfg config.Config) (*pbxdb.DB, error) {
	if cfg.Tasks.CDR.Source != "database" && !(cfg.CTI.Enabled && cfg.CTIHistoryFromPBX()) {
		return nil, nil
	}
	db, err := pbxdb.Open(pbxdb.Config{DSN: cfg.Tasks.CDR.DSN, Table: cfg.Tasks.CDR.Table,
		QueueLog: cfg.Tasks.CDR.QueueLogTable, Location: pbxLocation(cfg)})
	if err != nil {
		return nil, fmt.Errorf("config: key tasks.cdr.dsn: %w", err)
	}
	return db, nil
}

// newTasks makes the scheduled-tasks component with the data source the
// configuration names: the CTI's call history (AMI events, data_dir/
// cti-history.db, written while cti.enabled) or the PBX's own database (db,
// from openPBXDB).
func newTasks(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, prov *provision.Service, db *pbxdb.DB) (*tasks.Service, error) {
	loc := pbxLocation(cfg)
	var src report.Sources
	switch cfg.Tasks.CDR.Source {
	case "database":
		src = report.Sources{CDR: db, Queue: report.QueueLogSource{Log: db}}
	default:
		h, err := cdr.Open(ctx, cdr.PathBeside(st.Path()))
		if err != nil {
			return nil, err
		}
		h.SetLocation(loc)
		src = report.Sources{CDR: h, Queue: report.QueueLogSource{Log: h}}
	}
	return tasks.New(cfg.Tasks, tasks.Deps{Store: st, Log: log, Sources: src, DefaultTenant: prov.DefaultTenant})
}
