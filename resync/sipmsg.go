package resync

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"strconv"
	"strings"
)

// contactURI is a phone's registered contact, as the PBX reports it
// ("sip:201@192.0.2.7:5060;transport=UDP"): where a direct NOTIFY goes.
type contactURI struct {
	Raw       string // the URI as given, without <>: the NOTIFY's Request-URI
	User      string
	Host      string // without brackets for IPv6
	Port      int    // 5060 when the URI has none
	Transport string // lower case; "udp" when the URI has none
}

// maxURI bounds a contact URI; PJSIP accepts longer ones, but no phone has one.
const maxURI = 512

// parseContact reads a contact URI. The value came from a phone's REGISTER
// through the PBX, so it is checked as network input: anything that could
// break the request line or headers we build from it is refused.
func parseContact(s string) (contactURI, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return contactURI{}, errors.New("empty contact")
	}
	if len(s) > maxURI {
		return contactURI{}, fmt.Errorf("contact is longer than %d bytes", maxURI)
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' {
			return contactURI{}, fmt.Errorf("contact %q has a space, quote, angle bracket or control character", s)
		}
	}
	u := contactURI{Raw: s, Port: 5060, Transport: "udp"}
	scheme, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return contactURI{}, fmt.Errorf("contact %q is not a sip: URI", s)
	case strings.EqualFold(scheme, "sips"):
		u.Transport = "tls"
	case !strings.EqualFold(scheme, "sip"):
		return contactURI{}, fmt.Errorf("contact %q is not a sip: URI", s)
	}
	rest, _, _ = strings.Cut(rest, "?") // URI headers: nothing for a NOTIFY
	hostport, params, _ := strings.Cut(rest, ";")
	if at := strings.LastIndexByte(hostport, '@'); at >= 0 {
		u.User, hostport = hostport[:at], hostport[at+1:]
		if u.User == "" {
			return contactURI{}, fmt.Errorf("contact %q has an empty user part", s)
		}
	}
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return contactURI{}, fmt.Errorf("contact %q has an unterminated IPv6 address", s)
		}
		host, port = hostport[1:end], strings.TrimPrefix(hostport[end+1:], ":")
		if hostport[end+1:] != "" && !strings.HasPrefix(hostport[end+1:], ":") {
			return contactURI{}, fmt.Errorf("contact %q has junk after the IPv6 address", s)
		}
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return contactURI{}, fmt.Errorf("contact %q has a bad IPv6 address", s)
		}
	} else {
		if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
			host, port = hostport[:i], hostport[i+1:]
		}
		if host == "" || strings.ContainsAny(host, ":[]@") {
			return contactURI{}, fmt.Errorf("contact %q has no usable host", s)
		}
	}
	u.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return contactURI{}, fmt.Errorf("contact %q has a bad port", s)
		}
		u.Port = n
	}
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(k, "transport") {
			u.Transport = strings.ToLower(v)
		}
	}
	return u, nil
}

// addr is the contact's host:port.
func (u contactURI) addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// hostInURI brackets an IPv6 address for a SIP URI.
func hostInURI(ip net.IP) string {
	if ip.To4() == nil {
		return "[" + ip.String() + "]"
	}
	return ip.String()
}

// notifyMsg is what one NOTIFY carries.
type notifyMsg struct {
	Contact   contactURI
	Local     *net.UDPAddr // the socket it is sent from (Via, From, Contact)
	Branch    string
	CallID    string
	FromTag   string
	CSeq      int
	Event     string
	UserAgent string
	Auth      string // an Authorization header's value, on the retry after a challenge
	AuthProxy bool   // the challenge was a 407: answer with Proxy-Authorization
}

// bytes is the request as it goes on the wire. Its headers mirror the NOTIFY
// PJSIPNotify sends (Subscription-State: terminated, no body), so a phone sees
// the same request on both paths.
func (m notifyMsg) bytes() []byte {
	var b strings.Builder
	local := net.JoinHostPort(m.Local.IP.String(), strconv.Itoa(m.Local.Port))
	to := "sip:" + m.Contact.Host
	if strings.Contains(m.Contact.Host, ":") {
		to = "sip:[" + m.Contact.Host + "]"
	}
	if m.Contact.User != "" {
		to = "sip:" + m.Contact.User + "@" + strings.TrimPrefix(to, "sip:")
	}
	fmt.Fprintf(&b, "NOTIFY %s SIP/2.0\r\n", m.Contact.Raw)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;rport;branch=%s\r\n", local, m.Branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:switchboard@%s>;tag=%s\r\n", hostInURI(m.Local.IP), m.FromTag)
	fmt.Fprintf(&b, "To: <%s>\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", m.CallID)
	fmt.Fprintf(&b, "CSeq: %d NOTIFY\r\n", m.CSeq)
	fmt.Fprintf(&b, "Contact: <sip:switchboard@%s>\r\n", local)
	b.WriteString("Subscription-State: terminated\r\n")
	fmt.Fprintf(&b, "Event: %s\r\n", m.Event)
	if m.Auth != "" {
		name := "Authorization"
		if m.AuthProxy {
			name = "Proxy-Authorization"
		}
		fmt.Fprintf(&b, "%s: %s\r\n", name, m.Auth)
	}
	fmt.Fprintf(&b, "User-Agent: %s\r\nContent-Length: 0\r\n\r\n", m.UserAgent)
	return []byte(b.String())
}

// sipResponse is a parsed SIP response.
type sipResponse struct {
	Code    int
	Reason  string
	Headers map[string][]string // lower-case long names
}

