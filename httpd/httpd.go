package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
	s.https = mk(secure)
	s.https.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.Listen != "" {
		s.plain = &fasthttp.Server{
			Handler:                       plain,
			Name:                          "switchboard",
			ReadTimeout:                   cfg.ReadHeaderTimeout,
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
	s.httpsLn = ln
	if s.plain != nil {
		pl, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("httpd: http: %w", err)
		}
		s.plainLn = pl
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
