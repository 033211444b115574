package cti

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	. "github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
	"github.com/switchboard-pbx/switchboard/report/pbxdb"
	"github.com/switchboard-pbx/switchboard/store"
)

// leg is one CDR of a call, as Asterisk sends it on AMI (cdr_manager with
// LinkedID and Sequence) and writes it to the PBX's cdr table.
type leg struct {
	uid, linked string
	seq         int
	src, dst    string
	clid        string
	ch, dstch   string
	app         string
	start       string // local time
	dur, bill   int
	disp, uf    string
}

func (l leg) event() Fields {
	return M("Event", "Cdr", "Privilege", "cdr,all", "AccountCode", "", "Source", l.src, "Destination", l.dst,
		"DestinationContext", "from-internal", "CallerID", l.clid, "Channel", l.ch, "DestinationChannel", l.dstch,
		"LastApplication", l.app, "LastData", "", "StartTime", l.start, "AnswerTime", l.start, "EndTime", l.start,
		"Duration", strconv.Itoa(l.dur), "BillableSeconds", strconv.Itoa(l.bill), "Disposition", l.disp,
		"AMAFlags", "DOCUMENTATION", "UniqueID", l.uid, "UserField", l.uf, "LinkedID", l.linked, "Sequence", strconv.Itoa(l.seq))
}

// insert writes the leg as FreePBX's cdr_adaptive_odbc does (cnum and cnam
// split from clid).
func (l leg) insert(t *testing.T, db *sql.DB) {
	t.Helper()
	cnam, cnum := "", l.clid
	if i := len(l.clid) - 1; i > 0 && l.clid[i] == '>' {
		for j := i; j >= 0; j-- {
			if l.clid[j] == '<' {
				cnum = l.clid[j+1 : i]
				cnam = l.clid[:j]
				for len(cnam) > 0 && (cnam[len(cnam)-1] == ' ' || cnam[len(cnam)-1] == '"') {
					cnam = cnam[:len(cnam)-1]
				}
				for len(cnam) > 0 && cnam[0] == '"' {
					cnam = cnam[1:]
				}
				break
			}
		}
	}
	if _, err := db.Exec(`INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, duration, billsec,
		disposition, amaflags, uniqueid, userfield, cnum, cnam, linkedid, sequence) VALUES (?,?,?,?,'from-internal',?,?,?,?,?,?,3,?,?,?,?,?,?)`,
		l.start, l.clid, l.src, l.dst, l.ch, l.dstch, l.app, l.dur, l.bill, l.disp, l.uid, l.uf, cnum, cnam, l.linked, l.seq); err != nil {
		t.Fatal(err)
	}
}

type histResp struct {
	Count int       `json:"count"`
	Rows  []cdr.Row `json:"rows"`
}