// Get is a header's first value.
func (r sipResponse) Get(name string) string {
	if v := r.Headers[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// compact are the compact header forms (RFC 3261 section 7.3.3) a response we
// match on may use.
var compact = map[string]string{"v": "via", "i": "call-id", "f": "from", "t": "to", "l": "content-length", "m": "contact"}

// maxHeaders bounds what one response may carry.
const maxHeaders = 128

// parseResponse reads a SIP response from a datagram. Anything that is not a
// well-formed response is an error: the caller drops it and keeps waiting.
func parseResponse(b []byte) (sipResponse, error) {
	text := string(b)
	head, _, found := strings.Cut(text, "\r\n\r\n")
	if !found {
		head, _, _ = strings.Cut(text, "\n\n")
	}
	lines := strings.Split(strings.ReplaceAll(head, "\r\n", "\n"), "\n")
	status := lines[0]
	rest, ok := strings.CutPrefix(status, "SIP/2.0 ")
	if !ok {
		return sipResponse{}, errors.New("not a SIP/2.0 response")
	}
	codeText, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil || len(codeText) != 3 || code < 100 || code > 699 {
		return sipResponse{}, fmt.Errorf("bad status code %q", codeText)
	}
	r := sipResponse{Code: code, Reason: strings.TrimSpace(reason), Headers: map[string][]string{}}
	n := 0
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue // folded continuation: nothing we read needs it
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return sipResponse{}, fmt.Errorf("header line without a colon: %q", truncate(l, 40))
		}
		if n++; n > maxHeaders {
			return sipResponse{}, errors.New("too many headers")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if long, ok := compact[k]; ok {
			k = long
		}
		r.Headers[k] = append(r.Headers[k], strings.TrimSpace(v))
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// viaBranch is the branch parameter of a Via value.
func viaBranch(via string) string {
	first, _, _ := strings.Cut(via, ",") // the top Via of a combined header
	for _, p := range strings.Split(first, ";")[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "branch") {
			return v
		}
	}
	return ""
}

// cseqOf is the number and method of a CSeq value.
func cseqOf(v string) (int, string) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return 0, ""
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, ""
	}
	return n, strings.ToUpper(f[1])
}

// challenge is a Digest challenge (WWW-Authenticate or Proxy-Authenticate).
type challenge struct {
	Realm, Nonce, Opaque, Algorithm string
	QOPAuth                         bool // qop offers "auth"
}

// parseChallenge reads a Digest challenge; other schemes, and digest
// algorithms we cannot compute, are errors.
func parseChallenge(v string) (challenge, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return challenge{}, fmt.Errorf("authentication scheme %q is not Digest", truncate(scheme, 20))
	}
	params, err := authParams(rest)
	if err != nil {
		return challenge{}, err
	}
	c := challenge{Realm: params["realm"], Nonce: params["nonce"], Opaque: params["opaque"], Algorithm: params["algorithm"]}
	if c.Nonce == "" {
		return challenge{}, errors.New("digest challenge without a nonce")
	}
	if c.Algorithm == "" {
		c.Algorithm = "MD5"
	}
	if newHash(c.Algorithm) == nil {
		return challenge{}, fmt.Errorf("digest algorithm %q is not supported", truncate(c.Algorithm, 20))
	}
	if q, ok := params["qop"]; ok {
		for _, o := range strings.Split(q, ",") {
			if strings.EqualFold(strings.TrimSpace(o), "auth") {
				c.QOPAuth = true
			}
		}
		if !c.QOPAuth {
			return challenge{}, fmt.Errorf("digest qop %q has no \"auth\"", truncate(q, 20))
		}
	}
	return c, nil
}

// authParams splits k=v, k="quoted, value" lists (RFC 7616 auth-params).
func authParams(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("bad auth parameter %q", truncate(s, 20))
		}
		k := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var v string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quoted auth parameter")
			}
			v, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			v, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if len(out) >= 32 {
			return nil, errors.New("too many auth parameters")
		}
		out[k] = v
	}
}

func newHash(alg string) hash.Hash {
	switch strings.ToUpper(strings.TrimSuffix(strings.ToUpper(alg), "-SESS")) {
	case "MD5":
		return md5.New()
	case "SHA-256":
		return sha256.New()
	}
	return nil
}

func hexHash(alg string, parts ...string) string {
	h := newHash(alg)
	h.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(h.Sum(nil))
}

// authorization is the Authorization value answering c for a request of
// method to uri (RFC 7616 / RFC 3261 section 22), with cnonce when qop=auth
// is offered.
func authorization(c challenge, method, user, password, uri, cnonce string) string {
	ha1 := hexHash(c.Algorithm, user, c.Realm, password)
	if strings.HasSuffix(strings.ToUpper(c.Algorithm), "-SESS") {
		ha1 = hexHash(c.Algorithm, ha1, c.Nonce, cnonce)
	}
	ha2 := hexHash(c.Algorithm, method, uri)
	const nc = "00000001"
	var resp string
	if c.QOPAuth {
		resp = hexHash(c.Algorithm, ha1, c.Nonce, nc, cnonce, "auth", ha2)
	} else {
		resp = hexHash(c.Algorithm, ha1, c.Nonce, ha2)
	}
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	out := fmt.Sprintf("Digest username=%s, realm=%s, nonce=%s, uri=%s, response=%s, algorithm=%s",
		q(user), q(c.Realm), q(c.Nonce), q(uri), q(resp), c.Algorithm)
	if c.Opaque != "" {
		out += ", opaque=" + q(c.Opaque)
	}
	if c.QOPAuth {
		out += fmt.Sprintf(", qop=auth, nc=%s, cnonce=%s", nc, q(cnonce))
	}
	return out
}
