package tftpd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
)

// FuzzTransferReply: whatever a client sends during a transfer, reading it
// never panics, only the ACK of the block awaited moves the transfer on, only
// an ERROR ends it, and the error's text stays one printable line.
func FuzzTransferReply(f *testing.F) {
	for _, p := range [][]byte{
		{0, opACK, 0, 1}, {0, opACK, 0, 0}, {0, opACK, 0xff, 0xff}, {0, opACK, 0},
		{0, opError, 0, 8, 'n', 'o', 0}, {0, opError, 0, 0}, {0, opError, 0, 1, 'a', '\n', 'b'},
		{0, opDATA, 0, 1, 'x'}, {0, opOACK, 'b', 0}, {}, {0}, {0xff, 0xff, 0xff, 0xff, 0},
	} {
		f.Add(p, uint16(1))
	}
	f.Fuzz(func(t *testing.T, p []byte, block uint16) {
		acked, err := reply(p, block)
		isACK := len(p) >= 4 && binary.BigEndian.Uint16(p) == opACK
		isErr := len(p) >= 4 && binary.BigEndian.Uint16(p) == opError
		if acked != (isACK && binary.BigEndian.Uint16(p[2:]) == block) {
			t.Fatalf("%x block %d: acked %v", p, block, acked)
		}
		if (err != nil) != isErr {
			t.Fatalf("%x: err %v", p, err)
		}
		if acked && err != nil {
			t.Fatalf("%x: acked and failed", p)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n\r\x00") {
			t.Fatalf("%x: error text %q", p, err)
		}
	})
}

// FuzzNetascii: the netascii conversion, read in small pieces, grows
// the body by exactly what sentSize announces as tsize, and turning CR LF
// back into LF and CR NUL into CR gives the body back.
func FuzzNetascii(f *testing.F) {
	for _, s := range []string{"", "a\nb\r\nc\rd", "\r", "\n", "\r\r\n\n", strings.Repeat("line\n", 20)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &netascii{r: iotest.HalfReader(bytes.NewReader(body)), pend: -1}
		chunk := make([]byte, 1+len(body)%7)
		var got []byte
		for zero := 0; ; {
			n, err := r.Read(chunk)
			got = append(got, chunk[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				if zero++; zero > 100 {
					t.Fatalf("%q: no progress", body)
				}
			}
		}
		if int64(len(got)) != sentSize(body, "netascii") {
			t.Fatalf("%q: %d bytes, sentSize says %d", body, len(got), sentSize(body, "netascii"))
		}
		var back []byte
		for i := 0; i < len(got); i++ {
			switch {
			case got[i] == '\r' && i+1 < len(got) && got[i+1] == '\n':
				back = append(back, '\n')
				i++
			case got[i] == '\r' && i+1 < len(got) && got[i+1] == 0:
				back = append(back, '\r')
				i++
			case got[i] == '\r' || got[i] == '\n':
				t.Fatalf("%q: bare %q at %d of %q", body, got[i], i, got)
			default:
				back = append(back, got[i])
			}
		}
		if !bytes.Equal(back, body) {
			t.Fatalf("%q: converted back to %q", body, back)
		}
	})
}

// TestEngineShutdown: a transfer that finishes and one the client abandons
// (its socket closed: the retransmission after the timeout meets an ICMP
// unreachable) both end before Serve returns,
// and then the event loops are gone with their descriptors: as many
// goroutines and open files as before Serve.
func TestEngineShutdown(t *testing.T) {
	e := &tfEnv{Env: provtest.New(t, provision.ModeSingle, 1000)}
	srv := tfServer(t, e.Env, 1000, func(c *Config) { c.Timeout, c.Retries = 200*time.Millisecond, 1 })
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip(err)
		}
		return len(ents)
	}
	goroutines, files := runtime.NumGoroutine(), fds()
	if err := srv.Bind(e.Ctx); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	ctx, cancel := context.WithCancel(e.Ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	body, err := tfFetch("127.0.0.1", addr, e.File)
	if err != nil || !bytes.Equal(body, e.Body) {
		t.Fatalf("fetch: %v, %d bytes", err, len(body))
	}
	if reply := tfRequest(t, addr, tfRQ(opRRQ, e.File, "octet")); !tfIsData(reply) {
		t.Fatalf("no data: %q", reply)
	}
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Serve waited for the abandoned transfer to end.
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("Serve returned after %v, before the abandoned transfer's timeout", took)
	}
	if ok, failed := len(e.Log.Lines(`msg="tftp transfer" `)), len(e.Log.Lines(`msg="tftp transfer failed"`)); ok != 1 || failed != 1 {
		t.Errorf("%d transfers ok and %d failed, want 1 and 1:\n%s", ok, failed, e.Log.String())
	}
	for end := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > goroutines && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Serve, %d before", n, goroutines)
	}
	if n := fds(); n != files {
		t.Errorf("%d open files after Serve, %d before", n, files)
	}
}

// TestClientErrorBehindACK: a client that acknowledges the OACK and, in the
// same breath, gives up with an ERROR, then stays silent with its socket open.
// The transfer sockets are edge-triggered and read only up to the ACK
// awaited, so the ERROR waits in the socket; the first retransmission timeout
// reads it and ends the transfer as the client's error, without sending the
// block again (before, every retry was spent and the transfer ended as a
// timeout).
func TestClientErrorBehindACK(t *testing.T) {
	e := tfStart(t, provision.ModeSingle, 1000)
	to, err := net.ResolveUDPAddr("udp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WriteToUDP(tfRQ(opRRQ, e.File, "octet", "tsize", "0"), to); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, peer, err := c.ReadFromUDP(buf)
	if err != nil || n < 2 || binary.BigEndian.Uint16(buf) != opOACK {
		t.Fatalf("no OACK: %v %x", err, buf[:n])
	}
	c.WriteToUDP([]byte{0, opACK, 0, 0}, peer)
	c.WriteToUDP(errorPacket(0, "user cancelled"), peer)
	// 300 ms timeout, 2 retries: without the ERROR, DATA 1 would come three
	// times over 900 ms.
	var data int
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			break
		}
		if n >= 4 && binary.BigEndian.Uint16(buf) == opDATA {
			data++
		}
	}
	if data != 1 {
		t.Errorf("DATA 1 sent %d times after the client's ERROR, want once", data)
	}
	if e.Log.Count(`msg="tftp transfer failed"`, "user cancelled") != 1 || e.Log.Count("not acknowledged") != 0 {
		t.Errorf("want the transfer to end with the client's error, not a timeout:\n%s", e.Log.String())
	}
}
