package httpd

// Tests of the listeners' defences against slow, idle and numerous clients, on
// loopback: each abuses one listener in a bounded loop while a well-behaved
// client from another loopback address keeps being served.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

type hdEnv struct {
	srv   *Server
	https string // host:port
	plain string
	log   *testlog.Buffer
}

// hdStart serves on 127.0.0.1: HTTPS answers /upload (which extends its body
// deadline, as an authenticated upload does) and any other path by reading the
// whole body; plain HTTP answers every request by reading its body.
func hdStart(t *testing.T, mod func(*Config)) *hdEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTPSListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey, cfg.SelfSigned = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), true
	if mod != nil {
		mod(&cfg)
	}
	e := &hdEnv{log: &testlog.Buffer{}}
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	secure := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			ExtendBody(r)
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
			return
		}
		fmt.Fprintf(w, "read %d\n", n)
	})
	plain := func(ctx *fasthttp.RequestCtx) { fmt.Fprintf(ctx, "read %d\n", len(ctx.PostBody())) }
	web := component.NewWeb(nil)
	web.Mount(&routes{secure: secure, plain: plain})
	srv, err := New(cfg, log, web)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Bind(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.srv, e.https, e.plain = srv, srv.HTTPSAddr().String(), srv.PlainAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

// routes is a component that serves one handler on each listener.
type routes struct {
	component.Base
	secure http.Handler
	plain  fasthttp.RequestHandler
}

func (*routes) Name() string                    { return "test" }
func (*routes) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (c *routes) Routes(r component.Router)     { r.Handle("/", c.secure); r.Plain("/", c.plain) }

// dial connects from the loopback address local, over TLS when secure.
func dial(t *testing.T, local, addr string, secure bool) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if secure {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) // the test's own self-signed certificate
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.Close()
			t.Fatalf("handshake from %s: %v", local, err)
		}
		tc.SetDeadline(time.Time{})
		c = tc
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// served makes one complete POST from local and reports whether it was answered 200.
func served(local, addr string, secure bool) error {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	scheme := "http"
	if secure {
		scheme = "https"
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Post(scheme+"://"+addr+"/x", "text/plain", strings.NewReader("hello"))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "read 5\n" {
		return fmt.Errorf("%d %q", resp.StatusCode, b)
	}
	return nil
}

// closedByServer waits (at most bound) until the server closes c, reading and
// discarding whatever it sends first (a 408 answer); it fails when c is still
// open after bound.
func closedByServer(c net.Conn, bound time.Duration) error {
	c.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open after %v", bound)
	}
	return nil
}

