package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/ha"
	"github.com/switchboard-pbx/switchboard/store"
)

// Listener is one configured listener the daemon should have bound.
type Listener struct {
	// Name is what the configuration calls it ("https", "tftp").
	Name string
	// Network is tcp, udp-tftp (answered with a TFTP error) or unix.
	Network string
	// Addr is the configured address; an unspecified host is probed on loopback.
	Addr string
	// Key is the configuration key, for the fix.
	Key string
	// ActiveOnly listeners are not bound on a passive HA node.
	ActiveOnly bool
}

// NamedURL is a URL handed to phones or apps.
type NamedURL struct {
	Name string // "provisioning base URL"
	Key  string // "provisioning.base_url"
	URL  string
}

// Env is what the checks look at: the configuration and the running parts.
type Env struct {
	Public Public
	Config Config
	// HTTPSAddr is http.https_listen: the certificate checks ask it.
	HTTPSAddr string
	// SelfSigned is true when the daemon made its own certificate.
	SelfSigned bool
	Listeners  []Listener
	URLs       []NamedURL
	DataDir    string
	Store      *store.Store
	// AMI is the CTI's AMI configuration; nil when the CTI is off.
	AMI *ami.Config
	// HA reports the cluster state; nil when HA is off.
	HA func() ha.Status
	// HAUnits are ha.units; UnitsFile is the list the polkit rule reads
	// (/etc/switchboard-ha-units).
	HAUnits   []string
	UnitsFile string
	// AsRoot is true when the daemon runs as root (systemctl needs no rule).
	AsRoot bool
	// Active reports whether this node serves (true without HA).
	Active func() bool
	// Roots are the trusted roots; nil: the system's plus doctor.ca_file.
	Roots *x509.CertPool
	// Now is the clock (tests move it).
	Now func() time.Time
}

// Standard is every built-in check, in the order they are reported.
func Standard(env Env) []Check {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Active == nil {
		env.Active = func() bool { return true }
	}
	e := &checker{Env: env}
	cs := []Check{
		{"tls.names", e.tlsNames},
		{"tls.expiry", e.tlsExpiry},
		{"tls.chain", e.tlsChain},
		{"tls.intermediates", e.tlsIntermediates},
		{"dns.resolves", e.dnsResolves},
		{"dns.points_here", e.dnsPointsHere},
		{"urls.fqdn", e.urlsUseFQDN},
		{"public.address", e.publicAddress},
	}
	for _, l := range env.Listeners {
		cs = append(cs, Check{"listen." + l.Name, func(ctx context.Context) Result { return e.listener(ctx, l) }})
	}
	for _, p := range env.Config.VantageTCP {
		cs = append(cs, Check{fmt.Sprintf("vantage.tcp.%d", p), func(ctx context.Context) Result { return e.vantageTCP(ctx, p) }})
	}
	cs = append(cs,
		Check{"vantage.udp", e.vantageUDP},
		Check{"hairpin", e.hairpin},
		Check{"pbx.ami", e.pbxAMI},
		Check{"pbx.transports", e.pbxTransports},
		Check{"pbx.clock", e.pbxClock},
		Check{"disk", e.disk},
		Check{"db.integrity", e.dbIntegrity},
		Check{"audit.chain", e.auditChain},
		Check{"ha.peer", e.haPeer},
		Check{"ha.replication", e.haReplication},
		Check{"ha.units", e.haUnits},
	)
	return cs
}

type checker struct {
	Env
	once  sync.Mutex
	chain *served
	pbxMu pbxOnce
}

// served is what the HTTPS listener presented (fetched once per report).
type served struct {
	certs []*x509.Certificate
	err   error
}

// loopback turns a listen address into one to dial: an unspecified host is
// this machine.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// servedChain asks the HTTPS listener for its certificate chain, with the
// public name as SNI.
func (e *checker) servedChain(ctx context.Context) ([]*x509.Certificate, error) {
	e.once.Lock()
	defer e.once.Unlock()
	if e.chain == nil {
		certs, err := fetchChain(ctx, loopback(e.HTTPSAddr), e.Public.FQDN)
		e.chain = &served{certs, err}
	}
	return e.chain.certs, e.chain.err
}

func fetchChain(ctx context.Context, addr, sni string) ([]*x509.Certificate, error) {
	d := tls.Dialer{Config: &tls.Config{ServerName: sni, InsecureSkipVerify: true}} //nolint:gosec // the checks verify the chain themselves
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	certs := c.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no certificate presented")
	}
	return certs, nil
}

func (e *checker) tlsUnreachable(err error) Result {
	return fail("start the daemon and check http.https_listen (see the listen.https check)",
		"cannot fetch the certificate from %s: %v", e.HTTPSAddr, err)
}

