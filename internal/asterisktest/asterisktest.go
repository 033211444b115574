package asterisktest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

// DefaultPrefix is where .ci/run installs Asterisk when SB_ASTERISK is unset.
const DefaultPrefix = "/var/cache/switchboard/asterisk-20.20.1"

// Fixed ports: every instance has a loopback address of its own, so the
// well-known ports never collide (see the package documentation).
const (
	AMIPort = 5038 // AMI (TCP) on PBX.IP
	SIPPort = 5060 // PJSIP UDP and TCP on PBX.IP; phones listen on this port at their own address
)

// VoicemailPIN is the PIN of every generated voicemail box.
const VoicemailPIN = "1234"

// Options shape one instance. The zero value is completed by defaults.
type Options struct {
	Extensions  int           // extensions 201, 202, ... (default 20: 201-220)
	MaxContacts int           // max_contacts of each AOR (default 1, remove_existing = yes)
	Queues      []Queue       // default: 400 ringall without static members, 401 rrmemory with 219 and 220
	RingTime    time.Duration // how long an extension rings before CFU / giving up (default 20 s)
	QueueWait   time.Duration // how long a caller waits in a queue (default 60 s)
	ParkingTime time.Duration // parked calls come back after this (default 45 s)
	TZ          string        // TZ of the Asterisk process, so CDR times are predictable (default "UTC")
}

func (o *Options) complete() {
	if o.Extensions <= 0 {
		o.Extensions = 20
	}
	if o.Extensions > 99 {
		o.Extensions = 99
	}
	if o.MaxContacts <= 0 {
		o.MaxContacts = 1
	}
	if o.Queues == nil {
		o.Queues = []Queue{
			{Name: "400", Strategy: "ringall"},
			{Name: "401", Strategy: "rrmemory", Members: []string{"PJSIP/219", "PJSIP/220"}},
		}
	}
	if o.RingTime <= 0 {
		o.RingTime = 20 * time.Second
	}
	if o.QueueWait <= 0 {
		o.QueueWait = 60 * time.Second
	}
	if o.ParkingTime <= 0 {
		o.ParkingTime = 45 * time.Second
	}
	if o.TZ == "" {
		o.TZ = "UTC"
	}
}

// Extension is one generated PJSIP endpoint (endpoint, auth and AOR share the name).
type Extension struct {
	Number   string // "201"; also the SIP user name and the voicemail box
	Password string // SIP digest password
	Name     string // caller id name, "Ext 201"
}

// PBX is one running private Asterisk.
type PBX struct {
	Prefix    string // the Asterisk install (SB_ASTERISK)
	Dir       string // the instance's private tree: etc, run, log, spool, lib, data
	IP        string // the instance's loopback address (127.x.y.z); AMI and SIP listen here
	AMIAddr   string // IP:5038
	AMIUser   string // AMI user with read = all, write = all
	AMISecret string
	SIPAddr   string // IP:5060, UDP and TCP
	TrunkIP   string // the address the "trunk" endpoint is identified by; TrunkPhone listens here
	UserAgent string // PJSIP user_agent, unique per instance (proves a SIP answer is ours)
	// StartTime is how long the last start took, until AMI FullyBooted.
	StartTime time.Duration

	opts Options
	dirs dirs
	exts []Extension
	out  *testlog.Buffer // Asterisk's stdout/stderr

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	used    map[string]bool // extensions handed out by FreeExt
}

type dirs struct{ etc, run, log, spool, lib, data string }

// Prefix returns the Asterisk install to use and whether it is there:
// SB_ASTERISK when set, else $SB_CACHE/asterisk-20.20.1 when that exists,
// else DefaultPrefix.
func Prefix() (string, bool) {
	p := os.Getenv("SB_ASTERISK")
	if p == "" {
		if c := os.Getenv("SB_CACHE"); c != "" {
			if _, err := os.Stat(filepath.Join(c, "asterisk-20.20.1/sbin/asterisk")); err == nil {
				p = filepath.Join(c, "asterisk-20.20.1")
			}
		}
	}
	if p == "" {
		p = DefaultPrefix
	}
	_, err := os.Stat(filepath.Join(p, "sbin/asterisk"))
	return p, err == nil
}

