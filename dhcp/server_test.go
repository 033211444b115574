package dhcp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/switchboard-pbx/switchboard/store"
)

// memStore is an in-memory LeaseStore for the protocol-logic tests and fuzzing;
// the persistence tests use the real SQLite store.
type memStore struct {
	mu   sync.Mutex
	m    map[string]store.DHCPLease
	fail error
}

func (s *memStore) PutDHCPLeases(_ context.Context, ls []store.DHCPLease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.m == nil {
		s.m = map[string]store.DHCPLease{}
	}
	for _, l := range ls {
		s.m[l.IP] = l
	}
	return nil
}

func (s *memStore) DHCPLeases(context.Context) ([]store.DHCPLease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []store.DHCPLease{}
	for _, l := range s.m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out, nil
}

// fakeDir knows one device MAC in tenant "t-known"; URLs carry the tenant path.
type fakeDir struct{}

func (fakeDir) TenantOf(_ context.Context, mac string) string {
	if mac == "001565123456" {
		return "t-known"
	}
	return ""
}

func (d fakeDir) DeviceURL(tenant, _ string) string { return d.URL(tenant) }

func (fakeDir) URL(tenant string) string {
	if tenant == "" {
		return "http://192.0.2.1:8080/provisioning/"
	}
	return "http://192.0.2.1:8080/provisioning/" + tenant + "/"
}

func testConfig() Config {
	c := DefaultConfig()
	c.Enabled = true
	c.Interface = "lo"
	c.ServerIP = "10.9.0.1"
	c.PoolStart, c.PoolEnd = "10.9.0.10", "10.9.0.12"
	c.SubnetMask = "255.255.255.0"
	c.Router = "10.9.0.1"
	c.DNS = []string{"10.9.0.2", "10.9.0.3"}
	c.Domain = "lab.example"
	c.LeaseTime = time.Hour
	return c
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func quiet() *slog.Logger                { return slog.New(slog.DiscardHandler) }
func brands() map[string][]string {
	return map[string][]string{"yealink": {"001565"}, "snom": {"000413"}, "poly": {"0004F2"}, "grandstream": {"000B82"}, "fanvil": {"0C383E"}, "gigaset": {"7C2F80"}, "cisco": {"00000C"}}
}
func mustMAC(t testing.TB, s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestServer(t testing.TB, cfg Config, st LeaseStore) (*Server, *clock) {
	t.Helper()
	s, err := New(cfg, quiet(), st, fakeDir{}, "http://192.0.2.1:8080", brands(), "t-fallback")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s.now = c.now
	return s, c
}

// client is a scripted DHCP client speaking through Server.answer, with each
// message serialised and parsed again so the wire format is exercised.
type client struct {
	t   testing.TB
	s   *Server
	mac net.HardwareAddr
	vc  string
	ip  net.IP
}

func (c *client) send(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	c.t.Helper()
	m2, err := dhcpv4.FromBytes(m.ToBytes())
	if err != nil {
		c.t.Fatal(err)
	}
	r := c.s.answer(m2)
	if r == nil {
		return nil
	}
	r2, err := dhcpv4.FromBytes(r.ToBytes())
	if err != nil {
		c.t.Fatalf("reply does not parse: %v", err)
	}
	return r2
}

func (c *client) discover(mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	c.t.Helper()
	if c.vc != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(c.vc)))
	}
	d, err := dhcpv4.NewDiscovery(c.mac, mods...)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(d)
}

// lease runs DISCOVER, REQUEST and returns the ACK (nil when any step got none).
func (c *client) lease() *dhcpv4.DHCPv4 {
	c.t.Helper()
	off := c.discover()
	if off == nil || off.MessageType() != dhcpv4.MessageTypeOffer {
		return nil
	}
	req, err := dhcpv4.NewRequestFromOffer(off)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.vc != "" {
		req.UpdateOption(dhcpv4.OptClassIdentifier(c.vc))
	}
	ack := c.send(req)
	if ack != nil && ack.MessageType() == dhcpv4.MessageTypeAck {
		c.ip = ack.YourIPAddr
	}
	return ack
}

