package pnp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/provision"
)

// subscribeMsg builds a SUBSCRIBE like the public captures in the reference note.
func subscribeMsg(ruri, from, event, ua string) string {
	var b strings.Builder
	b.WriteString("SUBSCRIBE " + ruri + " SIP/2.0\r\n")
	b.WriteString("Via: SIP/2.0/UDP 10.0.0.20:5060;branch=z9hG4bK-1;rport\r\n")
	b.WriteString("From: <" + from + ">;tag=ft1\r\n")
	b.WriteString("To: <" + from + ">\r\n")
	b.WriteString("Call-ID: cid-1@10.0.0.20\r\n")
	b.WriteString("CSeq: 1 SUBSCRIBE\r\n")
	b.WriteString("Contact: <sip:10.0.0.20:5060>\r\n")
	b.WriteString("Event: " + event + "\r\n")
	b.WriteString("Accept: application/url\r\n")
	b.WriteString("Expires: 0\r\n")
	if ua != "" {
		b.WriteString("User-Agent: " + ua + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

var forms = []struct {
	name, ruri, from, event, ua string
	mac, brand, model, by       string
}{
	{"gigaset-oem", "sip:MAC%3a00135E874B49@gigaset.com", "sip:MAC%3a00135E874B49@gigaset.com",
		`ua-profile;profile-type="device";vendor="OEM";model="OEM";version="7.1.19"`, "Gigaset N670 IP PRO/83.V2.11.0",
		"00135E874B49", "gigaset", "N670", "user-agent"},
	{"grandstream", "sip:MAC%3AC074AD112233@224.0.1.75", "sip:MAC%3AC074AD112233@224.0.1.75",
		`ua-profile;profile-type="device";vendor="Grandstream";model="GRP2612W";version="1.0.5.67"`, "Grandstream GRP2612W 1.0.5.67",
		"C074AD112233", "grandstream", "GRP2612W", "event"},
	{"yealink", "sip:MAC001565f4f9e1@224.0.1.75", "sip:MAC001565f4f9e1@224.0.1.75",
		`ua-profile;profile-type="device";vendor="yealink";model="W52P";version="25.81.0.10"`, "",
		"001565F4F9E1", "yealink", "W52P", "event"},
	{"fanvil-from-only", "sip:224.0.1.75", "sip:MAC=00304fa99948@224.0.1.75",
		`ua-profile;profile-type="device";vendor="OEM";model="OEM"`, "",
		"00304FA99948", "", "", ""},
	{"snom-local-oui", "sip:MAC%3a000413aabbcc@local", "sip:MAC%3a000413aabbcc@local",
		`ua-profile;profile-type="device";vendor="OEM";model="OEM"`, "",
		"000413AABBCC", "snom", "", "oui"},
	{"snom-ua", "sip:MAC%3a000413aabbcd@local", "sip:MAC%3a000413aabbcd@local",
		`ua-profile;profile-type=device`, "snomD785/10.1.54.13",
		"000413AABBCD", "snom", "D785", "user-agent"},
}

func TestParseSubscribeForms(t *testing.T) {
	id := NewIdentifier(mustCatalog(t).Brands)
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			s, err := ParseSubscribe([]byte(subscribeMsg(f.ruri, f.from, f.event, f.ua)))
			if err != nil {
				t.Fatal(err)
			}
			if s.MAC.String() != f.mac {
				t.Errorf("MAC %s, want %s", s.MAC, f.mac)
			}
			v := id.Identify(s.EventVendor, s.EventModel, s.UserAgent, s.MAC)
			if v.Brand != f.brand || v.Model != f.model || v.By != f.by {
				t.Errorf("vendor %+v, want brand %q model %q by %q", v, f.brand, f.model, f.by)
			}
		})
	}
}

