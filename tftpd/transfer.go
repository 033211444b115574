package tftpd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
)

// More opcodes and error codes (RFC 1350, RFC 2347).
const (
	opDATA = 3
	opACK  = 4
	opOACK = 6

	errNotFound = 1
)

// minBlockSize is the smallest blksize acknowledged: RFC 2348 allows 8, but
// every byte then costs 64 times the datagrams of the default, for no client
// that exists. A smaller value is ignored (512-byte blocks).
const minBlockSize = 512

// transfer answers one admitted read request from its own socket, bound to
// the address the request was sent to (local; the kernel's choice when it is
// unknown) and connected to the client: data, OACK and errors all leave from
// there, and datagrams from anyone but the client never reach it.
func (s *Server) transfer(req rrq, ua *net.UDPAddr, peer netip.AddrPort, local netip.Addr, t provision.Target, rerr error) {
	defer s.running.Done()
	src := ua.IP.String()
	mode, release := s.xfers.start(src, transferKey(*ua, req.name))
	defer release()
	x := xfer{s: s, src: src, name: req.name, start: time.Now(), tenant: t.Tenant,
		timeout: s.cfg.Timeout, sends: 1 + s.cfg.Retries}
	var laddr *net.UDPAddr
	if local.IsValid() {
		laddr = &net.UDPAddr{IP: local.AsSlice(), Zone: local.Zone()}
	}
	conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(peer))
	if err != nil {
		s.log.Error("cannot open a transfer socket", "src", src, "local", local.String(), "err", err)
		return
	}
	defer conn.Close()
	x.conn = conn
	x.raw, _ = conn.SyscallConn() // nil: the plain way

	var body io.Reader
	var size int64 // the size on the wire, -1 unknown
	switch {
	case rerr != nil:
		if t.MAC != "" {
			s.prov.SeeUnknown(t.Tenant, t.MAC, src, "tftp", t.Name)
		}
		s.m.request(t.Tenant, resNotFound)
		s.limit.Fail(src, req.name)
		code, msg := uint16(errNotFound), "file not found"
		if errors.Is(rerr, provision.ErrBadPath) {
			code, msg = errAccess, "access violation"
		}
		x.sendError(code, msg)
		x.done(errors.New(msg))
		return
	case t.File != nil:
		x.started, x.bytes = true, int64(t.File.Size)
		body, size = bytes.NewReader(t.File.Body), sentSize(t.File.Body, mode)
	case t.Asset != nil:
		f, err := os.Open(s.prov.AssetPath(t.Asset))
		if err != nil {
			s.log.Error("asset missing on disk", "file", t.Name, "err", err)
			x.sendError(errNotFound, "file not found")
			return
		}
		defer f.Close()
		x.started, x.bytes = true, t.Asset.Size
		// The converted size of a netascii asset is unknown without reading
		// it: tsize is then left out of the OACK rather than guessed. The
		// file is read 64 KB at a time, not one block at a time: a read
		// system call per block would be a third of a firmware transfer's.
		body, size = bufio.NewReaderSize(f, 64<<10), t.Asset.Size
		if mode == "netascii" {
			size = -1
		}
	default:
		x.sendError(errNotFound, "file not found")
		x.done(errors.New("file not found"))
		return
	}
	s.m.request(t.Tenant, resServed)
	if mode == "netascii" {
		body = &netascii{r: body, pend: -1}
	}
	x.done(x.send(body, x.negotiate(req, size)))
}

// xfer is one transfer's state.
type xfer struct {
	s       *Server
	conn    *net.UDPConn
	raw     syscall.RawConn
	src     string // the client's IP address, for logs
	name    string
	tenant  string
	start   time.Time
	timeout time.Duration // before a retransmission
	sends   int           // of one datagram before giving up
	blksize int
	blkopt  string // the acknowledged blksize option, for the log ("" none)
	started bool   // a file was found and its transfer began
	bytes   int64  // the file's size, for the log and the byte counter
	rbuf    [4 + 512]byte
}

