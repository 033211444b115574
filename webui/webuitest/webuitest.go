// Package webuitest drives the web console in a real browser for tests: it
// builds and starts the real daemon (switchboard serve), starts Debian's
// chromium headless through chromedp, and gives each test an isolated page
// (its own browser context: storage, token) with helpers that wait for
// conditions rather than sleep, so the tests hold on a loaded machine.
//
// A panel's test typically does:
//
//	env := webuitest.Shared(t)                   // one daemon and one browser for the package
//	ten := env.NewTenant(t)                       // its own tenant
//	p, u := env.Page(t, "en", "admin", ten)       // a page logged in as a fresh admin, on ten
//	p.Go("devices/new")                           // waits until the page is shown
//	p.Fill("#device-form", "mac", "00:15:65:01:02:03")
//	p.Submit("#device-form")
//	p.Reshown("devices")                          // the page the save navigated to
//	p.WaitVisible(`#devices tr[data-mac="001565010203"]`)
//	p.Shot("devices")                             // kept when SWITCHBOARD_SCREENSHOTS=DIR
//	rows := env.AuditRows(t, "object_type=device&user="+u.Name)
//
// The package's TestMain calls StopShared. StartDaemonNS and StartBrowserNS
// run a daemon and a browser inside a network namespace (services that need
// interfaces: DHCP, PnP).
//
// Untranslated(p) lists the texts of the shown page that do not come from the
// message catalog (the page runs in check mode, see webui/static/core/i18n.js).
package webuitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/internal/nstest"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

// Timeout bounds each browser step. Generous: up to seven agents share two
// cores on the development machine, where a page load can take half a minute.
// SWITCHBOARD_BROWSER_TIMEOUT (a Go duration) overrides it.
var Timeout = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SWITCHBOARD_BROWSER_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 120 * time.Second
}()

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/switchboard once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-webuitest-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/switchboard-pbx/switchboard/cmd/switchboard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building switchboard: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Daemon is a running "switchboard serve" in its own data directory.
type Daemon struct {
	Dir    string
	Socket string
	// HTTPS is the console's host:port (bound on 127.0.0.1:0, read from the
	// daemon's "listening" log line once it is ready).
	HTTPS string
	Log   *testlog.Buffer
	// NetNS is the network namespace the daemon runs in ("" for the test's).
	NetNS  string
	cmd    *exec.Cmd
	done   chan error
	bin    string
	client *http.Client
}

var httpsRE = regexp.MustCompile(`msg=listening component=http listener=https addr=(\S+)`)

// StartDaemon starts the daemon with a configuration of fresh directories,
// listeners on free ports (port 0) and extra YAML (top-level sections)
// appended. Stop it with Stop.
func StartDaemon(bin, extra string) (*Daemon, error) { return StartDaemonNS(bin, extra, "") }

