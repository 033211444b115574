package dhcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard-pbx/switchboard/httpprov"
	"github.com/switchboard-pbx/switchboard/internal/nstest"
	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/store"
)

const labBase = "http://10.201.1.1:8080"

// lab is our server on bridge sbdbr0 (10.201.1.1/24) in its own namespace, and
// the provisioning service it takes tenants from.
type lab struct {
	t      *testing.T
	env    *provtest.Env
	srvNS  string
	cfg    Config
	acme   string // the fallback tenant
	stop   func()
	dir    string
	nextIf int
}

func newLab(t *testing.T) *lab {
	nstest.RemoveLeftovers()
	env := provtest.New(t, provision.ModeMulti, 30)
	name, desc := "acme", "fallback tenant of the DHCP tests"
	acme, err := env.Prov.CreateTenant(env.Ctx, env.Actor, provision.TenantInput{Name: &name, Description: &desc})
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, env: env, acme: acme.ID, dir: t.TempDir()}
	l.srvNS = nstest.New(t, "s")
	nstest.Run(t, "ip", "-n", l.srvNS, "link", "add", "sbdbr0", "type", "bridge")
	nstest.Run(t, "ip", "-n", l.srvNS, "addr", "add", "10.201.1.1/24", "dev", "sbdbr0")
	nstest.Run(t, "ip", "-n", l.srvNS, "link", "set", "sbdbr0", "up")
	c := DefaultConfig()
	c.Enabled, c.Interface = true, "sbdbr0"
	c.PoolStart, c.PoolEnd, c.SubnetMask = "10.201.1.100", "10.201.1.120", "255.255.255.0"
	c.Router, c.DNS, c.Domain, c.LeaseTime = "10.201.1.1", []string{"10.201.1.1"}, "lab.test", time.Hour
	c.Tenant = "acme"
	l.cfg = c
	l.start()
	return l
}

// start runs a server (a fresh one: a second call is a restart) on the lab's store.
func (l *lab) start() *Server {
	t := l.t
	fallback, err := FallbackTenant(l.env.Ctx, l.env.Prov, l.cfg.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(l.cfg, l.env.Logger, l.env.Store, &ProvDirectory{Prov: l.env.Prov, BaseURL: labBase, Revision: l.env.Store.Revision}, labBase, BrandOUIs(l.env.Prov), fallback)
	if err != nil {
		t.Fatal(err)
	}
	if err := nstest.In(l.srvNS, func() error { return srv.Bind(l.env.Ctx) }); err != nil {
		t.Fatal(err)
	}
	if got := srv.ServerIP().String(); got != "10.201.1.1" {
		t.Fatalf("server_ip from the interface = %s", got)
	}
	ctx, cancel := context.WithCancel(l.env.Ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	l.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	}
	t.Cleanup(func() { cancel() })
	return srv
}

// client makes a namespace joined to the bridge, its interface named sbdc0.
func (l *lab) client(mac string) string {
	l.nextIf++
	ns := nstest.New(l.t, "c")
	nstest.Link(l.t, l.srvNS, "sbdv"+strconv.Itoa(l.nextIf), "sbdbr0", ns, "sbdc0", mac)
	return ns
}

func (l *lab) script(name string) (script, out string) {
	out = filepath.Join(l.dir, name+".env")
	script = filepath.Join(l.dir, name+".sh")
	// Records what the client was told; configures nothing.
	body := "#!/bin/sh\nenv > \"" + out + ".$1${reason}\"\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		l.t.Fatal(err)
	}
	return script, out
}

// udhcpc runs busybox udhcpc once (DISCOVER..ACK, then exit) and returns what
// its script saw at "bound".
func (l *lab) udhcpc(ns, name, vendorClass string) map[string]string {
	t := l.t
	script, out := l.script(name)
	args := []string{"-f", "-q", "-n", "-i", "sbdc0", "-t", "5", "-T", "1", "-A", "1", "-O", "66", "-O", "150", "-O", "160", "-s", script}
	if vendorClass != "" {
		args = append(args, "-V", vendorClass)
	}
	ctx, cancel := context.WithTimeout(l.env.Ctx, 20*time.Second)
	defer cancel()
	if b, err := nstest.Cmd(ctx, ns, "udhcpc", args...).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc %s: %v\n%s\nserver log:\n%s", name, err, b, l.env.Log.String())
	}
	return nstest.ReadEnv(t, out+".bound")
}