// negotiate picks the options to acknowledge (RFC 2347), in the client's
// order, and returns the OACK to send (nil: none, data starts at once).
// tsize is the real size whatever the client sent; a timeout is
// acknowledged only up to the configured one, so that a client cannot make a
// stalled transfer hold its slot longer than the server allows.
func (x *xfer) negotiate(req rrq, size int64) []byte {
	x.blksize = 512
	var oack []byte
	add := func(name, value string) {
		if oack == nil {
			oack = binary.BigEndian.AppendUint16(make([]byte, 0, 64), opOACK)
		}
		oack = append(append(append(append(oack, name...), 0), value...), 0)
	}
	for _, o := range req.opts {
		switch o.name {
		case "blksize":
			n, _ := strconv.Atoi(o.value) // parseRRQ checked it
			if n < minBlockSize {
				continue
			}
			n = min(n, x.s.cfg.MaxBlockSize)
			x.blksize, x.blkopt = n, strconv.Itoa(n)
			add("blksize", x.blkopt)
		case "tsize":
			if size >= 0 {
				add("tsize", strconv.FormatInt(size, 10))
			}
		}
	}
	if d := time.Duration(req.timeout) * time.Second; d > 0 && d <= x.s.cfg.Timeout {
		x.timeout = d
		add("timeout", strconv.Itoa(req.timeout))
	}
	return oack
}

// send runs the transfer: the OACK if any, then every block, each sent again
// only when its acknowledgement does not come in time.
func (x *xfer) send(body io.Reader, oack []byte) error {
	if oack != nil {
		if err := x.exchange(oack, 0); err != nil {
			return err
		}
	}
	bp := getBuf(4 + x.blksize)
	defer putBuf(bp)
	buf := (*bp)[:4+x.blksize]
	binary.BigEndian.PutUint16(buf, opDATA)
	// The block number wraps to 0 after 65535, as the common clients expect.
	for block := uint16(1); ; block++ {
		n, err := io.ReadFull(body, buf[4:])
		last := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			x.sendError(errUndefined, "read error")
			return fmt.Errorf("reading the file: %w", err)
		}
		binary.BigEndian.PutUint16(buf[2:], block)
		if err := x.exchange(buf[:4+n], block); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// exchange sends p and waits for the ACK of block, sending p again after each
// timeout. A duplicate ACK of an earlier block is ignored, never answered
// with a resend: answering it doubles every later block (the Sorcerer's
// Apprentice syndrome, RFC 1123 4.2.3.1).
func (x *xfer) exchange(p []byte, block uint16) error {
	for try := 0; try < x.sends; try++ {
		if err := x.conn.SetReadDeadline(time.Now().Add(x.timeout)); err != nil {
			return err
		}
		var n int
		var err error
		if try == 0 && x.raw != nil {
			n, err = x.sendRecv(p)
		} else {
			// A retransmission: the answer to an earlier send may already
			// wait in the socket, so the plain way, which reads first.
			if _, err := x.conn.Write(p); err != nil {
				return fmt.Errorf("sending block %d: %w", block, err)
			}
			n, err = x.conn.Read(x.rbuf[:])
		}
		for {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				return fmt.Errorf("block %d: %w", block, err)
			}
			if acked, err := reply(x.rbuf[:n], block); acked || err != nil {
				return err
			}
			n, err = x.conn.Read(x.rbuf[:])
		}
	}
	return fmt.Errorf("timeout: block %d not acknowledged after %d sends", block, x.sends)
}

