package pnp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-pbx/switchboard/provision"
)

// maxPacket is the largest datagram read; a SUBSCRIBE is well under 2 KB.
const maxPacket = 8192

// Subscribe is a parsed ua-profile SUBSCRIBE: the fields the answer needs.
type Subscribe struct {
	Req *sip.Request
	MAC provision.MAC
	// Event parameters (vendor and model may say "OEM").
	ProfileType, EventVendor, EventModel, EventVersion string
	// EventID is the Event header's id parameter, echoed in the NOTIFY.
	EventID   string
	UserAgent string
	// Key identifies the transaction: retransmissions share it.
	Key string
}

var (
	errNotSubscribe = errors.New("not a SUBSCRIBE")
	errNotPnP       = errors.New("not a ua-profile device subscription")
	errNoMAC        = errors.New("no MAC in the Request-URI, From or To user part")
)

// ParseSubscribe reads one datagram. Anything but a complete, well-formed
// ua-profile SUBSCRIBE that carries a MAC is an error (and gets no answer).
func ParseSubscribe(data []byte) (*Subscribe, error) {
	if len(data) > maxPacket {
		return nil, errors.New("datagram too large")
	}
	msg, err := sip.ParseMessage(data)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.SUBSCRIBE {
		return nil, errNotSubscribe
	}
	if req.SipVersion != "SIP/2.0" {
		return nil, fmt.Errorf("version %q is not SIP/2.0", req.SipVersion)
	}
	// The headers a response and a NOTIFY are built from must all be there.
	via, from, to, cid, cseq := req.Via(), req.From(), req.To(), req.CallID(), req.CSeq()
	switch {
	case via == nil || from == nil || to == nil || cid == nil || cseq == nil:
		return nil, errors.New("missing Via, From, To, Call-ID or CSeq")
	case !strings.EqualFold(via.Transport, "UDP"):
		return nil, fmt.Errorf("via transport %q is not UDP", via.Transport)
	case cseq.MethodName != sip.SUBSCRIBE:
		return nil, errors.New("CSeq method is not SUBSCRIBE")
	case string(*cid) == "" || len(string(*cid)) > 256:
		return nil, errors.New("bad Call-ID")
	}
	if _, ok := from.Params.Get("tag"); !ok {
		return nil, errors.New("the From header has no tag")
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return nil, errors.New("truncated body")
	}
	s := &Subscribe{Req: req}
	ev := req.GetHeader("Event")
	if ev == nil {
		return nil, errNotPnP
	}
	pkg, params := parseEvent(ev.Value())
	if !strings.EqualFold(pkg, "ua-profile") {
		return nil, errNotPnP
	}
	s.ProfileType, s.EventVendor, s.EventModel = params["profile-type"], params["vendor"], params["model"]
	s.EventVersion, s.EventID = params["version"], params["id"]
	// Only the device profile carries the provisioning URL; user and
	// local-network profiles are other things.
	if s.ProfileType != "" && !strings.EqualFold(s.ProfileType, "device") {
		return nil, errNotPnP
	}
	if ua := req.GetHeader("User-Agent"); ua != nil {
		s.UserAgent = ua.Value()
	}
	mac, ok := macFromURI(&req.Recipient)
	if !ok {
		mac, ok = macFromURI(&from.Address)
	}
	if !ok {
		mac, ok = macFromURI(&to.Address)
	}
	if !ok {
		return nil, errNoMAC
	}
	s.MAC = mac
	branch, _ := via.Params.Get("branch")
	ftag, _ := from.Params.Get("tag")
	s.Key = string(*cid) + "\x00" + strconv.FormatUint(uint64(cseq.SeqNo), 10) + "\x00" + branch + "\x00" + ftag
	return s, nil
}

// parseEvent splits `ua-profile;profile-type="device";vendor="OEM"` into the
// package and its parameters (names lower-case, quotes removed).
func parseEvent(v string) (string, map[string]string) {
	parts := splitParams(v)
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if k != "" {
			params[k] = val
		}
	}
	return strings.TrimSpace(parts[0]), params
}

// splitParams splits on semicolons outside double quotes.
func splitParams(v string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// macFromURI finds the MAC in a user part: MAC%3a0004..., MAC%3A..., MAC0015...,
// MAC=00304f..., and MAC:... (which the URI parser reads as user "MAC" with a
// password).
func macFromURI(u *sip.Uri) (provision.MAC, bool) {
	user := u.User
	if strings.EqualFold(user, "MAC") && u.Password != "" {
		user = "MAC:" + u.Password
	}
	return macFromUser(user)
}

func macFromUser(user string) (provision.MAC, bool) {
	if len(user) < 3 || !strings.EqualFold(user[:3], "MAC") {
		return provision.MAC{}, false
	}
	rest := user[3:]
	switch {
	case len(rest) >= 3 && rest[0] == '%' && rest[1] == '3' && (rest[2] == 'a' || rest[2] == 'A'):
		rest = rest[3:]
	case len(rest) > 0 && (rest[0] == '=' || rest[0] == ':'):
		rest = rest[1:]
	}
	// Exactly 12 hex digits: AABBCCDDEEFF; separators are not a PnP form.
	if len(rest) != 12 {
		return provision.MAC{}, false
	}
	for i := 0; i < 12; i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return provision.MAC{}, false
		}
	}
	m, err := provision.ParseMAC(rest)
	if err != nil || m == (provision.MAC{}) {
		return provision.MAC{}, false
	}
	return m, true
}

// replyAddr is where the 200 OK goes (RFC 3261 18.2.2 with RFC 3581 rport): the
// source address, on the Via's port unless rport asks for the source port.
func replyAddr(req *sip.Request, src netip.AddrPort) netip.AddrPort {
	via := req.Via()
	if _, ok := via.Params.Get("rport"); ok {
		return src
	}
	port := via.Port
	if port <= 0 || port > 65535 {
		port = 5060
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port))
}

// notifyAddr is where the NOTIFY goes: the Contact's port, on the source
// address. A Contact naming another host is not followed, so that a forged
// SUBSCRIBE cannot aim our NOTIFYs at a third party.
func notifyAddr(req *sip.Request, src netip.AddrPort) netip.AddrPort {
	c := req.Contact()
	if c == nil {
		return replyAddr(req, src)
	}
	port := c.Address.Port
	if port <= 0 || port > 65535 {
		port = 5060
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port))
}