// TestHistoryFromPBXDatabase drives the history endpoints over HTTP through
// the real CTI service with the history read from a real MariaDB holding
// FreePBX's cdr table: for every form the clients send, the answer is the
// one the CTI's own CDRs of the same calls give; calls only the PBX saw are
// there too; the permission rules hold.
func TestHistoryFromPBXDatabase(t *testing.T) {
	srv := mariadbtest.Start(t)
	raw := srv.DB(t, "asteriskcdrdb")
	pdb, err := pbxdb.Open(pbxdb.Config{DSN: srv.DSN("asteriskcdrdb"), Location: time.Local})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pdb.Close() })

	e := newEnv(t, nil)
	ctx := context.Background()
	// erin supervises: the switchboard's and her groups' history; she and bob
	// are in sales.
	if _, err := e.svc.dir.PutProfile(ctx, store.System, Profile{ID: "supervisor", MacroPermissions: map[string]Macro{
		"cdr": {Value: true, Permissions: []Permission{{"ad_cdr", true}, {"group_cdr", true}}},
	}}); err != nil {
		t.Fatal(err)
	}
	name, pw, ext, prof, groups := "erin", "erin-password", "205", "supervisor", []string{"sales"}
	eps := []Endpoint{{ID: ext, Type: "physical"}}
	if _, err := e.svc.dir.CreateUser(ctx, store.System, userInput{Username: &name, Password: &pw, Name: &name,
		MainExtension: &ext, Endpoints: &eps, Profile: &prof, Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.dir.UpdateUser(ctx, store.System, "bob", userInput{Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.dir.Load(ctx); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	day, yday := now.Format("2006-01-02"), now.AddDate(0, 0, -1).Format("2006-01-02")
	ymd, yymd := now.Format("20060102"), now.AddDate(0, 0, -1).Format("20060102")
	legs := []leg{
		{"1.1", "1.1", 1, "201", "202", `"Alice" <201>`, "PJSIP/201-01", "PJSIP/202-02", "Dial", day + " 09:00:00", 60, 55, "ANSWERED", ""},
		{"1.2", "1.2", 2, "0611", "202", `"ACME" <0611>`, "PJSIP/provider1-03", "PJSIP/202-04", "Dial", day + " 10:00:00", 30, 0, "NO ANSWER", ""},
		{"1.3", "1.3", 3, "202", "203", `"Bob" <202>`, "PJSIP/202-05", "PJSIP/203-06", "Dial", day + " 11:00:00", 20, 18, "ANSWERED", ""},
		{"1.4", "1.4", 4, "201", "204", `"Alice" <201>`, "PJSIP/201-07", "PJSIP/204-08", "Dial", day + " 12:00:00", 5, 5, "ANSWERED", ""},
		// A queue call from outside answered by bob, after ringing carol.
		{"2.1", "2.1", 10, "0622", "401", `"Rossi" <0622>`, "PJSIP/provider1-09", "Local/202@from-queue-0a;1", "Queue", day + " 13:00:00", 45, 35, "ANSWERED", ""},
		{"2.2", "2.1", 11, "0622", "202", `"Rossi" <0622>`, "Local/202@from-queue-0a;2", "PJSIP/202-0b", "Dial", day + " 13:00:05", 40, 35, "ANSWERED", ""},
		{"2.3", "2.1", 12, "0622", "203", `"Rossi" <0622>`, "Local/203@from-queue-0c;2", "PJSIP/203-0d", "Dial", day + " 13:00:05", 10, 0, "NO ANSWER", ""},
		// One uniqueid: not answered at first, then answered (one call).
		{"3.1", "3.1", 20, "202", "204", `"Bob" <202>`, "PJSIP/202-0e", "PJSIP/204-0f", "Dial", day + " 14:00:00", 15, 0, "NO ANSWER", ""},
		{"3.1", "3.1", 21, "202", "204", `"Bob" <202>`, "PJSIP/202-0e", "PJSIP/204-10", "Dial", day + " 14:00:15", 25, 20, "ANSWERED", ""},
		{"4.1", "4.1", 30, "202", "0039333", `"Bob" <202>`, "PJSIP/202-11", "PJSIP/provider1-12", "Dial", day + " 15:00:00", 100, 90, "ANSWERED", "out-rec.wav"},
		{"5.1", "5.1", 40, "201", "202", `"Alice" <201>`, "PJSIP/201-13", "PJSIP/202-14", "Dial", yday + " 16:00:00", 10, 9, "ANSWERED", ""},
	}
	var evs []Fields
	for _, l := range legs {
		evs = append(evs, l.event())
		l.insert(t, raw)
	}
	e.ami.EmitAll(evs...)
	eventually(t, "the CTI's own CDRs stored", func() bool {
		h := e.svc.historyDB()
		if h == nil {
			return false
		}
		n := 0
		for _, l := range legs {
			c, _ := h.CallLegs(ctx, l.linked)
			n += c
		}
		// CallLegs counts every leg of a call once per leg listed.
		return n == 1+1+1+1+3*3+2*2+1+1
	})

	toks := map[string]string{"bob": e.login("bob", "bob-password"), "erin": e.login("erin", "erin-password")}
	get := func(user, path string) (int, string) {
		code, body := e.do("GET", path, user, toks[user], "")
		return code, string(body)
	}
	decode := func(t *testing.T, body string) histResp {
		t.Helper()
		var r histResp
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return r
	}
	hc := "/webrest/historycall/interval/"
	sw := "/webrest/histcallswitch/interval/" + ymd + "/" + ymd
	gr := "/webrest/histcallsgroups/interval/" + ymd + "/" + ymd
	forms := []struct{ user, path string }{
		{"bob", hc + "user/bob/" + ymd + "/" + ymd},
		{"bob", hc + "user/bob/" + yymd + "/" + ymd},
		{"bob", hc + "user/bob/" + yymd + "/" + yymd},
		{"bob", hc + "extension/202/" + ymd + "/" + ymd + "?direction=in"},
		{"bob", hc + "extension/202/" + ymd + "/" + ymd + "?direction=out"},
		{"bob", hc + "extension/202/" + ymd + "/" + ymd + "?direction=lost"},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?limit=2&offset=1"},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?limit=2&offset=40"},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "/ACM"},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "/" + url.PathEscape("Ross")},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?sort=" + url.QueryEscape("duration asc")},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?sort=" + url.QueryEscape("billsec desc")},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?removeLostCalls=true"},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?removeLostCalls=undefined&type=out"},
		{"bob", hc + "user/bob/" + ymd + "/" + ymd + "?sort=bogus"},
		{"bob", hc + "user/alice/" + ymd + "/" + ymd},
		{"bob", sw},
		{"erin", sw},
		{"erin", sw + "?type=in"},
		{"erin", sw + "?type=internal&sort=" + url.QueryEscape("src asc")},
		{"erin", sw + "/Rossi"},
		{"erin", gr},
		{"erin", gr + "?sort=" + url.QueryEscape("time asc")},
		{"erin", hc + "user/bob/" + ymd + "/" + ymd},
	}
	type answer struct {
		code int
		body string
	}
	local := map[int]answer{}
	for i, f := range forms {
		code, body := get(f.user, f.path)
		local[i] = answer{code, body}
	}
	e.svc.SetHistorySource(pdb)
	for i, f := range forms {
		code, body := get(f.user, f.path)
		if code != local[i].code || body != local[i].body {
			t.Errorf("%s %s:\n local %d %s\n pbx   %d %s", f.user, f.path, local[i].code, local[i].body, code, body)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// What the PBX's rows say.
	at := func(hms string) int64 {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", day+" "+hms, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	code, body := get("bob", hc+"user/bob/"+ymd+"/"+ymd)
	all := decode(t, body)
	var ids []string
	for _, r := range all.Rows {
		ids = append(ids, r.Uniqueid+"/"+r.Direction+"/"+r.Type)
		if !slices.Contains([]string{"202", "9202"}, r.Cnum) && !slices.Contains([]string{"202", "9202"}, r.Dst) &&
			!slices.Contains([]string{"202", "9202"}, r.Src) {
			t.Errorf("bob sees a call not of his extensions: %+v", r)
		}
	}
	if want := "[4.1/out/out 3.1/out/internal 2.2/in/internal 1.3/out/internal 1.2/in/in 1.1/in/internal]"; code != 200 || all.Count != 6 || fmt.Sprint(ids) != want {
		t.Fatalf("bob's day: %d %d %v, want %s", code, all.Count, ids, want)
	}
	out, merged, queued, lost, first := all.Rows[0], all.Rows[1], all.Rows[2], all.Rows[4], all.Rows[5]
	if out.Time != at("15:00:00") || out.Dst != "0039333" || out.Billsec != 90 || out.Recordingfile != "out-rec.wav" || out.Cnam != "Bob" {
		t.Errorf("outgoing call: %+v", out)
	}
	if merged.Disposition != "ANSWERED" || merged.Duration != 25 || merged.Billsec != 20 || merged.Time != at("14:00:15") {
		t.Errorf("call answered on its second leg: %+v", merged)
	}
	if queued.Queue != "401" || queued.Linkedid != "2.1" || queued.Cnum != "0622" || queued.Cnam != "Rossi" || queued.Billsec != 35 {
		t.Errorf("queue call: %+v", queued)
	}
	if lost.Disposition != "NO ANSWER" || lost.Cnam != "ACME" || lost.Time != at("10:00:00") {
		t.Errorf("lost call: %+v", lost)
	}
	if first.Cnum != "201" || first.Cnam != "Alice" || first.Duration != 60 || first.Billsec != 55 || first.Clid != `"Alice" <201>` {
		t.Errorf("first call: %+v", first)
	}
	// Pages are slices of the whole list.
	_, body = get("bob", hc+"user/bob/"+ymd+"/"+ymd+"?limit=2&offset=2")
	if p := decode(t, body); p.Count != 6 || len(p.Rows) != 2 || p.Rows[0].Uniqueid != "2.2" || p.Rows[1].Uniqueid != "1.3" {
		t.Errorf("page 2: %+v", p)
	}
	// The groups' history is bob's and erin's extensions only.
	_, body = get("erin", gr)
	for _, r := range decode(t, body).Rows {
		if r.Cnum != "202" && r.Dst != "202" && r.Src != "202" && r.Cnum != "205" && r.Dst != "205" {
			t.Errorf("groups' history: %+v", r)
		}
	}
	// The switchboard's history is every call of the day: 2.3 (the queue
	// ringing carol, not answered) is a row of its own.
	if _, body = get("erin", sw); decode(t, body).Count != 9 {
		t.Errorf("switchboard: %s", body)
	}

	// A call the appliance never saw (it was down): only the PBX has it.
	if _, err := raw.Exec(`INSERT INTO cdr (calldate, clid, src, dst, channel, dstchannel, lastapp, duration, billsec, disposition,
		uniqueid, linkedid, sequence, cnum, cnam, dst_cnam, recordingfile) VALUES (?, '"Verdi" <0655>', '0655', '202',
		'PJSIP/provider1-20', 'PJSIP/202-21', 'Dial', 33, 30, 'ANSWERED', '9.1', '9.1', 90, '0655', 'Verdi', 'Bob', 'in-202.wav')`,
		day+" 08:00:00"); err != nil {
		t.Fatal(err)
	}
	_, body = get("bob", hc+"user/bob/"+ymd+"/"+ymd+"?sort="+url.QueryEscape("time asc")+"&limit=1")
	if r := decode(t, body); r.Count != 7 || r.Rows[0].Uniqueid != "9.1" || r.Rows[0].DstCnam != "Bob" || r.Rows[0].Recordingfile != "in-202.wav" ||
		r.Rows[0].Type != "in" || r.Rows[0].Direction != "in" || r.Rows[0].Time != at("08:00:00") {
		t.Errorf("the PBX-only call: %s", body)
	}
	// Back to the CTI's own CDRs: they never had it.
	e.svc.SetHistorySource(nil)
	if _, body = get("bob", hc+"user/bob/"+ymd+"/"+ymd); decode(t, body).Count != 6 {
		t.Errorf("local history after the PBX-only call: %s", body)
	}

	// Permissions: the same as the local history's.
	e.svc.SetHistorySource(pdb)
	for path, want := range map[string]int{
		hc + "user/alice/" + ymd + "/" + ymd:     403,
		hc + "extension/201/" + ymd + "/" + ymd:  403,
		sw:                                       403,
		gr:                                       403,
		hc + "extension/9202/" + ymd + "/" + ymd: 200,
		hc + "user/bob/" + ymd + "/" + ymd + "?sort=" + url.QueryEscape("time; DROP TABLE cdr"): 400,
		hc + "user/bob/" + ymd + "/" + ymd + "?limit=5000":                                      400,
	} {
		if code, body := get("bob", path); code != want {
			t.Errorf("%s: %d %s, want %d", path, code, body, want)
		}
	}
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM cdr").Scan(&n); err != nil || n != len(legs)+1 {
		t.Fatalf("the cdr table after the requests: %d rows, %v", n, err)
	}

	// A PBX database that does not answer: 503, never a 500 or a hang.
	down, err := pbxdb.Open(pbxdb.Config{DSN: "reader:pw@tcp(127.0.0.1:1)/asteriskcdrdb?timeout=2s", Location: time.Local})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	e.svc.SetHistorySource(down)
	if code, body := get("bob", hc+"user/bob/"+ymd+"/"+ymd); code != 503 {
		t.Errorf("PBX database down: %d %s", code, body)
	}
}
