package ha

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// announcements is how many gratuitous ARPs / unsolicited NAs each burst sends; a
// second burst follows reannounceAfter later for switches that missed the first.
const (
	announcements   = 5
	announceGap     = 20 * time.Millisecond
	reannounceAfter = 2 * time.Second
)

// resource is the set of addresses moved to the active node.
type resource struct {
	ifname string
	addrs  []netip.Prefix
	log    *slog.Logger
}

func newResource(ifname string, cidrs []string, log *slog.Logger) (*resource, error) {
	r := &resource{ifname: ifname, log: log}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("ha: resource_ip %q: %w", c, err)
		}
		r.addrs = append(r.addrs, p)
	}
	return r, nil
}

func (r *resource) netlinkAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		// Duplicate address detection would hold the address "tentative" for a second
		// or more, and the old owner may still answer for it: the takeover is the point.
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// acquire adds every resource address to the interface (adding twice is harmless).
func (r *resource) acquire() error {
	link, err := netlink.LinkByName(r.ifname)
	if err != nil {
		return fmt.Errorf("ha: interface %s: %w", r.ifname, err)
	}
	var errs []error
	for _, p := range r.addrs {
		if err := netlink.AddrReplace(link, r.netlinkAddr(p)); err != nil {
			errs = append(errs, fmt.Errorf("ha: add %s to %s: %w", p, r.ifname, err))
		}
	}
	return errors.Join(errs...)
}

// release removes every resource address that is present.
func (r *resource) release() error {
	link, err := netlink.LinkByName(r.ifname)
	if err != nil {
		return fmt.Errorf("ha: interface %s: %w", r.ifname, err)
	}
	var errs []error
	for _, p := range r.addrs {
		err := netlink.AddrDel(link, r.netlinkAddr(p))
		if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("ha: remove %s from %s: %w", p, r.ifname, err))
		}
	}
	return errors.Join(errs...)
}

// held lists the resource addresses present on the interface now.
func (r *resource) held() ([]netip.Prefix, error) {
	link, err := netlink.LinkByName(r.ifname)
	if err != nil {
		return nil, fmt.Errorf("ha: interface %s: %w", r.ifname, err)
	}
	list, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("ha: list addresses of %s: %w", r.ifname, err)
	}
	var out []netip.Prefix
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		for _, p := range r.addrs {
			if p.Addr() == ip.Unmap() {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// announce tells the segment that this node's MAC now owns the resource addresses:
// the kernel announces nothing by itself when an address is added.
func (r *resource) announce() {
	ifi, err := net.InterfaceByName(r.ifname)
	if err != nil {
		r.log.Warn("announcing the resource", "interface", r.ifname, "err", err)
		return
	}
	var v4, v6 []netip.Addr
	for _, p := range r.addrs {
		if p.Addr().Is4() {
			v4 = append(v4, p.Addr())
		} else {
			v6 = append(v6, p.Addr())
		}
	}
	if len(v4) > 0 {
		if err := garp(ifi, v4); err != nil {
			r.log.Warn("gratuitous ARP", "interface", r.ifname, "err", err)
		}
	}
	if len(v6) > 0 {
		if err := unsolicitedNA(ifi, v6); err != nil {
			r.log.Warn("unsolicited neighbour advertisement", "interface", r.ifname, "err", err)
		}
	}
}

func garp(ifi *net.Interface, ips []netip.Addr) error {
	c, err := arp.Dial(ifi)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; i < announcements; i++ {
		for _, ip := range ips {
			// A request whose sender and target are both the address: every Linux
			// neighbour table overrides its entry on one (is_garp), locktime or not.
			p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
			if err != nil {
				return err
			}
			if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
				return err
			}
		}
		if i < announcements-1 {
			time.Sleep(announceGap)
		}
	}
	return nil
}

func unsolicitedNA(ifi *net.Interface, ips []netip.Addr) error {
	// Send from the resource address itself: it was added without DAD, so it is
	// usable at once, while a link-local address may still be tentative.
	c, _, err := ndp.Listen(ifi, ndp.Addr(ips[0].String()))
	if err != nil {
		return err
	}
	defer c.Close()
	all := netip.MustParseAddr("ff02::1")
	for i := 0; i < announcements; i++ {
		for _, ip := range ips {
			na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: ip,
				Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}}}
			if err := c.WriteTo(na, nil, all); err != nil {
				return err
			}
		}
		if i < announcements-1 {
			time.Sleep(announceGap)
		}
	}
	return nil
}