func (c *client) renew() *dhcpv4.DHCPv4 {
	c.t.Helper()
	req, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(c.mac), dhcpv4.WithClientIP(c.ip))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(req)
}

func opt(m *dhcpv4.DHCPv4, code uint8) string {
	return string(m.Options.Get(dhcpv4.GenericOptionCode(code)))
}

func TestLeaseOptionsByVendor(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), &memStore{})
	cases := []struct {
		name, mac, vc string
		want66        string
		want          map[uint8]string
	}{
		{"known yealink by class gets its tenant", "00:15:65:12:34:56", "yealink SIP-T54W", "http://192.0.2.1:8080/provisioning/t-known/", nil},
		{"snom class, unknown MAC: fallback tenant", "aa:00:00:00:00:01", "snomD785", "http://192.0.2.1:8080/provisioning/t-fallback/", nil},
		{"poly adds 160", "aa:00:00:00:00:02", "Polycom-VVX411", "http://192.0.2.1:8080/provisioning/t-fallback/", map[uint8]string{160: "http://192.0.2.1:8080/provisioning/t-fallback/"}},
		{"gigaset by OUI adds 114", "7c:2f:80:00:00:03", "", "http://192.0.2.1:8080/provisioning/t-fallback/", map[uint8]string{114: "http://192.0.2.1:8080/provisioning/t-fallback/"}},
		{"cisco: bare host in 66 and 150", "aa:00:00:00:00:04", "Cisco Systems, Inc. IP Phone CP-7841", "10.9.0.1", map[uint8]string{150: string([]byte{10, 9, 0, 1})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.leases, s.byMAC, s.offers, s.offerIP = map[uint32]*store.DHCPLease{}, map[string]uint32{}, map[string]offer{}, map[uint32]string{}
			c := &client{t: t, s: s, mac: mustMAC(t, tc.mac), vc: tc.vc}
			ack := c.lease()
			if ack == nil {
				t.Fatal("no ACK")
			}
			if got := opt(ack, 66); got != tc.want66 {
				t.Errorf("option 66 = %q, want %q", got, tc.want66)
			}
			for code, want := range tc.want {
				if got := opt(ack, code); got != want {
					t.Errorf("option %d = %q, want %q", code, got, want)
				}
			}
			if ack.ServerIdentifier().String() != "10.9.0.1" || ack.SubnetMask().String() != "ffffff00" ||
				len(ack.DNS()) != 2 || ack.DomainName() != "lab.example" || ack.IPAddressLeaseTime(0) != time.Hour {
				t.Errorf("network options wrong: %s", ack.Summary())
			}
		})
	}
}

func TestOption43SubOptions(t *testing.T) {
	cfg := testConfig()
	cfg.Vendors = []VendorRule{{Name: "aastra", VendorClass: "aastra", Options: Options{Option43: map[int]string{2: "{url}", 1: "x"}}}}
	s, _ := newTestServer(t, cfg, &memStore{})
	c := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:05"), vc: "AastraIPPhone57i"}
	ack := c.lease()
	if ack == nil {
		t.Fatal("no ACK")
	}
	sub, err := decodeSubOptions(ack.Options.Get(dhcpv4.GenericOptionCode(43)))
	if err != nil || len(sub) != 2 || sub[0] != (SubOption{1, "x"}) || sub[1] != (SubOption{2, "http://192.0.2.1:8080/provisioning/t-fallback/"}) {
		t.Errorf("option 43 = %+v, %v", sub, err)
	}
	if opt(ack, 66) != "" {
		t.Errorf("rule without option66 sent 66 = %q", opt(ack, 66))
	}
}

