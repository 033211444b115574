package ami

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/amitest"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CTI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a Handler that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	connects int
	events   []Message
	discon   int
	conn     chan *Conn
}

func (r *recorder) Connected(_ context.Context, c *Conn) error {
	r.mu.Lock()
	r.connects++
	r.mu.Unlock()
	select {
	case r.conn <- c:
	default:
	}
	return nil
}
func (r *recorder) Event(_ context.Context, _ *Conn, m Message) {
	r.mu.Lock()
	r.events = append(r.events, m)
	r.mu.Unlock()
}
func (r *recorder) Disconnected(error) { r.mu.Lock(); r.discon++; r.mu.Unlock() }

func amiCfg(addr, secret string) Config {
	c := DefaultConfig()
	c.Address, c.Username, c.Secret = addr, "switchboard", secret
	c.MinBackoff, c.MaxBackoff, c.ActionTimeout = 10*time.Millisecond, 50*time.Millisecond, time.Second
	return c
}

func TestAMIClientListsAndCorrelation(t *testing.T) {
	srv, err := amitest.Start("switchboard", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for i := 0; i < 30; i++ {
		srv.SetEndpoint(fmt.Sprint(300+i), "Not in use")
	}
	cl, _ := New(amiCfg(srv.Addr(), "pw"), testLogger(t))
	rec := &recorder{conn: make(chan *Conn, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Run(ctx, rec); close(done) }()
	defer func() { cancel(); <-done }()
	var conn *Conn
	select {
	case conn = <-rec.conn:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	// Concurrent list actions each get exactly their own events back, while
	// unrelated events keep flowing to the handler.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 10; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, evs, err := conn.ActionList(ctx, NewMessage("Action", "PJSIPShowEndpoints"))
			if err == nil && len(evs) != 30 {
				err = fmt.Errorf("got %d endpoints", len(evs))
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			resp, err := conn.Action(ctx, NewMessage("Action", "Ping"))
			if err == nil && resp.Get("Ping") != "Pong" {
				err = fmt.Errorf("ping answer %v", resp.Map())
			}
			errs <- err
		}()
		srv.Emit(amitest.DeviceState("301", "INUSE"))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "events delivered", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, e := range rec.events {
			if e.Event() == "DeviceStateChange" {
				n++
			}
		}
		return n == 10
	})
}

func TestAMIClientBadSecretRetries(t *testing.T) {
	srv, err := amitest.Start("switchboard", "right")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, _ := New(amiCfg(srv.Addr(), "wrong"), testLogger(t))
	if _, err := cl.dial(context.Background()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("bad secret: %v", err)
	}
	if _, err := cl.Action(context.Background(), NewMessage("Action", "Ping")); err != ErrDown {
		t.Fatalf("action without connection: %v", err)
	}
}

// A peer that accepts, greets and logs in, then never answers again, is found
// out by the keepalive and the client reconnects.
func TestAMIKeepaliveDetectsSilentPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted sync.WaitGroup
	conns := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns <- c
			go func() {
				defer accepted.Done()
				c.Write([]byte("Asterisk Call Manager/9.0.0\r\n"))
				r := bufio.NewReader(c)
				m, err := ReadMessage(r)
				if err != nil {
					return
				}
				c.Write(NewMessage("Response", "Success", "ActionID", m.Get("ActionID"), "Message", "Authentication accepted").Bytes())
				for { // swallow everything, answer nothing
					if _, err := ReadMessage(r); err != nil {
						return
					}
				}
			}()
		}
	}()
	cfg := amiCfg(ln.Addr().String(), "x")
	cfg.PingInterval, cfg.ActionTimeout = 50*time.Millisecond, 100*time.Millisecond
	cl, _ := New(cfg, testLogger(t))
	rec := &recorder{conn: make(chan *Conn, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Run(ctx, rec); close(done) }()
	eventually(t, "reconnect after a silent peer", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.connects >= 2 && rec.discon >= 1
	})
	cancel()
	<-done
	ln.Close()
	for len(conns) > 0 {
		(<-conns).Close()
	}
}

// A list whose response is an error ends at once with that error.
func TestAMIListError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			m, err := ReadMessage(r)
			if err != nil {
				return
			}
			c.Write(NewMessage("Response", "Error", "ActionID", m.Get("ActionID"), "Message", "Permission denied").Bytes())
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn := newConn(nc, time.Second, testLogger(t))
	go conn.readLoop()
	defer conn.Close()
	if _, _, err := conn.ActionList(context.Background(), NewMessage("Action", "CoreShowChannels")); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("list error: %v", err)
	}
}

// Status tells "never reached" from "lost, reconnecting" from "up", which the
// CTI's health report is made of.
func TestStatus(t *testing.T) {
	srv, err := amitest.Start("switchboard", "right")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, _ := New(amiCfg(srv.Addr(), "wrong"), testLogger(t))
	if st := cl.Status(); st.Connected || st.Logins != 0 || st.LastError != nil {
		t.Fatalf("before Run: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cl.Run(ctx, &recorder{conn: make(chan *Conn, 10)}); close(done) }()
	eventually(t, "login refused", func() bool {
		st := cl.Status()
		return !st.Connected && st.Logins == 0 && st.LastError != nil && strings.Contains(st.LastError.Error(), "refused")
	})
	cancel()
	<-done

	cl, _ = New(amiCfg(srv.Addr(), "right"), testLogger(t))
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { cl.Run(ctx, &recorder{conn: make(chan *Conn, 10)}); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, "connected", func() bool { st := cl.Status(); return st.Connected && st.Logins == 1 })
	srv.SetDown(true)
	eventually(t, "lost", func() bool { st := cl.Status(); return !st.Connected && st.Logins == 1 && st.LastError != nil })
	srv.SetDown(false)
	eventually(t, "back", func() bool { st := cl.Status(); return st.Connected && st.Logins == 2 })
}
