package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// This file is a socket.io v4 server (Engine.IO protocol 4) over websocket only:
// the CTI clients connect with transports:['websocket'], so the long-polling
// transport is refused with Engine.IO's "Transport unknown" answer. Engine.IO
// packets are one websocket text message each: 0 open, 1 close, 2 ping, 3 pong,
// 4 message; a socket.io packet rides in a message: "40" connect, "41"
// disconnect, "42[name,data]" event, "42<id>[...]" event with ack, "43<id>[...]" ack.

const (
	pingInterval = 25 * time.Second
	pingTimeout  = 20 * time.Second
	maxPayload   = 64 << 10 // bytes of one client frame; logins are tiny
	sendQueue    = 256      // frames queued per socket before it counts as stuck
)

// sioSocket is one connected client.
type sioSocket struct {
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
	// login is set once the user has logged in; broadcasts read it without a
	// lock, which keeps a fan-out to thousands of sockets cheap.
	login atomic.Pointer[sockLogin]
}

// sockLogin is who is logged in on a socket and the rooms they hear.
type sockLogin struct {
	user, uaType string
	rooms        map[string]bool
}

func (s *sioSocket) close(reason string) {
	s.once.Do(func() {
		s.closeM = reason
		close(s.done)
	})
}

// enqueue queues a frame; a client that does not read fast enough is dropped
// rather than slowing everyone (it reconnects and gets a fresh state).
func (s *sioSocket) enqueue(frame []byte) {
	select {
	case s.send <- frame:
	case <-s.done:
	default:
		s.close("send queue full")
	}
}

func (s *sioSocket) inRoom(room string) bool {
	l := s.login.Load()
	return l != nil && l.rooms[room]
}

// hub holds the sockets and fans events out.
type hub struct {
	log *slog.Logger
	mu  sync.RWMutex
	all map[*sioSocket]bool
	seq atomic.Uint64
}

func newHub(log *slog.Logger) *hub { return &hub{log: log, all: map[*sioSocket]bool{}} }

func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.all)
}

// eventFrame encodes an event once for every recipient.
func eventFrame(name string, data any) ([]byte, error) {
	b, err := json.Marshal([]any{name, data})
	if err != nil {
		return nil, err
	}
	return append([]byte("42"), b...), nil
}

// broadcast sends an event to the sockets in room or in the rooms of also.
// data must not be shared with other goroutines (see encode for model objects).
func (h *hub) broadcast(name string, data any, room string, also ...string) {
	frame, err := eventFrame(name, data)
	if err != nil {
		h.log.Error("encode event", "event", name, "err", err)
		return
	}
	h.broadcastFrame(frame, room, also...)
}

// broadcastFrame sends an encoded event (one allocation for every recipient).
func (h *hub) broadcastFrame(frame []byte, room string, also ...string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		ok := s.inRoom(room)
		for _, a := range also {
			ok = ok || s.inRoom("exten:"+a)
		}
		if ok {
			s.enqueue(frame)
		}
	}
}

// toUser sends an event to every socket of a user.
func (h *hub) toUser(user, name string, data any) int {
	frame, err := eventFrame(name, data)
	if err != nil {
		return 0
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for s := range h.all {
		if l := s.login.Load(); l != nil && l.user == user {
			s.enqueue(frame)
			n++
		}
	}
	return n
}

// closeUser disconnects every socket of a user (revoked tokens).
func (h *hub) closeUser(user, reason string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		if l := s.login.Load(); l != nil && l.user == user {
			s.close(reason)
		}
	}
}

func (h *hub) closeAll(reason string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		s.close(reason)
	}
}

