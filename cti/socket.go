package cti

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/cti/socketio"
)

// The nethcti socket.io side: a client connects, emits "login" with its user and
// token, and from then on hears the events of the rooms its permissions open.
// Besides those rooms every socket joins the room of its user and of its user and
// client type, which carry messages to one user's clients and the takeover.

func userRoom(user string) string       { return "user:" + user }
func clientRoom(user, ua string) string { return "user:" + user + "/" + ua }

// socketHandler serves /socket.io/.
func (svc *Service) socketHandler(w http.ResponseWriter, r *http.Request) {
	if !socketio.CheckRequest(w, r) {
		return
	}
	if !socketio.IsHandshake(r) {
		// A poll, a post or the upgrade of a session already counted.
		svc.sio.Serve(svc.runContext(), w, r)
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
	if svc.sio.Count() >= svc.cfg.MaxSockets {
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	svc.sio.Serve(svc.runContext(), w, r)
}

type loginMsg struct {
	AccessKeyID string `json:"accessKeyId"`
	Token       string `json:"token"`
	UAType      string `json:"uaType"`
}

// socketLogin is what a socket's login was: whose token it carries.
type socketLogin struct {
	user, token string
}

// socketEvent receives the clients' events: "login"; "message", relayed to
// the user it names (video call and screen sharing signalling between
// phone-islands); and any event asking for an ack (phone-island's "ping"
// every 5 s, which shows "socket down" and reconnects when unanswered) is
// acknowledged.
func (svc *Service) socketEvent(s *socketio.Socket, name string, args []json.RawMessage, ack int64) {
	switch name {
	case "login":
		var lm loginMsg
		if len(args) > 0 {
			json.Unmarshal(args[0], &lm) //nolint:errcheck // an empty login is refused below
		}
		svc.socketLogin(s, lm, ack)
		return
	case "message":
		svc.relayMessage(s, args)
	}
	if ack >= 0 {
		s.Ack(ack)
	}
}

// relayMessage passes {message, destUser, ...} from a logged-in user to the
// sockets of destUser, as nethcti does for phone-island's video calls.
func (svc *Service) relayMessage(s *socketio.Socket, args []json.RawMessage) {
	from, ok := s.Value().(socketLogin)
	if !ok || len(args) == 0 || len(args[0]) > 16<<10 {
		return
	}
	var m struct {
		Message  string `json:"message"`
		DestUser string `json:"destUser"`
	}
	if json.Unmarshal(args[0], &m) != nil || m.DestUser == "" {
		return
	}
	switch m.Message {
	case "videoCallStart", "screenSharingStart", "screenSharingStop":
	default:
		return
	}
	u, _, ok := svc.dir.Resolve(m.DestUser)
	if !ok {
		return
	}
	f, err := socketio.EncodeArgs("message", args[0])
	if err != nil {
		return
	}
	n := svc.sio.Broadcast(f, userRoom(u.Username))
	svc.log.Debug("socket.io message relayed", "user", from.user, "to", u.Username, "message", m.Message, "sockets", n)
}

func (svc *Service) socketLogin(s *socketio.Socket, lm loginMsg, ack int64) {
	u, prof, ok := svc.dir.Resolve(lm.AccessKeyID)
	// A persistent, phone-island or mobile token is accepted also right
	// after a restart: it is checked against the store.
	good := ok && !u.Disabled && svc.checkToken(svc.runContext(), u.Username, lm.Token)
	if !good {
		svc.log.Warn("socket.io login refused", "user", lm.AccessKeyID, "src", s.IP())
		s.Emit("401", map[string]string{"message": "unauthorized access"})
		s.Close("unauthorized")
		return
	}
	ua := lm.UAType
	if ua != "mobile" {
		ua = "desktop"
	}
	// Takeover: a second login of the same user and client type replaces the first.
	for _, o := range svc.sio.In(clientRoom(u.Username, ua)) {
		if o != s {
			o.Emit("takeOver", map[string]string{"message": "logged in from another place"})
			o.Close("taken over")
		}
	}
	rooms := append(access{user: u, profile: prof}.rooms(), userRoom(u.Username), clientRoom(u.Username, ua))
	s.SetRooms(rooms...)
	s.SetValue(socketLogin{user: u.Username, token: lm.Token})
	svc.log.Info("socket.io login", "user", u.Username, "ua", ua, "src", s.IP())
	s.Emit("authe_ok", map[string]string{"message": "authorized successfully"})
	if ack >= 0 {
		s.Ack(ack, map[string]string{"message": "authorized successfully"})
	}
}

// broadcast sends an event to room and to the rooms of the extensions also.
// data must not be shared with other goroutines (see encode for model objects).
func (svc *Service) broadcast(name string, data any, room string, also ...string) {
	f, err := socketio.Encode(name, data)
	if err != nil {
		svc.log.Error("encode event", "event", name, "err", err)
		return
	}
	svc.sendFrame(frame{f, room, also})
}

func (svc *Service) sendFrame(f frame) {
	rooms := make([]string, 0, 1+len(f.also))
	rooms = append(rooms, f.room)
	for _, a := range f.also {
		rooms = append(rooms, model.ExtenRoom(a))
	}
	svc.sio.Broadcast(f.b, rooms...)
}

// toUser sends an event to every socket of a user and reports to how many.
func (svc *Service) toUser(user, name string, data any) int {
	f, err := socketio.Encode(name, data)
	if err != nil {
		return 0
	}
	return svc.sio.Broadcast(f, userRoom(user))
}

// toUserArgs sends an event with several arguments to a user's sockets.
func (svc *Service) toUserArgs(user, name string, args ...any) int {
	f, err := socketio.EncodeArgs(name, args...)
	if err != nil {
		return 0
	}
	return svc.sio.Broadcast(f, userRoom(user))
}

// renewSocketTokens extends the session tokens of connected sockets, as
// nethcti does: a client that only listens keeps its token alive for its
// next REST call.
func (svc *Service) renewSocketTokens() {
	var logins []socketLogin
	svc.sio.Each(func(s *socketio.Socket) {
		if l, ok := s.Value().(socketLogin); ok {
			logins = append(logins, l)
		}
	})
	for _, l := range logins {
		svc.grants.Check(l.user, l.token)
	}
}
