package cti

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// Another package's route mounted with Mount gets the logged-in user, and
// only a logged-in user reaches it.
func TestMountUserRoute(t *testing.T) {
	e := newEnv(t, nil)
	err := e.svc.Mount("GET /webrest/phonebook/search/{term}", func(w http.ResponseWriter, r *http.Request, c Caller) error {
		if r.PathValue("term") == "bad" {
			return httpapi.Errorf(http.StatusBadRequest, "term", "bad term")
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": c.Username, "name": c.Name, "exts": c.Extensions,
			"owns201": c.Owns("201"), "hangup": c.Has("hangup"), "panel": c.MacroOn("operator_panel")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"GET /api/v1/x", "/webrest/x", "GET /webrest/phonebook/search/{term}"} {
		if err := e.svc.Mount(bad, func(http.ResponseWriter, *http.Request, Caller) error { return nil }); err == nil {
			t.Fatalf("Mount(%q) accepted", bad)
		}
	}
	if code, _ := e.do("GET", "/webrest/phonebook/search/x", "", "", ""); code != 401 {
		t.Fatalf("anonymous: %d", code)
	}
	if code, _ := e.do("GET", "/webrest/phonebook/search/x", "alice", "0000000000000000000000000000000000000000", ""); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	tok := e.login("alice", "alice-password")
	code, body := e.do("GET", "/webrest/phonebook/search/x", "alice", tok, "")
	var got struct {
		User, Name    string
		Exts          []string
		Owns201       bool
		Hangup, Panel bool
	}
	if code != 200 || json.Unmarshal(body, &got) != nil {
		t.Fatalf("alice: %d %s", code, body)
	}
	if got.User != "alice" || got.Name != "Alice" || len(got.Exts) != 2 || got.Exts[0] != "201" || !got.Owns201 || !got.Hangup || !got.Panel {
		t.Fatalf("caller: %s", body)
	}
	code, body = e.do("GET", "/webrest/phonebook/search/bad", "alice", tok, "")
	if code != 400 || string(body) != `{"error":"bad term","field":"term"}`+"\n" {
		t.Fatalf("error: %d %s", code, body)
	}
	// Bob's profile has the macro off: its permission does not hold.
	btok := e.login("bob", "bob-password")
	code, body = e.do("GET", "/webrest/phonebook/search/x", "bob", btok, "")
	if code != 200 || json.Unmarshal(body, &got) != nil || got.User != "bob" || got.Hangup || got.Owns201 {
		t.Fatalf("bob: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "bob:"+btok)
	if c, ok := e.svc.Authenticate(req); !ok || c.Username != "bob" {
		t.Fatalf("Authenticate: %+v %v", c, ok)
	}
	req.Header.Set("Authorization", "bob:"+tok)
	if _, ok := e.svc.Authenticate(req); ok {
		t.Fatal("Authenticate accepted alice's token for bob")
	}
}
