package cti

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/cti/socketio"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

// Service is the CTI server, a component of "switchboard serve".
type Service struct {
	component.Base // Bind: the CTI listens on the daemon's HTTPS listener only

	cfg       Config
	log       *slog.Logger
	st        *store.Store
	dir       *directory
	grants    *tokenGrants
	ami       *ami.Client
	sio       *socketio.Server
	loginLim  *ratelimit.Limiter
	sockLimit *ratelimit.Limiter
	phones    phoneDialer
	accounts  SIPAccounts
	orig      *originates
	now       func() time.Time                  // the clock of the FullyBooted debounce (tests move it)
	compare   func(hash, password []byte) error // bcrypt's, replaced by tests that count the work
	dummyHash []byte                            // compared for unknown users, at the configured cost

	mu       sync.Mutex // guards model, presence, history and the AMI state below
	model    *model.Model
	presence map[string]presenceState // users without a main extension: what they set
	// lastPresence and lastMain are the presences clients last heard.
	lastPresence, lastMain map[string]presenceState
	nethlink               map[string]nethlinkSeen // last NethLink heartbeat per user
	recalls                map[string][]recallWait // recall on busy, by called extension
	history                *cdr.Store
	historySrc             HistorySource  // answers the history endpoints; nil = history
	pbxLoc                 *time.Location // zone of Asterisk's local times (CDR StartTime); nil = the system's
	amiUp                  bool           // logged in and re-synced
	resyncs                int
	lastSync               time.Time
	serving                bool

	ctxMu  sync.Mutex         // guards ctx and cancel
	ctx    context.Context    // socket.io connections end with it: with each Serve
	cancel context.CancelFunc // run (a new one is made when Serve runs again: HA)
	mux    *http.ServeMux
	synced chan struct{} // a re-sync finished (tests wait on it)
	reload chan struct{} // a commit changed users or profiles
}

var _ component.Component = (*Service)(nil)

// presenceState is a user's presence as clients see it.
type presenceState struct {
	Status string `json:"status"` // online|dnd|voicemail|cellphone|callforward
	To     string `json:"to,omitempty"`
}

// New builds the service. Users and profiles are registered with the store here,
// so the audit log can restore them even while the CTI is disabled. log should
// carry component=cti.
func New(cfg Config, log *slog.Logger, st *store.Store) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cti: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc := &Service{
		cfg: cfg, log: log, st: st,
		dir:          newDirectory(st, cfg.BcryptCost),
		grants:       newGrants(cfg.TokenExpiry),
		loginLim:     ratelimit.New(cfg.LoginBurst, cfg.LoginInterval),
		sockLimit:    ratelimit.New(cfg.SocketBurst, cfg.SocketInterval),
		model:        model.New(cfg.Trunks, time.Now),
		presence:     map[string]presenceState{},
		lastPresence: map[string]presenceState{}, lastMain: map[string]presenceState{},
		nethlink: map[string]nethlinkSeen{}, recalls: map[string][]recallWait{},
		orig: newOriginates(), now: time.Now,
		ctx: ctx, cancel: cancel,
		synced: make(chan struct{}, 1),
		reload: make(chan struct{}, 1),
	}
	svc.compare = bcryptCompare
	h, err := bcrypt.GenerateFromPassword(dummyPassword(), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("cti: %w", err)
	}
	svc.dummyHash = h
	svc.sio = socketio.New(socketio.DefaultConfig(), log, svc.socketEvent)
	svc.phones = &httpPhones{st: st, log: log}
	svc.accounts = storeAccounts{st: st, tenant: cfg.Tenant}
	svc.model.SetConference(cfg.FeatureCodes["conference"], cfg.Context)
	svc.dir.revoke = func(user string) {
		svc.grants.RemoveUser(user)
		svc.sio.CloseRoom(userRoom(user), "tokens revoked")
		for _, kind := range []string{"cti-persistent:", "cti-mobile:"} {
			if _, err := st.DeleteUserSessions(context.Background(), kind+user); err != nil {
				log.Error("revoke tokens", "user", user, "err", err)
			}
		}
		log.Info("tokens revoked", "user", user)
	}
	svc.dir.loaded = func() {
		owners := svc.dir.Owners()
		svc.mu.Lock()
		svc.model.SetOwners(owners)
		// New users' presence is known from now on, so their first change
		// is told; changed users are told at once.
		frames := svc.presenceFramesLocked(nil)
		svc.mu.Unlock()
		svc.publish(frames)
	}
	st.Register(store.Kind{Name: kindUnautheCall})
	st.Register(store.Kind{Name: kindSettings})
	if cfg.Enabled {
		c, err := ami.New(cfg.AMI, log)
		if err != nil {
			return nil, fmt.Errorf("cti: %w", err)
		}
		svc.ami = c
	}
	svc.routes()
	return svc, nil
}

// Name is the component's name.
func (svc *Service) Name() string { return "cti" }

