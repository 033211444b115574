package socketio

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-pbx/switchboard/cti/siotest"
)

// A server whose clients join the rooms they name in a "join" event, which is
// acknowledged with the rooms joined.
func newServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv := New(cfg, slog.New(slog.DiscardHandler), func(s *Socket, name string, args []json.RawMessage, ack int64) {
		if name != "join" || len(args) == 0 {
			return
		}
		var rooms []string
		json.Unmarshal(args[0], &rooms) // no rooms then
		s.SetRooms(rooms...)
		s.Emit("joined", rooms)
		if ack >= 0 {
			s.Ack(ack, map[string]any{"rooms": rooms})
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if CheckRequest(w, r) {
			srv.Serve(ctx, w, r)
		}
	}))
	t.Cleanup(func() { cancel(); hs.Close() })
	return srv, hs
}

func dial(t *testing.T, base string, rooms ...string) *siotest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := siotest.Dial(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Emit(ctx, "join", rooms); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx, "joined"); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoomsAndBroadcast(t *testing.T) {
	srv, hs := newServer(t, DefaultConfig())
	a := dial(t, hs.URL, "r1", "both")
	b := dial(t, hs.URL, "r2", "both")
	c := dial(t, hs.URL)
	if n := srv.Count(); n != 3 {
		t.Fatalf("count %d", n)
	}
	f, err := Encode("news", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Broadcast(f, "r1", "both"); n != 2 { // a socket in two of the rooms gets it once
		t.Fatalf("broadcast reached %d", n)
	}
	f2, _ := Encode("only-r2", nil)
	srv.Broadcast(f2, "r2")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, cl := range map[string]*siotest.Client{"a": a, "b": b} {
		ev, err := cl.Next(ctx)
		if err != nil || ev.Name != "news" || string(ev.Data) != `{"n":1}` {
			t.Fatalf("%s: %+v %v", name, ev, err)
		}
	}
	if ev, err := b.Next(ctx); err != nil || ev.Name != "only-r2" {
		t.Fatalf("b: %+v %v", ev, err)
	}
	// a and c got nothing more: a marker sent to everyone arrives first.
	srv.Broadcast(mustEncode(t, "marker"), "r1")
	if ev, _ := a.Next(ctx); ev.Name != "marker" {
		t.Fatalf("a got %q before the marker", ev.Name)
	}
	if len(srv.In("both")) != 2 || len(srv.In("r2")) != 1 || len(srv.In("none")) != 0 {
		t.Fatal("In")
	}
	srv.CloseRoom("r2", "bye")
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Fatal("CloseRoom left b open")
	}
	c.Emit(ctx, "join", []string{"r3"})              // checked by the wait
	if _, err := c.Wait(ctx, "joined"); err != nil { // rooms can be replaced
		t.Fatal(err)
	}
	if !srv.In("r3")[0].In("r3") {
		t.Fatal("rooms not replaced")
	}
	srv.CloseAll("shutdown")
	for _, cl := range []*siotest.Client{a, c} {
		select {
		case <-cl.Done():
		case <-ctx.Done():
			t.Fatal("CloseAll left a socket open")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("count %d after CloseAll", srv.Count())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustEncode(t *testing.T, name string) []byte {
	f, err := Encode(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestHandshakeAckAndProtocol(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PingInterval = 40 * time.Millisecond
	_, hs := newServer(t, cfg)
	for q, want := range map[string]string{"EIO=3&transport=websocket": `{"code":5,"message":"Unsupported protocol version"}`,
		"EIO=4&transport=flashsocket":   `{"code":0,"message":"Transport unknown"}`,
		"EIO=4&transport=polling&sid=x": `{"code":1,"message":"Session ID unknown"}`} {
		resp, err := http.Get(hs.URL + "/socket.io/?" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || string(b) != want {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() string {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var open struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if f := read(); f[0] != '0' || json.Unmarshal([]byte(f[1:]), &open) != nil || open.SID == "" || open.Upgrades == nil ||
		open.PingInterval != 40 || open.MaxPayload != 64<<10 {
		t.Fatalf("open: %q", f)
	}
	c.Write(ctx, websocket.MessageText, []byte("40"))
	if f := read(); f != `40{"sid":"`+open.SID+`"}` {
		t.Fatalf("connect: %q", f)
	}
	// The server pings; a client that answers stays connected.
	for pings := 0; pings < 3; {
		if read() == "2" {
			pings++
			c.Write(ctx, websocket.MessageText, []byte("3"))
		}
	}
	c.Write(ctx, websocket.MessageText, []byte(`4212["join",["x"]]`))
	got := map[string]bool{}
	for len(got) < 2 {
		if f := read(); f != "2" {
			got[f] = true
		}
	}
	if !got[`42["joined",["x"]]`] || !got[`4312[{"rooms":["x"]}]`] {
		t.Fatalf("event with ack: %v", got)
	}
	// A client-side ping is answered (protocol 3 style).
	c.Write(ctx, websocket.MessageText, []byte("2"))
	for f := read(); f != "3"; f = read() {
		if f != "2" {
			t.Fatalf("answer to a ping: %q", f)
		}
	}
}

// A client that stops answering pings is disconnected.
func TestPingTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PingInterval, cfg.PingTimeout = 30*time.Millisecond, 30*time.Millisecond
	srv, hs := newServer(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var last string
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			break
		}
		last = string(b) // never pong
	}
	if last != "41" {
		t.Fatalf("last frame %q, want the socket.io disconnect", last)
	}
	if ctx.Err() != nil {
		t.Fatal("not disconnected")
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Count() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Count() != 0 {
		t.Fatal("socket still counted")
	}
}

// pollClient speaks Engine.IO 4 long polling as the npm client does.
type pollClient struct {
	t    *testing.T
	base string
	sid  string
}

func (p *pollClient) url() string {
	return p.base + "/socket.io/?EIO=4&transport=polling&sid=" + p.sid
}

// get is one poll: the frames it returned.
func (p *pollClient) get() []string {
	p.t.Helper()
	resp, err := http.Get(p.url())
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		p.t.Fatalf("poll: %d %s", resp.StatusCode, b)
	}
	return strings.Split(string(b), "\x1e")
}

func (p *pollClient) post(frames ...string) {
	p.t.Helper()
	resp, err := http.Post(p.url(), "text/plain;charset=UTF-8", strings.NewReader(strings.Join(frames, "\x1e")))
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" {
		p.t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
}

// waitFrame polls (answering pings) until a frame equal to want arrives.
func (p *pollClient) waitFrame(want string) {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, f := range p.get() {
			switch f {
			case want:
				return
			case "2":
				p.post("3")
			}
		}
	}
	p.t.Fatalf("no frame %q", want)
}

// Long polling, then the upgrade to websocket, as socket.io-client does with
// its default transports: handshake, connect, events both ways and pings over
// HTTP, the probe, the poll released with a noop, and the same session going
// on over the websocket.
func TestPollingAndUpgrade(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PingInterval = 100 * time.Millisecond
	srv, hs := newServer(t, cfg)
	resp, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		SID      string   `json:"sid"`
		Upgrades []string `json:"upgrades"`
	}
	if resp.StatusCode != 200 || len(b) == 0 || b[0] != '0' || json.Unmarshal(b[1:], &open) != nil || len(open.Upgrades) != 1 ||
		open.Upgrades[0] != "websocket" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("handshake: %d %q", resp.StatusCode, b)
	}
	p := &pollClient{t: t, base: hs.URL, sid: open.SID}
	p.post("40")
	p.waitFrame(`40{"sid":"` + open.SID + `"}`)
	// Two frames in one post; the event's ack and the emit come back.
	p.post("3", `427["join",["r"]]`)
	p.waitFrame(`437[{"rooms":["r"]}]`)
	if n := srv.Broadcast(mustEncode(t, "hello"), "r"); n != 1 {
		t.Fatalf("broadcast reached %d", n)
	}
	p.waitFrame(`42["hello",null]`)
	if srv.Count() != 1 {
		t.Fatalf("count %d", srv.Count())
	}

	// Upgrade: probe on a websocket with the sid while a poll is pending.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pending := make(chan []string, 1)
	go func() {
		resp, err := http.Get(p.url())
		if err != nil {
			pending <- []string{err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pending <- strings.Split(string(b), "\x1e")
	}()
	ws, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket&sid="+open.SID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.Write(ctx, websocket.MessageText, []byte("2probe"))
	if _, f, err := ws.Read(ctx); err != nil || string(f) != "3probe" {
		t.Fatalf("probe: %q %v", f, err)
	}
	// The pending poll returns (a noop, or frames that were queued).
	select {
	case fr := <-pending:
		if len(fr) == 0 || (fr[len(fr)-1] != "6" && fr[len(fr)-1] != "2") {
			t.Fatalf("pending poll after the probe: %q", fr)
		}
	case <-ctx.Done():
		t.Fatal("the pending poll was not released by the probe")
	}
	ws.Write(ctx, websocket.MessageText, []byte("5"))
	srv.Broadcast(mustEncode(t, "after"), "r")
	for {
		_, f, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("after the upgrade: %v", err)
		}
		if string(f) == "2" {
			ws.Write(ctx, websocket.MessageText, []byte("3"))
			continue
		}
		if string(f) == `42["after",null]` {
			break
		}
	}
	// Polls of an upgraded session are refused; the socket is still one.
	r2, err := http.Get(p.url())
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 400 || srv.Count() != 1 {
		t.Fatalf("poll after upgrade: %d, count %d", r2.StatusCode, srv.Count())
	}
	ws.Write(ctx, websocket.MessageText, []byte(`421["join",["r2"]]`))
	for {
		_, f, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(f) == `431[{"rooms":["r2"]}]` {
			break
		}
	}
}

// A polling client that stops polling and answering pings is dropped; one
// whose session the server closes hears the disconnect on its next poll.
func TestPollingClose(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PingInterval, cfg.PingTimeout = 50*time.Millisecond, 50*time.Millisecond
	srv, hs := newServer(t, cfg)
	handshake := func() *pollClient {
		resp, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var open struct{ SID string }
		json.Unmarshal(b[1:], &open) // checked below
		if open.SID == "" {
			t.Fatalf("handshake %q", b)
		}
		return &pollClient{t: t, base: hs.URL, sid: open.SID}
	}
	handshake() // never polls
	deadline := time.Now().Add(5 * time.Second)
	for srv.Count() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("silent polling client not dropped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := handshake()
	p.post("40")
	p.waitFrame(`40{"sid":"` + p.sid + `"}`)
	srv.CloseAll("bye")
	p.waitFrame("41")
	// A frame that is not Engine.IO ends the session with an error.
	q := handshake()
	resp, err := http.Post(q.url(), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad frame: %d", resp.StatusCode)
	}
}
