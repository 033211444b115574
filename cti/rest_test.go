package cti

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/store"
)

// The known answer was computed independently of this code with OpenSSL:
//
//	printf 'alice:s3cretpw:0123456789abcdef0123456789abcdef01234567' | openssl dgst -sha1 -hmac s3cretpw
//	SHA1(stdin)= 1794aa71add97d001ea779b6aa6b708d0b6b5725
func TestTokenKnownAnswer(t *testing.T) {
	got := Token("alice", "s3cretpw", "0123456789abcdef0123456789abcdef01234567")
	if got != "1794aa71add97d001ea779b6aa6b708d0b6b5725" {
		t.Fatalf("token = %s", got)
	}
}

func TestLoginMeLogout(t *testing.T) {
	e := newEnv(t, nil)
	// Wrong password: 401 without a nonce.
	resp, err := http.Post(e.srv.URL+"/webrest/authentication/login", "application/json", strings.NewReader(`{"username":"alice","password":"nope"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("bad password: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	tok := e.login("alice", "alice-password")
	code, body := e.do("GET", "/webrest/user/me", "alice", tok, "")
	if code != 200 {
		t.Fatalf("me: %d %s", code, body)
	}
	var me struct {
		Username  string `json:"username"`
		Name      string `json:"name"`
		Presence  string `json:"presence"`
		Endpoints struct {
			Extension []struct{ ID, Type string } `json:"extension"`
		} `json:"endpoints"`
		Profile struct {
			MacroPermissions map[string]Macro `json:"macro_permissions"`
		} `json:"profile"`
	}
	if err := json.Unmarshal(body, &me); err != nil {
		t.Fatal(err)
	}
	if me.Username != "alice" || me.Name != "Alice" || me.Presence != "online" || len(me.Endpoints.Extension) != 2 ||
		me.Endpoints.Extension[1].Type != "webrtc" || !me.Profile.MacroPermissions["operator_panel"].Value {
		t.Fatalf("me: %s", body)
	}
	// A wrong token, another user's token, and no token are refused.
	for _, h := range [][2]string{{"alice", strings.Repeat("0", 40)}, {"bob", tok}, {"", ""}} {
		if code, _ := e.do("GET", "/webrest/user/me", h[0], h[1], ""); code != 401 {
			t.Fatalf("%v: %d", h, code)
		}
	}
	// The main extension works as the username (the client signs with what it typed).
	tok2 := e.login("201", "alice-password")
	if code, _ := e.do("GET", "/webrest/user/me", "201", tok2, ""); code != 200 {
		t.Fatalf("login by extension: %d", code)
	}
	// Logout removes the grant.
	if code, _ := e.do("POST", "/webrest/authentication/logout", "alice", tok, ""); code != 200 {
		t.Fatal("logout")
	}
	if code, _ := e.do("GET", "/webrest/user/me", "alice", tok, ""); code != 401 {
		t.Fatalf("token works after logout: %d", code)
	}
	// CORS preflight.
	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/webrest/user/me", nil)
	req.Header.Set("Origin", "https://cti.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://cti.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestSlidingExpiry(t *testing.T) {
	g := newGrants(30 * time.Minute)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	g.Add("alice", "tok", "session")
	g.Add("alice", "forever", "persistent")
	now = now.Add(29 * time.Minute)
	if !g.Check("alice", "tok") {
		t.Fatal("expired too early")
	}
	now = now.Add(29 * time.Minute) // 58 min after login, 29 after last use
	if !g.Check("alice", "tok") {
		t.Fatal("use did not extend the token")
	}
	now = now.Add(31 * time.Minute)
	if g.Check("alice", "tok") {
		t.Fatal("idle token still valid")
	}
	if !g.Check("alice", "forever") {
		t.Fatal("persistent token expired")
	}
	if g.Check("bob", "forever") {
		t.Fatal("token accepted for another user")
	}
	g.Add("alice", "m1", "mobile")
	g.Add("alice", "m2", "mobile")
	if g.Check("alice", "m1") || !g.Check("alice", "m2") {
		t.Fatal("a new mobile token must replace the old one")
	}
}

func TestExpiryOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now()
	e.svc.grants.mu.Lock()
	e.svc.grants.now = func() time.Time { return now }
	e.svc.grants.mu.Unlock()
	tok := e.login("bob", "bob-password")
	now = now.Add(31 * time.Minute)
	if code, _ := e.do("GET", "/webrest/user/me", "bob", tok, ""); code != 401 {
		t.Fatalf("token valid after 31 idle minutes: %d", code)
	}
}

func TestPersistentTokenAndQR(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FQDN = "pbx.example.com" })
	tok := e.login("bob", "bob-password")
	code, body := e.do("POST", "/webrest/authentication/persistent_token_login", "bob", tok, "")
	var pt struct{ Token, Username string }
	if code != 200 || json.Unmarshal(body, &pt) != nil || len(pt.Token) != 64 || pt.Username != "bob" {
		t.Fatalf("persistent: %d %s", code, body)
	}
	// It survives a restart: the in-memory grants are gone, the store has it.
	e.svc.grants = newGrants(time.Minute)
	if code, _ := e.do("GET", "/webrest/user/me", "bob", pt.Token, ""); code != 200 {
		t.Fatalf("persistent token after restart: %d", code)
	}
	tok = e.login("bob", "bob-password")
	req, _ := http.NewRequest("GET", e.srv.URL+"/webrest/user/mobile_qrcode", nil)
	req.Header.Set("Authorization", "bob:"+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("qr: %d", resp.StatusCode)
	}
	if _, err := png.Decode(resp.Body); err != nil {
		t.Fatalf("qr is not a PNG: %v", err)
	}
	// The QR carries a new mobile token; a second QR invalidates it.
	var first string
	e.svc.grants.mu.Lock()
	for k, g := range e.svc.grants.m {
		if g.kind == "mobile" {
			first = k
		}
	}
	e.svc.grants.mu.Unlock()
	if first == "" {
		t.Fatal("no mobile grant")
	}
	code, _ = e.do("GET", "/webrest/user/mobile_qrcode", "bob", tok, "")
	if code != 200 {
		t.Fatal(code)
	}
	e.svc.grants.mu.Lock()
	_, still := e.svc.grants.m[first]
	e.svc.grants.mu.Unlock()
	if still {
		t.Fatal("old mobile token still valid")
	}
}

func TestAuthDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AuthDisabled = true })
	if code, _ := e.do("GET", "/webrest/user/me", "bob", "anything", ""); code != 200 {
		t.Fatalf("auth disabled: %d", code)
	}
	if code, _ := e.do("GET", "/webrest/user/me", "nobody", "x", ""); code != 401 {
		t.Fatalf("unknown user with auth disabled: %d", code)
	}
}

func TestUnautheCall(t *testing.T) {
	// Refused while disabled (the default), whatever the source.
	e := newEnv(t, nil)
	if code, body := e.do("GET", "/webrest/astproxy/unauthe_call/202/0612345678", "", "", ""); code != 403 || !strings.Contains(string(body), "disabled") {
		t.Fatalf("disabled: %d %s", code, body)
	}
	if n := len(e.ami.Actions()); n != 0 {
		t.Fatalf("%d actions sent while disabled", n)
	}

	e = newEnv(t, func(c *Config) {
		c.UnautheCall = UnautheCallConfig{Enabled: true, Allow: []string{"192.0.2.0/24", "127.0.0.1/32"}}
	})
	// From the allowed loopback source over the real listener.
	code, body := e.do("GET", "/webrest/astproxy/unauthe_call/202/tel:+39%20061234", "", "", "")
	if code != 200 {
		t.Fatalf("allowed: %d %s", code, body)
	}
	acts := e.ami.Actions()
	if len(acts) != 1 || acts[0].Get("Action") != "Originate" || acts[0].Get("Channel") != "PJSIP/202" || acts[0].Get("Exten") != "0039061234" {
		t.Fatalf("actions: %v", acts)
	}
	code, _ = e.do("POST", "/webrest/astproxy/unauthe_call", "", "", `{"endpointId":"203","number":"callto:204"}`)
	if code != 200 || len(e.ami.Actions()) != 2 {
		t.Fatalf("POST form: %d", code)
	}
	// From a network outside the list (the handler sees the peer address only).
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/webrest/astproxy/unauthe_call/202/123", nil)
	req.RemoteAddr = "198.51.100.7:40000"
	e.svc.Handler().ServeHTTP(rec, req)
	if rec.Code != 403 || len(e.ami.Actions()) != 2 {
		t.Fatalf("outside allow-list: %d", rec.Code)
	}
	// Inside another allowed network.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/webrest/astproxy/unauthe_call/202/123", nil)
	req.RemoteAddr = "192.0.2.9:40000"
	e.svc.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || len(e.ami.Actions()) != 3 {
		t.Fatalf("inside allow-list: %d %s", rec.Code, rec.Body)
	}
	// Bad input changes nothing.
	if code, _ := e.do("GET", "/webrest/astproxy/unauthe_call/202/abc", "", "", ""); code != 400 {
		t.Fatalf("no digits: %d", code)
	}
	if len(e.ami.Actions()) != 3 {
		t.Fatal("bad input reached the PBX")
	}
	// Every use is audited.
	rows, _, err := e.st.Audit(context.Background(), store.AuditFilter{ObjectType: kindUnautheCall})
	if err != nil || len(rows) != 3 {
		t.Fatalf("audit rows: %d %v", len(rows), err)
	}
}

func TestCleanNumber(t *testing.T) {
	for in, want := range map[string]string{
		"tel:+39 06 1234":            "0039061234",
		"callto:0612345":             "0612345",
		"callto://201":               "201",
		"sip:203@pbx.example":        "203",
		"+1 (555) 010-9999":          "0015550109999",
		"tel:+390612;phone-context=": "00390612",
		"*72#":                       "*72#",
		"abc":                        "",
		"":                           "",
		"12\r\nAction: Command":      "12",
	} {
		if got := cleanNumber(in); got != want {
			t.Errorf("cleanNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCallOpsAndPermissions(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.login("alice", "alice-password") // operator
	bob := e.login("bob", "bob-password")       // basic
	var sc amitest.Script
	a := sc.NewChan("201", "201", "Alice", nil)
	c := sc.NewChan("203", "203", "Carol", a)
	connect(e, &sc, a, c, "bx")
	id := a.Name + ">" + c.Name
	eventually(t, "call known", func() bool { return len(e.extOf("203").Conversations) == 1 })

	last := func() amitest.Fields {
		acts := e.ami.Actions()
		if len(acts) == 0 {
			return nil
		}
		return acts[len(acts)-1]
	}
	// Bob may not hang up Carol's call (macro off), Alice may (operator hangup).
	if code, _ := e.do("POST", "/webrest/astproxy/hangup", "bob", bob, `{"convid":"`+id+`","endpointId":"203"}`); code != 403 {
		t.Fatalf("bob hangup: %d", code)
	}
	if len(e.ami.Actions()) != 0 {
		t.Fatal("a refused op reached the PBX")
	}
	if code, b := e.do("POST", "/webrest/astproxy/hangup", "alice", alice, `{"convid":"`+id+`","endpointId":"203"}`); code != 200 {
		t.Fatalf("alice hangup: %d %s", code, b)
	}
	if l := last(); l.Get("Action") != "Hangup" || l.Get("Channel") != c.Name {
		t.Fatalf("hangup action: %v", l)
	}
	steps := []struct {
		op, user, tok, body string
		code                int
		action, key, value  string
	}{
		// BlindTransfer names the transferrer's own channel (Asterisk moves its peer).
		{"blindtransfer", "alice", alice, `{"convid":"` + id + `","endpointId":"201","to":"204"}`, 200, "BlindTransfer", "Channel", a.Name},
		{"atxfer", "alice", alice, `{"convid":"` + id + `","endpointId":"201","to":"204"}`, 200, "Atxfer", "Channel", a.Name},
		{"park", "alice", alice, `{"convid":"` + id + `","endpointId":"201","applicantId":"201"}`, 200, "Park", "Channel", c.Name},
		{"start_record", "alice", alice, `{"convid":"` + id + `","endpointId":"201"}`, 200, "MixMonitor", "Channel", a.Name},
		{"mute_record", "alice", alice, `{"convid":"` + id + `","endpointId":"201"}`, 200, "MixMonitorMute", "State", "1"},
		{"stop_record", "alice", alice, `{"convid":"` + id + `","endpointId":"201"}`, 200, "StopMixMonitor", "Channel", a.Name},
		{"start_spy", "alice", alice, `{"convid":"` + id + `","endpointId":"203","destId":"201"}`, 200, "Originate", "Data", c.Name + ",qS"},
		// The spy call carries the spier's number, never the spied extension's.
		{"start_spy", "alice", alice, `{"convid":"` + id + `","endpointId":"203","destId":"201"}`, 200, "Originate", "CallerID", `"Spy 203" <201>`},
		{"intrude", "alice", alice, `{"convid":"` + id + `","endpointId":"203","destId":"201"}`, 200, "Originate", "Data", c.Name + ",wqS"},
		{"start_spy", "bob", bob, `{"convid":"` + id + `","endpointId":"203","destId":"202"}`, 403, "", "", ""},
		{"mute", "alice", alice, `{"endpointId":"201"}`, 200, "MuteAudio", "State", "on"},
		{"toggle_mute", "alice", alice, `{"endpointId":"201","convid":"` + id + `"}`, 200, "MuteAudio", "State", "off"},
		{"toggle_mute", "alice", alice, `{"endpointId":"201","convid":"` + id + `"}`, 200, "MuteAudio", "State", "on"},
		{"dtmf", "alice", alice, `{"endpointId":"201","tone":"5"}`, 200, "PlayDTMF", "Digit", "5"},
		// Receive: true plays the digit into the call, not to the user's own phone.
		{"dtmf", "alice", alice, `{"endpointId":"201","tone":"#"}`, 200, "PlayDTMF", "Receive", "true"},
		{"dtmf", "alice", alice, `{"endpointId":"201","tone":"55"}`, 400, "", "", ""},
		{"call", "bob", bob, `{"number":"tel:+39 0612"}`, 200, "Originate", "Exten", "00390612"},
		{"call", "bob", bob, `{"number":"201","endpointId":"203"}`, 403, "", "", ""},
		{"call", "bob", bob, `{"number":""}`, 400, "", "", ""},
		{"queuemember_add", "bob", bob, `{"endpointId":"202","queueId":"401"}`, 200, "QueueAdd", "Interface", "PJSIP/202"},
		{"queuemember_pause", "bob", bob, `{"endpointId":"202","queueId":"401","reason":"lunch"}`, 200, "QueuePause", "Paused", "true"},
		{"queuemember_remove", "bob", bob, `{"endpointId":"203","queueId":"401"}`, 403, "", "", ""},
		{"hangup", "alice", alice, `{"convid":"nope>nope","endpointId":"201"}`, 404, "", "", ""},
		{"hangup", "alice", alice, `{"convid":`, 400, "", "", ""},
	}
	for _, s := range steps {
		before := len(e.ami.Actions())
		code, body := e.do("POST", "/webrest/astproxy/"+s.op, s.user, s.tok, s.body)
		if code != s.code {
			t.Errorf("%s by %s: %d %s, want %d", s.op, s.user, code, body, s.code)
			continue
		}
		if s.code != 200 {
			if len(e.ami.Actions()) != before {
				t.Errorf("%s refused but sent %v", s.op, last())
			}
			var er map[string]string
			if json.Unmarshal(body, &er) != nil || er["error"] == "" {
				t.Errorf("%s: error body %s", s.op, body)
			}
			continue
		}
		if l := last(); len(e.ami.Actions()) <= before || l.Get("Action") != s.action || l.Get(s.key) != s.value {
			t.Errorf("%s: action %v, want %s %s=%s", s.op, l, s.action, s.key, s.value)
		}
	}
}

func TestClickToCallWebrtc(t *testing.T) {
	e := newEnv(t, nil)
	sock := e.socket("bob")
	tok := e.login("bob", "bob-password")
	code, body := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"callto:0612 345","endpointId":"9202"}`)
	if code != 200 {
		t.Fatalf("call: %d %s", code, body)
	}
	got := expect(t, sock, "callWebrtc", func(string) bool { return true })
	if got != "0612345" {
		t.Fatalf("callWebrtc: %v", got)
	}
	if len(e.ami.Actions()) != 0 {
		t.Fatal("a web phone call must not originate over AMI")
	}
	// Default device: set it to the web phone, then call without an endpoint.
	if code, _ := e.do("POST", "/webrest/user/default_device", "bob", tok, `{"id":"9202"}`); code != 200 {
		t.Fatal("default_device")
	}
	if code, _ := e.do("POST", "/webrest/user/default_device", "bob", tok, `{"id":"203"}`); code != 400 {
		t.Fatal("default_device of another user accepted")
	}
	// updateDefaultDevice tells the user's clients which device it is now.
	expect(t, sock, "updateDefaultDevice", func(id string) bool { return id == "9202" })
	// The clients send endpointType "extension": the device's type decides.
	if code, b := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"555","endpointType":"extension"}`); code != 200 {
		t.Fatalf("call with endpointType extension: %d %s", code, b)
	}
	expect(t, sock, "callWebrtc", func(n string) bool { return n == "555" })
}

// Desk phones with a remote-control address are driven over their HTTP interface.
// fakePhones records what the CTI asks desk phones to do (httpPhones, the
// real one, is tested against an HTTP server speaking the vendors' URLs).
type fakePhones struct {
	dialled, held []string
	dialErr       error
}

func (f *fakePhones) Dial(_ context.Context, dev, num string) error {
	f.dialled = append(f.dialled, dev+":"+num)
	return f.dialErr
}
func (f *fakePhones) Answer(context.Context, string) error { return errNoPhoneControl }
func (f *fakePhones) Hold(_ context.Context, dev string) error {
	f.held = append(f.held, dev)
	return nil
}
func (f *fakePhones) Controls(context.Context, string) bool { return true }
func (f *fakePhones) ActionURL(_ context.Context, dev, action, num string) (string, bool) {
	return "http://admin:pw@phone-" + dev + "/" + action + "?n=" + num, true
}

func TestClickToCallDeskPhoneHTTP(t *testing.T) {
	e := newEnv(t, nil)
	fp := &fakePhones{}
	e.svc.phones = fp
	eps := []Endpoint{{ID: "202", Type: "physical", Device: "dev-1"}}
	if _, err := e.svc.dir.UpdateUser(context.Background(), store.System, "bob", userInput{Endpoints: &eps}); err != nil {
		t.Fatal(err)
	}
	tok := e.login("bob", "bob-password")
	if code, b := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"204"}`); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if len(fp.dialled) != 1 || fp.dialled[0] != "dev-1:204" || len(e.ami.Actions()) != 0 {
		t.Fatalf("dialled %v, actions %v", fp.dialled, e.ami.Actions())
	}
}

