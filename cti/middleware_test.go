package cti

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
	"github.com/switchboard-pbx/switchboard/internal/needs"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

// middlewareTarball finds the nethcti-middleware release source: the
// SB_MIDDLEWARE tarball, or the one in SB_SHARED (the shared material beside
// the clone, which .ci/run points to).
func middlewareTarball(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("SB_MIDDLEWARE")}
	shared := os.Getenv("SB_SHARED")
	if shared == "" {
		shared, _ = filepath.Abs(filepath.Join("..", "..", "shared"))
	}
	cands = append(cands, filepath.Join(shared, "nethcti-middleware", "nethcti-middleware-0.5.9.tar.gz"))
	for _, c := range cands {
		if c != "" {
			if _, err := os.Stat(c); err == nil {
				return c
			}
		}
	}
	if _, err := os.Stat(shared); err != nil && os.Getenv("SB_MIDDLEWARE") == "" {
		// No shared material beside the clone at all: like the Asterisk tests
		// (.ci/run warns loudly then), skip rather than fail.
		t.Skipf("no shared directory %s (set SB_SHARED or SB_MIDDLEWARE): the real nethcti-middleware is not tested", shared)
	}
	needs.Missing(t, "nethcti-middleware source not found: set SB_MIDDLEWARE to nethcti-middleware-0.5.9.tar.gz or SB_SHARED to the shared directory (.ci/run does)")
	return ""
}

// buildMiddleware builds the real nethcti-middleware from its release source
// with the Go toolchain (its module is not on the proxy; its dependencies are).
func buildMiddleware(t *testing.T) string {
	t.Helper()
	tarball := middlewareTarball(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		if _, e := os.Stat("/usr/local/go/bin/go"); e != nil {
			needs.Missing(t, "no Go toolchain to build nethcti-middleware")
		}
		goBin = "/usr/local/go/bin/go"
	}
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	src := filepath.Join(dir, "nethcti-middleware-0.5.9")
	bin := filepath.Join(dir, "nethcti-middleware")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building nethcti-middleware: %v\n%s", err, out)
	}
	return bin
}

// startMiddleware runs the middleware in front of the CTI at cti (host:port),
// on a loopback address of its own (it cannot report a port it picked, so it
// listens on a fixed one of a random 127.x address, retried when taken).
func startMiddleware(t *testing.T, bin, cti string, db *mariadbtest.Server) string {
	t.Helper()
	_, dbPort, _ := net.SplitHostPort(db.Addr)
	dbHost, _, _ := net.SplitHostPort(db.Addr)
	secrets := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		b := make([]byte, 3)
		rand.Read(b)
		addr := fmt.Sprintf("127.%d.%d.%d:8080", 64+int(b[0])%64, b[1], 1+int(b[2])%254)
		var logs testlog.Buffer
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(),
			"GIN_MODE=release",
			"NETHVOICE_MIDDLEWARE_LISTEN_ADDRESS="+addr,
			"NETHVOICE_MIDDLEWARE_V1_PROTOCOL=http",
			"NETHVOICE_MIDDLEWARE_V1_API_ENDPOINT="+cti,
			"NETHVOICE_MIDDLEWARE_V1_WS_ENDPOINT="+cti,
			"NETHVOICE_MIDDLEWARE_V1_API_PATH=/webrest",
			"NETHVOICE_MIDDLEWARE_V1_WS_PATH=/socket.io",
			"NETHVOICE_MIDDLEWARE_SECRETS_DIR="+secrets,
			"NETHVOICE_MIDDLEWARE_MARIADB_HOST="+dbHost,
			"NETHVOICE_MIDDLEWARE_MARIADB_PORT="+dbPort,
			"NETHVOICE_MIDDLEWARE_MARIADB_USER="+db.User,
			"NETHVOICE_MIDDLEWARE_MARIADB_PASSWORD="+db.Password,
			"NETHVOICE_MIDDLEWARE_MARIADB_DATABASE=nethcti3",
			"AUTH_PROFILES_PATH="+filepath.Join(secrets, "profiles.json"),
			"AUTH_USERS_PATH="+filepath.Join(secrets, "users.json"),
		)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
			if t.Failed() {
				t.Logf("nethcti-middleware log:\n%s", logs.String())
			}
		})
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return addr
			}
			select {
			case <-done:
				deadline = time.Time{} // exited (address taken?): another address
			case <-time.After(100 * time.Millisecond):
			}
		}
		if strings.Contains(logs.String(), "address already in use") {
			continue
		}
		t.Fatalf("nethcti-middleware did not start:\n%s", logs.String())
	}
	t.Fatal("nethcti-middleware: no free address")
	return ""
}

