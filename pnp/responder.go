package pnp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// Group is the SIP multicast group (RFC 3261 10.2.1, "sip.mcast.net").
var Group = netip.MustParseAddr("224.0.1.75")

// Provisioner is what the responder needs of the provisioning service.
type Provisioner interface {
	FindMAC(mac string) []provision.DeviceRef
	Lookup(tenant, name string) (*provision.File, bool)
	TokenOf(tenant, device string) string
	ProvisioningURL(tenant string) string
	Tenants(ctx context.Context) ([]provision.Tenant, error)
	DefaultTenant() string
	Mode() string
	SeeUnknown(tenant, mac, ip, userAgent, file string)
}

// Stats are the responder's counters (exported as Prometheus counters by serve).
type Stats struct {
	Received, Malformed, Throttled, Retransmitted, Ignored, Answered atomic.Uint64
	NotifyRetransmits, NotifyAnswered, NotifyTimedOut, Dropped       atomic.Uint64
}

// Server is the PnP responder.
type Server struct {
	component.Base
	cfg   Config
	log   *slog.Logger
	prov  Provisioner
	ident *Identifier
	limit *ratelimit.Limiter
	stats Stats

	group   *ipv4.PacketConn
	groupPC net.PacketConn
	uc      *net.UDPConn
	ifaces  map[int]*iface // joined interfaces by index

	mu     sync.Mutex
	subs   map[string]*serverTx // SUBSCRIBE key -> what we answered
	notify map[string]*clientTx // NOTIFY branch -> transaction
	closed bool

	refMu sync.Mutex
	refs  map[string]cachedRef // MAC -> where FindMAC found it

	tenantMu  sync.Mutex
	tenantIDs map[string]string // name or UUID -> UUID
	tenantAt  time.Time

	recent recent // the newest decisions, for State

	// OnNotifyDone, when set, is called when a NOTIFY transaction ends (tests).
	OnNotifyDone func(answered bool)
}

// cachedRef spares FindMAC's scan of the tenant's files during a boot storm of
// configured phones; it is trusted for 10 s and only while the file it names is
// still that MAC's.
type cachedRef struct {
	ref provision.DeviceRef
	at  time.Time
}

type iface struct {
	name  string
	index int
	mu    sync.Mutex
	addrs []netip.Prefix
	at    time.Time
}

// serverTx remembers one SUBSCRIBE for 64*T1: a retransmission gets the same 200
// OK again and never a second NOTIFY.
type serverTx struct {
	ok   []byte // the 200 OK; nil when the SUBSCRIBE was ignored
	dst  netip.AddrPort
	seen time.Time
}

// clientTx is one NOTIFY, retransmitted on Timer E until a final answer or
// Timer F (RFC 3261 17.1.2.2).
type clientTx struct {
	pkt      []byte
	dst      netip.AddrPort
	start    time.Time
	interval time.Duration // the current Timer E interval
	due      time.Duration // when the timer fires next, from start
	timer    *time.Timer
}

// New checks the configuration; Listen opens the sockets.
func New(cfg Config, log *slog.Logger, prov Provisioner, brands []provision.Brand) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pnp: %w", err)
	}
	if prov.Mode() == provision.ModeMulti && len(cfg.Tenants) == 0 && cfg.Unknown == UnknownBootstrap {
		log.Warn("multi-tenant mode without pnp.tenants: unknown phones cannot be given a tenant and are ignored")
	}
	return &Server{
		cfg: cfg, log: log, prov: prov, ident: NewIdentifier(brands),
		limit: ratelimit.New(cfg.RateBurst, cfg.RateInterval),
		subs:  map[string]*serverTx{}, notify: map[string]*clientTx{}, refs: map[string]cachedRef{},
	}, nil
}

var _ component.Component = (*Server)(nil)

// Name is the PnP responder's component name.
func (s *Server) Name() string { return "pnp" }

// Stats returns the live counters.
func (s *Server) Stats() *Stats { return &s.stats }

// NotifyAddr is the unicast socket's address (after Listen).
func (s *Server) NotifyAddr() net.Addr { return s.uc.LocalAddr() }

