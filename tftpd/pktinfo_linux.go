package tftpd

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// oobSize holds one in_pktinfo and one in6_pktinfo control message.
const oobSize = 128

// enablePktinfo asks the kernel to tell, with each datagram, which local
// address it was sent to. A wildcard socket of "udp" is dual-stack (AF_INET6):
// IPv4 datagrams then come with both IP_PKTINFO and a v4-mapped IPV6_PKTINFO;
// one of the two options failing (IPV6_RECVPKTINFO on an AF_INET socket) is
// normal.
func enablePktinfo(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var e4, e6 error
	if err := rc.Control(func(fd uintptr) {
		e4 = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
		e6 = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVPKTINFO, 1)
	}); err != nil {
		return err
	}
	if e4 != nil && e6 != nil {
		return e4
	}
	return nil
}

// localOf reads the control messages of a datagram: the address to answer it
// from (its zone set for a link-local IPv6 address) and the interface it came
// in on. For IPv4 it is in_pktinfo's ipi_spec_dst, which is the destination
// address for a unicast datagram and the interface's own address for a
// broadcast one (never the broadcast address, which cannot be a source).
// The zero Addr means "unknown": answer from the kernel's choice.
func localOf(oob []byte) (netip.Addr, int) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, 0
	}
	var v6 netip.Addr
	var v6if int
	for _, m := range msgs {
		switch {
		case m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_PKTINFO && len(m.Data) >= 12:
			// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
			ifindex := int(int32(binary.NativeEndian.Uint32(m.Data))) //nolint:gosec // G115: the kernel's int
			a := netip.AddrFrom4([4]byte(m.Data[4:8]))
			if a.IsUnspecified() {
				continue
			}
			return a, ifindex
		case m.Header.Level == syscall.IPPROTO_IPV6 && m.Header.Type == syscall.IPV6_PKTINFO && len(m.Data) >= 20:
			// struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
			v6 = netip.AddrFrom16([16]byte(m.Data[:16])).Unmap()
			v6if = int(int32(binary.NativeEndian.Uint32(m.Data[16:]))) //nolint:gosec // G115: the kernel's int
		}
	}
	if !v6.IsValid() || v6.IsMulticast() || v6.IsUnspecified() || v6 == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.Addr{}, 0
	}
	if v6.Is6() && (v6.IsLinkLocalUnicast() || v6.IsLinkLocalMulticast()) && v6if > 0 {
		v6 = v6.WithZone(strconv.Itoa(v6if))
	}
	return v6, v6if
}

// srcOOB is the control message that makes a datagram sent on the listening
// socket leave from local (nil when local is unknown).
func srcOOB(local netip.Addr, ifindex int) []byte {
	switch {
	case !local.IsValid():
		return nil
	case local.Is4():
		return (&ipv4.ControlMessage{Src: local.AsSlice()}).Marshal()
	case local.IsLinkLocalUnicast():
		return (&ipv6.ControlMessage{Src: local.WithZone("").AsSlice(), IfIndex: ifindex}).Marshal()
	default:
		return (&ipv6.ControlMessage{Src: local.AsSlice()}).Marshal()
	}
}