func (e *checker) tlsNames(ctx context.Context) Result {
	if e.Public.FQDN == "" {
		return skip("public.fqdn is not set: set it to the name phones and apps use to reach this box")
	}
	certs, err := e.servedChain(ctx)
	if err != nil {
		return e.tlsUnreachable(err)
	}
	leaf := certs[0]
	if err := leaf.VerifyHostname(e.Public.FQDN); err != nil {
		names := strings.Join(leaf.DNSNames, ", ")
		if names == "" {
			names = "none"
		}
		return fail("get a certificate for "+e.Public.FQDN+" and set http.tls_cert and http.tls_key to it",
			"the certificate does not cover %s (its names: %s)", e.Public.FQDN, names)
	}
	return ok("the certificate covers %s", e.Public.FQDN)
}

func (e *checker) tlsExpiry(ctx context.Context) Result {
	certs, err := e.servedChain(ctx)
	if err != nil {
		return e.tlsUnreachable(err)
	}
	now := e.Now()
	for i, c := range certs {
		what := "the certificate"
		if i > 0 {
			what = "the intermediate " + c.Subject.CommonName
		}
		switch {
		case now.After(c.NotAfter):
			return fail("renew it and replace the file in http.tls_cert", "%s expired on %s", what, c.NotAfter.Format(time.DateOnly))
		case now.Before(c.NotBefore):
			return fail("check this machine's clock (see pbx.clock) or the certificate's dates", "%s is not valid before %s", what, c.NotBefore.Format(time.RFC3339))
		case c.NotAfter.Sub(now) < e.Config.CertWarn:
			return warn("renew it before it expires", "%s expires on %s, in %d days", what, c.NotAfter.Format(time.DateOnly), int(c.NotAfter.Sub(now).Hours()/24))
		}
	}
	return ok("valid until %s", certs[0].NotAfter.Format(time.DateOnly))
}

func (e *checker) roots() (*x509.CertPool, error) {
	if e.Roots != nil {
		return e.Roots, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if e.Config.CAFile != "" {
		b, err := os.ReadFile(e.Config.CAFile)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", e.Config.CAFile)
		}
	}
	return pool, nil
}

// verify checks the served chain against the roots with only the
// intermediates the server sent (as a mobile app does).
func (e *checker) verify(certs []*x509.Certificate) error {
	roots, err := e.roots()
	if err != nil {
		return fmt.Errorf("doctor.ca_file: %w", err)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: e.Now()})
	return err
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func (e *checker) tlsChain(ctx context.Context) Result {
	certs, err := e.servedChain(ctx)
	if err != nil {
		return e.tlsUnreachable(err)
	}
	if selfSigned(certs[0]) || e.SelfSigned {
		return warn("install a certificate from a public CA (Let's Encrypt or your provider) and set http.tls_cert and http.tls_key",
			"the certificate is the daemon's own (self-signed): phones and mobile apps do not trust it")
	}
	err = e.verify(certs)
	var ua x509.UnknownAuthorityError
	switch {
	case err == nil:
		return ok("the chain reaches a trusted root (%s)", rootName(certs))
	case errors.As(err, &ua) && len(certs) == 1:
		// The intermediates check says what is missing.
		return fail("add the intermediate certificates after the certificate in http.tls_cert (see tls.intermediates)",
			"the chain does not reach a trusted root from what the server sends")
	default:
		return fail("use a certificate from a CA the system trusts, or add a private CA to doctor.ca_file",
			"the chain does not reach a trusted root: %v", err)
	}
}

func rootName(certs []*x509.Certificate) string {
	last := certs[len(certs)-1]
	return last.Issuer.CommonName
}

func (e *checker) tlsIntermediates(ctx context.Context) Result {
	certs, err := e.servedChain(ctx)
	if err != nil {
		return e.tlsUnreachable(err)
	}
	if selfSigned(certs[0]) || e.SelfSigned {
		return skip("the daemon's own certificate has no intermediates to send")
	}
	if err := e.verify(certs); err == nil {
		return ok("the server sends %d certificate(s): the chain is complete", len(certs))
	}
	// Would the chain verify if the server sent what the leaf's issuer needs?
	// Without the intermediate at hand, the sign is a leaf whose issuer is not
	// a root we trust and no certificate after it.
	roots, rerr := e.roots()
	if rerr == nil {
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, CurrentTime: e.Now()}); err == nil {
			return ok("the certificate is issued by a trusted root directly")
		}
	}
	if len(certs) == 1 {
		return fail("append the intermediate certificate(s) of "+certs[0].Issuer.CommonName+" to the file in http.tls_cert, after the certificate (the full chain file of your CA)",
			"the server sends the certificate alone: mobile apps and many phones refuse it (issuer %q)", certs[0].Issuer.CommonName)
	}
	return fail("put the full chain of your CA in http.tls_cert, in order: certificate, intermediates",
		"the %d certificates the server sends do not form a chain to a trusted root", len(certs))
}