func TestRenewKeepsAddressAndRestartRemembers(t *testing.T) {
	st := &memStore{}
	s, clk := newTestServer(t, testConfig(), st)
	a := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:0a")}
	if a.lease() == nil {
		t.Fatal("no lease")
	}
	first := a.ip.String()
	clk.advance(40 * time.Minute)
	ack := a.renew()
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || ack.YourIPAddr.String() != first {
		t.Fatalf("renew: %v", ack)
	}
	// A new server on the same store is a restart.
	s2, clk2 := newTestServer(t, testConfig(), st)
	clk2.t = clk.t
	b := &client{t: t, s: s2, mac: mustMAC(t, "aa:00:00:00:00:0b")}
	if b.lease() == nil || b.ip.String() == first {
		t.Fatalf("after restart another client got %v, the address of a live lease", b.ip)
	}
	a.s = s2
	if ack := a.renew(); ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || ack.YourIPAddr.String() != first {
		t.Fatalf("renew after restart: %v", ack)
	}
	a2 := &client{t: t, s: s2, mac: a.mac}
	if a2.lease() == nil || a2.ip.String() != first {
		t.Errorf("rebooting client got %v, want its address %s", a2.ip, first)
	}
}

func TestPoolExhaustionExpiryAndDecline(t *testing.T) {
	st := &memStore{}
	s, clk := newTestServer(t, testConfig(), st) // pool of 3
	var cs []*client
	for i := range 3 {
		c := &client{t: t, s: s, mac: net.HardwareAddr{0xaa, 0, 0, 0, 1, byte(i)}}
		if c.lease() == nil {
			t.Fatalf("client %d: no lease", i)
		}
		cs = append(cs, c)
	}
	late := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:02:00")}
	if off := late.discover(); off != nil {
		t.Fatalf("full pool offered %v", off.YourIPAddr)
	}
	// The first client declines its address: it is held, not reused at once.
	dec, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeDecline), dhcpv4.WithHwAddr(cs[0].mac),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(cs[0].ip)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.serverIP)))
	if r := cs[0].send(dec); r != nil {
		t.Fatal("DECLINE got an answer")
	}
	if st.m[cs[0].ip.String()].State != StateDeclined {
		t.Fatalf("declined lease stored as %+v", st.m[cs[0].ip.String()])
	}
	if off := late.discover(); off != nil {
		t.Fatalf("declined address offered during the hold: %v", off.YourIPAddr)
	}
	clk.advance(s.cfg.DeclineHold + time.Second)
	if late.lease() == nil || !late.ip.Equal(cs[0].ip) {
		t.Fatalf("after the hold the declined address %v should be reused, got %v", cs[0].ip, late.ip)
	}
	// Leases that run out are reused too.
	clk.advance(2 * time.Hour)
	other := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:03:00")}
	if other.lease() == nil {
		t.Fatal("expired leases were not reused")
	}
	if st.m[other.ip.String()].MAC != "AA0000000300" {
		t.Errorf("reused lease stored as %+v", st.m[other.ip.String()])
	}
}

