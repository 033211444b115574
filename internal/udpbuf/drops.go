package udpbuf

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Inode is the inode of conn's socket (0 when unknown): its row in
// /proc/net/udp or /proc/net/udp6.
func Inode(conn net.PacketConn) uint64 {
	var ino uint64
	control(conn, func(fd int) {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			ino = st.Ino
		}
	})
	return ino
}

// Drops is how many datagrams the kernel dropped for the UDP socket with
// inode ino, its receive buffer being full (the drops column of
// /proc/net/udp and udp6, in this network namespace); 0 when unknown.
func Drops(ino uint64) int64 {
	if ino == 0 {
		return 0
	}
	want := strconv.FormatUint(ino, 10)
	for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		if n, ok := drops(table, want); ok {
			return n
		}
	}
	return 0
}

func drops(table, ino string) (int64, bool) {
	f, err := os.Open(table) //nolint:gosec // one of the two fixed /proc tables above
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		fields := strings.Fields(sc.Text())
		if len(fields) >= 13 && fields[9] == ino {
			n, _ := strconv.ParseInt(fields[12], 10, 64)
			return n, true
		}
	}
	return 0, false
}