// StartDaemonNS is StartDaemon inside network namespace ns (made by
// internal/nstest): the API client of the Daemon dials into it too.
func StartDaemonNS(bin, extra, ns string) (*Daemon, error) {
	dir, err := os.MkdirTemp("", "switchboard-console-")
	if err != nil {
		return nil, err
	}
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "sb.sock"), Log: &testlog.Buffer{}, bin: bin, NetNS: ns, client: insecure}
	if ns != "" {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the daemon's own certificate
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := nstest.In(ns, func() error {
					var err error
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			}}
		d.client = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	cfg := fmt.Sprintf("data_dir: %s\nhttp:\n  listen: \"127.0.0.1:0\"\n  https_listen: \"127.0.0.1:0\"\nadmin:\n  socket: %s\n  bcrypt_cost: 4\ntftp:\n  listen: \"\"\n%s",
		filepath.Join(dir, "data"), d.Socket, extra)
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	if ns != "" {
		d.cmd = exec.Command("ip", "netns", "exec", ns, bin, "serve", "--config", cfgPath) // ip execs it: same pid
	}
	d.cmd.Stderr, d.cmd.Stdout = d.Log, d.Log
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	d.done = make(chan error, 1)
	go func() { d.done <- d.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if logs := d.Log.String(); strings.Contains(logs, "msg=ready") {
			if m := httpsRE.FindStringSubmatch(logs); m != nil {
				d.HTTPS = m[1]
				return d, nil
			}
		}
		select {
		case err := <-d.done:
			return nil, fmt.Errorf("daemon exited at start-up: %v\n%s", err, d.Log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.Stop()
	return nil, fmt.Errorf("daemon not ready after 60 s:\n%s", d.Log.String())
}

// Stop kills the daemon and removes its directory.
func (d *Daemon) Stop() {
	if d.cmd != nil && d.cmd.Process != nil && d.cmd.ProcessState == nil {
		d.cmd.Process.Kill()
		<-d.done
	}
	os.RemoveAll(d.Dir)
}

// CLI runs a CLI verb against the daemon's control socket.
func (d *Daemon) CLI(stdin string, args ...string) (stdout, stderr string, code int, err error) {
	cmd := exec.Command(d.bin, append(args, "--socket", d.Socket)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode(), nil
	}
	return o.String(), e.String(), 0, err
}

// AddUser adds a console user with the CLI (role admin, tenant_admin with
// tenant, or auditor).
func (d *Daemon) AddUser(t testing.TB, name, password, role, tenant string) {
	t.Helper()
	args := []string{"user", "add", name, "--role", role, "--password-stdin"}
	if tenant != "" {
		args = append(args, "--tenant", tenant)
	}
	out, e, code, err := d.CLI(password+"\n", args...)
	if err != nil || code != 0 {
		t.Fatalf("user add %s: %v %d %s %s", name, err, code, out, e)
	}
}

// Client talks to the daemon's HTTPS listener (its self-signed certificate).
var Client = insecure

var insecure = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the daemon's own self-signed certificate
}}

// API calls the admin API with token and decodes the JSON answer into out
// (when not nil); it returns the status.
func (d *Daemon) API(method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+d.HTTPS+"/api/v1"+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s: %w", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, nil
}

// Get fetches a URL of the daemon's HTTPS listener (not the API).
func (d *Daemon) Get(path string) (*http.Response, []byte, error) {
	resp, err := d.client.Get("https://" + d.HTTPS + path)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// Login returns a token of user.
func (d *Daemon) Login(t testing.TB, user, password string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	code, err := d.API("POST", "/login", "", map[string]string{"username": user, "password": password}, &out)
	if err != nil || code != 200 {
		t.Fatalf("login %s: %d %v", user, code, err)
	}
	return out.Token
}

// Browser is one headless chromium.
type Browser struct {
	ctx    context.Context
	cancel func()
}

// Chromium finds Debian's chromium ("" when it is not installed).
func Chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// StartBrowser starts chromium headless with a fresh profile; it never reaches
// another host.
func StartBrowser() (*Browser, error) { return StartBrowserNS("") }

// StartBrowserNS starts chromium inside network namespace ns ("" for the
// test's own): chromedp drives it over a pipe, so no port needs to cross.
func StartBrowserNS(ns string) (*Browser, error) { return startBrowser(ns, nil) }

// StartBrowserTrusting starts chromium trusting the certificates whose public
// keys are spkis (base64 SHA-256 of the SubjectPublicKeyInfo, see SPKI) as a
// real certificate is trusted, instead of ignoring every certificate error:
// Chromium then caches what those servers send, as it does for a console with
// a real certificate.
func StartBrowserTrusting(spkis ...string) (*Browser, error) { return startBrowser("", spkis) }

// SPKI is the public-key hash of the certificate served at addr (host:port),
// in the form chromium's --ignore-certificate-errors-spki-list takes.
func SPKI(addr string) (string, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // reading the certificate is the point: any certificate is accepted
	if err != nil {
		return "", err
	}
	defer c.Close()
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", fmt.Errorf("%s sent no certificate", addr)
	}
	sum := sha256.Sum256(certs[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

func startBrowser(ns string, spkis []string) (*Browser, error) {
	path := Chromium()
	if path == "" {
		return nil, fmt.Errorf("chromium is not installed (CI installs Debian's chromium from .ci/run)")
	}
	prof, err := os.MkdirTemp("", "switchboard-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []cdp.ExecAllocatorOption{
		cdp.ExecPath(path), cdp.Headless, cdp.NoFirstRun, cdp.NoDefaultBrowserCheck, cdp.DisableGPU,
		cdp.UserDataDir(prof), cdp.WindowSize(1366, 900),
		cdp.Flag("disable-background-networking", true), cdp.Flag("disable-component-update", true),
		cdp.Flag("disable-sync", true), cdp.Flag("disable-quic", true), cdp.Flag("disable-extensions", true),
		cdp.Flag("lang", "en-US"),
	}
	if len(spkis) > 0 {
		opts = append(opts, cdp.Flag("ignore-certificate-errors-spki-list", strings.Join(spkis, ",")))
	} else {
		opts = append(opts, cdp.IgnoreCertErrors) // the daemon's own self-signed certificate
	}
	if os.Geteuid() == 0 {
		opts = append(opts, cdp.NoSandbox)
	}
	if ns != "" {
		ip, err := exec.LookPath("ip")
		if err != nil {
			return nil, err
		}
		opts = append(opts, cdp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Args = append([]string{"ip", "netns", "exec", ns, cmd.Path}, cmd.Args[1:]...)
			cmd.Path = ip
		}))
	}
	actx, cancelA := cdp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := cdp.NewContext(actx)
	// The first run starts the browser and binds it to bctx itself (a child
	// context with a deadline would end the browser with it): a timer stands
	// in for the deadline.
	timer := time.AfterFunc(90*time.Second, cancelB)
	err = cdp.Do(bctx, cdp.Navigate("about:blank"))
	timer.Stop()
	if err != nil {
		cancelB()
		cancelA()
		os.RemoveAll(prof)
		return nil, fmt.Errorf("starting chromium: %w", err)
	}
	return &Browser{ctx: bctx, cancel: func() { cancelB(); cancelA(); os.RemoveAll(prof) }}, nil
}

// Close stops the browser.
func (b *Browser) Close() { b.cancel() }

// Context is the browser's chromedp context: chromedp.NewContext(b.Context(),
// chromedp.WithNewBrowserContext()) opens an isolated tab (the benchmark uses it).
func (b *Browser) Context() context.Context { return b.ctx }

// Page is one tab in its own browser context (its own localStorage).
type Page struct {
	T    *testing.T
	Base string // https://host:port/
	ctx  context.Context
	done func()
	seq  int64
}

// NewPage opens a tab on base in check mode (every catalog string marked) with
// the console in lang ("it" or "en").
func (b *Browser) NewPage(t *testing.T, base, lang string) *Page {
	t.Helper()
	ctx, cancel := cdp.NewContext(b.ctx, cdp.WithNewBrowserContext())
	p := &Page{T: t, Base: base, ctx: ctx, done: cancel}
	// The first run opens the tab and binds it to its context: run it on ctx
	// itself (a step's deadline context would close the tab when it ends).
	timer := time.AfterFunc(Timeout, cancel)
	err := cdp.Do(ctx, cdp.Navigate("about:blank"))
	timer.Stop()
	if err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.failShot()
		}
		cancel()
	})
	p.Run("open the console",
		cdp.Navigate(base),
		cdp.Evaluate[cdp.Void](fmt.Sprintf(`localStorage.setItem("sb.lang", %q); localStorage.setItem("sb.i18ncheck", "1")`, lang)),
		cdp.Navigate(base),
		cdp.WaitVisible(cdp.CSS("#app > *")))
	return p
}

