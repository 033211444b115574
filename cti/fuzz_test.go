package cti

// Fuzz targets for what CTI clients send before they are known: the body of a
// request (JSON or an HTML form) and the "Authorization: <user>:<token>"
// header. (The AMI reader and the Engine.IO/socket.io frames have theirs in
// cti/ami and cti/socketio.)

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// FuzzRequestBody: readBody decodes any body, JSON or form, into the login
// request or a generic object, or refuses it with a 4xx naming what is wrong;
// it never panics.
func FuzzRequestBody(f *testing.F) {
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"username":"alice","password":"pw"}`},
		{"application/json", `{"username":1}`},
		{"application/json", `[]`},
		{"application/json", `{"username":"a","username":"b"}`},
		{"", `{"username":"\ud800"}`},
		{"application/x-www-form-urlencoded", "username=alice&password=p%20w"},
		{"application/x-www-form-urlencoded", "username=%zz"},
		{"application/x-www-form-urlencoded; charset=utf-8", "a=1&a=2&;;&="},
		{"text/plain", "   "},
		{"application/json", strings.Repeat("[", 1000)},
	} {
		f.Add(c.ct, c.body)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		for _, v := range []any{&loginReq{}, &map[string]any{}} {
			r := httptest.NewRequest("POST", "/webrest/authentication/login", strings.NewReader(body))
			r.Header.Set("Content-Type", ct)
			err := readBody(r, v)
			if err == nil {
				continue
			}
			var re *httpapi.Error
			if !errors.As(err, &re) || re.Status < 400 || re.Status > 499 || re.Msg == "" {
				t.Fatalf("%q %q: %T %v", ct, body, err, err)
			}
		}
	})
}

// FuzzAuthorizationHeader: "Authorization: <user>:<token>" lets a request in
// only as the user the token was granted to (named by username, extension or
// user@domain, with spaces around either part), never otherwise.
func FuzzAuthorizationHeader(f *testing.F) {
	st, err := store.Open(context.Background(), store.DefaultConfig(filepath.Join(f.TempDir(), "db")))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.Enabled, cfg.BcryptCost = true, 4
	cfg.AMI.Address, cfg.AMI.Username, cfg.AMI.Secret = "127.0.0.1:1", "sb", "amipw"
	svc, err := New(cfg, slog.New(slog.DiscardHandler), st)
	if err != nil {
		f.Fatal(err)
	}
	name, pw, ext, display := "alice", "alice-password", "201", "Alice"
	eps := []Endpoint{{ID: ext, Type: "physical"}}
	if _, err := svc.dir.CreateUser(context.Background(), store.System, userInput{Username: &name, Password: &pw, Name: &display,
		MainExtension: &ext, Endpoints: &eps}); err != nil {
		f.Fatal(err)
	}
	tok := Token("alice", pw, "0123456789abcdef")
	svc.grants.Add("alice", tok, "session")
	for _, h := range []string{"alice:" + tok, " alice : " + tok + " ", "201:" + tok, "alice@example.org:" + tok, "alice:" + tok + "x",
		"bob:" + tok, ":" + tok, "alice:", "alice", "", "alice:" + strings.Repeat("a", 40), "alice:" + strings.Repeat("0", 64), "a:b:c"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest(http.MethodGet, "/webrest/user/me", nil)
		r.Header.Set("Authorization", h)
		c, ok := svc.authenticate(r)
		if !ok {
			return
		}
		_, token, _ := strings.Cut(h, ":")
		if c.user.Username != "alice" || strings.TrimSpace(token) != tok {
			t.Fatalf("%q let in as %q", h, c.user.Username)
		}
	})
}
