package tftpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

type env struct {
	addr   string
	tenant string
	file   string // a rendered device file's name
	body   []byte
	fw     []byte
	log    *provtest.Log
}

// setup runs a real TFTP server on 127.0.0.1 over a provisioning service.
func setup(t *testing.T, mode string, burst int) env {
	t.Helper()
	p := provtest.New(t, mode, burst)
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	// Short retransmissions: abandoned transfers (raw probes never ACK) end fast.
	cfg.Timeout, cfg.Retries = 300*time.Millisecond, 2
	srv, err := New(cfg, p.Logger, p.Prov, ratelimit.New(burst, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(p.Ctx)
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return env{addr: srv.Addr().String(), tenant: p.Tenant, file: p.File, body: p.Body, fw: p.Firmware, log: p.Log}
}

func need(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (CI installs it from .ci/run)", tool)
		}
	}
}

// TestRealClients fetches with tftp-hpa, atftp and curl, with and without blksize.
func TestRealClients(t *testing.T) {
	need(t, "tftp", "atftp", "curl")
	e := setup(t, provision.ModeSingle, 30)
	host, port, _ := net.SplitHostPort(e.addr)
	dir := t.TempDir()
	cases := []struct {
		name string
		cmd  func(remote, local string) *exec.Cmd
	}{
		{"tftp-hpa", func(r, l string) *exec.Cmd {
			return exec.Command("tftp", host, port, "-m", "binary", "-c", "get", r, l)
		}},
		{"atftp blksize 1428", func(r, l string) *exec.Cmd {
			return exec.Command("atftp", "--option", "blksize 1428", "--option", "tsize 0", "-g", "-r", r, "-l", l, host, port)
		}},
		{"curl blksize 1024", func(r, l string) *exec.Cmd {
			return exec.Command("curl", "-sS", "--tftp-blksize", "1024", "-o", l, "tftp://"+e.addr+"/"+r)
		}},
	}
	for _, c := range cases {
		for _, f := range []struct {
			name string
			want []byte
		}{{e.file, e.body}, {"firmware.rom", e.fw}} {
			if c.name == "tftp-hpa" && f.name == "firmware.rom" {
				continue // 512-byte blocks: 6,000 round trips add nothing the others miss
			}
			local := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+"-"+f.name)
			if out, err := c.cmd(f.name, local).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v %s", c.name, f.name, err, out)
			}
			got, _ := os.ReadFile(local)
			if !bytes.Equal(got, f.want) {
				t.Fatalf("%s %s: %d bytes differ from the %d served", c.name, f.name, len(got), len(f.want))
			}
		}
	}
	logs := e.log.String()
	if !strings.Contains(logs, `msg="tftp transfer" src=127.0.0.1 file=firmware.rom bytes=3145728`) || !strings.Contains(logs, "blksize=1428") {
		t.Errorf("transfers not logged with client, file, bytes and blksize:\n%s", logs)
	}
}

// request sends one raw datagram and returns the first reply from any port of
// the server (transfers answer from their own port), nil on timeout.
func request(t *testing.T, addr string, pkt []byte) []byte {
	return requestWait(t, addr, pkt, 700*time.Millisecond)
}

