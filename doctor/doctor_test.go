package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/ha"
	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
	"github.com/switchboard-pbx/switchboard/internal/testpki"
	"github.com/switchboard-pbx/switchboard/store"
)

// run runs the named checks of env and returns their results by id.
func run(t *testing.T, env Env, ids ...string) map[string]Result {
	t.Helper()
	if env.Config.Timeout == 0 {
		env.Config = DefaultConfig()
	}
	var picked []Check
	for _, c := range Standard(env) {
		for _, id := range ids {
			if c.ID == id {
				picked = append(picked, c)
			}
		}
	}
	if len(picked) != len(ids) {
		t.Fatalf("asked %v, found %d checks", ids, len(picked))
	}
	rep := New(5*time.Second, picked...).Run(context.Background())
	out := map[string]Result{}
	for _, r := range rep.Checks {
		out[r.ID] = r
	}
	return out
}

func expect(t *testing.T, res map[string]Result, id string, want Status, detail string) {
	t.Helper()
	r := res[id]
	if r.Status != want || !strings.Contains(r.Detail, detail) {
		t.Errorf("%s = %s %q (fix %q), want %s containing %q", id, r.Status, r.Detail, r.Fix, want, detail)
	}
	if (want == Fail || want == Warn) && r.Fix == "" {
		t.Errorf("%s: %s without a fix", id, want)
	}
}

// TestTLS drives the certificate checks both ways against a real TLS server:
// full chain and leaf only, the right name and another, fresh, expiring and
// expired.
func TestTLS(t *testing.T) {
	const fqdn = "pbx.example.test"
	p := testpki.New(t, []string{fqdn}, time.Now().Add(90*24*time.Hour))
	full, leafOnly := p.Serve(t, true), p.Serve(t, false)
	env := Env{Public: Public{FQDN: fqdn}, Roots: p.Roots}

	env.HTTPSAddr = full
	res := run(t, env, "tls.names", "tls.expiry", "tls.chain", "tls.intermediates")
	expect(t, res, "tls.names", OK, "covers "+fqdn)
	expect(t, res, "tls.expiry", OK, "valid until")
	expect(t, res, "tls.chain", OK, "Test Root CA")
	expect(t, res, "tls.intermediates", OK, "2 certificate(s)")

	env.HTTPSAddr = leafOnly
	res = run(t, env, "tls.chain", "tls.intermediates")
	expect(t, res, "tls.chain", Fail, "does not reach a trusted root")
	expect(t, res, "tls.intermediates", Fail, "certificate alone")
	if !strings.Contains(res["tls.intermediates"].Fix, "Test Intermediate CA") {
		t.Errorf("the fix does not name the missing issuer: %q", res["tls.intermediates"].Fix)
	}

	env.HTTPSAddr = full
	env.Public.FQDN = "other.example.test"
	res = run(t, env, "tls.names")
	expect(t, res, "tls.names", Fail, "does not cover other.example.test (its names: "+fqdn+")")

	env.Public.FQDN = fqdn
	env.Now = func() time.Time { return time.Now().Add(80 * 24 * time.Hour) }
	expect(t, run(t, env, "tls.expiry"), "tls.expiry", Warn, "in 9 days")
	env.Now = func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }
	expect(t, run(t, env, "tls.expiry"), "tls.expiry", Fail, "expired on")

	// A chain that verifies only against a root the system does not have fails
	// without doctor.ca_file and passes with it.
	env.Now, env.Roots = nil, nil
	expect(t, run(t, env, "tls.chain"), "tls.chain", Fail, "does not reach a trusted root")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, p.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env.Config = DefaultConfig()
	env.Config.CAFile = ca
	expect(t, run(t, env, "tls.chain"), "tls.chain", OK, "trusted root")
}

