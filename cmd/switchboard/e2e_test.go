package main

// End-to-end tests: the real binary, started as a user would start it, driven over
// HTTPS and through the CLI, killed, restarted and tampered with.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
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
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
	_ "modernc.org/sqlite"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "switchboard")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building switchboard: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output for inspection while it runs.
type syncBuffer = testlog.Buffer

type testDaemon struct {
	t       *testing.T
	dir     string
	cfgPath string
	socket  string
	https   string
	plain   string
	tftp    string
	cmd     *exec.Cmd
	stderr  *syncBuffer
	stdout  *syncBuffer
	done    chan error
}

// newDaemon writes a configuration in a fresh data directory. extra is appended
// to the YAML (top-level sections).
func newDaemon(t *testing.T, extra string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	d := &testDaemon{t: t, dir: dir, cfgPath: filepath.Join(dir, "switchboard.yaml"), socket: filepath.Join(dir, "data", "sb.sock")}
	// Port 0 everywhere: the daemon binds, logs the addresses before "ready",
	// and run reads them (no port is picked by the test, so none can be taken).
	cfg := fmt.Sprintf("data_dir: %s\nhttp:\n  listen: \"127.0.0.1:0\"\n  https_listen: \"127.0.0.1:0\"\nadmin:\n  socket: %s\n  bcrypt_cost: 4\ntftp:\n  listen: \"127.0.0.1:0\"\n%s",
		filepath.Join(dir, "data"), d.socket, extra)
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *testDaemon) start(env ...string) {
	d.t.Helper()
	cmd := exec.Command(binPath, "serve", "--config", d.cfgPath)
	cmd.Env = append(os.Environ(), env...)
	d.run(cmd)
}

// run starts cmd (the daemon, however it is launched) and waits for "ready".
func (d *testDaemon) run(cmd *exec.Cmd) {
	d.t.Helper()
	d.stderr, d.stdout = &syncBuffer{}, &syncBuffer{}
	d.cmd = cmd
	d.cmd.Stderr, d.cmd.Stdout = d.stderr, d.stdout
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.done = make(chan error, 1)
	go func() { d.done <- d.cmd.Wait() }()
	d.t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if logs := d.stderr.String(); strings.Contains(logs, "msg=ready") || strings.Contains(logs, `"msg":"ready"`) {
			d.readAddrs(logs)
			// The TFTP server may log its address just after "ready" (it
			// binds when the node is active): wait a little for it.
			for wait := time.Now().Add(5 * time.Second); d.tftp == "" && time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
				d.readAddrs(d.stderr.String())
			}
			return
		}
		select {
		case err := <-d.done:
			d.t.Fatalf("daemon exited at start-up: %v\n%s", err, d.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.t.Fatalf("daemon not ready after 30 s:\n%s", d.stderr.String())
}

// listeningRE finds the bound addresses in either log format.
var listeningRE = regexp.MustCompile(`msg=listening component=(http|tftp)(?: listener=(https?))? addr=(\S+)|` +
	`"msg":"listening","component":"(http|tftp)"(?:,"listener":"(https?)")?,"addr":"([^"]+)"`)

// readAddrs takes the bound addresses from the start-up log (the last start's).
func (d *testDaemon) readAddrs(logs string) {
	for _, m := range listeningRE.FindAllStringSubmatch(logs, -1) {
		if m[1] == "" { // JSON
			m = append(m[:1], m[4:]...)
		}
		switch {
		case m[1] == "tftp":
			d.tftp = m[3]
		case m[2] == "https":
			d.https = m[3]
		case m[2] == "http":
			d.plain = m[3]
		}
	}
}

func (d *testDaemon) stop(sig syscall.Signal) error {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case err := <-d.done:
		return err
	case <-time.After(15 * time.Second):
		d.t.Fatalf("daemon did not exit 15 s after %v:\n%s", sig, d.stderr.String())
		return nil
	}
}

