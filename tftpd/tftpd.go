package tftpd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/udpbuf"
	"github.com/switchboard-pbx/switchboard/provision"
)

// Config is the "tftp" section of the configuration file.
type Config struct {
	// Listen is the UDP address; empty turns TFTP off.
	Listen string `yaml:"listen"`
	// Timeout is how long one round trip may take before a retransmission.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a block is sent again, after a timeout each,
	// before the transfer is abandoned.
	Retries int `yaml:"retries"`
	// MaxBlockSize caps the blksize a client may negotiate (512-65464).
	MaxBlockSize int `yaml:"max_block_size"`
	// MaxTransfersPerSource is how many transfers one IP address may have running
	// at once; a transfer the client never acknowledges counts until it times out.
	MaxTransfersPerSource int `yaml:"max_transfers_per_source"`
	// MaxTransfers is how many transfers may run at once from all sources.
	MaxTransfers int `yaml:"max_transfers"`
}

// DefaultConfig listens on the standard port. A phone fetches its files one
// after the other, so 8 transfers per address leave room for a few phones
// behind one NAT address, while a spoofed flood earns at most 8 stalled
// transfers of Timeout x Retries each.
func DefaultConfig() Config {
	return Config{Listen: ":69", Timeout: 2 * time.Second, Retries: 5, MaxBlockSize: 65464,
		MaxTransfersPerSource: 8, MaxTransfers: 256}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("listen: %q is not host:port", c.Listen)
		}
	}
	switch {
	case c.Timeout < 100*time.Millisecond || c.Timeout > time.Minute:
		return errors.New("timeout: must be between 100ms and 1m")
	case c.Retries < 1 || c.Retries > 50:
		return errors.New("retries: must be between 1 and 50")
	case c.MaxBlockSize < 512 || c.MaxBlockSize > 65464:
		return errors.New("max_block_size: must be between 512 and 65464")
	case c.MaxTransfersPerSource < 1:
		return errors.New("max_transfers_per_source: must be at least 1")
	case c.MaxTransfers < c.MaxTransfersPerSource:
		return errors.New("max_transfers: must be at least max_transfers_per_source")
	}
	return nil
}

// Server is the TFTP front end.
type Server struct {
	component.Base
	cfg   Config
	log   *slog.Logger
	prov  *provision.Service
	limit *provision.Throttle
	conn  *filterConn
	xfers *transfers
	m     *metrics
	// running counts the transfers of this run of Serve, which waits for them.
	running sync.WaitGroup
	// sockIno is the request socket's inode (its kernel drop counter);
	// dropped holds the drops of the sockets closed before it (HA re-Serve).
	sockIno atomic.Uint64
	dropped atomic.Int64
}

var _ component.Component = (*Server)(nil)

// Name is the TFTP server's component name.
func (s *Server) Name() string { return "tftp" }

// New prepares the server.
func New(cfg Config, log *slog.Logger, prov *provision.Service, limit *provision.Throttle) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tftpd: %w", err)
	}
	return &Server{cfg: cfg, log: log, prov: prov, limit: limit, m: newMetrics(),
		xfers: newTransfers(cfg.MaxTransfersPerSource, cfg.MaxTransfers)}, nil
}

// Bind binds the UDP socket (once: it does nothing while bound).
func (s *Server) Bind(context.Context) error {
	if s.conn != nil {
		return nil
	}
	pc, err := net.ListenPacket("udp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("tftpd: %w", err)
	}
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return fmt.Errorf("tftpd: %s is not a UDP socket", s.cfg.Listen)
	}
	// A boot storm's read requests wait there while the filter catches up: with
	// the default buffer (about 200 KB) thousands were dropped in every storm.
	udpbuf.Grow(uc, udpbuf.Storm)
	c := &filterConn{conn: uc, s: s}
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		if a := la.AddrPort().Addr().Unmap(); !a.IsUnspecified() {
			c.bound = a
		}
	}
	if err := enablePktinfo(uc); err != nil {
		// Without it a wildcard socket answers from the address the kernel
		// picks for the client, which may not be the one the client asked.
		s.log.Warn("destination addresses unknown, replies leave from the kernel's choice", "err", err)
	} else {
		c.pktinfo = true
	}
	s.conn = c
	s.sockIno.Store(udpbuf.Inode(uc))
	s.log.Info("listening", "addr", uc.LocalAddr().String())
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.conn.conn.LocalAddr() }

