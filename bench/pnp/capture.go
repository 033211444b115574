package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// capture timestamps SIP packets on the phone's veth with kernel receive
// timestamps (SO_TIMESTAMPNS on an AF_PACKET socket, which sees both directions):
// the first SUBSCRIBE leaving and the first NOTIFY arriving, per Call-ID. Their
// difference is the responder's SUBSCRIBE-to-NOTIFY time on the wire, without
// SIPp's own scheduling (SIPp's response times have 1 ms resolution and include
// its event loop).
type capture struct {
	fd   int
	mu   sync.Mutex
	sub  map[string]time.Time
	note map[string]time.Time
	done chan struct{}
}

// openCapture opens the socket inside namespace ns (the socket stays there).
func openCapture(ns, ifname string) (*capture, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- res{-1, err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- res{-1, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{-1, err}
			return
		}
		fd, err := func() (int, error) {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				return -1, err
			}
			// ETH_P_ALL: packet sockets bound to one protocol do not see outgoing frames.
			proto := int(htons(unix.ETH_P_ALL))
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
			if err != nil {
				return -1, err
			}
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20) // best effort
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
				unix.Close(fd)
				return -1, err
			}
			if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
				unix.Close(fd)
				return -1, err
			}
			// Wake the reader now and then, so that close() is noticed.
			tv := unix.Timeval{Usec: 200000}
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) // best effort
			return fd, nil
		}()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("capture: %w", r.err)
	}
	c := &capture{fd: r.fd, sub: map[string]time.Time{}, note: map[string]time.Time{}, done: make(chan struct{})}
	go c.read(r.fd)
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *capture) read(fd int) {
	defer close(c.done)
	buf := make([]byte, 65536)
	oob := make([]byte, 256)
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				c.mu.Lock()
				closed := c.fd < 0
				c.mu.Unlock()
				if closed {
					return
				}
				continue
			}
			return
		}
		at := time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
					ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
					at = time.Unix(ts.Sec, ts.Nsec)
				}
			}
		}
		c.packet(buf[:n], at)
	}
}

// packet records an IPv4/UDP SIP SUBSCRIBE or NOTIFY (anything else, ARP
// included, fails the version or protocol check).
func (c *capture) packet(p []byte, at time.Time) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != 17 {
		return
	}
	ihl := int(p[0]&0x0f) * 4
	if len(p) < ihl+8 {
		return
	}
	sip := p[ihl+8:]
	var m map[string]time.Time
	switch {
	case bytes.HasPrefix(sip, []byte("SUBSCRIBE ")):
		m = c.sub
	case bytes.HasPrefix(sip, []byte("NOTIFY ")):
		m = c.note
	default:
		return
	}
	i := bytes.Index(sip, []byte("\nCall-ID:"))
	if i < 0 {
		return
	}
	rest := sip[i+len("\nCall-ID:"):]
	j := bytes.IndexByte(rest, '\n')
	if j < 0 {
		return
	}
	cid := string(bytes.TrimSpace(rest[:j]))
	c.mu.Lock()
	if _, ok := m[cid]; !ok {
		m[cid] = at
	}
	c.mu.Unlock()
}

// close stops the reader and returns SUBSCRIBE-to-NOTIFY times in ms, and how
// many SUBSCRIBEs had no NOTIFY on the wire.
func (c *capture) close() (ms []float64, missing int) {
	c.mu.Lock()
	fd := c.fd
	c.fd = -1
	c.mu.Unlock()
	<-c.done
	unix.Close(fd)
	for cid, s := range c.sub {
		n, ok := c.note[cid]
		if !ok {
			missing++
			continue
		}
		ms = append(ms, float64(n.Sub(s))/float64(time.Millisecond))
	}
	return ms, missing
}
