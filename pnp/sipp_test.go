package pnp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/httpprov"
	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// phoneEnv is a provisioning service with a Grandstream and a snom configured
// (the Yealink of provtest too), and a responder running in the lab's appliance
// namespace.
type phoneEnv struct {
	*provtest.Env
	lab    *lab
	srv    *Server
	cancel context.CancelFunc
	done   chan struct{}
}

func addDevice(t testing.TB, e *provtest.Env, ext, mac, model string) {
	t.Helper()
	acc, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(`{"extension":"`+ext+`","sip_password":"pw-`+ext+`-Strong"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(`{"mac":"`+mac+`","model":"`+model+`","account":"`+acc.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
}

func startEnv(t testing.TB, mode string, mut func(*Config)) *phoneEnv {
	t.Helper()
	l := newLab(t)
	e := provtest.New(t, mode, 30)
	addDevice(t, e, "202", "C0:74:AD:11:22:33", "grandstream-grp2612")
	addDevice(t, e, "203", "00:04:13:AA:BB:CC", "snom-d785")
	e.Sync(t)
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Interfaces = []string{l.appIf}
	if mut != nil {
		mut(&cfg)
	}
	cat, err := provision.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, e.Logger, e.Prov, cat.Brands)
	if err != nil {
		t.Fatal(err)
	}
	if err := inNS(l.app, func() error { return srv.Bind(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &phoneEnv{Env: e, lab: l, srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(p.done); srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-p.done
		if t.Failed() {
			t.Logf("responder log:\n%s", e.Log.String())
		}
	})
	return p
}

func (p *phoneEnv) fileOf(t testing.TB, mac string) string {
	return p.refOf(t, mac).File
}

func (p *phoneEnv) refOf(t testing.TB, mac string) provision.DeviceRef {
	t.Helper()
	refs := p.Prov.FindMAC(mac)
	if len(refs) != 1 || refs[0].File == "" || refs[0].Token == "" {
		t.Fatalf("device %s: %+v", mac, refs)
	}
	return refs[0]
}

// dirOf is the secret directory of a configured device.
func (p *phoneEnv) dirOf(t testing.TB, mac string) string {
	return provision.DeviceDir(p.Prov.ProvisioningURL(p.Tenant), p.refOf(t, mac).Token)
}

// TestSIPpForms: every SUBSCRIBE form of the reference note from SIPp, with a
// second process holding the appliance's unicast 5060 (a SIPp UAS taking a call
// from the phone namespace at the same time).
func TestSIPpForms(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, func(c *Config) {
		c.Unknown = UnknownBootstrap
		c.BootstrapURL = "http://198.18.0.1/boot/{mac}.cfg"
	})
	// Secure URLs: a configured phone's file is had only under its token,
	// which the NOTIFY hands it.
	p.Secure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := p.lab.dir

	// The PBX: bound to the appliance's unicast 5060 while the responder runs.
	pbx := make(chan string, 1)
	go func() {
		code, out := sipp(ctx, p.lab.app, "-sn", "uas", "-i", p.lab.appIP, "-p", "5060", "-m", "1", "-timeout", "30s", "-timeout_error", "-bind_local")
		if code != 0 {
			pbx <- out
		}
		close(pbx)
	}()
	waitUDPBound(t, p.lab.app, p.lab.appIP+":5060") // the UAS holds 5060 before the call starts
	call := make(chan string, 1)
	go func() {
		code, out := sipp(ctx, p.lab.phone, p.lab.appIP+":5060", "-sn", "uac", "-i", p.lab.phoneIP, "-p", "5070", "-m", "1", "-timeout", "30s", "-timeout_error")
		if code != 0 {
			call <- out
		}
		close(call)
	}()

	trace := filepath.Join(dir, "forms.log")
	code, out := sipp(ctx, p.lab.phone, "224.0.1.75:5060", "-sf", "testdata/subscribe.xml", "-inf", "testdata/forms.csv",
		"-i", p.lab.phoneIP, "-p", "5060", "-m", "5", "-r", "10", "-trace_msg", "-message_file", trace,
		"-trace_err", "-error_file", filepath.Join(dir, "forms.err"), "-timeout", "30s", "-timeout_error")
	if code != 0 {
		t.Fatalf("SIPp forms scenario failed (exit %d):\n%s", code, tail(out))
	}
	if out, bad := <-pbx; bad {
		t.Errorf("the PBX on unicast 5060 failed:\n%s", tail(out))
	}
	if out, bad := <-call; bad {
		t.Errorf("the call to the PBX on unicast 5060 failed:\n%s", tail(out))
	}

	want := map[string]string{ // MAC -> NOTIFY body
		"00135E874B49": "http://198.18.0.1/boot/00135e874b49.cfg",                // Gigaset "OEM", unknown
		"C074AD112233": p.dirOf(t, "C074AD112233"),                               // Grandstream, configured: its secret directory
		"001565F4F9E1": "http://198.18.0.1/boot/001565f4f9e1.cfg",                // Yealink W52P, unknown
		"00304FA99948": "http://198.18.0.1/boot/00304fa99948.cfg",                // Fanvil OEM, MAC only in From
		"000413AABBCC": p.dirOf(t, "000413AABBCC") + p.fileOf(t, "000413AABBCC"), // snom, configured: its file under its token
	}
	checkDialogs(t, readTrace(t, trace), want)
	// What the NOTIFY handed out gets the whole file over HTTP (curl through
	// the provisioning handler); by MAC alone, the secret-free bootstrap file.
	fetchNotified(t, p, want["000413AABBCC"], p.fileOf(t, "000413AABBCC"), "pw-203-Strong")
	fetchNotified(t, p, want["C074AD112233"]+p.fileOf(t, "C074AD112233"), p.fileOf(t, "C074AD112233"), "pw-202-Strong")

	st := p.srv.Stats()
	if st.Answered.Load() != 5 || st.NotifyAnswered.Load() != 5 || st.NotifyTimedOut.Load() != 0 {
		t.Errorf("answered %d, NOTIFYs answered %d, timed out %d; want 5, 5, 0", st.Answered.Load(), st.NotifyAnswered.Load(), st.NotifyTimedOut.Load())
	}
	// The unknown ones are on the "seen, not configured" list.
	deadline := time.Now().Add(3 * time.Second)
	for {
		list, err := p.Prov.UnknownDevices(p.Ctx, p.Tenant)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, u := range list {
			seen[u.MAC] = true
		}
		if seen["00135E874B49"] && seen["001565F4F9E1"] && seen["00304FA99948"] && !seen["C074AD112233"] && !seen["000413AABBCC"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unknown list %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDialogs checks each SUBSCRIBE's 200 OK and NOTIFY in SIPp's log against
// RFC 6665/3261: the NOTIFY's From is the SUBSCRIBE's To with the 200 OK's tag,
// its To the SUBSCRIBE's From with the phone's tag, the same Call-ID, a NOTIFY
// CSeq, and the body the vendor accepts.
func checkDialogs(t *testing.T, msgs []sipMsg, want map[string]string) {
	t.Helper()
	type dialog struct{ sub, ok, notify string }
	byCID := map[string]*dialog{}
	notifies := map[string]int{}
	for _, m := range msgs {
		cid := header(m.text, "Call-ID")
		d := byCID[cid]
		if d == nil {
			d = &dialog{}
			byCID[cid] = d
		}
		sl := startLine(m.text)
		switch {
		case !m.received && strings.HasPrefix(sl, "SUBSCRIBE ") && d.sub == "":
			d.sub = m.text
		case m.received && strings.HasPrefix(sl, "SIP/2.0 200") && d.ok == "":
			d.ok = m.text
		case m.received && strings.HasPrefix(sl, "NOTIFY "):
			notifies[cid]++
			if d.notify == "" {
				d.notify = m.text
			}
		}
	}
	seen := map[string]bool{}
	for cid, d := range byCID {
		if d.sub == "" {
			continue
		}
		if d.ok == "" || d.notify == "" {
			t.Errorf("call %s: 200 OK %v, NOTIFY %v", cid, d.ok != "", d.notify != "")
			continue
		}
		if n := notifies[cid]; n != 1 {
			t.Errorf("call %s: %d NOTIFYs, want 1", cid, n)
		}
		s, err := ParseSubscribe([]byte(strings.ReplaceAll(strings.ReplaceAll(d.sub, "\r\n", "\n"), "\n", "\r\n") + "\r\n\r\n"))
		if err != nil {
			t.Errorf("call %s: our own parser refuses SIPp's SUBSCRIBE: %v", cid, err)
			continue
		}
		mac := s.MAC.String()
		seen[mac] = true
		okTo := header(d.ok, "To")
		_, okTag, _ := strings.Cut(okTo, "tag=")
		if okTag == "" {
			t.Errorf("%s: 200 OK To without tag: %q", mac, okTo)
		}
		nFrom, nTo := header(d.notify, "From"), header(d.notify, "To")
		if !strings.HasPrefix(nFrom, header(d.sub, "To")) || !strings.HasSuffix(nFrom, "tag="+okTag) {
			t.Errorf("%s: NOTIFY From %q, want SUBSCRIBE To %q with tag %s", mac, nFrom, header(d.sub, "To"), okTag)
		}
		if nTo != header(d.sub, "From") {
			t.Errorf("%s: NOTIFY To %q, want SUBSCRIBE From %q", mac, nTo, header(d.sub, "From"))
		}
		if got := header(d.notify, "CSeq"); !strings.HasSuffix(got, " NOTIFY") {
			t.Errorf("%s: NOTIFY CSeq %q", mac, got)
		}
		for h, v := range map[string]string{"Event": "ua-profile", "Subscription-State": "terminated;reason=timeout", "Content-Type": "application/url"} {
			if got := header(d.notify, h); got != v {
				t.Errorf("%s: NOTIFY %s %q, want %q", mac, h, got, v)
			}
		}
		if contact := header(d.sub, "Contact"); !strings.Contains(startLine(d.notify), strings.Trim(contact, "<>")) {
			t.Errorf("%s: NOTIFY Request-URI %q, want the Contact %s", mac, startLine(d.notify), contact)
		}
		if got := body(d.notify); got != want[mac] {
			t.Errorf("%s: NOTIFY body %q, want %q", mac, got, want[mac])
		}
	}
	for mac := range want {
		if !seen[mac] {
			t.Errorf("%s: no dialog in SIPp's log", mac)
		}
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// TestSIPpNoAnswer: a phone that never answers the NOTIFY sees it retransmitted on
// RFC 3261 Timer E (T1, doubling to T2) and then, at Timer F (64*T1), silence.
func TestSIPpNoAnswer(t *testing.T) {
	t.Parallel()
	const t1, t2 = 100 * time.Millisecond, 400 * time.Millisecond
	p := startEnv(t, provision.ModeSingle, func(c *Config) { c.T1, c.T2 = t1, t2 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	trace := filepath.Join(p.lab.dir, "noanswer.log")
	// Only the Grandstream line: a configured phone.
	csv := filepath.Join(p.lab.dir, "gs.csv")
	writeCSV(t, csv, "MAC%3AC074AD112233@224.0.1.75;MAC%3AC074AD112233@224.0.1.75;Grandstream;GRP2612W;1.0.5.67;Grandstream GRP2612W 1.0.5.67")
	code, out := sipp(ctx, p.lab.phone, "224.0.1.75:5060", "-sf", "testdata/noanswer.xml", "-inf", csv,
		"-i", p.lab.phoneIP, "-p", "5060", "-m", "1", "-trace_msg", "-message_file", trace, "-timeout", "30s", "-timeout_error")
	exited := time.Now() // SIPp listened until here
	if code != 0 {
		t.Fatalf("SIPp noanswer scenario failed (exit %d):\n%s", code, tail(out))
	}
	var at []time.Time
	branches := map[string]bool{}
	for _, m := range readTrace(t, trace) {
		if m.received && strings.HasPrefix(startLine(m.text), "NOTIFY ") {
			at = append(at, m.at)
			branches[header(m.text, "Via")] = true
		}
	}
	// Sent at 0, then after 1, 2, 4, 4, ... T1 (T2 = 4*T1) while under 64*T1:
	// 0, .1, .3, .7, 1.1, ... 6.3 s: 18 copies.
	var want []time.Duration
	for d, step := time.Duration(0), t1; d < 64*t1; d, step = d+step, min(2*step, t2) {
		want = append(want, d)
	}
	if len(at) != len(want) {
		t.Fatalf("%d NOTIFYs, want %d (the first and its retransmissions)", len(at), len(want))
	}
	if len(branches) != 1 {
		t.Errorf("retransmissions carry %d different Vias, want one transaction", len(branches))
	}
	// Never early (that would be a wrong schedule); late by up to a second, since
	// the host may be busy and SIPp timestamps what it reads when it is scheduled.
	// A schedule that does not double, or doubles without the T2 cap, is caught by
	// the early bound or by the count above.
	for i := range at {
		got := at[i].Sub(at[0])
		if diff := got - want[i]; diff < -50*time.Millisecond || diff > time.Second {
			t.Errorf("NOTIFY %d at +%v, want +%v", i, got, want[i])
		}
	}
	if quiet := exited.Sub(at[len(at)-1]); quiet < 2*time.Second {
		t.Errorf("SIPp heard only %v of silence after the last NOTIFY", quiet)
	}
	if n := p.srv.Stats().NotifyTimedOut.Load(); n != 1 {
		t.Errorf("timed-out NOTIFY transactions %d, want 1", n)
	}
}

func writeCSV(t testing.TB, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSIPpMalformed: malformed and truncated SUBSCRIBEs from SIPp get no answer
// at all, and a good one after them still does.
func TestSIPpMalformed(t *testing.T) {
	t.Parallel()
	p := startEnv(t, provision.ModeSingle, func(c *Config) { c.Unknown = UnknownBootstrap; c.RateBurst = 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, out := sipp(ctx, p.lab.phone, "224.0.1.75:5060", "-sf", "testdata/malformed.xml",
		"-i", p.lab.phoneIP, "-p", "5060", "-m", "1", "-timeout", "40s", "-timeout_error")
	if code != 0 {
		t.Fatalf("SIPp malformed scenario failed (exit %d):\n%s", code, tail(out))
	}
	st := p.srv.Stats()
	if st.Malformed.Load() < 15 || st.Answered.Load() != 1 {
		t.Errorf("malformed %d (want at least 15), answered %d (want 1)", st.Malformed.Load(), st.Answered.Load())
	}
}

// fetchNotified fetches url (under the fixture's base URL http://127.0.0.1)
// with curl from the provisioning HTTP handler: the whole file, with secret;
// then the file by name alone: the secret-free bootstrap file.
func fetchNotified(t *testing.T, p *phoneEnv, url, file, secret string) {
	t.Helper()
	srv := httptest.NewServer(httpprov.New(p.Logger, p.Prov, provision.NewThrottle(ratelimit.New(100, time.Minute), p.Logger)))
	t.Cleanup(srv.Close)
	path, ok := strings.CutPrefix(url, "http://127.0.0.1")
	if !ok {
		t.Fatalf("NOTIFY URL %q not under the base URL", url)
	}
	if body, code := provtest.Curl(t, srv.URL+path); code != "200" || !strings.Contains(body, secret) {
		t.Errorf("GET %s: %s %.200q", path, code, body)
	}
	// By name alone: the secret-free bootstrap file (the device is claimed by
	// now, so it names no secret directory either).
	if body, code := provtest.Curl(t, srv.URL+"/provisioning/"+file); code != "200" || strings.Contains(body, secret) || strings.Contains(body, path) {
		t.Errorf("GET by name %s: %s %.200q", file, code, body)
	}
}