// Serve answers until ctx ends, then lets running transfers finish and closes the
// socket. It listens first when there is no socket (Serve may run again: HA).
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Bind(ctx); err != nil {
		return err
	}
	conn := s.conn
	defer func() {
		s.dropped.Add(udpbuf.Drops(s.sockIno.Swap(0))) // read before the socket closes
		s.conn = nil
	}()
	eng, err := s.newEngine()
	if err != nil {
		return fmt.Errorf("tftpd: %w", err)
	}
	conn.eng = eng
	errc := make(chan error, 1)
	go func() { errc <- conn.serve() }()
	select {
	case <-ctx.Done():
		conn.conn.Close()
		<-errc //nolint:errcheck // the read loop's error after Close is the close itself
	case err = <-errc:
		conn.conn.Close()
	}
	s.running.Wait()
	eng.stop()
	if err != nil {
		return fmt.Errorf("tftpd: %w", err)
	}
	return nil
}

func transferKey(addr net.UDPAddr, file string) string {
	return addr.IP.String() + "|" + strconv.Itoa(addr.Port) + "|" + file
}

// sentSize is how many bytes body becomes on the wire: in netascii mode (the
// mode lower-cased, as parseRRQ gives it) LF becomes CR LF and CR becomes
// CR NUL (see netascii).
func sentSize(body []byte, mode string) int64 {
	n := int64(len(body))
	if mode == "netascii" {
		n += int64(bytes.Count(body, []byte{'\n'}) + bytes.Count(body, []byte{'\r'}))
	}
	return n
}

// transfers counts running transfers per source address and in all, from the
// moment the filter admits a request to the end of its transfer. A transfer
// the client never acknowledges keeps its slot until it times out, so a
// spoofed source cannot make the server send more than the cap allows.
type transfers struct {
	mu        sync.Mutex
	perSource int
	global    int
	bySource  map[string]int
	total     int
	// pending are admitted requests whose transfer has not started yet (each
	// runs in a goroutine of its own), by transfer key:
	// a retransmitted request starts a transfer of its own, so a key may have
	// several.
	pending map[string][]admission
	// refused are sources refused since they last had a free slot, so that an
	// episode is logged once; refusedAll is the same for the global cap.
	refused    map[string]bool
	refusedAll bool
}

type admission struct {
	ip, mode string
	at       time.Time
}

// pendingTTL is how long an admitted request may wait for its transfer to
// start: it starts at once, unless its goroutine failed to, and then the slot
// must come back.
const pendingTTL = 5 * time.Second

func newTransfers(perSource, global int) *transfers {
	return &transfers{perSource: perSource, global: global, bySource: map[string]int{},
		pending: map[string][]admission{}, refused: map[string]bool{}}
}

// admit takes a slot for a request of src, keyed like the transfer it starts.
// It returns false when src or everyone is at the cap; logSrc and logAll say
// that this refusal starts an episode worth one log line.
func (x *transfers) admit(src, key, mode string, now time.Time) (ok, logSrc, logAll bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.bySource[src] >= x.perSource || x.total >= x.global {
		x.expire(now)
	}
	switch {
	case x.bySource[src] >= x.perSource:
		logSrc = !x.refused[src]
		x.refused[src] = true
		return false, logSrc, false
	case x.total >= x.global:
		logAll = !x.refusedAll
		x.refusedAll = true
		return false, false, logAll
	}
	x.pending[key] = append(x.pending[key], admission{ip: src, mode: mode, at: now})
	x.bySource[src]++
	x.total++
	return true, false, false
}

// start claims the admission of a transfer that begins; release frees its slot.
// mode is the transfer mode as the client sent it.
func (x *transfers) start(src, key string) (mode string, release func()) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if q := x.pending[key]; len(q) > 0 {
		mode = q[0].mode
		if len(q) == 1 {
			delete(x.pending, key)
		} else {
			x.pending[key] = q[1:]
		}
	} else {
		// Its admission expired (or it never had one): it holds a slot anyway
		// while it runs.
		x.bySource[src]++
		x.total++
	}
	var once sync.Once
	return mode, func() { once.Do(func() { x.free(src) }) }
}

func (x *transfers) free(src string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.bySource[src]--
	x.total--
	if x.bySource[src] <= 0 {
		delete(x.bySource, src)
	}
	if x.bySource[src] < x.perSource {
		delete(x.refused, src)
	}
	if x.total < x.global {
		x.refusedAll = false
	}
}

