package redirect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Config is the "redirect" section of the configuration file.
type Config struct {
	// Enabled runs the reconcile loop and offers the redirect servers in the API.
	// Off, devices keep their redirect fields but nothing talks to vendors.
	Enabled bool `yaml:"enabled"`
	// KeyFile holds the AES-256 key that seals vendor credentials (32 bytes,
	// created 0600 on first use). "" = data_dir/redirect.key. Keep it out of
	// database backups; without it the stored credentials cannot be used.
	KeyFile string `yaml:"key_file"`
	// ResyncInterval is how often every registration is checked against the
	// vendor (besides after each change).
	ResyncInterval time.Duration `yaml:"resync_interval"`
	// Concurrency is how many vendor calls run at once.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds one vendor HTTP request.
	Timeout time.Duration `yaml:"timeout"`
	// BackoffMin is the first retry delay after a failure; it doubles per
	// failure (with jitter) up to BackoffMax.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// DefaultConfig: on, hourly resync, four calls at a time.
func DefaultConfig() Config {
	return Config{Enabled: true, ResyncInterval: time.Hour, Concurrency: 4, Timeout: 15 * time.Second,
		BackoffMin: 30 * time.Second, BackoffMax: time.Hour}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	switch {
	case c.KeyFile == "":
		return errors.New("key_file: must not be empty")
	case c.ResyncInterval < 50*time.Millisecond:
		return errors.New("resync_interval: must be at least 50ms")
	case c.Concurrency < 1 || c.Concurrency > 64:
		return errors.New("concurrency: must be 1-64")
	case c.Timeout <= 0:
		return errors.New("timeout: must be positive")
	case c.BackoffMin <= 0:
		return errors.New("backoff_min: must be positive")
	case c.BackoffMax < c.BackoffMin:
		return errors.New("backoff_max: must be at least backoff_min")
	}
	return nil
}

// state is KindState: what this appliance registered at the vendor for one
// device, and how the last attempt went.
type state struct {
	ID     string `json:"id"` // the device id
	Tenant string `json:"tenant"`
	// What is registered at the vendor ("" MAC = nothing).
	Server string `json:"server"`
	MAC    string `json:"mac"`
	Code   string `json:"code,omitempty"`
	Target string `json:"target"` // the URL or server name it was registered with
	// Provisioned: registered exactly as the device now asks.
	Provisioned bool   `json:"provisioned"`
	Error       string `json:"error,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// Changed is when this record last changed (attempts that change nothing
	// are not written, to keep the audit log readable).
	Changed time.Time `json:"changed"`
}

// DeviceStatus is the read-only redirect status in a device view.
type DeviceStatus struct {
	Server      string     `json:"server"`
	Provisioned bool       `json:"provisioned"`
	Error       string     `json:"error,omitempty"`
	Detail      string     `json:"detail,omitempty"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

type retry struct {
	key   string // the desired registration the failures were about
	fails int
	next  time.Time
}

type cachedClient struct {
	fingerprint string
	c           Client
}

// Service keeps the vendors' redirection state in line with the devices.
type Service struct {
	component.Base
	cfg  Config
	st   *store.Store
	prov *provision.Service
	log  *slog.Logger
	keys *sealer
	http *http.Client
	wake chan struct{}

	mu      sync.Mutex
	states  map[string]state // by device id, mirror of KindState
	retries map[string]*retry
	paused  map[string]time.Time // server id -> rate-limited until
	clients map[string]cachedClient
	last    map[string]time.Time // device id -> last attempt
}

// New registers the redirect kinds and the device rules with the store and
// provisioning service.
func New(cfg Config, st *store.Store, prov *provision.Service, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	s := &Service{cfg: cfg, st: st, prov: prov, log: log, keys: &sealer{path: cfg.KeyFile},
		http: &http.Client{Timeout: cfg.Timeout}, wake: make(chan struct{}, 1),
		states: map[string]state{}, retries: map[string]*retry{}, paused: map[string]time.Time{},
		clients: map[string]cachedClient{}, last: map[string]time.Time{}}
	s.registerKinds()
	if err := s.loadStates(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

var _ component.Component = (*Service)(nil)

// Name is the reconcile loop's component name.
func (s *Service) Name() string { return "redirect" }

// Commit wakes the loop when devices, servers or tenants changed.
func (s *Service) Commit(c store.Commit) {
	if c.Touches(provision.KindDevice, KindServer, provision.KindTenant) {
		s.poke()
	}
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) loadStates(ctx context.Context) error {
	return s.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(KindState, "", func(id string, raw json.RawMessage) error {
			var x state
			if err := json.Unmarshal(raw, &x); err != nil {
				return fmt.Errorf("redirect: state %s: %w", id, err)
			}
			s.mu.Lock()
			s.states[id] = x
			s.mu.Unlock()
			return nil
		})
	})
}

// deviceStatus is the provision view hook.
func (s *Service) deviceStatus(d provision.Device) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[d.ID]
	if !ok && d.RedirectServer == "" {
		return nil
	}
	out := DeviceStatus{Server: d.RedirectServer, Provisioned: ok && st.Provisioned && st.Server == d.RedirectServer && st.MAC == d.MAC}
	if ok {
		out.Error, out.Detail = st.Error, st.Detail
	}
	if t, ok := s.last[d.ID]; ok {
		out.LastAttempt = &t
	}
	if r := s.retries[d.ID]; r != nil && r.fails > 0 {
		n := r.next
		out.NextAttempt = &n
	}
	return &out
}

// Statuses lists the redirect status of a tenant's devices that have one.
func (s *Service) Statuses(ctx context.Context, tenant string) ([]map[string]any, error) {
	devs, err := s.prov.Devices(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, d := range devs {
		st, _ := s.deviceStatus(d).(*DeviceStatus)
		if st == nil {
			continue
		}
		out = append(out, map[string]any{"device": d.ID, "mac": d.MAC, "status": st})
	}
	return out, nil
}

// Serve reconciles after every change, when a retry is due and every
// ResyncInterval, until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	resync := time.NewTicker(s.cfg.ResyncInterval)
	defer resync.Stop()
	due := time.NewTimer(0)
	defer due.Stop()
	for {
		verify := false
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-due.C:
		case <-resync.C:
			verify = true
		}
		if err := s.pass(ctx, verify); err != nil && ctx.Err() == nil {
			s.log.Warn("reconcile pass failed", "err", err)
		}
		due.Stop()
		if next, ok := s.nextDue(); ok {
			due.Reset(max(time.Until(next), 10*time.Millisecond))
		}
	}
}

