package main

// The real @nethesis/phone-island widget (npm, pinned in
// cti/testdata/phone-island) in Chromium against "switchboard serve" with the
// AMI double: it picks its legacy mode (/webrest, user:token, /socket.io),
// logs in, loads the user and the extensions, hears presence changes, places
// a call through /astproxy/call, and its socket stays up for a minute: every
// application ping acknowledged, no reconnection.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/internal/needs"
)

// bundlePhoneIsland builds the test page's script with esbuild (npm, in the
// same folder): phone-island's published dist with React.
func bundlePhoneIsland(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "cti", "testdata", "phone-island"))
	esbuild := filepath.Join(dir, "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		needs.Missing(t, "phone-island is not installed: run 'npm ci' in cti/testdata/phone-island (.ci/run does)")
	}
	out := t.TempDir()
	cmd := exec.Command(esbuild, "entry.jsx", "--bundle", "--outdir="+out, "--platform=browser", "--format=iife",
		"--define:process.env.NODE_ENV=\"production\"", "--define:global=window", "--log-level=error")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, b)
	}
	return out
}

type islandEvent struct {
	Name   string          `json:"name"`
	Detail json.RawMessage `json:"detail"`
	At     int64           `json:"at"`
}

func TestPhoneIslandWidget(t *testing.T) {
	bundle := bundlePhoneIsland(t)
	ami, err := amitest.Start("sb", "amipw")
	if err != nil {
		t.Fatal(err)
	}
	defer ami.Close()
	for _, e := range []string{"201", "202", "9201"} {
		ami.SetEndpoint(e, "Not in use")
	}
	// The PBX places the call the widget asks for: the desk phone rings, is
	// answered and dials 202.
	var sc amitest.Script
	ami.OnAction(func(a amitest.Fields) []amitest.Fields {
		if a.Get("Action") != "Originate" {
			return nil
		}
		own := sc.NewChan("201", "201", "Alice", nil)
		own.Uniqueid, own.Linkedid = a.Get("ChannelId"), a.Get("ChannelId")
		dst := sc.NewChan(a.Get("Exten"), a.Get("Exten"), "Bob", own)
		out := []amitest.Fields{sc.Newchannel(own), amitest.DeviceState("201", "INUSE")}
		own.State = 6
		out = append(out, amitest.M("Event", "OriginateResponse", "ActionID", a.Get("ActionID"), "Response", "Success", "Channel", own.Name,
			"Reason", "4", "Uniqueid", own.Uniqueid))
		out = append(out, sc.Dial(own, dst, "PJSIP/"+a.Get("Exten"))...)
		return out
	})
	d := newDaemon(t, fmt.Sprintf("cti:\n  enabled: true\n  bcrypt_cost: 4\n  ami:\n    address: %q\n    username: sb\n    secret: amipw\n", ami.Addr()))
	d.start()
	for _, args := range [][]string{
		{"cti", "profile", "set", "operator", "--macro", "presence_panel=on", "--macro", "operator_panel=on", "--perm", "operator_panel.ad_phone=on"},
		{"cti", "user", "add", "alice", "--extension", "201", "--endpoint", "201:physical", "--endpoint", "9201:webrtc", "--default-device", "201", "--profile", "operator", "--name", "Alice", "--password-stdin"},
		{"cti", "user", "add", "bob", "--extension", "202", "--endpoint", "202:physical", "--profile", "operator", "--name", "Bob", "--password-stdin"},
	} {
		if out, errOut, code := d.cli("island-password\n", args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, errOut)
		}
	}
	// NethLink's way: log in, then ask for the non-expiring phone-island token
	// the widget is given.
	resp, err := insecure.Post("https://"+d.https+"/webrest/authentication/login", "application/json", strings.NewReader(`{"username":"alice","password":"island-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce, _ := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
	req, _ := http.NewRequest("POST", "https://"+d.https+"/webrest/authentication/phone_island_token_login", strings.NewReader("{}"))
	req.Header.Set("Authorization", "alice:"+cti.Token("alice", "island-password", nonce))
	req.Header.Set("Content-Type", "application/json")
	resp, err = insecure.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pit struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&pit) // checked below
	resp.Body.Close()
	if pit.Token == "" {
		t.Fatalf("phone_island_token_login: %d", resp.StatusCode)
	}

	// The widget's data config has no room for a port (host:user:token:...):
	// it reaches https://switchboard.test, which Chromium maps to the daemon.
	const host = "switchboard.test"
	cfg := base64.StdEncoding.EncodeToString([]byte(strings.Join([]string{host, "alice", pit.Token, "9201", "unused-secret", host, "443"}, ":")))
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/entry.css"></head>
<body><div id="root"></div><script>window.PHONE_ISLAND_CONFIG = %q;</script><script src="/entry.js"></script></body></html>`, cfg)
			return
		}
		http.ServeFile(w, r, filepath.Join(bundle, filepath.Base(r.URL.Path)))
	}))
	defer page.Close()

	ctx := islandBrowser(t, cdp.Flag("host-resolver-rules", "MAP "+host+":443 "+d.https),
		// No camera or microphone here: let WebRTC fail quietly.
		cdp.Flag("use-fake-ui-for-media-stream", true), cdp.Flag("use-fake-device-for-media-stream", true))
	if err := islandRun(ctx, cdp.Navigate(page.URL+"/")); err != nil {
		t.Fatalf("open the test page: %v", err)
	}
	events := func() []islandEvent {
		raw := islandEval[string](t, ctx, `JSON.stringify(window.__events || [])`)
		var evs []islandEvent
		json.Unmarshal([]byte(raw), &evs) // an empty list then
		return evs
	}
	waitFor := func(what string, ok func(islandEvent) bool) islandEvent {
		t.Helper()
		// Generous: the first wait includes Chromium loading a 1.7 MB bundle
		// on a loaded machine.
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			for _, ev := range events() {
				if ok(ev) {
					return ev
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		var names []string
		for _, ev := range events() {
			names = append(names, ev.Name)
		}
		t.Fatalf("phone-island: no %s (events: %v; screenshot %s)\n%s", what, names, islandShot(t, ctx), tailLog(d.stderr.String()))
		return islandEvent{}
	}
	named := func(n string) func(islandEvent) bool { return func(ev islandEvent) bool { return ev.Name == n } }

	waitFor("socket authorized", named("phone-island-socket-authorized"))
	user := waitFor("user informations", named("phone-island-user-informations-update"))
	var me struct {
		Username      string                    `json:"username"`
		DefaultDevice struct{ ID, Type string } `json:"default_device"`
	}
	if json.Unmarshal(user.Detail, &me) != nil || me.Username != "alice" || me.DefaultDevice.Type != "physical" {
		t.Fatalf("user informations: %s", user.Detail)
	}
	// Presence: Bob's phone gets busy; the widget hears his extension and his
	// main presence.
	ami.Emit(amitest.DeviceState("202", "INUSE"))
	waitFor("Bob's extension busy", func(ev islandEvent) bool {
		var x map[string]struct{ Exten, Status, Username string } // {username: extension}
		return ev.Name == "phone-island-extensions-update" && json.Unmarshal(ev.Detail, &x) == nil &&
			x["bob"].Exten == "202" && x["bob"].Status == "busy" && x["bob"].Username == "bob"
	})
	waitFor("Bob's main presence busy", func(ev islandEvent) bool {
		return ev.Name == "phone-island-main-presence" && strings.Contains(string(ev.Detail), `"bob"`) && strings.Contains(string(ev.Detail), `"busy"`)
	})
	ami.Emit(amitest.DeviceState("202", "NOT_INUSE"))

	// A call from the widget: it posts /astproxy/call, the PBX calls from the
	// desk phone, and the widget sees its own conversation.
	islandEval[bool](t, ctx, `window.dispatchEvent(new CustomEvent('phone-island-call-start', {detail: {number: '202'}}))`)
	deadline := time.Now().Add(15 * time.Second)
	for !originated(ami, "PJSIP/201", "202") {
		if time.Now().After(deadline) {
			t.Fatalf("no Originate from the widget's call: %v\n%s", ami.Actions(), tailLog(d.stderr.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor("alice's conversation", func(ev islandEvent) bool {
		return ev.Name == "phone-island-conversations" && strings.Contains(string(ev.Detail), `"counterpartNum":"202"`)
	})

	// A minute with the socket up: pings acknowledged, no reconnection.
	start := time.Now()
	time.Sleep(time.Minute)
	var acks int
	for _, ev := range events() {
		switch ev.Name {
		case "phone-island-socket-disconnected", "phone-island-socket-reconnected", "phone-island-server-disconnected",
			"phone-island-socket-disconnected-popup-open":
			t.Fatalf("the widget's socket went down: %s at %s", ev.Name, time.UnixMilli(ev.At).Format(time.RFC3339))
		case "phone-island-alert-removed":
			if strings.Contains(string(ev.Detail), "socket_down") && time.UnixMilli(ev.At).After(start) {
				acks++ // the ping was acknowledged
			}
		}
	}
	if acks < 8 { // one ping every 5 s
		t.Fatalf("only %d ping acks in a minute", acks)
	}
	if n := strings.Count(d.stderr.String(), "msg=\"socket.io login\""); n != 1 {
		t.Fatalf("%d socket.io logins, want 1 (no reconnection)", n)
	}
	if os.Getenv("SWITCHBOARD_SCREENSHOTS") != "" {
		t.Logf("screenshot: %s", islandShot(t, ctx))
	}
}

// islandBrowser starts Debian's chromium headless (chromedp) with extra flags.
func islandBrowser(t *testing.T, extra ...cdp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		needs.Missing(t, "chromium is not installed (CI installs Debian's chromium from .ci/run)")
	}
	opts := []cdp.ExecAllocatorOption{
		cdp.ExecPath(path), cdp.Headless, cdp.NoFirstRun, cdp.NoDefaultBrowserCheck, cdp.DisableGPU,
		cdp.IgnoreCertErrors, // the daemon's own self-signed certificate
		cdp.UserDataDir(t.TempDir()), cdp.WindowSize(1280, 900),
		// This machine reaches no other host: keep chromium from trying.
		cdp.Flag("disable-background-networking", true), cdp.Flag("disable-component-update", true),
		cdp.Flag("disable-sync", true), cdp.Flag("disable-quic", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, cdp.NoSandbox)
	}
	actx, cancel := cdp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	t.Cleanup(cancel)
	ctx, cancel2 := cdp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first run starts the browser and binds it to its context: a child
	// context with a deadline would end the browser with it, so a timer
	// stands in for the deadline.
	timer := time.AfterFunc(90*time.Second, cancel2)
	err = cdp.Do(ctx, cdp.Navigate("about:blank"))
	timer.Stop()
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// islandRun runs browser actions with a deadline (generous: a loaded machine).
func islandRun(ctx context.Context, actions ...cdp.Action[cdp.Void]) error {
	sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return cdp.Do(sctx, actions...)
}

func islandEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := cdp.Run(sctx, cdp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// islandShot saves the page for a person to look at (SWITCHBOARD_SCREENSHOTS
// names a directory to keep them in).
func islandShot(t *testing.T, ctx context.Context) string {
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := cdp.Run(sctx, cdp.CaptureScreenshot())
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	f, err := os.CreateTemp(dir, "phone-island-*.png")
	if err != nil {
		return "(none)"
	}
	f.Write(b)
	f.Close()
	return f.Name()
}

// originated reports whether the double got an Originate from channel to exten.
func originated(ami *amitest.Server, channel, exten string) bool {
	for _, a := range ami.Actions() {
		if a.Get("Action") == "Originate" && a.Get("Channel") == channel && a.Get("Exten") == exten {
			return true
		}
	}
	return false
}

func tailLog(s string) string {
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}
