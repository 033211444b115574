package pnp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// phone is a UDP socket in the lab's phone namespace: a phone written in Go, for
// the cases SIPp scenarios express badly (exact copies of one SUBSCRIBE, many
// sources, corpora of broken datagrams).
type phone struct {
	t    testing.TB
	conn *net.UDPConn
	ip   string
	port int
}

func newPhone(t testing.TB, l *lab, ip string) *phone {
	t.Helper()
	var c *net.UDPConn
	err := inNS(l.phone, func() error {
		var err error
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, ip: ip, port: c.LocalAddr().(*net.UDPAddr).Port}
}

var groupAddr = &net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5060}

// subscribe is a SUBSCRIBE from this phone for mac (AABBCCDDEEFF), Call-ID cid.
func (p *phone) subscribe(mac, cid, vendor string) []byte {
	return []byte(fmt.Sprintf("SUBSCRIBE sip:MAC%%3a%s@224.0.1.75 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s\r\n"+
		"From: <sip:MAC%%3a%s@224.0.1.75>;tag=t-%s\r\n"+
		"To: <sip:MAC%%3a%s@224.0.1.75>\r\n"+
		"Call-ID: %s\r\nCSeq: 1 SUBSCRIBE\r\n"+
		"Contact: <sip:%s:%d>\r\n"+
		"Event: ua-profile;profile-type=\"device\";vendor=\"%s\";model=\"X\";version=\"1\"\r\n"+
		"Accept: application/url\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n",
		mac, p.ip, p.port, cid, mac, cid, mac, cid, p.ip, p.port, vendor))
}

func (p *phone) send(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP(b, groupAddr); err != nil {
		p.t.Fatal(err)
	}
}

// recv collects what arrives for d.
func (p *phone) recv(d time.Duration) []string {
	var out []string
	buf := make([]byte, 9000)
	deadline := time.Now().Add(d)
	for {
		p.conn.SetReadDeadline(deadline)
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

// answer replies 200 OK to a NOTIFY, at its Via.
func (p *phone) answer(notify string) {
	p.t.Helper()
	via := header(notify, "Via")
	hostport, _, _ := strings.Cut(strings.TrimPrefix(via, "SIP/2.0/UDP "), ";")
	dst, err := net.ResolveUDPAddr("udp4", hostport)
	if err != nil {
		p.t.Fatalf("NOTIFY Via %q: %v", via, err)
	}
	ok := "SIP/2.0 200 OK\r\nVia: " + via + "\r\nFrom: " + header(notify, "From") + "\r\nTo: " + header(notify, "To") +
		"\r\nCall-ID: " + header(notify, "Call-ID") + "\r\nCSeq: " + header(notify, "CSeq") + "\r\nContent-Length: 0\r\n\r\n"
	if _, err := p.conn.WriteToUDP([]byte(ok), dst); err != nil {
		p.t.Fatal(err)
	}
}

// forCall keeps the messages of one Call-ID (a late retransmission of an
// earlier NOTIFY may share the window).
func forCall(msgs []string, cid string) []string {
	var out []string
	for _, m := range msgs {
		if header(m, "Call-ID") == cid {
			out = append(out, m)
		}
	}
	return out
}

// notifies counts NOTIFY transactions (distinct Via branches: retransmissions
// of one NOTIFY are one), and returns the first NOTIFY.
func notifies(msgs []string) (n int, first string) {
	seen := map[string]bool{}
	for _, m := range msgs {
		if strings.HasPrefix(m, "NOTIFY ") {
			if first == "" {
				first = m
			}
			seen[header(m, "Via")] = true
		}
	}
	return len(seen), first
}

func count(msgs []string, prefix string) (n int, first string) {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			if n == 0 {
				first = m
			}
			n++
		}
	}
	return n, first
}