// Routes mounts /webrest/ and /socket.io/ on the HTTPS listener and the admin
// routes under /api/v1/cti/.
func (svc *Service) Routes(r component.Router) {
	r.Handle("/webrest/", svc.mux)
	r.Handle("/socket.io/", svc.mux)
	svc.adminRoutes(r.Admin)
}

// Commit reloads users and profiles, off the caller's goroutine, when a commit
// changed them (an audit restore, the CLI, another API). The CTI's own writes
// reload the directory before they answer, so their commits need nothing more.
func (svc *Service) Commit(c store.Commit) {
	if !c.Touches(KindUser, KindProfile) || c.Rev <= svc.dir.Revision() {
		return
	}
	select {
	case svc.reload <- struct{}{}:
	default: // a reload is pending already: it will read this commit too
	}
}

// Health reports the link to Asterisk.
func (svc *Service) Health(context.Context) component.Health {
	if !svc.cfg.Enabled {
		return component.Health{Status: component.Off, Detail: "cti.enabled is off"}
	}
	svc.mu.Lock()
	serving, synced := svc.serving, svc.amiUp
	svc.mu.Unlock()
	st := svc.ami.Status()
	addr := svc.cfg.AMI.Address
	switch {
	case !serving:
		return component.Health{Status: component.Off, Detail: "not running on this node"}
	case synced:
		return component.Health{Status: component.OK, Detail: "AMI connected to " + addr}
	case st.Connected:
		return component.Health{Status: component.Degraded, Detail: "AMI connected to " + addr + ", re-syncing the call state"}
	case st.Logins > 0:
		return component.Health{Status: component.Degraded, Detail: fmt.Sprintf("AMI link to %s lost, reconnecting: %v", addr, st.LastError)}
	case st.LastError != nil:
		return component.Health{Status: component.Degraded, Detail: fmt.Sprintf("AMI not connected to %s: %v", addr, st.LastError)}
	default:
		return component.Health{Status: component.Degraded, Detail: "AMI connecting to " + addr}
	}
}

// runContext is the context socket.io connections derive from.
func (svc *Service) runContext() context.Context {
	svc.ctxMu.Lock()
	defer svc.ctxMu.Unlock()
	return svc.ctx
}

// Handler serves /webrest/ and /socket.io/.
func (svc *Service) Handler() http.Handler { return svc.mux }

// Serve runs the AMI client, the directory reloads and the janitor until ctx ends.
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
	svc.serving = true
	svc.mu.Unlock()
	defer func() {
		svc.mu.Lock()
		svc.serving = false
		svc.mu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel() // before the Wait
	wg.Add(1)
	go func() {
		defer wg.Done()
		svc.housekeeping(hctx)
	}()
	if !svc.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	h, err := cdr.Open(ctx, cdr.PathBeside(svc.st.Path()))
	if err != nil {
		// The live CTI does not depend on it: say so and go on without history.
		svc.log.Error("call history disabled", "err", err)
	} else {
		svc.mu.Lock()
		h.SetLocation(svc.pbxLoc)
		svc.history = h
		svc.mu.Unlock()
		defer func() {
			svc.mu.Lock()
			svc.history = nil
			svc.mu.Unlock()
			if err := h.Close(); err != nil {
				svc.log.Warn("closing the call history", "err", err)
			}
		}()
	}
	svc.log.Info("starting", "ami", svc.cfg.AMI.Address, "token_expiry", svc.cfg.TokenExpiry.String(),
		"auth_disabled", svc.cfg.AuthDisabled, "unauthe_call", svc.cfg.UnautheCall.Enabled)
	err = svc.ami.Run(ctx, (*amiEvents)(svc))
	svc.sio.CloseAll("server shutting down")
	return err
}

// housekeeping reloads the directory after commits that changed it and purges
// expired tokens, until ctx ends.
func (svc *Service) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-svc.reload:
			if err := svc.dir.Load(ctx); err != nil && ctx.Err() == nil {
				svc.log.Error("reload users", "err", err)
			}
		case <-t.C:
			svc.renewSocketTokens()
			svc.grants.Purge()
		}
	}
}

// amiEvents is the service as the AMI client's Handler (kept off Service's
// own method set).
type amiEvents Service

// Connected is a full re-sync.
func (h *amiEvents) Connected(ctx context.Context, c *ami.Conn) error {
	return (*Service)(h).resync(ctx, c)
}

// Event is one incremental update.
func (h *amiEvents) Event(ctx context.Context, c *ami.Conn, m ami.Message) {
	(*Service)(h).event(ctx, c, m)
}

// Disconnected marks the state stale until the next re-sync.
func (h *amiEvents) Disconnected(error) {
	svc := (*Service)(h)
	svc.mu.Lock()
	svc.amiUp = false
	svc.mu.Unlock()
}