// NewTab opens base in another tab of the same browser context (the same
// storage: a logged-in console stays logged in).
func (p *Page) NewTab() *Page {
	p.T.Helper()
	ctx, cancel := cdp.NewContext(p.ctx)
	q := &Page{T: p.T, Base: p.Base, ctx: ctx, done: cancel}
	timer := time.AfterFunc(Timeout, cancel)
	err := cdp.Do(ctx, cdp.Navigate(p.Base))
	timer.Stop()
	if err != nil {
		cancel()
		p.T.Fatalf("opening a second tab: %v", err)
	}
	p.T.Cleanup(cancel)
	return q
}

// Ctx is the tab's context, for chromedp calls the helpers do not cover.
func (p *Page) Ctx() context.Context { return p.ctx }

// Run runs chromedp actions with the step timeout; on failure the test stops
// with a screenshot.
func (p *Page) Run(what string, actions ...cdp.Action[cdp.Void]) {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := cdp.Do(ctx, actions...); err != nil {
		p.fail(what, err)
	}
}

func (p *Page) fail(what string, err error) {
	p.T.Helper()
	p.T.Fatalf("%s: %v (screenshot %s)\npage text: %s", what, err, p.failShot(), p.bodyText())
}

// Eval evaluates JavaScript in the page and returns its value.
func Eval[T any](p *Page, js string) T {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	v, err := cdp.Run(ctx, cdp.Evaluate[T](js, cdp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluate "+short(js), err)
	}
	return v
}

// Exec runs JavaScript for its effect.
func (p *Page) Exec(js string) {
	p.T.Helper()
	p.Run("run "+short(js), cdp.Evaluate[cdp.Void](js))
}

// Poll waits until a JavaScript expression is true.
func (p *Page) Poll(what, js string) {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if _, err := cdp.Run(ctx, cdp.Poll[bool](js, cdp.WithPollingTimeout(Timeout))); err != nil {
		p.fail(what, err)
	}
}

func (p *Page) bodyText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := cdp.Run(ctx, cdp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ""`))
	if err != nil {
		return "(unavailable)"
	}
	return strings.NewReplacer("\u2062", "", "\u2063", "").Replace(s)
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Login logs in through the login form and waits for the console.
func (p *Page) Login(user, password string) {
	p.T.Helper()
	p.Run("log in as "+user,
		cdp.WaitVisible(cdp.CSS("#login")),
		cdp.SetValue(cdp.CSS(`#login input[name=username]`), user),
		cdp.SetValue(cdp.CSS(`#login input[name=password]`), password),
		cdp.Click(cdp.CSS(`#login button[type=submit]`)),
		cdp.WaitVisible(cdp.CSS("#nav")))
	p.waitShown("")
}

