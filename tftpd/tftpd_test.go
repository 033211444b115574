package tftpd

// Tests of the TFTP front end against real clients (tftp-hpa, atftp, curl) and
// hand-made datagrams, over the shared provisioning fixture (internal/provtest).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
)

type tfEnv struct {
	*provtest.Env
	addr string // host:port of the TFTP server
	host string
	port string
}

// tfStart runs the fixture's provisioning service and a TFTP server on 127.0.0.1.
func tfStart(t *testing.T, mode string, burst int) *tfEnv {
	t.Helper()
	e := &tfEnv{Env: provtest.New(t, mode, burst)}
	srv := tfServer(t, e.Env, burst, nil)
	if err := srv.Bind(e.Ctx); err != nil {
		t.Fatal(err)
	}
	e.addr = srv.Addr().String()
	e.host, e.port, _ = net.SplitHostPort(e.addr)
	sctx, scancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() {
		scancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

// tfServer is a TFTP server (not bound yet) on env's provisioning service, with
// a budget of burst unknown names: on 127.0.0.1, a port of its own, and short
// retransmissions (300 ms, 2 retries), so that probes that never ACK end fast
// and shutdown is quick; edit (if not nil) changes the configuration first.
func tfServer(t *testing.T, env *provtest.Env, burst int, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Timeout, cfg.Retries = 300*time.Millisecond, 2
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg, env.Logger, env.Prov, provision.NewThrottle(ratelimit.New(burst, time.Minute), env.Logger))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func tfNeed(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (CI installs it through .ci/run)", tool)
		}
	}
}

// tfRun runs a client with a deadline; it returns the combined output and the
// exit code.
func tfRun(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %q timed out: %s", name, args, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%s: %v", name, err)
	return "", -1
}

// Clients, each fetching remote into local.
func (e *tfEnv) hpa(t *testing.T, remote, local string) (string, int) {
	return tfRun(t, "tftp", e.host, e.port, "-m", "binary", "-c", "get", remote, local)
}

func (e *tfEnv) atftp(t *testing.T, blksize int, remote, local string) (string, int) {
	return tfRun(t, "atftp", "--option", fmt.Sprintf("blksize %d", blksize), "--option", "tsize 0",
		"-g", "-r", remote, "-l", local, e.host, e.port)
}

