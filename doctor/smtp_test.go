package doctor

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/smtptest"
)

// TestSMTP drives the SMTP check against a real SMTP server (go-smtp): STARTTLS
// offered, implicit TLS verified against its CA, the wrong security for the
// port, a closed port, and mail not configured.
func TestSMTP(t *testing.T) {
	starttls := smtptest.Start(t, false, 0)
	implicit := smtptest.Start(t, true, 0)
	ca, err := os.ReadFile(implicit.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	check := func(target SMTPTarget, configured bool) Result {
		c := SMTPCheck(func(context.Context) (SMTPTarget, bool, error) { return target, configured, nil })
		return New(5*time.Second, c).Run(context.Background()).Checks[0]
	}
	for _, c := range []struct {
		name   string
		target SMTPTarget
		want   Status
	}{
		{"starttls", SMTPTarget{Host: "127.0.0.1", Port: starttls.Port, Security: "starttls"}, OK},
		{"implicit tls", SMTPTarget{Host: "127.0.0.1", Port: implicit.Port, Security: "tls", Roots: roots}, OK},
		{"implicit tls, unknown CA", SMTPTarget{Host: "127.0.0.1", Port: implicit.Port, Security: "tls"}, Fail},
		{"starttls asked of a TLS port", SMTPTarget{Host: "127.0.0.1", Port: implicit.Port, Security: "starttls"}, Fail},
		{"closed port", SMTPTarget{Host: "127.0.0.1", Port: closedPort, Security: "none"}, Fail},
	} {
		if r := check(c.target, true); r.Status != c.want || (c.want == Fail && r.Fix == "") {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	if r := check(SMTPTarget{}, false); r.Status != Skip {
		t.Errorf("not configured: %+v", r)
	}
}