func TestRequestRules(t *testing.T) {
	cfg := testConfig()
	cfg.Reservations = []Reservation{{MAC: "aa-00-00-00-00-99", IP: "10.9.0.50"}}
	s, _ := newTestServer(t, cfg, &memStore{})
	a := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:01")}
	if a.lease() == nil {
		t.Fatal("no lease")
	}
	// Another client asking for a's address is refused.
	b := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:02")}
	req, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(b.mac),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(a.ip)))
	if r := b.send(req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request for a taken address: %v, want NAK", r)
	}
	// Outside the subnet: NAK.
	req, _ = dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(b.mac),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 1, 5))))
	if r := b.send(req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request outside the subnet: %v, want NAK", r)
	}
	// A REQUEST for another server's offer is not ours to answer, and frees our offer.
	off := b.discover()
	req, _ = dhcpv4.NewRequestFromOffer(off)
	req.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 9, 0, 254)))
	if r := b.send(req); r != nil {
		t.Errorf("answered a REQUEST for another server: %v", r.MessageType())
	}
	if _, held := s.offers[macString(b.mac)]; held {
		t.Error("offer still held after the client chose another server")
	}
	// The reserved MAC always gets its address, outside the pool.
	r := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:99")}
	if r.lease() == nil || r.ip.String() != "10.9.0.50" {
		t.Errorf("reserved client got %v, want 10.9.0.50", r.ip)
	}
	// Nobody else gets the reserved address.
	req, _ = dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(b.mac),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 9, 0, 50))))
	if r := b.send(req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("request for a reserved address: %v, want NAK", r)
	}
	// The server's own address is never handed out even when it lies in the pool.
	cfg2 := testConfig()
	cfg2.ServerIP = "10.9.0.10"
	s2, _ := newTestServer(t, cfg2, &memStore{})
	for i := range 3 {
		c := &client{t: t, s: s2, mac: net.HardwareAddr{0xaa, 0, 0, 0, 4, byte(i)}}
		if c.lease() != nil && c.ip.String() == "10.9.0.10" {
			t.Fatal("handed out the server's own address")
		}
	}
}

func TestUnsavedLeaseIsNotAcknowledged(t *testing.T) {
	st := &memStore{}
	s, _ := newTestServer(t, testConfig(), st)
	st.fail = io.ErrShortWrite
	c := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:01")}
	if ack := c.lease(); ack != nil {
		t.Fatalf("ACK %v although the lease could not be saved", ack.YourIPAddr)
	}
}

func TestReleaseKeepsAddressForSameClient(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), &memStore{})
	a := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:00:01")}
	a.lease()
	ip := a.ip
	rel, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithHwAddr(a.mac), dhcpv4.WithClientIP(ip))
	a.send(rel)
	if l := s.Leases(); len(l) != 1 || l[0].State != StateReleased {
		t.Fatalf("after release: %+v", l)
	}
	if a.lease() == nil || !a.ip.Equal(ip) {
		t.Errorf("released client came back to %v, want %v", a.ip, ip)
	}
}

func TestIgnoresNonsense(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), &memStore{})
	d, _ := dhcpv4.NewDiscovery(mustMAC(t, "aa:00:00:00:00:01"))
	d.OpCode = dhcpv4.OpcodeBootReply
	if s.answer(d) != nil {
		t.Error("answered a BOOTREPLY")
	}
	d, _ = dhcpv4.NewDiscovery(net.HardwareAddr{1, 2, 3})
	if s.answer(d) != nil {
		t.Error("answered a 3-byte chaddr")
	}
	o, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer), dhcpv4.WithHwAddr(mustMAC(t, "aa:00:00:00:00:01")))
	o.OpCode = dhcpv4.OpcodeBootRequest
	if s.answer(o) != nil {
		t.Error("answered an OFFER")
	}
}

