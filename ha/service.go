package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/store"
)

var (
	_ component.Component  = (*Service)(nil)
	_ component.RoleSource = (*Service)(nil)
)

// retryFailed is how long the service waits before starting a node that failed again.
const retryFailed = 5 * time.Second

// Service is the "ha" component of the daemon. It runs a Node with this node's
// HA settings (the ha: section of the configuration file, with the settings
// saved through the admin API on top), starts it again with new settings when
// they are saved ("save and start") without restarting the daemon, and is the
// daemon's HA role: the components that follow the role (component.ActiveOnly)
// run while the node is active, or always while HA is disabled here.
type Service struct {
	component.Base
	file         Config // the ha: section
	dataDir      string
	st           *store.Store
	log          *slog.Logger
	singleTenant bool

	mu       sync.Mutex
	cfg      Config // in effect
	saved    bool   // cfg comes from saved settings
	node     *Node  // nil while HA is disabled here
	failure  error  // why the node is not running
	active   bool
	watchers []func(bool)
	restart  chan struct{}
	renewed  chan struct{} // closed and replaced each time a new node (or none) is in place
	started  bool
}

// NewService makes the ha component. file is the ha: section of the
// configuration file, dataDir holds ha/ (keys, epoch, pins); singleTenant lets
// the tenant admin of a single-tenant box manage HA too. It reads the saved
// settings from st and installs the replication hook and the write guard.
func NewService(file Config, dataDir string, st *store.Store, log *slog.Logger, singleTenant bool) (*Service, error) {
	s := &Service{file: file, dataDir: dataDir, st: st, log: log, singleTenant: singleTenant, restart: make(chan struct{}, 1), renewed: make(chan struct{})}
	st.Register(store.Kind{Name: KindHAAction})
	st.Register(store.Kind{Name: KindSettings, Local: true,
		Check: func(*store.Tx, string, json.RawMessage) error {
			return &store.ValidationError{Field: "id", Msg: errRestoreSettings.Error()}
		}})
	cfg, saved, err := s.load(context.Background())
	if err != nil {
		return nil, err
	}
	s.cfg, s.saved = cfg, saved
	if cfg.Enabled() {
		if s.node, err = s.newNode(cfg); err != nil {
			return nil, err
		}
	} else {
		s.active = true
	}
	st.OnPrepareSync(s.prepare)
	st.OnCommitSync(s.committed)
	st.SetWriteGuard(s.writeGuard)
	return s, nil
}

// load is the configuration in effect: the file's, with the saved settings on top.
func (s *Service) load(ctx context.Context) (Config, bool, error) {
	var set Settings
	found := false
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		found, err = tx.Get(KindSettings, settingsID, &set)
		return err
	})
	if err != nil {
		return s.file, false, fmt.Errorf("ha: saved settings: %w", err)
	}
	if !found {
		return s.file, false, nil
	}
	cfg := set.Apply(s.file)
	if err := cfg.Validate(); err != nil {
		// Saved settings were valid when saved; a configuration file changed
		// since may clash (a port): say so and keep the file's.
		s.log.Error("saved HA settings do not validate with this configuration file; using the file's", "err", err)
		return s.file, false, nil
	}
	return cfg, true, nil
}

func (s *Service) newNode(cfg Config) (*Node, error) {
	n, err := New(cfg, s.dataDir, s.log)
	if err != nil {
		return nil, err
	}
	n.useStore(s.st)
	n.OnRole(func(r Role) { s.setActive(n, r == RoleActive) })
	return n, nil
}

// Name is the component's name.
func (s *Service) Name() string { return "ha" }

// Serve runs the node (or nothing while HA is disabled) and starts it again
// with the settings in effect whenever they are saved, until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	s.mu.Lock()
	first := !s.started
	s.started = true
	s.mu.Unlock()
	for {
		s.mu.Lock()
		node := s.node
		s.mu.Unlock()
		done := make(chan error, 1)
		nctx, cancel := context.WithCancel(ctx)
		if node != nil {
			go func() { done <- node.Serve(nctx) }()
		}
		var retry <-chan time.Time
		select {
		case <-ctx.Done():
			cancel()
			if node != nil {
				<-done //nolint:errcheck // the node's error after cancel is the cancel itself
			}
			return nil
		case <-s.restart:
			cancel()
			if node != nil {
				<-done //nolint:errcheck // the node's error after cancel is the cancel itself
			}
		case err := <-done:
			cancel()
			if err == nil {
				err = errors.New("stopped")
			}
			if first {
				// At start-up a node that cannot run stops the daemon, as a bad
				// configuration file does.
				return err
			}
			s.log.Error("HA stopped; trying again", "err", err, "retry_in", retryFailed)
			s.mu.Lock()
			s.failure = err
			s.mu.Unlock()
			retry = time.After(retryFailed)
			select {
			case <-ctx.Done():
				return nil
			case <-s.restart:
			case <-retry:
			}
		}
		first = false
		if err := s.renew(); err != nil {
			s.log.Error("HA not started", "err", err)
		}
	}
}

// renew makes a node for the configuration in effect (none while disabled).
func (s *Service) renew() error {
	s.mu.Lock()
	cfg := s.cfg
	s.node, s.failure = nil, nil
	s.mu.Unlock()
	if !cfg.Enabled() {
		s.setActive(nil, true)
		s.mu.Lock()
		close(s.renewed)
		s.renewed = make(chan struct{})
		s.mu.Unlock()
		s.log.Info("HA disabled on this node: it serves on its own")
		return nil
	}
	s.setActive(nil, false)
	n, err := s.newNode(cfg)
	s.mu.Lock()
	s.node, s.failure = n, err
	close(s.renewed)
	s.renewed = make(chan struct{})
	s.mu.Unlock()
	if err == nil {
		s.log.Info("HA started with the saved settings", "state", cfg.State, "interface", cfg.Interface,
			"local_ip", cfg.LocalIP, "remote_ip", cfg.RemoteIP)
	}
	return err
}

