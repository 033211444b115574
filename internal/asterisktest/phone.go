package asterisktest

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

//go:embed testdata/*.xml
var scenarioFS embed.FS

var scenarios = template.Must(template.ParseFS(scenarioFS, "testdata/*.xml"))

// PhoneOptions shape a phone's behaviour on incoming calls.
type PhoneOptions struct {
	// AnswerAfter is how long an incoming call rings before the phone answers
	// (0: at once). Manual overrides it.
	AnswerAfter time.Duration
	// Manual: incoming calls ring until Call.Answer or Call.Reject (or the
	// caller gives up).
	Manual bool
	// HangupAfter: the phone hangs up an answered incoming call after this
	// long (0: it holds the call until the peer or Call.Hangup ends it).
	HangupAfter time.Duration
	// NotifyAuth: the phone challenges every out-of-dialog NOTIFY with 401
	// (Digest, qop=auth, realm "sbtest-phone") and answers the signed retry
	// 200 when SIPp's verifyauth accepts it with the extension's credentials,
	// 403 otherwise, as a Cisco phone with Auth_Resync-Reboot does.
	NotifyAuth bool
}

// CallOptions shape an outgoing call.
type CallOptions struct {
	// HangupAfter: the phone hangs up this long after the answer (0: it holds
	// the call until the peer or Call.Hangup ends it).
	HangupAfter time.Duration
}

// Phone is a SIPp process acting as one desk phone: registered as its
// extension (or, for the trunk, listening at the trunk's address), answering
// calls and NOTIFYs, and placing calls through further SIPp processes on the
// same address. Every SIP message it sends or receives is in Messages.
type Phone struct {
	Ext  Extension // for the trunk: Number "trunk"
	IP   string    // the phone's own loopback address
	Addr string    // IP:5060, its registered contact

	pbx   *PBX
	dir   string
	main  *sippProc
	audio string // path of the tone it streams in calls

	mu       sync.Mutex
	procs    []*sippProc
	msgs     []SIPMessage
	changed  chan struct{}
	handed   []string // Call-IDs WaitCall returned
	nextPort int
	quit     chan struct{}
	tailDone chan struct{}
}

type sippProc struct {
	name  string
	addr  string // where its SIP socket listens (SBCTL goes here)
	trace string
	cmd   *exec.Cmd
	out   testlog.Buffer
	done  chan struct{}
	err   error
	buf   string // unparsed tail of the trace
	off   int64
}

// SIPMessage is one message a phone sent or received, from SIPp's trace.
type SIPMessage struct {
	At       time.Time
	Received bool
	Text     string
	proc     *sippProc
}

// Method is the request's method ("" for a response).
func (m SIPMessage) Method() string {
	l := firstLine(m.Text)
	if strings.HasPrefix(l, "SIP/2.0 ") {
		return ""
	}
	meth, _, _ := strings.Cut(l, " ")
	return meth
}

// Status is the response's code (0 for a request).
func (m SIPMessage) Status() int {
	l := firstLine(m.Text)
	rest, ok := strings.CutPrefix(l, "SIP/2.0 ")
	if !ok {
		return 0
	}
	code, _, _ := strings.Cut(rest, " ")
	n, _ := strconv.Atoi(code)
	return n
}

