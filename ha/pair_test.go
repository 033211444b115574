package ha

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPairingPassword(t *testing.T) {
	a, b := PairingPassword("SB-2026-0001"), PairingPassword("SB-2026-0002")
	if len(a) != 24 || strings.ToLower(a) != a || a == b {
		t.Fatalf("passwords %q %q", a, b)
	}
	if PairingPassword(" SB-2026-0001\n") != a {
		t.Fatal("surrounding blanks of a typed serial change the password")
	}
}

// pairingListener is the secondary's pairing listener on 127.0.0.1, on a port
// the kernel chose (both nodes are configured with it).
func pairingListener(t *testing.T) (*net.TCPListener, int) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// awaitPairingOn starts the secondary's side of pairing on ln; its result
// arrives on the channel.
func awaitPairingOn(ctx context.Context, t *testing.T, n *Node, ln *net.TCPListener) <-chan error {
	signer, err := n.hostKey()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.pairingOn(ctx, ln, signer) }()
	return done
}

func testPairNode(t *testing.T, state, serial, local, remote string, port int, logs *syncWriter) *Node {
	c := DefaultConfig()
	c.State, c.Serial, c.Interface, c.LocalIP, c.RemoteIP, c.PairPort = state, serial, "lo", local, remote, port
	c.ResourceIP = []string{"127.0.0.99/32"}
	dir := t.TempDir()
	c.ClusterKeyFile = filepath.Join(dir, "ha", "cluster.key")
	n, err := New(c, dir, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The secondary's listener on loopback: wrong serials are refused, logged and soon
// throttled (so even the right one waits); the right one installs the same key.
func TestPairingOverSSH(t *testing.T) {
	ln, port := pairingListener(t)
	var slogs, clogs syncWriter
	sec := testPairNode(t, StateEnabled, "SEC-1", "127.0.0.1", "127.0.0.2", port, &slogs)
	coord := testPairNode(t, StateCoordinator, "COORD-1", "127.0.0.2", "127.0.0.1", port, &clogs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := awaitPairingOn(ctx, t, sec, ln)
	if err := coord.Pair(ctx, "SEC-1"); err != nil {
		t.Fatalf("pair: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("secondary: %v", err)
	}
	if string(sec.clusterKey()) != string(coord.clusterKey()) || len(sec.clusterKey()) != 32 {
		t.Fatal("the two nodes hold different cluster keys")
	}
	if err := coord.Pair(ctx, "SEC-1"); err == nil || !strings.Contains(err.Error(), "already paired") {
		t.Fatalf("second pairing: %v", err)
	}

	// A fresh secondary: wrong passwords.
	ln2, port2 := pairingListener(t)
	sec2 := testPairNode(t, StateEnabled, "SEC-2", "127.0.0.1", "127.0.0.2", port2, &slogs)
	coord2 := testPairNode(t, StateCoordinator, "COORD-2", "127.0.0.2", "127.0.0.1", port2, &clogs)
	awaitPairingOn(ctx, t, sec2, ln2)
	for i := 0; i < 4; i++ {
		if err := coord2.Pair(ctx, "WRONG"); err == nil {
			t.Fatal("a wrong serial paired")
		}
	}
	if err := coord2.Pair(ctx, "SEC-2"); err == nil {
		t.Fatal("right serial accepted while the source is throttled")
	}
	l := slogs.String()
	if !strings.Contains(l, "wrong pairing password") || !strings.Contains(l, "pairing login throttled") {
		t.Fatalf("failures not logged/throttled:\n%s", l)
	}
	if _, err := os.Stat(sec2.cfg.ClusterKeyFile); err == nil {
		t.Fatal("a cluster key was installed by failed attempts")
	}
}