// TestRetransmittedSubscribe: copies of one SUBSCRIBE each get the same 200 OK
// again, and exactly one NOTIFY transaction.
func TestRetransmittedSubscribe(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, nil)
	ph := newPhone(t, p.lab, p.lab.phoneIP)
	sub := ph.subscribe("C074AD112233", "dup-1", "Grandstream")
	for i := 0; i < 3; i++ {
		ph.send(sub)
		time.Sleep(20 * time.Millisecond) // copies apart in time, as a phone's retransmission timer sends them: the behaviour under test
	}
	msgs := ph.recv(700 * time.Millisecond)
	oks, ok := count(msgs, "SIP/2.0 200 OK")
	nots, notify := notifies(msgs)
	if oks != 3 || nots != 1 {
		t.Fatalf("%d 200 OKs (want 3, one per copy) and %d NOTIFYs (want 1) in %d messages", oks, nots, len(msgs))
	}
	for _, m := range msgs {
		if strings.HasPrefix(m, "SIP/2.0 200 OK") && m != ok {
			t.Errorf("the 200 OKs differ:\n%s\n%s", ok, m)
		}
	}
	ph.answer(notify)
	if late := ph.recv(1500 * time.Millisecond); len(late) != 0 {
		t.Errorf("after the answer: %d more messages, first %q", len(late), startLine(late[0]))
	}
	st := p.srv.Stats()
	if st.Retransmitted.Load() != 2 || st.Answered.Load() != 1 || st.NotifyAnswered.Load() != 1 {
		t.Errorf("retransmissions %d answered %d NOTIFYs answered %d; want 2, 1, 1", st.Retransmitted.Load(), st.Answered.Load(), st.NotifyAnswered.Load())
	}
	// A new SUBSCRIBE (new Call-ID) from the same phone is a new transaction.
	ph.send(ph.subscribe("C074AD112233", "dup-2", "Grandstream"))
	if n, _ := notifies(ph.recv(400 * time.Millisecond)); n == 0 {
		t.Errorf("a new SUBSCRIBE got no NOTIFY")
	}
}