func TestReplyAddress(t *testing.T) {
	req, _ := dhcpv4.NewDiscovery(mustMAC(t, "aa:00:00:00:00:01"))
	off, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer))
	if got := replyAddr(req, off).String(); got != "255.255.255.255:68" {
		t.Errorf("client without address: %s", got)
	}
	req.ClientIPAddr = net.IPv4(10, 9, 0, 11)
	if got := replyAddr(req, off).String(); got != "10.9.0.11:68" {
		t.Errorf("renewing client: %s", got)
	}
	nak, _ := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
	if got := replyAddr(req, nak).String(); got != "255.255.255.255:68" {
		t.Errorf("NAK: %s", got)
	}
	req.GatewayIPAddr = net.IPv4(10, 1, 0, 1)
	if got := replyAddr(req, off).String(); got != "10.1.0.1:67" {
		t.Errorf("relayed: %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		key string
		mod func(c *Config)
	}{
		{"interface", func(c *Config) { c.Interface = "" }},
		{"subnet_mask", func(c *Config) { c.SubnetMask = "255.0.255.0" }},
		{"pool_start", func(c *Config) { c.PoolStart = "10.9.0.300" }},
		{"pool_end", func(c *Config) { c.PoolEnd = "10.9.0.5" }},
		{"pool_end", func(c *Config) { c.PoolEnd = "10.9.1.5" }},
		{"pool_start", func(c *Config) { c.PoolStart = "10.9.0.0" }},
		{"router", func(c *Config) { c.Router = "10.10.0.1" }},
		{"dns[1]", func(c *Config) { c.DNS = []string{"10.9.0.2", "dns.example"} }},
		{"lease_time", func(c *Config) { c.LeaseTime = time.Second }},
		{"server_ip", func(c *Config) { c.ServerIP = "::1" }},
		{"reservations[0].mac", func(c *Config) { c.Reservations = []Reservation{{MAC: "zz", IP: "10.9.0.5"}} }},
		{"reservations[0].ip", func(c *Config) { c.Reservations = []Reservation{{MAC: "aabbccddeeff", IP: "10.8.0.5"}} }},
		{"reservations[0].ip", func(c *Config) { c.Reservations = []Reservation{{MAC: "aabbccddeeff", IP: "10.9.0.1"}} }},
		{"vendors[0].name", func(c *Config) { c.Vendors = []VendorRule{{VendorClass: "x"}} }},
		{"vendors[0].vendor_class", func(c *Config) { c.Vendors = []VendorRule{{Name: "x"}} }},
		{"vendors[0].vendor_class_regex", func(c *Config) { c.Vendors = []VendorRule{{Name: "x", VendorClassRegex: "("}} }},
		{"vendors[0].ouis", func(c *Config) { c.Vendors = []VendorRule{{Name: "x", OUIs: []string{"0015"}}} }},
		{"vendors[0].options.option66", func(c *Config) {
			c.Vendors = []VendorRule{{Name: "x", VendorClass: "x", Options: Options{Option66: "{ulr}"}}}
		}},
		{"vendors[0].options.option150", func(c *Config) {
			c.Vendors = []VendorRule{{Name: "x", VendorClass: "x", Options: Options{Option150: []string{"host"}}}}
		}},
		{"vendors[0].options.option43", func(c *Config) {
			c.Vendors = []VendorRule{{Name: "x", VendorClass: "x", Options: Options{Option43: map[int]string{0: "a"}}}}
		}},
		{"default.option67", func(c *Config) { c.Default.Option67 = "{mac" }},
	}
	for _, tc := range cases {
		c := testConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("%s: error %v, want it to start with %q", tc.key, err, tc.key+":")
		}
	}
	if _, err := New(DefaultConfig(), quiet(), &memStore{}, nil, "http://h", brands(), ""); err == nil || !strings.Contains(err.Error(), "interface") {
		t.Errorf("New with the (disabled) defaults: %v, want an error naming the interface", err)
	}
	if _, err := New(func() Config { c := testConfig(); c.Vendors = []VendorRule{{Name: "x", Brand: "nokia"}}; return c }(),
		quiet(), &memStore{}, nil, "http://h", brands(), ""); err == nil || !strings.Contains(err.Error(), "brand") {
		t.Errorf("unknown brand: %v", err)
	}
}

func TestMatchOrder(t *testing.T) {
	rules, err := compileRules(DefaultVendors(), brands())
	if err != nil {
		t.Fatal(err)
	}
	yl := mustMAC(t, "00:15:65:00:00:01")
	for _, tc := range []struct {
		vc   string
		mac  net.HardwareAddr
		want string
	}{
		{"yealink W52P", mustMAC(t, "aa:00:00:00:00:01"), "yealink"},
		{"SNOMd785", mustMAC(t, "aa:00:00:00:00:01"), "snom"},
		{"snomD785", yl, "snom"}, // the class beats the OUI
		{"", yl, "yealink"},
		{"udhcp 1.35.0", yl, "yealink"},
		{"PolycomVVX-VVX_411", nil, "poly"},
		{"udhcp 1.35.0", mustMAC(t, "aa:00:00:00:00:01"), ""},
	} {
		got := ""
		if r := match(rules, tc.vc, tc.mac); r != nil {
			got = r.name
		}
		if got != tc.want {
			t.Errorf("match(%q, %v) = %q, want %q", tc.vc, tc.mac, got, tc.want)
		}
	}
}