// Bind binds the group socket to 224.0.1.75:port (never the wildcard, which
// would take the PBX's unicast 5060), joins the group on each interface, and
// binds the unicast socket. It does nothing when the sockets are open.
func (s *Server) Bind(context.Context) error {
	s.mu.Lock()
	bound := s.uc != nil && !s.closed
	s.mu.Unlock()
	if bound {
		return nil
	}
	ifs, err := s.interfaces()
	if err != nil {
		return err
	}
	pc, err := groupSocket(s.cfg.Port)
	if err != nil {
		return fmt.Errorf("pnp: group socket: %w", err)
	}
	p := ipv4.NewPacketConn(pc)
	if err := p.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true); err != nil {
		pc.Close()
		return fmt.Errorf("pnp: group socket: %w", err)
	}
	s.ifaces = map[int]*iface{}
	for _, ifi := range ifs {
		if err := p.JoinGroup(&ifi, &net.UDPAddr{IP: Group.AsSlice()}); err != nil {
			pc.Close()
			return fmt.Errorf("pnp: joining %s on %s: %w", Group, ifi.Name, err)
		}
		ic := &iface{name: ifi.Name, index: ifi.Index}
		ic.refresh()
		s.ifaces[ifi.Index] = ic
	}
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{Port: s.cfg.NotifyPort})
	if err != nil {
		pc.Close()
		return fmt.Errorf("pnp: notify socket: %w", err)
	}
	if rc, err := uc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { bigBuffer(int(fd)) }) //nolint:errcheck // best effort
	}
	s.mu.Lock()
	s.group, s.groupPC, s.uc = p, pc, uc
	s.closed = false
	s.mu.Unlock()
	return nil
}

// groupSocket binds a UDP socket to 224.0.1.75:port itself. net.ListenPacket
// cannot: given a multicast address it binds the wildcard 0.0.0.0:port, which
// would take unicast 5060 from a PBX on the same host.
func groupSocket(port int) (net.PacketConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "pnp-group")
	defer f.Close() // FilePacketConn dups the descriptor
	// Several responders (or a restart) may share the group port.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	// Only the groups this socket joined, not every group the host joined.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
		return nil, fmt.Errorf("IP_MULTICAST_ALL: %w", err)
	}
	bigBuffer(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: Group.As4()}); err != nil {
		return nil, fmt.Errorf("bind %s:%d: %w", Group, port, err)
	}
	return net.FilePacketConn(f)
}

// bigBuffer gives a socket room for a boot storm (thousands of phones powered on
// together): 4 MB, beyond net.core.rmem_max when we have CAP_NET_ADMIN. Best
// effort: the default still works, it just drops sooner.
func bigBuffer(fd int) {
	const size = 4 << 20
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size) //nolint:errcheck // best effort
	}
}

// interfaces are the configured ones, or every up, multicast, non-loopback one.
func (s *Server) interfaces() ([]net.Interface, error) {
	if len(s.cfg.Interfaces) > 0 {
		var out []net.Interface
		for _, name := range s.cfg.Interfaces {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return nil, fmt.Errorf("pnp: interface %s: %w", name, err)
			}
			out = append(out, *ifi)
		}
		return out, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("pnp: listing interfaces: %w", err)
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 {
			out = append(out, ifi)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("pnp: no up, multicast-capable interface to join 224.0.1.75 on (set pnp.interfaces)")
	}
	return out, nil
}

// Serve answers until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	// First run, or a run after the last one closed the sockets (HA).
	if err := s.Bind(ctx); err != nil {
		return err
	}
	names := make([]string, 0, len(s.ifaces))
	for _, i := range s.ifaces {
		names = append(names, i.name)
	}
	s.log.Info("listening", "group", netip.AddrPortFrom(Group, uint16(s.cfg.Port)).String(), //nolint:gosec // G115: Validate keeps the port in 1-65535
		"interfaces", strings.Join(names, ","), "notify", s.uc.LocalAddr().String(), "unknown", s.cfg.Unknown)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.readGroup() }()
	go func() { defer wg.Done(); s.readUnicast() }()
	go func() { defer wg.Done(); s.sweep(ctx) }()
	<-ctx.Done()
	s.mu.Lock()
	s.closed = true
	for k, tx := range s.notify {
		tx.timer.Stop()
		delete(s.notify, k)
	}
	s.mu.Unlock()
	s.groupPC.Close()
	s.uc.Close()
	wg.Wait()
	return nil
}

