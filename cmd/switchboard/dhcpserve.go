package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/dhcp"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// startDHCP builds and binds the DHCP server when dhcp.enabled is set, and adds
// its admin routes. nil, nil: disabled, and serve runs exactly as without it.
// bind false (HA): the socket is bound when the node becomes active.
func startDHCP(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, prov *provision.Service, api *admin.API, reg prometheus.Registerer, bind bool) (func(context.Context) error, error) {
	if !cfg.DHCP.Enabled {
		return nil, nil
	}
	fallback, err := dhcp.FallbackTenant(ctx, prov, cfg.DHCP.Tenant)
	if err != nil {
		return nil, err
	}
	dir := dhcp.ProvDirectory{Prov: prov, BaseURL: cfg.Provisioning.BaseURL}
	srv, err := dhcp.New(cfg.DHCP, log, st, dir, cfg.Provisioning.BaseURL, dhcp.BrandOUIs(prov), fallback)
	if err != nil {
		return nil, err
	}
	// Bind now: a busy port 67 or a missing interface stops start-up with one line.
	if bind {
		if err := srv.Listen(ctx); err != nil {
			return nil, err
		}
	}
	api.MountDHCP(srv)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_dhcp_leases_bound",
			Help: "DHCP leases currently bound (not expired, released or declined)."}, func() float64 { return float64(srv.BoundLeases()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_dhcp_dropped_total",
			Help: "DHCP datagrams dropped because too many were being handled at once."}, func() float64 { return float64(srv.Dropped()) }),
	)
	return srv.Serve, nil
}