func (s *Service) nextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, r := range s.retries {
		if r.fails > 0 && (next.IsZero() || r.next.Before(next)) {
			next = r.next
		}
	}
	for _, t := range s.paused {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next, !next.IsZero()
}

// want is a desired registration.
type want struct {
	server Server
	mac    string
	code   string
	target string
}

func (w *want) key() string {
	if w == nil {
		return ""
	}
	return w.server.ID + "|" + w.mac + "|" + w.code + "|" + w.target
}

// target is what a device is registered with: the server name defined in
// the vendor's GUI, or the URL the phone is sent to (its secret directory,
// for every phone its own, unless the server names another URL).
func (s *Service) target(sv Server, token string) string {
	if !urlTarget(sv) {
		return sv.ServerName
	}
	if sv.ProvisioningURL != "" {
		return sv.ProvisioningURL
	}
	return provision.DeviceDir(s.prov.ProvisioningURL(sv.Tenant), token)
}

// urlTarget reports whether sv registers each phone with a URL (and not with
// a server the vendor's GUI defines, which cannot name one phone's token).
func urlTarget(sv Server) bool {
	switch {
	case sv.API == APIXMLRPC && (sv.Brand == BrandYealink || sv.Brand == BrandEscene):
		return false
	case sv.API == APIYMCS && sv.ServerName != "":
		return false
	}
	return true
}

type item struct {
	device string
	tenant string
	want   *want
	cur    state
	hasCur bool
	// servers of the current registration (may be missing or disabled)
	curServer   Server
	curServerOK bool
}