// dhclient runs ISC dhclient once and returns its script's BOUND environment.
func (l *lab) dhclient(ns, name, vendorClass string) map[string]string {
	t := l.t
	script, out := l.script(name)
	conf := filepath.Join(l.dir, name+".conf")
	body := "option cisco-tftp code 150 = array of ip-address;\n" +
		"send vendor-class-identifier \"" + vendorClass + "\";\n" +
		"request subnet-mask, routers, domain-name-servers, domain-name, tftp-server-name, cisco-tftp;\n" +
		"timeout 15;\nretry 1;\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(l.env.Ctx, 25*time.Second)
	defer cancel()
	pid := filepath.Join(l.dir, name+".pid")
	cmd := nstest.Cmd(ctx, ns, "dhclient", "-1", "-v", "-sf", script, "-cf", conf,
		"-lf", filepath.Join(l.dir, name+".leases"), "-pf", pid, "sbdc0")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dhclient %s: %v\n%s\nserver log:\n%s", name, err, b, l.env.Log.String())
	}
	// -1 leaves a daemon holding the lease; stop it (SIGTERM releases nothing).
	if b, err := os.ReadFile(pid); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 1 {
			unix.Kill(n, unix.SIGTERM)
		}
	}
	return nstest.ReadEnv(t, out+".BOUND")
}

// sniff starts tshark on the client's interface before the client runs; the
// function it returns waits for the server's ACK and gives option 66 as
// Wireshark's dissector decoded it from the wire (busybox will not show a URL).
func (l *lab) sniff(ns string) func() string {
	t := l.t
	ctx, cancel := context.WithTimeout(l.env.Ctx, 40*time.Second)
	// Besides the server's answers, the capture takes the probes below (to
	// the discard port): tshark says "Capturing on" before dumpcap captures.
	cmd := nstest.Cmd(ctx, ns, "tshark", "-i", "sbdc0", "-l", "-n", "-f", "udp src port 67 or udp dst port 9",
		"-T", "fields", "-e", "udp.dstport", "-e", "dhcp.option.dhcp", "-e", "dhcp.option.tftp_server_name")
	out, errs := &provtest.Log{}, &provtest.Log{}
	cmd.Stdout, cmd.Stderr = out, errs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := func() { cancel(); cmd.Wait() } // killed on purpose
	// lines are the captured packets: destination port, DHCP message type,
	// option 66.
	lines := func() [][]string {
		var ls [][]string
		all := strings.Split(out.String(), "\n")
		for _, line := range all[:len(all)-1] { // whole lines only
			if f := strings.Split(line, "\t"); len(f) == 3 {
				ls = append(ls, f)
			}
		}
		return ls
	}
	// The capture is on once a probe broadcast from the server's side shows
	// in it; until then, probe again.
	probe, err := net.ResolveUDPAddr("udp4", "10.201.1.255:9")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !slices.ContainsFunc(lines(), func(f []string) bool { return f[0] == "9" }); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("tshark did not capture a probe in 20 s:\n%s\n%s", out.String(), errs.String())
		}
		err := nstest.In(l.srvNS, func() error {
			c, err := net.DialUDP("udp4", nil, probe) // Go sets SO_BROADCAST on UDP sockets
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("probe"))
			return err
		})
		if err != nil {
			stop()
			t.Fatalf("probe: %v", err)
		}
	}
	return func() string {
		t.Helper()
		defer stop()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			for _, f := range lines() {
				if f[1] == "5" { // DHCPACK
					return f[2]
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				t.Fatalf("tshark saw no ACK:\n%s\n%s", out.String(), errs.String())
			}
		}
	}
}

func (l *lab) urlOf(tenant string) string { return labBase + "/provisioning/" + tenant + "/" }

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

