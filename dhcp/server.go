package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/udpbuf"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Lease states kept in the store.
const (
	StateBound    = "bound"
	StateReleased = "released"
	StateDeclined = "declined"
)

// LeaseStore persists leases; *store.Store is one.
type LeaseStore interface {
	// PutDHCPLeases writes leases in one transaction, in order.
	PutDHCPLeases(ctx context.Context, ls []store.DHCPLease) error
	DHCPLeases(ctx context.Context) ([]store.DHCPLease, error)
}

// Directory tells which tenant a MAC belongs to and where that tenant's
// provisioning tree is.
type Directory interface {
	// TenantOf returns the tenant of the device with mac (AABBCCDDEEFF), or "" when
	// no tenant knows it.
	TenantOf(ctx context.Context, mac string) string
	// URL is the provisioning URL of tenant ("" = the fallback tree).
	URL(tenant string) string
	// DeviceURL is the secret directory of tenant's device with mac (its
	// tenant's URL and its token), or URL(tenant) when it has none.
	DeviceURL(tenant, mac string) string
}

// offer is an address set aside for a client between OFFER and REQUEST.
type offer struct {
	ip    uint32
	until time.Time
}

// Server is the DHCPv4 server.
type Server struct {
	component.Base
	cfg      Config
	log      *slog.Logger
	st       LeaseStore
	dir      Directory
	rules    []rule
	baseURL  string
	fallback string // tenant of unknown MACs

	serverIP       net.IP
	start, end     uint32
	mask           net.IPMask
	subnet         *net.IPNet
	reserveByMAC   map[string]uint32
	reserveByIP    map[uint32]string
	router         net.IP
	dns            []net.IP
	excluded       map[uint32]bool // the server's and router's own addresses
	conn           net.PacketConn
	inflight       chan struct{} // bounds concurrent handlers (server4 starts one per datagram)
	pendingAcks    atomic.Int64  // ACKs waiting for their leases' write
	dropped        atomic.Int64  // by us, and by the kernel on sockets closed since
	sockIno        atomic.Uint64 // the open socket's inode (its kernel drops)
	now            func() time.Time
	persistTimeout time.Duration
	batch          leaseBatch

	mu      sync.Mutex
	leases  map[uint32]*store.DHCPLease
	byMAC   map[string]uint32
	offers  map[string]offer  // by MAC
	offerIP map[uint32]string // the MAC each offered address is held for
	cursor  uint32            // where pick looks for a never-used address first
	nextGC  time.Time         // when gcOffers may read the offers again
}

// New builds a server from a validated, enabled cfg. baseURL is
// provisioning.base_url; brandOUIs maps catalog brands to their OUIs; fallbackTenant
// is the tenant (ID) of phones whose MAC no tenant knows.
func New(cfg Config, log *slog.Logger, st LeaseStore, dir Directory, baseURL string, brandOUIs map[string][]string, fallbackTenant string) (*Server, error) {
	// Checked as enabled whatever the flag says: the pool must parse to be served.
	check := cfg
	check.Enabled = true
	if err := check.Validate(); err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	if len(cfg.Vendors) == 0 {
		cfg.Vendors = DefaultVendors()
	}
	rules, err := compileRules(cfg.Vendors, brandOUIs)
	if err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	s := &Server{cfg: cfg, log: log, st: st, dir: dir, rules: rules,
		baseURL: strings.TrimRight(baseURL, "/"), fallback: fallbackTenant,
		reserveByMAC: map[string]uint32{}, reserveByIP: map[uint32]string{}, excluded: map[uint32]bool{},
		now: time.Now, persistTimeout: 5 * time.Second, inflight: make(chan struct{}, maxInflight),
		leases: map[uint32]*store.DHCPLease{}, byMAC: map[string]uint32{}, offers: map[string]offer{}, offerIP: map[uint32]string{}}
	start, _ := ip4(cfg.PoolStart)
	end, _ := ip4(cfg.PoolEnd)
	mask, _ := ip4(cfg.SubnetMask)
	s.start, s.end, s.mask = u32(start), u32(end), net.IPMask(mask)
	s.subnet = &net.IPNet{IP: start.Mask(s.mask), Mask: s.mask}
	for _, r := range cfg.Reservations {
		m, _ := provision.ParseMAC(r.MAC)
		ip, _ := ip4(r.IP)
		s.reserveByMAC[m.String()] = u32(ip)
		s.reserveByIP[u32(ip)] = m.String()
	}
	if cfg.Router != "" {
		s.router, _ = ip4(cfg.Router)
		s.excluded[u32(s.router)] = true
	}
	for _, d := range cfg.DNS {
		ip, _ := ip4(d)
		s.dns = append(s.dns, ip)
	}
	if cfg.ServerIP != "" {
		s.serverIP, _ = ip4(cfg.ServerIP)
		s.excluded[u32(s.serverIP)] = true
	}
	return s, nil
}