// resync reads Asterisk's whole state and loads it into the model.
func (svc *Service) resync(ctx context.Context, c *ami.Conn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in re-sync: %v", v) // the connection is retried
		}
	}()
	snap, err := readSnapshot(ctx, c)
	if err != nil {
		return err
	}
	emits := svc.load(snap)
	svc.log.Info("state re-synced", "endpoints", len(snap.Endpoints), "channels", len(snap.Channels), "updates", len(emits))
	svc.publish(emits)
	select {
	case svc.synced <- struct{}{}:
	default:
	}
	return nil
}

// event applies one AMI event.
func (svc *Service) event(ctx context.Context, c *ami.Conn, m ami.Message) {
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
		recent := svc.now().Sub(svc.lastSync) < 2*time.Second
		svc.mu.Unlock()
		if recent {
			return
		}
		if err := svc.resync(ctx, c); err != nil {
			svc.log.Warn("re-sync after FullyBooted failed", "err", err)
			c.Close()
		}
		return
	}
	if m.Event() == "Cdr" {
		if h := svc.historyDB(); h != nil {
			if err := h.Add(ctx, m); err != nil {
				svc.log.Warn("store CDR", "uniqueid", m.Get("UniqueID"), "err", err)
			}
		}
		return
	}
	if cdr.QueueEvents[m.Event()] {
		// The call-center data of exports; the model sees the event too.
		if h := svc.historyDB(); h != nil {
			if err := h.AddQueueEvent(ctx, m, time.Now()); err != nil {
				svc.log.Warn("store queue event", "event", m.Event(), "err", err)
			}
		}
	}
	switch m.Event() {
	case "OriginateResponse":
		if w := svc.orig.seen(m); w != nil {
			w.ch <- m
		}
		return
	case "MessageWaiting":
		box, _, _ := strings.Cut(m.Get("Mailbox"), "@")
		n, _ := strconv.Atoi(m.Get("New"))
		svc.voicemailCounter(box, n)
		return
	}
	frames, due := svc.apply(m)
	svc.publish(frames)
	if due != nil {
		go svc.runRecalls(svc.runContext(), due)
	}
}

// apply and load change the model under svc.mu, released even if they panic.
func (svc *Service) apply(m ami.Message) ([]frame, map[string][]recallWait) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	emits := svc.model.Apply(m)
	changed := changedExtensions(emits)
	return append(encode(emits), svc.presenceFramesLocked(changed)...), svc.recallsDueLocked(changed)
}

func (svc *Service) load(snap model.Snapshot) []frame {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	emits := append(encode(svc.model.Load(snap)), svc.presenceFramesLocked(nil)...)
	svc.amiUp = true
	svc.resyncs++
	svc.lastSync = svc.now()
	return emits
}

// SetPBXLocation sets the PBX's time zone, in which Asterisk writes the times
// of CDRs (StartTime) and queue events are recorded for exports. Call it
// before Serve; nil keeps the system's zone.
func (svc *Service) SetPBXLocation(loc *time.Location) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.pbxLoc = loc
}

// HistorySource answers the call history endpoints: the CTI's own CDRs
// (cdr.Store) or the PBX's database (pbxdb.DB). It checks the query with
// cdr.Query.Order and refuses it with a *cdr.QueryError.
type HistorySource interface {
	CallHistory(ctx context.Context, q cdr.Query) (int, []cdr.Row, error)
}

// SetHistorySource makes the history endpoints read src instead of the CDRs
// the CTI keeps (which it keeps recording). Call it before Serve; nil goes
// back to the CTI's own.
func (svc *Service) SetHistorySource(src HistorySource) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.historySrc = src
}

// historySource is what answers the history endpoints now, or nil.
func (svc *Service) historySource() HistorySource {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.historySrc != nil {
		return svc.historySrc
	}
	if svc.history != nil {
		return svc.history
	}
	return nil
}

func (svc *Service) historyDB() *cdr.Store {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.history
}

// frame is an event encoded for the wire with its audience.
type frame struct {
	b    []byte
	room string
	also []string
}

// encode turns the model's emits into frames. It must run under svc.mu: the
// data are live model objects, which the next AMI event changes.
func encode(emits []model.Emit) []frame {
	out := make([]frame, 0, len(emits))
	for _, e := range emits {
		b, err := socketio.Encode(e.Name, e.Data)
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
		svc.sendFrame(f)
	}
}

// resyncAll re-reads users and profiles and forces an AMI re-sync.
func (svc *Service) resyncAll(ctx context.Context) error {
	if err := svc.dir.Load(ctx); err != nil {
		return err
	}
	if svc.ami == nil {
		return nil
	}
	c, err := svc.ami.Conn()
	if err != nil {
		return err
	}
	return svc.resync(ctx, c)
}

// dump is the whole state, for "switchboard cti dump".
func (svc *Service) dump() map[string]any {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return map[string]any{
		"enabled":    svc.cfg.Enabled,
		"ami_up":     svc.amiUp,
		"resyncs":    svc.resyncs,
		"sockets":    svc.sio.Count(),
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

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
