package cti

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/cdr"
)

// cdr is an AMI Cdr event as cdr_manager sends it.
func cdrEvent(uid, src, dst, cid, start string, dur, bill int, disp string) Fields {
	return M("Event", "Cdr", "Privilege", "cdr,all", "AccountCode", "", "Source", src, "Destination", dst,
		"DestinationContext", "from-internal", "CallerID", cid, "Channel", "PJSIP/"+src+"-00000001",
		"DestinationChannel", "PJSIP/"+dst+"-00000002", "LastApplication", "Dial", "LastData", "PJSIP/"+dst,
		"StartTime", start, "AnswerTime", start, "EndTime", start, "Duration", itoa(dur), "BillableSeconds", itoa(bill),
		"Disposition", disp, "AMAFlags", "DOCUMENTATION", "UniqueID", uid, "UserField", "")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestHistoryInterval(t *testing.T) {
	e := newEnv(t, nil)
	day := time.Now().Format("2006-01-02")
	ymd := time.Now().Format("20060102")
	e.ami.EmitAll(
		cdrEvent("1.1", "201", "202", `"Alice" <201>`, day+" 09:00:00", 60, 55, "ANSWERED"),
		cdrEvent("1.2", "0611", "202", `"ACME" <0611>`, day+" 10:00:00", 30, 0, "NO ANSWER"),
		cdrEvent("1.3", "202", "203", `"Bob" <202>`, day+" 11:00:00", 20, 18, "ANSWERED"),
		cdrEvent("1.3", "202", "203", `"Bob" <202>`, day+" 11:00:00", 20, 18, "ANSWERED"), // re-sent: no duplicate
		cdrEvent("1.4", "201", "204", `"Alice" <201>`, day+" 12:00:00", 5, 5, "ANSWERED"),
	)
	tok := e.login("bob", "bob-password")
	type resp struct {
		Count int       `json:"count"`
		Rows  []cdr.Row `json:"rows"`
	}
	get := func(path string) (int, resp) {
		code, body := e.do("GET", path, "bob", tok, "")
		var r resp
		json.Unmarshal(body, &r)
		return code, r
	}
	var r resp
	eventually(t, "CDRs stored", func() bool {
		_, r = get("/webrest/historycall/interval/user/bob/" + ymd + "/" + ymd)
		return r.Count == 3
	})
	if r.Rows[0].Uniqueid != "1.3" || r.Rows[0].Direction != "out" || r.Rows[2].Cnam != "Alice" || r.Rows[2].Direction != "in" {
		t.Fatalf("rows: %+v", r.Rows)
	}
	if _, r = get("/webrest/historycall/interval/extension/202/" + ymd + "/" + ymd + "?direction=in&limit=1"); r.Count != 2 || len(r.Rows) != 1 {
		t.Fatalf("direction=in: %+v", r)
	}
	if _, r = get("/webrest/historycall/interval/user/bob/" + ymd + "/" + ymd + "/ACM"); r.Count != 1 || r.Rows[0].Disposition != "NO ANSWER" {
		t.Fatalf("filter: %+v", r)
	}
	for path, want := range map[string]int{
		"/webrest/historycall/interval/user/alice/" + ymd + "/" + ymd:            403, // no cdr macro
		"/webrest/historycall/interval/extension/204/" + ymd + "/" + ymd:         403,
		"/webrest/historycall/interval/user/bob/2026-01-01/" + ymd:               400,
		"/webrest/historycall/interval/user/bob/" + ymd + "/20000101":            400,
		"/webrest/historycall/interval/group/bob/" + ymd + "/" + ymd:             400,
		"/webrest/historycall/interval/user/bob/" + ymd + "/" + ymd + "?limit=0": 400,
	} {
		if code, _ := get(path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}
