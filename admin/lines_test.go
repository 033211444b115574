package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestDeviceLinesKeysAPI: the devices API takes and shows lines and keys, and
// refuses what the model cannot hold with the field named; keys travel as CSV.
func TestDeviceLinesKeysAPI(t *testing.T) {
	e := newEnv(t, singleTenant())
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { e.prov.Serve(ctx); close(served) }()
	t.Cleanup(func() { cancel(); <-served })
	tb := "/api/v1/tenants/default"
	var ids []string
	for _, x := range []string{"501", "502"} {
		a := e.must(http.StatusCreated, "POST", tb+"/accounts", e.adminTk, obj{"extension": x, "sip_password": "pw-" + x + "-Strong"}).obj(t)
		ids = append(ids, a["id"].(string))
	}
	d := e.must(http.StatusCreated, "POST", tb+"/devices", e.adminTk, obj{
		"mac": "00:15:65:00:05:01", "model": "yealink-t54w",
		"lines": []obj{{"account": ids[0]}, {"account": ids[1], "label": "Sales"}},
		"keys":  []obj{{"type": "blf", "value": "502", "label": "Bob"}, {"type": "park", "value": "701", "module": 1, "index": 60}},
	}).obj(t)
	if d["account"] != ids[0] || d["file"] != "001565000501.cfg" {
		t.Fatalf("device %v", d)
	}
	got := e.must(http.StatusOK, "GET", tb+"/devices/"+d["id"].(string), e.adminTk, nil).obj(t)
	lines, _ := got["lines"].([]any)
	keys, _ := got["keys"].([]any)
	if len(lines) != 2 || len(keys) != 2 || keys[0].(obj)["index"].(float64) != 1 {
		t.Fatalf("lines %v keys %v", lines, keys)
	}
	r := e.do("PATCH", tb+"/devices/"+d["id"].(string), e.adminTk, obj{"keys": []obj{{"type": "blf", "value": "1", "module": 4, "index": 1}}})
	wantError(t, r, http.StatusBadRequest, "keys")
	r = e.do("PATCH", tb+"/devices/"+d["id"].(string), e.adminTk, obj{"lines": []obj{{"account": "nope"}}})
	wantError(t, r, http.StatusBadRequest, "account")
	csv := e.must(http.StatusOK, "GET", tb+"/device-keys.csv", e.adminTk, nil)
	if !strings.Contains(string(csv.raw), "00:15:65:00:05:01,1,60,park,701,,1") {
		t.Fatalf("keys CSV:\n%s", csv.raw)
	}
	r = e.doCT("POST", tb+"/device-keys.csv", e.adminTk, "text/csv", "mac,type,value\n00:15:65:00:05:01,speed_dial,\n")
	wantError(t, r, http.StatusBadRequest, "keys")
	r = e.doCT("POST", tb+"/device-keys.csv", e.adminTk, "text/csv", "mac,type,value\n00:15:65:00:05:01,speed_dial,0612\n")
	if r.code != http.StatusOK || !strings.Contains(string(r.raw), `"updated": 1`) {
		t.Fatalf("keys import: %d %s", r.code, r.raw)
	}
	f := e.must(http.StatusOK, "GET", tb+"/files/001565000501.cfg", e.adminTk, nil).obj(t)
	body, _ := f["content"].(string)
	for _, want := range []string{"account.2.label = Sales\n", "linekey.1.type = 13\n", "linekey.2.type = 15\n", "linekey.2.line = 2\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("file lacks %q:\n%s", want, body)
		}
	}
}

// TestPBXSecretsMaskedForAuditors: the phone admin password is generated for
// each tenant, masked for every role that reads the settings, and revealed
// (audited) only to writers.
func TestPBXSecretsMaskedForAuditors(t *testing.T) {
	e := newEnv(t)
	e.createUser("aud", "aud-password", RoleAuditor, "")
	aud := e.login("aud", "aud-password")
	path := "/api/v1/tenants/" + e.def.ID + "/pbx"
	rev := e.must(http.StatusOK, "POST", path+"/reveal", e.adminTk, nil).obj(t)
	pw, _ := rev["phone_admin_password"].(string)
	if len(pw) < 12 || pw == "********" {
		t.Fatalf("admin reveals %q", pw)
	}
	for _, tk := range []string{e.adminTk, aud} {
		masked := e.must(http.StatusOK, "GET", path, tk, nil)
		if strings.Contains(string(masked.raw), pw) || masked.obj(t)["phone_admin_password"] != "********" {
			t.Fatalf("a reader sees %s", masked.raw)
		}
	}
	if r := e.do("POST", path+"/reveal", aud, nil); r.code != http.StatusForbidden {
		t.Fatalf("auditor reveal: %d %s", r.code, r.raw)
	}
	wantError(t, e.do("PATCH", path, e.adminTk, obj{"phone_admin_password": "1234"}), http.StatusBadRequest, "phone_admin_password")
}
