package udpbuf

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Storm is the receive buffer the storm-facing sockets ask for, in bytes: a
// request datagram takes about 1 KB of it with the kernel's overhead, so it
// holds some 16,000 requests while every handler is busy.
const Storm = 16 << 20

// Grow asks for a receive buffer of n bytes, more than the default (about
// 200 KB). Past net.core.rmem_max only a process with CAP_NET_ADMIN gets it
// (SO_RCVBUFFORCE); otherwise it gets what it may. It is best effort: the
// default buffer works, with more drops.
func Grow(conn net.PacketConn, n int) {
	control(conn, func(fd int) {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n) //nolint:errcheck // best effort, see above
		}
	})
}

// Size is the socket's receive buffer as the kernel reports it (twice what
// was granted, for its bookkeeping), or 0 when it cannot be read.
func Size(conn net.PacketConn) int {
	n := 0
	control(conn, func(fd int) { n, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF) })
	return n
}

// control runs f on conn's file descriptor; nothing when conn has none.
func control(conn net.PacketConn, f func(fd int)) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) { f(int(fd)) }) //nolint:errcheck // the callers' zero values say "unknown"
}