// Bind opens the socket on the interface and loads the leases. Serve calls it
// when it has not been called; tests call it inside a network namespace.
func (s *Server) Bind(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	if s.serverIP == nil {
		ip, err := interfaceIPv4(s.cfg.Interface, s.subnet)
		if err != nil {
			return fmt.Errorf("dhcp: interface %s: %w (or set dhcp.server_ip)", s.cfg.Interface, err)
		}
		s.serverIP = ip
		s.excluded[u32(ip)] = true
	}
	if err := s.load(ctx); err != nil {
		return err
	}
	if w, ok := s.dir.(interface{ Warm(context.Context) }); ok {
		w.Warm(ctx)
	}
	conn, err := server4.NewIPv4UDPConn(s.cfg.Interface, &net.UDPAddr{Port: s.cfg.Port})
	if err != nil {
		return fmt.Errorf("dhcp: listen on %s port %d: %w", s.cfg.Interface, s.cfg.Port, err)
	}
	// A boot storm waits in the socket while every handler is busy (see readLoop).
	udpbuf.Grow(conn, udpbuf.Storm)
	s.conn = conn
	return nil
}

// interfaceIPv4 is the interface's IPv4 address, preferring one inside subnet.
func interfaceIPv4(name string, subnet *net.IPNet) (net.IP, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	var first net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			if subnet.Contains(n.IP) {
				return n.IP.To4(), nil
			}
			if first == nil {
				first = n.IP.To4()
			}
		}
	}
	if first == nil {
		return nil, errors.New("it has no IPv4 address")
	}
	return first, nil
}

// load reads the persisted leases that still fit the configured subnet.
func (s *Server) load(ctx context.Context) error {
	list, err := s.st.DHCPLeases(ctx)
	if err != nil {
		return fmt.Errorf("dhcp: load leases: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range list {
		ip, ok := ip4(l.IP)
		if !ok || !s.subnet.Contains(ip) {
			continue // the pool moved; the old lease cannot be renewed here anyway
		}
		l := l
		s.leases[u32(ip)] = &l
		if l.MAC != "" && l.State != StateDeclined {
			s.byMAC[l.MAC] = u32(ip)
		}
	}
	s.log.Info("leases loaded", "count", len(s.leases))
	return nil
}

// ServerIP is the server identifier in use (after Listen).
func (s *Server) ServerIP() net.IP { return s.serverIP }

// Serve answers DHCP until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Bind(ctx); err != nil {
		return err
	}
	conn := s.conn
	s.sockIno.Store(udpbuf.Inode(conn))
	closeConn := func() {
		s.dropped.Add(udpbuf.Drops(s.sockIno.Swap(0))) // still counted once it is closed
		conn.Close()                                   // closing is how the read loop stops
	}
	s.log.Info("listening", "interface", s.cfg.Interface, "server_ip", s.serverIP.String(),
		"pool", s.cfg.PoolStart+"-"+s.cfg.PoolEnd)
	done := make(chan error, 1)
	go func() { done <- s.readLoop(conn) }()
	select {
	case <-ctx.Done():
		closeConn()
		<-done       //nolint:errcheck // its error after Close is the close itself
		s.conn = nil // the next Serve (HA: active again) binds anew
		return nil
	case err := <-done:
		closeConn()
		s.conn = nil
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dhcp: serve: %w", err)
	}
}

