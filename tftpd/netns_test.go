package tftpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/nstest"
	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
)

// netnsServerEnv makes TestTFTPNetnsServer the server of TestTFTPReplySource.
const netnsServerEnv = "SB_TFTPD_NETNS_SERVER"

// TestTFTPNetnsServer is the server half of TestTFTPReplySource, run by it in
// the server's namespace (every socket the process opens, transfer sockets
// included, lives there): it listens on the wildcard address, port 69, prints
// the file it serves and runs until its standard input closes.
func TestTFTPNetnsServer(t *testing.T) {
	if os.Getenv(netnsServerEnv) == "" {
		t.Skip("the server half of TestTFTPReplySource: it runs only in that test's namespace")
	}
	e := provtest.New(t, provision.ModeSingle, 1000)
	srv := tfServer(t, e, 1000, func(c *Config) { c.Listen = ":69" })
	if err := srv.Bind(e.Ctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	sum := sha256.Sum256(e.Body)
	fmt.Printf("\nREADY %s %s\n", e.File, hex.EncodeToString(sum[:]))
	io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTFTPReplySource: a server listening on the wildcard address of a
// namespace whose interface has two addresses of one prefix (IPv4 and IPv6)
// answers a client in another namespace that asks the address the kernel
// would not pick as the source (IPv4's secondary) from that very address: tftp-hpa and atftp get the file, and a raw socket sees the first
// answer (DATA, OACK, a transfer's "file not found" and the request port's
// own refusal of a write) come from the secondary address, never the primary
// one the kernel would pick.
func TestTFTPReplySource(t *testing.T) {
	nstest.Need(t, "tftp", "atftp")
	nstest.RemoveLeftovers()
	srvNS, cliNS := nstest.New(t, "ts"), nstest.New(t, "tc")
	nstest.Link(t, srvNS, "sbt0", "", cliNS, "sbt1", "")
	for _, a := range []string{"10.77.0.1/24", "10.77.0.2/24", "fd77::1/64", "fd77::2/64"} {
		nstest.Run(t, "ip", "-n", srvNS, "addr", "add", a, "dev", "sbt0", "nodad")
	}
	for _, a := range []string{"10.77.0.10/24", "fd77::10/64"} {
		nstest.Run(t, "ip", "-n", cliNS, "addr", "add", a, "dev", "sbt1", "nodad")
	}
	// The primary address is the kernel's pick for answers to the client:
	// the test is meaningless unless it is not the one asked.
	if out := nstest.Run(t, "ip", "-n", srvNS, "route", "get", "10.77.0.10"); !strings.Contains(out, "src 10.77.0.1 ") {
		t.Fatalf("the kernel's source for the client is not the primary address: %s", out)
	}
	// IPv6 picks among addresses of one prefix by rules of its own (RFC 6724):
	// ask the one it does not pick.
	v6 := "fd77::2"
	if out := nstest.Run(t, "ip", "-n", srvNS, "route", "get", "fd77::10"); strings.Contains(out, "src fd77::2 ") {
		v6 = "fd77::1"
	} else if !strings.Contains(out, "src fd77::1 ") {
		t.Fatalf("no source address for the client: %s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel) // after the server's own cleanup below: it stops on its stdin closing
	cmd := nstest.Cmd(ctx, srvNS, os.Args[0], "-test.run=^TestTFTPNetnsServer$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ended := make(chan struct{})
	t.Cleanup(func() {
		stdin.Close()
		<-ended
		if err := cmd.Wait(); err != nil {
			t.Errorf("server: %v\n%s%s", err, log.String(), stderr.String())
		}
	})
	ready := make(chan [2]string, 1)
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "READY" {
				ready <- [2]string{f[1], f[2]}
			}
		}
	}()
	var file, sum string
	select {
	case r := <-ready:
		file, sum = r[0], r[1]
	case <-time.After(time.Minute):
		t.Fatalf("server not ready:\n%s%s", log.String(), stderr.String())
	}

	// Real clients, in the client's namespace, asking the secondary addresses.
	dir := t.TempDir()
	for i, c := range []struct {
		name string
		args []string
	}{
		{"tftp-hpa", []string{"tftp", "10.77.0.2", "69", "-m", "binary", "-c", "get", file, "LOCAL"}},
		{"tftp-hpa IPv6", []string{"tftp", "-6", v6, "69", "-m", "binary", "-c", "get", file, "LOCAL"}},
		{"atftp", []string{"atftp", "-g", "-r", file, "-l", "LOCAL", "10.77.0.2", "69"}},
		{"atftp blksize 1428", []string{"atftp", "--option", "blksize 1428", "--option", "tsize 0", "-g", "-r", file, "-l", "LOCAL", "10.77.0.2", "69"}},
	} {
		local := filepath.Join(dir, fmt.Sprint(i))
		args := append([]string(nil), c.args...)
		for j := range args {
			if args[j] == "LOCAL" {
				args[j] = local
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := nstest.Cmd(cctx, cliNS, args[0], args[1:]...).CombinedOutput()
		ccancel()
		if err != nil {
			t.Errorf("%s: %v: %s", c.name, err, out)
			continue
		}
		b, _ := os.ReadFile(local)
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: %d bytes that are not the file: %s", c.name, len(b), out)
		}
	}

	// A raw socket: where each first answer comes from.
	for _, c := range []struct {
		name   string
		to     string
		pkt    []byte
		opcode uint16
	}{
		{"data", "10.77.0.2", tfRQ(opRRQ, file, "octet"), 3},
		{"oack", "10.77.0.2", tfRQ(opRRQ, file, "octet", "blksize", "1428", "tsize", "0"), 6},
		{"not found", "10.77.0.2", tfRQ(opRRQ, "nothing.cfg", "octet"), opError},
		{"write refused", "10.77.0.2", tfRQ(opWRQ, "x.cfg", "octet"), opError},
		{"IPv6 data", v6, tfRQ(opRRQ, file, "octet"), 3},
		{"IPv6 oack", v6, tfRQ(opRRQ, file, "octet", "blksize", "1428"), 6},
		{"IPv6 write refused", v6, tfRQ(opWRQ, "x.cfg", "octet"), opError},
	} {
		var pc net.PacketConn
		if err := nstest.In(cliNS, func() (err error) { pc, err = net.ListenPacket("udp", ":0"); return err }); err != nil {
			t.Fatal(err)
		}
		to := &net.UDPAddr{IP: net.ParseIP(c.to), Port: 69}
		if _, err := pc.WriteTo(c.pkt, to); err != nil {
			t.Fatal(err)
		}
		pc.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 2048)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Errorf("%s: no answer: %v", c.name, err)
			pc.Close()
			continue
		}
		ua := from.(*net.UDPAddr)
		if !ua.IP.Equal(to.IP) {
			t.Errorf("%s: answer from %s, the request went to %s", c.name, ua.IP, to.IP)
		}
		if n < 2 || uint16(buf[0])<<8|uint16(buf[1]) != c.opcode {
			t.Errorf("%s: answer %q, want opcode %d", c.name, buf[:n], c.opcode)
		}
		// The request port refuses a write itself; a transfer answers from a
		// port of its own.
		if (c.opcode == opError && c.pkt[1] == opWRQ) != (ua.Port == 69) {
			t.Errorf("%s: answer from port %d", c.name, ua.Port)
		}
		if c.opcode != opError {
			pc.WriteTo([]byte{0, opError, 0, 0, 'b', 'y', 'e', 0}, from)
		}
		pc.Close()
	}
}
