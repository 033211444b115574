package tftpd

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// engine runs the transfers of one run of Serve on a few event loops (see
// the package doc for why): each loop owns an epoll instance and the sockets
// of the transfers it was given, round-robin.
type engine struct {
	loops []*loop
	next  atomic.Uint32
	wg    sync.WaitGroup
}

// newEngine starts GOMAXPROCS loops (at least one).
func (s *Server) newEngine() (*engine, error) {
	e := &engine{}
	for range max(1, runtime.GOMAXPROCS(0)) {
		l, err := newLoop(s)
		if err != nil {
			e.stop()
			return nil, err
		}
		e.loops = append(e.loops, l)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			l.run()
		}()
	}
	return e, nil
}

// submit hands an admitted request to the next loop; s.running counts it
// already and the loop marks it done when its transfer ends.
func (e *engine) submit(j *job) {
	l := e.loops[int(e.next.Add(1))%len(e.loops)]
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		l.drop(j)
		return
	}
	l.inbox = append(l.inbox, j)
	l.mu.Unlock()
	l.wake()
}

// stop ends the loops once they have no transfer left (Serve calls it after
// s.running is zero) and waits for them: their epoll and eventfd descriptors
// are closed when it returns.
func (e *engine) stop() {
	for _, l := range e.loops {
		l.mu.Lock()
		l.stopping = true
		l.mu.Unlock()
		l.wake()
	}
	e.wg.Wait()
}

