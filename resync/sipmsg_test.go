package resync

import (
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestParseContact(t *testing.T) {
	for _, c := range []struct {
		in                    string
		user, host, transport string
		port                  int
	}{
		{"sip:201@192.0.2.7:5060;transport=UDP", "201", "192.0.2.7", "udp", 5060},
		{"<sip:201@192.0.2.7>", "201", "192.0.2.7", "udp", 5060},
		{"sip:alice@phone.example.com:5070;transport=tcp;ob", "alice", "phone.example.com", "tcp", 5070},
		{"sips:201@192.0.2.7:5061", "201", "192.0.2.7", "tls", 5061},
		{"sip:201@[2001:db8::7]:5062;transport=udp", "201", "2001:db8::7", "udp", 5062},
		{"sip:192.0.2.9", "", "192.0.2.9", "udp", 5060},
		{"sip:201@192.0.2.7:5060?X-Foo=bar", "201", "192.0.2.7", "udp", 5060},
	} {
		u, err := parseContact(c.in)
		if err != nil || u.User != c.user || u.Host != c.host || u.Port != c.port || u.Transport != c.transport {
			t.Errorf("%s: %+v %v", c.in, u, err)
		}
	}
	for _, bad := range []string{"", "201@192.0.2.7", "tel:+390612345", "sip:201@", "sip:@192.0.2.7", "sip:201@192.0.2.7:0",
		"sip:201@192.0.2.7:99999", "sip:201@192.0.2.7:x", "sip:201@[2001:db8::7", "sip:201@[192.0.2.7]", "sip:201@[::1]x",
		"sip:201@192.0.2.7\r\nVia: evil", "sip:201 @192.0.2.7", "sip:a\"b@host", "sip:201@" + strings.Repeat("a", 600)} {
		if u, err := parseContact(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, u)
		}
	}
}

// The NOTIFY we send is a well-formed SIP request for another parser
// (sipgo's), with the headers a phone matches on.
func TestNotifyIsWellFormed(t *testing.T) {
	u, _ := parseContact("sip:201@[2001:db8::7]:5062;transport=udp")
	m := notifyMsg{Contact: u, Local: &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 40000}, Branch: "z9hG4bKabc",
		CallID: "cid@x", FromTag: "ft", CSeq: 2, Event: "check-sync;reboot=false", UserAgent: "Switchboard",
		Auth: `Digest username="201"`, AuthProxy: true}
	msg, err := sip.ParseMessage(m.bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, m.bytes())
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.NOTIFY || strings.Trim(req.Recipient.Host, "[]") != "2001:db8::7" || req.Recipient.Port != 5062 {
		t.Fatalf("request line: %v", msg)
	}
	for name, want := range map[string]string{
		"Event": "check-sync;reboot=false", "Subscription-State": "terminated", "Proxy-Authorization": `Digest username="201"`,
		"Call-ID": "cid@x", "CSeq": "2 NOTIFY", "Content-Length": "0", "Max-Forwards": "70",
	} {
		if h := req.GetHeader(name); h == nil || h.Value() != want {
			t.Errorf("%s: %v, want %q", name, h, want)
		}
	}
	if via := req.Via(); via == nil || strings.Trim(via.Host, "[]") != "2001:db8::1" || via.Port != 40000 || via.Params.GetOr("branch", "") != "z9hG4bKabc" {
		t.Errorf("Via: %v", via)
	}
	if to := req.To(); to == nil || to.Address.User != "201" || strings.Trim(to.Address.Host, "[]") != "2001:db8::7" {
		t.Errorf("To: %v", to)
	}
}

func TestParseResponse(t *testing.T) {
	r, err := parseResponse([]byte("SIP/2.0 401 Unauthorized\r\nv: SIP/2.0/UDP 10.0.0.1:5060;rport=5060;branch=z9hG4bKx\r\n" +
		"CSeq: 1 NOTIFY\r\nWWW-Authenticate: Digest realm=\"a\", nonce=\"n1\"\r\nWWW-Authenticate: Digest realm=\"b\", nonce=\"n2\", algorithm=SHA-256\r\n\r\n"))
	if err != nil || r.Code != 401 || r.Reason != "Unauthorized" || viaBranch(r.Get("via")) != "z9hG4bKx" || len(r.Headers["www-authenticate"]) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if n, m := cseqOf(r.Get("cseq")); n != 1 || m != "NOTIFY" {
		t.Errorf("cseq %d %s", n, m)
	}
	for _, bad := range []string{"", "NOTIFY sip:x SIP/2.0\r\n\r\n", "SIP/2.0 20 OK\r\n\r\n", "SIP/2.0 700 Nope\r\n\r\n",
		"SIP/2.0 200 OK\r\nno colon here\r\n\r\n", "SIP/2.0 2000 OK\r\n\r\n"} {
		if _, err := parseResponse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Digest answers match the RFCs' worked examples (RFC 2617 3.5 for MD5 with
// qop=auth, RFC 7616 3.9.1 for SHA-256), so a phone computing them the
// standard way accepts ours.
func TestDigestVectors(t *testing.T) {
	c, err := parseChallenge(`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	if err != nil {
		t.Fatal(err)
	}
	got := authorization(c, "GET", "Mufasa", "Circle Of Life", "/dir/index.html", "0a4f113b")
	if !strings.Contains(got, `response="6629fae49393a05397450978507c4ef1"`) || !strings.Contains(got, `opaque="5ccc069c403ebaf9f0171e9517f40e41"`) ||
		!strings.Contains(got, "qop=auth, nc=00000001") {
		t.Errorf("MD5: %s", got)
	}
	for alg, want := range map[string]string{"MD5": "8ca523f5e9506fed4657c9700eebdbec", "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"} {
		c, err := parseChallenge(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + alg +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)
		if err != nil {
			t.Fatal(err)
		}
		got := authorization(c, "GET", "Mufasa", "Circle of Life", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if !strings.Contains(got, `response="`+want+`"`) {
			t.Errorf("%s: %s", alg, got)
		}
	}
	// No qop (RFC 2069 style): response = H(HA1:nonce:HA2).
	c, _ = parseChallenge(`Digest realm="r", nonce="n"`)
	if got := authorization(c, "NOTIFY", "u", "p", "sip:u@h", "cn"); strings.Contains(got, "qop") || !strings.Contains(got, "algorithm=MD5") {
		t.Errorf("no qop: %s", got)
	}
	for _, bad := range []string{`Basic realm="x"`, `Digest realm="x"`, `Digest nonce="n", algorithm=SHA-512-256`,
		`Digest nonce="n", qop="auth-int"`, `Digest nonce="n, realm=x`, `Digest =x`} {
		if _, err := parseChallenge(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
