package socketio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Config tunes the transport.
type Config struct {
	// PingInterval is how often the server pings each client.
	PingInterval time.Duration
	// PingTimeout is how long after a ping's interval a client may stay silent
	// before it counts as gone.
	PingTimeout time.Duration
	// MaxPayload is the largest client frame (websocket) or request body
	// (long polling), in bytes.
	MaxPayload int
	// SendQueue is how many frames may wait for a client; a client that lets
	// more pile up is disconnected (it reconnects and gets a fresh state)
	// rather than slowing every broadcast.
	SendQueue int
	// WriteTimeout bounds writing one frame (websocket) or one poll answer.
	WriteTimeout time.Duration
	// UpgradeTimeout is how long a polling client may take between its
	// upgrade probe and the upgrade itself.
	UpgradeTimeout time.Duration
}

// DefaultConfig is what socket.io's own server announces (25 s pings, 20 s
// timeout), with frames up to 64 KiB and 256 queued frames per client.
func DefaultConfig() Config {
	return Config{PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 64 << 10,
		SendQueue: 256, WriteTimeout: 10 * time.Second, UpgradeTimeout: 10 * time.Second}
}

// EventFunc receives one client event on a connected socket: its name, its
// arguments and the id to acknowledge it with (-1 when the client wants no ack).
// Calls for one socket come from one goroutine at a time, in order.
type EventFunc func(s *Socket, name string, args []json.RawMessage, ack int64)

// Server holds the connected sockets and fans events out to rooms.
type Server struct {
	cfg     Config
	log     *slog.Logger
	onEvent EventFunc

	mu       sync.RWMutex
	all      map[*Socket]bool
	sessions map[string]*Socket // by sid: polling requests and upgrades find their socket
	seq      atomic.Uint64
}

// New makes a server; onEvent receives the clients' events.
func New(cfg Config, log *slog.Logger, onEvent EventFunc) *Server {
	if cfg.UpgradeTimeout <= 0 {
		cfg.UpgradeTimeout = 10 * time.Second
	}
	return &Server{cfg: cfg, log: log, onEvent: onEvent, all: map[*Socket]bool{}, sessions: map[string]*Socket{}}
}

// Socket is one connected client, over websocket or long polling.
type Socket struct {
	id     string
	ip     string
	send   chan []byte
	done   chan struct{}
	once   sync.Once
	closeM string

	mu      sync.Mutex
	ns      bool // socket.io namespace "/" connected
	ws      bool // on websocket (from the start, or upgraded)
	probing bool // an upgrade probe was answered
	lastPon atomic.Int64
	value   atomic.Value
	// drain is held by whoever writes the send queue to the client: the poll
	// request in progress or, once upgraded, the websocket writer. One drainer
	// at a time keeps frames in order across the upgrade.
	drain sync.Mutex
	// upgrade is closed when a probe is answered: a poll in progress returns
	// a noop so the client moves to the websocket.
	upgrade chan struct{}
	// final is closed once a polling client got its closing frames.
	final     chan struct{}
	finalOnce sync.Once
	evMu      sync.Mutex // one event handler call at a time per socket
	// rooms are read without a lock by broadcasts, which keeps a fan-out to
	// thousands of sockets cheap; SetRooms replaces the whole set.
	rooms atomic.Pointer[map[string]bool]
}

// ID is the socket's Engine.IO session id.
func (s *Socket) ID() string { return s.id }

// IP is the client's address (no proxy headers are trusted).
func (s *Socket) IP() string { return s.ip }

// Transport is "websocket" or "polling".
func (s *Socket) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws {
		return "websocket"
	}
	return "polling"
}

// SetValue attaches the user's data to the socket (its login, say).
func (s *Socket) SetValue(v any) { s.value.Store(&v) }

// Value is what SetValue attached, or nil.
func (s *Socket) Value() any {
	if p, ok := s.value.Load().(*any); ok {
		return *p
	}
	return nil
}

