package dhcp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

var _ component.Component = (*Server)(nil)

// NewForProvisioning builds the server over the provisioning service: phones'
// tenants come from their devices, unknown MACs go to cfg.Tenant (a UUID or
// name), URLs are built from baseURL.
func NewForProvisioning(ctx context.Context, cfg Config, log *slog.Logger, st *store.Store, prov *provision.Service, baseURL string) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	fallback, err := FallbackTenant(ctx, prov, cfg.Tenant)
	if err != nil {
		return nil, err
	}
	return New(cfg, log, st, &ProvDirectory{Prov: prov, BaseURL: baseURL, Revision: st.Revision}, baseURL, BrandOUIs(prov), fallback)
}

// Commit lets a directory that indexes the devices (ProvDirectory) keep its
// index current off the DHCP path.
func (s *Server) Commit(c store.Commit) {
	if d, ok := s.dir.(interface {
		Commit(context.Context, store.Commit)
	}); ok {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d.Commit(ctx, c)
	}
}

// Name is the DHCP server's component name.
func (s *Server) Name() string { return "dhcp" }

// Collectors are the bound-leases gauge and the dropped-datagrams counter.
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_dhcp_leases_bound",
			Help: "DHCP leases currently bound (not expired, released or declined)."}, func() float64 { return float64(s.BoundLeases()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_dhcp_dropped_total",
			Help: "DHCP datagrams dropped because too many were waiting to be handled (socket receive buffer full, or ACKs waiting for the store)."}, func() float64 { return float64(s.Dropped()) }),
	}
}

// Routes adds GET /api/v1/dhcp/leases and /api/v1/dhcp/rules (only a box with
// the server enabled has them). Tenant admins see the leases of their tenant's
// phones only; the rules are the box's configuration, shown to everyone who may
// read.
func (s *Server) Routes(rt component.Router) {
	rt.Admin("GET /api/v1/dhcp/leases", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		out := []store.DHCPLease{}
		for _, l := range s.Leases() {
			if p.Sees(l.Tenant) {
				out = append(out, l)
			}
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
		return nil
	})
	rt.Admin("GET /api/v1/dhcp/rules", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, s.RulesView())
		return nil
	})
}