// readLoop reads datagrams until conn is closed and handles each on a
// goroutine of its own. It takes a handler slot before reading the next
// datagram: while all maxInflight are busy, datagrams wait in the socket's
// receive buffer (udpbuf.Storm) and are answered a moment later, rather than
// dropped here; only a full buffer drops them (the kernel counts those as
// UDP receive buffer errors).
func (s *Server) readLoop(conn net.PacketConn) error {
	buf := make([]byte, 65536)
	for {
		s.inflight <- struct{}{}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			<-s.inflight
			return err
		}
		// The message keeps slices of its bytes: a copy of its own.
		m, err := dhcpv4.FromBytes(append([]byte(nil), buf[:n]...))
		if err != nil {
			<-s.inflight
			continue
		}
		go func() {
			defer func() { <-s.inflight }()
			s.serveOne(conn, m)
		}()
	}
}

// Leases lists the leases with their current state (a bound lease past its
// expiry shows as "expired").
func (s *Server) Leases() []store.DHCPLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]store.DHCPLease, 0, len(s.leases))
	for _, l := range s.leases {
		c := *l
		if c.State == StateBound && now.After(c.Expires) {
			c.State = "expired"
		}
		out = append(out, c)
	}
	sortLeases(out)
	return out
}

// BoundLeases counts the leases bound and not yet expired.
func (s *Server) BoundLeases() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := s.now(), 0
	for _, l := range s.leases {
		if l.State == StateBound && now.Before(l.Expires) {
			n++
		}
	}
	return n
}

// RulesView is the configured vendor rules and default options, as the admin API
// shows them, with the values the templates take for a phone of the fallback tenant.
func (s *Server) RulesView() any {
	return map[string]any{"vendors": s.cfg.Vendors, "default": s.cfg.Default,
		"server_ip": s.serverIP.String(), "base_url": s.baseURL, "fallback_url": s.tenantURL(s.fallback)}
}

func (s *Server) tenantURL(tenant string) string {
	if s.dir != nil {
		return s.dir.URL(tenant)
	}
	return s.baseURL + "/provisioning/"
}

// maxInflight is how many datagrams are handled at once; more are dropped.
// Handling is CPU work only: a REQUEST's ACK waits for its lease's write (shared
// with the others queued, see leaseBatch) without holding a handler, so the
// DISCOVERs of a boot storm are not dropped because the disk is busy.
const maxInflight = 1024

// maxPendingAcks bounds the ACKs built and waiting for their leases' write (a
// reply of a few hundred bytes each); a REQUEST beyond it is dropped like a
// datagram beyond maxInflight, and its client asks again.
const maxPendingAcks = 16384

// Dropped counts datagrams dropped: by the kernel because the socket's
// receive buffer was full (every handler busy for too long), or here because
// maxPendingAcks ACKs were waiting for the store.
func (s *Server) Dropped() int64 { return s.dropped.Load() + udpbuf.Drops(s.sockIno.Load()) }

// handle answers one message if a handler slot is free and drops it (counted)
// otherwise: the entry for callers that cannot wait, as readLoop does.
func (s *Server) handle(conn net.PacketConn, _ net.Addr, req *dhcpv4.DHCPv4) {
	select {
	case s.inflight <- struct{}{}:
		defer func() { <-s.inflight }()
	default:
		// A flood: drop rather than pile up goroutines. Real clients
		// retransmit within seconds.
		s.dropped.Add(1)
		return
	}
	s.serveOne(conn, req)
}

// serveOne answers one message, holding a handler slot. It must survive
// anything the network sends.
func (s *Server) serveOne(conn net.PacketConn, req *dhcpv4.DHCPv4) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panic", "panic", r)
		}
	}()
	s.answerTo(req, func(reply *dhcpv4.DHCPv4) {
		if reply == nil {
			return
		}
		dst := replyAddr(req, reply)
		if _, err := conn.WriteTo(reply.ToBytes(), dst); err != nil {
			s.log.Warn("send reply", "to", dst.String(), "type", reply.MessageType().String(), "err", err)
		}
	})
}

