package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
)

// The CTI's call history through the real daemon reads the PBX's CDR
// database (a real MariaDB) when tasks.cdr.dsn is set (cti.history.source
// auto), while the exports still read the CTI's own CDRs (tasks.cdr.source
// ami).
func TestCTIHistoryFromPBXThroughDaemon(t *testing.T) {
	srv := mariadbtest.Start(t)
	raw := srv.DB(t, "asteriskcdrdb")
	day := time.Now().Format("2006-01-02")
	if _, err := raw.Exec(`INSERT INTO cdr (calldate, clid, src, dst, channel, dstchannel, lastapp, duration, billsec, disposition,
		uniqueid, linkedid, sequence, cnum, cnam) VALUES
		(?, '"Verdi" <0655>', '0655', '201', 'PJSIP/trunk-1', 'PJSIP/201-2', 'Dial', 33, 30, 'ANSWERED', '9.1', '9.1', 1, '0655', 'Verdi'),
		(?, '"Bob" <202>', '202', '203', 'PJSIP/202-3', 'PJSIP/203-4', 'Dial', 5, 4, 'ANSWERED', '9.2', '9.2', 2, '202', 'Bob')`,
		day+" 08:00:00", day+" 08:30:00"); err != nil {
		t.Fatal(err)
	}
	ami, err := amitest.Start("sb", "amipw")
	if err != nil {
		t.Fatal(err)
	}
	defer ami.Close()
	ami.SetEndpoint("201", "Not in use")
	d := newDaemon(t, fmt.Sprintf("cti:\n  enabled: true\n  bcrypt_cost: 4\n  trunks: [trunk]\n  ami:\n    address: %q\n    username: sb\n    secret: amipw\n"+
		"tasks:\n  cdr:\n    dsn: %q\n", ami.Addr(), srv.DSN("asteriskcdrdb")))
	d.start()
	if out, errOut, code := d.cli("alice-password\n", "cti", "user", "add", "alice", "--extension", "201", "--endpoint", "201:physical",
		"--name", "Alice", "--password-stdin"); code != 0 {
		t.Fatalf("cti user add: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(d.stderr.String(), "call history from the PBX database") {
		t.Errorf("the daemon does not say where the history comes from:\n%s", d.stderr.String())
	}

	resp, err := insecure.Post("https://"+d.https+"/webrest/authentication/login", "application/json", strings.NewReader(`{"username":"alice","password":"alice-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	nonce, _ := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
	tok := cti.Token("alice", "alice-password", nonce)
	ymd := time.Now().Format("20060102")
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", "https://"+d.https+path, nil)
		req.Header.Set("Authorization", "alice:"+tok)
		resp, err := insecure.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// No Cdr event ever reached the CTI: these rows are the PBX's.
	code, body := get("/webrest/historycall/interval/user/alice/" + ymd + "/" + ymd)
	var r struct {
		Count int `json:"count"`
		Rows  []struct {
			Uniqueid, Cnam, Direction, Type string
			Billsec                         int
		} `json:"rows"`
	}
	if err := json.Unmarshal(body, &r); err != nil || code != 200 || r.Count != 1 || r.Rows[0].Uniqueid != "9.1" || r.Rows[0].Cnam != "Verdi" ||
		r.Rows[0].Direction != "in" || r.Rows[0].Type != "in" || r.Rows[0].Billsec != 30 {
		t.Fatalf("alice's history: %d %s", code, body)
	}
	// Someone else's call stays hidden; the switchboard history needs ad_cdr.
	if code, body := get("/webrest/histcallswitch/interval/" + ymd + "/" + ymd); code != 403 {
		t.Fatalf("switchboard history without ad_cdr: %d %s", code, body)
	}
}
