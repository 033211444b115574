package main

import (
	"context"
	"log/slog"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/dhcp"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// startDHCP builds and binds the DHCP server when dhcp.enabled is set, and adds
// its admin routes. nil, nil: disabled, and serve runs exactly as without it.
func startDHCP(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, prov *provision.Service, api *admin.API) (func(context.Context) error, error) {
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
	if err := srv.Listen(ctx); err != nil {
		return nil, err
	}
	api.MountDHCP(srv)
	return srv.Serve, nil
}
