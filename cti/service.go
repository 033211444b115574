package cti

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

// Service is the CTI server.
type Service struct {
	cfg       Config
	log       *slog.Logger
	st        *store.Store
	dir       *Directory
	grants    *Grants
	ami       *AMIClient
	hub       *hub
	loginLim  *ratelimit.Limiter
	sockLimit *ratelimit.Limiter
	phones    PhoneDialer
	history   *History

	mu       sync.Mutex // guards model and presence
	model    *Model
	presence map[string]Presence
	amiUp    bool
	resyncs  int
	lastSync time.Time

	ctxMu  sync.Mutex         // guards ctx and cancel
	ctx    context.Context    // socket.io connections end with it: with each Serve
	cancel context.CancelFunc // run (a new one is made when Serve runs again: HA)
	mux    *http.ServeMux
	resync chan struct{}
}

// Presence is a user's presence as clients see it.
type Presence struct {
	Status string `json:"status"` // online|dnd|voicemail|cellphone|callforward
	To     string `json:"to,omitempty"`
}

// New builds the service. Users and profiles are registered with the store here,
// so the audit log can restore them even while the CTI is disabled.
func New(cfg Config, log *slog.Logger, st *store.Store) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cti: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc := &Service{
		cfg: cfg, log: log, st: st,
		dir:       newDirectory(st, cfg.BcryptCost),
		grants:    newGrants(cfg.TokenExpiry),
		hub:       newHub(log),
		loginLim:  ratelimit.New(cfg.LoginBurst, cfg.LoginInterval),
		sockLimit: ratelimit.New(cfg.SocketBurst, cfg.SocketInterval),
		model:     NewModel(cfg.Trunks),
		presence:  map[string]Presence{},
		ctx:       ctx, cancel: cancel,
		resync: make(chan struct{}, 1),
	}
	svc.phones = &httpPhones{st: st, log: log}
	svc.dir.revoke = func(user string) {
		svc.grants.RemoveUser(user)
		svc.hub.closeUser(user, "tokens revoked")
		for _, kind := range []string{"cti-persistent:", "cti-mobile:"} {
			if _, err := st.DeleteUserSessions(context.Background(), kind+user); err != nil {
				log.Error("revoke tokens", "user", user, "err", err)
			}
		}
		log.Info("tokens revoked", "user", user)
	}
	st.Register(store.Kind{Name: kindUnautheCall})
	if cfg.Enabled {
		ami, err := NewAMIClient(cfg.AMI, log)
		if err != nil {
			return nil, fmt.Errorf("cti: %w", err)
		}
		svc.ami = ami
	}
	svc.routes()
	// Users changed by an audit restore (or anything else) reload the directory.
	st.Subscribe(func(c store.Commit) {
		if c.Touches(KindUser, KindProfile) {
			if err := svc.dir.Load(context.Background()); err != nil {
				log.Error("reload users", "err", err)
			}
			svc.mu.Lock()
			svc.model.SetNames(svc.dir.Names())
			svc.mu.Unlock()
		}
	})
	return svc, nil
}

// Enabled reports whether the CTI runs.
func (svc *Service) Enabled() bool { return svc.cfg.Enabled }

// Directory gives the admin API the users and profiles.
func (svc *Service) Directory() *Directory { return svc.dir }

// SetPhoneDialer replaces how desk phones are driven over HTTP (tests).
func (svc *Service) SetPhoneDialer(p PhoneDialer) { svc.phones = p }

// runContext is the context socket.io connections derive from.
func (svc *Service) runContext() context.Context {
	svc.ctxMu.Lock()
	defer svc.ctxMu.Unlock()
	return svc.ctx
}

// Handler serves /webrest/ and /socket.io/.
func (svc *Service) Handler() http.Handler { return svc.mux }

// Serve runs the AMI client and the janitor until ctx ends.
func (svc *Service) Serve(ctx context.Context) error {
	svc.ctxMu.Lock()
	if svc.ctx.Err() != nil {
		svc.ctx, svc.cancel = context.WithCancel(context.Background())
	}
	defer svc.cancel()
	svc.ctxMu.Unlock()
	if err := svc.dir.Load(ctx); err != nil {
		return fmt.Errorf("cti: load users: %w", err)
	}
	svc.mu.Lock()
	svc.model.SetNames(svc.dir.Names())
	svc.mu.Unlock()
	if !svc.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	h, err := openHistory(ctx, historyPath(svc.st.Path()))
	if err != nil {
		// The live CTI does not depend on it: say so and go on without history.
		svc.log.Error("call history disabled", "err", err)
	} else {
		svc.mu.Lock()
		svc.history = h
		svc.mu.Unlock()
		defer h.close()
	}
	svc.log.Info("starting", "ami", svc.cfg.AMI.Address, "token_expiry", svc.cfg.TokenExpiry.String(),
		"auth_disabled", svc.cfg.AuthDisabled, "unauthe_call", svc.cfg.UnautheCall.Enabled)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				svc.grants.Purge()
			}
		}
	}()
	err = svc.ami.Run(ctx, svc)
	svc.hub.closeAll("server shutting down")
	wg.Wait()
	return err
}

