package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/siotest"
)

// The CTI through the real daemon: config section, CLI verbs over the control
// socket, /webrest and /socket.io on the HTTPS listener, against the AMI double.
func TestCTIThroughDaemon(t *testing.T) {
	ami, err := amitest.Start("sb", "amipw")
	if err != nil {
		t.Fatal(err)
	}
	defer ami.Close()
	ami.SetEndpoint("201", "Not in use")
	d := newDaemon(t, fmt.Sprintf("tenancy:\n  mode: multi\ncti:\n  enabled: true\n  bcrypt_cost: 4\n  ami:\n    address: %q\n    username: sb\n    secret: amipw\n", ami.Addr()))
	d.start()

	for _, args := range [][]string{
		{"cti", "profile", "set", "operator", "--macro", "presence_panel=on", "--macro", "operator_panel=on", "--perm", "operator_panel.hangup=on"},
		{"cti", "user", "add", "alice", "--extension", "201", "--endpoint", "201:physical", "--endpoint", "9201:webrtc", "--profile", "operator", "--name", "Alice", "--password-stdin"},
	} {
		if out, errOut, code := d.cli("alice-password\n", args...); code != 0 {
			t.Fatalf("%v: exit %d %s %s", args, code, out, errOut)
		}
	}
	// Bad input is refused with the field named and changes nothing.
	if _, errOut, code := d.cli("pw-long-enough\n", "cti", "user", "add", "bob", "--endpoint", "202:deskphone", "--password-stdin"); code != 1 || !strings.Contains(errOut, "endpoints[0].type") {
		t.Fatalf("bad endpoint type: %d %s", code, errOut)
	}
	out, _, code := d.cli("", "cti", "user", "list")
	if code != 0 || !strings.Contains(out, "alice") || strings.Contains(out, "bob") || !strings.Contains(out, "201:physical") {
		t.Fatalf("cti user list: %d\n%s", code, out)
	}
	// Over HTTPS: admins manage CTI users, auditors read them, tenant admins do not see them.
	d.addAdmin("root", "root-password-1")
	for _, args := range [][]string{
		{"tenant", "add", "acme"},
		{"user", "add", "pbx-admin", "--role", "tenant_admin", "--tenant", "acme", "--password-stdin"},
		{"user", "add", "aud", "--role", "auditor", "--password-stdin"},
	} {
		if out, errOut, code := d.cli("other-password-1\n", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	if code, _, _, _ := d.request("GET", "/api/v1/cti/users", d.login("pbx-admin", "other-password-1"), nil); code != 403 {
		t.Fatalf("tenant admin lists CTI users: %d", code)
	}
	aud := d.login("aud", "other-password-1")
	if code, _, _, _ := d.request("GET", "/api/v1/cti/profiles", aud, nil); code != 200 {
		t.Fatalf("auditor reads CTI profiles: %d", code)
	}
	if code, _, _, _ := d.request("DELETE", "/api/v1/cti/users/alice", aud, nil); code != 403 {
		t.Fatalf("auditor deletes a CTI user: %d", code)
	}
	root := d.login("root", "root-password-1")
	if code, out, _, _ := d.request("POST", "/api/v1/cti/users", root, map[string]any{"username": "carl", "password": "short"}); code != 400 || out["field"] != "password" {
		t.Fatalf("short password: %d %v", code, out)
	}
	if code, out, _, _ := d.request("POST", "/api/v1/cti/users", root, map[string]any{"username": "carl", "password": "long-enough-1", "mainextension": "201"}); code != 409 || out["field"] != "endpoints" {
		t.Fatalf("taken extension: %d %v", code, out)
	}
	if code, out, _, _ := d.request("PUT", "/api/v1/cti/profiles/x", root, map[string]any{"macro_permissions": map[string]any{"a": map[string]any{"value": "yes"}}}); code != 400 {
		t.Fatalf("bad profile: %d %v", code, out)
	}

	out, _, _ = d.cli("", "audit", "list", "--type", "cti_user")
	if !strings.Contains(out, "alice") {
		t.Fatalf("CTI user creation not audited:\n%s", out)
	}

	// nethcti login over HTTPS.
	resp, err := insecure.Post("https://"+d.https+"/webrest/authentication/login", "application/json", strings.NewReader(`{"username":"alice","password":"alice-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
	if resp.StatusCode != 401 || !ok {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Header)
	}
	tok := cti.Token("alice", "alice-password", nonce)
	req, _ := http.NewRequest("GET", "https://"+d.https+"/webrest/user/me", nil)
	req.Header.Set("Authorization", "alice:"+tok)
	resp, err = insecure.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"mainextension"`) {
		t.Fatalf("user/me: %d %s", resp.StatusCode, body)
	}

	// socket.io on the HTTPS listener.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sock, err := siotest.DialClient(ctx, "https://"+d.https, insecure)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if err := sock.Login(ctx, "alice", tok, "desktop"); err != nil {
		t.Fatal(err)
	}
	ami.Emit(amitest.DeviceState("201", "INUSE"))
	for {
		ev, err := sock.Wait(ctx, "extenUpdate")
		if err != nil {
			t.Fatalf("no extenUpdate: %v", err)
		}
		var x struct{ Exten, Status string }
		json.Unmarshal(ev.Data, &x)
		if x.Exten == "201" && x.Status == "busy" {
			break
		}
	}

	out, _, code = d.cli("", "cti", "dump")
	var dump map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &dump) != nil || dump["ami_up"] != true || dump["sockets"].(float64) != 1 {
		t.Fatalf("cti dump: %d %s", code, out)
	}
	mresp, err := insecure.Get("https://" + d.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), "switchboard_cti_ami_up 1") || !strings.Contains(string(metrics), "switchboard_cti_sockets 1") {
		t.Fatalf("metrics lack the CTI gauges")
	}
	if out, errOut, code := d.cli("", "cti", "reload"); code != 0 {
		t.Fatalf("cti reload: %d %s %s", code, out, errOut)
	}
}

// With the default configuration the CTI does not exist.
func TestCTIOffByDefault(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	code, _, _, err := d.request("GET", "/webrest/user/me", "", nil)
	if err != nil || code != 404 {
		t.Fatalf("/webrest with cti disabled: %d %v", code, err)
	}
	if _, _, code := d.cli("", "cti", "dump"); code != 1 {
		t.Fatalf("cti dump with cti disabled: exit %d", code)
	}
	if strings.Contains(d.stderr.String(), "cti:") {
		t.Fatalf("cti logged while disabled:\n%s", d.stderr.String())
	}
}