func (s *Server) readGroup() {
	buf := make([]byte, maxPacket+1)
	for {
		n, cm, src, err := s.group.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("reading the group socket", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		ua, ok := src.(*net.UDPAddr)
		if !ok || cm == nil || (cm.Dst != nil && !cm.Dst.Equal(Group.AsSlice())) {
			continue
		}
		ap := ua.AddrPort()
		s.handle(buf[:n], netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), cm.IfIndex)
	}
}

func (s *Server) readUnicast() {
	buf := make([]byte, maxPacket+1)
	for {
		n, src, err := s.uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("reading the notify socket", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.handleResponse(buf[:n], src)
	}
}

// handle answers one datagram from the group. Nothing here may panic on what the
// network sends: the parser is fuzzed, and every header used was checked there.
func (s *Server) handle(data []byte, src netip.AddrPort, ifindex int) {
	ifc := s.ifaces[ifindex]
	if ifc == nil {
		return // joined elsewhere by someone else
	}
	s.stats.Received.Add(1)
	ip := src.Addr().String()
	if s.limit.Wait(ip) > 0 {
		s.stats.Throttled.Add(1)
		return
	}
	if s.limit.Fail(ip) {
		s.log.Warn("too many SUBSCRIBEs, throttling", "src", ip)
	}
	sub, err := ParseSubscribe(data)
	if err != nil {
		s.stats.Malformed.Add(1)
		s.log.Debug("not answered", "src", src.String(), "err", err)
		return
	}
	now := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if tx, ok := s.subs[sub.Key]; ok {
		s.mu.Unlock()
		s.stats.Retransmitted.Add(1)
		if tx.ok != nil {
			s.send(tx.ok, tx.dst)
		}
		return
	}
	if len(s.subs) >= s.cfg.MaxTransactions {
		s.mu.Unlock()
		s.stats.Dropped.Add(1)
		return
	}
	tx := &serverTx{seen: now}
	s.subs[sub.Key] = tx
	s.mu.Unlock()

	v := s.ident.Identify(sub.EventVendor, sub.EventModel, sub.UserAgent, sub.MAC)
	body, tenant, known := s.decide(sub, v, ifc.name, ip)
	log := s.log.With("src", src.String(), "mac", sub.MAC.String(), "vendor", v.Brand, "model", v.Model, "interface", ifc.name)
	seen := Sighting{Time: now.UTC(), MAC: sub.MAC.String(), Source: src.String(), Interface: ifc.name, Vendor: v.Brand, Model: v.Model,
		Known: known, Tenant: tenant}
	if body == "" {
		s.stats.Ignored.Add(1)
		s.recent.add(seen)
		log.Debug("SUBSCRIBE ignored")
		return
	}
	local := ifc.localFor(src.Addr())
	if !local.IsValid() {
		s.stats.Ignored.Add(1)
		s.recent.add(seen)
		log.Warn("no IPv4 address on the interface to answer from")
		return
	}
	// The state is shown to readers: the device's token is masked there as
	// in the log.
	seen.Answered, seen.URL = true, provision.LogPath(body)
	s.recent.add(seen)
	lport := uint16(s.uc.LocalAddr().(*net.UDPAddr).Port) //nolint:gosec // G115: a bound UDP port fits 16 bits
	tag := randHex(8)
	ok := build200(sub, tag, netip.AddrPortFrom(local, lport), src)
	dst := replyAddr(sub.Req, src)
	s.mu.Lock()
	tx.ok, tx.dst = ok, dst
	s.mu.Unlock()
	s.send(ok, dst)
	s.stats.Answered.Add(1)

	branch := sip.RFC3261BranchMagicCookie + "." + randHex(12)
	pkt := buildNotify(sub, tag, branch, netip.AddrPortFrom(local, lport), body)
	ctx := &clientTx{pkt: pkt, dst: notifyAddr(sub.Req, src), start: time.Now(), interval: s.cfg.T1, due: s.cfg.T1}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.notify[branch] = ctx
	ctx.timer = time.AfterFunc(s.cfg.T1, func() { s.retransmit(branch) })
	s.mu.Unlock()
	s.send(pkt, ctx.dst)
	log.Info("provisioning URL sent", "tenant", tenant, "known", known, "url", provision.LogPath(body))
}

// decide applies the policy: a configured MAC gets its tenant's URL; an unknown
// one nothing, or the bootstrap URL and a place on the "seen" list.
func (s *Server) decide(sub *Subscribe, v Vendor, ifname, ip string) (body, tenant string, known bool) {
	mac := sub.MAC.String()
	mapped, mapErr := s.mapTenant(ifname, mac)
	if mapErr != nil {
		s.log.Warn("tenant map", "err", mapErr)
		return "", "", false
	}
	refs := s.findMAC(mac)
	if mapped != "" {
		var in []provision.DeviceRef
		for _, r := range refs {
			if r.Tenant == mapped {
				in = append(in, r)
			}
		}
		refs = in
	}
	switch {
	case len(refs) == 1:
		// The device's secret directory: the one way to its file in a tenant
		// with secure URLs.
		return knownURL(v.Brand, provision.DeviceDir(s.prov.ProvisioningURL(refs[0].Tenant), refs[0].Token), refs[0].File), refs[0].Tenant, true
	case len(refs) > 1:
		s.log.Warn("MAC configured in several tenants: map it with pnp.tenants", "mac", mac)
		return "", "", false
	}
	if s.cfg.Unknown != UnknownBootstrap {
		return "", "", false
	}
	tenant = mapped
	if tenant == "" && s.prov.Mode() != provision.ModeMulti {
		tenant = s.prov.DefaultTenant()
	}
	if tenant == "" {
		return "", "", false
	}
	s.prov.SeeUnknown(tenant, mac, ip, sub.UserAgent, "(sip pnp)")
	model := v.Model
	return bootstrapURL(s.cfg.BootstrapURL, s.prov.ProvisioningURL(tenant), v.Brand, mac, macLower(sub.MAC), model, tenant), tenant, false
}

// findMAC is FindMAC through the cache.
func (s *Server) findMAC(mac string) []provision.DeviceRef {
	s.refMu.Lock()
	c, ok := s.refs[mac]
	s.refMu.Unlock()
	if ok && time.Since(c.at) < 10*time.Second {
		if f, ok := s.prov.Lookup(c.ref.Tenant, c.ref.File); ok && f.MAC == mac {
			// A renewed token reaches the next answer: the old one no
			// longer opens anything.
			ref := c.ref
			ref.Token = s.prov.TokenOf(ref.Tenant, ref.Device)
			return []provision.DeviceRef{ref}
		}
	}
	refs := s.prov.FindMAC(mac)
	s.refMu.Lock()
	if len(refs) == 1 && refs[0].File != "" {
		if len(s.refs) >= s.cfg.MaxTransactions {
			clear(s.refs)
		}
		s.refs[mac] = cachedRef{refs[0], time.Now()}
	} else {
		delete(s.refs, mac)
	}
	s.refMu.Unlock()
	return refs
}

// mapTenant is the UUID of the first pnp.tenants entry matching the interface
// and MAC, or "".
func (s *Server) mapTenant(ifname, mac string) (string, error) {
	for _, m := range s.cfg.Tenants {
		if m.Interface != "" && m.Interface != ifname {
			continue
		}
		if m.MACPrefix != "" {
			p, _ := normPrefix(m.MACPrefix)
			if !strings.HasPrefix(mac, p) {
				continue
			}
		}
		return s.tenantID(m.Tenant)
	}
	return "", nil
}

// tenantID resolves a tenant name or UUID, from a list re-read at most every 10 s.
func (s *Server) tenantID(ref string) (string, error) {
	s.tenantMu.Lock()
	defer s.tenantMu.Unlock()
	id, ok := s.tenantIDs[ref]
	if ok && time.Since(s.tenantAt) < 10*time.Second {
		return id, nil
	}
	if time.Since(s.tenantAt) >= 10*time.Second || s.tenantIDs == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		list, err := s.prov.Tenants(ctx)
		cancel()
		if err != nil {
			return "", fmt.Errorf("listing tenants: %w", err)
		}
		s.tenantIDs = map[string]string{}
		for _, t := range list {
			s.tenantIDs[t.Name] = t.ID
			s.tenantIDs[t.ID] = t.ID
		}
		s.tenantAt = time.Now()
	}
	if id, ok := s.tenantIDs[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("pnp.tenants names tenant %q, which does not exist", ref)
}

// retransmit is Timer E: resend, double the interval up to T2; Timer F (64*T1)
// ends the transaction. The schedule is kept relative to the first send, so that
// late wake-ups on a busy host do not push retransmissions past Timer F: a copy
// scheduled before 64*T1 is always sent.
func (s *Server) retransmit(branch string) {
	s.mu.Lock()
	tx, ok := s.notify[branch]
	if !ok || s.closed {
		s.mu.Unlock()
		return
	}
	limit := 64 * s.cfg.T1
	if tx.due >= limit {
		delete(s.notify, branch)
		s.mu.Unlock()
		s.stats.NotifyTimedOut.Add(1)
		s.log.Info("NOTIFY not answered, giving up", "dst", tx.dst.String())
		if f := s.OnNotifyDone; f != nil {
			f(false)
		}
		return
	}
	tx.interval = min(2*tx.interval, s.cfg.T2)
	tx.due = min(tx.due+tx.interval, limit)
	tx.timer.Reset(time.Until(tx.start.Add(tx.due)))
	s.mu.Unlock()
	s.stats.NotifyRetransmits.Add(1)
	s.send(tx.pkt, tx.dst)
}

// handleResponse ends the NOTIFY transaction a final response names.
func (s *Server) handleResponse(data []byte, src netip.AddrPort) {
	branch, status, ok := parseNotifyResponse(data)
	if !ok {
		return
	}
	s.mu.Lock()
	tx, ok := s.notify[branch]
	if !ok {
		s.mu.Unlock()
		return
	}
	if status < 200 {
		// Proceeding: retransmit at T2 from now on (17.1.2.2).
		tx.interval = s.cfg.T2 / 2 // doubled to T2 at the next firing
		s.mu.Unlock()
		return
	}
	tx.timer.Stop()
	delete(s.notify, branch)
	s.mu.Unlock()
	s.stats.NotifyAnswered.Add(1)
	if status >= 300 {
		s.log.Info("NOTIFY refused", "src", src.String(), "status", status)
	}
	if f := s.OnNotifyDone; f != nil {
		f(true)
	}
}

// parseNotifyResponse reads a phone's answer to a NOTIFY: the top Via's branch
// (our transaction) and the status. Anything else is not ok.
func parseNotifyResponse(data []byte) (branch string, status int, ok bool) {
	if len(data) > maxPacket {
		return "", 0, false
	}
	msg, err := sip.ParseMessage(data)
	if err != nil {
		return "", 0, false
	}
	res, isRes := msg.(*sip.Response)
	if !isRes {
		return "", 0, false
	}
	via, cseq := res.Via(), res.CSeq()
	if via == nil || cseq == nil || cseq.MethodName != sip.NOTIFY || res.StatusCode < 100 || res.StatusCode > 699 {
		return "", 0, false
	}
	branch, _ = via.Params.Get("branch")
	return branch, res.StatusCode, branch != ""
}

// sweep forgets SUBSCRIBEs after 64*T1 (Timer J), when retransmissions have stopped.
func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(max(s.cfg.T1, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			for k, tx := range s.subs {
				if now.Sub(tx.seen) > 64*s.cfg.T1 {
					delete(s.subs, k)
				}
			}
			s.mu.Unlock()
		}
	}
}