func TestPresenceAndDND(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.socket("alice")
	tok := e.login("bob", "bob-password")
	if code, b := e.do("POST", "/webrest/user/presence", "bob", tok, `{"status":"dnd"}`); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	expect(t, alice, "extenUpdate", func(x extEv) bool { return x.Exten == "202" && x.Status == "dnd" })
	p := expect(t, alice, "userPresenceUpdate", func(m map[string]map[string]string) bool { return true })
	if p["presence"]["username"] != "bob" || p["presence"]["status"] != "dnd" {
		t.Fatalf("presence: %v", p)
	}
	acts := e.ami.Actions()
	if len(acts) != 2 || acts[0].Get("Action") != "DBPut" || acts[0].Get("Family") != "DND" || acts[0].Get("Key") != "202" ||
		acts[1].Get("Action") != "DBDel" || acts[1].Get("Family") != "CF" {
		t.Fatalf("actions: %v", acts)
	}
	if code, _ := e.do("POST", "/webrest/user/presence", "bob", tok, `{"status":"away"}`); code != 400 {
		t.Fatal("bad status accepted")
	}
	if code, _ := e.do("POST", "/webrest/user/presence", "bob", tok, `{"status":"callforward"}`); code != 400 {
		t.Fatal("callforward without a number accepted")
	}
	code, body := e.do("GET", "/webrest/user/presence", "bob", tok, "")
	if code != 200 || !bytes.Contains(body, []byte(`"dnd"`)) {
		t.Fatalf("presence: %s", body)
	}
	// State endpoints honour the profile: bob sees only his own extensions.
	code, body = e.do("GET", "/webrest/astproxy/extensions", "bob", tok, "")
	var exts map[string]any
	if code != 200 || json.Unmarshal(body, &exts) != nil || exts["202"] == nil || exts["201"] != nil {
		t.Fatalf("bob's extensions: %s", body)
	}
	if code, _ := e.do("GET", "/webrest/astproxy/queues", "bob", tok, ""); code != 403 {
		t.Fatal("bob sees queues")
	}
	atok := e.login("alice", "alice-password")
	code, body = e.do("GET", "/webrest/astproxy/extensions", "alice", atok, "")
	if code != 200 || json.Unmarshal(body, &exts) != nil || len(exts) != 4 {
		t.Fatalf("alice's extensions: %s", body)
	}
	for _, p := range []string{"/webrest/astproxy/queues", "/webrest/astproxy/trunks", "/webrest/astproxy/parkings", "/webrest/astproxy/extension/203"} {
		if code, b := e.do("GET", p, "alice", atok, ""); code != 200 {
			t.Errorf("%s: %d %s", p, code, b)
		}
	}
}

