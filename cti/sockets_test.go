package cti

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/siotest"
)

func TestSocketWrongTokenAndTakeover(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := siotest.Dial(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "bob", strings.Repeat("f", 40), "desktop"); !errors.Is(err, siotest.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("not disconnected after 401")
	}

	first := e.socket("bob")
	second := e.socket("bob")
	expect(t, first, "takeOver", func(map[string]string) bool { return true })
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("taken-over socket still open")
	}
	// The mobile client of the same user is not taken over by a desktop login.
	mctx, mcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer mcancel()
	mob, err := siotest.Dial(mctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer mob.Close()
	if err := mob.Login(mctx, "bob", e.login("bob", "bob-password"), "mobile"); err != nil {
		t.Fatal(err)
	}
	e.ami.Emit(amitest.DeviceState("202", "UNAVAILABLE"))
	expect(t, second, "extenUpdate", func(x extEv) bool { return x.Exten == "202" })
	expect(t, mob, "extenUpdate", func(x extEv) bool { return x.Exten == "202" })
}

func TestSocketRateLimitAndTransport(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SocketBurst = 3; c.SocketInterval = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		c, err := siotest.Dial(ctx, e.srv.URL)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	if _, err := siotest.Dial(ctx, e.srv.URL); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("4th connection in the burst: %v", err)
	}
	// A long-polling handshake is a new session too: limited the same way.
	resp, err := http.Get(e.srv.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Fatalf("polling handshake past the burst: %d", resp.StatusCode)
	}
}

// rawSocket opens the websocket and completes the Engine.IO open.
func rawSocket(t *testing.T, e *env) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(e.srv.URL, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if _, b, err := c.Read(ctx); err != nil || b[0] != '0' || !strings.Contains(string(b), `"upgrades":[]`) {
		t.Fatalf("open: %q %v", b, err)
	}
	return c
}

func readFrame(t *testing.T, c *websocket.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	return string(b), err
}

func TestSocketAckLoginAndBadFrames(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := rawSocket(t, e)
	c.Write(ctx, websocket.MessageText, []byte("40"))
	if f, _ := readFrame(t, c); !strings.HasPrefix(f, `40{"sid":"`) {
		t.Fatalf("connect: %q", f)
	}
	tok := e.login("bob", "bob-password")
	c.Write(ctx, websocket.MessageText, []byte(`427["login",{"accessKeyId":"bob","token":"`+tok+`","uaType":"desktop"}]`))
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		f, err := readFrame(t, c)
		if err != nil {
			t.Fatal(err)
		}
		got[f] = true
	}
	if !got[`42["authe_ok",{"message":"authorized successfully"}]`] || !got[`437[{"message":"authorized successfully"}]`] {
		t.Fatalf("login with ack: %v", got)
	}
	// Another namespace is refused without closing; garbage closes the socket.
	c.Write(ctx, websocket.MessageText, []byte(`40/admin,`))
	if f, _ := readFrame(t, c); f != `44/admin,{"message":"Invalid namespace"}` {
		t.Fatalf("namespace: %q", f)
	}
	c.Write(ctx, websocket.MessageText, []byte(`42{"not":"an array"}`))
	for {
		f, err := readFrame(t, c)
		if err != nil {
			break // closed
		}
		if f != "41" && f != "2" {
			t.Fatalf("after garbage: %q", f)
		}
	}
	// Events before the socket.io connect are a protocol error too, and the
	// server keeps serving others.
	c2 := rawSocket(t, e)
	c2.Write(ctx, websocket.MessageText, []byte(`42["login",{}]`))
	if f, _ := readFrame(t, c2); f != "41" {
		t.Fatalf("event before connect: %q", f)
	}
	e.socket("carol")
}

func TestSocketMaxConnections(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxSockets = 2 })
	rawSocket(t, e)
	rawSocket(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := siotest.Dial(ctx, e.srv.URL); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("third connection: %v", err)
	}
}

// The Go long-polling client of the benchmark (siotest.DialPolling) against
// the CTI: login, an event, a second user's takeover heard on polling, and the
// close ends the session on the server.
func TestSocketPollingClient(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := siotest.DialPolling(ctx, e.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "bob", e.login("bob", "bob-password"), "desktop"); err != nil {
		t.Fatal(err)
	}
	if n := e.svc.sio.Count(); n != 1 {
		t.Fatalf("%d sockets on the server, want 1", n)
	}
	e.ami.Emit(amitest.DeviceState("202", "UNAVAILABLE"))
	expect(t, c, "extenUpdate", func(x extEv) bool { return x.Exten == "202" })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the polling session to end", func() bool { return e.svc.sio.Count() == 0 })
}

// A reload (switchboard cti reload) tells every logged-in client with
// serverReloaded, no payload, as nethcti does; a socket not logged in hears
// nothing.
func TestSocketServerReloaded(t *testing.T) {
	e := newEnv(t, nil)
	c := e.socket("bob")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	anon, err := siotest.Dial(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := e.svc.reloadAll(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Wait(ctx, "serverReloaded")
	if err != nil || len(ev.Args) != 0 {
		t.Fatalf("serverReloaded: %+v %v", ev, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if ev, err := anon.Wait(short, "serverReloaded"); err == nil {
		t.Fatalf("a socket not logged in heard %+v", ev)
	}
}
