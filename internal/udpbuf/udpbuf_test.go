package udpbuf

import (
	"net"
	"os"
	"testing"
)

// TestGrow: the buffer grows past the default; as root (CAP_NET_ADMIN) to the
// size asked for, whatever net.core.rmem_max says.
func TestGrow(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := Size(c)
	if before == 0 {
		t.Fatal("cannot read the receive buffer")
	}
	Grow(c, Storm)
	after := Size(c)
	if after <= before {
		t.Fatalf("receive buffer %d after Grow, %d before", after, before)
	}
	if os.Geteuid() == 0 && after < Storm {
		t.Fatalf("as root the buffer is %d, want at least %d", after, Storm)
	}
}

// TestDrops: datagrams a full socket cannot take are counted, from the
// kernel's own table, for that socket only.
func TestDrops(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := c.(*net.UDPConn).SetReadBuffer(1024); err != nil { // the kernel's minimum
		t.Fatal(err)
	}
	ino := Inode(c)
	if ino == 0 {
		t.Fatal("no inode for the socket")
	}
	if n := Drops(ino); n != 0 {
		t.Fatalf("a new socket has %d drops", n)
	}
	s, err := net.Dial("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := make([]byte, 1000)
	for range 200 { // never read: most cannot fit
		_, _ = s.Write(msg) // loopback; the count below is the test
	}
	if n := Drops(ino); n == 0 {
		t.Fatal("200 datagrams into a 1 KB buffer, no drop counted")
	}
	if n := Drops(Inode(other)); n != 0 {
		t.Fatalf("the other socket has %d drops", n)
	}
	if n := Drops(0); n != 0 {
		t.Fatalf("Drops(0) = %d", n)
	}
}
