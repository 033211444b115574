package tasks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/switchboard-pbx/switchboard/internal/seal"
	"github.com/switchboard-pbx/switchboard/store"
)

// mailID is the id of the one mail_settings object.
const mailID = "smtp"

// Security of the SMTP connection.
const (
	SecuritySTARTTLS = "starttls" // plain connection upgraded with STARTTLS (mandatory), usually port 587
	SecurityTLS      = "tls"      // implicit TLS from the first byte, usually port 465
	SecurityNone     = "none"     // no encryption: a relay on the local network; no authentication then
)

// MailSettings are the SMTP settings as stored; Password is sealed.
type MailSettings struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"`
	Username string `json:"username"`
	Password string `json:"password"`
	// From is the sender: "name@example.com" or "Switchboard <name@example.com>".
	From string `json:"from"`
}

// MailView is the settings as the API shows them: the password never leaves.
type MailView struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Security    string `json:"security"`
	Username    string `json:"username"`
	PasswordSet bool   `json:"password_set"`
	From        string `json:"from"`
	Configured  bool   `json:"configured"`
}

func (m MailSettings) view() MailView {
	return MailView{Host: m.Host, Port: m.Port, Security: m.Security, Username: m.Username,
		PasswordSet: m.Password != "", From: m.From, Configured: m.Host != ""}
}