func TestCallForward(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.socket("alice")
	tok := e.login("bob", "bob-password")
	code, body := e.do("GET", "/webrest/astproxy/cfcall/unconditional/202", "bob", tok, "")
	if code != 200 || !strings.Contains(string(body), `"status":"off"`) {
		t.Fatalf("cf off: %d %s", code, body)
	}
	if code, body := e.do("POST", "/webrest/astproxy/cfcall", "bob", tok, `{"type":"unconditional","to":"tel:+39 333 1234"}`); code != 200 {
		t.Fatalf("cf set: %d %s", code, body)
	}
	expect(t, alice, "extenUpdate", func(x struct{ Exten, CF string }) bool { return x.Exten == "202" && x.CF == "00393331234" })
	code, body = e.do("GET", "/webrest/astproxy/cfcall/unconditional/202", "bob", tok, "")
	if code != 200 || !strings.Contains(string(body), `"to":"00393331234"`) {
		t.Fatalf("cf read back: %d %s", code, body)
	}
	for _, bad := range []struct {
		body string
		code int
	}{
		{`{"type":"sometimes","to":"1"}`, 400},
		{`{"type":"busy","endpoint":"203","to":"1"}`, 403},
		{`{"type":"busy","to":"abc"}`, 400},
	} {
		if code, _ := e.do("POST", "/webrest/astproxy/cfcall", "bob", tok, bad.body); code != bad.code {
			t.Errorf("%s: %d, want %d", bad.body, code, bad.code)
		}
	}
	if code, _ := e.do("POST", "/webrest/astproxy/cfcall", "bob", tok, `{"type":"unconditional","to":""}`); code != 200 {
		t.Fatal("cf off")
	}
	if _, body := e.do("GET", "/webrest/astproxy/cfcall/unconditional/202", "bob", tok, ""); !strings.Contains(string(body), `"status":"off"`) {
		t.Fatalf("cf still on: %s", body)
	}
}

