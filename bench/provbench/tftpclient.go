package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// tftpGet is the bench's TFTP client: one read request from a fresh port (as
// a phone makes it), every block acknowledged in turn, a retransmission after
// timeout (and a random pause of up to a second), at most retries times. It checks what a strict phone checks: that
// the first answer comes from the address the request was sent to, and that
// the transfer's port then stays the same. It is written for the bench rather
// than taken from a library so that the client costs little and the same for
// every server: on 2 cores a heavy client hides the servers' differences.
// blksize 0 sends no option (512-byte blocks). It returns the bytes received.
func tftpGet(server netip.AddrPort, name string, blksize int, timeout time.Duration, retries int) (int64, error) {
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	rq := binary.BigEndian.AppendUint16(nil, 1)
	rq = append(append(rq, name...), 0)
	rq = append(rq, "octet\x00"...)
	size := 512
	if blksize > 0 {
		rq = append(append(append(rq, "blksize\x00"...), strconv.Itoa(blksize)...), 0)
	}
	buf := make([]byte, 4+max(512, blksize)+1)
	var peer netip.AddrPort // the transfer's address, once known
	var got int64
	out, want := rq, uint16(1) // the datagram to (re)send, the next DATA block
	for {
		var n int
		var from netip.AddrPort
		for try := 0; ; try++ {
			if try > retries {
				return got, fmt.Errorf("%s: block %d: timeout", name, want)
			}
			if try > 0 {
				timeouts.Add(1)
				// Like the common clients, a random pause before sending
				// again, so that a slow server is not hit by every client
				// at once (tftpd-hpa forks a transfer per request).
				time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
			}
			to := peer
			if !to.IsValid() {
				to = server
			}
			conn.SetReadDeadline(time.Now().Add(timeout))
			if try == 0 {
				n, from, err = sendRecv(raw, out, to, buf)
			} else {
				if _, err := conn.WriteToUDPAddrPort(out, to); err != nil {
					return got, err
				}
				n, from, err = conn.ReadFromUDPAddrPort(buf)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				return got, err
			}
			break
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		switch {
		case !peer.IsValid() && from.Addr() != server.Addr():
			return got, fmt.Errorf("%s: answer from %s, the request went to %s", name, from.Addr(), server.Addr())
		case peer.IsValid() && from != peer:
			continue // not the transfer's port: ignored
		case n < 4:
			return got, fmt.Errorf("%s: %d-byte datagram", name, n)
		}
		peer = from
		switch op, blk := binary.BigEndian.Uint16(buf), binary.BigEndian.Uint16(buf[2:]); {
		case op == 5:
			return got, fmt.Errorf("%s: error %d %q", name, blk, buf[4:n])
		case op == 6 && want == 1 && blksize > 0:
			// OACK: blksize as acknowledged, then ACK 0.
			size = 512
			f := splitNUL(buf[2:n])
			for i := 0; i+1 < len(f); i += 2 {
				if f[i] == "blksize" {
					size, _ = strconv.Atoi(f[i+1])
				}
			}
			out = []byte{0, 4, 0, 0}
		case op == 3 && blk == want:
			got += int64(n - 4)
			out = []byte{0, 4, buf[2], buf[3]}
			if n-4 < size {
				conn.WriteToUDPAddrPort(out, peer)
				return got, nil
			}
			want++
		case op == 3:
			// A duplicate: acknowledged again (out is still the last ACK).
		default:
			return got, fmt.Errorf("%s: unexpected opcode %d", name, op)
		}
	}
}

// timeouts counts the client's retransmissions, in all: a server that
// loses answers or stalls shows here before it shows in the throughput.
var timeouts atomic.Int64

// sendRecv sends p to "to" and reads the first datagram after it, without
// the read that fails with EAGAIN first (the server's engine does the same,
// see tftpd's sendRecv): the send happens inside the raw read, after the
// runtime reset the socket's readiness, so no answer is missed.
func sendRecv(raw syscall.RawConn, p []byte, to netip.AddrPort, buf []byte) (int, netip.AddrPort, error) {
	sa := &syscall.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())}
	var n int
	var from syscall.Sockaddr
	var werr, rerr error
	sent := false
	err := raw.Read(func(fd uintptr) bool {
		if !sent {
			sent = true
			werr = syscall.Sendto(int(fd), p, 0, sa)
			return werr != nil
		}
		n, from, rerr = syscall.Recvfrom(int(fd), buf, 0)
		return !errors.Is(rerr, syscall.EAGAIN)
	})
	switch {
	case werr != nil:
		return 0, netip.AddrPort{}, werr
	case err != nil:
		return 0, netip.AddrPort{}, err
	case rerr != nil:
		return 0, netip.AddrPort{}, rerr
	}
	if a, ok := from.(*syscall.SockaddrInet4); ok {
		return n, netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	}
	return 0, netip.AddrPort{}, fmt.Errorf("datagram from %v", from)
}

func splitNUL(b []byte) []string {
	var f []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		f = append(f, string(b[:i]))
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return f
}
