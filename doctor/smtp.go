package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
)

// SMTPTarget is the mail server a service sends through.
type SMTPTarget struct {
	Host     string
	Port     int
	Security string // starttls, tls or none
	// Roots verify an implicit-TLS server; nil: the system's.
	Roots *x509.CertPool
}

// SMTPCheck is the "smtp" check: the server answers and offers what the
// settings need (TLS from the first byte, or STARTTLS). settings says where;
// ok false skips the check (mail not configured). No login is tried: the check
// needs no password.
func SMTPCheck(settings func(ctx context.Context) (SMTPTarget, bool, error)) Check {
	return Check{ID: "smtp", Run: func(ctx context.Context) Result {
		t, configured, err := settings(ctx)
		if err != nil {
			return fail("check the daemon log", "cannot read the mail settings: %v", err)
		}
		if !configured {
			return skip("mail is not configured (switchboard mail set)")
		}
		addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
		fix := "check the mail settings (switchboard mail show) and that this box may reach " + addr
		var d net.Dialer
		var conn net.Conn
		if t.Security == "tls" {
			td := tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: t.Host, MinVersion: tls.VersionTLS12, RootCAs: t.Roots}}
			conn, err = td.DialContext(ctx, "tcp", addr)
		} else {
			conn, err = d.DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			return fail(fix, "%s: %s", addr, dialErr(err))
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl) //nolint:errcheck // a TCP connection takes a deadline
		}
		c, err := smtp.NewClient(conn, t.Host)
		if err != nil {
			return fail(fix, "%s does not greet as an SMTP server: %v", addr, err)
		}
		defer c.Close()
		if err := c.Hello("switchboard-doctor"); err != nil {
			return fail(fix, "%s refused EHLO: %v", addr, err)
		}
		if t.Security == "starttls" {
			if ok, _ := c.Extension("STARTTLS"); !ok {
				return fail("set the security to tls (port 465) or none, or enable STARTTLS on the server",
					"%s does not offer STARTTLS, which the settings require", addr)
			}
		}
		c.Quit() //nolint:errcheck // the answer was what mattered
		return ok("%s answers (%s)", addr, securityWord(t.Security))
	}}
}

func securityWord(s string) string {
	switch s {
	case "tls":
		return "TLS"
	case "starttls":
		return "STARTTLS offered"
	}
	return fmt.Sprintf("security %q", s)
}