func TestParseSubscribeRefuses(t *testing.T) {
	good := subscribeMsg("sip:MAC%3a000413aabbcc@local", "sip:MAC%3a000413aabbcc@local", "ua-profile", "")
	cases := map[string]string{
		"register":       strings.Replace(strings.Replace(good, "SUBSCRIBE sip", "REGISTER sip", 1), "1 SUBSCRIBE", "1 REGISTER", 1),
		"other event":    strings.Replace(good, "Event: ua-profile", "Event: presence", 1),
		"no event":       strings.Replace(good, "Event: ua-profile\r\n", "", 1),
		"user profile":   strings.Replace(good, "Event: ua-profile", `Event: ua-profile;profile-type="user"`, 1),
		"no mac":         strings.ReplaceAll(good, "MAC%3a000413aabbcc", "phone"),
		"short mac":      strings.ReplaceAll(good, "MAC%3a000413aabbcc", "MAC%3a000413aabb"),
		"zero mac":       strings.ReplaceAll(good, "MAC%3a000413aabbcc", "MAC%3a000000000000"),
		"no from tag":    strings.Replace(good, ";tag=ft1", "", 1),
		"no call-id":     strings.Replace(good, "Call-ID: cid-1@10.0.0.20\r\n", "", 1),
		"tcp via":        strings.Replace(good, "SIP/2.0/UDP", "SIP/2.0/TCP", 1),
		"cseq method":    strings.Replace(good, "1 SUBSCRIBE", "1 NOTIFY", 1),
		"truncated":      good[:len(good)/2],
		"short body":     strings.Replace(good, "Content-Length: 0", "Content-Length: 40", 1),
		"response":       "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n",
		"garbage":        "\x00\x01\x02",
		"empty":          "",
		"huge":           good + strings.Repeat("x", maxPacket),
		"bad start line": "SUBSCRIBE\r\n\r\n",
		"sip 3.0":        strings.Replace(good, "SIP/2.0\r\n", "SIP/3.0\r\n", 1),
	}
	for name, msg := range cases {
		if _, err := ParseSubscribe([]byte(msg)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseSubscribe([]byte(good)); err != nil {
		t.Fatalf("control case refused: %v", err)
	}
}

func TestMACForms(t *testing.T) {
	for user, want := range map[string]string{
		"MAC%3a0004132d4f5a": "0004132D4F5A", "MAC%3A0004132D4F5A": "0004132D4F5A",
		"MAC0004132d4f5a": "0004132D4F5A", "MAC=0004132d4f5a": "0004132D4F5A", "mac:0004132d4f5a": "0004132D4F5A",
		"MAC%3a0004132d4f5": "", "MAC%3a0004132d4f5ab": "", "MAC%3a00:04:13:2d:4f:5a": "", "0004132d4f5a": "",
		"MAC%3g0004132d4f5a": "", "MAC%3a0004132d4f5z": "",
	} {
		m, ok := macFromUser(user)
		got := ""
		if ok {
			got = m.String()
		}
		if got != want {
			t.Errorf("%s: %q, want %q", user, got, want)
		}
	}
}

func TestURLShapes(t *testing.T) {
	dir := "http://192.0.2.1/provisioning/"
	if got := knownURL("grandstream", dir, "cfgc074ad112233.xml"); got != dir {
		t.Errorf("grandstream %q", got)
	}
	if got := knownURL("snom", dir, "000413AABBCC.xml"); got != dir+"000413AABBCC.xml" {
		t.Errorf("snom %q", got)
	}
	if got := knownURL("fanvil", dir, ""); got != dir {
		t.Errorf("no file %q", got)
	}
	b := bootstrapURL("http://boot.example/p/{mac}.cfg?m={model}", dir, "grandstream", "C074AD112233", "c074ad112233", "GRP2612W", "t")
	if b != "http://boot.example/p/" {
		t.Errorf("grandstream bootstrap %q", b)
	}
	b = bootstrapURL("http://boot.example/p/{MAC}-{tenant}.cfg", dir, "yealink", "001565F4F9E1", "001565f4f9e1", "", "tid")
	if b != "http://boot.example/p/001565F4F9E1-tid.cfg" {
		t.Errorf("yealink bootstrap %q", b)
	}
	if b := bootstrapURL("", dir, "snom", "A", "a", "", "t"); b != dir {
		t.Errorf("default bootstrap %q", b)
	}
}

func mustCatalog(t testing.TB) provision.Catalog {
	t.Helper()
	c, err := provision.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func FuzzParseSubscribe(f *testing.F) {
	for _, x := range forms {
		f.Add([]byte(subscribeMsg(x.ruri, x.from, x.event, x.ua)))
	}
	f.Add([]byte("SUBSCRIBE sip:MAC%3a@x SIP/2.0\r\nVia: SIP/2.0/UDP\r\nFrom: <sip:MAC:1>;tag=\r\nTo: x\r\nCall-ID: \r\nCSeq: x SUBSCRIBE\r\nEvent: ua-profile;vendor=\"\r\n\r\n"))
	f.Add([]byte("SUBSCRIBE sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSubscribe(data)
		if err != nil {
			return
		}
		// Whatever parses must be answerable without panicking.
		if s.MAC == (provision.MAC{}) || s.Key == "" {
			t.Fatalf("accepted without MAC or key")
		}
		build200(s, "tag", mustAP("10.0.0.1:5070"), mustAP("10.0.0.2:5060"))
		buildNotify(s, "tag", "z9hG4bK.x", mustAP("10.0.0.1:5070"), "http://x/")
		replyAddr(s.Req, mustAP("10.0.0.2:5060"))
		notifyAddr(s.Req, mustAP("10.0.0.2:5060"))
	})
}

func FuzzIdentify(f *testing.F) {
	for _, x := range forms {
		f.Add("OEM", "OEM", x.ua, x.mac)
	}
	f.Add("Grandstream", "GRP2612W", "", "C074AD112233")
	f.Add("", "", "Yealink SIP-T54W 96.86.0.70", "001565000000")
	f.Add("x", "\x00", "snom", "zz")
	id := NewIdentifier(mustCatalog(f).Brands)
	f.Fuzz(func(t *testing.T, vendor, model, ua, mac string) {
		m, _ := provision.ParseMAC(mac)
		v := id.Identify(vendor, model, ua, m)
		if len(v.Model) > 32 {
			t.Fatalf("model %q too long", v.Model)
		}
		if v.Brand != "" && v.By == "" {
			t.Fatalf("brand without a reason: %+v", v)
		}
	})
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseNotifyResponse(t *testing.T) {
	ok := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK.abc\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n"
	if b, st, good := parseNotifyResponse([]byte(ok)); !good || b != "z9hG4bK.abc" || st != 200 {
		t.Errorf("200 OK: %q %d %v", b, st, good)
	}
	for name, m := range map[string]string{
		"subscribe cseq": strings.Replace(ok, "1 NOTIFY", "1 SUBSCRIBE", 1),
		"no branch":      strings.Replace(ok, ";branch=z9hG4bK.abc", "", 1),
		"request":        "NOTIFY sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK.abc\r\nCSeq: 1 NOTIFY\r\n\r\n",
		"truncated":      ok[:40],
	} {
		if _, _, good := parseNotifyResponse([]byte(m)); good {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseNotifyResponse(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK.abc\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SIP/2.0 180 Ringing\r\nVia: x\r\nCSeq: NOTIFY\r\n\r\n"))
	f.Add([]byte("SIP/2.0 999 X\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, st, ok := parseNotifyResponse(data)
		if ok && (b == "" || st < 100 || st > 699) {
			t.Fatalf("accepted branch %q status %d", b, st)
		}
	})
}
