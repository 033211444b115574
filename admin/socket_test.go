package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// socketClient is an HTTP client that dials the control socket.
func socketClient(path string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

func socketDo(t *testing.T, c *http.Client, method, path, body string) (int, obj) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://switchboard"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m obj
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return res.StatusCode, m
}

func TestControlSocket(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "sb.sock")
	// A stale socket file from a crash is replaced.
	if err := os.WriteFile(path, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewSocketServer(path, e.web.Secure(), e.api.log)
	if err := s.Bind(t.Context()); err != nil {
		t.Fatalf("Listen over a stale file: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("socket file left behind: %v", err)
		}
	}()

	want := "cli:uid" + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		want = "cli:" + u.Username
	}
	c := socketClient(path)
	code, me := socketDo(t, c, "GET", "/api/v1/me", "")
	if code != http.StatusOK || me["username"] != want || me["role"] != RoleAdmin || me["source_ip"] != "local" {
		t.Fatalf("me over the socket: %d %v (want user %s)", code, me, want)
	}

	// No token needed, and writes are audited with the peer's name.
	code, ten := socketDo(t, c, "POST", "/api/v1/tenants", `{"name":"via-socket"}`)
	if code != http.StatusCreated {
		t.Fatalf("create over the socket: %d %v", code, ten)
	}
	rows, _ := e.audit(e.adminTk, "object_type=tenant&object_id="+ten["id"].(string))
	if len(rows) != 1 || rows[0]["user"] != want || rows[0]["source_ip"] != "local" || rows[0]["action"] != "create" {
		t.Errorf("audit of a socket write: %v", rows)
	}

	// There is no session or password to change over the socket: 4xx, not 5xx.
	if code, m := socketDo(t, c, "POST", "/api/v1/logout", ""); code != http.StatusBadRequest || m["error"] == nil {
		t.Errorf("logout over the socket: %d %v", code, m)
	}
	if code, m := socketDo(t, c, "PUT", "/api/v1/me/password", `{"current_password":"x","new_password":"new-password"}`); code != http.StatusBadRequest || m["error"] == nil {
		t.Errorf("password over the socket: %d %v", code, m)
	}

	// A second daemon must not steal the socket.
	other := NewSocketServer(path, e.web.Secure(), e.api.log)
	if err := other.Bind(t.Context()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Listen: %v, want an 'in use' error", err)
	}
	if code, _ := socketDo(t, c, "GET", "/api/v1/status", ""); code != http.StatusOK {
		t.Errorf("first server stopped answering: %d", code)
	}
}
