package cti

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/cti/siotest"
	"github.com/switchboard-pbx/switchboard/store"
)

// env is a running CTI service against the AMI double, served over plain HTTP
// on 127.0.0.1.
type env struct {
	t   *testing.T
	svc *Service
	ami *amitest.Server
	srv *httptest.Server
	st  *store.Store

	clockMu sync.Mutex
	skew    time.Duration // how far the service's debounce clock is ahead
}

// advance moves the service's FullyBooted debounce clock forward.
func (e *env) advance(d time.Duration) {
	e.clockMu.Lock()
	e.skew += d
	e.clockMu.Unlock()
}

func testConfig(ami *amitest.Server) Config {
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.AMI.Address = ami.Addr()
	cfg.AMI.Username, cfg.AMI.Secret = "switchboard", "amisecret"
	cfg.AMI.MinBackoff, cfg.AMI.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	cfg.AMI.ActionTimeout = 3 * time.Second
	cfg.BcryptCost = 4
	cfg.Trunks = []string{"provider1"}
	cfg.SocketBurst = 1000
	cfg.OriginateWait = 300 * time.Millisecond
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("CTI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	ami, err := amitest.Start("switchboard", "amisecret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ami.Close)
	for _, e := range []string{"201", "202", "203", "204"} {
		ami.SetEndpoint(e, "Not in use")
	}
	ami.SetEndpoint("provider1", "Not in use")
	ami.AddQueue("401")
	st, err := store.Open(context.Background(), store.DefaultConfig(filepath.Join(t.TempDir(), "db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := testConfig(ami)
	if tweak != nil {
		tweak(&cfg)
	}
	svc, err := New(cfg, testLogger(t), st)
	if err != nil {
		t.Fatal(err)
	}
	e0 := &env{t: t}
	svc.now = func() time.Time {
		e0.clockMu.Lock()
		defer e0.clockMu.Unlock()
		return time.Now().Add(e0.skew)
	}
	// Commits reach the service as serve's component runner delivers them.
	t.Cleanup(st.Subscribe(svc.Commit))
	e := e0
	e.svc, e.ami, e.st = svc, ami, st
	ctx := context.Background()
	for _, p := range []Profile{
		{ID: "operator", MacroPermissions: map[string]Macro{
			"presence_panel": {Value: true},
			"operator_panel": {Value: true, Permissions: []Permission{{"hangup", true}, {"transfer", true}, {"ad_parking", true}, {"spy", true}, {"intrude", true}, {"pickup", true}, {"ad_recording", true}, {"ad_phone", true}}},
			"queue_agent":    {Value: true},
		}},
		{ID: "basic", MacroPermissions: map[string]Macro{
			// The macro is off, so its permissions do not hold.
			"operator_panel": {Value: false, Permissions: []Permission{{"hangup", true}}},
		}},
	} {
		if _, err := svc.dir.PutProfile(ctx, store.System, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct{ name, ext, prof string }{{"alice", "201", "operator"}, {"bob", "202", "basic"}, {"carol", "203", "basic"}, {"dave", "204", "basic"}} {
		name, pw, ext, prof := u.name, u.name+"-password", u.ext, u.prof
		display := strings.ToUpper(name[:1]) + name[1:]
		eps := []Endpoint{{ID: ext, Type: "physical"}, {ID: "9" + ext, Type: "webrtc"}}
		if _, err := svc.dir.CreateUser(ctx, store.System, userInput{Username: &name, Password: &pw, Name: &display,
			MainExtension: &ext, Endpoints: &eps, Profile: &prof}); err != nil {
			t.Fatal(err)
		}
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Serve(sctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.srv = httptest.NewServer(svc.Handler())
	t.Cleanup(e.srv.Close)
	e.waitResync()
	return e
}

func (e *env) waitResync() {
	e.t.Helper()
	select {
	case <-e.svc.synced:
	case <-time.After(5 * time.Second):
		e.t.Fatal("no AMI re-sync within 5 s")
	}
}

func (e *env) drainResync() {
	select {
	case <-e.svc.synced:
	default:
	}
}

// login performs the nethcti login dance and returns the token.
func (e *env) login(user, password string) string {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/webrest/authentication/login", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	nonce, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
	if resp.StatusCode != http.StatusUnauthorized || !ok || len(nonce) != 40 {
		e.t.Fatalf("login %s: status %d, WWW-Authenticate %q", user, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	return Token(user, password, nonce)
}

func (e *env) do(method, path, user, token string, body string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if user != "" {
		req.Header.Set("Authorization", user+":"+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// socket connects a socket.io client and logs user in.
func (e *env) socket(user string) *siotest.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := siotest.Dial(ctx, e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, user, e.login(user, user+"-password"), "desktop"); err != nil {
		e.t.Fatalf("socket login %s: %v", user, err)
	}
	return c
}

// expect waits for an event named name whose data satisfies ok.
func expect[T any](t *testing.T, c *siotest.Client, name string, ok func(T) bool) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var seen []string
	for {
		ev, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v (seen: %s)", name, err, strings.Join(seen, " "))
		}
		seen = append(seen, ev.Name)
		if ev.Name != name {
			continue
		}
		var v T
		if err := json.Unmarshal(ev.Data, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ok(v) {
			return v
		}
	}
}

// connected waits for extenConnected naming exten, then for the extenUpdate of
// exten whose conversation ok accepts is connected, and returns it.
func connected(t *testing.T, c *siotest.Client, exten string, ok func(extEv) bool) extEv {
	t.Helper()
	expect(t, c, "extenConnected", func(m map[string]string) bool { return m["extenConnected"] == exten })
	return expect(t, c, "extenUpdate", func(x extEv) bool {
		if x.Exten != exten || !ok(x) {
			return false
		}
		for _, cv := range x.Conversations {
			if cv.Connected {
				return true
			}
		}
		return false
	})
}

// extOf reads the model's copy of an extension.
func (e *env) extOf(x string) *model.Extension {
	e.svc.mu.Lock()
	defer e.svc.mu.Unlock()
	return e.svc.model.Extensions()[x]
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