// SetRooms replaces the rooms the socket hears.
func (s *Socket) SetRooms(rooms ...string) {
	m := make(map[string]bool, len(rooms))
	for _, r := range rooms {
		m[r] = true
	}
	s.rooms.Store(&m)
}

// In reports whether the socket is in room.
func (s *Socket) In(room string) bool {
	m := s.rooms.Load()
	return m != nil && (*m)[room]
}

// Close ends the connection after what is queued (unless the client itself is
// the problem), with a socket.io disconnect.
func (s *Socket) Close(reason string) {
	s.once.Do(func() {
		s.closeM = reason
		close(s.done)
	})
}

// Send queues an encoded frame (see Encode).
func (s *Socket) Send(frame []byte) {
	select {
	case s.send <- frame:
	case <-s.done:
	default:
		s.Close("send queue full")
	}
}

// Emit sends one event to this socket.
func (s *Socket) Emit(name string, data any) {
	if f, err := Encode(name, data); err == nil {
		s.Send(f)
	}
}

// Ack acknowledges the client's event id with args.
func (s *Socket) Ack(id int64, args ...any) {
	if args == nil {
		args = []any{}
	}
	b, err := json.Marshal(args)
	if err != nil {
		return
	}
	s.Send(append([]byte("43"+strconv.FormatInt(id, 10)), b...))
}

// Count is the number of connected sockets.
func (srv *Server) Count() int {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return len(srv.all)
}

// Broadcast sends an encoded frame to every socket in any of rooms and reports
// to how many.
func (srv *Server) Broadcast(frame []byte, rooms ...string) int {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	n := 0
	for s := range srv.all {
		for _, r := range rooms {
			if s.In(r) {
				s.Send(frame)
				n++
				break
			}
		}
	}
	return n
}

// In lists the sockets in room.
func (srv *Server) In(room string) []*Socket {
	var out []*Socket
	srv.Each(func(s *Socket) {
		if s.In(room) {
			out = append(out, s)
		}
	})
	return out
}

// Each calls f for every connected socket (f must not call back into srv).
func (srv *Server) Each(f func(*Socket)) {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	for s := range srv.all {
		f(s)
	}
}

// CloseRoom disconnects every socket in room.
func (srv *Server) CloseRoom(room, reason string) {
	for _, s := range srv.In(room) {
		s.Close(reason)
	}
}

// CloseAll disconnects every socket.
func (srv *Server) CloseAll(reason string) {
	srv.Each(func(s *Socket) { s.Close(reason) })
}

// CheckRequest answers Engine.IO's own error and returns false unless r is an
// Engine.IO 4 request over a transport this server speaks (websocket or
// long polling).
func CheckRequest(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, http.StatusBadRequest, 5, "Unsupported protocol version")
		return false
	}
	switch q.Get("transport") {
	case "websocket", "polling":
	default:
		engineError(w, http.StatusBadRequest, 0, "Transport unknown")
		return false
	}
	if q.Has("j") || q.Has("b64") && q.Get("transport") == "polling" && q.Get("b64") != "1" {
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		return false
	}
	return true
}

// IsHandshake reports whether r opens a new session (no sid): callers rate
// limit those, not the polls of sessions already open.
func IsHandshake(r *http.Request) bool { return r.URL.Query().Get("sid") == "" }

func engineError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newSocket registers a new session.
func (srv *Server) newSocket(r *http.Request, ws bool) *Socket {
	rnd := make([]byte, 6)
	rand.Read(rnd)
	s := &Socket{id: "s" + strconv.FormatUint(srv.seq.Add(1), 36) + hex.EncodeToString(rnd), ip: remoteIP(r), ws: ws,
		send: make(chan []byte, srv.cfg.SendQueue), done: make(chan struct{}), upgrade: make(chan struct{}), final: make(chan struct{})}
	s.lastPon.Store(time.Now().UnixNano())
	srv.mu.Lock()
	srv.all[s] = true
	srv.sessions[s.id] = s
	srv.mu.Unlock()
	return s
}

