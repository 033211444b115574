package dhcp

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
)

// ProbeConfig says where and how to probe.
type ProbeConfig struct {
	// Interface to broadcast the DISCOVER on.
	Interface string
	// VendorClass is sent as option 60, to see what a phone of that vendor is told.
	VendorClass string
	// Timeout is the whole wait for an offer (retransmissions included).
	Timeout time.Duration
	// BaseURL is this appliance's provisioning.base_url ("" when unknown).
	BaseURL string
	// Own are this host's addresses; nil: every address of every interface.
	Own []net.IP
}

// Offer is what a DHCP server offered, decoded.
type Offer struct {
	Server      string      `json:"server"` // option 54, else the sender
	Address     string      `json:"address"`
	Option66    string      `json:"option66,omitempty"`
	Option67    string      `json:"option67,omitempty"`
	Option150   []string    `json:"option150,omitempty"`
	Option160   string      `json:"option160,omitempty"`
	Option43    []SubOption `json:"option43,omitempty"`
	Option43Hex string      `json:"option43_hex,omitempty"` // when 43 is not TLV
	Option114   string      `json:"option114,omitempty"`
	// FromUs: the offering server is one of this host's addresses.
	FromUs bool `json:"from_us"`
	// PointsHere names the options that point at this appliance; Elsewhere the
	// ones that point at some other host.
	PointsHere []string `json:"points_here"`
	Elsewhere  []string `json:"elsewhere"`
}

// requestList asks for the provisioning options; servers like dnsmasq send only
// what is asked for.
var requestList = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName,
	dhcpv4.GenericOptionCode(opt43), dhcpv4.GenericOptionCode(opt66), dhcpv4.GenericOptionCode(opt67),
	dhcpv4.GenericOptionCode(opt114), dhcpv4.GenericOptionCode(opt150), dhcpv4.GenericOptionCode(opt160),
}

// settle is how long the probe keeps listening after the first offer, to catch
// a second (rogue or forgotten) server: phones take whichever answers first.
const settle = 1500 * time.Millisecond

// Probe broadcasts a DISCOVER (again at a third and two thirds of Timeout while
// nobody answers) and decodes every offer, one per server, in arrival order. It
// never sends a REQUEST, so no server commits a lease.
func Probe(ctx context.Context, pc ProbeConfig) ([]*Offer, error) {
	if pc.Interface == "" {
		return nil, errNoInterface
	}
	if pc.Timeout <= 0 {
		pc.Timeout = 10 * time.Second
	}
	ifi, err := net.InterfaceByName(pc.Interface)
	if err != nil {
		return nil, fmt.Errorf("dhcp probe: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("dhcp probe: %s has no Ethernet address", pc.Interface)
	}
	conn, err := nclient4.NewRawUDPConn(pc.Interface, dhcpv4.ClientPort)
	if err != nil {
		return nil, fmt.Errorf("dhcp probe: %s: %w (needs root or CAP_NET_RAW)", pc.Interface, err)
	}
	defer conn.Close()
	mods := []dhcpv4.Modifier{dhcpv4.WithRequestedOptions(requestList...), dhcpv4.WithBroadcast(true),
		dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(1500))}
	if pc.VendorClass != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(pc.VendorClass)))
	}
	disc, err := dhcpv4.NewDiscovery(ifi.HardwareAddr, mods...)
	if err != nil {
		return nil, fmt.Errorf("dhcp probe: %w", err)
	}
	own := pc.Own
	if own == nil {
		own = localAddrs()
	}
	start := time.Now()
	deadline := start.Add(pc.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	var offers []*Offer
	seen := map[string]bool{}
	sent := 0
	buf := make([]byte, 4096)
	for {
		now := time.Now()
		if len(offers) == 0 && sent < 3 && !now.Before(start.Add(pc.Timeout*time.Duration(sent)/3)) {
			if _, err := conn.WriteTo(disc.ToBytes(), bcast); err != nil {
				return nil, fmt.Errorf("dhcp probe: send DISCOVER on %s: %w", pc.Interface, err)
			}
			sent++
		}
		wait := deadline
		if len(offers) == 0 && sent < 3 {
			if next := start.Add(pc.Timeout * time.Duration(sent) / 3); next.Before(wait) {
				wait = next
			}
		}
		if !now.Before(deadline) || ctx.Err() != nil {
			break
		}
		conn.SetReadDeadline(wait) // a failure shows as a read error below
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return nil, fmt.Errorf("dhcp probe: read on %s: %w", pc.Interface, err)
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || m.TransactionID != disc.TransactionID ||
			m.MessageType() != dhcpv4.MessageTypeOffer || !bytes.Equal(m.ClientHWAddr, ifi.HardwareAddr) {
			continue
		}
		o := decodeOffer(m, pc.BaseURL, own)
		if seen[o.Server] {
			continue // a retransmitted DISCOVER answered twice
		}
		seen[o.Server] = true
		offers = append(offers, o)
		if len(offers) == 1 {
			if d := time.Now().Add(settle); d.Before(deadline) {
				deadline = d
			}
		}
	}
	if len(offers) == 0 {
		return nil, fmt.Errorf("dhcp probe: no offer on %s within %s", pc.Interface, pc.Timeout)
	}
	return offers, nil
}

func localAddrs() []net.IP {
	var out []net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}