func TestTooLongOptionIsSkipped(t *testing.T) {
	opts, skipped := provisioningOptions(Options{Option66: strings.Repeat("a", 300) + "{url}", Option67: "f.cfg"}, vars{url: "u"})
	if len(opts) != 1 || len(skipped) != 1 || skipped[0] != "option66" {
		t.Errorf("opts %v skipped %v", opts, skipped)
	}
}

func TestOfferHold(t *testing.T) {
	s, clk := newTestServer(t, testConfig(), &memStore{}) // pool of 3
	var got []string
	for i := range 3 {
		c := &client{t: t, s: s, mac: net.HardwareAddr{0xaa, 0, 0, 0, 5, byte(i)}}
		off := c.discover()
		if off == nil {
			t.Fatalf("client %d: no offer", i)
		}
		got = append(got, off.YourIPAddr.String())
	}
	if got[0] == got[1] || got[1] == got[2] || got[0] == got[2] {
		t.Fatalf("two pending offers share an address: %v", got)
	}
	// The same client asking again is offered the same address.
	c0 := &client{t: t, s: s, mac: net.HardwareAddr{0xaa, 0, 0, 0, 5, 0}}
	if off := c0.discover(); off == nil || off.YourIPAddr.String() != got[0] {
		t.Errorf("repeated DISCOVER got %v, want %s", off, got[0])
	}
	late := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:06:00")}
	if off := late.discover(); off != nil {
		t.Fatalf("offered %v while every address is held", off.YourIPAddr)
	}
	clk.advance(s.cfg.OfferHold + time.Second)
	if late.lease() == nil {
		t.Fatal("no lease once the offers ran out")
	}
	if len(s.offers) != len(s.offerIP) {
		t.Errorf("offer indexes disagree: %d by MAC, %d by address", len(s.offers), len(s.offerIP))
	}
}

// recConn records what the handler sends.
type recConn struct {
	net.PacketConn
	mu  sync.Mutex
	dst []string
}

func (c *recConn) WriteTo(b []byte, a net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dst = append(c.dst, a.String())
	return len(b), nil
}

func TestHandleSendsAndSheds(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), &memStore{})
	conn := &recConn{}
	d, _ := dhcpv4.NewDiscovery(mustMAC(t, "aa:00:00:00:00:01"))
	s.handle(conn, nil, d)
	if len(conn.dst) != 1 || conn.dst[0] != "255.255.255.255:68" {
		t.Fatalf("sent to %v, want one broadcast to 255.255.255.255:68", conn.dst)
	}
	for range maxInflight {
		s.inflight <- struct{}{}
	}
	s.handle(conn, nil, d)
	if len(conn.dst) != 1 || s.Dropped() != 1 {
		t.Errorf("with %d handlers busy: sent %v, dropped %d; want the datagram dropped", maxInflight, conn.dst, s.Dropped())
	}
}

// gatedStore holds its first write until released, and counts the writes.
type gatedStore struct {
	memStore
	gate  chan struct{}
	calls atomic.Int32
	held  atomic.Int32 // leases in the write being held
	sizes []int
	smu   sync.Mutex
}

func (g *gatedStore) PutDHCPLeases(ctx context.Context, ls []store.DHCPLease) error {
	if g.calls.Add(1) == 1 {
		g.held.Store(int32(len(ls)))
		<-g.gate
	}
	g.smu.Lock()
	g.sizes = append(g.sizes, len(ls))
	g.smu.Unlock()
	return g.memStore.PutDHCPLeases(ctx, ls)
}