// replyAddr follows RFC 2131 4.1: to the relay, else to a client that has an
// address, else broadcast on the segment (the client has no address yet, and
// answering its chaddr directly would need a raw socket and an ARP entry).
func replyAddr(req, reply *dhcpv4.DHCPv4) *net.UDPAddr {
	if g := req.GatewayIPAddr; g != nil && !g.IsUnspecified() {
		return &net.UDPAddr{IP: g, Port: dhcpv4.ServerPort}
	}
	if c := req.ClientIPAddr; c != nil && !c.IsUnspecified() && reply.MessageType() != dhcpv4.MessageTypeNak {
		return &net.UDPAddr{IP: c, Port: dhcpv4.ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
}

// answer is the protocol logic without network I/O: the reply to req, or nil
// for none, once it may be sent (an ACK once its lease is durable).
func (s *Server) answer(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	ch := make(chan *dhcpv4.DHCPv4, 1)
	s.answerTo(req, func(r *dhcpv4.DHCPv4) { ch <- r })
	return <-ch
}

// answerTo calls send once with the reply to req (nil for none): at once, or,
// for the ACK of a REQUEST, from the lease writer once the lease is durable,
// so that the caller's handler is not held while the disk syncs.
func (s *Server) answerTo(req *dhcpv4.DHCPv4, send func(*dhcpv4.DHCPv4)) {
	if req.OpCode != dhcpv4.OpcodeBootRequest || req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		send(nil)
		return
	}
	mac := macString(req.ClientHWAddr)
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		send(s.discover(req, mac))
	case dhcpv4.MessageTypeRequest:
		s.request(req, mac, send)
	case dhcpv4.MessageTypeDecline:
		s.decline(req, mac)
		send(nil)
	case dhcpv4.MessageTypeRelease:
		s.release(req, mac)
		send(nil)
	case dhcpv4.MessageTypeInform:
		if c := req.ClientIPAddr; c != nil && s.subnet.Contains(c) {
			send(s.reply(req, mac, s.tenantOf(mac), dhcpv4.MessageTypeAck, nil))
			return
		}
		send(nil)
	default:
		send(nil)
	}
}

func macString(hw net.HardwareAddr) string {
	return strings.ToUpper(strings.ReplaceAll(hw.String(), ":", ""))
}

func (s *Server) inPool(ip uint32) bool { return ip >= s.start && ip <= s.end && !s.excluded[ip] }

// freeFor reports whether ip may be given to mac now. Caller holds s.mu.
func (s *Server) freeFor(ip uint32, mac string, now time.Time) bool {
	if owner, ok := s.reserveByIP[ip]; ok {
		return owner == mac
	}
	if s.excluded[ip] {
		return false
	}
	if m, ok := s.offerIP[ip]; ok && m != mac && now.Before(s.offers[m].until) {
		return false
	}
	l := s.leases[ip]
	switch {
	case l == nil:
		return true
	case l.MAC == mac && l.State != StateDeclined:
		return true
	case l.State == StateReleased:
		return true
	default: // bound to another client, or declined: free once it runs out
		return now.After(l.Expires)
	}
}

// pick chooses the address to offer mac. Caller holds s.mu.
func (s *Server) pick(mac string, requested net.IP, now time.Time) (uint32, bool) {
	if ip, ok := s.reserveByMAC[mac]; ok {
		return ip, true
	}
	if ip, ok := s.byMAC[mac]; ok && s.inPool(ip) && s.freeFor(ip, mac, now) {
		return ip, true
	}
	if o, ok := s.offers[mac]; ok && now.Before(o.until) && s.freeFor(o.ip, mac, now) {
		return o.ip, true
	}
	if requested != nil && requested.To4() != nil {
		if ip := u32(requested); s.inPool(ip) && s.freeFor(ip, mac, now) {
			return ip, true
		}
	}
	// Never-used addresses first, so a client that went away and comes back
	// probably finds its old address still free; then the one free longest.
	// The never-used ones are looked for from where the last one was found:
	// a boot storm hands out thousands in a row, and scanning the pool from
	// its start each time would cost a pass over every lease already given.
	for ip := max(s.cursor, s.start); ip <= s.end && ip >= s.start; ip++ {
		if s.leases[ip] == nil && s.inPool(ip) && s.freeFor(ip, mac, now) {
			s.cursor = ip + 1
			return ip, true
		}
	}
	s.cursor = s.start
	var reuse uint32
	var reuseAt time.Time
	found := false
	for ip := s.start; ip <= s.end && ip >= s.start; ip++ {
		if !s.inPool(ip) || !s.freeFor(ip, mac, now) {
			continue
		}
		l := s.leases[ip]
		if l == nil {
			return ip, true
		}
		if !found || l.Expires.Before(reuseAt) {
			reuse, reuseAt, found = ip, l.Expires, true
		}
	}
	return reuse, found
}

