package provision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/store"
)

var _ component.Component = (*Service)(nil)

// Name is the renderer's component name (httpprov's is "provisioning").
func (s *Service) Name() string { return "render" }

// ResolveTenant maps the {tenant} of an admin route to a tenant id: a UUID, a
// tenant's name, or "default" for the single-tenant box's tenant. An unknown
// one is a NotFoundError that says what was not found.
func (s *Service) ResolveTenant(ctx context.Context, ref string) (string, error) {
	if ref == "default" {
		ref = s.DefaultTenant()
	}
	_, err := s.Tenant(ctx, ref)
	if err == nil {
		return ref, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	list, lerr := s.Tenants(ctx)
	if lerr != nil {
		return "", lerr
	}
	for _, t := range list {
		if strings.EqualFold(t.Name, ref) {
			return t.ID, nil
		}
	}
	return "", &store.NotFoundError{What: fmt.Sprintf("no tenant with id or name %q", ref)}
}

// FollowRole paces the rendering while this node is a passive HA node: see
// passivePace (component.RoleFollower: Run calls it before Serve).
func (s *Service) FollowRole(src component.RoleSource) {
	s.role = src
	src.OnActive(func(active bool) {
		if active {
			s.render.hurry()
		}
	})
}

// serving reports whether this node serves the files it renders (not a passive HA node).
func (s *Service) serving() bool { return s.role == nil || s.role.IsActive() }

// Serve renders files as commits arrive, and records the sightings of unknown
// phones and the enrollment events (Served), until ctx ends. It may run again after it returned (HA).
func (s *Service) Serve(ctx context.Context) error {
	done, enrolled := make(chan struct{}), make(chan struct{})
	go func() { s.recordSightings(ctx); close(done) }()
	go func() { s.recordEnrollment(ctx); close(enrolled) }()
	poll := s.cfg.InterfacePoll
	if poll <= 0 {
		poll = DefaultConfig().InterfacePoll
	}
	s.render.run(ctx, poll)
	<-done
	<-enrolled
	return nil
}

// Commit takes a durable store commit: the tenants it touched are rendered anew
// by Serve. It never waits for the rendering.
func (s *Service) Commit(c store.Commit) { s.render.commit(c) }

// Health is degraded while a tenant's files could not be rendered (its phones
// get the previous files) and before the first rendering is done.
func (s *Service) Health(context.Context) component.Health {
	r := s.render
	r.dirtyMu.Lock()
	failed := make([]string, 0, len(r.failed))
	for t, err := range r.failed {
		failed = append(failed, fmt.Sprintf("tenant %s: %s", t, err))
	}
	first := r.doneRev == 0 && (r.busy || len(r.dirty) > 0)
	r.dirtyMu.Unlock()
	if len(failed) > 0 {
		sort.Strings(failed)
		return component.Health{Status: component.Degraded, Detail: "rendering failed, phones get the previous files: " + strings.Join(failed, "; ")}
	}
	if first {
		return component.Health{Status: component.Degraded, Detail: "rendering the files for the first time"}
	}
	files, problems := r.counts()
	return component.Health{Status: component.OK, Detail: fmt.Sprintf("%d files, %d devices without a file", files, problems)}
}

// counts is the number of rendered files and of devices without one.
func (r *renderer) counts() (files, problems int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, tf := range r.tenants {
		files += len(tf.files)
		problems += len(tf.errors)
	}
	return files, problems
}

type metrics struct {
	renderSeconds *prometheus.HistogramVec
	renderErrors  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		renderSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_provisioning_render_seconds",
			Help:    "Time to render one tenant's provisioning files, whole or only the devices a commit touched (pass=partial).",
			Buckets: []float64{.0005, .001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"pass"}),
		renderErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_provisioning_render_errors_total",
			Help: "Tenant renderings that failed (the tenant's phones kept the previous files)."}),
	}
	for _, pass := range []string{"whole", "partial"} {
		m.renderSeconds.WithLabelValues(pass) // exported from the start, before a pass of the kind
	}
	return m
}

func (m *metrics) observe(d time.Duration, partly bool, err error) {
	pass := "whole"
	if partly {
		pass = "partial"
	}
	m.renderSeconds.WithLabelValues(pass).Observe(d.Seconds())
	if err != nil {
		m.renderErrors.Inc()
	}
}

// Collectors are the rendering metrics and the size of the rendered tree.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		s.metrics.renderSeconds, s.metrics.renderErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_provisioning_files",
			Help: "Rendered provisioning files, all tenants."}, func() float64 { f, _ := s.render.counts(); return float64(f) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_provisioning_device_problems",
			Help: "Configured devices without a file (no account, disabled, template error)."}, func() float64 { _, p := s.render.counts(); return float64(p) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_provisioning_rendered_revision",
			Help: "Newest store revision the provisioning files reflect."}, func() float64 { return float64(s.RenderedRevision()) }),
	}
}