// Need skips the test when the Asterisk install or SIPp is missing.
func Need(t testing.TB) string {
	t.Helper()
	p, ok := Prefix()
	if !ok {
		t.Skipf("no Asterisk at %s (set SB_ASTERISK, or run .ci/run which builds it from ../shared/asterisk)", p)
	}
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("needs sipp (Debian sip-tester, installed by .ci/run)")
	}
	return p
}

// Start starts a private Asterisk for this test; it is stopped and its files
// removed when the test ends (the files are kept, and the path logged, when
// the test failed).
func Start(t testing.TB, o Options) *PBX {
	t.Helper()
	p, err := start(t, Need(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cleanup(t.Failed(), t.Logf) })
	return p
}

var (
	sharedMu   sync.Mutex
	shared     *PBX
	sharedErr  error
	sharedMain bool
)

// Main runs a package's tests and then stops the instance Shared started. Use
// it in the package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(asterisktest.Main(m)) }
func Main(m *testing.M) int {
	sharedMu.Lock()
	sharedMain = true
	sharedMu.Unlock()
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.cleanup(code != 0, func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
		shared = nil
	}
	return code
}

// Shared returns the package's one Asterisk (default Options), starting it on
// first use; Main stops it after the last test. Tests that share it take their
// extensions with FreeExt so parallel tests never register the same one.
func Shared(t testing.TB) *PBX {
	t.Helper()
	prefix := Need(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !sharedMain {
		t.Fatal("asterisktest.Shared needs TestMain to call asterisktest.Main")
	}
	if shared == nil && sharedErr == nil {
		shared, sharedErr = start(t, prefix, Options{})
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// randLoopback picks an address in 127.64.0.0/10, clear of 127.0.0.0/16 where
// resolvers and other tests listen.
func randLoopback() string {
	return fmt.Sprintf("127.%d.%d.%d", 64+mrand.IntN(64), mrand.IntN(256), 1+mrand.IntN(254))
}

func start(t testing.TB, prefix string, o Options) (*PBX, error) {
	o.complete()
	var last error
	// A chosen address can only be taken by a process listening on the same
	// port on every address (or, by chance, on the same one): try another.
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startOnce(prefix, o)
		if err == nil {
			t.Logf("asterisk %s up in %v (AMI %s, SIP %s, files %s)", p.UserAgent, p.StartTime.Round(time.Millisecond), p.AMIAddr, p.SIPAddr, p.Dir)
			return p, nil
		}
		last = err
		if !errors.Is(err, errAddrTaken) {
			break
		}
	}
	return nil, last
}

var errAddrTaken = errors.New("address taken by another process")

func startOnce(prefix string, o Options) (*PBX, error) {
	// A short path: the control socket's path must fit in sun_path.
	dir, err := os.MkdirTemp("", "sbast-")
	if err != nil {
		return nil, err
	}
	id := randHex(4)
	p := &PBX{
		Prefix:    prefix,
		Dir:       dir,
		IP:        randLoopback(),
		TrunkIP:   randLoopback(),
		AMIUser:   "sbtest",
		AMISecret: randHex(12),
		UserAgent: "sbtest-" + id,
		opts:      o,
		out:       &testlog.Buffer{},
		used:      map[string]bool{},
	}
	p.AMIAddr = net.JoinHostPort(p.IP, fmt.Sprint(AMIPort))
	p.SIPAddr = net.JoinHostPort(p.IP, fmt.Sprint(SIPPort))
	p.dirs = dirs{
		etc: filepath.Join(dir, "etc"), run: filepath.Join(dir, "run"), log: filepath.Join(dir, "log"),
		spool: filepath.Join(dir, "spool"), lib: filepath.Join(dir, "lib"), data: filepath.Join(dir, "data"),
	}
	for i := 0; i < o.Extensions; i++ {
		n := fmt.Sprint(201 + i)
		p.exts = append(p.exts, Extension{Number: n, Password: "Sb-" + n + "-" + randHex(6), Name: "Ext " + n})
	}
	for _, d := range []string{p.dirs.etc, p.dirs.run, p.dirs.log, p.dirs.spool, p.dirs.lib, p.dirs.data,
		filepath.Join(p.dirs.lib, "keys"), filepath.Join(p.dirs.log, "cdr-csv"), filepath.Join(p.dirs.spool, "monitor"), filepath.Join(p.dirs.spool, "voicemail/default")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := writeFiles(p.dirs.etc, p.files()); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := installMedia(p.dirs.data); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.run(); err != nil {
		p.cleanup(false, nil)
		return nil, err
	}
	return p, nil
}

// run starts the process and waits until AMI reports FullyBooted and the SIP
// transport answers with our user agent.
func (p *PBX) run() error {
	began := time.Now()
	cmd := exec.Command(filepath.Join(p.Prefix, "sbin/asterisk"), "-f", "-n", "-C", filepath.Join(p.dirs.etc, "asterisk.conf"))
	cmd.Env = append(os.Environ(), "TZ="+p.opts.TZ, "LD_LIBRARY_PATH="+filepath.Join(p.Prefix, "lib"))
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Asterisk dies with the test binary, even when the test crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start asterisk: %w", err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	var a *AMI
	for {
		select {
		case <-done:
			return fmt.Errorf("asterisk exited during start (%v):\n%s", p.exitErr(), tail(p.out.String(), 40))
		default:
		}
		c, err := DialAMI(p.AMIAddr, p.AMIUser, p.AMISecret)
		if err == nil {
			a = c
			break
		}
		if errors.Is(err, ErrAuth) {
			// Someone else's AMI answers on this address.
			p.kill()
			return fmt.Errorf("%w: %s: %v", errAddrTaken, p.AMIAddr, err)
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("AMI at %s not up after 60 s: %v\n%s", p.AMIAddr, err, tail(p.out.String(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer a.Close()
	if _, err := a.WaitEvent(time.Until(deadline), Match("Event", "FullyBooted")); err != nil {
		p.kill()
		return fmt.Errorf("no FullyBooted from %s: %v\n%s", p.AMIAddr, err, tail(p.out.String(), 40))
	}
	if err := p.checkSIP(); err != nil {
		p.kill()
		if strings.Contains(p.out.String(), "Address already in use") || strings.Contains(p.LogText(), "Address already in use") {
			return fmt.Errorf("%w: %s: %v", errAddrTaken, p.SIPAddr, err)
		}
		return fmt.Errorf("SIP transport %s: %v\n%s", p.SIPAddr, err, tail(p.LogText(), 40))
	}
	p.StartTime = time.Since(began)
	return nil
}

// checkSIP sends OPTIONS to the UDP transport and expects an answer carrying
// this instance's user agent.
func (p *PBX) checkSIP() error {
	c, err := net.Dial("udp", p.SIPAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	la := c.LocalAddr().(*net.UDPAddr)
	branch := "z9hG4bK" + randHex(8)
	msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@%s>;tag=%s\r\nTo: <sip:%s>\r\nCall-ID: %s@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		p.SIPAddr, la, branch, la.IP, randHex(4), p.SIPAddr, randHex(8))
	buf := make([]byte, 4096)
	for i := 0; i < 20; i++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		if bytes.Contains(buf[:n], []byte(p.UserAgent)) {
			return nil
		}
		return fmt.Errorf("%w: answer from another SIP server: %q", errAddrTaken, firstLine(string(buf[:n])))
	}
	return errors.New("no answer to OPTIONS")
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return strings.TrimSpace(l) }

func (p *PBX) exitErr() error { p.mu.Lock(); defer p.mu.Unlock(); return p.waitErr }

// kill stops the process at once.
func (p *PBX) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// stop asks Asterisk to stop now (SIGTERM: "core stop now"), and kills it
// after 10 s.
func (p *PBX) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func (p *PBX) cleanup(keep bool, logf func(string, ...any)) {
	p.stop()
	if keep && logf != nil {
		logf("asterisk %s files kept in %s; last lines of its log:\n%s", p.UserAgent, p.Dir, tail(p.LogText(), 60))
		return
	}
	os.RemoveAll(p.Dir)
}

// Restart stops Asterisk (SIGTERM, as "core stop now") and starts it again on
// the same files and addresses: AstDB, registrations and CDR files survive,
// AMI connections see EOF.
func (p *PBX) Restart(t testing.TB) {
	t.Helper()
	p.stop()
	if err := p.run(); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// Running reports whether the process is alive.
func (p *PBX) Running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Extensions lists the generated extensions (201, 202, ...).
func (p *PBX) Extensions() []Extension { return append([]Extension(nil), p.exts...) }

// Ext returns the extension with this number; it fails the test when there is none.
func (p *PBX) Ext(t testing.TB, number string) Extension {
	t.Helper()
	for _, e := range p.exts {
		if e.Number == number {
			return e
		}
	}
	t.Fatalf("no extension %s (have 201-%d)", number, 200+len(p.exts))
	return Extension{}
}

// FreeExt hands out an extension no other test of this process holds, until
// the test ends; tests sharing one instance use it to stay apart.
func (p *PBX) FreeExt(t testing.TB) Extension {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.exts {
		if !p.used[e.Number] && !p.reserved(e.Number) {
			p.used[e.Number] = true
			t.Cleanup(func() {
				// A call the test left up (a phone stopped while its INVITE was
				// still ringing sends no final answer Asterisk can use) would
				// reach the next test to take this extension: hang it up first.
				if err := p.hangupExt(e.Number); err != nil {
					t.Logf("extension %s: %v", e.Number, err)
				}
				p.mu.Lock()
				delete(p.used, e.Number)
				p.mu.Unlock()
			})
			return e
		}
	}
	t.Fatalf("all %d extensions are in use", len(p.exts))
	return Extension{}
}

// hangupExt hangs up every channel of extension n and waits until Asterisk
// lists none.
func (p *PBX) hangupExt(n string) error {
	a, err := DialAMI(p.AMIAddr, p.AMIUser, p.AMISecret)
	if err != nil {
		return fmt.Errorf("AMI %s: %w", p.AMIAddr, err)
	}
	defer a.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := a.List("CoreShowChannels")
		if err != nil {
			return fmt.Errorf("list channels: %w", err)
		}
		left := 0
		for _, ev := range evs {
			if ch := ev.Get("Channel"); strings.HasPrefix(ch, "PJSIP/"+n+"-") {
				left++
				a.Action("Hangup", "Channel", ch) // gone already is fine: listed again below
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d channels still up after hangup", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reserved: static queue members are not handed out, a test would get queue calls.
func (p *PBX) reserved(n string) bool {
	for _, q := range p.opts.Queues {
		for _, m := range q.Members {
			if m == "PJSIP/"+n {
				return true
			}
		}
	}
	return false
}

// ConfDir, LogDir and SpoolDir are the instance's directories.
func (p *PBX) ConfDir() string  { return p.dirs.etc }
func (p *PBX) LogDir() string   { return p.dirs.log }
func (p *PBX) SpoolDir() string { return p.dirs.spool }

// MasterCSV is cdr_csv's file: one line per CDR, with uniqueid, userfield,
// peeraccount, linkedid and sequence (newcdrcolumns).
func (p *PBX) MasterCSV() string { return filepath.Join(p.dirs.log, "cdr-csv", "Master.csv") }

// QueueLog is app_queue's log file (pipe-separated, as the queue_log table).
func (p *PBX) QueueLog() string { return filepath.Join(p.dirs.log, "queue_log") }

// LogText is Asterisk's "full" log so far.
func (p *PBX) LogText() string {
	b, _ := os.ReadFile(filepath.Join(p.dirs.log, "full"))
	return string(b)
}

// Output is what the process wrote to stdout and stderr.
func (p *PBX) Output() string { return p.out.String() }

// AMI opens a logged-in AMI connection (all permissions), closed when the test ends.
func (p *PBX) AMI(t testing.TB) *AMI {
	t.Helper()
	a, err := DialAMI(p.AMIAddr, p.AMIUser, p.AMISecret)
	if err != nil {
		t.Fatalf("AMI %s: %v", p.AMIAddr, err)
	}
	t.Cleanup(a.Close)
	return a
}

// CLI runs a CLI command through AMI and returns its output.
func (p *PBX) CLI(t testing.TB, command string) string {
	t.Helper()
	a := p.AMI(t)
	defer a.Close()
	r, err := a.Action("Command", "Command", command)
	if err != nil {
		t.Fatalf("CLI %q: %v", command, err)
	}
	return r.Get("Output")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
