package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/ha"
	"github.com/switchboard-pbx/switchboard/store"
)

// setupHA builds the HA node when ha.state enables it (nil otherwise): the store is
// replicated and guarded, /api/v1/ha and the switchboard_ha_* metrics appear.
func setupHA(cfg config.Config, log *slog.Logger, st *store.Store, api *admin.API, reg *prometheus.Registry) (*ha.Node, error) {
	if !cfg.HA.Enabled() {
		return nil, nil
	}
	node, err := ha.New(cfg.HA, cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	node.AttachStore(st)
	reg.MustRegister(node.Collectors()...)
	api.MountHA(node)
	return node, nil
}

// followRole keeps gate open while node is active.
func followRole(node *ha.Node, gate *roleGate) {
	node.OnRole(func(r ha.Role) { gate.set(r == ha.RoleActive) })
	gate.set(node.Role() == ha.RoleActive)
}
