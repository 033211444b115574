package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// phoneServer plays a desk phone's web interface on 127.0.0.1, with basic auth.
type phoneServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits []string
}

func newPhone(t *testing.T) *phoneServer {
	p := &phoneServer{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, pw, ok := r.BasicAuth()
		if !ok || u != "admin" || pw != "phone-pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="phone"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		p.hits = append(p.hits, r.URL.RequestURI())
		p.mu.Unlock()
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *phoneServer) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.hits) == 0 {
		return ""
	}
	return p.hits[len(p.hits)-1]
}

var macs int

func addDevice(t *testing.T, st *store.Store, id, model, addr string, port int, pw string) {
	t.Helper()
	macs++
	d := provision.Device{ID: id, Tenant: "t1", MAC: fmt.Sprintf("0015650000%02X", macs), Model: model, RemoteAddress: addr, RemotePort: port, PhoneUsername: "admin", PhonePassword: pw}
	if _, err := st.Update(context.Background(), store.System, func(tx *store.Tx) error {
		return tx.Create(provision.KindDevice, "t1", id, &d, "test device")
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPhoneHTTPDial(t *testing.T) {
	e := newEnv(t, nil)
	ph := newPhone(t)
	host, portS, _ := net.SplitHostPort(ph.Listener.Addr().String())
	port, _ := strconv.Atoi(portS)
	addDevice(t, e.st, "snom1", "snom-d785", host, port, "phone-pw")
	addDevice(t, e.st, "yea1", "yealink-t33g", host, port, "phone-pw")
	addDevice(t, e.st, "fan1", "fanvil-x4", host, port, "phone-pw")
	addDevice(t, e.st, "gs1", "grandstream-gxp", host, port, "phone-pw")
	addDevice(t, e.st, "noaddr", "snom-d785", "", 0, "phone-pw")
	addDevice(t, e.st, "badpw", "snom-d785", host, port, "wrong")
	ctx := context.Background()
	p := &httpPhones{st: e.st, log: testLogger(t)}
	for dev, want := range map[string]string{
		"snom1": "/command.htm?number=%2B39061",
		"yea1":  "/servlet?key=number=%2B39061",
		"fan1":  "/cgi-bin/ConfigManApp.com?key=number=%2B39061",
	} {
		if err := p.Dial(ctx, dev, "+39061"); err != nil || ph.last() != want {
			t.Errorf("%s: %v, phone got %q, want %q", dev, err, ph.last(), want)
		}
	}
	for _, dev := range []string{"gs1", "noaddr", "missing"} {
		if err := p.Dial(ctx, dev, "1"); !errors.Is(err, errNoPhoneControl) {
			t.Errorf("%s: %v, want errNoPhoneControl", dev, err)
		}
	}
	if err := p.Dial(ctx, "badpw", "1"); err == nil || errors.Is(err, errNoPhoneControl) {
		t.Errorf("wrong phone password: %v", err)
	}
	if err := p.Answer(ctx, "snom1"); err != nil || ph.last() != "/command.htm?key=ENTER" {
		t.Errorf("answer: %v %q", err, ph.last())
	}

	// Through the API: bob's desk phone is the Snom; click-to-call drives it.
	eps := []Endpoint{{ID: "202", Type: "physical", Device: "snom1"}}
	if _, err := e.svc.dir.UpdateUser(ctx, store.System, "bob", userInput{Endpoints: &eps}); err != nil {
		t.Fatal(err)
	}
	tok := e.login("bob", "bob-password")
	if code, b := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"tel:204"}`); code != 200 {
		t.Fatalf("call: %d %s", code, b)
	}
	if ph.last() != "/command.htm?number=204" || len(e.ami.Actions()) != 0 {
		t.Fatalf("phone got %q, AMI %v", ph.last(), e.ami.Actions())
	}
	if code, b := e.do("POST", "/webrest/astproxy/answer", "bob", tok, `{"endpointId":"202"}`); code != 200 || ph.last() != "/command.htm?key=ENTER" {
		t.Fatalf("answer: %d %s %q", code, b, ph.last())
	}
	// A phone that cannot be driven falls back to AMI Originate.
	eps = []Endpoint{{ID: "202", Type: "physical", Device: "gs1"}}
	if _, err := e.svc.dir.UpdateUser(ctx, store.System, "bob", userInput{Endpoints: &eps}); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"205"}`); code != 200 || len(e.ami.Actions()) != 1 {
		t.Fatalf("fallback: %d %v", code, e.ami.Actions())
	}
}

func FuzzCleanNumber(f *testing.F) {
	for _, s := range []string{"tel:+39 06", "callto://201", "sip:1@x", "+1 (555)", "%2B39", "*72#", "", "tel:;", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := cleanNumber(s)
		if len(n) > 32 {
			t.Fatalf("too long: %q", n)
		}
		for _, r := range n {
			if (r < '0' || r > '9') && r != '*' && r != '#' {
				t.Fatalf("%q -> %q has %q", s, n, r)
			}
		}
	})
}

// Click-to-call from a desk phone the appliance cannot drive (its web
// interface does not answer from here) while the user's NethLink runs beside
// it: NethLink gets actionNethLink(url, "call") with the phone's own action URL
// and provisioned credentials, and Asterisk is not asked; without a NethLink
// heartbeat the call falls back to AMI Originate.
func TestClickToCallThroughNethLink(t *testing.T) {
	e := newEnv(t, nil)
	// A "phone" that accepts connections and drops them unanswered.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	addDevice(t, e.st, "far", "snom-d785", host, port, "phone-pw")
	ctx := context.Background()
	eps := []Endpoint{{ID: "202", Type: "physical", Device: "far"}}
	if _, err := e.svc.dir.UpdateUser(ctx, store.System, "bob", userInput{Endpoints: &eps}); err != nil {
		t.Fatal(err)
	}
	tok := e.login("bob", "bob-password")
	sock := e.socket("bob")

	// No NethLink yet: Asterisk calls the phone.
	if code, b := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"callto:+39 06 1234","endpointType":"extension"}`); code != 200 {
		t.Fatalf("call: %d %s", code, b)
	}
	if acts := e.ami.Actions(); len(acts) != 1 || acts[0].Get("Action") != "Originate" || acts[0].Get("Exten") != "0039061234" {
		t.Fatalf("AMI: %v", acts)
	}

	if code, b := e.do("POST", "/webrest/user/nethlink", "bob", tok, `{"extension":"202"}`); code != 200 {
		t.Fatalf("nethlink heartbeat: %d %s", code, b)
	}
	if code, b := e.do("POST", "/webrest/astproxy/call", "bob", tok, `{"number":"tel:204","endpointType":"extension"}`); code != 200 || !strings.Contains(string(b), "NethLink") {
		t.Fatalf("call: %d %s", code, b)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ev, err := sock.Wait(wctx, "actionNethLink")
	if err != nil {
		t.Fatal(err)
	}
	var link, kind string
	if len(ev.Args) != 2 || json.Unmarshal(ev.Args[0], &link) != nil || json.Unmarshal(ev.Args[1], &kind) != nil {
		t.Fatalf("actionNethLink args: %s", ev.Args)
	}
	if want := "http://admin:phone-pw@" + ln.Addr().String() + "/command.htm?number=204"; link != want || kind != "call" {
		t.Fatalf("actionNethLink(%q, %q), want (%q, call)", link, kind, want)
	}
	if n := len(e.ami.Actions()); n != 1 {
		t.Fatalf("%d AMI actions, want the first call's only", n)
	}
}