// socketHandler serves /socket.io/.
func (svc *Service) socketHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, 5, "Unsupported protocol version")
		return
	}
	if q.Get("transport") != "websocket" {
		engineError(w, 0, "Transport unknown")
		return
	}
	ip := remoteIP(r)
	if wait := svc.sockLimit.Wait(ip); wait > 0 {
		svc.log.Warn("socket.io connection rate limit", "src", ip, "retry_after", wait.Round(time.Second).String())
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		http.Error(w, "too many connections from your address", http.StatusTooManyRequests)
		return
	}
	svc.sockLimit.Fail(ip)
	if svc.hub.count() >= svc.cfg.MaxSockets {
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	// The token travels in the login event, never in cookies, so a page of another
	// origin gains nothing by connecting: the origin check is not needed.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(maxPayload)
	s := &sioSocket{id: "s" + strconv.FormatUint(svc.hub.seq.Add(1), 36) + newNonce()[:12], ip: ip, conn: conn,
		send: make(chan []byte, sendQueue), done: make(chan struct{})}
	s.lastPon.Store(time.Now().UnixNano())
	svc.hub.mu.Lock()
	svc.hub.all[s] = true
	svc.hub.mu.Unlock()
	defer func() {
		svc.hub.mu.Lock()
		delete(svc.hub.all, s)
		svc.hub.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(svc.runContext())
	defer cancel()
	open, _ := json.Marshal(map[string]any{"sid": s.id, "upgrades": []string{}, "pingInterval": pingInterval.Milliseconds(),
		"pingTimeout": pingTimeout.Milliseconds(), "maxPayload": maxPayload})
	s.send <- append([]byte("0"), open...)
	go svc.readLoop(ctx, s)
	svc.writeLoop(ctx, s)
	conn.Close(websocket.StatusNormalClosure, s.closeM)
}

func engineError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

func (svc *Service) writeLoop(ctx context.Context, s *sioSocket) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	write := func(b []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.conn.Write(wctx, websocket.MessageText, b); err != nil {
			s.close("write failed")
			return false
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			s.close("server shutting down")
			return
		case <-s.done:
			// Deliver what was queued before the end (a 401 or takeOver), unless
			// the client is the reason, then say goodbye at socket.io level.
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
			if time.Since(time.Unix(0, s.lastPon.Load())) > pingInterval+pingTimeout {
				s.close("ping timeout")
				continue
			}
			if !write([]byte("2")) {
				return
			}
		}
	}
}

func (svc *Service) readLoop(ctx context.Context, s *sioSocket) {
	defer s.close("read ended")
	defer func() {
		// A bug triggered by one client must not take the daemon down.
		if v := recover(); v != nil {
			svc.log.Error("panic on a socket.io frame", "src", s.ip, "panic", v)
		}
	}()
	for {
		typ, b, err := s.conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			continue // binary attachments are not part of this API
		}
		if err := svc.onFrame(s, b); err != nil {
			svc.log.Debug("socket.io bad frame", "src", s.ip, "err", err)
			s.close("protocol error")
			return
		}
	}
}

// sioPacket is a decoded socket.io packet.
type sioPacket struct {
	Type  byte   // '0'..'6'
	NS    string // namespace, "/" by default
	Ack   int64  // -1 when none
	Event string
	Args  []json.RawMessage
	Data  json.RawMessage // CONNECT payload
}

var errFrame = errors.New("socket.io: malformed packet")

// parseFrame decodes an Engine.IO frame into its type and, for messages, the
// socket.io packet inside.
func parseFrame(b []byte) (byte, *sioPacket, error) {
	if len(b) == 0 {
		return 0, nil, errFrame
	}
	switch b[0] {
	case '1', '2', '3', '5', '6':
		return b[0], nil, nil
	case '4':
	default:
		return 0, nil, fmt.Errorf("%w: engine.io type %q", errFrame, b[0])
	}
	p, err := parseSIO(b[1:])
	return '4', p, err
}