// cli runs a CLI verb against the daemon's socket.
func (d *testDaemon) cli(stdin string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	cmd := exec.Command(binPath, append(args, "--socket", d.socket)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return o.String(), e.String(), code
}

var insecure = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the daemon's own self-signed certificate
}}

func (d *testDaemon) request(method, path, token string, body any) (int, map[string]any, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "https://"+d.https+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header, nil
}

func (d *testDaemon) login(user, pass string) string {
	d.t.Helper()
	code, out, _, err := d.request("POST", "/api/v1/login", "", map[string]string{"username": user, "password": pass})
	if err != nil || code != 200 {
		d.t.Fatalf("login %s: %d %v %v", user, code, out, err)
	}
	return out["token"].(string)
}

func (d *testDaemon) addAdmin(user, pass string) {
	d.t.Helper()
	out, errOut, code := d.cli(pass+"\n", "user", "add", user, "--role", "admin", "--password-stdin")
	if code != 0 {
		d.t.Fatalf("user add: exit %d: %s %s", code, out, errOut)
	}
}

func TestBadConfigStopsStartup(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown top-level key", "bogus: 1\n", "unknown key bogus"},
		{"unknown nested key", "http:\n  lisen: \":80\"\n", "unknown key http.lisen"},
		{"bad duration", "admin:\n  token_ttl: soon\n", "key admin.token_ttl"},
		{"bad enum", "log:\n  level: loud\n", "key log.level"},
		{"bad address", "http:\n  https_listen: nowhere\n", "key http.https_listen"},
		{"bad tenancy", "tenancy:\n  mode: many\n", "key tenancy.mode"},
		{"not yaml", "http: [\n", "config:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(p, []byte("data_dir: "+t.TempDir()+"\n"+c.yaml), 0o600)
			cmd := exec.Command(binPath, "serve", "--config", p)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() == 0 {
				t.Fatalf("want a non-zero exit, got %v; stderr %q", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Fatalf("want one line containing %q, got %q", c.want, stderr.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binPath, "version").Output()
	if err != nil || !regexp.MustCompile(`^switchboard \S+ \(commit \S+, go`).Match(out) {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestReadyHealthMetricsShutdown: sd_notify READY=1 once serving, /healthz and
// /metrics answer, plain HTTP redirects the admin API to HTTPS, SIGTERM stops cleanly.
func TestReadyHealthMetricsShutdown(t *testing.T) {
	d := newDaemon(t, "")
	notify := filepath.Join(d.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d.start("NOTIFY_SOCKET=" + notify)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") {
		t.Fatalf("no READY=1 from sd_notify: %q %v", buf[:n], err)
	}
	code, out, _, err := d.request("GET", "/healthz", "", nil)
	if err != nil || code != 200 || out["status"] != "ok" {
		t.Fatalf("healthz: %d %v %v", code, out, err)
	}
	resp, err := insecure.Get("https://" + d.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"switchboard_store_revision 1", "switchboard_admin_login_failures_total", "go_goroutines"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	if _, err := os.Stat(filepath.Join(d.dir, "data", "tls", "cert.pem")); err != nil {
		t.Errorf("no self-signed certificate generated: %v", err)
	}
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: exit %v\n%s", err, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "msg=stopped") {
		t.Errorf("no clean-stop log line:\n%s", d.stderr.String())
	}
	if _, err := os.Stat(d.socket); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	// The stopped daemon's CLI error says what to do.
	_, errOut, code2 := d.cli("", "user", "list")
	if code2 == 0 || !strings.Contains(errOut, "is 'switchboard serve' running") {
		t.Errorf("CLI without daemon: exit %d, %q", code2, errOut)
	}
}

func TestPlainHTTPRedirectsAdminAPI(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	// The listener is bound before "ready" (its own "http listening" line may come
	// later), so the configured address is the one to use.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + d.plain + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Fatalf("plain /api: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestAuditVerifyFindsTampering edits and deletes audit rows in the SQLite file
// behind the running daemon's back.
func TestAuditVerifyFindsTampering(t *testing.T) {
	d := newDaemon(t, "tenancy:\n  mode: multi\n")
	d.start()
	d.addAdmin("root-admin", "correct horse")
	for _, n := range []string{"alpha", "beta", "gamma"} {
		if out, e, code := d.cli("", "tenant", "add", n); code != 0 {
			t.Fatalf("tenant add: %s %s", out, e)
		}
	}
	if out, e, code := d.cli("", "audit", "verify"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("clean chain: exit %d %s %s", code, out, e)
	}
	db, err := sql.Open("sqlite", filepath.Join(d.dir, "data", "switchboard.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The triggers refuse edits; an attacker drops them first.
	if _, err := db.Exec(`UPDATE audit SET description='nothing happened' WHERE id=3`); err == nil {
		t.Fatal("append-only trigger did not stop an UPDATE")
	}
	if _, err := db.Exec(`DROP TRIGGER audit_no_update; UPDATE audit SET username='someone-else' WHERE id=3`); err != nil {
		t.Fatal(err)
	}
	out, _, code := d.cli("", "audit", "verify")
	if code != 1 || !strings.Contains(out, "row 3:") || !strings.Contains(out, "changed") {
		t.Fatalf("edited row 3: exit %d, output %q", code, out)
	}
	if _, err := db.Exec(`DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id=4`); err != nil {
		t.Fatal(err)
	}
	out, _, code = d.cli("", "audit", "verify", "--json")
	var res struct {
		OK       bool
		Problems []struct {
			Row    int64
			Reason string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify --json: %v %q", err, out)
	}
	found := map[int64]string{}
	for _, p := range res.Problems {
		found[p.Row] = p.Reason
	}
	if code != 1 || res.OK || found[4] != "row deleted" || found[3] == "" {
		t.Fatalf("deleted row 4: exit %d, %+v", code, res)
	}
	if !strings.Contains(d.stderr.String(), "audit chain verification failed") {
		t.Errorf("daemon did not log the failed verification")
	}
}

// TestCrashDuringWrites kills the daemon with SIGKILL in the middle of a stream of
// 1,000 API writes, sent one at a time and 8 at once: every write that was
// answered 2xx must be there after restart, the database must pass
// PRAGMA integrity_check and the audit chain must verify.
func TestCrashDuringWrites(t *testing.T) {
	for _, workers := range []int{1, 8} {
		name := "sequential"
		if workers > 1 {
			name = fmt.Sprintf("%d-way", workers)
		}
		t.Run(name, func(t *testing.T) { crashDuringWrites(t, workers) })
	}
}

func crashDuringWrites(t *testing.T, workers int) {
	d := newDaemon(t, "tenancy:\n  mode: multi\n")
	d.start()
	d.addAdmin("writer", "correct horse")
	token := d.login("writer", "correct horse")

	const total = 1000
	var mu sync.Mutex
	acked := map[string]bool{}
	next := make(chan int)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer close(next)
		for i := 0; i < total; i++ {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := fmt.Sprintf("crash-%04d", i)
				code, _, _, err := d.request("POST", "/api/v1/tenants", token, map[string]string{"name": name})
				if err != nil {
					continue // the daemon is gone; this write was never acknowledged
				}
				if code == http.StatusCreated {
					mu.Lock()
					acked[name] = true
					n := len(acked)
					mu.Unlock()
					if n == 300 {
						close(killed)
					}
				} else if code != 0 {
					t.Errorf("write %s: status %d", name, code)
				}
			}
		}()
	}
	select {
	case <-killed:
	case <-time.After(120 * time.Second):
		t.Fatal("300 writes not acknowledged in 120 s")
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	cancel()
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 300 || n >= total {
		t.Fatalf("the kill did not land mid-stream: %d acknowledged", n)
	}

	d.start()
	token = d.login("writer", "correct horse")
	code, out, _, err := d.request("GET", "/api/v1/tenants", token, nil)
	if err != nil || code != 200 {
		t.Fatalf("list after restart: %d %v", code, err)
	}
	have := map[string]bool{}
	for _, it := range out["items"].([]any) {
		have[it.(map[string]any)["name"].(string)] = true
	}
	for name := range acked {
		if !have[name] {
			t.Errorf("acknowledged write %s lost in the crash", name)
		}
	}
	t.Logf("%d writes acknowledged before SIGKILL, %d tenants after restart", n, len(have))
	if outV, _, c := d.cli("", "audit", "verify"); c != 0 {
		t.Errorf("audit chain broken by the crash: %s", outV)
	}
	db, err := sql.Open("sqlite", filepath.Join(d.dir, "data", "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var verdict string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&verdict); err != nil || verdict != "ok" {
		t.Fatalf("integrity_check: %q %v", verdict, err)
	}
}

// TestLoginBruteForceThrottled hammers the login from one address.
func TestLoginBruteForceThrottled(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	d.addAdmin("victim", "correct horse")
	var codes []int
	for i := 0; i < 15; i++ {
		code, _, hdr, err := d.request("POST", "/api/v1/login", "", map[string]string{"username": fmt.Sprintf("guess%d", i%3), "password": "wrong password"})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
		if code == http.StatusTooManyRequests && hdr.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[0] != 401 || codes[len(codes)-1] != 429 {
		t.Fatalf("status sequence %v: want 401s then 429s", codes)
	}
	// Even the right password is refused while the source is throttled.
	if code, _, _, _ := d.request("POST", "/api/v1/login", "", map[string]string{"username": "victim", "password": "correct horse"}); code != 429 {
		t.Errorf("right password from a throttled address: %d, want 429", code)
	}
	logs := d.stderr.String()
	if !regexp.MustCompile(`level=WARN msg="login throttled" component=admin user=\S+ src=127\.0\.0\.1`).MatchString(logs) {
		t.Errorf("no throttle log line:\n%s", logs)
	}
	if !regexp.MustCompile(`level=WARN msg="login failed" component=admin user=guess0 src=127\.0\.0\.1 reason="unknown user"`).MatchString(logs) {
		t.Errorf("no failed-login log line:\n%s", logs)
	}
}

// TestCLIVerbs runs the installer's verbs end to end.
func TestCLIVerbs(t *testing.T) {
	d := newDaemon(t, "tenancy:\n  mode: multi\n")
	d.start()
	d.addAdmin("installer", "correct horse")
	steps := []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"tenant", "add", "acme", "--description", "Acme Inc"}, "", 0, "acme"},
		{[]string{"tenant", "add", "acme"}, "", 1, "(--name)"},
		{[]string{"user", "add", "pbx-admin", "--role", "tenant_admin", "--tenant", "acme", "--password-stdin"}, "pbx secret 1\n", 0, "added"},
		{[]string{"user", "add", "nobody-role", "--password-stdin"}, "x\n", 2, "--role is required"},
		{[]string{"user", "add", "shorty", "--role", "auditor", "--password-stdin"}, "short\n", 1, "(--password)"},
		{[]string{"user", "list"}, "", 0, "pbx-admin"},
		{[]string{"user", "set", "pbx-admin", "--full-name", "Pat Smith"}, "", 0, "Pat Smith"},
		{[]string{"tenant", "delete", "acme"}, "", 1, "still owns 1 user"},
		{[]string{"user", "delete", "pbx-admin"}, "", 0, "deleted"},
		{[]string{"tenant", "delete", "acme"}, "", 0, "deleted"},
		{[]string{"user", "delete", "installer"}, "", 1, "last enabled admin"},
		{[]string{"audit", "list", "--type", "user", "--action", "delete"}, "", 0, "user pbx-admin deleted"},
		{[]string{"audit", "list", "--month", "May"}, "", 1, "(--month)"},
		{[]string{"tenant", "frobnicate"}, "", 2, "unknown verb"},
		{[]string{"status"}, "", 0, "tenancy_mode:  multi"},
	}
	for _, s := range steps {
		out, errOut, code := d.cli(s.stdin, s.args...)
		if code != s.code || !strings.Contains(out+errOut, s.want) {
			t.Errorf("%v: exit %d (want %d), output %q %q (want %q)", s.args, code, s.code, out, errOut, s.want)
		}
	}
	// Restore the deleted tenant_admin: find its delete row and restore it.
	out, _, _ := d.cli("", "audit", "list", "--type", "user", "--action", "delete", "--json")
	var res struct{ Items []struct{ ID int64 } }
	json.Unmarshal([]byte(out), &res)
	if len(res.Items) != 1 {
		t.Fatalf("want one user delete row: %s", out)
	}
	// Its tenant is gone, so the restore is refused with a reason...
	_, errOut, code := d.cli("", "audit", "restore", fmt.Sprint(res.Items[0].ID))
	if code != 1 || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("restore of a user whose tenant is gone: exit %d %q", code, errOut)
	}
	// ...until the tenant delete is restored first.
	out, _, _ = d.cli("", "audit", "list", "--type", "tenant", "--action", "delete", "--json")
	var tres struct{ Items []struct{ ID int64 } }
	json.Unmarshal([]byte(out), &tres)
	for _, id := range []int64{tres.Items[0].ID, res.Items[0].ID} {
		if out, errOut, code := d.cli("", "audit", "restore", fmt.Sprint(id)); code != 0 {
			t.Fatalf("restore %d: %s %s", id, out, errOut)
		}
	}
	token := d.login("pbx-admin", "pbx secret 1")
	if code, me, _, _ := d.request("GET", "/api/v1/me", token, nil); code != 200 || me["role"] != "tenant_admin" {
		t.Fatalf("restored user cannot log in: %d %v", code, me)
	}
	out, _, _ = d.cli("", "audit", "list", "--action", "restore")
	if !strings.Contains(out, "cli:") || strings.Count(out, "restore of audit row") != 2 {
		t.Errorf("restores not audited with the CLI user: %s", out)
	}
}

// TestMakeRunFreshClone runs "make run" in a fresh clone as an unprivileged user,
// then uses the URL and login it prints.
func TestMakeRunFreshClone(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip("not in a git checkout")
	}
	for _, port := range []string{"127.0.0.1:8080", "127.0.0.1:8443"} {
		if c, err := net.Dial("tcp", port); err == nil {
			c.Close()
			t.Skipf("%s is taken (a demo already running?): cannot test make run", port)
		}
	}
	// Not t.TempDir: its parent is private to root, and the demo must run as nobody.
	dir, err := os.MkdirTemp("", "switchboard-makerun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	clone := filepath.Join(dir, "clone")
	if out, err := exec.Command("git", "clone", "-q", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v %s", err, out)
	}
	// The binary this test built stands in for the clone's build (a second full
	// build as another user would need its own module and build caches); make
	// sees it up to date and goes straight to running it.
	os.MkdirAll(filepath.Join(clone, "bin"), 0o755)
	data, _ := os.ReadFile(binPath)
	os.WriteFile(filepath.Join(clone, "bin", "switchboard"), data, 0o755)
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(clone, "bin", "switchboard"), future, future)

	cmd := exec.Command("make", "run")
	cmd.Dir = clone
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getuid() == 0 {
		// As root, prove it needs no root: run as nobody in a tree nobody owns.
		exec.Command("chown", "-R", "65534:65534", dir).Run()
		os.Chmod(dir, 0o755)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
		cmd.Env = append(os.Environ(), "HOME="+dir)
	}
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url, user, pass string
	deadline := time.After(60 * time.Second)
	for user == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make run ended before printing the login:\n%s", stderr.String())
			}
			if m := regexp.MustCompile(`Web and admin API:\s+(https://\S+)/`).FindStringSubmatch(l); m != nil {
				url = m[1]
			}
			if m := regexp.MustCompile(`Login:\s+(\S+) / (\S+)`).FindStringSubmatch(l); m != nil {
				user, pass = m[1], m[2]
			}
		case <-deadline:
			t.Fatalf("no login printed in 60 s:\n%s", stderr.String())
		}
	}
	if url != "https://localhost:8443" {
		t.Fatalf("printed URL %q", url)
	}
	b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := insecure.Post("https://127.0.0.1:8443/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	if resp.StatusCode != 200 || lr.Token == "" {
		t.Fatalf("printed login refused: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "https://127.0.0.1:8443/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	resp, err = insecure.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"name": "demo"`) {
		t.Errorf("no demo tenant: %s", body)
	}
	for _, f := range []string{"data/switchboard.db", "data/tls/cert.pem", "data/demo-login.txt"} {
		if _, err := os.Stat(filepath.Join(clone, f)); err != nil {
			t.Errorf("make run did not create ./%s: %v", f, err)
		}
	}
}

// socketJSON calls the admin API over the control socket.
func (d *testDaemon) socketJSON(method, path string, in, out any) {
	d.t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
	}}}
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, "http://sb"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		d.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		json.Unmarshal(raw, out)
	}
}