// loop is one event loop: a goroutine that blocks in epoll_wait for its
// transfers' sockets, the eventfd that brings new requests, and the earliest
// retransmission deadline.
type loop struct {
	s          *Server
	epfd, evfd int
	// ep is epfd in the runtime's poller: the loop parks there, not in a
	// blocking epoll_wait (see wait).
	ep       *os.File
	rc       syscall.RawConn
	deadline time.Time // ep's read deadline as last set
	turnFn   func(uintptr) bool
	err      error // why the loop ended
	// mu guards the hand-off from the request port's reader.
	mu       sync.Mutex
	inbox    []*job
	stopping bool
	dead     bool // the loop failed and ended
	// sleeping is set while the loop is about to wait or waits in
	// epoll_wait: only then does a hand-off write the eventfd (a busy loop
	// sees the inbox at its next turn without that system call).
	sleeping atomic.Bool

	// The rest belongs to the loop's goroutine.
	xfers  map[int32]*xfer // by socket
	timers timerHeap
	events [128]unix.EpollEvent
	rbuf   [4 + 512]byte // one datagram read, acted on at once
	jobs   []*job        // the inbox taken, reused
}

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		closeFD(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(evfd)} //nolint:gosec // G115: a descriptor
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		closeFD(epfd)
		closeFD(evfd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	l := &loop{s: s, epfd: epfd, evfd: evfd, xfers: map[int32]*xfer{}}
	if err := unix.SetNonblock(epfd, true); err != nil {
		closeFD(epfd)
		closeFD(evfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	l.turnFn = l.turn
	l.ep = os.NewFile(uintptr(epfd), "tftp-epoll")
	if l.rc, err = l.ep.SyscallConn(); err != nil {
		l.ep.Close()
		closeFD(evfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return l, nil
}

func (l *loop) wake() {
	if l.sleeping.CompareAndSwap(true, false) {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		write(l.evfd, one[:]) //nolint:errcheck // EAGAIN: the counter is set anyway
	}
}

// run is the loop. It does not block in epoll_wait: a goroutine blocked in a
// system call has its P handed off by the runtime's monitor, which then
// wakes every 20 µs; under load that churn of threads cost more than the
// transfers' own system calls. The epoll descriptor sits in the runtime's
// poller instead, and the loop parks there (turn returning false) until it
// becomes readable, which it does when one of its sockets does, or until the
// next retransmission is due.
func (l *loop) run() {
	defer func() {
		l.ep.Close()
		closeFD(l.evfd)
	}()
	for {
		var err error
		if l.setDeadline(true) {
			err = l.rc.Read(l.turnFn)
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			l.expire(time.Now())
			continue
		case err == nil && l.err == nil:
			return // stopped
		case err == nil:
			err = l.err
		}
		// Not expected with valid descriptors: the transfers are ended
		// rather than left hanging.
		l.s.log.Error("tftp event loop failed", "err", err)
		l.abort(fmt.Errorf("event loop: %w", err))
		return
	}
}

// turn acts on what is ready (sockets, deadlines passed, new requests) until
// nothing is, then returns false to park, or true when the loop ends (l.err
// says why, nil: stopped). It runs inside one RawConn.Read, so a readiness
// that comes while it works is not lost: the runtime lets the next wait
// return at once. The sockets are edge-triggered, so that an epoll_wait
// that returned fewer events than it could leaves nothing behind and need
// not be followed by an empty one before parking.
func (l *loop) turn(uintptr) bool {
	for {
		n, err := l.poll()
		if err != nil {
			l.err = err
			return true
		}
		now := time.Now()
		for i := range n {
			fd := l.events[i].Fd
			if int(fd) == l.evfd {
				var b [8]byte
				read(l.evfd, b[:]) //nolint:errcheck // EAGAIN: already drained
				continue
			}
			if x := l.xfers[fd]; x != nil {
				l.readable(x, now)
			}
		}
		l.expire(now)
		for {
			// A hand-off after this check finds sleeping set and writes
			// the eventfd; one before it is seen here.
			l.sleeping.Store(true)
			l.mu.Lock()
			l.jobs, l.inbox = l.inbox, l.jobs[:0]
			stop := l.stopping
			l.mu.Unlock()
			if len(l.jobs) == 0 {
				if n == len(l.events) {
					break // more may be ready
				}
				if stop && len(l.xfers) == 0 {
					return true
				}
				return !l.setDeadline(false)
			}
			l.sleeping.Store(false)
			for i, j := range l.jobs {
				l.begin(j, now)
				l.jobs[i] = nil
			}
		}
		l.sleeping.Store(false)
	}
}

// setDeadline makes the poller's wait end when the next datagram is due to
// be sent again (no deadline without transfers); force: even if it is the
// one set last, which has passed. It reports false when it cannot, and then
// l.err says why.
func (l *loop) setDeadline(force bool) bool {
	var due time.Time
	if len(l.timers) > 0 {
		due = l.timers[0].due
	}
	if !force && due.Equal(l.deadline) {
		return true
	}
	if err := l.ep.SetReadDeadline(due); err != nil {
		l.err = err
		return false
	}
	l.deadline = due
	return true
}

// poll is epoll_wait without blocking (a raw system call: it never blocks,
// so the runtime need not know of it).
func (l *loop) poll() (int, error) {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), //nolint:gosec // G103: the kernel fills events
			uintptr(len(l.events)), 0, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		}
		return 0, os.NewSyscallError("epoll_wait", e)
	}
}

// read and write on a non-blocking descriptor, as raw system calls: they
// never block (EAGAIN instead), and two of them per block are most of a
// transfer's cost.
func read(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p))) //nolint:gosec // G103: the kernel fills p
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func write(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p))) //nolint:gosec // G103: the kernel reads p
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// begin starts a transfer: its socket, what it sends, the first datagram.
func (l *loop) begin(j *job, now time.Time) {
	s := l.s
	src := j.ua.IP.String()
	mode, release := s.xfers.start(src, transferKey(*j.ua, j.req.name))
	x := &xfer{s: s, src: src, name: j.req.name, start: now, tenant: j.t.Tenant,
		timeout: s.cfg.Timeout, sends: 1 + s.cfg.Retries, release: release, fd: -1, hidx: -1}
	fd, err := dialUDP(j.local, j.peer)
	if err != nil {
		s.log.Error("cannot open a transfer socket", "src", src, "local", j.local.String(), "err", err)
		l.end(x)
		return
	}
	x.fd = fd
	size, ok, result := x.open(j, mode)
	if !ok {
		if result != nil {
			x.done(result)
		}
		l.end(x)
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(fd)} //nolint:gosec // G115: a descriptor
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		x.sendError(errUndefined, "server error")
		l.finish(x, fmt.Errorf("epoll_ctl: %w", err))
		return
	}
	l.xfers[int32(fd)] = x //nolint:gosec // G115: a descriptor
	x.due = now.Add(x.timeout)
	heap.Push(&l.timers, x)
	if oack := x.negotiate(j.req, size); oack != nil {
		x.pkt, x.block = oack, 0
		x.sent = 0
		l.send(x, now)
		return
	}
	l.nextBlock(x, now)
}

