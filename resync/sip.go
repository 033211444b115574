package resync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"
)

// Timers of the NOTIFY transaction over UDP (RFC 3261 section 17.1.2): the
// request is sent again after T1, doubling up to T2, until a final answer or
// the sender's timeout.
const (
	t1 = 500 * time.Millisecond
	t2 = 4 * time.Second
)

// errUnsupported: the contact's transport is not one a direct NOTIFY can use.
var errUnsupported = errors.New("unsupported transport")

// errNoAnswer: no final response before the timeout.
var errNoAnswer = errors.New("no answer")

// sender sends NOTIFYs straight to a phone's contact.
type sender struct {
	timeout   time.Duration
	userAgent string
}

// notifyReq is one direct NOTIFY: to the contact, with the event, and the
// account's credentials in case the phone challenges.
type notifyReq struct {
	Contact  string
	Event    string
	AuthUser string
	Password string
}

// notifyResult is the phone's final answer.
type notifyResult struct {
	Code   int
	Reason string
	// Challenged: the phone asked for credentials and this is its answer to
	// the signed retry.
	Challenged bool
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

// notify sends one NOTIFY over UDP and waits for the final answer, answering
// one Digest challenge with the account's credentials (a phone asks for them
// with its line's own, as Cisco's Auth_Resync-Reboot does).
func (s *sender) notify(ctx context.Context, r notifyReq) (notifyResult, error) {
	u, err := parseContact(r.Contact)
	if err != nil {
		return notifyResult{}, err
	}
	if u.Transport != "udp" {
		return notifyResult{}, fmt.Errorf("%w %s: the phone registered over %s, which only the PBX's connection reaches", errUnsupported, u.Transport, u.Transport)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, u.Host)
	if err != nil || len(ips) == 0 {
		return notifyResult{}, fmt.Errorf("resolve %s: %w", u.Host, err)
	}
	dst := &net.UDPAddr{IP: ips[0].IP, Port: u.Port, Zone: ips[0].Zone}
	// The address the route to the phone leaves from goes into Via, From and
	// Contact; a UDP "dial" picks it without sending anything.
	probe, err := net.DialUDP("udp", nil, dst)
	if err != nil {
		return notifyResult{}, fmt.Errorf("no route to %s: %w", dst, err)
	}
	localIP := probe.LocalAddr().(*net.UDPAddr).IP
	probe.Close()
	// Not a connected socket: a phone may answer from another port than the
	// one it registered (its answer goes to our Via either way).
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: localIP})
	if err != nil {
		return notifyResult{}, fmt.Errorf("open a UDP socket on %s: %w", localIP, err)
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Now()) }) //nolint:errcheck // wakes the reader
	defer stop()
	m := notifyMsg{Contact: u, Local: pc.LocalAddr().(*net.UDPAddr), CallID: randHex(12) + "@" + localIP.String(),
		FromTag: randHex(6), CSeq: 1, Event: r.Event, UserAgent: s.userAgent}
	challenged := false
	for {
		m.Branch = "z9hG4bK" + randHex(10)
		resp, err := transact(ctx, pc, dst, m)
		if err != nil {
			return notifyResult{}, err
		}
		if (resp.Code == 401 || resp.Code == 407) && !challenged && r.Password != "" {
			hdr := "www-authenticate"
			if resp.Code == 407 {
				hdr = "proxy-authenticate"
			}
			c, err := firstChallenge(resp.Headers[hdr])
			if err != nil {
				return notifyResult{Code: resp.Code, Reason: resp.Reason + " (" + err.Error() + ")"}, nil
			}
			m.Auth = authorization(c, "NOTIFY", r.AuthUser, r.Password, u.Raw, randHex(8))
			m.AuthProxy = resp.Code == 407
			m.CSeq++
			challenged = true
			continue
		}
		return notifyResult{Code: resp.Code, Reason: resp.Reason, Challenged: challenged}, nil
	}
}

// firstChallenge is the first Digest challenge we can answer.
func firstChallenge(values []string) (challenge, error) {
	err := errors.New("no Digest challenge")
	for _, v := range values {
		c, e := parseChallenge(v)
		if e == nil {
			return c, nil
		}
		err = e
	}
	return challenge{}, err
}

// transact sends m and returns the first final response to it, sending it
// again on RFC 3261's timers while none has come.
func transact(ctx context.Context, pc *net.UDPConn, dst *net.UDPAddr, m notifyMsg) (sipResponse, error) {
	pkt := m.bytes()
	buf := make([]byte, 65535)
	interval := t1
	next := time.Now()
	for {
		if ctx.Err() != nil {
			return sipResponse{}, fmt.Errorf("%w from %s", errNoAnswer, dst)
		}
		if !time.Now().Before(next) {
			if _, err := pc.WriteToUDP(pkt, dst); err != nil {
				return sipResponse{}, fmt.Errorf("send to %s: %w", dst, err)
			}
			next = time.Now().Add(interval)
			interval = min(interval*2, t2)
		}
		dl := next
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		pc.SetReadDeadline(dl) //nolint:errcheck // a closed socket fails the read below
		n, _, err := pc.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return sipResponse{}, fmt.Errorf("from %s: %w", dst, err)
		}
		resp, err := parseResponse(buf[:n])
		if err != nil || viaBranch(resp.Get("via")) != m.Branch {
			continue // not ours, or not SIP: keep waiting
		}
		if seq, meth := cseqOf(resp.Get("cseq")); seq != m.CSeq || meth != "NOTIFY" {
			continue
		}
		if resp.Code >= 200 {
			return resp, nil
		}
		// A provisional answer: the phone has it; RFC 3261 keeps resending at T2.
		interval = t2
	}
}