// setActive records the role; from is the node reporting it (nil: the service
// itself), and a node that was replaced is not listened to any more.
func (s *Service) setActive(from *Node, active bool) {
	s.mu.Lock()
	if from != nil && from != s.node {
		s.mu.Unlock()
		return
	}
	changed := s.active != active
	s.active = active
	ws := s.watchers
	s.mu.Unlock()
	if changed {
		for _, w := range ws {
			w(active)
		}
	}
}

// IsActive reports whether this node serves: it is the active HA node, or HA is
// disabled here.
func (s *Service) IsActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// OnActive adds f, called on every change of IsActive (component.RoleSource).
func (s *Service) OnActive(f func(active bool)) {
	s.mu.Lock()
	s.watchers = append(s.watchers, f)
	s.mu.Unlock()
}

func (s *Service) current() *Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.node
}

// prepare sends a transaction about to commit to the passive, for the node running now.
func (s *Service) prepare(rev int64, rows func() ([]store.ReplicaAuditRow, error)) func(error) {
	if n := s.current(); n != nil && n.repl != nil {
		return n.repl.prepare(rev, rows)
	}
	return func(error) {}
}

// committed is the store's replication barrier, for the node running now.
func (s *Service) committed(rev int64, changes []store.Change) {
	if n := s.current(); n != nil && n.repl != nil {
		n.repl.committed(rev, changes)
	}
}

func (s *Service) writeGuard(a store.Actor) error {
	if n := s.current(); n != nil {
		return n.writeGuard(a)
	}
	return nil
}

// Settings are the settings in effect, and whether they were saved (else they
// are the configuration file's).
func (s *Service) Settings() (Settings, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SettingsOf(s.cfg), s.saved
}

// Serial is this node's serial number.
func (s *Service) Serial() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.node != nil {
		return s.node.cfg.Serial
	}
	if s.cfg.Serial != "" {
		return s.cfg.Serial
	}
	h, _ := os.Hostname()
	return h
}

// SaveAndStart checks set, saves it as this node's settings (audited, as actor)
// and starts HA again with it ("save and start"). Enabling again also rejoins a
// node that left the cluster (unpair, disable).
func (s *Service) SaveAndStart(ctx context.Context, actor store.Actor, set Settings) error {
	s.mu.Lock()
	file := s.file
	s.mu.Unlock()
	if err := set.Check(file); err != nil {
		return err
	}
	if _, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var old Settings
		ok, err := tx.Get(KindSettings, settingsID, &old)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("HA settings of node %s: %s", s.Serial(), set.State)
		if ok {
			return tx.Replace(KindSettings, "", settingsID, set, desc)
		}
		return tx.Create(KindSettings, "", settingsID, set, desc)
	}); err != nil {
		return err
	}
	cfg := set.Apply(file)
	if cfg.Enabled() {
		if err := os.Remove(filepath.Join(s.dataDir, "ha", "left")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ha: rejoin: %w", err)
		}
	}
	s.mu.Lock()
	s.cfg, s.saved = cfg, true
	renewed, started := s.renewed, s.started
	s.mu.Unlock()
	s.log.Info("HA settings saved; starting again", "user", actor.User, "state", set.State)
	select {
	case s.restart <- struct{}{}:
	default:
	}
	if !started {
		return nil
	}
	// Answer once the new settings are in effect, so that the status the
	// caller reads next is the new node's.
	select {
	case <-renewed:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return nil
}

// Status is the cluster as this node sees it.
func (s *Service) Status() Status {
	s.mu.Lock()
	n, cfg, failure := s.node, s.cfg, s.failure
	s.mu.Unlock()
	if n != nil {
		st := n.Status()
		if failure != nil {
			st.ServiceState, st.Error = "failed", failure.Error()
		}
		return st
	}
	local, remote := cfg.syncIPs()
	st := Status{State: cfg.State, Enabled: false, Pairing: "off", Serial: s.Serial(), SyncIP: local,
		Role: "standalone", ServiceState: "disabled", Resource: nonNil(cfg.ResourceIP), PingGroup: len(cfg.PingGroup),
		Revision: s.st.Revision(), Paths: []PathStatus{}}
	if cfg.Enabled() {
		st.ServiceState, st.Role = "failed", RoleInit.String()
		if failure != nil {
			st.Error = failure.Error()
		}
	}
	if cfg.RemoteSerial != "" || remote != "" {
		st.Peer = &PeerStatus{Serial: cfg.RemoteSerial, SyncIP: remote}
	}
	return st
}

// Health is the node's role and whether the peer is heard.
func (s *Service) Health(context.Context) component.Health {
	st := s.Status()
	switch st.ServiceState {
	case "disabled":
		return component.Health{Status: component.Off, Detail: "HA disabled on this node"}
	case "failed":
		return component.Health{Status: component.Down, Detail: "HA not running: " + st.Error}
	case "degraded":
		return component.Health{Status: component.Degraded, Detail: "role " + st.Role + ", degraded: the peer is not heard"}
	}
	return component.Health{Status: component.OK, Detail: "role " + st.Role + ", " + st.ServiceState}
}

// errNotRunning is the answer to an action while HA is not running here.
var errNotRunning = errors.New("HA is not running on this node (state disabled, or not started)")
