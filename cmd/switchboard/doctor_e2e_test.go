package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/nstest"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
	"github.com/switchboard-pbx/switchboard/internal/testpki"
)

// The doctor's network: the appliance on a LAN behind a NAT router, a vantage
// outside.
//
//	lan  10.77.1.2 (switchboard serve, dnsmasq on the namespace's 127.0.0.1:53,
//	     a "PBX" on TCP 5061)
//	 |
//	router 10.77.1.1 / 203.0.113.1 (nftables: port forwards, masquerade,
//	     hairpin NAT or not)
//	 |
//	wan  203.0.113.50 (switchboard vantage on :7070)
const (
	dnLAN    = "10.77.1.2"
	dnGW     = "10.77.1.1"
	dnPublic = "203.0.113.1"
	dnWAN    = "203.0.113.50"
	dnFQDN   = "pbx.example.test"
)

// natRules are the router's nftables rules: TCP 443/5061/6061 and UDP 10000
// forwarded to the appliance from the WAN side, masquerade out; with hairpin,
// the forwards also apply to the LAN side and looped traffic is masqueraded
// (NAT loopback); without it, as on many consumer routers, they do not.
func natRules(hairpin, forwardUDP bool) string {
	iif := `iifname "sbr1" `
	loop := ""
	if hairpin {
		iif = ""
		loop = `		iifname "sbr0" oifname "sbr0" ct status dnat masquerade` + "\n"
	}
	udp := ""
	if forwardUDP {
		udp = "\t\t" + iif + "ip daddr " + dnPublic + " udp dport 10000 dnat to " + dnLAN + "\n"
	}
	return "flush ruleset\ntable ip nat {\n" +
		"\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat;\n" +
		"\t\t" + iif + "ip daddr " + dnPublic + " tcp dport { 443, 5061, 6061 } dnat to " + dnLAN + "\n" + udp +
		"\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat;\n" +
		"\t\toifname \"sbr1\" masquerade\n" + loop + "\t}\n}\n"
}

// startDNS runs dnsmasq in ns on its loopback, answering fqdn with addr.
func startDNS(t *testing.T, ns, fqdn, addr string) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := nstest.Cmd(ctx, ns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-interfaces", "--listen-address=127.0.0.1", "--port=53", "--pid-file=", "--log-facility=-", "--user=root",
		"--address=/"+fqdn+"/"+addr)
	logs := &testlog.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "started") {
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() { cancel(); <-done }
}

// doctorRun runs "switchboard doctor --json" against d and returns the
// verdicts by check, and the exit code.
func doctorRun(t *testing.T, d *testDaemon) (map[string]map[string]any, int) {
	t.Helper()
	out, errOut, code := d.cli("", "doctor", "--json")
	var rep struct {
		Checks []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json: %v %q %q", err, out, errOut)
	}
	got := map[string]map[string]any{}
	for _, c := range rep.Checks {
		got[c["id"].(string)] = c
	}
	return got, code
}

