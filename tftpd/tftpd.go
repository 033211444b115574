package tftpd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/provision"
)

// Config is the "tftp" section of the configuration file.
type Config struct {
	// Listen is the UDP address; empty turns TFTP off.
	Listen string `yaml:"listen"`
	// Timeout is how long one round trip may take before a retransmission.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times a block is sent before the transfer is abandoned.
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
	sizes sync.Map // transfer key -> sent, read by the hook
	xfers *transfers
	m     *metrics
}

// sent is what the hook needs of a transfer: its size and tenant.
type sent struct {
	bytes  int64
	tenant string
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

// newLib is the library's server for one run of Serve (it cannot serve again once
// shut down).
func (s *Server) newLib() *tftp.Server {
	srv := tftp.NewServer(s.read, nil)
	srv.SetTimeout(s.cfg.Timeout)
	srv.SetRetries(s.cfg.Retries)
	// The filter hides the *net.UDPConn from the library, which then cannot learn
	// the interface MTU: honour the client's blksize up to our cap instead.
	srv.SetBlockSizeNegotiation(false)
	srv.SetBlockSize(s.cfg.MaxBlockSize)
	srv.SetHook(hook{s})
	return srv
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
	s.conn = &filterConn{PacketConn: pc, s: s}
	s.log.Info("listening", "addr", pc.LocalAddr().String())
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Serve answers until ctx ends, then lets running transfers finish and closes the
// socket. It listens first when there is no socket (Serve may run again: HA).
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Bind(ctx); err != nil {
		return err
	}
	conn := s.conn
	defer func() { conn.Close(); s.conn = nil }()
	srv := s.newLib()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(conn) }()
	select {
	case <-ctx.Done():
		srv.Shutdown()
		<-errc //nolint:errcheck // Serve's error after Shutdown is the shutdown itself
		return nil
	case err := <-errc:
		return fmt.Errorf("tftpd: %w", err)
	}
}

func transferKey(addr net.UDPAddr, file string) string {
	return addr.IP.String() + "|" + fmt.Sprint(addr.Port) + "|" + file
}

// read is the library's read handler: it only ever sees filtered requests,
// each admitted against the transfer caps by the filter; the slot is freed when
// the transfer ends (done, failed or timed out).
func (s *Server) read(filename string, rf io.ReaderFrom) error {
	ot := rf.(tftp.OutgoingTransfer)
	raddr := ot.RemoteAddr()
	ip := raddr.IP.String()
	key := transferKey(raddr, filename)
	mode, release := s.xfers.start(ip, key)
	defer release()
	t, err := s.prov.Resolve(filename)
	if err != nil {
		if t.MAC != "" {
			s.prov.SeeUnknown(t.Tenant, t.MAC, ip, "tftp", t.Name)
		}
		s.m.request(t.Tenant, resNotFound)
		s.limit.Fail(ip, filename)
		if errors.Is(err, provision.ErrBadPath) {
			return errors.New("access violation")
		}
		return errors.New("file not found")
	}
	switch {
	case needsAuth(t):
		// The filter refused it already; the tenant's setting may have changed
		// between the filter and here.
		s.log.Warn("file needs authentication, refused", "src", ip, "file", printable(filename))
		return errors.New(msgNeedsAuth)
	case t.File != nil:
		s.m.request(t.Tenant, resServed)
		s.sizes.Store(key, sent{int64(t.File.Size), t.Tenant})
		// The OACK carries the real size whatever tsize the client sent (the
		// library would echo any value but 0).
		ot.SetSize(sentSize(t.File.Body, mode))
		_, err = rf.ReadFrom(bytes.NewReader(t.File.Body))
	case t.Asset != nil:
		f, oerr := os.Open(s.prov.AssetPath(t.Asset))
		if oerr != nil {
			s.log.Error("asset missing on disk", "file", t.Name, "err", oerr)
			return errors.New("file not found")
		}
		defer f.Close()
		s.m.request(t.Tenant, resServed)
		s.sizes.Store(key, sent{t.Asset.Size, t.Tenant})
		if mode == "netascii" {
			// The converted size is unknown without reading the file: 0 makes
			// the library leave tsize out of the OACK rather than guess.
			ot.SetSize(0)
		} else {
			ot.SetSize(t.Asset.Size)
		}
		_, err = rf.ReadFrom(f)
	}
	return err
}

// sentSize is how many bytes body becomes on the wire: in netascii mode (the
// filter hands the library the mode lower-cased) the library converts LF to
// CR LF and CR to CR NUL.
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
	// pending are admitted requests whose transfer has not started yet (the
	// library runs the read handler in a goroutine of its own), by transfer key:
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
// start: the library starts it at once, unless it failed to (no socket), and
// then the slot must come back.
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

type hook struct{ s *Server }