func parseSIO(b []byte) (*sioPacket, error) {
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return nil, fmt.Errorf("%w: socket.io type", errFrame)
	}
	p := &sioPacket{Type: b[0], NS: "/", Ack: -1}
	rest := b[1:]
	if p.Type == '5' || p.Type == '6' {
		return nil, fmt.Errorf("%w: binary packets are not supported", errFrame)
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := strings.IndexByte(string(rest), ',')
		if i < 0 {
			p.NS, rest = string(rest), nil
		} else {
			p.NS, rest = string(rest[:i]), rest[i+1:]
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i < 18 {
		i++
	}
	if i > 0 {
		n, err := strconv.ParseInt(string(rest[:i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: ack id", errFrame)
		}
		p.Ack, rest = n, rest[i:]
	}
	switch p.Type {
	case '0':
		if len(rest) > 0 {
			if !json.Valid(rest) {
				return nil, fmt.Errorf("%w: connect payload", errFrame)
			}
			p.Data = rest
		}
	case '2', '3':
		if err := json.Unmarshal(rest, &p.Args); err != nil {
			return nil, fmt.Errorf("%w: event payload: %v", errFrame, err)
		}
		if p.Type == '2' {
			if len(p.Args) == 0 || json.Unmarshal(p.Args[0], &p.Event) != nil {
				return nil, fmt.Errorf("%w: event without a name", errFrame)
			}
			p.Args = p.Args[1:]
		}
	}
	return p, nil
}

type loginMsg struct {
	AccessKeyID string `json:"accessKeyId"`
	Token       string `json:"token"`
	UAType      string `json:"uaType"`
}

func (svc *Service) onFrame(s *sioSocket, b []byte) error {
	typ, p, err := parseFrame(b)
	if err != nil {
		return err
	}
	switch typ {
	case '1':
		s.close("client closed")
		return nil
	case '2': // a ping from the client (protocol 3 style): answer it
		s.enqueue([]byte("3"))
		return nil
	case '3':
		s.lastPon.Store(time.Now().UnixNano())
		return nil
	case '5', '6':
		return nil
	}
	if p.NS != "/" {
		s.enqueue([]byte("44" + p.NS + `,{"message":"Invalid namespace"}`))
		return nil
	}
	switch p.Type {
	case '0':
		s.mu.Lock()
		s.ns = true
		s.mu.Unlock()
		s.enqueue([]byte(`40{"sid":"` + s.id + `"}`))
	case '1':
		s.close("client disconnect")
	case '2':
		s.mu.Lock()
		ns := s.ns
		s.mu.Unlock()
		if !ns {
			return fmt.Errorf("%w: event before connect", errFrame)
		}
		if p.Event == "login" {
			var lm loginMsg
			if len(p.Args) > 0 {
				json.Unmarshal(p.Args[0], &lm) //nolint:errcheck // an empty login is refused below
			}
			svc.socketLogin(s, lm, p.Ack)
		}
		// Other client events (e.g. "ping" of old clients) carry nothing we act on.
	}
	return nil
}

func (svc *Service) socketLogin(s *sioSocket, lm loginMsg, ack int64) {
	u, prof, ok := svc.dir.Resolve(lm.AccessKeyID)
	good := ok && !u.Disabled && (svc.cfg.AuthDisabled || svc.grants.Check(u.Username, lm.Token))
	if !good {
		svc.log.Warn("socket.io login refused", "user", lm.AccessKeyID, "src", s.ip)
		if f, err := eventFrame("401", map[string]string{"message": "unauthorized access"}); err == nil {
			s.enqueue(f)
		}
		s.close("unauthorized")
		return
	}
	ua := lm.UAType
	if ua != "mobile" {
		ua = "desktop"
	}
	rooms := map[string]bool{}
	for _, e := range u.Endpoints {
		rooms["exten:"+e.ID] = true
	}
	if u.MainExtension != "" {
		rooms["exten:"+u.MainExtension] = true
	}
	if prof.MacroOn("presence_panel") || prof.MacroOn("operator_panel") {
		rooms["presence_panel"] = true
	}
	if prof.MacroOn("queue_agent") || prof.MacroOn("qmanager") || prof.MacroOn("operator_panel") {
		rooms["queues"] = true
	}
	if prof.MacroOn("operator_panel") || prof.Has("ad_parking") || prof.MacroOn("parkings") {
		rooms["parkings"] = true
	}
	if prof.MacroOn("operator_panel") || prof.MacroOn("trunks") {
		rooms["trunks"] = true
	}
	// Takeover: a second login of the same user and client type replaces the first.
	svc.hub.mu.RLock()
	for o := range svc.hub.all {
		if o == s {
			continue
		}
		if l := o.login.Load(); l != nil && l.user == u.Username && l.uaType == ua {
			if f, err := eventFrame("takeOver", map[string]string{"message": "logged in from another place"}); err == nil {
				o.enqueue(f)
			}
			o.close("taken over")
		}
	}
	svc.hub.mu.RUnlock()
	s.login.Store(&sockLogin{user: u.Username, uaType: ua, rooms: rooms})
	svc.log.Info("socket.io login", "user", u.Username, "ua", ua, "src", s.ip)
	if f, err := eventFrame("authe_ok", map[string]string{"message": "authorized successfully"}); err == nil {
		s.enqueue(f)
	}
	if ack >= 0 {
		s.enqueue([]byte("43" + strconv.FormatInt(ack, 10) + `[{"message":"authorized successfully"}]`))
	}
}