// decodeOffer reads the provisioning options of m and judges where they point.
// m comes from the network: every field may be absent or malformed.
func decodeOffer(m *dhcpv4.DHCPv4, baseURL string, own []net.IP) *Offer {
	o := &Offer{PointsHere: []string{}, Elsewhere: []string{}}
	if sid := m.ServerIdentifier(); sid != nil {
		o.Server = sid.String()
	} else if m.ServerIPAddr != nil && !m.ServerIPAddr.IsUnspecified() {
		o.Server = m.ServerIPAddr.String()
	}
	if m.YourIPAddr != nil {
		o.Address = m.YourIPAddr.String()
	}
	text := func(code uint8) string { return sanitizeLong(string(m.Options.Get(dhcpv4.GenericOptionCode(code)))) }
	o.Option66, o.Option67, o.Option160, o.Option114 = text(opt66), text(opt67), text(opt160), text(opt114)
	if o.Option67 == "" && m.BootFileName != "" {
		o.Option67 = sanitizeLong(m.BootFileName)
	}
	if b := m.Options.Get(dhcpv4.GenericOptionCode(opt150)); len(b) > 0 {
		for i := 0; i+4 <= len(b); i += 4 {
			o.Option150 = append(o.Option150, net.IP(b[i:i+4]).String())
		}
	}
	if b := m.Options.Get(dhcpv4.GenericOptionCode(opt43)); len(b) > 0 {
		if sub, err := decodeSubOptions(b); err == nil && len(sub) > 0 {
			for i := range sub {
				sub[i].Value = sanitizeLong(sub[i].Value)
			}
			o.Option43 = sub
		} else {
			o.Option43Hex = hex.EncodeToString(b)
		}
	}
	isOwn := func(host string) bool {
		// A phone told "localhost" or 127.0.0.1 talks to itself, never to us.
		if host == "" || strings.EqualFold(host, "localhost") || (net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()) {
			return false
		}
		if bh := urlHost(baseURL); bh != "" && strings.EqualFold(bh, host) {
			return true
		}
		ip := net.ParseIP(host)
		for _, a := range own {
			if ip != nil && a.Equal(ip) {
				return true
			}
		}
		return false
	}
	o.FromUs = isOwn(o.Server)
	judge := func(name, value string) {
		if value == "" {
			return
		}
		if isOwn(hostOf(value)) {
			o.PointsHere = append(o.PointsHere, name)
		} else {
			o.Elsewhere = append(o.Elsewhere, name)
		}
	}
	judge("option66", o.Option66)
	judge("option160", o.Option160)
	judge("option114", o.Option114)
	for _, ip := range o.Option150 {
		judge("option150", ip)
	}
	return o
}

// hostOf is the host a provisioning option names: the host of a URL, or a bare
// host[:port] (Yealink and Cisco read a bare host as a TFTP server).
func hostOf(v string) string {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil {
			return ""
		}
		return u.Hostname()
	}
	v, _, _ = strings.Cut(v, "/")
	if h, _, err := net.SplitHostPort(v); err == nil {
		return h
	}
	return strings.Trim(v, "[]")
}

func sanitizeLong(v string) string {
	v = strings.TrimRight(v, "\x00") // some servers NUL-terminate strings
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, v)
}

// Print writes the offer for a person.
func (o *Offer) Print(w io.Writer) {
	from := "another host"
	if o.FromUs {
		from = "this appliance"
	}
	fmt.Fprintf(w, "server:     %s (%s)\n", dash(o.Server), from)
	fmt.Fprintf(w, "address:    %s\n", dash(o.Address))
	fmt.Fprintf(w, "option 66:  %s\n", dash(o.Option66))
	fmt.Fprintf(w, "option 67:  %s\n", dash(o.Option67))
	fmt.Fprintf(w, "option 150: %s\n", dash(strings.Join(o.Option150, ", ")))
	fmt.Fprintf(w, "option 160: %s\n", dash(o.Option160))
	switch {
	case len(o.Option43) > 0:
		parts := make([]string, len(o.Option43))
		for i, s := range o.Option43 {
			parts[i] = fmt.Sprintf("%d=%q", s.Code, s.Value)
		}
		fmt.Fprintf(w, "option 43:  %s\n", strings.Join(parts, " "))
	case o.Option43Hex != "":
		fmt.Fprintf(w, "option 43:  0x%s\n", o.Option43Hex)
	default:
		fmt.Fprintf(w, "option 43:  -\n")
	}
	fmt.Fprintf(w, "option 114: %s\n", dash(o.Option114))
	switch {
	case len(o.PointsHere) == 0 && len(o.Elsewhere) == 0:
		fmt.Fprintln(w, "verdict:    no provisioning option offered: phones will not find this appliance by DHCP")
	case len(o.Elsewhere) == 0:
		fmt.Fprintf(w, "verdict:    points at this appliance (%s)\n", strings.Join(o.PointsHere, ", "))
	case len(o.PointsHere) == 0:
		fmt.Fprintf(w, "verdict:    does NOT point at this appliance (%s point elsewhere)\n", strings.Join(o.Elsewhere, ", "))
	default:
		fmt.Fprintf(w, "verdict:    mixed: %s point here, %s elsewhere\n", strings.Join(o.PointsHere, ", "), strings.Join(o.Elsewhere, ", "))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
