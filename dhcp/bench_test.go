package dhcp

import (
	"fmt"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkPhoneDORA is one phone's DISCOVER, OFFER, REQUEST, ACK through the
// protocol logic (wire format both ways, lease written to memory): the CPU a
// boot storm costs per phone, without the socket.
func BenchmarkPhoneDORA(b *testing.B) {
	cfg := testConfig()
	cfg.PoolStart, cfg.PoolEnd, cfg.SubnetMask = "10.9.0.10", "10.9.255.250", "255.255.0.0"
	s, _ := newTestServer(b, cfg, &memStore{})
	vc := dhcpv4.WithOption(dhcpv4.OptClassIdentifier("yealink SIP-T54W"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		mac := mustMAC(b, fmt.Sprintf("00:15:65:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff))
		d, _ := dhcpv4.NewDiscovery(mac, vc)
		d, _ = dhcpv4.FromBytes(d.ToBytes())
		off := s.answer(d)
		if off == nil {
			b.Fatal("no offer")
		}
		off, _ = dhcpv4.FromBytes(off.ToBytes())
		req, _ := dhcpv4.NewRequestFromOffer(off, vc)
		req, _ = dhcpv4.FromBytes(req.ToBytes())
		if ack := s.answer(req); ack == nil {
			b.Fatal("no ack")
		} else {
			_ = ack.ToBytes()
		}
	}
}