func (srv *Server) forget(s *Socket) {
	srv.mu.Lock()
	delete(srv.all, s)
	delete(srv.sessions, s.id)
	srv.mu.Unlock()
}

func (srv *Server) session(sid string) *Socket {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.sessions[sid]
}

// openPacket is Engine.IO's handshake.
func (srv *Server) openPacket(s *Socket, upgrades []string) []byte {
	open, _ := json.Marshal(map[string]any{"sid": s.id, "upgrades": upgrades, "pingInterval": srv.cfg.PingInterval.Milliseconds(),
		"pingTimeout": srv.cfg.PingTimeout.Milliseconds(), "maxPayload": srv.cfg.MaxPayload})
	return append([]byte("0"), open...)
}

// Serve serves one Engine.IO request (checked by CheckRequest): a websocket
// (new, or the upgrade of a polling session), a poll or a post of a polling
// session, or a polling handshake. Sessions end with ctx.
func (srv *Server) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sid := q.Get("sid")
	if q.Get("transport") == "websocket" {
		if sid == "" {
			srv.serveWebsocket(ctx, w, r)
			return
		}
		s := srv.session(sid)
		if s == nil || s.Transport() == "websocket" {
			engineError(w, http.StatusBadRequest, 1, "Session ID unknown")
			return
		}
		srv.serveUpgrade(ctx, w, r, s)
		return
	}
	if sid == "" {
		if r.Method != http.MethodGet {
			engineError(w, http.StatusBadRequest, 2, "Bad handshake method")
			return
		}
		s := srv.newSocket(r, false)
		go srv.keepalive(ctx, s)
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.Write(srv.openPacket(s, []string{"websocket"})) // the client went away: its session times out
		return
	}
	s := srv.session(sid)
	if s == nil {
		engineError(w, http.StatusBadRequest, 1, "Session ID unknown")
		return
	}
	switch r.Method {
	case http.MethodGet:
		srv.poll(ctx, w, r, s)
	case http.MethodPost:
		srv.post(w, r, s)
	default:
		engineError(w, http.StatusBadRequest, 3, "Bad request")
	}
}

// keepalive pings the client every PingInterval (a frame in its queue, on
// whatever transport) and ends the session when no pong came back in time
// or ctx ends; it then forgets the session.
func (srv *Server) keepalive(ctx context.Context, s *Socket) {
	t := time.NewTicker(srv.cfg.PingInterval)
	defer t.Stop()
	defer srv.forget(s)
	for {
		select {
		case <-ctx.Done():
			s.Close("server shutting down")
			srv.finish(s)
			return
		case <-s.done:
			srv.finish(s)
			return
		case <-t.C:
			if time.Since(time.Unix(0, s.lastPon.Load())) > srv.cfg.PingInterval+srv.cfg.PingTimeout {
				s.Close("ping timeout")
				continue
			}
			s.Send([]byte("2"))
		}
	}
}

// finish waits (bounded) for the closing frames to reach a polling client.
func (srv *Server) finish(s *Socket) {
	if s.Transport() == "websocket" || s.closeM == "client closed" || s.closeM == "client disconnect" {
		return // a client that said goodbye expects nothing more
	}
	// The next poll delivers the disconnect; a client that never polls again
	// is forgotten after a while.
	select {
	case <-s.final:
	case <-time.After(srv.cfg.PingTimeout):
	}
}

// closingFrames is what a client hears last: the socket.io disconnect, and for
// polling the Engine.IO close.
func closingFrames(s *Socket) [][]byte {
	if s.closeM == "send queue full" || s.closeM == "write failed" || s.closeM == "client closed" {
		return nil
	}
	return [][]byte{[]byte("41")}
}