func (h hook) log(st tftp.TransferStats, err error) {
	// The library reports its own listener errors through the same hook, with
	// no file: the socket closing at shutdown is not a failed transfer.
	if err != nil && (st.Filename == "" || errors.Is(err, net.ErrClosed)) {
		return
	}
	key := transferKey(net.UDPAddr{IP: st.RemoteAddr, Port: st.Tid}, st.Filename)
	v, _ := h.s.sizes.LoadAndDelete(key)
	x, _ := v.(sent)
	tenant := x.tenant
	if tenant == "" {
		tenant = noTenant
	}
	args := []any{"src", st.RemoteAddr.String(), "file", printable(st.Filename), "bytes", x.bytes,
		"took", st.Duration.Round(time.Microsecond).String(), "blksize", st.Opts["blksize"]}
	if err != nil {
		if v != nil {
			// A transfer that started (not a refusal the read handler answered).
			h.s.m.errors.WithLabelValues(tenant).Inc()
		}
		h.s.log.Info("tftp transfer failed", append(args, "result", err.Error())...)
		return
	}
	h.s.m.bytes.WithLabelValues(tenant).Add(float64(x.bytes))
	h.s.log.Info("tftp transfer", append(args, "result", "ok")...)
}

func (h hook) OnSuccess(st tftp.TransferStats)            { h.log(st, nil) }
func (h hook) OnFailure(st tftp.TransferStats, err error) { h.log(st, err) }

// TFTP opcodes and error codes (RFC 1350).
const (
	opRRQ   = 1
	opWRQ   = 2
	opError = 5

	errUndefined = 0
	errAccess    = 2
	errIllegal   = 4
)

// filterConn sits between the socket and the library and answers requests that
// must never become transfers.
type filterConn struct {
	net.PacketConn
	s *Server
}

func (c *filterConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if reason, code, ok := c.check(p[:n], addr); !ok {
			if code >= 0 {
				c.reply(addr, uint16(code), reason) //nolint:gosec // G115: TFTP error codes 0-8
			}
			continue
		}
		req, ok := parseRRQ(p[:n])
		enc := req.encode()
		if !ok || len(enc) > len(p) {
			c.reply(addr, errIllegal, "illegal operation: malformed request")
			continue
		}
		if !c.admit(req, addr) {
			continue
		}
		return copy(p, enc), addr, nil
	}
}

// admit takes a transfer slot for a request that passed check; a source (or
// everyone) at the cap is not answered at all: an answer would be what a
// spoofed flood wants, and a real client retransmits its request.
func (c *filterConn) admit(req rrq, addr net.Addr) bool {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return true
	}
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

func (c *filterConn) reply(addr net.Addr, code uint16, msg string) {
	b := make([]byte, 4, 5+len(msg))
	binary.BigEndian.PutUint16(b, opError)
	binary.BigEndian.PutUint16(b[2:], code)
	b = append(append(b, msg...), 0)
	c.WriteTo(b, addr) //nolint:errcheck // best effort, like any UDP answer
}

// check decides whether a datagram on the request port may reach the library:
// ok, or the reason and the error code to answer (-1: drop silently).
func (c *filterConn) check(p []byte, addr net.Addr) (string, int, bool) {
	src := addr.String()
	if ua, ok := addr.(*net.UDPAddr); ok {
		src = ua.IP.String()
	}
	log := c.s.log
	m := c.s.m
	if len(p) < 4 {
		log.Info("malformed request", "src", src, "bytes", len(p))
		m.request("", resMalformed)
		return "illegal operation", errIllegal, false
	}
	op := binary.BigEndian.Uint16(p)
	switch op {
	case opWRQ:
		name, _, _ := strings.Cut(string(p[2:]), "\x00")
		log.Warn("write request refused", "src", src, "file", printable(name))
		m.request("", resDenied)
		return "access violation: this server is read-only", errAccess, false
	case opRRQ:
	default:
		// DATA/ACK/ERROR belong to transfers, which have their own ports.
		return "", -1, false
	}
	fields := strings.Split(string(p[2:]), "\x00")
	if len(fields) < 3 || fields[len(fields)-1] != "" || fields[0] == "" {
		log.Info("malformed request", "src", src, "bytes", len(p))
		m.request("", resMalformed)
		return "illegal operation: malformed request", errIllegal, false
	}
	name, mode := fields[0], strings.ToLower(fields[1])
	if mode != "octet" && mode != "netascii" {
		log.Info("unsupported mode", "src", src, "mode", printable(mode))
		m.request("", resMalformed)
		return "illegal operation: mode must be octet or netascii", errIllegal, false
	}
	if len(fields)%2 != 1 {
		log.Info("malformed options", "src", src)
		m.request("", resMalformed)
		return "illegal operation: malformed options", errIllegal, false
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
			return slowDown, errUndefined, false
		}
		log.Warn("access violation", "src", src, "file", printable(name))
		m.request("", resDenied)
		c.s.limit.Fail(src, name)
		return "access violation", errAccess, false
	}
	// Names provision refuses as paths (a percent sign, an empty segment, a
	// control character) are access violations too. They are answered here
	// because the library sends every read-handler error as code 1.
	t, err := c.s.prov.Resolve(name)
	if err != nil && throttled {
		m.throttled.Inc()
		m.request("", resThrottled)
		return slowDown, errUndefined, false
	}
	if errors.Is(err, provision.ErrBadPath) {
		log.Warn("access violation", "src", src, "file", printable(name))
		m.request(t.Tenant, resDenied)
		c.s.limit.Fail(src, name)
		return "access violation", errAccess, false
	}
	if needsAuth(t) {
		log.Warn("file needs authentication, refused", "src", src, "file", printable(name))
		m.request(t.Tenant, resDenied)
		return msgNeedsAuth, errAccess, false
	}
	// Admitted: a bootstrap hand-out or a device's claim is recorded here, once
	// per request (the read handler resolves the name again).
	c.s.prov.Served(t, src)
	return "", 0, true
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
