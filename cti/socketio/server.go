package socketio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	// MaxPayload is the largest client frame, in bytes.
	MaxPayload int
	// SendQueue is how many frames may wait for a client; a client that lets
	// more pile up is disconnected (it reconnects and gets a fresh state)
	// rather than slowing every broadcast.
	SendQueue int
	// WriteTimeout bounds writing one frame.
	WriteTimeout time.Duration
}

// DefaultConfig is what socket.io's own server announces (25 s pings, 20 s
// timeout), with frames up to 64 KiB and 256 queued frames per client.
func DefaultConfig() Config {
	return Config{PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 64 << 10,
		SendQueue: 256, WriteTimeout: 10 * time.Second}
}

// EventFunc receives one client event on a connected socket: its name, its
// arguments and the id to acknowledge it with (-1 when the client wants no ack).
// Calls for one socket come from one goroutine, in order.
type EventFunc func(s *Socket, name string, args []json.RawMessage, ack int64)

// Server holds the connected sockets and fans events out to rooms.
type Server struct {
	cfg     Config
	log     *slog.Logger
	onEvent EventFunc

	mu  sync.RWMutex
	all map[*Socket]bool
	seq atomic.Uint64
}

// New makes a server; onEvent receives the clients' events.
func New(cfg Config, log *slog.Logger, onEvent EventFunc) *Server {
	return &Server{cfg: cfg, log: log, onEvent: onEvent, all: map[*Socket]bool{}}
}

// Socket is one connected client.
type Socket struct {
	id     string
	ip     string
	conn   *websocket.Conn
	send   chan []byte
	done   chan struct{}
	once   sync.Once
	closeM string

	mu      sync.Mutex
	ns      bool // socket.io namespace "/" connected
	lastPon atomic.Int64
	// rooms are read without a lock by broadcasts, which keeps a fan-out to
	// thousands of sockets cheap; SetRooms replaces the whole set.
	rooms atomic.Pointer[map[string]bool]
}

// ID is the socket's Engine.IO session id.
func (s *Socket) ID() string { return s.id }

// IP is the client's address (no proxy headers are trusted).
func (s *Socket) IP() string { return s.ip }

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
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	var out []*Socket
	for s := range srv.all {
		if s.In(room) {
			out = append(out, s)
		}
	}
	return out
}

// CloseRoom disconnects every socket in room.
func (srv *Server) CloseRoom(room, reason string) {
	for _, s := range srv.In(room) {
		s.Close(reason)
	}
}

// CloseAll disconnects every socket.
func (srv *Server) CloseAll(reason string) {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	for s := range srv.all {
		s.Close(reason)
	}
}

// CheckRequest answers Engine.IO's own error and returns false unless r opens
// an Engine.IO 4 websocket: clients connect with transports:['websocket'], so
// long polling is refused with "Transport unknown".
func CheckRequest(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, 5, "Unsupported protocol version")
		return false
	}
	if q.Get("transport") != "websocket" {
		engineError(w, 0, "Transport unknown")
		return false
	}
	return true
}

func engineError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Serve upgrades r (checked by CheckRequest) to a websocket and serves it until
// the client leaves, the socket is closed or ctx ends.
func (srv *Server) Serve(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	// Whatever a client may do travels in events, never in cookies, so a page
	// of another origin gains nothing by connecting: no origin check.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(int64(srv.cfg.MaxPayload))
	rnd := make([]byte, 6)
	rand.Read(rnd) //nolint:errcheck // crypto/rand does not fail on Linux
	s := &Socket{id: "s" + strconv.FormatUint(srv.seq.Add(1), 36) + hex.EncodeToString(rnd), ip: remoteIP(r), conn: conn,
		send: make(chan []byte, srv.cfg.SendQueue), done: make(chan struct{})}
	s.lastPon.Store(time.Now().UnixNano())
	srv.mu.Lock()
	srv.all[s] = true
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.all, s)
		srv.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	open, _ := json.Marshal(map[string]any{"sid": s.id, "upgrades": []string{}, "pingInterval": srv.cfg.PingInterval.Milliseconds(),
		"pingTimeout": srv.cfg.PingTimeout.Milliseconds(), "maxPayload": srv.cfg.MaxPayload})
	s.send <- append([]byte("0"), open...)
	go srv.readLoop(ctx, s)
	srv.writeLoop(ctx, s)
	conn.Close(websocket.StatusNormalClosure, s.closeM)
}

func (srv *Server) writeLoop(ctx context.Context, s *Socket) {
	t := time.NewTicker(srv.cfg.PingInterval)
	defer t.Stop()
	write := func(b []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, srv.cfg.WriteTimeout)
		defer cancel()
		if err := s.conn.Write(wctx, websocket.MessageText, b); err != nil {
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
			if s.closeM != "send queue full" && s.closeM != "write failed" {
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
			}
			write([]byte("41"))
			return
		case b := <-s.send:
			if !write(b) {
				return
			}
		case <-t.C:
			if time.Since(time.Unix(0, s.lastPon.Load())) > srv.cfg.PingInterval+srv.cfg.PingTimeout {
				s.Close("ping timeout")
				continue
			}
			if !write([]byte("2")) {
				return
			}
		}
	}
}

func (srv *Server) readLoop(ctx context.Context, s *Socket) {
	defer s.Close("read ended")
	defer func() {
		// A bug triggered by one client must not take the daemon down.
		if v := recover(); v != nil {
			srv.log.Error("panic on a socket.io frame", "src", s.ip, "panic", v)
		}
	}()
	for {
		typ, b, err := s.conn.Read(ctx)
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

func (srv *Server) onFrame(s *Socket, b []byte) error {
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
			srv.onEvent(s, p.Event, p.Args, p.Ack)
		}
	}
	return nil
}
