package main

// The load generator: ten thousand phones in one process. DHCP goes through one
// raw packet socket (each phone's frames carry its own MAC; a BPF filter hands
// up only DHCP replies, which one reader dispatches by MAC); then each phone
// fetches its files from the address it was given, with its own UDP socket
// (TFTP, blksize 1428 as Yealink phones ask) or its own HTTP connection.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

type phone struct {
	mac     net.HardwareAddr
	replies chan *dhcpv4.DHCPv4
}

// packetConn is the raw socket all phones share.
type packetConn struct {
	fd      int
	ifindex int
	mu      sync.Mutex
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// dhcpFilter passes IPv4 UDP datagrams to port 68 that are not fragments.
func dhcpFilter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 8},
		bpf.LoadAbsolute{Off: 23, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipFalse: 6},
		bpf.LoadAbsolute{Off: 20, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 4},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadIndirect{Off: 16, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 68, SkipFalse: 1},
		bpf.RetConstant{Val: 65535},
		bpf.RetConstant{Val: 0},
	})
}

func openPacket(ifname string) (*packetConn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	prog, err := dhcpFilter()
	if err != nil {
		return nil, err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	// Ten thousand replies may arrive in a burst (root may pass rmem_max).
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 32<<20) // the default works, with drops
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifi.Index}); err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	return &packetConn{fd: fd, ifindex: ifi.Index}, nil
}

// send broadcasts a DHCP message from mac (0.0.0.0:68 to 255.255.255.255:67).
func (c *packetConn) send(mac net.HardwareAddr, m *dhcpv4.DHCPv4) error {
	payload := m.ToBytes()
	f := make([]byte, 14+20+8+len(payload))
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	copy(ip[16:20], []byte{255, 255, 255, 255})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(f[42:], payload)
	sentDHCP.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return unix.Sendto(c.fd, f, 0, &unix.SockaddrLinklayer{Ifindex: c.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}})
}

// readLoop hands every DHCP reply to the phone it is for.
func (c *packetConn) readLoop(byMAC map[[6]byte]*phone) {
	buf := make([]byte, 65536)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		f := buf[:n]
		if len(f) < 14+20+8 {
			continue
		}
		ihl := int(f[14]&0x0f) * 4
		if len(f) < 14+ihl+8 {
			continue
		}
		m, err := dhcpv4.FromBytes(f[14+ihl+8:])
		if err != nil || m.OpCode != dhcpv4.OpcodeBootReply || len(m.ClientHWAddr) < 6 {
			continue
		}
		var k [6]byte
		copy(k[:], m.ClientHWAddr)
		if p := byMAC[k]; p != nil {
			gotReplies.Add(1)
			select {
			case p.replies <- m:
			default:
			}
		}
	}
}

// Counters for the report: DHCP messages sent and replies received.
var sentDHCP, gotReplies, retransmits atomic.Int64

// lease is what a phone got.
type lease struct {
	ip, server net.IP
	opt66      string
}

// backoff is the wait before the n-th retransmission of a message (n from
// 0), RFC 2131 4.1: 4 s, doubled each time up to 64 s, each randomised by
// a uniform -1 to +1 s.
func backoff(n int) time.Duration {
	base := min(4*time.Second<<n, 64*time.Second)
	return base - time.Second + rand.N(2*time.Second)
}

// dhcp runs DISCOVER, OFFER, REQUEST, ACK as RFC 2131 clients do (ISC
// dhclient, busybox udhcpc): a message is sent again with the same xid after
// backoff(n), so a late answer to an earlier copy still counts; a REQUEST
// left unanswered four times sends the phone back to DISCOVER with a new xid.
func (p *phone) dhcp(ctx context.Context, c *packetConn) (lease, error) {
	var l lease
	wait := func(xid dhcpv4.TransactionID, typ dhcpv4.MessageType, d time.Duration) (*dhcpv4.DHCPv4, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.C:
				return nil, nil
			case m := <-p.replies:
				if m.TransactionID == xid && m.MessageType() == typ {
					return m, nil
				}
				if m.TransactionID == xid && m.MessageType() == dhcpv4.MessageTypeNak {
					return nil, errNAK
				}
			}
		}
	}
	// exchange sends m until an answer of type typ comes (nil after tries).
	exchange := func(m *dhcpv4.DHCPv4, typ dhcpv4.MessageType, tries int) (*dhcpv4.DHCPv4, error) {
		for n := 0; n < tries && ctx.Err() == nil; n++ {
			if n > 0 {
				retransmits.Add(1)
			}
			if err := c.send(p.mac, m); err != nil {
				return nil, err
			}
			r, err := wait(m.TransactionID, typ, backoff(n))
			if r != nil || err != nil {
				return r, err
			}
		}
		return nil, ctx.Err()
	}
	mods := []dhcpv4.Modifier{dhcpv4.WithBroadcast(true), dhcpv4.WithOption(dhcpv4.OptClassIdentifier("yealink SIP-T54W")),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName)}
	for ctx.Err() == nil {
		disc, err := dhcpv4.NewDiscovery(p.mac, mods...)
		if err != nil {
			return l, err
		}
		offer, err := exchange(disc, dhcpv4.MessageTypeOffer, 1000)
		if err != nil || offer == nil {
			return l, err
		}
		req, err := dhcpv4.NewRequestFromOffer(offer, mods...)
		if err != nil {
			return l, err
		}
		ack, err := exchange(req, dhcpv4.MessageTypeAck, 4)
		if errors.Is(err, errNAK) || (err == nil && ack == nil) {
			continue // start again
		}
		if err != nil {
			return l, err
		}
		l.ip, l.server = ack.YourIPAddr, ack.ServerIdentifier()
		// Servers may end the string with a NUL (dnsmasq does); phones drop it.
		l.opt66 = strings.TrimRight(string(ack.Options.Get(dhcpv4.OptionTFTPServerName)), "\x00")
		if l.opt66 == "" {
			return l, errors.New("ACK without option 66")
		}
		return l, nil
	}
	return l, ctx.Err()
}

