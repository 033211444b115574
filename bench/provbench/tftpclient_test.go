package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTFTP answers read requests on 127.0.0.1 with serve, one goroutine and
// one transfer socket per request, as a forking server does.
func fakeTFTP(t *testing.T, serve func(tc *net.UDPConn, client *net.UDPAddr, name string, opts map[string]string)) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n < 2 || binary.BigEndian.Uint16(buf) != 1 {
				continue
			}
			f := strings.Split(string(buf[2:n]), "\x00")
			opts := map[string]string{}
			for i := 2; i+1 < len(f); i += 2 {
				opts[f[i]] = f[i+1]
			}
			tc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return
			}
			go func() {
				defer tc.Close()
				serve(tc, from, f[0], opts)
			}()
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// serveFile sends content in blocks of size, each sent dup+1 times, and waits
// for each block's ACK.
func serveFile(tc *net.UDPConn, client *net.UDPAddr, content []byte, size, dup int) error {
	ack := make([]byte, 16)
	for blk := 1; ; blk++ {
		lo := (blk - 1) * size
		hi := min(lo+size, len(content))
		d := append(binary.BigEndian.AppendUint16([]byte{0, 3}, uint16(blk)), content[lo:hi]...)
		for i := 0; i <= dup; i++ {
			tc.WriteToUDP(d, client)
		}
		for {
			tc.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := tc.ReadFromUDP(ack)
			if err != nil {
				return err
			}
			if n == 4 && binary.BigEndian.Uint16(ack) == 4 && binary.BigEndian.Uint16(ack[2:]) == uint16(blk) {
				break
			}
		}
		if hi-lo < size {
			return nil
		}
	}
}

func content(name string) []byte {
	return bytes.Repeat([]byte(name), 8200/len(name)+1)[:8200]
}

// Many transfers through two loops, each block sent twice: every transfer
// ends with its bytes counted once.
func TestTFTPRunDuplicates(t *testing.T) {
	srv := fakeTFTP(t, func(tc *net.UDPConn, client *net.UDPAddr, name string, _ map[string]string) {
		serveFile(tc, client, content(name), 512, 1)
	})
	var mu sync.Mutex
	got := map[int]int64{}
	err := tftpRun(tftpJob{
		server: srv, name: func(i int) string { return fmt.Sprintf("file-%d", i) }, total: 60, conc: 10, loops: 2,
		timeout: 2 * time.Second, retries: 1,
		done: func(i int, n int64, err error) {
			if err != nil {
				t.Errorf("transfer %d: %v", i, err)
			}
			mu.Lock()
			got[i] += n
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("%d transfers ended, want 60", len(got))
	}
	for i, n := range got {
		if n != 8200 {
			t.Errorf("transfer %d: %d bytes, want 8200", i, n)
		}
	}
}

// blksize goes in the request; the OACK's value is the block size used.
func TestTFTPGetBlksize(t *testing.T) {
	srv := fakeTFTP(t, func(tc *net.UDPConn, client *net.UDPAddr, name string, opts map[string]string) {
		size, _ := strconv.Atoi(opts["blksize"])
		if size != 1428 {
			tc.WriteToUDP([]byte("\x00\x05\x00\x08no blksize\x00"), client)
			return
		}
		size = 1000 // less than asked, as a server may answer
		tc.WriteToUDP([]byte("\x00\x06blksize\x001000\x00"), client)
		ack := make([]byte, 16)
		tc.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _, err := tc.ReadFromUDP(ack); err != nil || !bytes.Equal(ack[:n], []byte{0, 4, 0, 0}) {
			return
		}
		serveFile(tc, client, bytes.Repeat([]byte("x"), 5500), size, 0)
	})
	n, err := tftpGet(srv, "fw.rom", 1428, 2*time.Second, 1)
	if err != nil || n != 5500 {
		t.Fatalf("got %d bytes, %v; want 5500", n, err)
	}
}

// An answer from another address than the request's ends the transfer, as
// does an ERROR; a datagram from another port mid-transfer is ignored.
func TestTFTPGetStrict(t *testing.T) {
	srv := fakeTFTP(t, func(tc *net.UDPConn, client *net.UDPAddr, name string, _ map[string]string) {
		switch name {
		case "other-address":
			o, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
			if err != nil {
				return
			}
			defer o.Close()
			o.WriteToUDP([]byte("\x00\x03\x00\x01short"), client)
			time.Sleep(200 * time.Millisecond)
		case "error":
			tc.WriteToUDP([]byte("\x00\x05\x00\x01not found\x00"), client)
		case "other-port":
			o, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				return
			}
			defer o.Close()
			// Block 1 from the transfer's port, then a short "block 2" from
			// another port, which must not end the transfer.
			tc.WriteToUDP(append([]byte{0, 3, 0, 1}, make([]byte, 512)...), client)
			time.Sleep(50 * time.Millisecond)
			o.WriteToUDP([]byte("\x00\x03\x00\x02stray"), client)
			time.Sleep(50 * time.Millisecond)
			tc.WriteToUDP([]byte("\x00\x03\x00\x02end"), client)
			time.Sleep(200 * time.Millisecond)
		}
	})
	if _, err := tftpGet(srv, "other-address", 0, time.Second, 0); err == nil || !strings.Contains(err.Error(), "answer from 127.0.0.2") {
		t.Errorf("answer from another address: %v", err)
	}
	if _, err := tftpGet(srv, "error", 0, time.Second, 0); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("ERROR: %v", err)
	}
	if n, err := tftpGet(srv, "other-port", 0, time.Second, 0); err != nil || n != 515 {
		t.Errorf("stray datagram from another port: %d bytes, %v; want 515", n, err)
	}
}

// A lost answer is sent for again after the timeout (and counted); a server
// that never answers is a timeout once the retries are spent.
func TestTFTPGetTimeout(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := fakeTFTP(t, func(tc *net.UDPConn, client *net.UDPAddr, name string, _ map[string]string) {
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		if first || name == "silent" {
			return // the request "lost"
		}
		serveFile(tc, client, []byte("small"), 512, 0)
	})
	t0 := timeouts.Load()
	if n, err := tftpGet(srv, "small", 0, 100*time.Millisecond, 2); err != nil || n != 5 {
		t.Errorf("after a lost request: %d bytes, %v; want 5", n, err)
	}
	if d := timeouts.Load() - t0; d != 1 {
		t.Errorf("%d timeouts counted, want 1", d)
	}
	start := time.Now()
	if _, err := tftpGet(srv, "silent", 0, 100*time.Millisecond, 1); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("silent server: %v", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("silent server: gave up after %v, before two timeouts", el)
	}
}