func requestWait(t *testing.T, addr string, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	c.WriteTo(pkt, to)
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func rq(op uint16, name, mode string, opts ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	b = append(append(b, name...), 0)
	b = append(append(b, mode...), 0)
	for _, o := range opts {
		b = append(append(b, o...), 0)
	}
	return b
}

func errCode(p []byte) int {
	if len(p) < 4 || binary.BigEndian.Uint16(p) != opError {
		return -1
	}
	return int(binary.BigEndian.Uint16(p[2:]))
}

// TestAbuseCorpus: what must never become a transfer.
func TestAbuseCorpus(t *testing.T) {
	e := setup(t, provision.ModeMulti, 1000)
	cases := []struct {
		name string
		pkt  []byte
		want []int // acceptable error codes; -2 means "no answer"
	}{
		{"write request", rq(opWRQ, e.tenant+"/x.cfg", "octet"), []int{errAccess}},
		{"traversal", rq(opRRQ, e.tenant+"/../"+e.tenant+"/"+e.file, "octet"), []int{errAccess}},
		{"absolute", rq(opRRQ, "/etc/passwd", "octet"), []int{errAccess}},
		{"backslash", rq(opRRQ, e.tenant+"\\"+e.file, "octet"), []int{errAccess}},
		{"root name in multi mode", rq(opRRQ, e.file, "octet"), []int{1}},
		{"other tenant", rq(opRRQ, "6f1c2a5e-0000-4000-8000-000000000000/"+e.file, "octet"), []int{1}},
		{"unknown file", rq(opRRQ, e.tenant+"/nothing.cfg", "octet"), []int{1}},
		{"bad mode", rq(opRRQ, e.tenant+"/"+e.file, "mail"), []int{errIllegal}},
		{"odd options", rq(opRRQ, e.tenant+"/"+e.file, "octet", "blksize"), []int{errIllegal}},
		{"missing NUL", []byte{0, 1, 'a', 'b'}, []int{errIllegal}},
		{"too short", []byte{0, 1}, []int{errIllegal}},
		{"oversized name", rq(opRRQ, strings.Repeat("a", 600), "octet"), []int{errAccess, errIllegal}},
		{"stray ACK", []byte{0, 4, 0, 1}, []int{-2}},
		{"stray DATA", []byte{0, 3, 0, 1, 'x'}, []int{-2}},
	}
	for _, c := range cases {
		reply := request(t, e.addr, c.pkt)
		code := errCode(reply)
		if reply == nil {
			code = -2
		}
		ok := false
		for _, w := range c.want {
			ok = ok || w == code
		}
		if !ok {
			t.Errorf("%s: reply %v (code %d), want one of %v", c.name, reply, code, c.want)
		}
	}
	// Random garbage: never a DATA packet, and the server still serves afterwards.
	for i := 0; i < 100; i++ {
		b := make([]byte, 1+i%40)
		rand.Read(b)
		if r := requestWait(t, e.addr, b, 50*time.Millisecond); len(r) >= 2 && binary.BigEndian.Uint16(r) == 3 {
			t.Fatalf("garbage %x got a DATA packet", b)
		}
	}
	reply := request(t, e.addr, rq(opRRQ, e.tenant+"/"+e.file, "octet"))
	if len(reply) < 4 || binary.BigEndian.Uint16(reply) != 3 || !bytes.HasPrefix(e.body, reply[4:min(len(reply), 20)]) {
		t.Fatalf("good request after the abuse: %v", reply)
	}
	if !strings.Contains(e.log.String(), `msg="tftp: write request refused" src=127.0.0.1`) {
		t.Error("write request not logged")
	}
}

// TestThrottleUnknown: a source asking for many unknown files is refused and logged.
func TestThrottleUnknown(t *testing.T) {
	e := setup(t, provision.ModeSingle, 3)
	var last []byte
	for i := 0; i < 5; i++ {
		last = request(t, e.addr, rq(opRRQ, "001565abcd0"+string(rune('0'+i))+".cfg", "octet"))
	}
	if errCode(last) != errUndefined || !bytes.Contains(last, []byte("too many")) {
		t.Fatalf("5th unknown request: %q", last)
	}
	// Even a real file is refused while the source is throttled.
	if r := request(t, e.addr, rq(opRRQ, e.file, "octet")); errCode(r) != errUndefined {
		t.Errorf("known file while throttled: %q", r)
	}
	if !strings.Contains(e.log.String(), `msg="tftp: too many unknown files, throttling" src=127.0.0.1`) {
		t.Errorf("no fail2ban line:\n%s", e.log.String())
	}
}

func FuzzFilter(f *testing.F) {
	f.Add(rq(opRRQ, "a.cfg", "octet", "blksize", "1428"))
	f.Add(rq(opWRQ, "a.cfg", "octet"))
	f.Add([]byte{0, 1})
	f.Add(rq(opRRQ, "../x", "netascii"))
	s := &Server{log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), limit: ratelimit.New(1000000, time.Second)}
	c := &filterConn{s: s}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	f.Fuzz(func(t *testing.T, p []byte) {
		_, code, ok := c.check(p, addr)
		if ok {
			if len(p) < 4 || binary.BigEndian.Uint16(p) != opRRQ {
				t.Fatalf("non-RRQ passed the filter: %x", p)
			}
			name, _, _ := strings.Cut(string(p[2:]), "\x00")
			if strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
				t.Fatalf("traversal passed the filter: %q", name)
			}
		} else if code > 7 {
			t.Fatalf("bad error code %d", code)
		}
	})
}
