package dhcp

import (
	"net"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func seedPackets(f *testing.F) {
	mac, _ := net.ParseMAC("00:15:65:12:34:56")
	d, _ := dhcpv4.NewDiscovery(mac, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("yealink")),
		dhcpv4.WithRequestedOptions(dhcpv4.GenericOptionCode(66), dhcpv4.GenericOptionCode(150)))
	f.Add(d.ToBytes())
	r, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 9, 0, 11))))
	f.Add(r.ToBytes())
	o, _ := dhcpv4.NewReplyFromRequest(d, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(66), []byte("http://10.0.0.1/provisioning/"))),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(43), []byte{1, 2, 'a', 'b', 255})),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(150), []byte{10, 0, 0, 1, 10, 0})))
	f.Add(o.ToBytes())
	f.Add([]byte{})
	f.Add(d.ToBytes()[:240])
}

// FuzzAnswer feeds arbitrary datagrams through the server's parser and protocol
// logic: nothing may panic, and every reply must serialise and parse again.
func FuzzAnswer(f *testing.F) {
	seedPackets(f)
	s, _ := newTestServer(f, testConfig(), &memStore{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		r := s.answer(m)
		if r == nil {
			return
		}
		if _, err := dhcpv4.FromBytes(r.ToBytes()); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if ip := r.YourIPAddr; ip != nil && !ip.IsUnspecified() && !s.subnet.Contains(ip) {
			t.Fatalf("offered %v outside the subnet", ip)
		}
	})
}

// FuzzDecodeOffer is the probe's side: whatever a server offers is decoded and
// printed without panicking, and nothing unprintable reaches the terminal.
func FuzzDecodeOffer(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		o := decodeOffer(m, "http://10.0.0.1:8080", []net.IP{net.IPv4(10, 0, 0, 1)})
		var sb strings.Builder
		o.Print(&sb)
		for _, r := range sb.String() {
			if r < 0x20 && r != '\n' {
				t.Fatalf("control character %q in output", r)
			}
		}
	})
}

// FuzzSubOptions checks that option 43 decoding never panics and that what it
// decodes encodes back to the same entries.
func FuzzSubOptions(f *testing.F) {
	f.Add([]byte{1, 2, 'a', 'b'})
	f.Add([]byte{0, 0, 2, 0, 255, 9})
	f.Add([]byte{1, 200, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		sub, err := decodeSubOptions(b)
		if err != nil {
			return
		}
		m := map[int]string{}
		for _, s := range sub {
			m[s.Code] = s.Value // a repeated code keeps the last, like a map config
		}
		enc, err := encodeSubOptions(m)
		if err != nil {
			t.Fatalf("decoded entries do not encode: %v", err)
		}
		again, err := decodeSubOptions(enc)
		if err != nil || len(again) != len(m) {
			t.Fatalf("round trip: %v %v", again, err)
		}
	})
}

// FuzzMatch runs vendor-class and OUI matching on arbitrary input.
func FuzzMatch(f *testing.F) {
	f.Add("yealink W52P", []byte{0, 0x15, 0x65, 1, 2, 3})
	f.Add("", []byte{0x7c, 0x2f, 0x80})
	f.Add("\xff\xfePolycom", []byte{})
	rules, err := compileRules(DefaultVendors(), brands())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, vc string, mac []byte) {
		r := match(rules, vc, net.HardwareAddr(mac))
		if r != nil && vc == "" && len(mac) < 3 {
			t.Fatalf("matched %s with neither class nor OUI", r.name)
		}
		_ = hostOf(vc)
		_ = sanitize(vc)
	})
}
