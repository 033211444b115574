package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The bench's TFTP client. On 2 cores the client and the server share the
// machine, so a transfer costs the client's CPU plus the server's, and a
// heavy client hides the servers' differences. The first client, a
// goroutine and a Go net socket per transfer, spent 165-230 µs of CPU on an
// 8 KB config (Go's netpoller and scheduler on every datagram): about as
// much as either server (ours about 190 µs, dnsmasq about 165). This one is
// an event loop: a goroutine locked to its thread (-client-loops of them)
// with an epoll instance, driving its share of the transfers with raw
// non-blocking UDP sockets and nothing allocated per datagram, so that a
// datagram costs little more than its recvfrom and sendto: 110-140 µs per
// config, nearly all of it in the kernel, where a syscall costs over a
// microsecond on this virtual machine (client_cpu_us on the tftp-config
// lines says how much). What else was tried did not show beside the noise
// of the shared machine: a non-blocking epoll poll before the blocking one,
// a blocking epoll_wait hidden from the runtime (a raw syscall), connecting
// the socket to the transfer's port. Sleeping 0.1-1 ms between polls, to
// batch the datagrams, saved some 15-25 µs but changes the load the servers
// see (ACKs in bursts), so it is not done. It is written for the bench
// rather than taken from a library so that it costs little and the same for
// every server: ours, tftpd-hpa and dnsmasq all see this client.
//
// Each transfer is what a strict phone makes: one read request from a fresh
// socket (a fresh source port), every block acknowledged in turn, and the
// checks that the first answer comes from the address the request was sent
// to and that the transfer's port then stays the same (datagrams from other
// ports are ignored). A DATA block other than the expected one is a
// duplicate and is acknowledged again; an ERROR ends the transfer. After
// timeout without an answer the client pauses at random (up to a second)
// and sends its last datagram again, at most retries times; each
// retransmission counts in timeouts.

// tftpJob is a batch of transfers from one server: total of them, at most
// conc at once, spread over loops event loops.
type tftpJob struct {
	server  netip.AddrPort
	name    func(i int) string // the i-th transfer's file
	total   int
	conc    int
	loops   int
	blksize int // 0 sends no option (512-byte blocks)
	timeout time.Duration
	retries int
	// done is called from the loops when the i-th transfer ends, with the
	// bytes received; it must be safe for concurrent use.
	done func(i int, got int64, err error)
}

// timeouts counts the client's retransmissions, in all: a server that
// loses answers or stalls shows here before it shows in the throughput.
var timeouts atomic.Int64

// tftpGet makes one transfer and returns the bytes received.
func tftpGet(server netip.AddrPort, name string, blksize int, timeout time.Duration, retries int) (int64, error) {
	var got int64
	var err error
	runErr := tftpRun(tftpJob{
		server: server, name: func(int) string { return name }, total: 1, conc: 1, loops: 1,
		blksize: blksize, timeout: timeout, retries: retries,
		done: func(_ int, n int64, e error) { got, err = n, e },
	})
	if runErr != nil {
		return 0, runErr
	}
	return got, err
}