// "auth-exp: no-exp" makes the login token non-expiring, and it survives a restart.
func TestNoExpLogin(t *testing.T) {
	e := newEnv(t, nil)
	req, _ := http.NewRequest("POST", e.srv.URL+"/webrest/authentication/login", strings.NewReader(`{"username":"carol","password":"carol-password"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("auth-exp", "no-exp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce := strings.TrimPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
	tok := Token("carol", "carol-password", nonce)
	now := time.Now()
	e.svc.grants.mu.Lock()
	e.svc.grants.now = func() time.Time { return now }
	e.svc.grants.mu.Unlock()
	now = now.Add(48 * time.Hour)
	if code, _ := e.do("GET", "/webrest/user/me", "carol", tok, ""); code != 200 {
		t.Fatalf("no-exp token after 48 h: %d", code)
	}
	e.svc.grants = newGrants(time.Minute) // a restart
	if code, _ := e.do("GET", "/webrest/user/me", "carol", tok, ""); code != 200 {
		t.Fatalf("no-exp token after a restart: %d", code)
	}
	// A password change (any path: API, CLI, restore) revokes it; so does disabling.
	pw := "carol-new-password"
	if _, err := e.svc.dir.UpdateUser(t.Context(), store.System, "carol", userInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("GET", "/webrest/user/me", "carol", tok, ""); code != 401 {
		t.Fatalf("token after password change: %d", code)
	}
}

func TestDisableRevokes(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.login("dave", "dave-password")
	sock := e.socket("dave")
	yes := true
	if _, err := e.svc.dir.UpdateUser(t.Context(), store.System, "dave", userInput{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("GET", "/webrest/user/me", "dave", tok, ""); code != 401 {
		t.Fatalf("disabled user's token: %d", code)
	}
	select {
	case <-sock.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("disabled user's socket still open")
	}
}