// TestListeners: a bound listener passes, a closed port and a missing socket fail.
func TestListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	env := Env{Listeners: []Listener{
		{Name: "https", Network: "tcp", Addr: ":" + port, Key: "http.https_listen"},
		{Name: "http", Network: "tcp", Addr: closedAddr, Key: "http.listen"},
		{Name: "socket", Network: "unix", Addr: filepath.Join(t.TempDir(), "none.sock"), Key: "admin.socket"},
		{Name: "tftp", Network: "udp-tftp", Addr: "127.0.0.1:69", Key: "tftp.listen", ActiveOnly: true},
	}, Active: func() bool { return false }}
	res := run(t, env, "listen.https", "listen.http", "listen.socket", "listen.tftp")
	expect(t, res, "listen.https", OK, "bound on :"+port)
	expect(t, res, "listen.http", Fail, "connection refused")
	expect(t, res, "listen.socket", Fail, "no such file")
	expect(t, res, "listen.tftp", Skip, "passive")
}

// dnsmasq runs Debian's dnsmasq on a loopback address of its own, answering
// for the records given (name -> address; "" is NXDOMAIN).
func dnsmasq(t *testing.T, records map[string]string) string {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("needs dnsmasq (installed by .ci/run)")
	}
	// A random loopback address of 127/8 and a fixed port: another run that
	// holds the same pair makes dnsmasq exit, and we try another address.
	for attempt := 0; attempt < 20; attempt++ {
		ip := fmt.Sprintf("127.%d.%d.%d", 100+attempt, os.Getpid()%250+1, time.Now().Nanosecond()%250+1)
		addr := net.JoinHostPort(ip, "5353")
		args := []string{"--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
			"--listen-address=" + ip, "--port=5353", "--pid-file=", "--log-facility=-", "--user=" + currentUser()}
		for name, a := range records {
			if a == "" {
				args = append(args, "--address=/"+name+"/")
			} else {
				args = append(args, "--address=/"+name+"/"+a)
			}
		}
		cmd := exec.Command(bin, args...)
		logs := &testlog.Buffer{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Ready when it answers a query.
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-done:
				goto next
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := r.LookupHost(ctx, "ready.probe.invalid")
			cancel()
			// Any DNS answer (NXDOMAIN, REFUSED) means it listens.
			var de *net.DNSError
			if err == nil || (asDNS(err, &de) && !de.IsTimeout && !strings.Contains(de.Err, "refused")) {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-done
		t.Fatalf("dnsmasq did not answer: %s", logs.String())
	next:
	}
	t.Fatal("no free loopback address for dnsmasq")
	return ""
}

func asDNS(err error, de **net.DNSError) bool {
	e, ok := err.(*net.DNSError)
	if ok {
		*de = e
	}
	return ok
}

func currentUser() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return strconv.Itoa(os.Geteuid())
}

// TestDNS: a real DNS server (dnsmasq) answers the public name with this
// machine's address, with the configured public address, with an address of
// neither, and not at all.
func TestDNS(t *testing.T) {
	srv := dnsmasq(t, map[string]string{
		"here.example.test":   "127.0.0.1",
		"public.example.test": "198.51.100.7",
		"wrong.example.test":  "198.51.100.99",
		"none.example.test":   "",
	})
	cfg := DefaultConfig()
	cfg.Resolver = srv
	env := Env{Config: cfg, Public: Public{Address: "198.51.100.7"}}
	for _, c := range []struct {
		fqdn               string
		resolves, pointsAt Status
		detail             string
	}{
		{"here.example.test", OK, OK, "address of this machine"},
		{"public.example.test", OK, OK, "configured public address"},
		{"wrong.example.test", OK, Fail, "198.51.100.99, which is not"},
		{"none.example.test", Fail, Fail, "does not resolve"},
	} {
		env.Public.FQDN = c.fqdn
		res := run(t, env, "dns.resolves", "dns.points_here")
		if res["dns.resolves"].Status != c.resolves {
			t.Errorf("%s: dns.resolves %+v", c.fqdn, res["dns.resolves"])
		}
		expect(t, res, "dns.points_here", c.pointsAt, c.detail)
	}
}

