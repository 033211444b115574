package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/internal/component"
)

// ctiComponent presents the CTI service as a component until the cti package
// implements the contract itself.
type ctiComponent struct {
	component.Base
	svc *cti.Service
}

var _ component.Component = ctiComponent{}

func (c ctiComponent) Name() string { return "cti" }

func (c ctiComponent) Routes(r component.Router) {
	c.svc.MountAdmin(r)
	r.Handle("/webrest/", c.svc.Handler())
	r.Handle("/socket.io/", c.svc.Handler())
}

func (c ctiComponent) Serve(ctx context.Context) error { return c.svc.Serve(ctx) }

func (c ctiComponent) Collectors() []prometheus.Collector { return c.svc.Collectors() }