// tftpRun makes the job's transfers and returns once all have ended; an
// error is the client's own failure (no socket, no epoll), a transfer's
// goes to done.
func tftpRun(j tftpJob) error {
	if !j.server.Addr().Is4() {
		return fmt.Errorf("tftp client: %s is not IPv4", j.server)
	}
	loops := max(1, min(j.loops, j.conc))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, loops)
	for l := 0; l < loops; l++ {
		// Loop l keeps its share of the transfers in flight.
		slots := j.conc / loops
		if l < j.conc%loops {
			slots++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[l] = runLoop(&j, &next, slots)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// xfer is one transfer in flight in a loop's slot.
type xfer struct {
	i        int // the transfer's number, for done
	fd       int // -1: the slot is free
	name     string
	peer     syscall.RawSockaddrInet4 // where out goes: the server, then the transfer's port
	known    bool                     // the transfer's port is known (peer holds it)
	want     uint16                   // the next DATA block
	size     int                      // the block size: a shorter block is the last
	got      int64
	out      []byte // the datagram to (re)send: the request, then the last ACK
	tries    int    // timeouts in a row
	deadline int64  // when the wait for an answer ends (loop clock, ns)
	resume   int64  // >0: pausing before sending out again, until then
}

// scanEvery is how often a loop looks for transfers whose wait has ended:
// timeouts are seconds, so they end up to this much late.
const scanEvery = 20 * time.Millisecond

func runLoop(j *tftpJob, next *atomic.Int64, nslots int) error {
	// The loop's thread is its own: epoll_wait blocks it, and no other
	// goroutine is scheduled in between the datagrams.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	defer syscall.Close(ep)
	server := sockaddr4(j.server)
	size := 512
	if j.blksize > 0 {
		size = j.blksize
	}
	buf := make([]byte, 4+max(512, size)+1) // one more: a too-long block shows
	slots := make([]xfer, nslots)
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	active := 0
	var setupErr error
	// begin starts the next transfer in x, if any is left; false when none is.
	begin := func(x *xfer, slot int, t int64) bool {
		x.fd = -1
		i := int(next.Add(1)) - 1
		if i >= j.total {
			return false
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err == nil {
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd), Pad: int32(slot)}
			if err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
				syscall.Close(fd)
			}
		}
		if err != nil {
			// Out of sockets is the client's failure, not the server's.
			setupErr = fmt.Errorf("tftp client socket: %w", err)
			j.done(i, 0, setupErr)
			return false
		}
		name := j.name(i)
		*x = xfer{i: i, fd: fd, name: name, peer: server, want: 1, size: 512, out: x.out[:0]}
		x.out = binary.BigEndian.AppendUint16(x.out, 1)
		x.out = append(append(x.out, name...), 0)
		x.out = append(x.out, "octet\x00"...)
		if j.blksize > 0 {
			x.out = append(append(x.out, "blksize\x00"...), strconv.Itoa(j.blksize)...)
			x.out = append(x.out, 0)
		}
		active++
		x.send(t, j.timeout)
		return true
	}
	end := func(x *xfer, slot int, t int64, err error) {
		syscall.Close(x.fd) // which takes it out of the epoll set
		x.fd = -1
		active--
		j.done(x.i, x.got, err)
		if setupErr == nil {
			begin(x, slot, t)
		}
	}
	t := now()
	for s := range slots {
		slots[s].out = make([]byte, 0, 64)
		if setupErr == nil {
			begin(&slots[s], s, t)
		} else {
			slots[s].fd = -1
		}
	}
	events := make([]syscall.EpollEvent, 64)
	nextScan := t + int64(scanEvery)
	for active > 0 {
		wait := max(0, (nextScan-now())/int64(time.Millisecond)) + 1
		n, err := syscall.EpollWait(ep, events, int(wait))
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		t = now()
		for _, ev := range events[:max(n, 0)] {
			s := int(ev.Pad)
			x := &slots[s]
			if x.fd != int(ev.Fd) {
				continue // a transfer that has ended since
			}
			n, from, err := recvfrom4(x.fd, buf)
			if errors.Is(err, syscall.EAGAIN) {
				continue
			}
			if err == nil {
				err = x.answer(buf[:n], from, server, j.blksize, t, j.timeout)
			}
			switch {
			case errors.Is(err, errTransferDone):
				end(x, s, t, nil)
			case err != nil:
				end(x, s, t, fmt.Errorf("%s: %w", x.name, err))
			}
		}
		if t < nextScan {
			continue
		}
		nextScan = t + int64(scanEvery)
		for s := range slots {
			x := &slots[s]
			switch {
			case x.fd < 0:
			case x.resume > 0 && t >= x.resume:
				x.resume = 0
				if err := x.send(t, j.timeout); err != nil {
					end(x, s, t, fmt.Errorf("%s: %w", x.name, err))
				}
			case x.resume == 0 && t >= x.deadline:
				x.tries++
				if x.tries > j.retries {
					end(x, s, t, fmt.Errorf("%s: block %d: timeout", x.name, x.want))
					continue
				}
				timeouts.Add(1)
				// Like the common clients, a random pause before sending
				// again, so that a slow server is not hit by every client
				// at once (tftpd-hpa forks a transfer per request).
				x.resume = t + 1 + rand.Int64N(int64(time.Second))
			}
		}
	}
	return setupErr
}

