package admin

import (
	"net/http"
	"testing"
)

// Users have an e-mail address; a supervisor (notified of call-center
// exports) needs one.
func TestUserEmailAndSupervisor(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusCreated, "POST", "/api/v1/users", e.adminTk,
		obj{"username": "sup", "password": "long-enough-1", "role": "auditor", "email": "sup@example.com", "supervisor": true})
	if m := r.obj(t); m["email"] != "sup@example.com" || m["supervisor"] != true {
		t.Fatalf("%s", r.raw)
	}
	wantError(t, e.do("POST", "/api/v1/users", e.adminTk, obj{"username": "x", "password": "long-enough-1", "role": "auditor",
		"email": "not an address"}), http.StatusBadRequest, "email")
	wantError(t, e.do("POST", "/api/v1/users", e.adminTk, obj{"username": "y", "password": "long-enough-1", "role": "auditor",
		"supervisor": true}), http.StatusBadRequest, "email")
	// Removing the address of a supervisor is refused; unmarking first works.
	wantError(t, e.do("PATCH", "/api/v1/users/sup", e.adminTk, obj{"email": ""}), http.StatusBadRequest, "email")
	r = e.must(http.StatusOK, "PATCH", "/api/v1/users/sup", e.adminTk, obj{"email": "", "supervisor": false})
	if m := r.obj(t); m["email"] != "" || m["supervisor"] != false {
		t.Fatalf("%s", r.raw)
	}
}