// TestSlowBody (F2): clients that send their headers and then trickle a body
// are cut off after body_timeout on both listeners, while another client is
// served throughout; an upload route that extends its deadline (as an
// authenticated upload does) is allowed a slow body.
func TestSlowBody(t *testing.T) {
	e := hdStart(t, func(c *Config) { c.BodyTimeout, c.UploadTimeout = 500*time.Millisecond, time.Minute })
	for _, l := range []struct {
		name   string
		addr   string
		secure bool
	}{{"https", e.https, true}, {"http", e.plain, false}} {
		t.Run(l.name, func(t *testing.T) {
			const n = 20
			conns := make([]net.Conn, n)
			for i := range conns {
				conns[i] = dial(t, "127.0.0.2", l.addr, l.secure)
				// 1,000 bytes: under the plain listener's 64 KiB body limit, which
				// would refuse a larger one at once.
				fmt.Fprintf(conns[i], "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
			}
			// Trickle one byte per connection every 100 ms, and check meanwhile
			// that another address is served, until every slow connection is
			// closed (bounded: a listener without a body deadline never closes them).
			var open atomic.Int32
			open.Store(n)
			for i := range conns {
				go func() {
					defer open.Add(-1)
					for {
						conns[i].SetWriteDeadline(time.Now().Add(time.Second))
						if _, err := conns[i].Write([]byte("a")); err != nil {
							return
						}
						conns[i].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
						if _, err := conns[i].Read(make([]byte, 512)); err != nil {
							var ne net.Error
							if !errors.As(err, &ne) || !ne.Timeout() {
								return // answered (408) or closed
							}
						}
					}
				}()
			}
			for deadline := time.Now().Add(20 * time.Second); open.Load() > 0; {
				if err := served("127.0.0.1", l.addr, l.secure); err != nil {
					t.Fatalf("other client while %d slow bodies are open: %v", open.Load(), err)
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d slow-body connections still open after 20 s", open.Load(), n)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	t.Run("https h2", func(t *testing.T) {
		// HTTP/2 carries many requests on one connection: the deadline is the
		// stream's.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		pr, pw := io.Pipe()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					pw.Close()
					return
				case <-time.After(100 * time.Millisecond):
					pw.Write([]byte("a"))
				}
			}
		}()
		req, _ := http.NewRequest("POST", "https://"+e.https+"/x", pr)
		c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("slow h2 body: %v (want a 408 answer)", err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("slow h2 body: %s %d, want HTTP/2 408", resp.Proto, resp.StatusCode)
		}
	})
	t.Run("upload extends", func(t *testing.T) {
		c := dial(t, "127.0.0.3", e.https, true)
		fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")
		for i := 0; i < 12; i++ { // 1.2 s: more than twice body_timeout
			if _, err := c.Write([]byte("b")); err != nil {
				t.Fatalf("upload cut off after %d bytes: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "read 12\n" {
			t.Errorf("slow upload: %d %q", resp.StatusCode, b)
		}
	})
}

// TestConnCapPerSource (F2): one address gets at most max_conns_per_source
// connections on each listener; the next is closed at once, while another
// address is served; once the first closes its connections it is served again.
func TestConnCapPerSource(t *testing.T) {
	e := hdStart(t, func(c *Config) { c.MaxConnsPerSource = 5 })
	for _, l := range []struct {
		name   string
		addr   string
		secure bool
	}{{"https", e.https, true}, {"http", e.plain, false}} {
		t.Run(l.name, func(t *testing.T) {
			var held []net.Conn
			for i := 0; i < 5; i++ {
				held = append(held, dial(t, "127.0.0.2", l.addr, l.secure))
			}
			for i := 0; i < 10; i++ {
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
				c, err := d.Dial("tcp", l.addr)
				if err != nil {
					continue // refused outright is fine too
				}
				if err := closedByServer(c, 5*time.Second); err != nil {
					t.Errorf("connection %d over the cap: %v", 6+i, err)
				}
				c.Close()
				if err := served("127.0.0.1", l.addr, l.secure); err != nil {
					t.Fatalf("other address while 127.0.0.2 is at the cap: %v", err)
				}
			}
			for _, c := range held {
				c.Close()
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				err := served("127.0.0.2", l.addr, l.secure)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("127.0.0.2 not served after closing its connections: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	if n := e.log.Count(`level=WARN msg="too many connections from one source"`, "src=127.0.0.2 "); n != 2 {
		t.Errorf("want one line per listener and episode, got %d:\n%s", n, e.log.String())
	}
}

// TestIdleConnections: connections that never send a request (TCP only, or a
// finished TLS handshake) are closed after read_header_timeout, while another
// address is served.
func TestIdleConnections(t *testing.T) {
	e := hdStart(t, func(c *Config) { c.ReadHeaderTimeout = 500 * time.Millisecond })
	var conns []net.Conn
	for i := 0; i < 30; i++ {
		local := fmt.Sprintf("127.0.0.%d", 10+i%3)
		conns = append(conns, dial(t, local, e.https, i%2 == 0), dial(t, local, e.plain, false))
	}
	for i, c := range conns {
		if err := closedByServer(c, 10*time.Second); err != nil {
			t.Fatalf("idle connection %d: %v", i, err)
		}
		if i%10 == 0 {
			for _, l := range []struct {
				addr   string
				secure bool
			}{{e.https, true}, {e.plain, false}} {
				if err := served("127.0.0.1", l.addr, l.secure); err != nil {
					t.Fatalf("other address among idle connections: %v", err)
				}
			}
		}
	}
}

// TestHSTS (F10): HTTPS answers carry Strict-Transport-Security unless it is
// turned off.
func TestHSTS(t *testing.T) {
	get := func(e *hdEnv) string {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := c.Get("https://" + e.https + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Strict-Transport-Security")
	}
	if got := get(hdStart(t, nil)); got != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security %q, want max-age=31536000", got)
	}
	if got := get(hdStart(t, func(c *Config) { c.HSTSMaxAge = 0 })); got != "" {
		t.Errorf("hsts_max_age 0: header %q, want none", got)
	}
}