// waitShown waits until the console has shown a page after sequence p.seq,
// for route (a "#/..." hash) when not empty.
func (p *Page) waitShown(route string) {
	p.T.Helper()
	// The page, and the whole menu (the other panels load after the first page).
	js := fmt.Sprintf(`(() => { const s = window.__sbShown; return !!s && s.seq > %d && (%q === "" || s.path === %q) && window.SB.complete(); })()`, p.seq, route, route)
	p.Poll("wait for page "+route, js)
	p.seq = Eval[int64](p, `window.__sbShown.seq`)
}

// Go shows route ("devices", "devices/new?x=1", "" for the start page) and
// waits until its page is up.
func (p *Page) Go(route string) {
	p.T.Helper()
	hash := "#/" + route
	p.Run("go to "+hash, cdp.Evaluate[cdp.Void](fmt.Sprintf(`window.SB.go(%q)`, hash)))
	p.waitShown(hash)
}

// Reshown waits for the next page shown (after a save that navigates, a
// search, a language switch), at route when not empty.
func (p *Page) Reshown(route string) {
	p.T.Helper()
	if route != "" {
		route = "#/" + route
	}
	p.waitShown(route)
}

// WaitVisible waits for a CSS selector to be visible.
func (p *Page) WaitVisible(sel string) {
	p.T.Helper()
	p.Run("wait for "+sel, cdp.WaitVisible(cdp.CSS(sel)))
}