// expire frees the slots of admissions whose transfer never started.
func (x *transfers) expire(now time.Time) {
	for k, q := range x.pending {
		keep := q[:0]
		for _, a := range q {
			if now.Sub(a.at) <= pendingTTL {
				keep = append(keep, a)
				continue
			}
			x.bySource[a.ip]--
			x.total--
			if x.bySource[a.ip] <= 0 {
				delete(x.bySource, a.ip)
			}
		}
		if len(keep) == 0 {
			delete(x.pending, k)
		} else {
			x.pending[k] = keep
		}
	}
}

// TFTP opcodes and error codes (RFC 1350).
const (
	opRRQ   = 1
	opWRQ   = 2
	opError = 5

	errUndefined = 0
	errAccess    = 2
	errIllegal   = 4
)

// filterConn is the listening socket and the filter that answers requests
// which must never become transfers.
type filterConn struct {
	conn *net.UDPConn
	s    *Server
	eng  *engine // runs the transfers of this run of Serve
	// pktinfo: the kernel tells each datagram's destination address, which
	// the answers (the filter's and the transfer's) leave from.
	pktinfo bool
	// bound is the socket's own address when it is not a wildcard: the
	// source of every answer when pktinfo is off.
	bound netip.Addr
}

// serve reads requests until the socket is closed.
func (c *filterConn) serve() error {
	// RFC 2347: a request, options included, fits in 512 octets; a longer one
	// is cut here and so lacks its terminating NULs.
	buf := make([]byte, 4+512)
	oob := make([]byte, oobSize)
	for {
		n, oobn, _, from, err := c.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		local, ifindex := c.bound, 0
		if c.pktinfo {
			if a, i := localOf(oob[:oobn]); a.IsValid() {
				local, ifindex = a, i
			}
		}
		c.handle(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), local, ifindex)
	}
}

// handle answers one datagram on the request port: an error, nothing, or a
// transfer of its own (from local, the address the request was sent to).
func (c *filterConn) handle(p []byte, from netip.AddrPort, local netip.Addr, ifindex int) {
	addr := net.UDPAddrFromAddrPort(from)
	reason, code, ok, t, rerr := c.filter(p, addr)
	if !ok {
		if code >= 0 {
			c.reply(from, local, ifindex, uint16(code), reason) //nolint:gosec // G115: TFTP error codes 0-8
		}
		return
	}
	req, ok := parseRRQ(p)
	if !ok {
		c.reply(from, local, ifindex, errIllegal, "illegal operation: malformed request")
		return
	}
	if !c.admit(req, addr) {
		return
	}
	c.s.running.Add(1)
	c.eng.submit(&job{req: req, ua: addr, peer: from, local: local, t: t, rerr: rerr})
}

// admit takes a transfer slot for a request that passed check; a source (or
// everyone) at the cap is not answered at all: an answer would be what a
// spoofed flood wants, and a real client retransmits its request.
func (c *filterConn) admit(req rrq, ua *net.UDPAddr) bool {
	src := ua.IP.String()
	ok, logSrc, logAll := c.s.xfers.admit(src, transferKey(*ua, req.name), req.mode, time.Now())
	switch {
	case logSrc:
		c.s.log.Warn("too many transfers from one source", "src", src, "max", c.s.cfg.MaxTransfersPerSource)
	case logAll:
		c.s.log.Warn("too many transfers", "src", src, "max", c.s.cfg.MaxTransfers)
	}
	return ok
}

// reply answers on the request port, from the address the request was sent to.
func (c *filterConn) reply(to netip.AddrPort, local netip.Addr, ifindex int, code uint16, msg string) {
	c.conn.WriteMsgUDPAddrPort(errorPacket(code, msg), srcOOB(local, ifindex), to) //nolint:errcheck // best effort, like any UDP answer
}

// errorPacket is an ERROR datagram.
func errorPacket(code uint16, msg string) []byte {
	b := make([]byte, 4, 5+len(msg))
	binary.BigEndian.PutUint16(b, opError)
	binary.BigEndian.PutUint16(b[2:], code)
	return append(append(b, msg...), 0)
}

// check is filter without the resolved target.
func (c *filterConn) check(p []byte, addr net.Addr) (string, int, bool) {
	reason, code, ok, _, _ := c.filter(p, addr)
	return reason, code, ok
}