// secretDir is the device's secret directory relative to /provisioning/
// ("<token>/" in single-tenant mode), read with the CLI's device reveal.
func (d *testDaemon) secretDir(mac string) string {
	d.t.Helper()
	out, e, rc := d.cli("", "device", "reveal", mac)
	_, dir, _ := strings.Cut(out, "provisioning_url:")
	_, rel, ok := strings.Cut(strings.TrimSpace(dir), "/provisioning/")
	if rc != 0 || !ok || !strings.HasSuffix(rel, "/") {
		d.t.Fatalf("device reveal %s: exit %d %q %s", mac, rc, out, e)
	}
	return rel
}

// TestProvisioningThroughDaemon drives the provisioning engine the way an
// installer does (CLI, CSV files) and fetches the result the way phones do.
func TestProvisioningThroughDaemon(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	var tmpl, model struct{ ID string }
	d.socketJSON("POST", "/api/v1/templates", map[string]any{"name": "e2e", "scope": "device",
		"body": "server=%%KPBX_IP_ADDRESS%%\nuser=%%ACCOUNT_SIP_USERNAME%%\npass=%%ACCOUNT_SIP_PASSWORD%%\nname=%%ACCOUNT_DISPLAY_NAME%%\n"}, &tmpl)
	d.socketJSON("POST", "/api/v1/models", map[string]any{"name": "E2E", "brand": "acme", "template": tmpl.ID,
		"file": map[string]string{"prefix": "e2e-", "mac_format": "AABBCCDDEEFF", "suffix": ".cfg"}}, &model)
	if out, e, code := d.cli("", "pbx", "set", "sip_server=192.0.2.44"); code != 0 {
		t.Fatalf("pbx set: %s %s", out, e)
	}
	accounts := filepath.Join(d.dir, "accounts.csv")
	os.WriteFile(accounts, []byte("extension,sip_password,display_name\n401,secret-401,Ann\n402,secret-402,Bob\n"), 0o600)
	devices := filepath.Join(d.dir, "devices.csv")
	os.WriteFile(devices, []byte("mac,model,account_extension\n00:04:13:00:04:01,"+model.ID+",401\n00-04-13-00-04-02,"+model.ID+",402\n000413000403,"+model.ID+",\n"), 0o600)
	for _, args := range [][]string{{"account", "import", accounts}, {"device", "import", devices}} {
		if out, e, code := d.cli("", args...); code != 0 || !strings.Contains(out, "created") {
			t.Fatalf("%v: exit %d %s %s", args, code, out, e)
		}
	}
	// A bad CSV is refused by line and imports nothing.
	bad := filepath.Join(d.dir, "bad.csv")
	os.WriteFile(bad, []byte("mac,model\n00:04:13:00:04:09,"+model.ID+"\nnot-a-mac,"+model.ID+"\n"), 0o600)
	if _, e, code := d.cli("", "device", "import", bad); code != 1 || !strings.Contains(e, "line 3") {
		t.Fatalf("bad CSV: exit %d %q", code, e)
	}
	out, _, _ := d.cli("", "device", "list")
	if strings.Contains(out, "000413000409") || !strings.Contains(out, "no linked account") {
		t.Fatalf("device list after a refused import:\n%s", out)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Secure URLs are on by default: the MAC alone gets nothing secret (the
	// bootstrap file, see TestBootstrapThroughDaemon). The rest of
	// the test serves by name (as tenants made before secret URLs do); the
	// end fetches through a device's secret URL.
	if code, body := get("http://" + d.plain + "/provisioning/e2e-000413000401.cfg"); code != 200 || strings.Contains(body, "secret-401") || !strings.Contains(body, "pass=\n") {
		t.Fatalf("file by MAC with the default secure URLs: %d %q", code, body)
	}
	if out, e, code := d.cli("", "pbx", "set", "secure_urls=false"); code != 0 || !strings.Contains(out, "secure_urls") {
		t.Fatalf("pbx set secure_urls=false: %s %s", out, e)
	}
	code, body := get("http://" + d.plain + "/provisioning/e2e-000413000401.cfg")
	if code != 200 || body != "server=192.0.2.44\nuser=401\npass=secret-401\nname=Ann\n" {
		t.Fatalf("HTTP file: %d %q", code, body)
	}
	if code, _ := get("http://" + d.plain + "/provisioning/e2e-000413000403.cfg"); code != 404 {
		t.Errorf("device without account served: %d", code)
	}
	if code, _ := get("http://" + d.plain + "/provisioning/e2e-0004130004FF.cfg"); code != 404 {
		t.Errorf("unknown device served: %d", code)
	}
	if _, err := exec.LookPath("tftp"); err == nil {
		local := filepath.Join(d.dir, "fetched.cfg")
		host, port, _ := net.SplitHostPort(d.tftp)
		if out, err := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", "e2e-000413000402.cfg", local).CombinedOutput(); err != nil {
			t.Fatalf("tftp get: %v %s", err, out)
		}
		if b, _ := os.ReadFile(local); !strings.Contains(string(b), "pass=secret-402") {
			t.Errorf("TFTP file: %q", b)
		}
	} else {
		t.Log("tftp-hpa client not installed: TFTP fetch not exercised here (tftpd tests cover it)")
	}
	// The unknown phone lands in the "seen, not configured" list (recorded asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _, _ = d.cli("", "unknown", "list")
		if strings.Contains(out, "0004130004FF") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out, "0004130004FF") || !strings.Contains(out, model.ID) {
		t.Errorf("unknown device not listed with its model guess:\n%s", out)
	}
	// The list comes a page at a time (F3).
	for _, mac := range []string{"000413000501", "000413000502"} {
		get("http://" + d.plain + "/provisioning/e2e-" + mac + ".cfg")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _, _ = d.cli("", "unknown", "list", "--limit", "1", "--offset", "1")
		if strings.Contains(out, "(2-2 of 3; --offset 2 for more)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unknown list --limit 1 --offset 1:\n%s", out)
		}
	}
	if strings.Count(out, "\n") != 3 { // header, one phone, the footer
		t.Errorf("a page of one:\n%s", out)
	}
	// The installer adopts it: the model comes from the file it asked for.
	if out, e, code := d.cli("", "unknown", "adopt", "00:04:13:00:04:ff", "--account", "401"); code != 0 || !strings.Contains(out, "adopted 0004130004FF as "+model.ID) {
		t.Fatalf("unknown adopt: exit %d %s %s", code, out, e)
	}
	if code, body := get("http://" + d.plain + "/provisioning/e2e-0004130004FF.cfg"); code != 200 || !strings.Contains(body, "pass=secret-401") {
		t.Errorf("adopted device's file: %d %q", code, body)
	}
	if _, e, code := d.cli("", "unknown", "adopt", "0004130004FF"); code != 1 || !strings.Contains(e, "not found") {
		t.Errorf("adopting twice: exit %d %q", code, e)
	}
	// Every change was audited with the CLI user.
	out, _, _ = d.cli("", "audit", "list", "--type", "device")
	if strings.Count(out, "cli:") != 4 {
		t.Errorf("device imports not audited per device:\n%s", out)
	}
	// Secrets are masked unless revealed, and each reveal is audited (F5).
	for _, c := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"file", "show", "e2e-000413000401.cfg"}, "pass=********", "secret-401"},
		{[]string{"file", "show", "e2e-000413000401.cfg", "--reveal"}, "pass=secret-401", ""},
		{[]string{"account", "reveal", "401"}, "secret-401", ""},
		{[]string{"account", "export"}, "401,", "secret-401"},
		{[]string{"account", "export", "--secrets"}, "secret-401", ""},
		{[]string{"device", "preview", "00:04:13:00:04:01"}, "pass=********", "secret-401"},
	} {
		out, e, code := d.cli("", c.args...)
		if code != 0 || !strings.Contains(out, c.want) || c.not != "" && strings.Contains(out, c.not) {
			t.Errorf("%v: exit %d %q %s; want %q without %q", c.args, code, out, e, c.want, c.not)
		}
	}
	out, _, _ = d.cli("", "audit", "list", "--action", "reveal")
	if n := strings.Count(out, " reveal "); n != 3 {
		t.Errorf("%d reveal rows, want 3 (file, account, export):\n%s", n, out)
	}
	// Secure URLs back on: the device's secret URL (from device reveal)
	// serves its file over HTTP and TFTP, the MAC alone nothing.
	if out, e, code := d.cli("", "pbx", "set", "secure_urls=true"); code != 0 {
		t.Fatalf("pbx set secure_urls=true: %s %s", out, e)
	}
	rel := d.secretDir("00:04:13:00:04:02")
	if len(rel) != 33 {
		t.Fatalf("secret directory %q", rel)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		code, body := get("http://" + d.plain + "/provisioning/" + rel + "e2e-000413000402.cfg")
		if code == 200 && strings.Contains(body, "pass=secret-402") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file under the secret URL: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// By MAC: the bootstrap file, secret-free (TestBootstrapThroughDaemon).
	if code, body := get("http://" + d.plain + "/provisioning/e2e-000413000402.cfg"); code != 200 || strings.Contains(body, "secret-402") || !strings.Contains(body, "pass=\n") {
		t.Errorf("file by MAC with secure URLs: %d %q", code, body)
	}
	if _, err := exec.LookPath("tftp"); err == nil {
		host, port, _ := net.SplitHostPort(d.tftp)
		local := filepath.Join(d.dir, "token.cfg")
		if out, err := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", rel+"e2e-000413000402.cfg", local).CombinedOutput(); err != nil {
			t.Fatalf("tftp get under the token: %v %s", err, out)
		}
		if b, _ := os.ReadFile(local); !strings.Contains(string(b), "pass=secret-402") {
			t.Errorf("TFTP file under the token: %q", b)
		}
		out, err := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", "e2e-000413000402.cfg", filepath.Join(d.dir, "mac.cfg")).CombinedOutput()
		if b, _ := os.ReadFile(filepath.Join(d.dir, "mac.cfg")); err != nil || strings.Contains(string(b), "secret-402") || !strings.Contains(string(b), "pass=\n") {
			t.Errorf("TFTP by MAC with secure URLs: %v %q %q", err, out, b)
		}
	}
	if logs := d.stderr.String() + d.stdout.String(); strings.Contains(logs, strings.TrimSuffix(rel[len(rel)-33:], "/")) {
		t.Errorf("the secret URL reached the daemon's log")
	}
}
