package resync

import (
	"net"
	"testing"
)

// FuzzParseResponse: whatever a host answers our NOTIFY with, parsing it
// (and any challenge in it) never panics, and a parsed response's code is a
// SIP status code.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"a\", nonce=\"n\", qop=\"auth\", algorithm=MD5-sess\r\n\r\n"))
	f.Add([]byte("SIP/2.0 407 Proxy\nProxy-Authenticate: Digest nonce=\"a\\\"b\", opaque=o\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseResponse(b)
		if err != nil {
			return
		}
		if r.Code < 100 || r.Code > 699 {
			t.Fatalf("code %d", r.Code)
		}
		viaBranch(r.Get("via"))
		cseqOf(r.Get("cseq"))
		for _, h := range []string{"www-authenticate", "proxy-authenticate"} {
			if c, err := firstChallenge(r.Headers[h]); err == nil {
				authorization(c, "NOTIFY", "u", "p", "sip:u@h", "c")
			}
		}
	})
}

// FuzzParseContact: a registered contact (a phone's REGISTER, through the
// PBX) that parses builds a NOTIFY whose request line and headers hold
// no line break.
func FuzzParseContact(f *testing.F) {
	for _, s := range []string{"sip:201@192.0.2.7:5060;transport=UDP", "<sips:a@[2001:db8::1]:5061>", "sip:h", "sip:u@h:1?x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseContact(s)
		if err != nil {
			return
		}
		if u.Port < 1 || u.Port > 65535 || u.Host == "" {
			t.Fatalf("%q: %+v", s, u)
		}
		m := notifyMsg{Contact: u, Local: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}, Event: "check-sync"}
		b := m.bytes()
		lines := 0
		for i := 0; i < len(b); i++ {
			switch {
			case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
				lines++
				i++
			case b[i] == '\r' || b[i] == '\n':
				t.Fatalf("%q: stray line break in\n%q", s, b)
			}
		}
		if lines != 13 {
			t.Fatalf("%q: %d lines in\n%s", s, lines, b)
		}
	})
}