// nextBlock reads and sends the block after the one acknowledged (block 1
// after the OACK or at the start). The block number wraps to 0 after 65535,
// as the common clients expect.
func (l *loop) nextBlock(x *xfer, now time.Time) {
	if x.bufp == nil {
		x.bufp = getBuf(4 + x.blksize)
	}
	buf := (*x.bufp)[:4+x.blksize]
	n, err := io.ReadFull(x.body, buf[4:])
	x.last = errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !x.last {
		x.sendError(errUndefined, "read error")
		l.finish(x, fmt.Errorf("reading the file: %w", err))
		return
	}
	x.block++
	binary.BigEndian.PutUint16(buf, opDATA)
	binary.BigEndian.PutUint16(buf[2:], x.block)
	x.pkt, x.sent = buf[:4+n], 0
	l.send(x, now)
}

// send sends x.pkt (again) and sets when it is sent next. A send that fails
// for want of buffer space is left to the retransmission.
func (l *loop) send(x *xfer, now time.Time) {
	x.sent++
	x.due = now.Add(x.timeout)
	heap.Fix(&l.timers, x.hidx)
	if _, err := write(x.fd, x.pkt); err != nil && !errors.Is(err, unix.EAGAIN) {
		l.finish(x, fmt.Errorf("sending block %d: %w", x.block, os.NewSyscallError("write", err)))
	}
}

// readable reads the client's datagrams until the ACK awaited (or none is
// left: the next datagram to come brings the socket back, and the ones still
// queued are read before it; a stale one costs no read now). A
// duplicate ACK of an earlier block is ignored, never answered with a
// resend: answering it doubles every later block (the Sorcerer's Apprentice
// syndrome, RFC 1123 4.2.3.1). Only the ACK moves the transfer on, only an
// ERROR (or the socket's own error, an ICMP unreachable) ends it.
func (l *loop) readable(x *xfer, now time.Time) {
	for {
		n, err := read(x.fd, l.rbuf[:])
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return
		}
		if err != nil {
			l.finish(x, fmt.Errorf("block %d: %w", x.block, os.NewSyscallError("read", err)))
			return
		}
		acked, err := reply(l.rbuf[:n], x.block)
		if err != nil {
			l.finish(x, err)
			return
		}
		if !acked {
			continue
		}
		if x.last {
			l.finish(x, nil)
			return
		}
		l.nextBlock(x, now)
		return
	}
}

// expire sends again each datagram whose ACK did not come in time, or ends
// its transfer after the last send. It first reads what the socket still
// holds: readable stops at the ACK awaited, and on an edge-triggered socket
// a datagram queued behind it (a client's ERROR) brings no new event, so
// without this read it would wait for a datagram that never comes and the
// transfer would spend every retry. Retransmissions are rare, so this costs
// the common path nothing.
func (l *loop) expire(now time.Time) {
	for len(l.timers) > 0 && !l.timers[0].due.After(now) {
		x := l.timers[0]
		block := x.block
		if l.readable(x, now); x.fd < 0 || x.block != block {
			continue // ended, or moved on to the next block
		}
		if x.sent >= x.sends {
			l.finish(x, fmt.Errorf("timeout: block %d not acknowledged after %d sends", x.block, x.sends))
			continue
		}
		l.send(x, now)
	}
}