// resolver is the system's or doctor.resolver.
func (e *checker) resolver() *net.Resolver {
	if e.Config.Resolver == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, e.Config.Resolver)
	}}
}

func (e *checker) lookup(ctx context.Context) ([]netip.Addr, error) {
	addrs, err := e.resolver().LookupNetIP(ctx, "ip", e.Public.FQDN)
	if err != nil {
		return nil, err
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

func (e *checker) dnsResolves(ctx context.Context) Result {
	if e.Public.FQDN == "" {
		return skip("public.fqdn is not set")
	}
	addrs, err := e.lookup(ctx)
	if err != nil {
		return fail("create an A record for "+e.Public.FQDN+" at your DNS provider", "%s does not resolve: %v", e.Public.FQDN, err)
	}
	return ok("%s resolves to %s", e.Public.FQDN, joinAddrs(addrs))
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// localAddrs are this machine's addresses.
func localAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	as, _ := net.InterfaceAddrs()
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out[ip.Unmap()] = true
			}
		}
	}
	return out
}

func (e *checker) dnsPointsHere(ctx context.Context) Result {
	if e.Public.FQDN == "" {
		return skip("public.fqdn is not set")
	}
	addrs, err := e.lookup(ctx)
	if err != nil {
		return fail("see dns.resolves", "%s does not resolve", e.Public.FQDN)
	}
	mine := localAddrs()
	pub, _ := netip.ParseAddr(e.Public.Address)
	for _, a := range addrs {
		if mine[a] {
			return ok("%s is an address of this machine", a)
		}
		if pub.IsValid() && a == pub.Unmap() {
			return ok("%s is the configured public address", a)
		}
	}
	want := "an address of this machine"
	if pub.IsValid() {
		want = "the public address " + pub.String() + " or " + want
	}
	return fail("point the A record of "+e.Public.FQDN+" to "+want+", or correct public.address",
		"%s resolves to %s, which is not %s", e.Public.FQDN, joinAddrs(addrs), want)
}

func (e *checker) urlsUseFQDN(context.Context) Result {
	if e.Public.FQDN == "" {
		return skip("public.fqdn is not set")
	}
	var bad, odd []string
	fix := ""
	for _, u := range e.URLs {
		host := u.URL
		if p, err := url.Parse(u.URL); err == nil && p.Host != "" {
			host = p.Hostname()
		}
		if strings.EqualFold(host, e.Public.FQDN) {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast()) {
			bad = append(bad, fmt.Sprintf("%s uses the private address %s", u.Name, host))
			fix = "set " + u.Key + " to use " + e.Public.FQDN
			continue
		}
		odd = append(odd, fmt.Sprintf("%s uses %s", u.Name, host))
		if fix == "" {
			fix = "set " + u.Key + " to use " + e.Public.FQDN
		}
	}
	switch {
	case len(bad) > 0:
		return fail(fix, "%s: phones outside the LAN and the mobile app cannot reach it", strings.Join(append(bad, odd...), "; "))
	case len(odd) > 0:
		return warn(fix, "%s, not %s", strings.Join(odd, "; "), e.Public.FQDN)
	}
	return ok("%d URL(s) use %s", len(e.URLs), e.Public.FQDN)
}

func dialErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "connection refused"
	}
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return "no answer (filtered or dropped)"
	}
	return err.Error()
}

func (e *checker) listener(ctx context.Context, l Listener) Result {
	if l.ActiveOnly && !e.Active() {
		return skip("%s is served by the active node; this node is passive", l.Name)
	}
	addr := loopback(l.Addr)
	var d net.Dialer
	fix := "check the daemon log for the listener's error and " + l.Key
	switch l.Network {
	case "udp-tftp":
		c, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return fail(fix, "%s: %v", addr, err)
		}
		defer c.Close()
		// Two bytes are a malformed request: the server answers an ERROR
		// packet and counts nothing against the sender.
		deadline, _ := ctx.Deadline()
		c.SetDeadline(deadline) //nolint:errcheck // a UDP socket takes a deadline
		if _, err := c.Write([]byte{0, 1}); err != nil {
			return fail(fix, "%s: %v", addr, err)
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil || n < 4 || buf[1] != 5 {
			return fail(fix, "TFTP on %s does not answer: %s", addr, dialErr(err))
		}
		return ok("TFTP answers on %s", l.Addr)
	default:
		network := l.Network
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return fail(fix, "%s %s: %s", l.Name, addr, dialErr(err))
		}
		c.Close()
		return ok("%s is bound on %s", l.Name, l.Addr)
	}
}