// TestLeasesOfConcurrentRequestsShareAWrite: while one lease is being written,
// the leases of the requests arriving meanwhile queue and are written together,
// in one transaction, and each is acknowledged only once it is written.
func TestLeasesOfConcurrentRequestsShareAWrite(t *testing.T) {
	st := &gatedStore{gate: make(chan struct{})}
	cfg := testConfig()
	cfg.PoolEnd = "10.9.0.200"
	s, _ := newTestServer(t, cfg, st)
	const n = 20
	reqs := make([]*dhcpv4.DHCPv4, n)
	for i := range reqs {
		c := &client{t: t, s: s, mac: mustMAC(t, fmt.Sprintf("aa:00:00:00:01:%02x", i))}
		off := c.discover()
		if off == nil {
			t.Fatalf("no offer for client %d", i)
		}
		req, err := dhcpv4.NewRequestFromOffer(off)
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = req
	}
	acks := make(chan *dhcpv4.DHCPv4, n)
	for _, r := range reqs {
		go func() { acks <- s.answer(r) }()
	}
	// The first write is held: every other lease queues behind it.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.batch.mu.Lock()
		queued := len(s.batch.pending) + int(st.held.Load())
		s.batch.mu.Unlock()
		if queued == n && st.held.Load() > 0 {
			break
		}
		if time.Now().After(end) {
			var early []string
			for len(acks) > 0 {
				a := <-acks
				early = append(early, fmt.Sprint(a))
			}
			t.Fatalf("%d leases queued or being written, want %d; answered early: %v", queued, n, early)
		}
	}
	select {
	case a := <-acks:
		t.Fatalf("acknowledged before its lease was written: %v", a)
	default:
	}
	close(st.gate)
	for range n {
		if a := <-acks; a == nil || a.MessageType() != dhcpv4.MessageTypeAck {
			t.Fatalf("reply %v, want an ACK", a)
		}
	}
	st.smu.Lock()
	defer st.smu.Unlock()
	// The held write and at most one more: every lease queued meanwhile together.
	if sum := func() (s int) {
		for _, x := range st.sizes {
			s += x
		}
		return
	}(); len(st.sizes) > 2 || sum != n {
		t.Fatalf("writes of %v leases, want at most two writes of %d in all", st.sizes, n)
	}
	if len(st.m) != n {
		t.Fatalf("%d leases stored, want %d", len(st.m), n)
	}
}

// TestAckWaitingForTheStoreHoldsNoHandler: while a lease's write is held, its
// REQUEST's handler has returned (its slot is free) and other clients'
// DISCOVERs are answered; the ACK goes out once the write is done.
func TestAckWaitingForTheStoreHoldsNoHandler(t *testing.T) {
	st := &gatedStore{gate: make(chan struct{})}
	s, _ := newTestServer(t, testConfig(), st)
	c := &client{t: t, s: s, mac: mustMAC(t, "aa:00:00:00:02:01")}
	off := c.discover()
	if off == nil {
		t.Fatal("no offer")
	}
	req, err := dhcpv4.NewRequestFromOffer(off)
	if err != nil {
		t.Fatal(err)
	}
	conn := &recConn{}
	sent := func() int {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		return len(conn.dst)
	}
	s.handle(conn, nil, req) // returns before the write is done
	for end := time.Now().Add(10 * time.Second); st.held.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the lease write did not start")
		}
	}
	if n := len(s.inflight); n != 0 || sent() != 0 {
		t.Fatalf("after the REQUEST: %d handlers busy, %d replies sent; want none before the write", n, sent())
	}
	d, _ := dhcpv4.NewDiscovery(mustMAC(t, "aa:00:00:00:02:02"))
	s.handle(conn, nil, d)
	if sent() != 1 {
		t.Fatalf("with the lease write held: %d replies sent, want the OFFER", sent())
	}
	close(st.gate)
	for end := time.Now().Add(10 * time.Second); sent() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no ACK after the write")
		}
	}
}