func (s *Server) discover(req *dhcpv4.DHCPv4, mac string) *dhcpv4.DHCPv4 {
	now := s.now()
	s.mu.Lock()
	ip, ok := s.pick(mac, req.RequestedIPAddress(), now)
	if ok {
		s.gcOffers(now)
		s.setOffer(mac, offer{ip: ip, until: now.Add(s.cfg.OfferHold)})
	}
	s.mu.Unlock()
	if !ok {
		s.log.Warn("pool exhausted, no offer", "mac", mac)
		return nil
	}
	return s.reply(req, mac, s.tenantOf(mac), dhcpv4.MessageTypeOffer, ipOf(ip))
}

// gcOffers drops stale offers so a scan of DISCOVERs cannot grow the map. Caller holds s.mu.
func (s *Server) gcOffers(now time.Time) {
	// At most once a second: each pass reads every offer, and a boot storm
	// holds thousands.
	if len(s.offers) < 64 || now.Before(s.nextGC) {
		return
	}
	s.nextGC = now.Add(time.Second)
	for m, o := range s.offers {
		if now.After(o.until) {
			s.dropOffer(m)
		}
	}
}

// setOffer holds o.ip for mac, replacing mac's earlier offer. Caller holds s.mu.
func (s *Server) setOffer(mac string, o offer) {
	s.dropOffer(mac)
	if prev, ok := s.offerIP[o.ip]; ok {
		delete(s.offers, prev) // its hold ran out, or freeFor would not have chosen the address
	}
	s.offers[mac] = o
	s.offerIP[o.ip] = mac
}

// dropOffer releases mac's offer. Caller holds s.mu.
func (s *Server) dropOffer(mac string) {
	if o, ok := s.offers[mac]; ok {
		if s.offerIP[o.ip] == mac {
			delete(s.offerIP, o.ip)
		}
		delete(s.offers, mac)
	}
}

// request answers a REQUEST through send: a NAK (or nothing) at once, an ACK
// once the lease is durable.
func (s *Server) request(req *dhcpv4.DHCPv4, mac string, send func(*dhcpv4.DHCPv4)) {
	if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(s.serverIP) {
		// The client took another server's offer: release ours.
		s.mu.Lock()
		s.dropOffer(mac)
		s.mu.Unlock()
		send(nil)
		return
	}
	want := req.RequestedIPAddress()
	if want == nil || want.IsUnspecified() {
		want = req.ClientIPAddr // RENEWING / REBINDING
	}
	if want == nil || want.To4() == nil || want.IsUnspecified() {
		send(nil)
		return
	}
	if s.pendingAcks.Add(1) > maxPendingAcks {
		s.pendingAcks.Add(-1)
		s.dropped.Add(1)
		send(nil)
		return
	}
	ip := u32(want)
	tenant := s.tenantOf(mac) // a store read: before taking the lock
	// Built before the lock too: it does not depend on the lease table.
	ack := s.reply(req, mac, tenant, dhcpv4.MessageTypeAck, want.To4())
	now := s.now()
	s.mu.Lock()
	ok := s.subnet.Contains(want)
	if ok {
		if r, has := s.reserveByMAC[mac]; has {
			ok = r == ip
		} else {
			ok = s.inPool(ip) && s.freeFor(ip, mac, now)
		}
	}
	if !ok {
		s.mu.Unlock()
		s.pendingAcks.Add(-1)
		s.log.Info("NAK", "mac", mac, "requested", want.String())
		send(s.nak(req))
		return
	}
	l := s.bindLocked(req, mac, tenant, ip, now)
	addr, vendor, vc := l.IP, l.Vendor, l.VendorClass
	s.enqueueThen(*l, func(err error) {
		s.pendingAcks.Add(-1)
		if err != nil {
			// An address we cannot remember could be given twice after a restart.
			s.log.Error("lease not saved, not acknowledged", "mac", mac, "ip", addr, "err", err)
			send(nil)
			return
		}
		s.log.Info("lease", "mac", mac, "ip", addr, "vendor", vendor, "vendor_class", vc)
		send(ack)
	})
	s.mu.Unlock()
}

