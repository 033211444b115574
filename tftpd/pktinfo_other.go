//go:build !linux

package tftpd

import (
	"errors"
	"net"
	"net/netip"
)

const oobSize = 0

// enablePktinfo: only Linux is supported; elsewhere replies leave from the
// address the kernel picks, unless the server listens on one address.
func enablePktinfo(*net.UDPConn) error {
	return errors.New("destination address of datagrams: only on Linux")
}

func localOf([]byte) (netip.Addr, int) { return netip.Addr{}, 0 }

func srcOOB(netip.Addr, int) []byte { return nil }
