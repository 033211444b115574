package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/component"
)

// Config is the "http" section of the configuration file.
type Config struct {
	// Listen is the plain HTTP address ("host:port"); empty disables plain HTTP.
	Listen string `yaml:"listen"`
	// HTTPSListen is the HTTPS address ("host:port").
	HTTPSListen string `yaml:"https_listen"`
	// TLSCert and TLSKey are PEM files. Both empty: a self-signed pair in
	// data_dir/tls, generated on first start.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ReadHeaderTimeout bounds how long a client may take to send request headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long in-flight requests get at shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// BodyTimeout bounds how long a client may take to send a request body once
	// its headers are in (both listeners). A route that takes large uploads
	// extends it to UploadTimeout after authenticating the request.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// UploadTimeout is the body deadline of authenticated uploads (firmware
	// assets, CSV imports).
	UploadTimeout time.Duration `yaml:"upload_timeout"`
	// MaxConnsPerSource caps the connections one IP address may hold open on
	// each listener; more are closed as soon as they are accepted.
	MaxConnsPerSource int `yaml:"max_conns_per_source"`
	// HSTSMaxAge is the max-age of the Strict-Transport-Security header on
	// HTTPS answers; 0 sends none.
	HSTSMaxAge time.Duration `yaml:"hsts_max_age"`

	// SelfSigned is set by the loader when the certificate is the generated one.
	SelfSigned bool `yaml:"-"`
}

// DefaultConfig listens on the standard ports.
func DefaultConfig() Config {
	return Config{
		Listen:            ":80",
		HTTPSListen:       ":443",
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   5 * time.Second,
		BodyTimeout:       30 * time.Second,
		UploadTimeout:     30 * time.Minute,
		// Phones behind one NAT address share it; a boot storm of a few
		// hundred of them keeps well under this with keep-alive.
		MaxConnsPerSource: 128,
		HSTSMaxAge:        365 * 24 * time.Hour,
	}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	if c.Listen != "" {
		if err := checkAddr(c.Listen); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	if err := checkAddr(c.HTTPSListen); err != nil {
		return fmt.Errorf("https_listen: %w", err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls_cert: tls_cert and tls_key must be set together")
	}
	if c.ReadHeaderTimeout <= 0 {
		return errors.New("read_header_timeout: must be positive")
	}
	if c.IdleTimeout <= 0 {
		return errors.New("idle_timeout: must be positive")
	}
	if c.ShutdownTimeout < 0 {
		return errors.New("shutdown_timeout: must not be negative")
	}
	if c.BodyTimeout <= 0 {
		return errors.New("body_timeout: must be positive")
	}
	if c.UploadTimeout < c.BodyTimeout {
		return errors.New("upload_timeout: must be at least body_timeout")
	}
	if c.MaxConnsPerSource < 1 {
		return errors.New("max_conns_per_source: must be at least 1")
	}
	if c.HSTSMaxAge < 0 {
		return errors.New("hsts_max_age: must not be negative")
	}
	return nil
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("%q: bad host %q", addr, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: bad port %q", addr, port)
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

var _ component.Component = (*Server)(nil)

// Server is the pair of listeners.
type Server struct {
	component.Base
	cfg      Config
	log      *slog.Logger
	https    *http.Server
	plain    *fasthttp.Server
	httpsLn  net.Listener
	plainLn  net.Listener
	listened bool
}

// New prepares the listeners over web: HTTPS serves every route; plain HTTP
// serves the phones' routes and /healthz, and redirects the rest to HTTPS. The
// plain listener runs on fasthttp: it carries the boot storms of hundreds of
// phones, and net/http's per-request cost kept it at two thirds of a static
// nginx on the same machine.
func New(cfg Config, log *slog.Logger, web *component.Web) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("httpd: %w", err)
	}
	s := &Server{cfg: cfg, log: log}
	// The redirect names the bound HTTPS port (the configured one may be 0).
	secure, plain := web.Secure(), web.Plain(RedirectToHTTPS(func() string { return s.HTTPSAddr().String() }))
	mk := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	s.https = mk(s.guard(secure))
	s.https.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.Listen != "" {
		s.plain = &fasthttp.Server{
			Handler: plain,
			Name:    "switchboard",
			// ReadTimeout covers the headers; once they are in, the body gets
			// BodyTimeout (phones send none: the plain routes are GET and HEAD).
			ReadTimeout: cfg.ReadHeaderTimeout,
			HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
				return fasthttp.RequestConfig{ReadTimeout: cfg.BodyTimeout}
			},
			WriteTimeout:                  cfg.ReadHeaderTimeout * 6,
			IdleTimeout:                   cfg.IdleTimeout,
			MaxRequestBodySize:            64 << 10,
			ReadBufferSize:                8 << 10,
			DisablePreParseMultipartForm:  true,
			NoDefaultServerHeader:         false,
			CloseOnShutdown:               true,
			DisableHeaderNamesNormalizing: false,
			Logger:                        fastLogger{log},
		}
	}
	return s, nil
}

// Name is the listeners' component name.
func (s *Server) Name() string { return "http" }

// Bind binds the sockets and loads the certificate, so that start-up fails early
// (port taken, unreadable key) and readiness is only announced once bound.
func (s *Server) Bind(context.Context) error {
	if s.listened {
		return nil
	}
	if s.cfg.SelfSigned {
		created, err := EnsureSelfSigned(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("httpd: %w", err)
		}
		if created {
			s.log.Info("generated a self-signed TLS certificate", "cert", s.cfg.TLSCert)
		}
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return fmt.Errorf("httpd: load TLS certificate: %w", err)
	}
	s.https.TLSConfig.Certificates = []tls.Certificate{cert}
	ln, err := net.Listen("tcp", s.cfg.HTTPSListen)
	if err != nil {
		return fmt.Errorf("httpd: https: %w", err)
	}
	s.httpsLn = newCapListener(ln, s.cfg.MaxConnsPerSource, s.log.With("listener", "https"))
	if s.plain != nil {
		pl, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("httpd: http: %w", err)
		}
		s.plainLn = newCapListener(pl, s.cfg.MaxConnsPerSource, s.log.With("listener", "http"))
	}
	s.listened = true
	// Logged here, before "ready": tests and operators read the bound addresses.
	s.log.Info("listening", "listener", "https", "addr", s.httpsLn.Addr().String())
	if s.plainLn != nil {
		s.log.Info("listening", "listener", "http", "addr", s.plainLn.Addr().String())
	}
	return nil
}