// bindLocked records the lease of ip to mac. Caller holds s.mu.
func (s *Server) bindLocked(req *dhcpv4.DHCPv4, mac, tenant string, ip uint32, now time.Time) *store.DHCPLease {
	if old, ok := s.byMAC[mac]; ok && old != ip {
		if l := s.leases[old]; l != nil && l.MAC == mac {
			l.State, l.Expires, l.Updated = StateReleased, now, now
			s.enqueueThen(*l, nil) // best effort: the new lease is what matters
		}
	}
	if l := s.leases[ip]; l != nil && l.MAC != mac && l.MAC != "" {
		delete(s.byMAC, l.MAC) // an expired lease of another client is reused
	}
	s.dropOffer(mac)
	vc := req.ClassIdentifier()
	r := match(s.rules, vc, req.ClientHWAddr)
	vendor := "default"
	if r != nil {
		vendor = r.name
	}
	l := &store.DHCPLease{IP: ipOf(ip).String(), MAC: mac, State: StateBound, Expires: now.Add(s.cfg.LeaseTime),
		Updated: now, Hostname: sanitize(req.HostName()), VendorClass: sanitize(vc), Vendor: vendor,
		Tenant: tenant}
	s.leases[ip] = l
	s.byMAC[mac] = ip
	return l
}

// sanitize keeps client-supplied strings printable and short for logs and lists.
func sanitize(v string) string {
	if len(v) > 64 {
		v = v[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, v)
}

// maxBatch is the most leases written in one transaction.
const maxBatch = 1024

// leaseBatch writes the leases of concurrent requests together: an ACK
// waits for one transaction (one fsync) shared with every lease queued
// meanwhile. One fsync per lease would cap a boot storm (thousands of phones
// in a second) at the disk's fsync rate.
type leaseBatch struct {
	mu      sync.Mutex
	pending []store.DHCPLease
	waiters []func(error) // nil for a write nobody waits for
	running bool
}

// enqueue queues l for the store; call it with s.mu held, so that the
// leases of one address are written in the order they changed. The channel
// says when (and whether) l is durable: wait on it after releasing s.mu.
func (s *Server) enqueue(l store.DHCPLease) <-chan error {
	ch := make(chan error, 1)
	s.enqueueThen(l, func(err error) { ch <- err })
	return ch
}

// enqueueThen queues l like enqueue and calls done (if not nil) once the
// write of l succeeded or failed. done runs on the writer's side: it must not
// take s.mu nor wait.
func (s *Server) enqueueThen(l store.DHCPLease, done func(error)) {
	b := &s.batch
	b.mu.Lock()
	b.pending = append(b.pending, l)
	b.waiters = append(b.waiters, done)
	if !b.running {
		b.running = true
		go s.writeLeases()
	}
	b.mu.Unlock()
}

// writeLeases writes what is queued, batch after batch, until nothing is.
// The waiters of a batch (sending ACKs) are told on their own goroutine, so
// the next batch is written meanwhile.
func (s *Server) writeLeases() {
	b := &s.batch
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		// At most maxBatch per transaction: its time stays well inside
		// persistTimeout however many REQUESTs queued meanwhile.
		n := min(len(b.pending), maxBatch)
		ls, ws := b.pending[:n:n], b.waiters[:n:n]
		b.pending, b.waiters = b.pending[n:], b.waiters[n:]
		if len(b.pending) == 0 {
			b.pending, b.waiters = nil, nil
		}
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), s.persistTimeout)
		err := s.st.PutDHCPLeases(ctx, ls)
		cancel()
		go s.tell(ws, err)
	}
}

// tell calls the waiters of one write.
func (s *Server) tell(ws []func(error), err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("lease writer panic", "panic", r)
		}
	}()
	for _, w := range ws {
		if w != nil {
			w(err)
		}
	}
}