// errTransferDone is answer's word that the last block has come.
var errTransferDone = errors.New("transfer done")

// send sends out to the peer and starts the wait for an answer. A full
// socket buffer is a lost datagram: the timeout sends it again.
func (x *xfer) send(t int64, timeout time.Duration) error {
	x.deadline = t + int64(timeout)
	if err := sendto4(x.fd, x.out, &x.peer); err != nil && !errors.Is(err, syscall.EAGAIN) {
		return err
	}
	return nil
}

// answer handles a datagram p from "from": errTransferDone after the last
// block, an error that ends the transfer, or nil to wait for the next.
func (x *xfer) answer(p []byte, from, server syscall.RawSockaddrInet4, blksize int, t int64, timeout time.Duration) error {
	switch {
	case !x.known && from.Addr != server.Addr:
		return fmt.Errorf("answer from %s, the request went to %s", netip.AddrFrom4(from.Addr), netip.AddrFrom4(server.Addr))
	case x.known && from != x.peer:
		return nil // not the transfer's port: ignored
	case len(p) < 4:
		return fmt.Errorf("%d-byte datagram", len(p))
	}
	x.peer, x.known = from, true
	x.tries, x.resume = 0, 0
	switch op, blk := binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]); {
	case op == 5:
		return fmt.Errorf("error %d %q", blk, p[4:])
	case op == 6 && x.want == 1 && blksize > 0:
		// OACK: blksize as acknowledged, then ACK 0.
		x.size = 512
		f := splitNUL(p[2:])
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "blksize" {
				x.size, _ = strconv.Atoi(f[i+1])
			}
		}
		x.out = append(x.out[:0], 0, 4, 0, 0)
	case op == 3 && blk == x.want:
		x.got += int64(len(p) - 4)
		x.out = append(x.out[:0], 0, 4, p[2], p[3])
		if len(p)-4 < x.size {
			sendto4(x.fd, x.out, &x.peer) // the last ACK, not waited on
			return errTransferDone
		}
		x.want++
	case op == 3:
		// A duplicate: acknowledged again (out is still the last ACK).
	default:
		return fmt.Errorf("unexpected opcode %d", op)
	}
	return x.send(t, timeout)
}

func sockaddr4(ap netip.AddrPort) syscall.RawSockaddrInet4 {
	sa := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: ap.Addr().As4()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
	return sa
}

// sendto4 and recvfrom4 are sendto and recvfrom with the IPv4 address in
// place: the syscall package's allocate a Sockaddr per datagram. Raw
// syscalls, as the sockets never block.
func sendto4(fd int, p []byte, to *syscall.RawSockaddrInet4) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		0, uintptr(unsafe.Pointer(to)), unsafe.Sizeof(*to))
	if e != 0 {
		return e
	}
	return nil
}

func recvfrom4(fd int, p []byte) (int, syscall.RawSockaddrInet4, error) {
	var from syscall.RawSockaddrInet4
	l := uint32(unsafe.Sizeof(from))
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		0, uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&l)))
	switch {
	case e != 0:
		return 0, from, e
	case from.Family != syscall.AF_INET:
		return 0, from, fmt.Errorf("datagram from address family %d", from.Family)
	}
	return int(n), from, nil
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