// TestURLs: URLs with the public name pass, a private address fails, another
// name warns; without public.fqdn the check is skipped.
func TestURLs(t *testing.T) {
	env := Env{Public: Public{FQDN: "pbx.example.test"}}
	env.URLs = []NamedURL{{Name: "the provisioning base URL", Key: "provisioning.base_url", URL: "https://pbx.example.test/provisioning"},
		{Name: "the QR host", Key: "cti.fqdn", URL: "pbx.example.test"}}
	expect(t, run(t, env, "urls.fqdn"), "urls.fqdn", OK, "2 URL(s)")
	env.URLs[0].URL = "http://192.168.1.10:8080"
	r := run(t, env, "urls.fqdn")["urls.fqdn"]
	if r.Status != Fail || !strings.Contains(r.Detail, "private address 192.168.1.10") || !strings.Contains(r.Fix, "provisioning.base_url") {
		t.Errorf("private: %+v", r)
	}
	env.URLs[0].URL = "https://old.example.test"
	expect(t, run(t, env, "urls.fqdn"), "urls.fqdn", Warn, "uses old.example.test")
	env.Public.FQDN = ""
	expect(t, run(t, env, "urls.fqdn"), "urls.fqdn", Skip, "public.fqdn")
}

// TestEchoAndVantage drives the public-address and reachability checks with
// the real vantage on loopback: the echo agrees or not, a port is open or
// closed, the vantage is down.
func TestEchoAndVantage(t *testing.T) {
	v := httptest.NewServer((&Vantage{DialTimeout: time.Second}).Handler())
	defer v.Close()
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	openPort := open.Addr().(*net.TCPAddr).Port
	cfg := DefaultConfig()
	cfg.EchoURL = v.URL + "/v1/ip"
	cfg.Vantage = v.URL
	cfg.VantageTCP = []int{openPort, closedPort}
	env := Env{Config: cfg, Public: Public{Address: "127.0.0.1"}}
	ids := []string{"public.address", fmt.Sprintf("vantage.tcp.%d", openPort), fmt.Sprintf("vantage.tcp.%d", closedPort)}
	res := run(t, env, ids...)
	expect(t, res, "public.address", OK, "sees this box as 127.0.0.1")
	expect(t, res, ids[1], OK, "reachable from outside")
	expect(t, res, ids[2], Fail, "connection refused")

	env.Public.Address = "127.0.0.2"
	expect(t, run(t, env, "public.address"), "public.address", Fail, "public.address is 127.0.0.2 but the Internet sees this box as 127.0.0.1")
	env.Public.Address = ""
	expect(t, run(t, env, "public.address"), "public.address", Warn, "not set")

	v.Close()
	res = run(t, env, ids...)
	expect(t, res, "public.address", Fail, "did not answer")
	expect(t, res, ids[1], Fail, "vantage did not answer")

	env.Config.EchoURL, env.Config.Vantage = "", ""
	res = run(t, env, ids...)
	expect(t, res, "public.address", Skip, "off by default")
	expect(t, res, ids[1], Skip, "not set")
}

// TestVantageRefusesBadProbes: the vantage only probes the caller and bounds
// the work of one request.
func TestVantageRefusesBadProbes(t *testing.T) {
	v := httptest.NewServer((&Vantage{}).Handler())
	defer v.Close()
	for _, body := range []string{`{"tcp":[1,2,3,4,5,6,7,8,9]}`, `{"tcp":[0]}`, `{"host":"192.0.2.1","tcp":[80]}`,
		`{"udp":{"port":70000,"payload":"x"}}`, `not json`} {
		resp, err := httpClient.Post(v.URL+"/v1/probe", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d", body, resp.StatusCode)
		}
	}
}

const transportsOK = `Transport:  <TransportId........>  <Type>  <cos>  <tos>  <BindAddress....................>
==========================================================================================

Transport:  transport-tcp             tcp      0      0  0.0.0.0:5060
Transport:  transport-tls             tls      0      0  0.0.0.0:5061
Transport:  transport-udp             udp      0      0  0.0.0.0:5060

Objects found: 3
`