// HTTPSAddr is the bound HTTPS address (after Listen).
func (s *Server) HTTPSAddr() net.Addr { return s.httpsLn.Addr() }

// PlainAddr is the bound HTTP address, or nil when plain HTTP is off.
func (s *Server) PlainAddr() net.Addr {
	if s.plainLn == nil {
		return nil
	}
	return s.plainLn.Addr()
}

// Serve serves until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Bind(ctx); err != nil {
		return err
	}
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.https.ServeTLS(s.httpsLn, "", ""); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("httpd: https: %w", err)
		}
	}()
	if s.plain != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.plain.Serve(s.plainLn); err != nil {
				errc <- fmt.Errorf("httpd: http: %w", err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.https.Shutdown(sctx) //nolint:errcheck // best effort at exit
	if s.plain != nil {
		s.plain.ShutdownWithContext(sctx) //nolint:errcheck
	}
	wg.Wait()
	return err
}

// RedirectToHTTPS answers every request with a redirect to the same path on
// HTTPS, at the port of httpsAddr().
func RedirectToHTTPS(httpsAddr func() string) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		_, port, _ := net.SplitHostPort(httpsAddr())
		host := string(ctx.Host())
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || !validHostname(strings.Trim(host, "[]")) && net.ParseIP(strings.Trim(host, "[]")) == nil {
			ctx.Error("bad Host header", fasthttp.StatusBadRequest)
			return
		}
		if port != "443" && port != "" {
			host = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
		ctx.Redirect("https://"+host+string(ctx.RequestURI()), fasthttp.StatusPermanentRedirect)
	}
}

// fastLogger sends fasthttp's own messages (connection errors) to slog at debug.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("" + fmt.Sprintf(format, args...))
}

// guard wraps the HTTPS handler: HSTS on every answer, and a read deadline of
// BodyTimeout on every request body (net/http has none once the headers are
// in, so a client trickling a body would hold its connection forever).
func (s *Server) guard(h http.Handler) http.Handler {
	hsts := ""
	if s.cfg.HSTSMaxAge > 0 {
		hsts = "max-age=" + strconv.FormatInt(int64(s.cfg.HSTSMaxAge/time.Second), 10)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hsts != "" {
			w.Header().Set("Strict-Transport-Security", hsts)
		}
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)); err == nil {
				b := &deadlineBody{ReadCloser: r.Body, rc: rc, upload: s.cfg.UploadTimeout}
				r.Body = b
				r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
			}
		}
		h.ServeHTTP(w, r)
	})
}

type bodyKey struct{}

// deadlineBody lifts the read deadline once the body is read to its end: from
// then on net/http's own read of the connection (which notices a client that
// goes away) must not time out, or a slow handler would see its request
// cancelled.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	upload time.Duration
	done   bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF) && !b.done:
		b.done = true
		b.rc.SetReadDeadline(time.Time{}) //nolint:errcheck // the connection is gone if this fails
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = bodyTimeoutError{err}
	}
	return n, err
}

// bodyTimeoutError is a body read cut off by the deadline. Front ends answer
// it 408 (internal/httpapi.Status recognizes it by its BodyTimeout method, so
// that an unrelated timeout deep in a handler is not taken for one).
type bodyTimeoutError struct{ err error }

func (e bodyTimeoutError) Error() string {
	return "request body not received in time: " + e.err.Error()
}
func (e bodyTimeoutError) Unwrap() error { return e.err }

// BodyTimeout marks the error.
func (bodyTimeoutError) BodyTimeout() bool { return true }

// ExtendBody gives the request's body UploadTimeout instead of BodyTimeout: for
// routes that take large uploads, called once the request is authenticated, so
// that only a known user may be slow. It does nothing for requests without a
// body or not served by this package.
func ExtendBody(r *http.Request) {
	if b, ok := r.Context().Value(bodyKey{}).(*deadlineBody); ok && !b.done {
		b.rc.SetReadDeadline(time.Now().Add(b.upload)) //nolint:errcheck // the connection is gone if this fails
	}
}

// capListener closes, as soon as it is accepted, a connection from an address
// that already holds max of them, so that one source cannot take every file
// descriptor (idle and slow connections time out, but a source can open new
// ones as fast as old ones close).
type capListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu      sync.Mutex
	open    map[string]int
	refused map[string]bool // refused since it last had a free slot: one log line each
}

func newCapListener(ln net.Listener, max int, log *slog.Logger) *capListener {
	return &capListener{Listener: ln, max: max, log: log, open: map[string]int{}, refused: map[string]bool{}}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		l.mu.Lock()
		if l.open[ip] >= l.max {
			first := !l.refused[ip]
			l.refused[ip] = true
			l.mu.Unlock()
			c.Close()
			if first {
				l.log.Warn("too many connections from one source", "src", ip, "max", l.max)
			}
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &capConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *capListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
	delete(l.refused, ip)
}

type capConn struct {
	net.Conn
	l    *capListener
	ip   string
	once sync.Once
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