func (s *Server) send(pkt []byte, dst netip.AddrPort) {
	if _, err := s.uc.WriteToUDPAddrPort(pkt, dst); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("send failed", "dst", dst.String(), "err", err)
	}
}

// localFor is the interface's IPv4 address on the source's subnet, else its
// first IPv4 address. The addresses are read at Listen and re-read (at most every
// 10 s) only when no address covers a source, e.g. after a DHCP renewal.
func (i *iface) localFor(src netip.Addr) netip.Addr {
	i.mu.Lock()
	defer i.mu.Unlock()
	if a, ok := i.match(src); ok {
		return a
	}
	if time.Since(i.at) > 10*time.Second {
		i.refresh()
		if a, ok := i.match(src); ok {
			return a
		}
	}
	if len(i.addrs) > 0 {
		return i.addrs[0].Addr()
	}
	return netip.Addr{}
}

func (i *iface) match(src netip.Addr) (netip.Addr, bool) {
	for _, p := range i.addrs {
		if p.Contains(src) {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// refresh re-reads the interface's IPv4 addresses (i.mu held).
func (i *iface) refresh() {
	i.at = time.Now()
	ifi, err := net.InterfaceByIndex(i.index)
	if err != nil {
		return
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return
	}
	i.addrs = i.addrs[:0]
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
				ones, _ := n.Mask.Size()
				i.addrs = append(i.addrs, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
	}
}

func randHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rand.IntN(16)] //nolint:gosec // G404: a SIP tag or branch must be unique, not secret
	}
	return string(b)
}