func (e *tfEnv) curl(t *testing.T, blksize int, remote, local string) (string, int) {
	return tfRun(t, "curl", "-s", "-S", "--path-as-is", "--max-time", "20", "-o", local,
		"--tftp-blksize", fmt.Sprint(blksize), "tftp://"+e.addr+"/"+remote)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTFTPClients: tftp-hpa, atftp (blksize 1428) and curl (blksize 1024) get the
// rendered file byte for byte; atftp and curl get the 3 MB firmware (a multiple
// of 1024 but not of 1428 bytes) with blksize 1428 and 1024. Every transfer is
// logged with its source, file, size, block size and result, and the server
// acknowledges tsize with the real size.
func TestTFTPClients(t *testing.T) {
	tfNeed(t, "tftp", "atftp", "curl")
	e := tfStart(t, provision.ModeSingle, 30)
	dir := t.TempDir()
	const fw = "firmware.rom"
	clients := []struct {
		name  string
		file  string
		want  []byte
		fetch func(local string) (string, int)
	}{
		{"tftp-hpa", e.File, e.Body, func(l string) (string, int) { return e.hpa(t, e.File, l) }},
		{"atftp blksize 1428", e.File, e.Body, func(l string) (string, int) { return e.atftp(t, 1428, e.File, l) }},
		{"curl blksize 1024", e.File, e.Body, func(l string) (string, int) { return e.curl(t, 1024, e.File, l) }},
		// (tftp-hpa has 512-byte blocks: 6,000 round trips add nothing the others miss.)
		{"atftp blksize 1428", fw, e.Firmware, func(l string) (string, int) { return e.atftp(t, 1428, fw, l) }},
		{"curl blksize 1428", fw, e.Firmware, func(l string) (string, int) { return e.curl(t, 1428, fw, l) }},
		{"curl blksize 1024", fw, e.Firmware, func(l string) (string, int) { return e.curl(t, 1024, fw, l) }},
	}
	for i, c := range clients {
		local := filepath.Join(dir, fmt.Sprintf("out%d", i))
		if out, code := c.fetch(local); code != 0 {
			t.Fatalf("%s %s: exit %d: %s", c.name, c.file, code, out)
		}
		if got := readFile(t, local); !bytes.Equal(got, c.want) {
			t.Errorf("%s %s: %d bytes differ from the %d served", c.name, c.file, len(got), len(c.want))
		}
	}
	prefix := func(file string, n int) string {
		return fmt.Sprintf(`msg="tftp transfer" src=127.0.0.1 file=%s bytes=%d `, file, n)
	}
	lines := e.Log.WaitLines(t, 3, prefix(e.File, len(e.Body)), "result=ok")
	if len(lines) != 3 {
		t.Errorf("want 3 transfer lines for %s, got %d:\n%s", e.File, len(lines), strings.Join(lines, "\n"))
	}
	if e.Log.Count(prefix(e.File, len(e.Body)), "blksize=1428") != 1 || e.Log.Count(prefix(e.File, len(e.Body)), "blksize=1024") != 1 {
		t.Errorf("negotiated block sizes not logged:\n%s", strings.Join(lines, "\n"))
	}
	e.Log.WaitLines(t, 3, prefix(fw, len(e.Firmware)), "result=ok")
	if n, m := e.Log.Count(prefix(fw, len(e.Firmware)), "blksize=1428", "result=ok"), e.Log.Count(prefix(fw, len(e.Firmware)), "blksize=1024", "result=ok"); n != 2 || m != 1 {
		t.Errorf("firmware transfers with blksize 1428: %d (want 2), 1024: %d (want 1):\n%s", n, m, e.Log.String())
	}

	// The options as the server acknowledges them: tsize is the real size.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", e.addr)
	c.WriteTo(tfRQ(opRRQ, fw, "octet", "tsize", "0", "blksize", "1428"), to)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	// Cancel the transfer rather than let it time out.
	defer c.WriteTo([]byte{0, opError, 0, 0, 'b', 'y', 'e', 0}, from)
	if n < 2 || binary.BigEndian.Uint16(buf) != 6 {
		t.Fatalf("want an OACK, got %q", buf[:n])
	}
	opts := map[string]string{}
	f := strings.Split(strings.TrimSuffix(string(buf[2:n]), "\x00"), "\x00")
	for i := 0; i+1 < len(f); i += 2 {
		opts[strings.ToLower(f[i])] = f[i+1]
	}
	if opts["tsize"] != fmt.Sprint(len(e.Firmware)) || opts["blksize"] != "1428" {
		t.Errorf("OACK options %v, want tsize %d blksize 1428", opts, len(e.Firmware))
	}
}

// tfNone stands for "no answer" among the expected error codes.
const tfNone = -2

// tfCase is one datagram and the error codes it may be answered with.
type tfCase struct {
	name string
	pkt  []byte
	want []int
}

// tfCheck sends every case at once, each from its own port, and checks that none
// starts a transfer and each is answered with one of its codes.
func tfCheck(t *testing.T, addr string, cases []tfCase) {
	t.Helper()
	pkts := make([][]byte, len(cases))
	for i, c := range cases {
		pkts[i] = c.pkt
	}
	for i, reply := range tfRequests(t, addr, pkts, 800*time.Millisecond) {
		c := cases[i]
		code := tfErrCode(reply)
		if reply == nil {
			code = tfNone
		}
		if tfIsData(reply) {
			t.Errorf("%s: the server started a transfer: %q", c.name, reply)
			continue
		}
		ok := false
		for _, w := range c.want {
			ok = ok || w == code
		}
		if !ok {
			t.Errorf("%s: reply %q (code %d), want one of %v", c.name, reply, code, c.want)
		}
	}
}

// TestTFTPMultiTenant: files live under the tenant's UUID and nowhere else.
func TestTFTPMultiTenant(t *testing.T) {
	tfNeed(t, "tftp", "curl")
	e := tfStart(t, provision.ModeMulti, 1000)
	other := e.AddTenant(t, "second")
	dir := t.TempDir()
	good := e.Tenant + "/" + e.File
	if out, code := e.hpa(t, good, filepath.Join(dir, "hpa")); code != 0 {
		t.Fatalf("tftp-hpa %s: exit %d: %s", good, code, out)
	}
	if out, code := e.curl(t, 512, good, filepath.Join(dir, "curl")); code != 0 {
		t.Fatalf("curl %s: exit %d: %s", good, code, out)
	}
	for _, f := range []string{"hpa", "curl"} {
		if got := readFile(t, filepath.Join(dir, f)); !bytes.Equal(got, e.Body) {
			t.Errorf("%s: got %q", f, got)
		}
	}
	file := e.File
	bad := []tfCase{
		{"another tenant, this tenant's file name", tfRQ(opRRQ, other+"/"+file, "octet"), []int{1, errAccess}},
		{"root name in multi mode", tfRQ(opRRQ, file, "octet"), []int{1}},
		{"no such tenant", tfRQ(opRRQ, "6f1c2a5e-0000-4000-8000-000000000000/"+file, "octet"), []int{1}},
		{"not a UUID", tfRQ(opRRQ, "not-a-uuid/"+file, "octet"), []int{1, errAccess}},
		{"other tenant, upper case", tfRQ(opRRQ, strings.ToUpper(other)+"/"+file, "octet"), []int{1, errAccess}},
		{"nested", tfRQ(opRRQ, e.Tenant+"/"+e.Tenant+"/"+file, "octet"), []int{1, errAccess}},
		{"directory", tfRQ(opRRQ, e.Tenant+"/", "octet"), []int{1, errAccess}},
		{"unknown file", tfRQ(opRRQ, e.Tenant+"/nothing.cfg", "octet"), []int{1}},
	}
	cases := append(bad,
		tfCase{"write request", tfRQ(opWRQ, e.Tenant+"/x.cfg", "octet"), []int{errAccess}},
		tfCase{"traversal", tfRQ(opRRQ, e.Tenant+"/../"+e.Tenant+"/"+file, "octet"), []int{errAccess}},
		tfCase{"backslash", tfRQ(opRRQ, e.Tenant+"\\"+file, "octet"), []int{errAccess}},
		tfCase{"bad mode", tfRQ(opRRQ, e.Tenant+"/"+file, "mail"), []int{errIllegal}},
		tfCase{"odd options", tfRQ(opRRQ, e.Tenant+"/"+file, "octet", "blksize"), []int{errIllegal}},
	)
	tfCheck(t, e.addr, cases)
	for _, c := range bad {
		name, _, _ := strings.Cut(string(c.pkt[2:]), "\x00")
		if out, code := e.curl(t, 512, name, filepath.Join(dir, "bad")); code == 0 {
			t.Errorf("curl %q succeeded: %s", name, out)
		}
	}
	// The other tenant's own (missing) file is "not found" through a real client too.
	out, _ := e.hpa(t, other+"/"+file, filepath.Join(dir, "hpa-bad"))
	if !strings.Contains(out, "code 1") {
		t.Errorf("tftp-hpa, other tenant: %q", out)
	}
	// Still serving, over a raw request.
	reply := tfRequest(t, e.addr, tfRQ(opRRQ, good, "octet"))
	if len(reply) < 4 || binary.BigEndian.Uint16(reply) != 3 || !bytes.HasPrefix(e.Body, reply[4:min(len(reply), 20)]) {
		t.Fatalf("good request after the abuse: %q", reply)
	}
	if e.Log.Count(`msg="write request refused" src=127.0.0.1`, "file="+e.Tenant+"/x.cfg") == 0 {
		t.Error("write request not logged")
	}
}

// tfRequest sends one datagram and returns the first reply from any port of the
// server (transfers answer from their own port), nil when nothing comes.
func tfRequest(t *testing.T, addr string, pkt []byte) []byte {
	t.Helper()
	return tfRequests(t, addr, [][]byte{pkt}, 800*time.Millisecond)[0]
}

// tfRequests sends each datagram from its own port, all at once, and returns the
// first reply each gets within wait (nil for none).
func tfRequests(t *testing.T, addr string, pkts [][]byte, wait time.Duration) [][]byte {
	t.Helper()
	return tfRequestsFrom(t, "127.0.0.1", addr, pkts, wait)
}

func tfRQ(op uint16, fields ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	for _, f := range fields {
		b = append(append(b, f...), 0)
	}
	return b
}

// tfErrCode is the code of an ERROR packet, -1 for anything else.
func tfErrCode(p []byte) int {
	if len(p) < 4 || binary.BigEndian.Uint16(p) != opError {
		return -1
	}
	return int(binary.BigEndian.Uint16(p[2:]))
}

func tfErrMsg(p []byte) string {
	if tfErrCode(p) < 0 {
		return ""
	}
	msg, _, _ := strings.Cut(string(p[4:]), "\x00")
	return msg
}

// tfIsData reports a DATA or OACK packet: the start of a transfer.
func tfIsData(p []byte) bool {
	return len(p) >= 2 && (binary.BigEndian.Uint16(p) == 3 || binary.BigEndian.Uint16(p) == 6)
}

// TestTFTPAbuse: what must never become a transfer, with hand-made datagrams
// and with real clients; the server keeps serving afterwards.
func TestTFTPAbuse(t *testing.T) {
	tfNeed(t, "tftp", "curl")
	e := tfStart(t, provision.ModeSingle, 100000)
	file := e.File
	long := strings.Repeat("a", 600)
	tfCheck(t, e.addr, []tfCase{
		{"WRQ new file", tfRQ(opWRQ, "x.cfg", "octet"), []int{errAccess}},
		{"WRQ over the device file", tfRQ(opWRQ, file, "octet"), []int{errAccess}},
		{"WRQ with options", tfRQ(opWRQ, file, "netascii", "blksize", "1428", "tsize", "10"), []int{errAccess}},
		{"WRQ truncated", []byte{0, 2, 'x'}, []int{errAccess, errIllegal}},
		{"traversal", tfRQ(opRRQ, "../x", "octet"), []int{errAccess}},
		{"traversal to the file", tfRQ(opRRQ, "../"+file, "octet"), []int{errAccess}},
		{"inner traversal", tfRQ(opRRQ, "a/../"+file, "octet"), []int{errAccess}},
		{"absolute", tfRQ(opRRQ, "/etc/passwd", "octet"), []int{errAccess}},
		{"absolute to the file", tfRQ(opRRQ, "/"+file, "octet"), []int{errAccess}},
		{"backslash", tfRQ(opRRQ, `a\b`, "octet"), []int{errAccess}},
		{"windows traversal", tfRQ(opRRQ, `..\..\windows\win.ini`, "octet"), []int{errAccess}},
		{"unknown file", tfRQ(opRRQ, "nothing.cfg", "octet"), []int{1}},
		{"unknown MAC", tfRQ(opRRQ, "001565abcdef.cfg", "octet"), []int{1}},
		{"netascii unknown", tfRQ(opRRQ, "nothing.cfg", "netascii"), []int{1}},
		{"too short", []byte{0, 1}, []int{errIllegal}},
		{"one byte", []byte{1}, []int{errIllegal}},
		{"empty", []byte{}, []int{errIllegal, tfNone}},
		{"missing NUL after the name", []byte{0, 1, 'a', 'b', 'c'}, []int{errIllegal}},
		{"missing NUL, 4 bytes", []byte{0, 1, 'a', 'b'}, []int{errIllegal}},
		{"missing NUL after the mode", append(tfRQ(opRRQ, file), "octet"...), []int{errIllegal}},
		{"no mode", tfRQ(opRRQ, file), []int{errIllegal}},
		{"empty name", tfRQ(opRRQ, "", "octet"), []int{errIllegal}},
		{"bad mode", tfRQ(opRRQ, file, "mail"), []int{errIllegal}},
		{"empty mode", tfRQ(opRRQ, file, ""), []int{errIllegal}},
		{"odd option list", tfRQ(opRRQ, file, "octet", "blksize"), []int{errIllegal}},
		{"odd option list, 3", tfRQ(opRRQ, file, "octet", "blksize", "1428", "tsize"), []int{errIllegal}},
		// RFC 2347: a request, options included, fits in 512 octets; a longer one is
		// cut at the request buffer and so lacks its terminating NULs.
		{"600-byte file name", tfRQ(opRRQ, long, "octet"), []int{errIllegal}},
		{"600-byte option", tfRQ(opRRQ, file, "octet", "x"+long, "1"), []int{errIllegal}},
		{"opcode 0", []byte{0, 0, 'a', 0, 'o', 'c', 't', 'e', 't', 0}, []int{tfNone, errIllegal}},
		{"opcode 9", tfRQ(9, file, "octet"), []int{tfNone, errIllegal}},
		{"stray DATA", []byte{0, 3, 0, 1, 'x'}, []int{tfNone}},
		{"stray ACK", []byte{0, 4, 0, 1}, []int{tfNone}},
		{"stray ERROR", []byte{0, 5, 0, 1, 'x', 0}, []int{tfNone}},
		{"stray OACK", tfRQ(6, "blksize", "1428"), []int{tfNone}},
	})

	// Random datagrams: short ones of pure noise, longer ones half of them dressed
	// as read requests. None may start a transfer.
	var noise [][]byte
	for i := 0; i < 100; i++ {
		b := make([]byte, 1+i%40)
		rand.Read(b)
		noise = append(noise, b)
	}
	for i := 0; i < 150; i++ {
		b := make([]byte, 1+i*7%700)
		rand.Read(b)
		if i%2 == 0 && len(b) > 2 {
			b[0], b[1] = 0, 1
		}
		noise = append(noise, b)
	}
	for i, r := range tfRequests(t, e.addr, noise, 300*time.Millisecond) {
		if tfIsData(r) {
			t.Fatalf("random datagram %x started a transfer: %q", noise[i], r)
		}
	}

	// Real clients: a put, traversal, an absolute path, a backslash, unknown names.
	dir := t.TempDir()
	src := filepath.Join(dir, "upload.cfg")
	os.WriteFile(src, []byte("evil=1\n"), 0o600)
	if out, _ := tfRun(t, "tftp", e.host, e.port, "-m", "binary", "-c", "put", src, "upload.cfg"); !strings.Contains(out, "code 2") {
		t.Errorf("tftp-hpa put: %q, want error code 2", out)
	}
	// curl: 69 is "TFTP: permission problem", 68 "TFTP: file not found".
	if out, code := tfRun(t, "curl", "-s", "--max-time", "10", "-T", src, "tftp://"+e.addr+"/upload.cfg"); code != 69 {
		t.Errorf("curl upload: exit %d (want 69) %s", code, out)
	}
	for _, c := range []struct {
		name    string
		hpaWant string
		curl    int
	}{
		{"../x", "code 2", 69},
		{"/etc/passwd", "code 2", 69},
		{`a\b`, "code 2", 69},
		{"../" + file, "code 2", 69},
		{"nothing.cfg", "code 1", 68},
	} {
		local := filepath.Join(dir, "got")
		os.Remove(local)
		if out, _ := e.hpa(t, c.name, local); !strings.Contains(out, c.hpaWant) {
			t.Errorf("tftp-hpa get %q: %q, want %s", c.name, out, c.hpaWant)
		}
		if b, err := os.ReadFile(local); err == nil && len(b) > 0 {
			t.Errorf("tftp-hpa get %q wrote %q", c.name, b)
		}
		if c.name == "/etc/passwd" {
			continue // a URL path cannot carry a leading slash to the server
		}
		if out, code := e.curl(t, 512, c.name, local); code != c.curl {
			t.Errorf("curl %q: exit %d, want %d %s", c.name, code, c.curl, out)
		}
	}

	// Still serving.
	local := filepath.Join(dir, "after")
	if out, code := e.curl(t, 1024, file, local); code != 0 || !bytes.Equal(readFile(t, local), e.Body) {
		t.Fatalf("good request after the abuse: exit %d %s", code, out)
	}
	if e.Log.Count(`msg="write request refused"`, "src=127.0.0.1", "file=x.cfg") == 0 {
		t.Errorf("refused write not logged:\n%s", e.Log.String())
	}
	if e.Log.Count(`msg="access violation"`, "src=127.0.0.1", "file=../x") == 0 {
		t.Errorf("traversal not logged")
	}
}

// TestTFTPBadNameCodes: names the filter lets through but provision refuses as
// bad paths (a percent sign, an empty segment, a dot, a control character) are
// access violations (code 2), not "file not found" (code 1). Today the library
// sends every handler error as code 1, keeping only the message: the test then
// skips with its findings.
func TestTFTPBadNameCodes(t *testing.T) {
	e := tfStart(t, provision.ModeSingle, 1000)
	names := []string{"a%2e%2e", "a//b", ".", "a\x01b", "x?y", strings.Repeat("n", 200)}
	pkts := make([][]byte, len(names))
	for i, name := range names {
		pkts[i] = tfRQ(opRRQ, name, "octet")
	}
	var bugs []string
	for i, r := range tfRequests(t, e.addr, pkts, 800*time.Millisecond) {
		name := names[i]
		switch code, msg := tfErrCode(r), tfErrMsg(r); {
		case code == errAccess:
		case code == 1 && strings.Contains(msg, "access violation"):
			bugs = append(bugs, fmt.Sprintf("%.20q -> code 1 %q", name, msg))
		default:
			t.Errorf("%.20q: %q", name, r)
		}
	}
	if len(bugs) > 0 {
		t.Errorf("bad paths answered as ERROR code 1 instead of 2: %s", strings.Join(bugs, ", "))
	}
}

// TestTFTPAuthTenant (F1): with the tenant's provisioning authentication on,
// HTTP answers 401 for a device file, so TFTP, which has no credentials, refuses
// it with an access violation (real clients and a raw request) and never sends a
// byte of it; the secret-free common file is still served. Turning the
// authentication off serves the device file again.
func TestTFTPAuthTenant(t *testing.T) {
	tfNeed(t, "tftp", "curl", "atftp")
	for _, mode := range []string{"basic", "digest"} {
		t.Run(mode, func(t *testing.T) {
			e := tfStart(t, provision.ModeSingle, 1000)
			if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, []byte(
				`{"http_auth":"`+mode+`","http_user":"phones","http_password":"bootstrap-pw"}`)); err != nil {
				t.Fatal(err)
			}
			e.Sync(t)
			dir := t.TempDir()
			if out, _ := e.hpa(t, e.File, filepath.Join(dir, "hpa")); !strings.Contains(out, "code 2") {
				t.Errorf("tftp-hpa: want an access violation, got %q", out)
			}
			if out, code := e.curl(t, 1024, e.File, filepath.Join(dir, "curl")); code == 0 {
				t.Errorf("curl got the secret file: %s", out)
			}
			if out, code := e.atftp(t, 1428, e.File, filepath.Join(dir, "atftp")); code == 0 {
				t.Errorf("atftp got the secret file: %s", out)
			}
			for _, f := range []string{"hpa", "curl", "atftp"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil && bytes.Contains(b, []byte("prov-secret")) {
					t.Errorf("%s: the SIP password reached the client", f)
				}
			}
			reply := tfRequest(t, e.addr, tfRQ(opRRQ, e.File, "octet", "blksize", "1428", "tsize", "0"))
			if tfIsData(reply) || tfErrCode(reply) != errAccess || !strings.Contains(string(reply), "authentication") {
				t.Errorf("raw request: want access violation naming authentication, got %q", reply)
			}
			if e.Log.Count(`msg="file needs authentication, refused" src=127.0.0.1`, "file="+e.File) == 0 {
				t.Error("refusal not logged")
			}
			common := e.Lookup(t, "y000000000096.cfg")
			if common.Secret {
				t.Fatal("the common file is marked secret")
			}
			if out, code := e.curl(t, 1024, common.Name, filepath.Join(dir, "common")); code != 0 {
				t.Fatalf("common file: exit %d: %s", code, out)
			}
			if got := readFile(t, filepath.Join(dir, "common")); !bytes.Equal(got, common.Body) {
				t.Errorf("common file: got %q", got)
			}
			if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, []byte(`{"http_auth":"none"}`)); err != nil {
				t.Fatal(err)
			}
			e.Sync(t)
			if out, code := e.curl(t, 1024, e.File, filepath.Join(dir, "open")); code != 0 {
				t.Fatalf("auth off: exit %d: %s", code, out)
			}
			if got := readFile(t, filepath.Join(dir, "open")); !bytes.Equal(got, e.Body) {
				t.Errorf("auth off: got %q", got)
			}
		})
	}
}

