package tasks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// ---- a real SMTP server (go-smtp) with STARTTLS or implicit TLS and PLAIN auth ----

type received struct {
	From string
	To   []string
	Data []byte
}

type smtpServer struct {
	addr   string
	port   int
	caFile string
	user   string
	pass   string

	mu       sync.Mutex
	msgs     []received
	tempFail int // the next n DATA commands answer 451
	dataSeen int
}

type smtpBackend struct{ s *smtpServer }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: b.s}, nil }

type smtpSession struct {
	s    *smtpServer
	auth bool
	from string
	to   []string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ss.s.mu.Lock()
		defer ss.s.mu.Unlock()
		if username != ss.s.user || password != ss.s.pass {
			// What Postfix answers: permanent.
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication credentials invalid"}
		}
		ss.auth = true
		return nil
	}), nil
}
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.auth {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.dataSeen++
	if ss.s.tempFail > 0 {
		ss.s.tempFail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.s.msgs = append(ss.s.msgs, received{From: ss.from, To: ss.to, Data: b})
	return nil
}
func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

// startSMTP runs go-smtp on 127.0.0.1:0; implicit selects TLS from the first
// byte instead of STARTTLS; maxBytes > 0 announces SIZE.
func startSMTP(t *testing.T, implicit bool, maxBytes int64) *smtpServer {
	t.Helper()
	cert, caPEM := selfSigned(t)
	s := &smtpServer{user: "reports", pass: "s3cret-pass", caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(s.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtpBackend{s})
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.MaxMessageBytes = maxBytes
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.ErrorLog = discardLog{}
	var l net.Listener
	var err error
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	s.addr = l.Addr().String()
	s.port = l.Addr().(*net.TCPAddr).Port
	return s
}

type discardLog struct{}

func (discardLog) Printf(string, ...any) {}
func (discardLog) Println(...any)        {}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM
}

// part is one MIME part of a received message.
type part struct {
	name, contentType string
	body              []byte
}

// parseMail splits a received message into its headers and parts (the
// attachments decoded).
func parseMail(t *testing.T, raw []byte) (mail.Header, []part) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	var parts []part
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(m.Body)
		return m.Header, []part{{contentType: mt, body: b}}
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
			if err != nil {
				t.Fatal(err)
			}
			b = dec
		} else if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			// multipart.Reader has already decoded it
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts = append(parts, part{name: p.FileName(), contentType: ct, body: b})
	}
	return m.Header, parts
}

// ---- data sources ----

type legSource []report.CDR

func (s legSource) Legs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	for i := range s {
		if !s[i].Start.Before(from) && s[i].Start.Before(to) {
			if err := fn(&s[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

type queueSource struct{ calls []report.QueueCall }

func (q queueSource) QueueCalls(ctx context.Context, from, to time.Time, fn func(*report.QueueCall) error) error {
	for i := range q.calls {
		if !q.calls[i].Entered.Before(from) && q.calls[i].Entered.Before(to) {
			if err := fn(&q.calls[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (q queueSource) AgentEvents(ctx context.Context, from, to time.Time, fn func(*report.AgentEvent) error) error {
	return nil
}

// ---- a fake clock ----

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t.c, func() {}
	}
	c.timers = append(c.timers, t)
	return t.c, func() { c.remove(t) }
}

func (c *fakeClock) remove(t *fakeTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// set moves the clock to t and fires the timers due.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.timers[:0]
	for _, x := range c.timers {
		if !x.at.After(t) {
			x.c <- t
		} else {
			keep = append(keep, x)
		}
	}
	c.timers = keep
}

// nextTimer waits until a timer is armed and returns its deadline.
func (c *fakeClock) nextTimer(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	eventually(t, "the scheduler arms a timer", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.timers) == 0 {
			return false
		}
		at = c.timers[0].at
		for _, x := range c.timers {
			if x.at.Before(at) {
				at = x.at
			}
		}
		return true
	})
	return at
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- the service over a real store, and its API ----

type env struct {
	t    *testing.T
	st   *store.Store
	svc  *Service
	mux  *http.ServeMux
	srv  *httptest.Server
	stop context.CancelFunc
	done chan struct{}
}

func newEnv(t *testing.T, cfg Config, d Deps) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if cfg.KeyFile == "" {
		cfg.KeyFile = filepath.Join(dir, "mail.key")
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(dir, "exports")
	}
	d.Store = st
	svc, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	svc.mail.sleep = func(ctx context.Context, d time.Duration) error { return nil }
	e := &env{t: t, st: st, svc: svc, mux: http.NewServeMux()}
	svc.Routes(testRouter{e.mux})
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	return e
}

func testConfig() Config {
	c := DefaultConfig()
	c.TimeZone = "Europe/Rome"
	return c
}

// serve starts the scheduler; it stops at the end of the test.
func (e *env) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		e.svc.Serve(ctx) //nolint:errcheck // returns nil
	}()
	eventually(e.t, "the scheduler is up", func() bool { return e.svc.active.Load() != nil })
	e.t.Cleanup(func() { cancel(); <-e.done })
}

// testRouter mounts admin routes with the principal named by X-Role.
type testRouter struct{ mux *http.ServeMux }

func (r testRouter) Admin(pattern string, h httpapi.Handler) {
	r.mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
		p := httpapi.Principal{User: "alice", Role: httpapi.RoleAdmin, IP: "192.0.2.1"}
		switch req.Header.Get("X-Role") {
		case "auditor":
			p = httpapi.Principal{User: "audrey", Role: httpapi.RoleAuditor, IP: "192.0.2.2"}
			if req.Method != http.MethodGet {
				httpapi.WriteError(w, http.StatusForbidden, "", "your role is read-only")
				return
			}
		case "tenant_admin":
			p = httpapi.Principal{User: "tina", Role: httpapi.RoleTenantAdmin, Tenant: "t1", IP: "192.0.2.3"}
		}
		if err := h(w, req, p); err != nil {
			if status, field, msg, ok := httpapi.Status(err); ok {
				httpapi.WriteError(w, status, field, msg)
				return
			}
			httpapi.WriteError(w, http.StatusInternalServerError, "", err.Error())
		}
	})
}
func (testRouter) Handle(string, http.Handler)           {}
func (testRouter) Plain(string, fasthttp.RequestHandler) {}

// do sends a JSON request and decodes the answer into out (if not nil).
func (e *env) do(method, path, role, body string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("X-Role", role)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}