func (s *Server) decline(req *dhcpv4.DHCPv4, mac string) {
	if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(s.serverIP) {
		return
	}
	want := req.RequestedIPAddress()
	if want == nil || want.To4() == nil {
		return
	}
	ip, now := u32(want), s.now()
	s.mu.Lock()
	l := s.leases[ip]
	if l == nil || l.MAC != mac {
		s.mu.Unlock()
		return
	}
	delete(s.byMAC, mac)
	l.MAC, l.State, l.Expires, l.Updated = "", StateDeclined, now.Add(s.cfg.DeclineHold), now
	saved, addr := s.enqueue(*l), l.IP
	s.mu.Unlock()
	if err := <-saved; err != nil {
		s.log.Warn("save declined address", "ip", addr, "err", err)
	}
	s.log.Warn("address declined (in use by someone else?)", "mac", mac, "ip", addr)
}

func (s *Server) release(req *dhcpv4.DHCPv4, mac string) {
	c := req.ClientIPAddr
	if c == nil || c.To4() == nil {
		return
	}
	ip, now := u32(c), s.now()
	s.mu.Lock()
	l := s.leases[ip]
	if l == nil || l.MAC != mac || l.State != StateBound {
		s.mu.Unlock()
		return
	}
	// Keep the MAC: the same client asking again gets the same address.
	l.State, l.Expires, l.Updated = StateReleased, now, now
	saved, addr := s.enqueue(*l), l.IP
	s.mu.Unlock()
	if err := <-saved; err != nil {
		s.log.Warn("save released lease", "ip", addr, "err", err)
	}
}

func (s *Server) nak(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	r, err := dhcpv4.NewReplyFromRequest(req, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.serverIP)))
	if err != nil {
		return nil
	}
	r.SetBroadcast()
	return r
}

func (s *Server) tenantOf(mac string) string {
	if s.dir == nil {
		return s.fallback
	}
	// No deadline of its own: the answer is almost always from memory, and a
	// timer per message costs a boot storm more than the lookup (a directory
	// that reads the store bounds that read itself).
	if t := s.dir.TenantOf(context.Background(), mac); t != "" {
		return t
	}
	return s.fallback
}

// reply builds an OFFER/ACK with the network and provisioning options; yiaddr is
// nil for an INFORM answer.
func (s *Server) reply(req *dhcpv4.DHCPv4, mac, tenant string, typ dhcpv4.MessageType, yiaddr net.IP) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithServerIP(s.serverIP),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.serverIP)),
		dhcpv4.WithOption(dhcpv4.OptSubnetMask(s.mask)),
	}
	if yiaddr != nil {
		lt := s.cfg.LeaseTime
		mods = append(mods, dhcpv4.WithYourIP(yiaddr),
			dhcpv4.WithOption(dhcpv4.OptIPAddressLeaseTime(lt)),
			dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(lt/2)),
			dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(lt*7/8)))
	}
	if s.router != nil {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRouter(s.router)))
	}
	if len(s.dns) > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDNS(s.dns...)))
	}
	if s.cfg.Domain != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptDomainName(s.cfg.Domain)))
	}
	vc := req.ClassIdentifier()
	opts, name := s.cfg.Default, "default"
	if r := match(s.rules, vc, req.ClientHWAddr); r != nil {
		opts, name = r.opts, r.name
	}
	// A configured phone gets its own secret directory: with secure URLs
	// the one way to its file.
	url := s.tenantURL(tenant)
	if s.dir != nil && tenant != "" {
		url = s.dir.DeviceURL(tenant, mac)
	}
	v := vars{url: url, baseURL: s.baseURL, host: urlHost(s.baseURL), serverIP: s.serverIP.String(), mac: mac}
	popts, skipped := provisioningOptions(opts, v)
	if len(skipped) > 0 {
		s.log.Warn("options too long or empty, not sent", "mac", mac, "rule", name, "options", strings.Join(skipped, ","))
	}
	for _, o := range popts {
		mods = append(mods, dhcpv4.WithOption(o))
	}
	r, err := dhcpv4.NewReplyFromRequest(req, mods...)
	if err != nil {
		s.log.Warn("build reply", "err", err)
		return nil
	}
	if typ == dhcpv4.MessageTypeOffer || typ == dhcpv4.MessageTypeAck {
		s.log.Debug("reply", "type", typ.String(), "mac", mac, "rule", name, "vendor_class", sanitize(vc), "tenant", tenant)
	}
	return r
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// errNoInterface is returned by the probe for a missing interface name.
var errNoInterface = errors.New("dhcp probe: an interface is required")