// TestUnknownIgnoredByDefault: the default policy answers nothing for an unknown
// MAC and records nothing; a configured MAC still gets its URL.
func TestUnknownIgnoredByDefault(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, nil)
	ph := newPhone(t, p.lab, p.lab.phoneIP)
	ph.send(ph.subscribe("00304FA99948", "unk-1", "OEM"))
	if msgs := ph.recv(500 * time.Millisecond); len(msgs) != 0 {
		t.Fatalf("unknown MAC answered: %q", startLine(msgs[0]))
	}
	ph.send(ph.subscribe("001565123456", "known-1", "Yealink"))
	msgs := ph.recv(500 * time.Millisecond)
	n, notify := notifies(msgs)
	if n != 1 || body(notify) != provision.DeviceDir(p.Prov.ProvisioningURL(p.Tenant), p.Token) {
		t.Fatalf("known Yealink: %d NOTIFYs, body %q, want its secret directory", n, body(notify))
	}
	ph.answer(notify)
	// The ignored SUBSCRIBE was decided before the known one was answered, and
	// sightings are recorded in order: once the known phone's NOTIFY
	// transaction is over, the ignored MAC would be on the list by now.
	deadline := time.Now().Add(5 * time.Second)
	for p.srv.Stats().NotifyAnswered.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the NOTIFY answer was not seen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Sightings are recorded in order: once a sentinel seen after it shows on the
	// list, the ignored MAC would show too if it had been recorded.
	p.Prov.SeeUnknown(p.Tenant, "001565FFFFFE", "198.18.0.99", "sentinel", "")
	var list []store.UnknownDevice
	for {
		var err error
		if list, err = p.Prov.UnknownDevices(p.Ctx, p.Tenant); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(list, func(u store.UnknownDevice) bool { return u.MAC == "001565FFFFFE" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sentinel sighting never reached the list")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, u := range list {
		if u.MAC == "00304FA99948" {
			t.Errorf("ignored MAC recorded on the unknown list")
		}
	}
	// The state the console shows: both phones, newest first, with what they got.
	st := p.srv.State().(State)
	if len(st.Recent) != 2 || st.Unknown != UnknownIgnore || st.Counters["answered"] != 1 || st.Counters["ignored"] != 1 || len(st.Interfaces) == 0 {
		t.Fatalf("state: %+v", st)
	}
	known, unknown := st.Recent[0], st.Recent[1]
	if known.MAC != "001565123456" || !known.Answered || !known.Known || known.URL != p.Prov.ProvisioningURL(p.Tenant)+"********/" || known.Vendor != "yealink" {
		t.Errorf("newest sighting: %+v", known)
	}
	if unknown.MAC != "00304FA99948" || unknown.Answered || unknown.URL != "" {
		t.Errorf("ignored sighting: %+v", unknown)
	}
}

// TestRateLimitPerSource: beyond the burst a source gets nothing, another source
// is unaffected.
func TestRateLimitPerSource(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, func(c *Config) { c.RateBurst, c.RateInterval = 3, time.Minute })
	a := newPhone(t, p.lab, p.lab.phoneIP)
	sh(t, "ip", "-n", p.lab.phone, "addr", "add", strings.TrimSuffix(p.lab.phoneIP, ".2")+".3/24", "dev", p.lab.phoneIf)
	b := newPhone(t, p.lab, strings.TrimSuffix(p.lab.phoneIP, ".2")+".3")
	for i := 0; i < 6; i++ {
		a.send(a.subscribe("C074AD112233", fmt.Sprintf("rl-%d", i), "Grandstream"))
	}
	msgs := a.recv(600 * time.Millisecond)
	if n, _ := count(msgs, "SIP/2.0 200 OK"); n != 3 {
		t.Errorf("throttled source: %d answers, want the burst of 3", n)
	}
	b.send(b.subscribe("000413AABBCC", "rl-b", "snom"))
	if n, _ := notifies(b.recv(600 * time.Millisecond)); n != 1 {
		t.Errorf("other source: %d NOTIFYs, want 1", n)
	}
	if got := p.srv.Stats().Throttled.Load(); got != 3 {
		t.Errorf("throttled %d, want 3", got)
	}
}

// TestTruncatedCorpus: every prefix of good SUBSCRIBEs, and junk, gets no answer
// and leaves the responder answering.
func TestTruncatedCorpus(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, func(c *Config) { c.Unknown = UnknownBootstrap; c.RateBurst = 100000 })
	ph := newPhone(t, p.lab, p.lab.phoneIP)
	var corpus [][]byte
	for _, f := range forms {
		full := []byte(subscribeMsg(f.ruri, f.from, f.event, f.ua))
		for cut := 0; cut < len(full)-4; cut += 7 { // the final CRLFCRLF may go: still a message
			corpus = append(corpus, full[:cut])
		}
	}
	corpus = append(corpus, []byte("\x00\xff\x00\xff"), []byte(strings.Repeat("A", 9000)), []byte("SUBSCRIBE "+strings.Repeat("%", 2000)+" SIP/2.0\r\n\r\n"))
	for _, c := range corpus {
		ph.send(c)
	}
	if msgs := ph.recv(time.Second); len(msgs) != 0 {
		t.Fatalf("%d answers to broken datagrams, first %q", len(msgs), startLine(msgs[0]))
	}
	ph.send(ph.subscribe("000413AABBCC", "after-corpus", "snom"))
	if n, _ := notifies(ph.recv(500 * time.Millisecond)); n != 1 {
		t.Fatalf("responder not answering after the corpus")
	}
	if m := p.srv.Stats().Malformed.Load(); m < uint64(len(corpus))-1 {
		t.Errorf("malformed %d of %d", m, len(corpus))
	}
}