// TestTFTPThrottle (F9, F10): with a burst of 3, the 4th and 5th unknown
// requests from one source are refused with code 0 "too many", while a file
// that exists is still served to it (over a raw request and through tftp-hpa):
// only answers for unknown files are throttled. One line names the source, the
// same line HTTP writes (README, fail2ban).
func TestTFTPThrottle(t *testing.T) {
	tfNeed(t, "tftp")
	e := tfStart(t, provision.ModeSingle, 3)
	var replies [][]byte
	// Plain unknown names and unknown MACs count alike.
	for _, name := range []string{"unknown-0.cfg", "001565abcd01.cfg", "unknown-2.cfg", "001565abcd03.cfg", "unknown-4.cfg"} {
		replies = append(replies, tfRequest(t, e.addr, tfRQ(opRRQ, name, "octet")))
	}
	for i, r := range replies[:3] {
		if tfErrCode(r) != 1 {
			t.Errorf("unknown request %d: %q, want file not found", i+1, r)
		}
	}
	for i, r := range replies[3:] {
		if tfErrCode(r) != errUndefined || !strings.Contains(tfErrMsg(r), "too many") {
			t.Errorf("unknown request %d: %q, want code 0 with \"too many\"", i+4, r)
		}
	}
	if got, err := tfFetch("127.0.0.1", e.addr, e.File); err != nil || !bytes.Equal(got, e.Body) {
		t.Errorf("known file while throttled: %v (%d bytes), want the file", err, len(got))
	}
	// A real client gets it too, and the unknown names stay refused.
	local := filepath.Join(t.TempDir(), "x")
	if out, code := e.hpa(t, e.File, local); code != 0 || !bytes.Equal(readFile(t, local), e.Body) {
		t.Errorf("tftp-hpa, known file while throttled: exit %d %q", code, out)
	}
	if r := tfRequest(t, e.addr, tfRQ(opRRQ, "unknown-5.cfg", "octet")); !strings.Contains(tfErrMsg(r), "too many") {
		t.Errorf("unknown file after the known one: %q, want still throttled", r)
	}
	lines := e.Log.Lines(`level=WARN msg="too many unknown files, throttling" src=127.0.0.1 `)
	if len(lines) != 1 {
		t.Errorf("want one fail2ban line, got %d:\n%s", len(lines), e.Log.String())
	}
}

