package doctor

import (
	"testing"

	"golang.org/x/sys/unix"
)

// refusingPort is a loopback TCP port that refuses connections for the rest
// of the test: a socket bound to it that never listens. Without
// SO_REUSEADDR on it, nobody else can bind the port (and so listen on it)
// meanwhile, unlike a port whose listener was closed.
func refusingPort(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}