// poll answers a long-polling GET with the frames queued, waiting for the
// first one.
func (srv *Server) poll(ctx context.Context, w http.ResponseWriter, r *http.Request, s *Socket) {
	if s.Transport() == "websocket" {
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		return
	}
	if !s.drain.TryLock() {
		if s.Transport() == "websocket" {
			engineError(w, http.StatusBadRequest, 3, "Bad request")
			return
		}
		// Two polls at once: a broken client. Engine.IO closes the session.
		engineError(w, http.StatusBadRequest, 3, "Bad request")
		s.Close("overlapping polls")
		return
	}
	defer s.drain.Unlock()
	var frames [][]byte
	select {
	case b := <-s.send:
		frames = append(frames, b)
	case <-s.upgrade:
		frames = append(frames, []byte("6"))
	case <-s.done:
		for drained := false; !drained; {
			select {
			case b := <-s.send:
				frames = append(frames, b)
			default:
				drained = true
			}
		}
		frames = append(frames, closingFrames(s)...)
		frames = append(frames, []byte("1"))
		defer s.finalOnce.Do(func() { close(s.final) })
	case <-ctx.Done():
		frames = append(frames, []byte("1"))
	case <-r.Context().Done():
		return
	}
	// Whatever else is queued rides along, up to the payload limit.
	size := 0
	for _, f := range frames {
		size += len(f) + 1
	}
	for more := true; more && size < srv.cfg.MaxPayload; {
		select {
		case b := <-s.send:
			frames = append(frames, b)
			size += len(b) + 1
		default:
			more = false
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(srv.cfg.WriteTimeout)) //nolint:errcheck // best effort
	if _, err := w.Write(bytes.Join(frames, []byte{0x1e})); err != nil {
		s.Close("write failed")
	}
}

// post reads the frames a polling client sends, separated by 0x1e.
func (srv *Server) post(w http.ResponseWriter, r *http.Request, s *Socket) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(srv.cfg.MaxPayload)+1))
	if err != nil || len(body) > srv.cfg.MaxPayload {
		engineError(w, http.StatusRequestEntityTooLarge, 3, "Bad request")
		s.Close("payload too large")
		return
	}
	for _, f := range bytes.Split(body, []byte{0x1e}) {
		if err := srv.onFrame(s, f); err != nil {
			srv.log.Debug("socket.io bad frame", "src", s.ip, "err", err)
			engineError(w, http.StatusBadRequest, 3, "Bad request")
			s.Close("protocol error")
			return
		}
	}
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte("ok")) // the client went away
}

// serveWebsocket runs a session that starts on websocket.
func (srv *Server) serveWebsocket(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	// Whatever a client may do travels in events, never in cookies, so a page
	// of another origin gains nothing by connecting: no origin check.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(int64(srv.cfg.MaxPayload))
	s := srv.newSocket(r, true)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.send <- srv.openPacket(s, []string{})
	go srv.keepalive(ctx, s)
	go srv.readLoop(ctx, s, conn)
	s.drain.Lock()
	srv.writeLoop(ctx, s, conn)
	s.drain.Unlock()
	conn.Close(websocket.StatusNormalClosure, s.closeM)
}