// TestTenantMap: in multi-tenant mode an unknown phone lands in the tenant its
// interface or MAC prefix maps to; a configured one gets its own tenant's URL.
func TestTenantMap(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeMulti, func(c *Config) {
		c.Unknown = UnknownBootstrap
		c.Tenants = []TenantMap{
			{MACPrefix: "00:30:4F", Tenant: "beta"},
			{Interface: "sbp-none", Tenant: "beta"},                          // never matches
			{Interface: c.Interfaces[0], MACPrefix: "0A", Tenant: "default"}, // both must match
		}
	})
	name := "beta"
	beta, err := p.Prov.CreateTenant(p.Ctx, p.Actor, provision.TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	ph := newPhone(t, p.lab, p.lab.phoneIP)
	ph.send(ph.subscribe("00304FA99948", "map-1", "OEM"))
	n, notify := notifies(ph.recv(500 * time.Millisecond))
	if n != 1 || body(notify) != p.Prov.ProvisioningURL(beta.ID) || !strings.Contains(body(notify), beta.ID) {
		t.Fatalf("mapped unknown: %d NOTIFYs, body %q, want %q", n, body(notify), p.Prov.ProvisioningURL(beta.ID))
	}
	ph.answer(notify)
	// Interface and prefix match: the default tenant, by name.
	ph.send(ph.subscribe("0A0000000001", "map-if", "OEM"))
	n, notify = notifies(forCall(ph.recv(500*time.Millisecond), "map-if"))
	if n != 1 || body(notify) != p.Prov.ProvisioningURL(p.Tenant) {
		t.Fatalf("interface-mapped unknown: %d NOTIFYs, body %q, want %q", n, body(notify), p.Prov.ProvisioningURL(p.Tenant))
	}
	ph.answer(notify)
	// No map entry matches this one: multi-tenant mode has no default tenant.
	ph.send(ph.subscribe("02AABBCCDDEE", "map-2", "OEM"))
	if msgs := forCall(ph.recv(500*time.Millisecond), "map-2"); len(msgs) != 0 {
		t.Errorf("unmapped unknown in multi-tenant mode answered")
	}
	// The configured Yealink is found in its own tenant.
	ph.send(ph.subscribe("001565123456", "map-3", "Yealink"))
	n, notify = notifies(forCall(ph.recv(500*time.Millisecond), "map-3"))
	if n != 1 || body(notify) != provision.DeviceDir(p.Prov.ProvisioningURL(p.Tenant), p.Token) {
		t.Fatalf("configured device: %d NOTIFYs, body %q", n, body(notify))
	}
	ph.answer(notify)
	deadline := time.Now().Add(3 * time.Second)
	for {
		list, _ := p.Prov.UnknownDevices(context.Background(), beta.ID)
		if len(list) == 1 && list[0].MAC == "00304FA99948" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("beta's unknown list: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRenewedTokenAnswered: a device whose secret URL is renewed gets the new
// directory at its next SUBSCRIBE, though the responder caches where a MAC
// lives.
func TestRenewedTokenAnswered(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, nil)
	ph := newPhone(t, p.lab, p.lab.phoneIP)
	ask := func(cid string) string {
		t.Helper()
		ph.send(ph.subscribe("001565123456", cid, "Yealink"))
		n, notify := notifies(forCall(ph.recv(500*time.Millisecond), cid))
		if n != 1 {
			t.Fatalf("%s: %d NOTIFYs", cid, n)
		}
		ph.answer(notify)
		return body(notify)
	}
	if got, want := ask("tok-1"), provision.DeviceDir(p.Prov.ProvisioningURL(p.Tenant), p.Token); got != want {
		t.Fatalf("first answer %q, want %q", got, want)
	}
	d, err := p.Prov.SaveDevice(p.Ctx, p.Actor, p.Tenant, p.Device, json.RawMessage(`{"url_token":""}`))
	if err != nil {
		t.Fatal(err)
	}
	p.Sync(t)
	if got, want := ask("tok-2"), provision.DeviceDir(p.Prov.ProvisioningURL(p.Tenant), d.URLToken); got != want || d.URLToken == p.Token {
		t.Fatalf("after renewal %q, want %q", got, want)
	}
}