// WaitGone waits until nothing matches a CSS selector.
func (p *Page) WaitGone(sel string) {
	p.T.Helper()
	p.Poll("wait for no "+sel, fmt.Sprintf(`document.querySelector(%q) === null`, sel))
}

// Click clicks the first element matching sel once it is visible.
func (p *Page) Click(sel string) {
	p.T.Helper()
	p.Run("click "+sel, cdp.WaitVisible(cdp.CSS(sel)), cdp.Click(cdp.CSS(sel)))
}

// Count is how many elements match sel now.
func (p *Page) Count(sel string) int {
	p.T.Helper()
	return Eval[int](p, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// Text is the visible text of the first element matching sel (the marks of
// check mode removed).
func (p *Page) Text(sel string) string {
	p.T.Helper()
	p.Run("text of "+sel, cdp.WaitReady(cdp.CSS(sel)))
	s := Eval[string](p, fmt.Sprintf(`document.querySelector(%q).innerText`, sel))
	return strings.NewReplacer("\u2062", "", "\u2063", "").Replace(s)
}

// Fill sets a form field (input, select or textarea by name) as a user would:
// the value, then input and change events.
func (p *Page) Fill(form, name, value string) {
	p.T.Helper()
	sel := fmt.Sprintf(`%s [name=%q]`, form, name)
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false;
		if (el.type === "checkbox") el.checked = %q === "true"; else el.value = %q;
		el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true}));
		return el.type === "checkbox" || el.value === %q; })()`, sel, value, value, value)
	p.Run("fill "+sel, cdp.WaitReady(cdp.CSS(sel)))
	if !Eval[bool](p, js) {
		p.T.Fatalf("fill %s: value %q not taken (not an option?) (screenshot %s)", sel, value, p.failShot())
	}
}

// Type types text into a field with key events (for fields that react to typing).
func (p *Page) Type(sel, text string) {
	p.T.Helper()
	p.Run("type into "+sel, cdp.WaitVisible(cdp.CSS(sel)), cdp.SendKeys(cdp.CSS(sel), text))
}

// WaitOption waits until a select offers an option with value.
func (p *Page) WaitOption(form, name, value string) {
	p.T.Helper()
	p.Poll(fmt.Sprintf("wait for option %s of %s", value, name), fmt.Sprintf(
		`[...(document.querySelector('%s [name="%s"]') || {options: []}).options].some(o => o.value === %q)`, form, name, value))
}

// Submit clicks a form's submit button.
func (p *Page) Submit(form string) {
	p.T.Helper()
	p.Click(form + ` button[type=submit]`)
}

// FieldError waits until field name of form is marked bad and returns the
// message shown under it.
func (p *Page) FieldError(form, name string) string {
	p.T.Helper()
	sel := fmt.Sprintf(`%s [name=%q][aria-invalid=true]`, form, name)
	p.WaitVisible(sel)
	s := Eval[string](p, fmt.Sprintf(`(() => { const el = document.querySelector(%q); const id = (el.getAttribute("aria-describedby") || "").split(" ").pop();
		const e = id && document.getElementById(id); return e ? e.innerText : ""; })()`, sel))
	return strings.NewReplacer("\u2062", "", "\u2063", "").Replace(s)
}

// Confirm accepts the open confirm dialog.
func (p *Page) Confirm() {
	p.T.Helper()
	p.Click("dialog[open] #confirm-ok")
}

var shotSeq atomic.Int64

// Shot saves a screenshot of the page for people when SWITCHBOARD_SCREENSHOTS
// names a directory: DIR/<test>-<name>.png.
func (p *Page) Shot(name string) {
	p.T.Helper()
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.T.Fatal(err)
	}
	p.Exec("window.scrollTo(0, 0)")
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	b, err := cdp.Run(ctx, cdp.FullScreenshot(100) /* 100: PNG */)
	if err != nil {
		p.fail("screenshot", err)
	}
	file := filepath.Join(dir, fileName(p.T.Name())+"-"+fileName(name)+".png")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		p.T.Fatal(err)
	}
}

func fileName(s string) string {
	return regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "_")
}

// failShot saves a screenshot for a failure, in SWITCHBOARD_SCREENSHOTS or the
// system's temporary directory, and returns its path.
func (p *Page) failShot() string {
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		dir = os.TempDir()
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	b, err := cdp.Run(ctx, cdp.CaptureScreenshot())
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	file := filepath.Join(dir, fmt.Sprintf("FAILED-%s-%d.png", fileName(p.T.Name()), shotSeq.Add(1)))
	if os.WriteFile(file, b, 0o644) != nil {
		return "(none)"
	}
	return file
}

// untranslatedJS lists the page's texts that are neither one whole catalog
// message (between the check-mode marks) nor data (inside [data-v]), the
// attributes people read (placeholder, title, aria-label, alt) likewise, the
// keys t() did not find, and a document title or lang out of step.
const untranslatedJS = `(() => {
  const S = "\u2062", E = "\u2063";
  // One whole message: marked from start to end; messages nested in it (a
  // translated label passed as an argument) are fine, two side by side are not.
  const whole = (s) => {
    s = s.trim();
    if (!s.startsWith(S) || !s.endsWith(E)) return false;
    let d = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === S) d++;
      else if (s[i] === E && --d === 0 && i !== s.length - 1) return false;
    }
    return d === 0;
  };
  const letters = /\p{L}/u;
  const bad = [];
  const where = (el) => { const parts = []; for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
    parts.unshift(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")); } return parts.join(">"); };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    const s = n.nodeValue;
    if (!letters.test(s.replace(/[\u2062\u2063]/g, ""))) continue;
    const el = n.parentElement;
    if (!el || el.closest("[data-v], script, style, noscript")) continue;
    if (!whole(s)) bad.push(where(el) + ": " + JSON.stringify(s.replace(/[\u2062\u2063]/g, "|")));
  }
  for (const el of document.body.querySelectorAll("[placeholder], [title], [aria-label], [alt], optgroup[label]")) {
    if (el.closest("[data-v]")) continue;
    for (const a of ["placeholder", "title", "aria-label", "alt", "label"]) {
      const s = el.getAttribute(a);
      if (s && letters.test(s) && !whole(s)) bad.push(where(el) + " @" + a + ": " + JSON.stringify(s));
    }
  }
  for (const k of window.SB.missingKeys()) bad.push("missing catalog key: " + k);
  if (!whole(document.title)) bad.push("title: " + JSON.stringify(document.title));
  return bad;
})()`

// unlabelledJS lists the form controls with no accessible name: no label (for
// or around it), aria-label or aria-labelledby.
const unlabelledJS = `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter(el => el.offsetParent !== null || el.closest("form"))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
  .map(el => (el.closest("[id]") ? el.closest("[id]").id + " " : "") + el.tagName.toLowerCase() + "[name=" + (el.name || "") + "]")`

// Unlabelled lists the page's form controls that have no accessible name.
func (p *Page) Unlabelled() []string {
	p.T.Helper()
	return Eval[[]string](p, unlabelledJS)
}

// Untranslated lists what the shown page displays that is not from the
// message catalog (see untranslatedJS).
func (p *Page) Untranslated() []string {
	p.T.Helper()
	return Eval[[]string](p, untranslatedJS)
}

// Env is a daemon and a browser shared by a package's console tests: starting
// them once keeps the tests quick; each test works in its own tenant with its
// own users, so tests do not see each other's objects.
type Env struct {
	D *Daemon
	B *Browser
	// Token is an admin's (for setting up through the API).
	Token string
	seq   atomic.Int64
}

var (
	sharedMu  sync.Mutex
	sharedEnv *Env
)

// SharedConfig is the daemon configuration of Shared: multi-tenant, with the
// vendor redirection service and the CTI on (their API and pages exist; the
// CTI's AMI is a closed loopback port: its users and profiles need none).
const SharedConfig = "tenancy:\n  mode: multi\nredirect:\n  enabled: true\n  backoff_min: 50ms\n  backoff_max: 200ms\n  timeout: 2s\n" +
	"cti:\n  enabled: true\n  bcrypt_cost: 4\n  ami:\n    address: \"127.0.0.1:9\"\n    username: console\n    secret: console-test\n"

// Shared returns the package's Env, starting it on first use (skipping the
// test when chromium is missing). The package's TestMain must call
// StopShared after m.Run.
func Shared(t *testing.T) *Env {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedEnv != nil {
		return sharedEnv
	}
	if Chromium() == "" {
		t.Skip("chromium is not installed (CI installs Debian's chromium from .ci/run)")
	}
	d, err := StartDaemon(Binary(t), SharedConfig)
	if err != nil {
		t.Fatal(err)
	}
	d.AddUser(t, "root-admin", "root-admin-password", "admin", "")
	b, err := StartBrowser()
	if err != nil {
		d.Stop()
		t.Fatal(err)
	}
	sharedEnv = &Env{D: d, B: b, Token: d.Login(t, "root-admin", "root-admin-password")}
	return sharedEnv
}

// StopShared stops the shared daemon and browser (from TestMain).
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedEnv != nil {
		sharedEnv.B.Close()
		sharedEnv.D.Stop()
		sharedEnv = nil
	}
}

// Name is a name unique in the Env, from the test's name.
func (e *Env) Name(t *testing.T, what string) string {
	base := strings.ToLower(fileName(t.Name()))
	base = strings.NewReplacer("/", "-", "_", "-").Replace(base)
	if len(base) > 24 {
		base = base[len(base)-24:]
	}
	return fmt.Sprintf("%s-%s%d", strings.Trim(base, "-."), what, e.seq.Add(1))
}

// NewTenant creates a tenant and returns its id.
func (e *Env) NewTenant(t *testing.T) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	name := e.Name(t, "t")
	if code, err := e.D.API("POST", "/tenants", e.Token, map[string]string{"name": name}, &out); err != nil || code != 201 {
		t.Fatalf("creating tenant %s: %d %v", name, code, err)
	}
	return out.ID
}

// User is a console user made for one test.
type User struct {
	Name, Password, Token string
}

// NewUser makes a user of role (tenant_admin users belong to tenant) whose
// console opens on tenant.
func (e *Env) NewUser(t *testing.T, role, tenant string) User {
	t.Helper()
	u := User{Name: e.Name(t, "u"), Password: "test-password-1"}
	body := map[string]string{"username": u.Name, "password": u.Password, "role": role}
	if role == "tenant_admin" {
		body["tenant"] = tenant
	}
	if code, err := e.D.API("POST", "/users", e.Token, body, nil); err != nil || code != 201 {
		t.Fatalf("creating user %s: %d %v", u.Name, code, err)
	}
	u.Token = e.D.Login(t, u.Name, u.Password)
	if code, err := e.D.API("PUT", "/me/preferences", u.Token, map[string]string{"tenant": tenant}, nil); err != nil || code != 200 {
		t.Fatalf("preference of %s: %d %v", u.Name, code, err)
	}
	return u
}

// Page opens the console in lang logged in as a new user of role, on tenant.
func (e *Env) Page(t *testing.T, lang, role, tenant string) (*Page, User) {
	t.Helper()
	u := e.NewUser(t, role, tenant)
	p := e.B.NewPage(t, "https://"+e.D.HTTPS+"/", lang)
	p.Login(u.Name, u.Password)
	return p, u
}

// AuditRows returns the newest audit rows (as the admin sees them) matching
// the filter query ("object_type=device").
func (e *Env) AuditRows(t *testing.T, query string) []map[string]any {
	t.Helper()
	var out struct {
		Items []map[string]any `json:"items"`
	}
	if code, err := e.D.API("GET", "/audit?"+query, e.Token, nil, &out); err != nil || code != 200 {
		t.Fatalf("audit %s: %d %v", query, code, err)
	}
	return out.Items
}
