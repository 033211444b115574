package main

// The web console driven by a real browser (Debian's chromium, headless, through
// chromedp) against the real daemon: log in, add an account and a device, see a
// bad MAC refused, adopt an unknown phone, read and verify the audit log, and see
// an auditor get a read-only console.

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"
)

func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWith(t)
}

// browserWith starts chromium with extra options (flags) besides the usual.
func browserWith(t *testing.T, extra ...cdp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (CI installs Debian's chromium from .ci/run)")
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
	opts = append(opts, extra...)
	actx, cancel := cdp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := cdp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := cdp.Do(ctx, cdp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// step runs browser steps with a deadline, failing the test with a screenshot path.
func step(t *testing.T, ctx context.Context, what string, steps ...cdp.Action[cdp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cdp.Do(sctx, steps...); err != nil {
		shot := screenshot(t, ctx)
		t.Fatalf("%s: %v (screenshot %s)", what, err, shot)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := cdp.Run(sctx, cdp.Text(cdp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v (screenshot %s)", sel, err, screenshot(t, ctx))
	}
	return s
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := cdp.Run(ctx, cdp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// screenshot saves the page for a person to look at: SWITCHBOARD_SCREENSHOTS
// names a directory to keep them in, else they go to the test's temp dir.
func screenshot(t *testing.T, ctx context.Context) string {
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
	f, err := os.CreateTemp(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-*.png")
	if err != nil {
		return "(none)"
	}
	f.Write(b)
	f.Close()
	return f.Name()
}

// shotForPeople keeps a screenshot when SWITCHBOARD_SCREENSHOTS asks for them.
func shotForPeople(t *testing.T, ctx context.Context) {
	if os.Getenv("SWITCHBOARD_SCREENSHOTS") != "" {
		t.Logf("screenshot: %s", screenshot(t, ctx))
	}
}

func TestWebConsole(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	d.addAdmin("ops", "correct horse battery")
	// An unconfigured Yealink asks for its file: it lands on the unknown list.
	req, _ := http.NewRequest("GET", "http://"+d.plain+"/provisioning/001565aabbcc.cfg", nil)
	req.Header.Set("User-Agent", "Yealink SIP-T46U 108.86.0.20 00:15:65:aa:bb:cc")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown phone's request: %v %v", resp, err)
	}

	ctx := browser(t)
	base := "https://" + d.https + "/"
	step(t, ctx, "login page", cdp.Navigate(base), cdp.WaitVisible(cdp.CSS("#login")))
	step(t, ctx, "wrong password",
		cdp.SendKeys(cdp.CSS(`#login input[name=username]`), "ops"),
		cdp.SendKeys(cdp.CSS(`#login input[name=password]`), "wrong"),
		cdp.Click(cdp.CSS("#login button[type=submit]")), cdp.WaitVisible(cdp.CSS("#login .msg.error")))
	if s := text(t, ctx, "#login .msg.error"); !strings.Contains(s, "password") {
		t.Errorf("wrong password message: %q", s)
	}
	step(t, ctx, "log in",
		cdp.SetValue(cdp.CSS(`#login input[name=password]`), "correct horse battery"),
		cdp.Click(cdp.CSS("#login button[type=submit]")), cdp.WaitVisible(cdp.CSS("#status")))
	if rev := text(t, ctx, "#revision"); rev == "" || rev == "0" {
		t.Errorf("overview revision: %q", rev)
	}
	if who := text(t, ctx, "header .who"); !strings.Contains(who, "ops") {
		t.Errorf("header user: %q", who)
	}

	step(t, ctx, "add an account", cdp.Navigate(base+"#/accounts"), cdp.WaitVisible(cdp.CSS("#add-account")),
		cdp.SendKeys(cdp.CSS(`#add-account input[name=extension]`), "301"),
		cdp.SendKeys(cdp.CSS(`#add-account input[name=display_name]`), "Grace Hopper"),
		cdp.Click(cdp.CSS("#add-account button[type=submit]")), cdp.WaitVisible(cdp.CSS(`#accounts tr[data-extension="301"]`)))

	// A malformed MAC is refused with the field marked, and nothing is created.
	step(t, ctx, "bad MAC", cdp.Navigate(base+"#/devices"), cdp.WaitVisible(cdp.CSS("#add-device")),
		cdp.SendKeys(cdp.CSS(`#add-device input[name=mac]`), "00:15:65:zz:02:03"),
		cdp.SetValue(cdp.CSS(`#add-device select[name=model]`), "yealink-t54w"),
		cdp.Click(cdp.CSS("#add-device button[type=submit]")), cdp.WaitVisible(cdp.CSS(`#add-device input[name=mac].bad`)))
	if s := text(t, ctx, ".msg.error"); !strings.Contains(s, "malformed MAC") {
		t.Errorf("bad MAC message: %q", s)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#devices tr[data-mac]").length`); n != 0 {
		t.Errorf("a refused device is listed (%d rows)", n)
	}
	eval[cdp.Void](t, ctx, `(() => { const s = document.querySelector('#add-device select[name=account]');
		s.value = [...s.options].find(o => o.textContent.startsWith("301")).value; })()`)
	step(t, ctx, "add a device",
		cdp.SetValue(cdp.CSS(`#add-device input[name=mac]`), "00:15:65:01:02:03"),
		cdp.SendKeys(cdp.CSS(`#add-device input[name=notes]`), `<img src=x id=injected>`),
		cdp.Click(cdp.CSS("#add-device button[type=submit]")), cdp.WaitVisible(cdp.CSS(`#devices tr[data-mac="001565010203"]`)))
	if row := text(t, ctx, `#devices tr[data-mac="001565010203"]`); !strings.Contains(row, "001565010203.cfg") || !strings.Contains(row, "Grace Hopper") {
		t.Errorf("device row: %q", row)
	}
	// API data is shown as text: markup in a device's notes stays markup.
	if !strings.Contains(text(t, ctx, `#devices tr[data-mac="001565010203"]`), "<img src=x id=injected>") ||
		eval[int](t, ctx, `document.querySelectorAll("#injected").length`) != 0 {
		t.Error("a device's notes were parsed as HTML")
	}
	resp, err := http.Get("http://" + d.plain + "/provisioning/001565010203.cfg")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Grace Hopper") {
		t.Errorf("the device added in the console is not served: %d %q", resp.StatusCode, body)
	}

	shotForPeople(t, ctx)
	step(t, ctx, "unknown list", cdp.Navigate(base+"#/unknown"), cdp.WaitVisible(cdp.CSS(`#unknown tr[data-mac="001565AABBCC"]`)))
	shotForPeople(t, ctx)
	if row := text(t, ctx, `#unknown tr[data-mac="001565AABBCC"]`); !strings.Contains(row, "yealink-t46u") {
		t.Errorf("unknown row without the model guess: %q", row)
	}
	step(t, ctx, "adopt",
		cdp.SetValue(cdp.CSS(`#unknown form[data-mac="001565AABBCC"] select[name=account_extension]`), "301"),
		cdp.Click(cdp.CSS(`#unknown form[data-mac="001565AABBCC"] button[type=submit]`)), cdp.WaitVisible(cdp.CSS(".msg.ok")))
	if s := text(t, ctx, ".msg.ok"); !strings.Contains(s, "Adopted 001565AABBCC as yealink-t46u: 001565aabbcc.cfg") {
		t.Errorf("adopt message: %q", s)
	}

	step(t, ctx, "audit log", cdp.Navigate(base+"#/audit"), cdp.WaitVisible(cdp.CSS("#audit tbody tr[data-id]")))
	byOps := eval[int](t, ctx, `[...document.querySelectorAll("#audit tbody tr")].filter(r => r.children[2].textContent === "ops").length`)
	if byOps != 3 {
		t.Errorf("audit rows by ops: %d, want 3 (account, device, adoption)", byOps)
	}
	step(t, ctx, "audit detail", cdp.Click(cdp.CSS("#audit tbody tr[data-id]")), cdp.WaitVisible(cdp.CSS("#audit-detail pre")))
	step(t, ctx, "verify", cdp.Click(cdp.CSS("#verify")), cdp.WaitVisible(cdp.CSS(".msg.ok")))
	if s := text(t, ctx, ".msg.ok"); !strings.Contains(s, "intact") {
		t.Errorf("verify: %q", s)
	}
	shotForPeople(t, ctx)

	// Log out: the token is revoked, the login form is back.
	step(t, ctx, "log out", cdp.Click(cdp.CSS("#logout")), cdp.WaitVisible(cdp.CSS("#login")))
	if tok := eval[string](t, ctx, `sessionStorage.getItem("sb.token") || ""`); tok != "" {
		t.Error("token kept after logout")
	}

	// An auditor sees the same pages without a single write control.
	if out, e, code := d.cli("watch it all\n", "user", "add", "eve", "--role", "auditor", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s %s", out, e)
	}
	step(t, ctx, "auditor login",
		cdp.SetValue(cdp.CSS(`#login input[name=username]`), "eve"),
		cdp.SetValue(cdp.CSS(`#login input[name=password]`), "watch it all"),
		cdp.Click(cdp.CSS("#login button[type=submit]")), cdp.WaitVisible(cdp.CSS("header .who")),
		cdp.Navigate(base+"#/devices"), cdp.WaitVisible(cdp.CSS(`#devices tr[data-mac="001565010203"]`)))
	if n := eval[int](t, ctx, `document.querySelectorAll("main form, main button.danger").length`); n != 0 {
		t.Errorf("auditor console shows %d write controls", n)
	}
}

// TestWebConsoleHeaders: the console is served with a strict policy, and only
// its own files exist.
func TestWebConsoleHeaders(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	get := func(method, path string) *http.Response {
		req, _ := http.NewRequest(method, "https://"+d.https+path, nil)
		resp, err := insecure.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	r := get("GET", "/")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") || r.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("/: %d %v", r.StatusCode, r.Header)
	}
	if r := get("GET", "/ui/app.js"); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") || r.Header.Get("ETag") == "" {
		t.Errorf("/ui/app.js: %d %v", r.StatusCode, r.Header)
	}
	for _, p := range []string{"/ui/../webui.go", "/ui/nope.js", "/admin", "/ui/"} {
		if r := get("GET", p); r.StatusCode != 404 {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
	}
	if r := get("POST", "/"); r.StatusCode != 405 {
		t.Errorf("POST /: %d", r.StatusCode)
	}
}
