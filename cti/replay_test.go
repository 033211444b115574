package cti

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/internal/needs"
	"github.com/switchboard-pbx/switchboard/phonebook"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// vendorPhone is a desk phone's HTTP interface (Yealink's action URI): it
// records the requests it gets.
type vendorPhone struct {
	mu     sync.Mutex
	reqs   []string
	srv    *httptest.Server
	onDial func(number string) // the phone places the call
}

func startVendorPhone(t *testing.T, user, pass string) *vendorPhone {
	vp := &vendorPhone{}
	vp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		vp.mu.Lock()
		vp.reqs = append(vp.reqs, r.URL.RequestURI())
		dial := vp.onDial
		vp.mu.Unlock()
		if num, ok := strings.CutPrefix(r.URL.Query().Get("key"), "number="); ok && dial != nil {
			go dial(num)
		}
	}))
	t.Cleanup(vp.srv.Close)
	return vp
}

func (vp *vendorPhone) requests() []string {
	vp.mu.Lock()
	defer vp.mu.Unlock()
	return append([]string(nil), vp.reqs...)
}

// replayEnv is an env whose PBX double behaves like Asterisk (pbxSim), with
// alice owning a provisioned desk phone (201, HTTP control), a web phone
// (9201) and NethLink (8201) whose SIP accounts are provisioned.
func replayEnv(t *testing.T) (*env, *vendorPhone) {
	e := newEnv(t, nil)
	e.ami.AddParkingLot("default", 701, 705, 45)
	if err := e.svc.resyncAll(context.Background()); err != nil { // reads the lot
		t.Fatal(err)
	}
	sim := newPBXSim(map[string]string{"201": "Alice", "202": "Bob", "203": "Carol", "204": "Dave"})
	e.ami.OnAction(sim.react)
	vp := startVendorPhone(t, "admin", "phone-pw")
	vp.onDial = func(num string) { e.ami.EmitAll(sim.phoneDials("201", num)...) }
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(vp.srv.URL, "http://"))
	p, _ := strconv.Atoi(port)
	ctx := context.Background()
	if _, err := e.st.Update(ctx, store.System, func(tx *store.Tx) error {
		for _, a := range []provision.Account{
			{ID: "acc-9201", Tenant: "default", Extension: "9201", SIPUsername: "9201", SIPPassword: "webrtc-secret-9201"},
			{ID: "acc-8201", Tenant: "default", Extension: "8201", SIPUsername: "8201", SIPPassword: "nethlink-secret-8201"},
			{ID: "acc-9202", Tenant: "default", Extension: "9202", SIPUsername: "9202", SIPPassword: "bobs-secret-9202"},
		} {
			if err := tx.Create(provision.KindAccount, a.Tenant, a.ID, a, "account"); err != nil {
				return err
			}
		}
		return tx.Create(provision.KindDevice, "default", "dev-201", provision.Device{ID: "dev-201", Tenant: "default",
			MAC: "805EC0000201", Model: "yealink-t46u", Enabled: true, PhoneUsername: "admin", PhonePassword: "phone-pw",
			RemoteAddress: host, RemotePort: p, Account: "acc-201"}, "device")
	}); err != nil {
		t.Fatal(err)
	}
	eps := []Endpoint{{ID: "201", Type: "physical", Device: "dev-201"}, {ID: "9201", Type: "webrtc"}, {ID: "8201", Type: "nethlink"}}
	groups := []string{"Sales"}
	if _, err := e.svc.dir.UpdateUser(ctx, store.System, "alice", userInput{Endpoints: &eps, Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.dir.UpdateUser(ctx, store.System, "bob", userInput{Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	day := time.Now().Format("2006-01-02")
	e.ami.Emit(cdrEvent("1.1", "201", "202", `"Alice" <201>`, day+" 09:00:00", 60, 55, "ANSWERED"))
	// The appliance's phonebook on the CTI, as switchboard serve mounts it.
	book, err := phonebook.New(ctx, phonebook.DefaultConfig(), testLogger(t), e.st, oneTenant("default"))
	if err != nil {
		t.Fatal(err)
	}
	if err := book.MountCTI(func(pattern string, h phonebook.UserHandler) error {
		return e.svc.Mount(pattern, func(w http.ResponseWriter, r *http.Request, c Caller) error {
			return h(w, r, phonebook.User{Username: c.Username, IP: c.IP, Profile: c})
		})
	}); err != nil {
		t.Fatal(err)
	}
	return e, vp
}

// oneTenant resolves every tenant reference to one tenant id.
type oneTenant string

func (o oneTenant) ResolveTenant(context.Context, string) (string, error) { return string(o), nil }

// runNode runs a script of cti/testdata and returns its JSON lines.
func runNode(t *testing.T, script string, args ...string) ([]map[string]json.RawMessage, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		needs.Missing(t, "node is not installed (.ci/run installs it with npm)")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "socket.io-client")); err != nil {
		needs.Missing(t, "socket.io-client missing: run 'npm ci' in cti/testdata (.ci/run does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("testdata", script)}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]json.RawMessage
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines, cmd.Wait()
}

// The request and event sequences of NethLink and phone-island, replayed by
// a Node script of ours (cti/testdata/replay.js) against the CTI whose PBX
// behaves like Asterisk: every field those clients read is checked.
func TestReplayNethLinkAndPhoneIsland(t *testing.T) {
	e, vp := replayEnv(t)
	lines, err := runNode(t, "replay.js", e.srv.URL, "alice", "alice-password")
	checks, failed := 0, 0
	for _, l := range lines {
		if os.Getenv("REPLAY_DEBUG") != "" {
			b, _ := json.Marshal(l)
			t.Logf("%.300s", b)
		}
		if _, ok := l["check"]; !ok {
			continue
		}
		checks++
		if string(l["ok"]) == "false" {
			failed++
			t.Errorf("%s: %s", l["check"], l["detail"])
		}
	}
	if err != nil && failed == 0 {
		t.Fatalf("replay.js: %v", err)
	}
	if checks < 70 {
		t.Fatalf("only %d checks ran", checks)
	}
	t.Logf("%d checks", checks)
	// Click-to-call and hold went to the desk phone's own HTTP interface.
	held, dialled := false, false
	for _, r := range vp.requests() {
		held = held || r == "/servlet?key=F_HOLD"
		dialled = dialled || r == "/servlet?key=number=202"
	}
	if !held || !dialled {
		t.Fatalf("the desk phone was not driven over HTTP: %v", vp.requests())
	}
	// DTMF was played into the call, as if the phone had sent it.
	dtmf := false
	for _, a := range e.ami.Actions() {
		dtmf = dtmf || (a.Get("Action") == "PlayDTMF" && a.Get("Receive") == "true" && a.Get("Digit") == "5")
	}
	if !dtmf {
		t.Fatal("no PlayDTMF with Receive")
	}
	_ = M
}