// build200 is the 200 OK to a SUBSCRIBE: its Via, From, Call-ID and CSeq, the To
// with our tag, our Contact and Expires: 0 (RFC 6665 4.2.1.1).
func build200(sub *Subscribe, tag string, local, src netip.AddrPort) []byte {
	req := sub.Req
	req.SetSource(src.String())
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if to := res.To(); to != nil {
		to.Params.Add("tag", tag)
	}
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: local.Addr().String(), Port: int(local.Port())}})
	exp := sip.ExpiresHeader(0)
	res.AppendHeader(&exp)
	res.AppendHeader(sip.NewHeader("Server", "Switchboard PnP"))
	res.SetBody(nil)
	return []byte(res.String())
}

// buildNotify is the NOTIFY in the SUBSCRIBE's dialog (RFC 6665 4.2.2, RFC 3261
// 12.2.1.1): From and To swapped (From carries our tag, To the phone's), the same
// Call-ID, our own CSeq, the Contact as Request-URI, and the URL as the body.
func buildNotify(sub *Subscribe, tag, branch string, local netip.AddrPort, body string) []byte {
	req := sub.Req
	var target sip.Uri
	if c := req.Contact(); c != nil {
		target = *c.Address.Clone()
	} else {
		target = *req.From().Address.Clone()
	}
	n := sip.NewRequest(sip.NOTIFY, target)
	vp := sip.NewParams()
	vp.Add("branch", branch)
	n.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
		Host: local.Addr().String(), Port: int(local.Port()), Params: vp})
	mf := sip.MaxForwardsHeader(70)
	n.AppendHeader(&mf)
	from := req.To()
	fp := sip.NewParams()
	fp.Add("tag", tag)
	n.AppendHeader(&sip.FromHeader{DisplayName: from.DisplayName, Address: *from.Address.Clone(), Params: fp})
	to := req.From()
	n.AppendHeader(&sip.ToHeader{DisplayName: to.DisplayName, Address: *to.Address.Clone(), Params: to.Params.Clone()})
	cid := *req.CallID()
	n.AppendHeader(&cid)
	n.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.NOTIFY})
	n.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: local.Addr().String(), Port: int(local.Port())}})
	ev := "ua-profile"
	if sub.EventID != "" {
		ev += ";id=" + sub.EventID
	}
	n.AppendHeader(sip.NewHeader("Event", ev))
	n.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=timeout"))
	ct := sip.ContentTypeHeader("application/url")
	n.AppendHeader(&ct)
	n.AppendHeader(sip.NewHeader("User-Agent", "Switchboard PnP"))
	n.SetBody([]byte(body))
	return []byte(n.String())
}