// MailInput changes the settings; nil fields stay. Password "" removes it.
type MailInput struct {
	Host     *string `json:"host"`
	Port     *int    `json:"port"`
	Security *string `json:"security"`
	Username *string `json:"username"`
	Password *string `json:"password"`
	From     *string `json:"from"`
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

func (m MailSettings) validate() error {
	switch {
	case m.Host == "":
		return bad("host", "host is required")
	case net.ParseIP(m.Host) == nil && !hostRE.MatchString(m.Host):
		return bad("host", "host must be a host name or an IP address")
	case m.Port < 1 || m.Port > 65535:
		return bad("port", "port must be 1-65535")
	case m.Security != SecuritySTARTTLS && m.Security != SecurityTLS && m.Security != SecurityNone:
		return bad("security", "security must be starttls, tls or none")
	case m.Security == SecurityNone && m.Username != "":
		return bad("security", "authentication needs starttls or tls: the password would cross the network in clear")
	case len(m.Username) > 256 || strings.ContainsAny(m.Username, "\r\n"):
		return bad("username", "username must be one line of at most 256 characters")
	case m.Username != "" && m.Password == "":
		return bad("password", "a username needs a password")
	case m.Username == "" && m.Password != "":
		return bad("username", "a password needs a username")
	}
	a, err := mail.ParseAddress(m.From)
	if err != nil || !strings.Contains(a.Address, "@") {
		return bad("from", "from must be an e-mail address (name@example.com or Name <name@example.com>)")
	}
	return nil
}

// defaultPort is the usual port of a security mode.
func defaultPort(security string) int {
	switch security {
	case SecurityTLS:
		return 465
	case SecurityNone:
		return 25
	}
	return 587
}

// message is one mail to send.
type message struct {
	to          []string
	subject     string
	body        string
	attachments []attachment
}

type attachment struct {
	name, path, contentType string
}

// mailer sends messages with the stored settings.
type mailer struct {
	keys     *seal.Sealer
	timeout  time.Duration
	attempts int
	backoff  time.Duration
	roots    *x509.CertPool
	// sleep waits between attempts (replaced in tests).
	sleep func(ctx context.Context, d time.Duration) error
}

func newMailer(cfg Config) (*mailer, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tasks: ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tasks: ca_file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	return &mailer{keys: &seal.Sealer{Path: cfg.KeyFile}, timeout: cfg.MailTimeout, attempts: cfg.MailAttempts,
		backoff: cfg.MailBackoff, roots: roots, sleep: sleepCtx}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrNoMail is returned when no SMTP server is configured.
var ErrNoMail = errors.New("no SMTP server is configured (mail settings)")

// sendError is a failed delivery; temporary ones are retried.
type sendError struct {
	err       error
	temporary bool
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// send delivers msg, retrying temporary failures with doubling waits; it
// returns how many attempts it made.
func (m *mailer) send(ctx context.Context, s MailSettings, msg message, attempts int) (int, error) {
	if s.Host == "" {
		return 0, ErrNoMail
	}
	if attempts <= 0 {
		attempts = m.attempts
	}
	wait := m.backoff
	for n := 1; ; n++ {
		err := m.sendOnce(ctx, s, msg)
		if err == nil {
			return n, nil
		}
		var se *sendError
		if !errors.As(err, &se) || !se.temporary || n >= attempts || ctx.Err() != nil {
			if n > 1 {
				err = fmt.Errorf("%w (after %d attempts)", err, n)
			}
			return n, err
		}
		if err := m.sleep(ctx, wait); err != nil {
			return n, err
		}
		wait *= 2
	}
}

// countWriter counts bytes.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func (m *mailer) build(s MailSettings, msg message) (*gomail.Msg, error) {
	gm := gomail.NewMsg()
	if err := gm.From(s.From); err != nil {
		return nil, &sendError{err: fmt.Errorf("sender %q: %w", s.From, err)}
	}
	if err := gm.To(msg.to...); err != nil {
		return nil, &sendError{err: fmt.Errorf("recipients: %w", err)}
	}
	gm.Subject(msg.subject)
	gm.SetDate()
	gm.SetMessageID()
	gm.SetBodyString(gomail.TypeTextPlain, msg.body)
	for _, a := range msg.attachments {
		if _, err := os.Stat(a.path); err != nil {
			return nil, &sendError{err: fmt.Errorf("attachment: %w", err)}
		}
		gm.AttachFile(a.path, gomail.WithFileName(a.name), gomail.WithFileContentType(gomail.ContentType(a.contentType)))
	}
	return gm, nil
}

func (m *mailer) sendOnce(ctx context.Context, s MailSettings, msg message) error {
	gm, err := m.build(s, msg)
	if err != nil {
		return err
	}
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(m.timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.Host, RootCAs: m.roots, MinVersion: tls.VersionTLS12})}
	switch s.Security {
	case SecurityTLS:
		opts = append(opts, gomail.WithSSL())
	case SecuritySTARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.Username != "" {
		pw, err := m.keys.Open(s.Password, mailID)
		if err != nil {
			return &sendError{err: fmt.Errorf("SMTP password: %w", err)}
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username),
			gomail.WithPassword(string(pw)))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return &sendError{err: fmt.Errorf("SMTP client: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return classify(fmt.Errorf("SMTP %s:%d: %w", s.Host, s.Port, err))
	}
	defer c.CloseWithSMTPClient(sc) //nolint:errcheck // the message is sent or the error is reported
	// A server that announces its size limit (SIZE, RFC 1870) is asked
	// before the upload: a message too large is an error, never a silent drop.
	if ok, param := sc.Extension("SIZE"); ok {
		if limit, err := strconv.ParseInt(strings.TrimSpace(param), 10, 64); err == nil && limit > 0 {
			var cw countWriter
			if _, err := gm.WriteTo(&cw); err != nil {
				return &sendError{err: fmt.Errorf("message: %w", err)}
			}
			if cw.n > limit {
				return &sendError{err: fmt.Errorf("the message is %d bytes, larger than the %d bytes the SMTP server accepts: lower the compression threshold or the period", cw.n, limit)}
			}
		}
	}
	if err := c.SendWithSMTPClient(sc, gm); err != nil {
		return classify(err)
	}
	return nil
}

// classify tells a temporary failure (4xx replies, network trouble) from a
// permanent one (5xx replies, TLS and certificate errors).
func classify(err error) error {
	var ge *gomail.SendError
	if errors.As(err, &ge) {
		return &sendError{err: err, temporary: ge.IsTemp()}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return &sendError{err: err, temporary: te.Code/100 == 4}
	}
	var ce *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	if errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &he) {
		return &sendError{err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return &sendError{err: err, temporary: true}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return &sendError{err: err, temporary: true}
	}
	return &sendError{err: err}
}

// loadMail reads the settings (zero when none are saved).
func loadMail(tx *store.Tx) (MailSettings, error) {
	var s MailSettings
	_, err := tx.Get(KindMail, mailID, &s)
	return s, err
}