// Connected implements AMIHandler: a full re-sync.
func (svc *Service) Connected(ctx context.Context, c *AMIConn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("cti: panic in re-sync: %v", v) // the connection is retried
		}
	}()
	snap, err := ReadSnapshot(ctx, c)
	if err != nil {
		return err
	}
	emits := svc.load(snap)
	svc.log.Info("state re-synced", "endpoints", len(snap.Endpoints), "channels", len(snap.Channels), "updates", len(emits))
	svc.publish(emits)
	select {
	case svc.resync <- struct{}{}:
	default:
	}
	return nil
}

// Event implements AMIHandler: one incremental update.
func (svc *Service) Event(ctx context.Context, c *AMIConn, m Message) {
	defer func() {
		// An event the model mishandles must not take the daemon down: drop the
		// connection, and the re-sync on reconnect rebuilds a consistent state.
		if v := recover(); v != nil {
			svc.log.Error("panic applying an AMI event; reconnecting", "event", m.Event(), "panic", v)
			c.Close()
		}
	}()
	if m.Event() == "FullyBooted" {
		// Asterisk finished (re)loading: what we knew may be stale. Asterisk also
		// greets every new session with FullyBooted; the re-sync on connect has
		// just covered that one.
		svc.mu.Lock()
		recent := time.Since(svc.lastSync) < 2*time.Second
		svc.mu.Unlock()
		if recent {
			return
		}
		if err := svc.Connected(ctx, c); err != nil {
			svc.log.Warn("re-sync after FullyBooted failed", "err", err)
			c.Close()
		}
		return
	}
	if m.Event() == "Cdr" {
		if h := svc.historyDB(); h != nil {
			if err := h.add(ctx, m); err != nil {
				svc.log.Warn("store CDR", "uniqueid", m.Get("UniqueID"), "err", err)
			}
		}
		return
	}
	svc.publish(svc.apply(m))
}

// apply and load change the model under svc.mu, released even if they panic.
func (svc *Service) apply(m Message) []frame {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return encode(svc.model.Apply(m))
}

func (svc *Service) load(snap Snapshot) []frame {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	emits := encode(svc.model.Load(snap))
	svc.amiUp = true
	svc.resyncs++
	svc.lastSync = time.Now()
	return emits
}

func (svc *Service) historyDB() *History {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.history
}

// Disconnected implements AMIHandler.
func (svc *Service) Disconnected(err error) {
	svc.mu.Lock()
	svc.amiUp = false
	svc.mu.Unlock()
}

// frame is an event encoded for the wire with its audience.
type frame struct {
	b    []byte
	room string
	also []string
}

// encode turns the model's emits into frames. It must run under svc.mu: the
// data are live model objects, which the next AMI event changes.
func encode(emits []Emit) []frame {
	out := make([]frame, 0, len(emits))
	for _, e := range emits {
		b, err := eventFrame(e.Name, e.Data)
		if err != nil {
			continue // our own types always encode
		}
		out = append(out, frame{b, e.Room, e.Also})
	}
	return out
}

// publish sends frames, outside svc.mu so slow fan-outs never hold the model.
func (svc *Service) publish(frames []frame) {
	for _, f := range frames {
		svc.hub.broadcastFrame(f.b, f.room, f.also...)
	}
}

// Reload re-reads users and profiles and forces an AMI re-sync.
func (svc *Service) Reload(ctx context.Context) error {
	if err := svc.dir.Load(ctx); err != nil {
		return err
	}
	svc.mu.Lock()
	svc.model.SetNames(svc.dir.Names())
	svc.mu.Unlock()
	if svc.ami == nil {
		return nil
	}
	c, err := svc.ami.Conn()
	if err != nil {
		return err
	}
	return svc.Connected(ctx, c)
}

// Dump is the whole state, for "switchboard cti dump".
func (svc *Service) Dump() map[string]any {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return map[string]any{
		"enabled":    svc.cfg.Enabled,
		"ami_up":     svc.amiUp,
		"resyncs":    svc.resyncs,
		"sockets":    svc.hub.count(),
		"extensions": svc.model.Extensions(),
		"trunks":     svc.model.Trunks(),
		"queues":     svc.model.Queues(),
		"parkings":   svc.model.Parkings(),
		"channels":   svc.model.Channels(),
		"users":      len(svc.dir.Users()),
	}
}

// remoteIP is the peer address (no proxy headers are trusted).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