// FuzzRequestFilter: the filter in front of the library never panics, passes only
// well-formed read requests for relative names, and answers everything else with
// a TFTP error code it may send (or nothing).
func FuzzRequestFilter(f *testing.F) {
	for _, p := range [][]byte{
		tfRQ(opRRQ, "a.cfg", "octet"),
		tfRQ(opRRQ, "a.cfg", "NetASCII"),
		tfRQ(opRRQ, "a.cfg", "octet", "blksize", "1428"),
		tfRQ(opRRQ, "a.cfg", "octet", "blksize", "1428", "tsize", "0"),
		tfRQ(opRRQ, "a.cfg", "octet", "blksize"),
		tfRQ(opRRQ, "6f1c2a5e-0000-4000-8000-000000000000/a.cfg", "octet"),
		tfRQ(opWRQ, "a.cfg", "octet"),
		tfRQ(opRRQ, "../a.cfg", "octet"),
		tfRQ(opRRQ, "../x", "netascii"),
		tfRQ(opRRQ, "/etc/passwd", "octet"),
		tfRQ(opRRQ, `a\b`, "octet"),
		tfRQ(opRRQ, "a.cfg", "mail"),
		tfRQ(opRRQ, "", "octet"),
		tfRQ(opRRQ, strings.Repeat("a", 600), "octet"),
		{0, 1}, {0, 1, 'a', 'b'}, {0, 3, 0, 1, 'x'}, {0, 4, 0, 1}, {0, 5, 0, 1, 0}, {}, {0xff, 0xff, 0, 0},
	} {
		f.Add(p)
	}
	e := provtest.New(f, provision.ModeSingle, 1<<30)
	s := &Server{log: slog.New(slog.DiscardHandler), prov: e.Prov, limit: provision.NewThrottle(ratelimit.New(1<<30, time.Nanosecond), slog.New(slog.DiscardHandler)), m: newMetrics()}
	c := &filterConn{s: s}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	f.Fuzz(func(t *testing.T, p []byte) {
		reason, code, ok := c.check(p, addr)
		if !ok {
			switch code {
			case -1, errUndefined, errAccess, errIllegal:
			default:
				t.Fatalf("%x: code %d", p, code)
			}
			if code >= 0 && reason == "" {
				t.Fatalf("%x: error %d without a message", p, code)
			}
			if len(p) >= 4 && binary.BigEndian.Uint16(p) == opWRQ && code != errAccess {
				t.Fatalf("%x: write request answered with %d", p, code)
			}
			return
		}
		if len(p) < 4 || binary.BigEndian.Uint16(p) != opRRQ {
			t.Fatalf("%x: not a read request, passed", p)
		}
		fields := strings.Split(string(p[2:]), "\x00")
		if len(fields) < 3 || len(fields)%2 != 1 || fields[len(fields)-1] != "" {
			t.Fatalf("%x: malformed request passed: %q", p, fields)
		}
		name, mode := fields[0], strings.ToLower(fields[1])
		if _, err := e.Prov.Resolve(name); errors.Is(err, provision.ErrBadPath) {
			t.Fatalf("%x: name %q passed though provision refuses it as a path", p, name)
		}
		if name == "" || len(name) > 512 || strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.Contains(name, `\`) {
			t.Fatalf("%x: name %q passed", p, name)
		}
		if mode != "octet" && mode != "netascii" {
			t.Fatalf("%x: mode %q passed", p, mode)
		}
	})
}

// TestTFTPServeAgain: Serve closes its socket when ctx ends and, called again on
// the same Server (HA: the node is active again), binds anew and answers.
func TestTFTPServeAgain(t *testing.T) {
	e := &tfEnv{Env: provtest.New(t, provision.ModeSingle, 1000)}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := pc.LocalAddr().String()
	pc.Close()
	srv := tfServer(t, e.Env, 1000, func(c *Config) { c.Listen = listen })
	for round := 1; round <= 2; round++ {
		ctx, cancel := context.WithCancel(e.Ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx) }() // no Listen: Serve binds
		var reply []byte
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !tfIsData(reply); {
			reply = tfRequest(t, listen, tfRQ(opRRQ, e.File, "octet"))
		}
		if !tfIsData(reply) {
			t.Fatalf("round %d: no data for %s: %q", round, e.File, reply)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("round %d: Serve: %v", round, err)
		}
		// The socket is closed: the port can be bound by someone else.
		pc, err := net.ListenPacket("udp", listen)
		if err != nil {
			t.Fatalf("round %d: socket still bound after Serve returned: %v", round, err)
		}
		pc.Close()
	}
}

// tfOACK sends an RRQ with options from a fresh port and returns the options of
// the OACK (nil when the answer is not an OACK); it cancels the transfer.
func tfOACK(t *testing.T, addr string, pkt []byte) map[string]string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	if _, err := c.WriteTo(pkt, to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer to %q: %v", pkt, err)
	}
	c.WriteTo([]byte{0, opError, 0, 0, 'b', 'y', 'e', 0}, from)
	if n < 2 || binary.BigEndian.Uint16(buf) != 6 {
		return nil
	}
	opts := map[string]string{}
	f := strings.Split(strings.TrimSuffix(string(buf[2:n]), "\x00"), "\x00")
	for i := 0; i+1 < len(f); i += 2 {
		opts[strings.ToLower(f[i])] = f[i+1]
	}
	return opts
}

// TestTFTPTsizeIsReal (F8): whatever tsize a client sends (RFC 2349 says 0 in a
// read request), the OACK carries the real size of what is sent: the rendered
// file, the firmware asset, and the file in netascii mode (every LF and CR
// grows by one byte); never the client's value.
func TestTFTPTsizeIsReal(t *testing.T) {
	e := tfStart(t, provision.ModeSingle, 1000)
	netascii := len(e.Body) + bytes.Count(e.Body, []byte("\n")) + bytes.Count(e.Body, []byte("\r"))
	for _, c := range []struct {
		file, mode string
		want       int
	}{
		{e.File, "octet", len(e.Body)},
		{"firmware.rom", "octet", len(e.Firmware)},
		{e.File, "netascii", netascii},
		{e.File, "NetASCII", netascii},
	} {
		for _, ts := range []string{"0", "1", "-5", "abc", "999999999999", ""} {
			opts := tfOACK(t, e.addr, tfRQ(opRRQ, c.file, c.mode, "tsize", ts, "blksize", "1024"))
			if opts == nil {
				t.Errorf("%s %s tsize=%q: no OACK", c.file, c.mode, ts)
				continue
			}
			if got := opts["tsize"]; got != fmt.Sprint(c.want) {
				t.Errorf("%s %s: client tsize %q, OACK tsize %q, want %d", c.file, c.mode, ts, got, c.want)
			}
		}
	}
	// Option names are case-insensitive (RFC 2347); a repeated one counts once,
	// and what the library does not support is left out of the OACK.
	opts := tfOACK(t, e.addr, tfRQ(opRRQ, e.File, "octet", "BLKSIZE", "1024", "blksize", "512", "TSize", "7", "windowsize", "4", "x", "y"))
	if len(opts) != 2 || opts["blksize"] != "1024" || opts["tsize"] != fmt.Sprint(len(e.Body)) {
		t.Errorf("OACK options %v, want blksize 1024 and the real tsize only", opts)
	}
}

// tfFetch transfers name from addr as a client bound to local (no options,
// 512-byte blocks, every block ACKed) and returns the bytes received.
func tfFetch(local, addr, name string) ([]byte, error) {
	c, err := net.ListenPacket("udp", local+":0")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.WriteTo(tfRQ(opRRQ, name, "octet"), to); err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, 1024)
	for want := uint16(1); ; {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return out, fmt.Errorf("block %d: %w", want, err)
		}
		if tfErrCode(buf[:n]) >= 0 {
			return out, fmt.Errorf("error %d %q", tfErrCode(buf[:n]), tfErrMsg(buf[:n]))
		}
		if n < 4 || binary.BigEndian.Uint16(buf) != 3 {
			return out, fmt.Errorf("unexpected %q", buf[:n])
		}
		blk := binary.BigEndian.Uint16(buf[2:])
		if blk == want {
			out = append(out, buf[4:n]...)
			want++
		}
		c.WriteTo([]byte{0, 4, byte(blk >> 8), byte(blk)}, from)
		if blk == want-1 && n < 516 {
			return out, nil
		}
	}
}

// tfFlood sends n RRQs for name from n ports of 127.0.0.1 and never ACKs; it
// returns how many were answered with the start of a transfer (OACK or DATA).
func tfFlood(t *testing.T, addr, name string, n int) int {
	t.Helper()
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = tfRQ(opRRQ, name, "octet", "tsize", "0")
	}
	started := 0
	for _, r := range tfRequests(t, addr, pkts, 800*time.Millisecond) {
		if tfIsData(r) {
			started++
		}
	}
	return started
}

// TestTFTPTransferCaps (F4): one source gets at most max_transfers_per_source
// transfers at once, and transfers it never acknowledges count until they time
// out, so a spoofed flood earns a bounded number of answers (no amplification).
// Meanwhile another source is served in full; once the stalled transfers time
// out the first source is served again. The global cap bounds all sources
// together.
func TestTFTPTransferCaps(t *testing.T) {
	start := func(t *testing.T, perSource, global int) *tfEnv {
		e := &tfEnv{Env: provtest.New(t, provision.ModeSingle, 1000)}
		srv := tfServer(t, e.Env, 1000, func(c *Config) { c.MaxTransfersPerSource, c.MaxTransfers = perSource, global })
		if err := srv.Bind(e.Ctx); err != nil {
			t.Fatal(err)
		}
		e.addr = srv.Addr().String()
		ctx, cancel := context.WithCancel(e.Ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return e
	}
	t.Run("per source", func(t *testing.T) {
		e := start(t, 4, 1000)
		if got := tfFlood(t, e.addr, e.File, 40); got != 4 {
			t.Errorf("40 un-ACKed requests from one source: %d transfers started, want 4", got)
		}
		// Another source is served while the stalled transfers hold 127.0.0.1's slots.
		for i := 0; i < 3; i++ {
			got, err := tfFetch("127.0.0.2", e.addr, e.File)
			if err != nil || !bytes.Equal(got, e.Body) {
				t.Fatalf("other source, fetch %d during the flood: %v (%d bytes)", i, err, len(got))
			}
		}
		if e.Log.Count(`msg="too many transfers from one source"`, "src=127.0.0.1") != 1 {
			t.Errorf("want one line for the refused source:\n%s", e.Log.String())
		}
		// The stalled transfers time out (3 x 300 ms) and free the slots.
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := tfFetch("127.0.0.1", e.addr, e.File)
			if err == nil && bytes.Equal(got, e.Body) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("127.0.0.1 not served again after its transfers timed out: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("global", func(t *testing.T) {
		e := start(t, 4, 6)
		if got := tfFlood(t, e.addr, e.File, 10); got != 4 {
			t.Fatalf("first source: %d transfers, want 4", got)
		}
		pkts := make([][]byte, 5)
		for i := range pkts {
			pkts[i] = tfRQ(opRRQ, e.File, "octet")
		}
		started := 0
		for _, r := range tfRequestsFrom(t, "127.0.0.3", e.addr, pkts, 800*time.Millisecond) {
			if tfIsData(r) {
				started++
			}
		}
		if started != 2 {
			t.Errorf("second source with 4 of 6 global slots taken: %d transfers, want 2", started)
		}
	})
}

// tfRequestsFrom is tfRequests from another local address.
func tfRequestsFrom(t *testing.T, local, addr string, pkts [][]byte, wait time.Duration) [][]byte {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	replies := make([][]byte, len(pkts))
	done := make(chan struct{})
	for i, p := range pkts {
		c, err := net.ListenPacket("udp", local+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WriteTo(p, to); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			c.SetReadDeadline(time.Now().Add(wait))
			buf := make([]byte, 65536)
			if n, _, err := c.ReadFrom(buf); err == nil {
				replies[i] = buf[:n]
			}
		}()
	}
	for range pkts {
		<-done
	}
	return replies
}

// TestTransfersAccounting: slots come back when transfers end, when an
// admitted request never starts a transfer (the library could not open its
// socket), and a retransmitted request holds a slot of its own.
func TestTransfersAccounting(t *testing.T) {
	now := time.Unix(1000, 0)
	x := newTransfers(2, 3)
	if ok, _, _ := x.admit("a", "a|1|f", "octet", now); !ok {
		t.Fatal("first admission refused")
	}
	if ok, _, _ := x.admit("a", "a|1|f", "octet", now); !ok { // retransmitted RRQ
		t.Fatal("second admission refused")
	}
	ok, logSrc, _ := x.admit("a", "a|2|f", "octet", now)
	if ok || !logSrc {
		t.Fatalf("third from one source: ok=%v log=%v, want refused and logged", ok, logSrc)
	}
	if _, logSrc, _ := x.admit("a", "a|3|f", "octet", now); logSrc {
		t.Error("a refusal in the same episode logged again")
	}
	mode, release := x.start("a", "a|1|f")
	if mode != "octet" {
		t.Errorf("mode %q", mode)
	}
	_, release2 := x.start("a", "a|1|f") // the retransmission's transfer
	release()
	release() // twice is once
	if ok, _, _ := x.admit("a", "a|4|f", "octet", now); !ok {
		t.Fatal("slot not freed by the end of a transfer")
	}
	release2()
	// "b" takes the last two global slots; "c" is refused by the global cap.
	for _, k := range []string{"b|1|f", "b|2|f"} {
		if ok, _, _ := x.admit("b", k, "octet", now); !ok {
			t.Fatal("b refused")
		}
	}
	ok, _, logAll := x.admit("c", "c|1|f", "octet", now)
	if ok || !logAll {
		t.Fatalf("global cap: ok=%v log=%v", ok, logAll)
	}
	// Nothing starts: after pendingTTL the admissions expire and free the slots.
	now = now.Add(pendingTTL + time.Second)
	if ok, _, _ := x.admit("c", "c|2|f", "octet", now); !ok {
		t.Fatalf("admissions that never started were not expired: %+v", x)
	}
	if x.total != 1 || x.bySource["a"] != 0 {
		t.Errorf("after expiry: total %d, a %d, want 1 and 0", x.total, x.bySource["a"])
	}
}

// FuzzParseRequest: the read request the filter hands the library is parsed
// and encoded again; whatever the datagram, the copy is a well-formed RRQ with
// the same name, a lower-case mode and only blksize (in range) and tsize (0),
// each once, and parsing the copy gives it back unchanged.
func FuzzParseRequest(f *testing.F) {
	for _, p := range [][]byte{
		tfRQ(opRRQ, "a.cfg", "octet"),
		tfRQ(opRRQ, "a.cfg", "NetASCII", "BLKSIZE", "1428", "tsize", "abc"),
		tfRQ(opRRQ, "a.cfg", "octet", "blksize", "7", "blksize", "512", "tsize", "999999999999", "timeout", "0"),
		tfRQ(opRRQ, "a.cfg", "octet", "blksize", "065464", "windowsize", "8", "multicast", ""),
		tfRQ(opRRQ, "a.cfg", "octet", "blksize"),
		tfRQ(opRRQ, "", "octet"),
		tfRQ(opWRQ, "a.cfg", "octet"),
		{0, 1, 'a'}, {},
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, ok := parseRRQ(p)
		if !ok {
			return
		}
		enc := r.encode()
		again, ok := parseRRQ(enc)
		if !ok || again.name != r.name || again.mode != r.mode || fmt.Sprint(again.opts) != fmt.Sprint(r.opts) {
			t.Fatalf("%q -> %q -> %+v, %v; want %+v", p, enc, again, ok, r)
		}
		if len(enc) > len(p)+1 {
			t.Fatalf("%q: encoded %d bytes from %d", p, len(enc), len(p))
		}
		if r.mode != "octet" && r.mode != "netascii" || r.name == "" || strings.Contains(r.name, "\x00") {
			t.Fatalf("%q: name %q mode %q", p, r.name, r.mode)
		}
		seen := map[string]bool{}
		for _, o := range r.opts {
			if seen[o.name] {
				t.Fatalf("%q: option %s twice", p, o.name)
			}
			seen[o.name] = true
			switch o.name {
			case "blksize":
				if n, err := strconv.Atoi(o.value); err != nil || n < 8 || n > 65464 {
					t.Fatalf("%q: blksize %q", p, o.value)
				}
			case "tsize":
				if o.value != "0" {
					t.Fatalf("%q: tsize %q", p, o.value)
				}
			default:
				t.Fatalf("%q: option %q kept", p, o.name)
			}
		}
	})
}