// The real nethcti-middleware (the server nethvoice-cti talks to) in front of
// the CTI: its login (our login, /user/me and phone_island_token_login behind
// it), GET /user/me and a call operation proxied to /webrest with the
// phone-island token, and its websocket proxy carrying our events.
func TestNethctiMiddleware(t *testing.T) {
	bin := buildMiddleware(t)
	db := mariadbtest.Start(t)
	if _, err := db.DB(t, "").Exec("CREATE DATABASE IF NOT EXISTS nethcti3"); err != nil {
		t.Fatal(err)
	}
	e, vp := replayEnv(t)
	cti := strings.TrimPrefix(e.srv.URL, "http://")
	mw := "http://" + startMiddleware(t, bin, cti, db)

	post := func(path, token string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", mw+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	code, body := post("/login", "", map[string]string{"username": "alice", "password": "wrong-password"})
	if code == 200 {
		t.Fatalf("login with a wrong password: %d %s", code, body)
	}
	code, body = post("/login", "", map[string]string{"username": "alice", "password": "alice-password"})
	var login struct{ Token string }
	if code != 200 || json.Unmarshal(body, &login) != nil || login.Token == "" {
		t.Fatalf("middleware login: %d %s", code, body)
	}
	// The middleware asked us for a phone-island token, which it now uses.
	n, err := e.st.CountUserSessions(context.Background(), "cti-phone-island:alice", time.Now())
	if err != nil || n != 1 {
		t.Fatalf("phone-island tokens of alice: %d %v", n, err)
	}

	req, _ := http.NewRequest("GET", mw+"/user/me", nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var me struct {
		Username  string
		Endpoints struct {
			Extension []struct{ ID, Type, Secret string }
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &me) != nil || me.Username != "alice" || len(me.Endpoints.Extension) != 3 {
		t.Fatalf("GET /user/me through the middleware: %d %s", resp.StatusCode, body)
	}

	// The websocket proxy: login with the middleware's JWT (it puts our
	// token in), then our events arrive through it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(mw, "http", "ws", 1)+"/ws/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("websocket through the middleware: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	read := func(want func(string) bool) string {
		t.Helper()
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("reading through the middleware: %v", err)
			}
			if string(b) == "2" {
				ws.Write(ctx, websocket.MessageText, []byte("3"))
				continue
			}
			if want(string(b)) {
				return string(b)
			}
		}
	}
	read(func(f string) bool { return strings.HasPrefix(f, "0{") })
	ws.Write(ctx, websocket.MessageText, []byte("40"))
	read(func(f string) bool { return strings.HasPrefix(f, "40") })
	lm, _ := json.Marshal([]any{"login", map[string]string{"accessKeyId": "alice", "token": login.Token, "uaType": "desktop"}})
	ws.Write(ctx, websocket.MessageText, append([]byte("42"), lm...))
	read(func(f string) bool { return strings.HasPrefix(f, `42["authe_ok"`) })
	ws.Write(ctx, websocket.MessageText, []byte(`421["ping"]`))
	read(func(f string) bool { return f == "431[]" })

	// A call operation proxied with the phone-island token: the desk phone
	// dials, and the call's events reach the socket through the proxy.
	code, body = post("/astproxy/call", login.Token, map[string]string{"endpointId": "201", "endpointType": "extension", "number": "203"})
	if code != 200 {
		t.Fatalf("POST /astproxy/call through the middleware: %d %s", code, body)
	}
	ev := read(func(f string) bool {
		return strings.HasPrefix(f, `42["extenUpdate"`) && strings.Contains(f, `"exten":"201"`) && strings.Contains(f, `"counterpartNum":"203"`)
	})
	if !strings.Contains(ev, `"username":"alice"`) {
		t.Fatalf("extenUpdate through the middleware: %s", ev)
	}
	dialled := false
	for _, r := range vp.requests() {
		dialled = dialled || r == "/servlet?key=number=203"
	}
	if !dialled {
		t.Fatalf("the desk phone did not dial: %v", vp.requests())
	}
	// Logout through the middleware revokes the phone-island token with us.
	code, body = post("/logout", login.Token, map[string]string{})
	if code != 200 {
		t.Fatalf("middleware logout: %d %s", code, body)
	}
	eventually(t, "phone-island token revoked", func() bool {
		n, err := e.st.CountUserSessions(context.Background(), "cti-phone-island:alice", time.Now())
		return err == nil && n == 0
	})
}