// TestDoctorBehindNAT drives the network checks both ways through the real
// daemon and CLI: a full chain and a leaf-only certificate, dnsmasq answering
// the public address and a wrong one, a NAT router with and without hairpin,
// forwarded and closed ports, the UDP forward there and missing, the
// echo agreeing and not.
func TestDoctorBehindNAT(t *testing.T) {
	nstest.Need(t, "nft", "dnsmasq")
	nstest.RemoveLeftovers()
	lan, router, wan := nstest.New(t, "dl"), nstest.New(t, "dr"), nstest.New(t, "dw")
	nstest.Link(t, router, "sbr0", "", lan, "sbl0", "")
	nstest.Link(t, router, "sbr1", "", wan, "sbw0", "")
	nstest.Run(t, "ip", "-n", lan, "addr", "add", dnLAN+"/24", "dev", "sbl0")
	nstest.Run(t, "ip", "-n", lan, "route", "add", "default", "via", dnGW)
	nstest.Run(t, "ip", "-n", router, "addr", "add", dnGW+"/24", "dev", "sbr0")
	nstest.Run(t, "ip", "-n", router, "addr", "add", dnPublic+"/24", "dev", "sbr1")
	nstest.Run(t, "ip", "-n", wan, "addr", "add", dnWAN+"/24", "dev", "sbw0")
	nstest.Run(t, "ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	// The outside vantage: the real binary.
	vctx, vcancel := context.WithCancel(context.Background())
	vantage := nstest.Cmd(vctx, wan, binPath, "vantage", "--listen", dnWAN+":7070")
	vlog := &testlog.Buffer{}
	vantage.Stderr = vlog
	if err := vantage.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { vcancel(); vantage.Wait() }()

	// The "PBX" ports on the appliance: 5061 listens, 6061 does not.
	var pbx net.Listener
	if err := nstest.In(lan, func() (err error) { pbx, err = net.Listen("tcp", dnLAN+":5061"); return }); err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	go func() {
		for {
			c, err := pbx.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	p := testpki.New(t, []string{dnFQDN}, time.Now().Add(200*24*time.Hour))
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile, keyFile := write("ca.pem", p.RootPEM()), write("key.pem", p.KeyPEM(t))

	daemon := func(name string, fullChain bool, publicAddr, baseURL string) *testDaemon {
		d := &testDaemon{t: t, dir: filepath.Join(dir, name)}
		os.MkdirAll(d.dir, 0o750)
		d.cfgPath = filepath.Join(d.dir, "sb.yaml")
		d.socket = filepath.Join(d.dir, "sb.sock")
		cert := write(name+"-cert.pem", p.CertPEM(fullChain))
		cfg := strings.NewReplacer("DATA", filepath.Join(d.dir, "data"), "LAN", dnLAN, "CERT", cert, "KEY", keyFile,
			"SOCKET", d.socket, "BASEURL", baseURL, "FQDN", dnFQDN, "PUBLIC", publicAddr, "WAN", dnWAN, "CAFILE", caFile).Replace(`data_dir: DATA
http:
  listen: "LAN:80"
  https_listen: "LAN:443"
  tls_cert: CERT
  tls_key: KEY
admin:
  socket: SOCKET
  bcrypt_cost: 4
tftp:
  listen: "LAN:69"
provisioning:
  base_url: BASEURL
public:
  fqdn: FQDN
  address: PUBLIC
doctor:
  echo_url: http://WAN:7070/v1/ip
  vantage: http://WAN:7070
  resolver: 127.0.0.1:53
  ca_file: CAFILE
`)
		if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		d.startIn(lan)
		return d
	}
	nft := func(rules string) {
		cmd := exec.Command("ip", "netns", "exec", router, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s\n%s", err, out, rules)
		}
	}

	want := func(got map[string]map[string]any, id, status, detail string) {
		t.Helper()
		c := got[id]
		if c == nil || c["status"] != status || !strings.Contains(fmt.Sprint(c["detail"]), detail) {
			t.Errorf("%s = %v, want %s containing %q", id, c, status, detail)
		}
	}

	// Everything right.
	nft(natRules(true, true))
	stopDNS := startDNS(t, lan, dnFQDN, dnPublic)
	d := daemon("good", true, dnPublic, "https://"+dnFQDN)
	got, code := doctorRun(t, d)
	for _, c := range []struct{ id, detail string }{
		{"tls.names", "covers " + dnFQDN},
		{"tls.chain", "trusted root"},
		{"tls.intermediates", "2 certificate(s)"},
		{"tls.expiry", "valid until"},
		{"dns.resolves", dnFQDN + " resolves to " + dnPublic},
		{"dns.points_here", "configured public address"},
		{"urls.fqdn", "use " + dnFQDN},
		{"public.address", "sees this box as " + dnPublic},
		{"listen.http", "bound"},
		{"listen.https", "bound"},
		{"listen.tftp", "TFTP answers"},
		{"listen.socket", "bound"},
		{"vantage.tcp.443", "reachable from outside"},
		{"vantage.tcp.5061", "reachable from outside"},
		{"vantage.udp", "reached UDP 10000"},
		{"hairpin", "reaches this box"},
		{"db.integrity", "sound"},
		{"audit.chain", "intact"},
	} {
		want(got, c.id, "OK", c.detail)
	}
	// 6061 is forwarded, but nothing listens there: the one failure.
	want(got, "vantage.tcp.6061", "FAIL", "connection refused")
	if code != 1 {
		t.Errorf("doctor exit %d with a FAIL", code)
	}
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopDNS()

	// Everything wrong: leaf-only chain, DNS pointing elsewhere, a private base
	// URL, a public address the Internet does not see, no hairpin, no UDP forward.
	nft(natRules(false, false))
	stopDNS = startDNS(t, lan, dnFQDN, "198.51.100.9")
	defer stopDNS()
	d = daemon("bad", false, "203.0.113.9", "http://"+dnLAN)
	got, code = doctorRun(t, d)
	for _, c := range []struct{ id, detail string }{
		{"tls.chain", "does not reach a trusted root"},
		{"tls.intermediates", "certificate alone"},
		{"dns.points_here", "198.51.100.9, which is not"},
		{"urls.fqdn", "private address " + dnLAN},
		{"public.address", "public.address is 203.0.113.9 but the Internet sees this box as " + dnPublic},
		{"vantage.udp", "never arrived"},
		{"hairpin", "does not answer"},
		{"vantage.tcp.6061", "connection refused"},
	} {
		want(got, c.id, "FAIL", c.detail)
	}
	want(got, "tls.names", "OK", "covers")
	want(got, "vantage.tcp.443", "OK", "reachable")
	if code != 1 {
		t.Errorf("doctor exit %d", code)
	}
	// The text form: one line per check, the fix in words.
	out, _, _ := d.cli("", "doctor")
	if !strings.Contains(out, "FAIL  hairpin") || !strings.Contains(out, "fix: enable NAT loopback") {
		t.Errorf("doctor text:\n%s", out)
	}
	if t.Failed() {
		t.Logf("vantage log:\n%s\ndaemon log:\n%s", vlog.String(), d.stderr.String())
	}
}