var errNAK = errors.New("NAK")

// tftpGet fetches name from server with the phone's own address, RFC 1350
// with the blksize and tsize options (RFC 2348, 2349).
func tftpGet(ctx context.Context, local net.IP, server, name string) (int, error) {
	const blk = 1428
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: local})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.ParseIP(server), Port: 69}
	rrq := []byte{0, 1}
	for _, s := range []string{name, "octet", "blksize", strconv.Itoa(blk), "tsize", "0"} {
		rrq = append(append(rrq, s...), 0)
	}
	last, to := rrq, dst
	var peer *net.UDPAddr
	expect, size, tries := uint16(1), 0, 0
	buf := make([]byte, 4+blk+16)
	if _, err := c.WriteToUDP(rrq, dst); err != nil {
		return 0, err
	}
	for {
		if ctx.Err() != nil {
			return size, ctx.Err()
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && tries < 8 {
				tries++
				c.WriteToUDP(last, to) // the next timeout tells
				continue
			}
			return size, fmt.Errorf("tftp %s: %w", name, err)
		}
		if peer == nil {
			peer, to = from, from
		} else if !from.IP.Equal(peer.IP) || from.Port != peer.Port {
			continue
		}
		if n < 4 {
			continue
		}
		tries = 0
		switch binary.BigEndian.Uint16(buf[:2]) {
		case 6: // OACK
			last = []byte{0, 4, 0, 0}
			c.WriteToUDP(last, to)
		case 3: // DATA
			block := binary.BigEndian.Uint16(buf[2:4])
			ack := []byte{0, 4, buf[2], buf[3]}
			if block == expect {
				size += n - 4
				expect++
				last = ack
			}
			c.WriteToUDP(ack, to)
			if block == expect-1 && n-4 < blk {
				return size, nil
			}
		case 5: // ERROR
			return size, fmt.Errorf("tftp %s: error %d %s", name, binary.BigEndian.Uint16(buf[2:4]), strings.TrimRight(string(buf[4:n]), "\x00"))
		}
	}
}

func httpGet(ctx context.Context, client *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return int(n), fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return int(n), err
}

// fetch gets the phone's own file and the common file, where option 66 says.
func fetch(ctx context.Context, l lease, own string) error {
	names := []string{own, commonFile}
	if strings.HasPrefix(l.opt66, "http://") || strings.HasPrefix(l.opt66, "https://") {
		base, err := url.Parse(l.opt66)
		if err != nil {
			return err
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: l.ip}, Timeout: 10 * time.Second}
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}}
		defer client.CloseIdleConnections()
		for _, n := range names {
			if _, err := httpGet(ctx, client, base.JoinPath(n).String()); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		size, err := tftpGet(ctx, l.ip, l.opt66, n)
		if err != nil {
			return err
		}
		if size == 0 {
			return fmt.Errorf("tftp %s: empty", n)
		}
	}
	return nil
}

func runPhones() error {
	c, err := openPacket(*lgIf)
	if err != nil {
		return err
	}
	defer unix.Close(c.fd)
	all := make([]*phone, *phones)
	byMAC := map[[6]byte]*phone{}
	for i := range all {
		mac, _ := net.ParseMAC(strings.Join(splitPairs(macOf(*lgFirst+i)), ":"))
		all[i] = &phone{mac: mac, replies: make(chan *dhcpv4.DHCPv4, 8)}
		var k [6]byte
		copy(k[:], mac)
		byMAC[k] = all[i]
	}
	go c.readLoop(byMAC)
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	var failures atomic.Int64
	var firstErr atomic.Value
	dhcpTimes := make([]time.Duration, len(all))
	var wg sync.WaitGroup
	start := time.Now()
	var lastDone atomic.Int64
	for i, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Phones do not all power on in the same millisecond.
			if *ramp > 0 {
				select {
				case <-time.After(rand.N(*ramp)):
				case <-ctx.Done():
				}
			}
			t0 := time.Now()
			l, err := p.dhcp(ctx, c)
			if err == nil {
				dhcpTimes[i] = time.Since(t0)
				if err = fetch(ctx, l, strings.ToLower(macOf(*lgFirst+i))+".cfg"); err != nil {
					err = fmt.Errorf("%w (address %s, option 66 %q)", err, l.ip, l.opt66)
				}
			}
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("phone %d: %v", i, err))
				return
			}
			for done := int64(time.Since(start)); ; {
				prev := lastDone.Load()
				if done <= prev || lastDone.CompareAndSwap(prev, done) {
					break
				}
			}
		}()
	}
	wg.Wait()
	var ok []time.Duration
	for _, d := range dhcpTimes {
		if d > 0 {
			ok = append(ok, d)
		}
	}
	slices.Sort(ok)
	pct := func(p float64) float64 {
		if len(ok) == 0 {
			return 0
		}
		return float64(ok[min(len(ok)-1, int(float64(len(ok))*p))].Microseconds()) / 1000
	}
	r := result{Seconds: time.Duration(lastDone.Load()).Seconds(), Failures: int(failures.Load()), DHCPP50Ms: pct(0.5), DHCPP99Ms: pct(0.99),
		DHCPSent: sentDHCP.Load(), DHCPReplies: gotReplies.Load(), Retransmits: retransmits.Load()}
	if st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		r.PacketDrops = int64(st.Drops)
	}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func splitPairs(s string) []string {
	var out []string
	for i := 0; i+2 <= len(s); i += 2 {
		out = append(out, s[i:i+2])
	}
	return out
}