// finish ends a running transfer: its log line and metrics, then its
// resources.
func (l *loop) finish(x *xfer, err error) {
	x.done(err)
	l.end(x)
}

// end frees what a transfer holds: its timer, socket, file, buffer and
// admission slot, and marks it done for Serve.
func (l *loop) end(x *xfer) {
	if x.hidx >= 0 {
		heap.Remove(&l.timers, x.hidx)
	}
	if x.fd >= 0 {
		delete(l.xfers, int32(x.fd)) //nolint:gosec // G115: a descriptor
		closeFD(x.fd)                // also leaves the epoll set
		x.fd = -1
	}
	if x.file != nil {
		x.file.Close()
		x.file = nil
	}
	if x.bufp != nil {
		putBuf(x.bufp)
		x.bufp = nil
	}
	x.pkt, x.body = nil, nil
	x.release()
	x.s.running.Done()
}

// abort ends every transfer of a loop that cannot go on; the requests handed
// to it later are dropped (their clients ask again, and another loop answers).
func (l *loop) abort(err error) {
	for _, x := range l.xfers {
		l.finish(x, err)
	}
	l.mu.Lock()
	jobs := l.inbox
	l.inbox, l.dead = nil, true
	l.mu.Unlock()
	for _, j := range jobs {
		l.drop(j)
	}
}

// drop frees the slot of a request a dead loop cannot serve.
func (l *loop) drop(j *job) {
	_, release := l.s.xfers.start(j.ua.IP.String(), transferKey(*j.ua, j.req.name))
	release()
	l.s.running.Done()
}

// sendError tells the client the transfer ends (best effort).
func (x *xfer) sendError(code uint16, msg string) {
	write(x.fd, errorPacket(code, msg)) //nolint:errcheck // best effort, like any UDP answer
}

// dialUDP opens a transfer's socket: non-blocking, bound to local (when
// known, so that every answer leaves from the address the client asked) and
// connected to the client (so that no one else's datagram reaches it).
func dialUDP(local netip.Addr, peer netip.AddrPort) (int, error) {
	family := unix.AF_INET6
	var to unix.Sockaddr
	if a := peer.Addr(); a.Is4() {
		family = unix.AF_INET
		to = &unix.SockaddrInet4{Port: int(peer.Port()), Addr: a.As4()}
	} else {
		zone, err := zoneIndex(a.Zone())
		if err != nil {
			return -1, err
		}
		to = &unix.SockaddrInet6{Port: int(peer.Port()), Addr: a.As16(), ZoneId: zone}
	}
	var from unix.Sockaddr
	switch {
	case !local.IsValid():
	case local.Is4() != (family == unix.AF_INET):
		return -1, fmt.Errorf("local address %s and client %s differ in family", local, peer.Addr())
	case local.Is4():
		from = &unix.SockaddrInet4{Addr: local.As4()}
	default:
		zone, err := zoneIndex(local.Zone())
		if err != nil {
			return -1, err
		}
		from = &unix.SockaddrInet6{Addr: local.As16(), ZoneId: zone}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if from != nil {
		if err := unix.Bind(fd, from); err != nil {
			closeFD(fd)
			return -1, os.NewSyscallError("bind", err)
		}
	}
	if err := unix.Connect(fd, to); err != nil {
		closeFD(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}

// zoneIndex is the interface index of an IPv6 zone: a number (as localOf
// writes it) or an interface name (as the listen address or the runtime
// may).
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil //nolint:gosec // G115: an interface index
}

// timerHeap orders a loop's transfers by their next deadline.
type timerHeap []*xfer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

func (h *timerHeap) Push(v any) {
	x, _ := v.(*xfer)
	x.hidx = len(*h)
	*h = append(*h, x)
}

func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	x.hidx = -1
	return x
}

// closeFD closes one of the engine's descriptors: on Linux it is released
// even when close reports an error, so there is nothing more to do.
func closeFD(fd int) { _ = unix.Close(fd) }