// filter decides whether a datagram on the request port may start a transfer:
// ok with what the name resolved to (the target and provision's error, for the
// transfer to answer), or the reason and the error code to answer (-1: drop
// silently).
func (c *filterConn) filter(p []byte, addr net.Addr) (string, int, bool, provision.Target, error) {
	src := addr.String()
	if ua, ok := addr.(*net.UDPAddr); ok {
		src = ua.IP.String()
	}
	log := c.s.log
	m := c.s.m
	if len(p) < 4 {
		log.Info("malformed request", "src", src, "bytes", len(p))
		m.request("", resMalformed)
		return "illegal operation", errIllegal, false, provision.Target{}, nil
	}
	op := binary.BigEndian.Uint16(p)
	switch op {
	case opWRQ:
		name, _, _ := strings.Cut(string(p[2:]), "\x00")
		log.Warn("write request refused", "src", src, "file", printable(name))
		m.request("", resDenied)
		return "access violation: this server is read-only", errAccess, false, provision.Target{}, nil
	case opRRQ:
	default:
		// DATA/ACK/ERROR belong to transfers, which have their own ports.
		return "", -1, false, provision.Target{}, nil
	}
	fields := strings.Split(string(p[2:]), "\x00")
	if len(fields) < 3 || fields[len(fields)-1] != "" || fields[0] == "" {
		log.Info("malformed request", "src", src, "bytes", len(p))
		m.request("", resMalformed)
		return "illegal operation: malformed request", errIllegal, false, provision.Target{}, nil
	}
	name, mode := fields[0], strings.ToLower(fields[1])
	if mode != "octet" && mode != "netascii" {
		log.Info("unsupported mode", "src", src, "mode", printable(mode))
		m.request("", resMalformed)
		return "illegal operation: mode must be octet or netascii", errIllegal, false, provision.Target{}, nil
	}
	if len(fields)%2 != 1 {
		log.Info("malformed options", "src", src)
		m.request("", resMalformed)
		return "illegal operation: malformed options", errIllegal, false, provision.Target{}, nil
	}
	// Only answers for names that are not files are throttled: a source that
	// probed too much (or shares its address with one that did) still gets
	// its own files.
	throttled := c.s.limit.Wait(src) > 0
	const slowDown = "too many requests for unknown files: slow down"
	if strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.ContainsAny(name, "\\") || len(name) > 512 {
		if throttled {
			m.throttled.Inc()
			m.request("", resThrottled)
			return slowDown, errUndefined, false, provision.Target{}, nil
		}
		log.Warn("access violation", "src", src, "file", printable(name))
		m.request("", resDenied)
		c.s.limit.Fail(src, name)
		return "access violation", errAccess, false, provision.Target{}, nil
	}
	// Names provision refuses as paths (a percent sign, an empty segment, a
	// control character) are access violations too, answered here before a
	// transfer socket is opened for them.
	t, err := c.s.prov.Resolve(name)
	if err != nil && throttled {
		m.throttled.Inc()
		m.request("", resThrottled)
		return slowDown, errUndefined, false, provision.Target{}, nil
	}
	if errors.Is(err, provision.ErrBadPath) {
		log.Warn("access violation", "src", src, "file", printable(name))
		m.request(t.Tenant, resDenied)
		c.s.limit.Fail(src, name)
		return "access violation", errAccess, false, provision.Target{}, nil
	}
	if needsAuth(t) {
		log.Warn("file needs authentication, refused", "src", src, "file", printable(name))
		m.request(t.Tenant, resDenied)
		return msgNeedsAuth, errAccess, false, provision.Target{}, nil
	}
	// Admitted: a bootstrap hand-out or a device's claim is recorded here, once
	// per request.
	c.s.prov.Served(t, src)
	return "", 0, true, t, err
}

// msgNeedsAuth is the TFTP answer for a file the tenant serves only to requests
// that authenticate: TFTP has no credentials, so it never serves such a file.
const msgNeedsAuth = "access violation: this file needs authentication, fetch it over HTTP(S)"

// needsAuth reports whether HTTP would demand credentials for the target: a file
// carrying secrets of a tenant with provisioning authentication on.
func needsAuth(t provision.Target) bool { return t.File != nil && t.Auth.Required() }

// printable keeps log lines one line long whatever a client sends.
// A device's secret URL token in the name is masked (provision.LogPath).
func printable(s string) string {
	s = provision.LogPath(s)
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