// TestRealClients: busybox udhcpc and ISC dhclient get a lease and the
// provisioning options of their vendor class and tenant from the in-process
// server, and the leases survive a server restart.
//
// busybox hands its script option 66 only when it looks like a host name (a URL
// arrives as tftp=bad), so with udhcpc the URL is checked where busybox passes it
// raw (options 160 and 114, as optNNN hex), option 66 exactly in the bare-host
// (Cisco) case, and the URL in 66 as tshark decodes it from the udhcpc's wire;
// dhclient shows option 66 as it is.
func TestRealClients(t *testing.T) {
	nstest.Need(t, "udhcpc", "dhclient", "tshark")
	l := newLab(t)
	ctx := l.env.Ctx
	acc, err := l.env.Prov.SaveAccount(ctx, l.env.Actor, l.env.Tenant, "", json.RawMessage(`{"extension":"202","sip_password":"poly-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	polyDev, err := l.env.Prov.SaveDevice(ctx, l.env.Actor, l.env.Tenant, "", json.RawMessage(`{"mac":"00:04:F2:11:22:33","model":"poly-vvx450","account":"`+acc.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	// Secure URLs: a known phone's file is had only under its token.
	l.env.Secure(t)
	fallback := l.urlOf(l.acme)
	// A known phone gets its own secret directory.
	home := provision.DeviceDir(l.urlOf(l.env.Tenant), polyDev.URLToken)
	ylHome := provision.DeviceDir(l.urlOf(l.env.Tenant), l.env.Token)

	// A known Poly (a device of the default tenant): its secret directory in 66 and 160.
	poly := l.client("00:04:f2:11:22:33")
	wire66 := l.sniff(poly)
	e := l.udhcpc(poly, "poly", "Polycom-VVX450-UA/6.4.0")
	if e["opt160"] != hexOf(home) || e["tftp"] != "bad" {
		t.Errorf("udhcpc poly: option 160 %q (want hex of %q), tftp %q (want busybox's \"bad\" for a URL); env %v", e["opt160"], home, e["tftp"], e)
	}
	if got := wire66(); got != home {
		t.Errorf("udhcpc poly: tshark decoded option 66 %q in the ACK, want %q", got, home)
	}
	polyIP := e["ip"]
	if !strings.HasPrefix(polyIP, "10.201.1.") || e["serverid"] != "10.201.1.1" || e["router"] != "10.201.1.1" ||
		e["subnet"] != "255.255.255.0" || e["dns"] != "10.201.1.1" || e["domain"] != "lab.test" || e["lease"] != "3600" {
		t.Errorf("udhcpc poly lease: %v", e)
	}

	// An unknown Cisco: the bare server address in 66 and the TFTP list in 150.
	cisco := l.client("aa:00:00:00:01:02")
	e = l.udhcpc(cisco, "cisco", "Cisco Systems, Inc. IP Phone CP-7841")
	if e["tftp"] != "10.201.1.1" || e["opt150"] != "0ac90101" {
		t.Errorf("udhcpc cisco: 66 %q, 150 %q", e["tftp"], e["opt150"])
	}
	// An unknown Gigaset by class: the fallback tenant's URL in 114.
	giga := l.client("aa:00:00:00:01:03")
	e = l.udhcpc(giga, "gigaset", "Gigaset N870 IP PRO")
	if e["opt114"] != hexOf(fallback) {
		t.Errorf("udhcpc gigaset: option 114 %q, want hex of %q", e["opt114"], fallback)
	}

	// dhclient as the known Yealink: its secret directory, exactly, in 66;
	// the file under it is the whole file (curl through the provisioning
	// HTTP handler), by name alone the secret-free bootstrap file.
	yl := l.client("00:15:65:12:34:56")
	e = l.dhclient(yl, "yealink", "yealink SIP-T54W")
	if e["new_tftp_server_name"] != ylHome {
		t.Errorf("dhclient yealink: option 66 %q, want %q (env %v)", e["new_tftp_server_name"], ylHome, e)
	}
	fetchOption66(t, l.env, e["new_tftp_server_name"], l.env.File)
	ylIP := e["new_ip_address"]
	if !strings.HasPrefix(ylIP, "10.201.1.") || e["new_domain_name"] != "lab.test" || e["new_routers"] != "10.201.1.1" {
		t.Errorf("dhclient yealink lease: %v", e)
	}
	// dhclient as an unknown snom: the fallback tenant's URL.
	snom := l.client("aa:00:00:00:01:04")
	e = l.dhclient(snom, "snom", "snomD785")
	if e["new_tftp_server_name"] != fallback || e["new_cisco_tftp"] != "" {
		t.Errorf("dhclient snom: option 66 %q (want %q), 150 %q (want none)", e["new_tftp_server_name"], fallback, e["new_cisco_tftp"])
	}
	// dhclient as the Cisco it claims to be: 150 decoded by dhclient itself.
	cisco2 := l.client("aa:00:00:00:01:06")
	e = l.dhclient(cisco2, "cisco2", "Cisco CP-8845")
	if e["new_tftp_server_name"] != "10.201.1.1" || e["new_cisco_tftp"] != "10.201.1.1" {
		t.Errorf("dhclient cisco: 66 %q, 150 %q", e["new_tftp_server_name"], e["new_cisco_tftp"])
	}

	leases, err := l.env.Store.DHCPLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byMAC := map[string]store.DHCPLease{}
	taken := map[string]bool{}
	for _, x := range leases {
		byMAC[x.MAC] = x
		taken[x.IP] = true
	}
	if len(leases) != 6 {
		t.Errorf("%d leases stored, want 6: %+v", len(leases), leases)
	}
	if x := byMAC["001565123456"]; x.IP != ylIP || x.State != StateBound || x.Vendor != "yealink" || x.Tenant != l.env.Tenant {
		t.Errorf("stored yealink lease %+v", x)
	}
	if x := byMAC["AA0000000104"]; x.Vendor != "snom" || x.VendorClass != "snomD785" || x.Tenant != l.acme {
		t.Errorf("stored snom lease %+v", x)
	}

	// Restart: a new client must not get a leased address; the old ones keep theirs.
	l.stop()
	l.start()
	newcomer := l.client("aa:00:00:00:01:05")
	e = l.udhcpc(newcomer, "newcomer", "")
	if e["ip"] == "" || taken[e["ip"]] {
		t.Errorf("after restart a new client got %q, which is leased (%v)", e["ip"], taken)
	}
	if e["tftp"] != "bad" {
		t.Errorf("default rule: udhcpc saw no URL in option 66 (tftp=%q)", e["tftp"])
	}
	e = l.udhcpc(poly, "poly-again", "Polycom-VVX450-UA/6.4.0")
	if e["ip"] != polyIP {
		t.Errorf("after restart the poly got %q, want its lease %q", e["ip"], polyIP)
	}
	e = l.dhclient(yl, "yealink-again", "yealink SIP-T54W")
	if e["new_ip_address"] != ylIP {
		t.Errorf("after restart the yealink got %q, want its lease %q", e["new_ip_address"], ylIP)
	}

	// The probe against our own server: recognised as this appliance, no lease taken.
	before, _ := l.env.Store.DHCPLeases(ctx)
	pr := l.client("aa:00:00:00:01:07")
	var offs []*Offer
	if err := nstest.In(pr, func() error {
		var err error
		offs, err = Probe(ctx, ProbeConfig{Interface: "sbdc0", VendorClass: "yealink", Timeout: 6 * time.Second, BaseURL: labBase})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(offs) != 1 {
		t.Fatalf("%d offers from one server", len(offs))
	}
	off := offs[0]
	if !off.FromUs || off.Option66 != fallback || strings.Join(off.PointsHere, ",") != "option66" {
		t.Errorf("probe of our server: %+v", off)
	}
	if after, _ := l.env.Store.DHCPLeases(ctx); len(after) != len(before) {
		t.Errorf("the probe took a lease: %d leases before, %d after", len(before), len(after))
	}
	l.stop()
}

// TestProbeAgainstDnsmasq: the probe reads what a real dnsmasq in another
// namespace offers (option 66 by vendor class, 67, 150, 43), judges whether it
// points at "this appliance", and takes no lease.
func TestProbeAgainstDnsmasq(t *testing.T) {
	nstest.Need(t, "dnsmasq")
	nstest.RemoveLeftovers()
	dir := t.TempDir()
	// dnsmasq's namespace holds the bridge; the probe and (later) our own server
	// hang off it.
	dq := nstest.New(t, "d")
	pr := nstest.New(t, "p")
	nstest.Run(t, "ip", "-n", dq, "link", "add", "sbdq0", "type", "bridge")
	nstest.Run(t, "ip", "-n", dq, "addr", "add", "10.201.2.1/24", "dev", "sbdq0")
	nstest.Run(t, "ip", "-n", dq, "link", "set", "sbdq0", "up")
	nstest.Link(t, dq, "sbdq1", "sbdq0", pr, "sbdp0", "aa:00:00:00:02:01")
	const here = "http://10.201.2.2:8080" // the appliance (our server, started later) in this test
	leaseFile := filepath.Join(dir, "dnsmasq.leases")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dm := nstest.Cmd(ctx, dq, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--bind-interfaces",
		"--interface=sbdq0", "--except-interface=lo", "--port=0", "--no-ping", "--user=root", "--log-dhcp",
		"--dhcp-range=10.201.2.50,10.201.2.60,255.255.255.0,1h", "--dhcp-leasefile="+leaseFile,
		"--pid-file="+filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-vendorclass=set:yl,yealink",
		"--dhcp-option=tag:yl,66,"+here+"/provisioning/",
		"--dhcp-option=tag:!yl,66,tftp.elsewhere.example",
		"--dhcp-option=tag:yl,67,y000000000000.boot",
		"--dhcp-option=tag:!yl,150,10.201.2.9",
		"--dhcp-option=tag:yl,43,01:03:61:62:63:02:01:7a")
	dmLog := &provtest.Log{} // written by dnsmasq's copier goroutine while we read it
	dm.Stdout, dm.Stderr = dmLog, dmLog
	if err := dm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); dm.Wait() })
	// dnsmasq binds within milliseconds; the probe's own retransmissions cover the rest.
	probe := func(vc string) *Offer {
		t.Helper()
		var offs []*Offer
		err := nstest.In(pr, func() error {
			var err error
			offs, err = Probe(context.Background(), ProbeConfig{Interface: "sbdp0", VendorClass: vc, Timeout: 6 * time.Second, BaseURL: here})
			return err
		})
		if err != nil {
			t.Fatalf("probe %q: %v\ndnsmasq:\n%s", vc, err, dmLog.String())
		}
		if len(offs) != 1 {
			t.Fatalf("probe %q: %d offers from one server", vc, len(offs))
		}
		return offs[0]
	}
	off := probe("yealink SIP-T54W")
	if off.Server != "10.201.2.1" || !strings.HasPrefix(off.Address, "10.201.2.") || off.FromUs {
		t.Errorf("offer %+v", off)
	}
	if off.Option66 != here+"/provisioning/" || off.Option67 != "y000000000000.boot" {
		t.Errorf("yealink offer: 66 %q, 67 %q", off.Option66, off.Option67)
	}
	if len(off.Option43) != 2 || off.Option43[0] != (SubOption{1, "abc"}) || off.Option43[1] != (SubOption{2, "z"}) {
		t.Errorf("option 43 %+v (%s)", off.Option43, off.Option43Hex)
	}
	if strings.Join(off.PointsHere, ",") != "option66" || len(off.Elsewhere) != 0 {
		t.Errorf("verdict: here %v elsewhere %v", off.PointsHere, off.Elsewhere)
	}
	var sb strings.Builder
	off.Print(&sb)
	if !strings.Contains(sb.String(), "option 66:  "+here+"/provisioning/") || !strings.Contains(sb.String(), "points at this appliance") {
		t.Errorf("printed:\n%s", sb.String())
	}

	off = probe("snomD785")
	if off.Option66 != "tftp.elsewhere.example" || strings.Join(off.Option150, ",") != "10.201.2.9" || off.Option67 != "" {
		t.Errorf("snom offer: 66 %q 150 %v 67 %q", off.Option66, off.Option150, off.Option67)
	}
	if len(off.PointsHere) != 0 || strings.Join(off.Elsewhere, ",") != "option66,option150" {
		t.Errorf("verdict: here %v elsewhere %v", off.PointsHere, off.Elsewhere)
	}
	sb.Reset()
	off.Print(&sb)
	if !strings.Contains(sb.String(), "does NOT point at this appliance") {
		t.Errorf("printed:\n%s", sb.String())
	}

	// A second server on the segment (ours, at the appliance's address): the
	// probe reports both, and knows which one is this appliance.
	env := provtest.New(t, provision.ModeSingle, 30)
	us := nstest.New(t, "u")
	nstest.Link(t, dq, "sbdq2", "sbdq0", us, "sbdu0", "")
	nstest.Run(t, "ip", "-n", us, "addr", "add", "10.201.2.2/24", "dev", "sbdu0")
	c := DefaultConfig()
	c.Enabled, c.Interface = true, "sbdu0"
	c.PoolStart, c.PoolEnd, c.SubnetMask = "10.201.2.150", "10.201.2.160", "255.255.255.0"
	srv, err := New(c, env.Logger, env.Store, &ProvDirectory{Prov: env.Prov, BaseURL: here, Revision: env.Store.Revision}, here, BrandOUIs(env.Prov), env.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	if err := nstest.In(us, func() error { return srv.Bind(env.Ctx) }); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(env.Ctx)
	defer scancel()
	go srv.Serve(sctx)
	var offs []*Offer
	if err := nstest.In(pr, func() error {
		var err error
		offs, err = Probe(context.Background(), ProbeConfig{Interface: "sbdp0", VendorClass: "yealink", Timeout: 6 * time.Second, BaseURL: here})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	servers := map[string]*Offer{}
	for _, o := range offs {
		servers[o.Server] = o
	}
	if len(offs) != 2 || servers["10.201.2.1"] == nil || servers["10.201.2.2"] == nil {
		t.Fatalf("want offers from dnsmasq and us, got %+v", offs)
	}
	if o := servers["10.201.2.2"]; !o.FromUs || o.Option66 != here+"/provisioning/" || !strings.HasPrefix(o.Address, "10.201.2.15") {
		t.Errorf("our offer %+v", o)
	}
	if servers["10.201.2.1"].FromUs {
		t.Error("dnsmasq's offer taken for ours")
	}
	if l, _ := env.Store.DHCPLeases(env.Ctx); len(l) != 0 {
		t.Errorf("the probe took a lease from our server: %+v", l)
	}

	// DISCOVER only: dnsmasq committed no lease and saw no REQUEST.
	if b, _ := os.ReadFile(leaseFile); strings.TrimSpace(string(b)) != "" {
		t.Errorf("the probe left a lease in dnsmasq: %q", b)
	}
	if strings.Contains(dmLog.String(), "DHCPREQUEST") || !strings.Contains(dmLog.String(), "DHCPDISCOVER") {
		t.Errorf("dnsmasq log should show DISCOVERs and no REQUEST:\n%s", dmLog.String())
	}
}

// TestRealRenew: a udhcpc that configures its address renews it (SIGUSR1: a
// unicast REQUEST from its address, answered unicast) and keeps it.
func TestRealRenew(t *testing.T) {
	nstest.Need(t, "udhcpc")
	l := newLab(t)
	ns := l.client("aa:00:00:00:04:01")
	out := filepath.Join(l.dir, "renew")
	script := filepath.Join(l.dir, "renew.sh")
	body := "#!/bin/sh\ncase \"$1\" in\nbound|renew)\n  ip addr flush dev \"$interface\"\n  ip addr add \"$ip/$mask\" dev \"$interface\"\n  env > \"" + out + ".$1.tmp\" && mv \"" + out + ".$1.tmp\" \"" + out + ".$1\"\n;;\nesac\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(l.env.Ctx, 30*time.Second)
	defer cancel()
	cmd := nstest.Cmd(ctx, ns, "udhcpc", "-f", "-i", "sbdc0", "-t", "5", "-T", "1", "-V", "snomD785", "-s", script)
	outBuf := &provtest.Log{}
	cmd.Stdout, cmd.Stderr = outBuf, outBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFile := func(p string) map[string]string {
		t.Helper()
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(p); err == nil {
				return nstest.ReadEnv(t, p)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no %s after 10 s; udhcpc:\n%s\nserver:\n%s", filepath.Base(p), outBuf.String(), l.env.Log.String())
		return nil
	}
	bound := waitFile(out + ".bound")
	before, _ := l.env.Store.DHCPLeases(ctx)
	if len(before) != 1 || before[0].IP != bound["ip"] {
		t.Fatalf("stored %+v, udhcpc bound %q", before, bound["ip"])
	}
	// No wait for the renewal's timestamp to differ: leases keep nanoseconds
	// and the renewal is a round trip through udhcpc later.
	if err := cmd.Process.Signal(unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	renew := waitFile(out + ".renew")
	if renew["ip"] != bound["ip"] || renew["serverid"] != "10.201.1.1" {
		t.Errorf("renewed to %q (server %q), want %q", renew["ip"], renew["serverid"], bound["ip"])
	}
	after, _ := l.env.Store.DHCPLeases(ctx)
	if len(after) != 1 || after[0].IP != bound["ip"] || !after[0].Expires.After(before[0].Expires) {
		t.Errorf("lease after renewal %+v, before %+v", after, before)
	}
	// busybox logs the renewal it sent to the server's address, not a broadcast.
	if !strings.Contains(outBuf.String(), "sending renew to server 10.201.1.1") {
		t.Errorf("udhcpc did not renew by unicast:\n%s", outBuf.String())
	}
	l.stop()
}

// TestRealDecline: another host already uses the first pool address; udhcpc
// (-a: ARP-checks the offer) declines it, and gets the next one; the server
// keeps the declined address out of the pool.
func TestRealDecline(t *testing.T) {
	nstest.Need(t, "udhcpc")
	l := newLab(t)
	squatter := l.client("aa:00:00:00:05:01")
	nstest.Run(t, "ip", "-n", squatter, "addr", "add", "10.201.1.100/24", "dev", "sbdc0")
	ns := l.client("aa:00:00:00:05:02")
	script, out := l.script("decline")
	ctx, cancel := context.WithTimeout(l.env.Ctx, 30*time.Second)
	defer cancel()
	b, err := nstest.Cmd(ctx, ns, "udhcpc", "-f", "-q", "-n", "-a500", "-i", "sbdc0", "-t", "5", "-T", "1", "-A", "1", "-s", script).CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s\nserver:\n%s", err, b, l.env.Log.String())
	}
	e := nstest.ReadEnv(t, out+".bound")
	if e["ip"] == "10.201.1.100" || !strings.HasPrefix(e["ip"], "10.201.1.1") {
		t.Errorf("udhcpc bound %q; want an address other than the squatted 10.201.1.100\n%s", e["ip"], b)
	}
	leases, _ := l.env.Store.DHCPLeases(ctx)
	states := map[string]string{}
	for _, x := range leases {
		states[x.IP] = x.State
	}
	if states["10.201.1.100"] != StateDeclined || states[e["ip"]] != StateBound {
		t.Errorf("stored states %v", states)
	}
	l.stop()
}

// fetchOption66 fetches file under the directory URL dir (under labBase)
// with curl from the provisioning HTTP handler: the whole file, with its SIP
// password; then the file by name alone: 404 without it.
func fetchOption66(t *testing.T, env *provtest.Env, dir, file string) {
	t.Helper()
	srv := httptest.NewServer(httpprov.New(env.Logger, env.Prov, provision.NewThrottle(ratelimit.New(100, time.Minute), env.Logger)))
	t.Cleanup(srv.Close)
	path, ok := strings.CutPrefix(dir, labBase)
	if !ok {
		t.Fatalf("option 66 %q not under %s", dir, labBase)
	}
	if body, code := provtest.Curl(t, srv.URL+path+file); code != "200" || !strings.Contains(body, "prov-secret") {
		t.Errorf("GET %s%s: %s %.200q", path, file, code, body)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(path, "/provisioning/"), "/")
	name = name[:strings.LastIndexByte(name, '/')+1] + file
	// By name alone: the device's bootstrap file, with no secret in it.
	if body, code := provtest.Curl(t, srv.URL+"/provisioning/"+name); code != "200" || strings.Contains(body, "prov-secret") {
		t.Errorf("GET by name %s: %s %.200q", name, code, body)
	}
}