// pass compares desired and recorded state and works through the differences
// (and, with verify, re-checks the registrations the vendor can be asked about).
func (s *Service) pass(ctx context.Context, verify bool) error {
	var items []item
	err := s.st.View(ctx, func(tx *store.Tx) error {
		servers := map[string]Server{}
		if err := tx.List(KindServer, "", func(id string, raw json.RawMessage) error {
			var sv Server
			if err := json.Unmarshal(raw, &sv); err != nil {
				return fmt.Errorf("server %s: %w", id, err)
			}
			servers[id] = sv
			return nil
		}); err != nil {
			return err
		}
		byID := map[string]*item{}
		if err := tx.List(provision.KindDevice, "", func(id string, raw json.RawMessage) error {
			var d provision.Device
			if err := json.Unmarshal(raw, &d); err != nil {
				return fmt.Errorf("device %s: %w", id, err)
			}
			if d.RedirectServer == "" {
				return nil
			}
			it := &item{device: id, tenant: d.Tenant}
			if sv, ok := servers[d.RedirectServer]; ok && sv.Tenant == d.Tenant {
				it.want = &want{server: sv, mac: d.MAC, code: d.RedirectCode, target: s.target(sv, d.URLToken)}
			}
			byID[id] = it
			return nil
		}); err != nil {
			return err
		}
		if err := tx.List(KindState, "", func(id string, raw json.RawMessage) error {
			var x state
			if err := json.Unmarshal(raw, &x); err != nil {
				return fmt.Errorf("state %s: %w", id, err)
			}
			it := byID[id]
			if it == nil {
				it = &item{device: id, tenant: x.Tenant}
				byID[id] = it
			}
			it.cur, it.hasCur = x, true
			it.curServer, it.curServerOK = servers[x.Server]
			return nil
		}); err != nil {
			return err
		}
		for _, it := range byID {
			items = append(items, *it)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	now := time.Now()
	for _, it := range items {
		if !s.needsWork(it, verify, now) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.reconcile(ctx, it, verify)
		}()
	}
	wg.Wait()
	return nil
}

// needsWork filters what is in line, waiting for a retry, or held back by a
// disabled or rate-limited server.
func (s *Service) needsWork(it item, verify bool, now time.Time) bool {
	registered := it.hasCur && it.cur.MAC != ""
	current := registered && it.want != nil && it.cur.Server == it.want.server.ID && it.cur.MAC == it.want.mac &&
		it.cur.Code == it.want.code && it.cur.Target == it.want.target
	if it.want != nil && !it.want.server.Enabled || registered && it.curServerOK && !it.curServer.Enabled {
		return false // a disabled server is left alone, both ways
	}
	switch {
	case it.want == nil && !it.hasCur:
		return false
	case current && it.cur.Provisioned && !verify:
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range []string{it.cur.Server, it.wantServer()} {
		if until, ok := s.paused[id]; ok {
			if now.Before(until) {
				return false
			}
			delete(s.paused, id)
		}
	}
	r := s.retries[it.device]
	if r == nil || r.key != it.want.key() {
		return true // never failed, or the device changed since: try now
	}
	return r.fails == 0 || !now.Before(r.next)
}

func (it item) wantServer() string {
	if it.want == nil {
		return ""
	}
	return it.want.server.ID
}

// reconcile brings one device in line: deregister what is registered but no
// longer wanted, then register what is wanted.
func (s *Service) reconcile(ctx context.Context, it item, verify bool) {
	cur := it.cur
	if !it.hasCur {
		cur = state{ID: it.device, Tenant: it.tenant}
	}
	log := s.log.With("device", it.device)
	s.mu.Lock()
	s.last[it.device] = time.Now().UTC().Truncate(time.Millisecond)
	s.mu.Unlock()
	w := it.want
	stale := cur.MAC != "" && (w == nil || cur.Server != w.server.ID || cur.MAC != w.mac || cur.Code != w.code || cur.Target != w.target)
	if stale {
		if !it.curServerOK {
			// Its server is gone (only a restore can do that): nothing to talk to.
			log.Warn("forgetting a registration whose server no longer exists", "mac", cur.MAC, "server", cur.Server)
		} else {
			c, err := s.client(it.curServer)
			if err == nil {
				err = c.Deregister(ctx, Target{MAC: cur.MAC, Code: cur.Code})
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.failed(ctx, it, cur, cur.Server, err, log.With("mac", cur.MAC, "op", "deregister"))
				return
			}
			log.Info("deregistered", "mac", cur.MAC, "server", cur.Server)
		}
		cur.Server, cur.MAC, cur.Code, cur.Target, cur.Provisioned = "", "", "", "", false
	}
	if w == nil {
		s.succeeded(ctx, it, cur, true)
		return
	}
	c, err := s.client(w.server)
	if err != nil {
		s.failed(ctx, it, cur, w.server.ID, err, log)
		return
	}
	t := Target{MAC: w.mac, Code: w.code}
	if urlTarget(w.server) {
		t.URL = w.target
	}
	if verify && !stale && cur.MAC != "" && cur.Provisioned {
		stt, err := c.Check(ctx, t)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.failed(ctx, it, cur, w.server.ID, err, log.With("mac", w.mac, "op", "check"))
			}
			return
		case stt == StateRegistered || stt == StateUnknown:
			s.succeeded(ctx, it, cur, false)
			return
		case stt == StateElsewhere:
			s.failed(ctx, it, cur, w.server.ID, vendorErr(ErrOwned, "the vendor now shows the MAC on another account"), log.With("mac", w.mac, "op", "check"))
			return
		}
		log.Info("the vendor lost a registration; registering again", "mac", w.mac)
	}
	if err := c.Register(ctx, t); err != nil {
		if ctx.Err() != nil {
			return
		}
		cur.Provisioned = false
		s.failed(ctx, it, cur, w.server.ID, err, log.With("mac", w.mac, "op", "register"))
		return
	}
	log.Info("registered", "mac", w.mac, "server", w.server.ID, "brand", w.server.Brand)
	cur.Server, cur.MAC, cur.Code, cur.Target, cur.Provisioned = w.server.ID, w.mac, w.code, w.target, true
	s.succeeded(ctx, it, cur, false)
}

func (s *Service) succeeded(ctx context.Context, it item, cur state, drop bool) {
	s.mu.Lock()
	delete(s.retries, it.device)
	s.mu.Unlock()
	cur.Error, cur.Detail = "", ""
	if drop {
		s.write(ctx, it, cur, true, "redirect: device deregistered")
		return
	}
	s.write(ctx, it, cur, false, fmt.Sprintf("device %s provisioned on redirection server", cur.MAC))
}

// failed records a failed call to server (the one to pause when rate-limited).
func (s *Service) failed(ctx context.Context, it item, cur state, server string, err error, log *slog.Logger) {
	class := ClassOf(err)
	var e *Error
	detail := err.Error()
	var pause time.Duration
	if errors.As(err, &e) {
		detail, pause = e.Detail, e.RetryAfter
	}
	s.mu.Lock()
	r := s.retries[it.device]
	if r == nil || r.key != it.want.key() {
		r = &retry{key: it.want.key()}
		s.retries[it.device] = r
	}
	r.fails++
	delay := s.cfg.BackoffMin << min(r.fails-1, 20)
	if delay > s.cfg.BackoffMax || delay <= 0 {
		delay = s.cfg.BackoffMax
	}
	// Full jitter over the upper half keeps many failing devices from retrying in step.
	delay = delay/2 + rand.N(delay/2+1) //nolint:gosec // G404: retry jitter, not a secret
	if class == ErrRateLimited {
		if pause <= 0 {
			pause = delay
		}
		delay = max(delay, pause)
		s.paused[server] = time.Now().Add(pause)
	}
	r.next = time.Now().Add(delay)
	fails := r.fails
	s.mu.Unlock()
	log.Warn("vendor call failed", "err", class, "detail", detail, "attempt", fails, "retry_in", delay.Round(time.Millisecond).String())
	cur.Error, cur.Detail = class, detail
	s.write(ctx, it, cur, false, fmt.Sprintf("redirection of device failed: %s", class))
}

// write records cur (or drops it) when it differs from what is stored.
func (s *Service) write(ctx context.Context, it item, cur state, drop bool, desc string) {
	s.mu.Lock()
	old, had := s.states[it.device]
	s.mu.Unlock()
	cmp := func(a state) state { a.Changed = time.Time{}; return a }
	if (drop && !had) || (!drop && had && cmp(old) == cmp(cur)) {
		return
	}
	cur.Changed = time.Now().UTC().Truncate(time.Second)
	_, err := s.st.Update(ctx, store.Actor{User: "redirect", IP: "local"}, func(tx *store.Tx) error {
		ok, err := tx.Get(KindState, it.device, &state{})
		switch {
		case err != nil:
			return err
		case drop && ok:
			return tx.Delete(KindState, it.device, desc)
		case drop:
			return nil
		case ok:
			return tx.Replace(KindState, cur.Tenant, it.device, cur, desc)
		}
		return tx.Create(KindState, cur.Tenant, it.device, cur, desc)
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("recording the state failed", "device", it.device, "err", err)
		}
		return
	}
	s.mu.Lock()
	if drop {
		delete(s.states, it.device)
		delete(s.last, it.device)
	} else {
		s.states[it.device] = cur
	}
	s.mu.Unlock()
}

// client returns the (cached) client of sv, rebuilt when sv changes.
func (s *Service) client(sv Server) (Client, error) {
	fp := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%t|%s", sv.Brand, sv.API, sv.BaseURL, sv.ServerName, s.effectiveURL(sv), sv.Credentials, sv.Override, sv.ID)
	s.mu.Lock()
	cc, ok := s.clients[sv.ID]
	s.mu.Unlock()
	if ok && cc.fingerprint == fp {
		return cc.c, nil
	}
	plain, err := s.keys.open(sv.Credentials, sv.ID)
	if err != nil {
		return nil, err
	}
	var cred credentials
	if err := json.Unmarshal(plain, &cred); err != nil {
		return nil, fmt.Errorf("redirect: credentials: %w", err)
	}
	c, err := NewClient(Endpoint{Brand: sv.Brand, API: sv.API, BaseURL: sv.BaseURL, User: cred.Username, Secret: cred.Password,
		ServerName: sv.ServerName, URL: s.effectiveURL(sv), Override: sv.Override, HTTP: s.http})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.clients[sv.ID] = cachedClient{fingerprint: fp, c: c}
	s.mu.Unlock()
	return c, nil
}
