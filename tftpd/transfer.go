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

// job is a request the filter admitted, handed to the engine.
type job struct {
	req   rrq
	ua    *net.UDPAddr
	peer  netip.AddrPort
	local netip.Addr // the address the request was sent to, zero: unknown
	t     provision.Target
	rerr  error // provision's answer for the name
}

// xfer is one transfer's state.
type xfer struct {
	s       *Server
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
	release func() // frees the admission slot

	// The engine's part (engine.go).
	fd    int       // the transfer's socket, bound and connected
	body  io.Reader // what is left to send, netascii already converted
	file  *os.File  // an asset's, closed at the end
	bufp  *[]byte   // pooled DATA buffer
	pkt   []byte    // the datagram awaiting its ACK (OACK or DATA)
	block uint16    // the block number that ACK carries (0 for the OACK)
	last  bool      // pkt is the last DATA block
	sent  int       // times pkt was sent
	due   time.Time // when pkt is sent again (or the transfer given up)
	hidx  int       // index in the loop's timer heap
}

// open finds what the transfer sends (x.body, with its size on the wire, -1
// unknown) for an admitted request whose socket is ready. When there is
// nothing to send it answers the client itself and returns false, with the
// transfer's result (nil: end without a log line, as for a file that vanished
// from disk).
func (x *xfer) open(j *job, mode string) (size int64, ok bool, result error) {
	s, t := x.s, j.t
	switch {
	case j.rerr != nil:
		if t.MAC != "" {
			s.prov.SeeUnknown(t.Tenant, t.MAC, x.src, "tftp", t.Name)
		}
		s.m.request(t.Tenant, resNotFound)
		s.limit.Fail(x.src, j.req.name)
		code, msg := uint16(errNotFound), "file not found"
		if errors.Is(j.rerr, provision.ErrBadPath) {
			code, msg = errAccess, "access violation"
		}
		x.sendError(code, msg)
		return 0, false, errors.New(msg)
	case t.File != nil:
		x.started, x.bytes = true, int64(t.File.Size)
		x.body, size = bytes.NewReader(t.File.Body), sentSize(t.File.Body, mode)
	case t.Asset != nil:
		f, err := os.Open(s.prov.AssetPath(t.Asset))
		if err != nil {
			s.log.Error("asset missing on disk", "file", t.Name, "err", err)
			x.sendError(errNotFound, "file not found")
			return 0, false, nil
		}
		x.file = f
		x.started, x.bytes = true, t.Asset.Size
		// The converted size of a netascii asset is unknown without reading
		// it: tsize is then left out of the OACK rather than guessed. The
		// file is read 64 KB at a time, not one block at a time: a read
		// system call per block would be a third of a firmware transfer's.
		x.body, size = bufio.NewReaderSize(f, 64<<10), t.Asset.Size
		if mode == "netascii" {
			size = -1
		}
	default:
		x.sendError(errNotFound, "file not found")
		return 0, false, errors.New("file not found")
	}
	s.m.request(t.Tenant, resServed)
	if mode == "netascii" {
		x.body = &netascii{r: x.body, pend: -1}
	}
	return size, true, nil
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