// sendRecv sends p and reads the first datagram after it, saving the read
// that a plain Write and Read make first and that fails with EAGAIN because
// the answer cannot be there yet: one system call of three per block, the
// biggest single cost of a small transfer. The send happens inside the raw
// read, after the runtime has reset the socket's readiness, so that an answer
// arriving at once is not missed (sending before the raw read could lose its
// wakeup until the deadline). A datagram that was already waiting before the
// send (a duplicate ACK) is read at the next one's arrival.
func (x *xfer) sendRecv(p []byte) (int, error) {
	var n int
	var werr, rerr error
	sent := false
	err := x.raw.Read(func(fd uintptr) bool {
		if !sent {
			sent = true
			_, werr = syscall.Write(int(fd), p)
			return werr != nil
		}
		n, rerr = syscall.Read(int(fd), x.rbuf[:])
		return !errors.Is(rerr, syscall.EAGAIN)
	})
	switch {
	case errors.Is(werr, syscall.EAGAIN):
		// The send buffer is full (rare for UDP): the plain way.
		if _, err := x.conn.Write(p); err != nil {
			return 0, err
		}
		return x.conn.Read(x.rbuf[:])
	case werr != nil:
		return 0, os.NewSyscallError("write", werr)
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	}
	return n, nil
}

// reply reads a client's datagram during a transfer: the ACK of block, an
// ERROR (the client gives up), or anything else, which is ignored (a
// duplicate or stale ACK, a truncated or unknown datagram).
func reply(p []byte, block uint16) (acked bool, err error) {
	if len(p) < 4 {
		return false, nil
	}
	switch binary.BigEndian.Uint16(p) {
	case opACK:
		return binary.BigEndian.Uint16(p[2:]) == block, nil
	case opError:
		msg, _, _ := bytes.Cut(p[4:], []byte{0})
		return false, fmt.Errorf("client error at block %d: code=%d, error: %s",
			block, binary.BigEndian.Uint16(p[2:]), printable(string(msg)))
	}
	return false, nil
}

// sendError tells the client the transfer ends (best effort).
func (x *xfer) sendError(code uint16, msg string) {
	x.conn.Write(errorPacket(code, msg)) //nolint:errcheck // best effort, like any UDP answer
}

// done logs the transfer and counts its bytes or its failure.
func (x *xfer) done(err error) {
	s := x.s
	tenant := x.tenant
	if tenant == "" {
		tenant = noTenant
	}
	switch {
	case err == nil:
		s.m.bytes.WithLabelValues(tenant).Add(float64(x.bytes))
	case x.started:
		s.m.errors.WithLabelValues(tenant).Inc()
	}
	// At a busy moment these lines are most of a small transfer's cost:
	// they are built only when they are written.
	if !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	args := []any{"src", x.src, "file", printable(x.name), "bytes", x.bytes,
		"took", time.Since(x.start).Round(time.Microsecond).String(), "blksize", x.blkopt}
	if err != nil {
		s.log.Info("tftp transfer failed", append(args, "result", err.Error())...)
		return
	}
	s.log.Info("tftp transfer", append(args, "result", "ok")...)
}

// Send buffers, by size class: the common block sizes (512 to 1468) and the
// rest, up to 65464.
var smallBufs, bigBufs sync.Pool

func getBuf(n int) *[]byte {
	pool, size := &smallBufs, 4+1468
	if n > size {
		pool, size = &bigBufs, 4+65464
	}
	if b, ok := pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, size)
	return &b
}

func putBuf(b *[]byte) {
	if cap(*b) > 4+1468 {
		bigBufs.Put(b)
	} else {
		smallBufs.Put(b)
	}
}

// netascii converts to the netascii of RFC 764 as it reads: LF becomes CR LF
// and CR becomes CR NUL (sentSize counts the same growth).
type netascii struct {
	r        io.Reader
	in       [4096]byte
	off, end int
	err      error
	pend     int // the second byte of a converted one, -1 none
}

func (n *netascii) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		if n.pend >= 0 {
			p[i] = byte(n.pend) //nolint:gosec // G115: pend is a byte or -1, and -1 is not read
			n.pend = -1
			i++
			continue
		}
		if n.off == n.end {
			if n.err != nil || i > 0 {
				break
			}
			n.end, n.err = n.r.Read(n.in[:])
			n.off = 0
			continue
		}
		c := n.in[n.off]
		n.off++
		switch c {
		case '\n':
			p[i], n.pend = '\r', '\n'
		case '\r':
			p[i], n.pend = '\r', 0
		default:
			p[i] = c
		}
		i++
	}
	if i == 0 && n.err != nil {
		return 0, n.err
	}
	return i, nil
}
