package dhcp

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketInode is the inode of conn's socket (0 when unknown): its row in
// /proc/net/udp.
func socketInode(conn net.PacketConn) uint64 {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var ino uint64
	raw.Control(func(fd uintptr) { //nolint:errcheck // best effort: 0 counts nothing
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) == nil {
			ino = st.Ino
		}
	})
	return ino
}

// kernelDrops is how many datagrams the kernel dropped for the UDP socket
// with inode ino, its receive buffer being full (the drops column of
// /proc/net/udp, in this network namespace).
func kernelDrops(ino uint64) int64 {
	if ino == 0 {
		return 0
	}
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return 0
	}
	defer f.Close()
	want := strconv.FormatUint(ino, 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		fields := strings.Fields(sc.Text())
		if len(fields) >= 13 && fields[9] == want {
			n, _ := strconv.ParseInt(fields[12], 10, 64)
			return n
		}
	}
	return 0
}