// TestPBX drives the AMI checks against the AMI double: login accepted and
// refused, the transports the mobile app needs present and missing, the clocks
// in step and apart.
func TestPBX(t *testing.T) {
	srv, err := amitest.Start("doctor", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetCommand("pjsip show transports", transportsOK)
	a := ami.DefaultConfig()
	a.Address, a.Username, a.Secret = srv.Addr(), "doctor", "s3cret"
	env := Env{AMI: &a}
	ids := []string{"pbx.ami", "pbx.transports", "pbx.clock"}
	res := run(t, env, ids...)
	expect(t, res, "pbx.ami", OK, "logged in")
	expect(t, res, "pbx.transports", OK, "tls transport-tls 0.0.0.0:5061, tcp transport-tcp")
	expect(t, res, "pbx.clock", OK, "clocks agree")

	srv.SetCommand("pjsip show transports", "Transport:  transport-udp  udp  0  0  0.0.0.0:5060\n\nObjects found: 1\n")
	srv.SetClockOffset(-7 * time.Second)
	res = run(t, env, ids...)
	expect(t, res, "pbx.transports", Fail, "no SIP TLS or TCP transport")
	expect(t, res, "pbx.clock", Fail, "behind")

	bad := a
	bad.Secret = "wrong"
	env.AMI = &bad
	res = run(t, env, ids...)
	expect(t, res, "pbx.ami", Fail, "refused")
	expect(t, res, "pbx.transports", Fail, "no AMI session")

	env.AMI = nil
	expect(t, run(t, env, "pbx.ami"), "pbx.ami", Skip, "CTI is off")
}

// TestAppliance: disk thresholds both ways, a sound and a tampered audit
// chain, a sound and a damaged database file, the HA peer alive and lost.
func TestAppliance(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := st.Update(context.Background(), store.System, func(tx *store.Tx) error {
			return tx.Create("widget", "", strconv.Itoa(i), map[string]int{"v": i}, "widget "+strconv.Itoa(i))
		}); err != nil {
			t.Fatal(err)
		}
	}
	env := Env{DataDir: dir, Store: st}
	res := run(t, env, "disk", "db.integrity", "audit.chain")
	expect(t, res, "disk", OK, "free of")
	expect(t, res, "db.integrity", OK, "sound")
	expect(t, res, "audit.chain", OK, "intact (3 rows)")

	env.Config = DefaultConfig()
	env.Config.DiskWarnPercent = 100
	expect(t, run(t, env, "disk"), "disk", Warn, "free of")
	env.Config.DiskFailPercent = 100
	expect(t, run(t, env, "disk"), "disk", Fail, "free of")

	db, err := sql.Open("sqlite", "file:"+st.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// An intruder with the sqlite3 shell drops the append-only trigger first.
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET description='nothing happened' WHERE id=2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	env.Config = DefaultConfig()
	expect(t, run(t, env, "audit.chain"), "audit.chain", Fail, "row 2")

	// Damage an index page behind SQLite's back: integrity_check reports it.
	if _, err := db.Exec(`PRAGMA writable_schema=ON`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE junk(a TEXT); CREATE INDEX junk_a ON junk(a); INSERT INTO junk VALUES ('x'),('y'),('z')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE sqlite_schema SET sql='CREATE INDEX junk_a ON junk(a DESC)' WHERE name='junk_a'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st.Close()
	st2, err := store.Open(context.Background(), store.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	env.Store = st2
	expect(t, run(t, env, "db.integrity"), "db.integrity", Fail, "damaged")

	status := ha.Status{Enabled: true, Paired: true, Role: "active", Revision: 40, ReplicationLag: 1,
		Peer: &ha.PeerStatus{Serial: "node-b", Role: "passive", Alive: true, Revision: 39}}
	env.HA = func() ha.Status { return status }
	res = run(t, env, "ha.peer", "ha.replication")
	expect(t, res, "ha.peer", OK, "node-b is alive")
	expect(t, res, "ha.replication", OK, "lag 1")
	status.ReplicationLag = 25
	expect(t, run(t, env, "ha.replication"), "ha.replication", Fail, "25 revisions behind")
	status.Peer.Alive = false
	expect(t, run(t, env, "ha.peer"), "ha.peer", Fail, "not reachable")

	{
		env.HAUnits = []string{"asterisk.service", "sb-extra"}
		env.UnitsFile = filepath.Join(t.TempDir(), "ha-units")
		os.WriteFile(env.UnitsFile, []byte("# comment\nasterisk\n"), 0o644)
		expect(t, run(t, env, "ha.units"), "ha.units", Fail, "may not start or stop sb-extra")
		os.WriteFile(env.UnitsFile, []byte("asterisk\nsb-extra.service\n"), 0o644)
		expect(t, run(t, env, "ha.units"), "ha.units", OK, "2 unit(s)")
		env.AsRoot = true
		expect(t, run(t, env, "ha.units"), "ha.units", OK, "runs as root")
	}
}

// TestReport: the worst verdict wins, a slow check is cut off, a panic is a
// FAIL, and the text has one line per check.
func TestReport(t *testing.T) {
	d := New(200*time.Millisecond,
		Check{"a", func(context.Context) Result { return ok("fine") }},
		Check{"b", func(ctx context.Context) Result { <-ctx.Done(); time.Sleep(time.Second); return ok("late") }},
		Check{"c", func(context.Context) Result { panic("boom") }},
	)
	rep := d.Run(context.Background())
	if rep.Status != Fail || rep.Checks[1].Status != Fail || !strings.Contains(rep.Checks[1].Detail, "no answer within") ||
		rep.Checks[2].Status != Fail || !strings.Contains(rep.Checks[2].Detail, "boom") {
		t.Fatalf("%+v", rep)
	}
	var b strings.Builder
	rep.Write(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "OK") || !strings.HasPrefix(lines[4], "result: FAIL") {
		t.Fatalf("%q", b.String())
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		mut  func(*Config, *Public)
		want string
	}{
		{func(c *Config, _ *Public) { c.EchoURL = "ftp://x" }, "echo_url"},
		{func(c *Config, _ *Public) { c.Vantage = "nohost" }, "vantage"},
		{func(c *Config, _ *Public) { c.VantageTCP = []int{0} }, "vantage_tcp"},
		{func(c *Config, _ *Public) { c.Resolver = "1.2.3.4" }, "resolver"},
		{func(c *Config, _ *Public) { c.DiskFailPercent = 50 }, "disk_warn_percent"},
		{func(_ *Config, p *Public) { p.FQDN = "192.0.2.1" }, "fqdn"},
		{func(_ *Config, p *Public) { p.FQDN = "pbx" }, "fqdn"},
		{func(_ *Config, p *Public) { p.Address = "pbx.example.com" }, "address"},
	} {
		cfg, pub := DefaultConfig(), DefaultPublic()
		c.mut(&cfg, &pub)
		err := cfg.Validate()
		if err == nil {
			err = pub.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("want an error on %s, got %v", c.want, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestPBXRealAsterisk runs the AMI checks against a real Asterisk 20
// (internal/asterisktest): the login works, the clock agrees, and its
// transports (UDP and TCP, no TLS) make the transports check fail naming TLS
// and only TLS; a wrong secret fails the login.
func TestPBXRealAsterisk(t *testing.T) {
	pbx := asterisktest.Start(t, asterisktest.Options{Extensions: 2})
	a := ami.DefaultConfig()
	a.Address, a.Username, a.Secret = pbx.AMIAddr, pbx.AMIUser, pbx.AMISecret
	env := Env{AMI: &a}
	res := run(t, env, "pbx.ami", "pbx.transports", "pbx.clock")
	expect(t, res, "pbx.ami", OK, "logged in to AMI at "+pbx.AMIAddr)
	expect(t, res, "pbx.transports", Fail, "no SIP TLS transport (it has: tcp ")
	expect(t, res, "pbx.clock", OK, "clocks agree")
	bad := a
	bad.Secret = "not-" + a.Secret
	env.AMI = &bad
	expect(t, run(t, env, "pbx.ami"), "pbx.ami", Fail, "refused")
}