// serveUpgrade moves a polling session to a websocket: the client probes
// ("2probe" -> "3probe"), the poll in progress ends with a noop, the client
// says "5" and from then on every frame goes over the websocket.
func (srv *Server) serveUpgrade(ctx context.Context, w http.ResponseWriter, r *http.Request, s *Socket) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn.SetReadLimit(int64(srv.cfg.MaxPayload))
	uctx, ucancel := context.WithTimeout(ctx, srv.cfg.UpgradeTimeout)
	defer ucancel()
	fail := func(why string) {
		srv.log.Debug("socket.io upgrade failed", "src", s.ip, "why", why)
		conn.Close(websocket.StatusPolicyViolation, why)
	}
	for upgraded := false; !upgraded; {
		typ, b, err := conn.Read(uctx)
		if err != nil {
			fail("no upgrade")
			return
		}
		switch {
		case typ != websocket.MessageText:
			fail("binary frame")
			return
		case string(b) == "2probe":
			if err := conn.Write(uctx, websocket.MessageText, []byte("3probe")); err != nil {
				fail("write failed")
				return
			}
			s.mu.Lock()
			if !s.probing {
				s.probing = true
				close(s.upgrade)
			}
			s.mu.Unlock()
		case string(b) == "5":
			s.mu.Lock()
			ok := s.probing
			s.ws = ok
			s.mu.Unlock()
			if !ok {
				fail("upgrade without probe")
				return
			}
			upgraded = true
		default:
			// Frames of the session may come over the new transport already.
			if err := srv.onFrame(s, b); err != nil {
				s.Close("protocol error")
				fail("protocol error")
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.readLoop(ctx, s, conn)
	// Waits for the poll in progress to return its noop, then owns the queue.
	s.drain.Lock()
	srv.writeLoop(ctx, s, conn)
	s.drain.Unlock()
	conn.Close(websocket.StatusNormalClosure, s.closeM)
}

func (srv *Server) writeLoop(ctx context.Context, s *Socket, conn *websocket.Conn) {
	write := func(b []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, srv.cfg.WriteTimeout)
		defer cancel()
		if err := conn.Write(wctx, websocket.MessageText, b); err != nil {
			s.Close("write failed")
			return false
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			s.Close("server shutting down")
			return
		case <-s.done:
			// Deliver what was queued before the end (a refusal, a takeover
			// notice), unless the client is the reason, then say goodbye at
			// socket.io level.
			if closing := closingFrames(s); closing != nil {
				for drained := false; !drained; {
					select {
					case b := <-s.send:
						if !write(b) {
							return
						}
					default:
						drained = true
					}
				}
				for _, f := range closing {
					write(f)
				}
			}
			return
		case b := <-s.send:
			if !write(b) {
				return
			}
		}
	}
}

func (srv *Server) readLoop(ctx context.Context, s *Socket, conn *websocket.Conn) {
	defer s.Close("read ended")
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue // binary attachments are not supported
		}
		if err := srv.onFrame(s, b); err != nil {
			srv.log.Debug("socket.io bad frame", "src", s.ip, "err", err)
			s.Close("protocol error")
			return
		}
	}
}

func (srv *Server) onFrame(s *Socket, b []byte) (err error) {
	defer func() {
		// A bug triggered by one client must not take the daemon down.
		if v := recover(); v != nil {
			srv.log.Error("panic on a socket.io frame", "src", s.ip, "panic", v)
			err = fmt.Errorf("%w: internal error", errFrame)
		}
	}()
	typ, p, err := parseFrame(b)
	if err != nil {
		return err
	}
	switch typ {
	case '1':
		s.Close("client closed")
		return nil
	case '2': // a ping from the client (protocol 3 style): answer it
		s.Send([]byte("3"))
		return nil
	case '3':
		s.lastPon.Store(time.Now().UnixNano())
		return nil
	case '5', '6':
		return nil
	}
	if p.NS != "/" {
		s.Send([]byte("44" + p.NS + `,{"message":"Invalid namespace"}`))
		return nil
	}
	switch p.Type {
	case '0':
		s.mu.Lock()
		s.ns = true
		s.mu.Unlock()
		s.Send([]byte(`40{"sid":"` + s.id + `"}`))
	case '1':
		s.Close("client disconnect")
	case '2':
		s.mu.Lock()
		ns := s.ns
		s.mu.Unlock()
		if !ns {
			return fmt.Errorf("%w: event before connect", errFrame)
		}
		if srv.onEvent != nil {
			s.evMu.Lock()
			defer s.evMu.Unlock()
			srv.onEvent(s, p.Event, p.Args, p.Ack)
		}
	}
	return nil
}