// Header is the first value of a header (case-insensitive name).
func (m SIPMessage) Header(name string) string {
	for _, line := range strings.Split(m.Text, "\n")[1:] {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// CallID is the Call-ID header.
func (m SIPMessage) CallID() string { return m.Header("Call-ID") }

// CSeqMethod is the method of the CSeq header.
func (m SIPMessage) CSeqMethod() string {
	f := strings.Fields(m.Header("CSeq"))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// Body is the message body.
func (m SIPMessage) Body() string {
	t := strings.ReplaceAll(m.Text, "\r\n", "\n")
	_, body, _ := strings.Cut(t, "\n\n")
	return body
}

func (m SIPMessage) String() string {
	dir := "sent"
	if m.Received {
		dir = "received"
	}
	return fmt.Sprintf("%s %s", dir, firstLine(m.Text))
}

type scenarioData struct {
	Ext, Name, Password, UserAgent, Number string
	Register, Auth, NotifyAuth             bool
	AnswerMS, HangupMS                     int
	Local, Remote, Target                  string
	Audio                                  string // raw PCMU the phone streams once a call is up
}

// Register starts a phone for extension number and waits until Asterisk
// accepted its REGISTER. It unregisters and stops when the test ends.
func (p *PBX) Register(t testing.TB, number string, o PhoneOptions) *Phone {
	t.Helper()
	e := p.Ext(t, number)
	ph := p.newPhone(t, e, randLoopback())
	ph.startMain(t, true, o)
	if _, err := ph.waitMsg(10*time.Second, func(m SIPMessage) bool {
		return m.Received && m.Status() == 200 && m.CSeqMethod() == "REGISTER"
	}); err != nil {
		t.Fatalf("phone %s: no 200 to REGISTER: %v\n%s", number, err, ph.debug())
	}
	return ph
}

// TrunkPhone starts the peer of the "trunk" endpoint at TrunkIP: it answers
// what Asterisk sends to the trunk (numbers dialled as 0 + number) and places
// calls into the from-trunk context (Dial: the number is the DID).
func (p *PBX) TrunkPhone(t testing.TB, o PhoneOptions) *Phone {
	t.Helper()
	ph := p.newPhone(t, Extension{Number: "trunk", Name: "Trunk"}, p.TrunkIP)
	ph.startMain(t, false, o)
	return ph
}

func (p *PBX) newPhone(t testing.TB, e Extension, ip string) *Phone {
	dir, err := os.MkdirTemp(p.Dir, "phone-"+e.Number+"-")
	if err != nil {
		t.Fatal(err)
	}
	ph := &Phone{Ext: e, IP: ip, Addr: net.JoinHostPort(ip, fmt.Sprint(SIPPort)), pbx: p, dir: dir,
		changed: make(chan struct{}), nextPort: SIPPort + 2, quit: make(chan struct{}), tailDone: make(chan struct{}),
		audio: filepath.Join(dir, "tone.ulaw")}
	// 1 s of a quiet 1 kHz tone in PCMU, which SIPp loops: RTP flows as from
	// a real phone (ChanSpy, MixMonitor and RTCP need frames).
	tone := make([]byte, 8000)
	for i := range tone {
		tone[i] = ulaw(int16(2000 * math.Sin(2*math.Pi*1000*float64(i)/8000)))
	}
	if err := os.WriteFile(ph.audio, tone, 0o644); err != nil {
		t.Fatal(err)
	}
	go ph.tail()
	t.Cleanup(func() { ph.close(t) })
	return ph
}

func (ph *Phone) startMain(t testing.TB, register bool, o PhoneOptions) {
	t.Helper()
	answer := int(o.AnswerAfter / time.Millisecond)
	if o.Manual {
		answer = -1
	}
	d := scenarioData{Ext: ph.Ext.Number, Name: ph.Ext.Name, Password: ph.Ext.Password, UserAgent: "sbtest-phone-" + ph.Ext.Number,
		Audio: ph.audio, Register: register, NotifyAuth: o.NotifyAuth, AnswerMS: answer, HangupMS: int(o.HangupAfter / time.Millisecond),
		Local: "[$ito];tag=[pid]SIPpTag01[call_number]", Remote: "[$ifrom]", Target: "[$icontact]"}
	oocXML := ph.render(t, "incoming.xml", "incoming", d)
	args := []string{"-sf", oocXML} // the trunk: SIPp in server mode, one call per INVITE
	if register {
		// A phone: the main scenario registers (client mode), incoming
		// requests run the out-of-call scenario.
		mainXML := ph.render(t, "register.xml", "register", d)
		args = []string{"-sf", mainXML, "-oocsf", oocXML, "-m", "1", "-cid_str", "sbreg%u-" + randHex(4) + "@%s"}
	}
	proc, err := ph.spawn("main", ph.IP, SIPPort, 6000, args...)
	if err != nil {
		t.Fatalf("phone %s: %v", ph.Ext.Number, err)
	}
	ph.main = proc
}

func (ph *Phone) render(t testing.TB, tmpl, name string, d scenarioData) string {
	t.Helper()
	var b bytes.Buffer
	if err := scenarios.ExecuteTemplate(&b, tmpl, d); err != nil {
		t.Fatalf("scenario %s: %v", tmpl, err)
	}
	path := filepath.Join(ph.dir, name+".xml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// spawn starts SIPp on ip:port (media on mport) towards the PBX and waits
// until its socket is bound (the trace file exists and the process lives).
func (ph *Phone) spawn(name, ip string, port, mport int, args ...string) (*sippProc, error) {
	proc := &sippProc{name: name, addr: net.JoinHostPort(ip, fmt.Sprint(port)),
		trace: filepath.Join(ph.dir, name+".msg"), done: make(chan struct{})}
	all := append([]string{"-nostdin", "-i", ip, "-p", fmt.Sprint(port), "-mi", ip, "-mp", fmt.Sprint(mport),
		"-t", "u1", "-trace_msg", "-message_file", proc.trace,
		"-trace_err", "-error_file", filepath.Join(ph.dir, name+".err"),
		"-max_recv_loops", "1000", "-timer_resol", "10",
		// A request crossing a command (an ACK arriving while the phone sends
		// its BYE) is ignored, not a reason to abort the call.
		"-default_behaviors", "all,-abortunexp"}, args...)
	all = append(all, ph.pbx.SIPAddr)
	proc.cmd = exec.Command("sipp", all...)
	proc.cmd.Dir = ph.dir
	proc.cmd.Stdout, proc.cmd.Stderr = &proc.out, &proc.out
	proc.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := proc.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sipp: %w", err)
	}
	go func() { proc.err = proc.cmd.Wait(); close(proc.done) }()
	ph.mu.Lock()
	ph.procs = append(ph.procs, proc)
	ph.mu.Unlock()
	// SIPp creates the message file after binding its sockets.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(proc.trace); err == nil {
			return proc, nil
		}
		select {
		case <-proc.done:
			return nil, fmt.Errorf("sipp %s exited (%v):\n%s", name, proc.err, tail(proc.out.String(), 20))
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("sipp %s: no message file after 5 s", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Dial places a call from this phone to number through a new SIPp process
// and returns once the INVITE is out.
func (ph *Phone) Dial(t testing.TB, number string, o CallOptions) *Call {
	t.Helper()
	ph.mu.Lock()
	port := ph.nextPort
	ph.nextPort += 2
	ph.mu.Unlock()
	d := scenarioData{Ext: ph.Ext.Number, Name: ph.Ext.Name, Password: ph.Ext.Password, UserAgent: "sbtest-phone-" + ph.Ext.Number,
		Audio: ph.audio, Number: number, Auth: ph.Ext.Number != "trunk", HangupMS: int(o.HangupAfter / time.Millisecond),
		Local:  `"` + ph.Ext.Name + `" <sip:` + ph.Ext.Number + `@[remote_ip]>;tag=[pid]SIPpTag00[call_number]`,
		Remote: "[$rto]", Target: "[$rcontact]"}
	name := fmt.Sprintf("dial%d-%s", port, number)
	xml := ph.render(t, "dial.xml", name, d)
	proc, err := ph.spawn(name, ph.IP, port, 6000+(port-SIPPort)*4, "-sf", xml, "-m", "1", "-l", "1")
	if err != nil {
		t.Fatalf("phone %s dial %s: %v", ph.Ext.Number, number, err)
	}
	m, err := ph.waitMsg(5*time.Second, func(m SIPMessage) bool {
		return !m.Received && m.Method() == "INVITE" && m.Header("To") != "" && m.proc == proc
	})
	if err != nil {
		t.Fatalf("phone %s dial %s: no INVITE sent: %v\n%s", ph.Ext.Number, number, err, ph.debug())
	}
	return &Call{ID: m.CallID(), Phone: ph, proc: proc, Outgoing: true}
}

// Call is one call of a phone, named by its SIP Call-ID.
type Call struct {
	ID       string
	Phone    *Phone
	Outgoing bool
	proc     *sippProc
}

// WaitCall waits for the next incoming INVITE not returned before.
func (ph *Phone) WaitCall(t testing.TB, d time.Duration) *Call {
	t.Helper()
	seen := map[string]bool{}
	ph.mu.Lock()
	for _, c := range ph.handed {
		seen[c] = true
	}
	ph.mu.Unlock()
	m, err := ph.waitMsg(d, func(m SIPMessage) bool {
		return m.Received && m.Method() == "INVITE" && !strings.Contains(m.Header("To"), "tag=") && !seen[m.CallID()]
	})
	if err != nil {
		t.Fatalf("phone %s: no incoming call: %v\n%s", ph.Ext.Number, err, ph.debug())
	}
	ph.mu.Lock()
	ph.handed = append(ph.handed, m.CallID())
	ph.mu.Unlock()
	return &Call{ID: m.CallID(), Phone: ph, proc: ph.main}
}

// WaitNotify waits for an out-of-dialog NOTIFY whose Event header starts
// with event ("" for any) and returns it (the phone answered it 200 OK).
func (ph *Phone) WaitNotify(t testing.TB, d time.Duration, event string) SIPMessage {
	t.Helper()
	m, err := ph.waitMsg(d, func(m SIPMessage) bool {
		return m.Received && m.Method() == "NOTIFY" && !strings.Contains(m.Header("To"), "tag=") &&
			strings.HasPrefix(m.Header("Event"), event)
	})
	if err != nil {
		t.Fatalf("phone %s: no NOTIFY %q: %v\n%s", ph.Ext.Number, event, err, ph.debug())
	}
	return m
}

// Messages returns every message the phone's processes sent or received.
func (ph *Phone) Messages() []SIPMessage {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return append([]SIPMessage(nil), ph.msgs...)
}

// Messages returns the call's messages.
func (c *Call) Messages() []SIPMessage {
	var out []SIPMessage
	for _, m := range c.Phone.Messages() {
		if m.CallID() == c.ID {
			out = append(out, m)
		}
	}
	return out
}

// Answer answers a ringing incoming call (PhoneOptions.Manual).
func (c *Call) Answer(t testing.TB) {
	t.Helper()
	c.command(t, "answer", "", func(m SIPMessage) bool { return m.Status() == 200 && m.CSeqMethod() == "INVITE" })
}

// Reject refuses a ringing incoming call with 486 (busy), 480 (unavailable)
// or 603 (decline).
func (c *Call) Reject(t testing.TB, code int) {
	t.Helper()
	if code != 486 && code != 480 && code != 603 {
		t.Fatalf("Reject: code %d not offered (486, 480, 603)", code)
	}
	c.command(t, "reject", fmt.Sprint(code), func(m SIPMessage) bool { return m.Status() == code })
}

// Hangup ends the call from this phone: BYE once answered, CANCEL while an
// outgoing call rings.
func (c *Call) Hangup(t testing.TB) {
	t.Helper()
	c.command(t, "hangup", "", func(m SIPMessage) bool { return m.Method() == "BYE" || m.Method() == "CANCEL" })
}

// Hold and Unhold send a re-INVITE with a=sendonly / a=sendrecv, as a phone's
// hold key does.
func (c *Call) Hold(t testing.TB) {
	t.Helper()
	c.command(t, "hold", "", func(m SIPMessage) bool { return m.Method() == "INVITE" && strings.Contains(m.Body(), "a=sendonly") })
}

func (c *Call) Unhold(t testing.TB) {
	t.Helper()
	c.command(t, "unhold", "", func(m SIPMessage) bool { return m.Method() == "INVITE" && strings.Contains(m.Body(), "o=sbphone 2 5 ") })
}

// SendDTMF sends digits as SIP INFO (application/dtmf-relay), one at a time.
func (c *Call) SendDTMF(t testing.TB, digits string) {
	t.Helper()
	for _, d := range digits {
		before := len(c.Messages())
		c.command(t, "dtmf", string(d), func(m SIPMessage) bool {
			return m.Method() == "INFO" && strings.Contains(m.Body(), "Signal="+string(d))
		})
		c.wait(t, 5*time.Second, "200 to the DTMF INFO", func(m SIPMessage, i int) bool {
			return i >= before && m.Received && m.Status() == 200 && m.CSeqMethod() == "INFO"
		})
	}
}

// command sends the harness's SBCTL request to the SIPp process holding the
// call: SIPp routes it to the call by Call-ID and the scenario acts on it.
// SIPp cannot queue a request that arrives while the scenario is busy (for
// example answering a re-INVITE): it drops it. So the command is repeated
// until its effect (the message the phone must send) shows in the trace.
func (c *Call) command(t testing.TB, cmd, arg string, effect func(SIPMessage) bool) {
	t.Helper()
	from := len(c.Phone.Messages())
	for attempt := 0; attempt < 10; attempt++ {
		if _, err := sendCtl(c.proc.addr, c.ID, cmd, arg); err != nil {
			t.Fatalf("SBCTL %s: %v", cmd, err)
		}
		i := -1
		if _, err := c.Phone.waitMsg(time.Second, func(m SIPMessage) bool {
			i++
			return i >= from && !m.Received && m.CallID() == c.ID && effect(m)
		}); err == nil {
			return
		}
	}
	t.Fatalf("phone %s: %s had no effect after 10 tries\n%s", c.Phone.Ext.Number, cmd, c.Phone.debug())
}

// sendCtl sends one SBCTL request and returns its (unique) Via branch.
func sendCtl(addr, callID, cmd, arg string) (string, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	branch := "z9hG4bKctl" + randHex(8)
	msg := fmt.Sprintf("SBCTL sip:ctl@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\nFrom: <sip:ctl@127.0.0.1>;tag=ctl\r\n"+
		"To: <sip:ctl@%s>\r\nCall-ID: %s\r\nCSeq: 1 SBCTL\r\nX-SB-Cmd: %s\r\nX-SB-Arg: %s\r\nContent-Length: 0\r\n\r\n",
		addr, conn.LocalAddr(), branch, addr, callID, cmd, arg)
	_, err = conn.Write([]byte(msg))
	return branch, err
}

// WaitAnswered waits until the call is answered (200 to the INVITE).
func (c *Call) WaitAnswered(t testing.TB, d time.Duration) {
	t.Helper()
	c.wait(t, d, "answer", func(m SIPMessage, _ int) bool {
		return m.Status() == 200 && m.CSeqMethod() == "INVITE" && m.Received == c.Outgoing
	})
}

// WaitEnded waits until the call ended (BYE either way, CANCEL, or a final
// failure answer) and returns how: "bye-sent", "bye-received", "cancelled"
// or "failed <code>".
func (c *Call) WaitEnded(t testing.TB, d time.Duration) string {
	t.Helper()
	m := c.wait(t, d, "end", func(m SIPMessage, _ int) bool {
		switch {
		case m.Method() == "BYE", m.Method() == "CANCEL" && m.Received:
			return true
		case m.Status() >= 300 && m.CSeqMethod() == "INVITE" && m.Received == c.Outgoing && m.Status() != 401:
			return true
		}
		return false
	})
	switch {
	case m.Method() == "BYE" && m.Received:
		return "bye-received"
	case m.Method() == "BYE":
		return "bye-sent"
	case m.Method() == "CANCEL":
		return "cancelled"
	}
	return fmt.Sprintf("failed %d", m.Status())
}

// WaitMessage waits for a message of this call for which match is true.
func (c *Call) WaitMessage(t testing.TB, d time.Duration, what string, match func(SIPMessage) bool) SIPMessage {
	t.Helper()
	return c.wait(t, d, what, func(m SIPMessage, _ int) bool { return match(m) })
}

func (c *Call) wait(t testing.TB, d time.Duration, what string, match func(SIPMessage, int) bool) SIPMessage {
	t.Helper()
	i := -1
	m, err := c.Phone.waitMsg(d, func(m SIPMessage) bool {
		if m.CallID() != c.ID {
			return false
		}
		i++
		return match(m, i)
	})
	if err != nil {
		t.Fatalf("phone %s call %s: no %s: %v\n%s", c.Phone.Ext.Number, c.ID, what, err, c.Phone.debug())
	}
	return m
}

// waitMsg returns the first message (of all so far and to come) that matches.
func (ph *Phone) waitMsg(d time.Duration, match func(SIPMessage) bool) (SIPMessage, error) {
	deadline := time.After(d)
	seen := 0
	for {
		ph.mu.Lock()
		msgs := ph.msgs[seen:]
		seen = len(ph.msgs)
		changed := ph.changed
		ph.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		select {
		case <-changed:
		case <-deadline:
			return SIPMessage{}, fmt.Errorf("not within %v", d)
		}
	}
}

var traceHead = regexp.MustCompile(`(?m)^-+ (\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?)\s*\n(?:UDP|TCP) (?:control )?message (received|sent) [\[(](\d+)[\])]? bytes\)? ?:\n\n`)

// tail follows the trace files of the phone's processes.
func (ph *Phone) tail() {
	defer close(ph.tailDone)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ph.readTraces()
		select {
		case <-ph.quit:
			ph.readTraces()
			return
		case <-tick.C:
		}
	}
}

func (ph *Phone) readTraces() {
	ph.mu.Lock()
	procs := append([]*sippProc(nil), ph.procs...)
	ph.mu.Unlock()
	var added []SIPMessage
	for _, proc := range procs {
		f, err := os.Open(proc.trace)
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err != nil || st.Size() <= proc.off {
			f.Close()
			continue
		}
		b := make([]byte, st.Size()-proc.off)
		n, _ := f.ReadAt(b, proc.off)
		f.Close()
		proc.off += int64(n)
		proc.buf += string(b[:n])
		for {
			loc := traceHead.FindStringSubmatchIndex(proc.buf)
			if loc == nil {
				break
			}
			size, _ := strconv.Atoi(proc.buf[loc[6]:loc[7]])
			start := loc[1]
			if len(proc.buf)-start < size {
				break // the rest is still being written
			}
			at, _ := time.ParseInLocation("2006-01-02 15:04:05.999999", strings.Join(strings.Fields(proc.buf[loc[2]:loc[3]]), " "), time.Local)
			added = append(added, SIPMessage{At: at, Received: proc.buf[loc[4]:loc[5]] == "received", Text: proc.buf[start : start+size], proc: proc})
			proc.buf = proc.buf[start+size:]
		}
	}
	if len(added) == 0 {
		return
	}
	ph.mu.Lock()
	ph.msgs = append(ph.msgs, added...)
	close(ph.changed)
	ph.changed = make(chan struct{})
	ph.mu.Unlock()
}

// Unregister sends REGISTER with Expires: 0 and waits for Asterisk's 200;
// the phone's process then ends.
func (ph *Phone) Unregister(t testing.TB) {
	t.Helper()
	if err := ph.unregister(5 * time.Second); err != nil {
		t.Fatalf("phone %s: unregister: %v\n%s", ph.Ext.Number, err, ph.debug())
	}
}

// PowerOff stops the phone's processes without unregistering, as a phone
// that loses power: the PBX keeps its contact until the registration expires,
// and nothing answers there.
func (ph *Phone) PowerOff(t testing.TB) {
	t.Helper()
	ph.mu.Lock()
	procs := append([]*sippProc(nil), ph.procs...)
	ph.mu.Unlock()
	for _, p := range procs {
		p.cmd.Process.Kill() //nolint:errcheck // it may have ended
		<-p.done
	}
}

func (ph *Phone) unregister(d time.Duration) error {
	before := len(ph.Messages())
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := sendCtl(ph.main.addr, ph.regCallID(), "unregister", ""); err != nil {
			return err
		}
		i := -1
		_, err := ph.waitMsg(min(time.Second, time.Until(deadline)), func(m SIPMessage) bool {
			i++
			return i >= before && m.Received && m.Status() == 200 && m.CSeqMethod() == "REGISTER"
		})
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("no 200 to the REGISTER with Expires: 0 in %v", d)
}

func (ph *Phone) regCallID() string {
	for _, m := range ph.Messages() {
		if !m.Received && m.Method() == "REGISTER" {
			return m.CallID()
		}
	}
	return ""
}

func (ph *Phone) debug() string {
	var b strings.Builder
	for _, m := range ph.Messages() {
		fmt.Fprintf(&b, "  %s %s (%s)\n", m.At.Format("15:04:05.000"), m, m.CallID())
	}
	ph.mu.Lock()
	procs := append([]*sippProc(nil), ph.procs...)
	ph.mu.Unlock()
	for _, p := range procs {
		if e, err := os.ReadFile(filepath.Join(ph.dir, p.name+".err")); err == nil && len(e) > 0 {
			fmt.Fprintf(&b, "sipp %s errors:\n%s\n", p.name, tail(string(e), 15))
		}
	}
	return b.String()
}

// close unregisters a registered phone (so a shared PBX does not keep
// calling a dead address) and stops its processes.
func (ph *Phone) close(t testing.TB) {
	if ph.main != nil && ph.Ext.Number != "trunk" && ph.pbx.Running() {
		select {
		case <-ph.main.done:
		default:
			ph.unregister(2 * time.Second) //nolint:errcheck // best effort
		}
	}
	ph.mu.Lock()
	procs := append([]*sippProc(nil), ph.procs...)
	ph.mu.Unlock()
	for _, p := range procs {
		p.cmd.Process.Kill() //nolint:errcheck
		<-p.done
	}
	close(ph.quit)
	<-ph.tailDone
	if t.Failed() {
		t.Logf("phone %s messages:\n%s", ph.Ext.Number, ph.debug())
	}
}

// Exited reports whether all of the phone's SIPp processes ended, and their
// errors (SIPp exits 1 when a call failed).
func (ph *Phone) Exited() (bool, error) {
	ph.mu.Lock()
	procs := append([]*sippProc(nil), ph.procs...)
	ph.mu.Unlock()
	var errs []error
	for _, p := range procs {
		select {
		case <-p.done:
			if p.err != nil {
				errs = append(errs, fmt.Errorf("sipp %s: %w", p.name, p.err))
			}
		default:
			return false, nil
		}
	}
	return true, errors.Join(errs...)
}

// ulaw encodes one sample as G.711 mu-law.
func ulaw(s int16) byte {
	const bias, clip = 0x84, 32635
	v, sign := int(s), byte(0)
	if v < 0 {
		v, sign = -v, 0x80
	}
	if v > clip {
		v = clip
	}
	v += bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^(sign | byte(exp<<4) | byte(mant))
}
