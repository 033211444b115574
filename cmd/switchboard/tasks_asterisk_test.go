package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
	"github.com/switchboard-pbx/switchboard/internal/smtptest"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/report/pbxdb"
	"github.com/switchboard-pbx/switchboard/tasks"
)

const astWait = 15 * time.Second

// TestTasksExportRealAsteriskCalls places calls on a real Asterisk with SIPp
// phones (a plain call, a blind transfer, a queue call with an agent who
// logged in, paused and unpaused), lets the daemon's CTI record them from AMI,
// runs a CDR and a call-center task through the CLI and checks the mailed
// exports: the legs, durations and outcomes, and that the PBX's own records
// (Master.csv and queue_log loaded into a real MariaDB) export the same.
func TestTasksExportRealAsteriskCalls(t *testing.T) {
	pbx := asterisktest.Start(t, asterisktest.Options{Extensions: 10})
	mail := smtptest.Start(t, false, 0)
	d := newDaemon(t, fmt.Sprintf("cti:\n  enabled: true\n  bcrypt_cost: 4\n  ami:\n    address: %q\n    username: %s\n    secret: %s\n"+
		"tasks:\n  time_zone: UTC\n  ca_file: %s\n", pbx.AMIAddr, pbx.AMIUser, pbx.AMISecret, mail.CAFile))
	d.start()
	eventually(t, "the CTI logs in to Asterisk", func() bool { return strings.Contains(d.stderr.String(), "ami connected") })
	a := pbx.AMI(t)

	ext := func() string { return pbx.FreeExt(t).Number }
	// 1. A plain call: B answers after 0.3 s and hangs up 2 s later.
	ea, eb := ext(), ext()
	pb := pbx.Register(t, eb, asterisktest.PhoneOptions{AnswerAfter: 300 * time.Millisecond, HangupAfter: 2 * time.Second})
	pa := pbx.Register(t, ea, asterisktest.PhoneOptions{})
	c1 := pa.Dial(t, eb, asterisktest.CallOptions{})
	pb.WaitCall(t, astWait).WaitEnded(t, astWait)
	c1.WaitEnded(t, astWait)

	// 2. A blind transfer: X calls Y, Y transfers X to Z, who talks 1 s.
	ex, ey, ez := ext(), ext(), ext()
	py := pbx.Register(t, ey, asterisktest.PhoneOptions{})
	pz := pbx.Register(t, ez, asterisktest.PhoneOptions{AnswerAfter: 200 * time.Millisecond, HangupAfter: time.Second})
	px := pbx.Register(t, ex, asterisktest.PhoneOptions{})
	cx := px.Dial(t, ey, asterisktest.CallOptions{})
	cy := py.WaitCall(t, astWait)
	cx.WaitAnswered(t, astWait)
	chY := a.LiveChannel(t, astWait, ey)
	chX := a.LiveChannel(t, astWait, ex)
	linkedX := a.Wait(t, astWait, asterisktest.Match("Event", "Newchannel", "Channel", chX)).Get("Linkedid")
	a.Wait(t, astWait, asterisktest.Match("Event", "BridgeEnter", "Channel", chY))
	a.MustAction(t, "BlindTransfer", "Channel", chY, "Exten", ez, "Context", "from-internal")
	cy.WaitEnded(t, astWait)
	pz.WaitCall(t, astWait).WaitEnded(t, astWait)
	cx.WaitEnded(t, astWait)

	// 3. A queue call: agent Q logs in to queue 400, pauses for lunch,
	// unpauses, answers the caller after 0.5 s; the caller hangs up after 2 s.
	eq, ec := ext(), ext()
	iface := "PJSIP/" + eq
	pq := pbx.Register(t, eq, asterisktest.PhoneOptions{AnswerAfter: 500 * time.Millisecond})
	pc := pbx.Register(t, ec, asterisktest.PhoneOptions{})
	a.MustAction(t, "QueueAdd", "Queue", "400", "Interface", iface, "MemberName", "Agent "+eq, "Paused", "false")
	a.Wait(t, astWait, asterisktest.Match("Event", "QueueMemberAdded", "Interface", iface))
	a.MustAction(t, "QueuePause", "Queue", "400", "Interface", iface, "Paused", "true", "Reason", "lunch")
	a.Wait(t, astWait, asterisktest.Match("Event", "QueueMemberPause", "Interface", iface, "Paused", "1"))
	a.MustAction(t, "QueuePause", "Queue", "400", "Interface", iface, "Paused", "false")
	a.Wait(t, astWait, asterisktest.Match("Event", "QueueMemberPause", "Interface", iface, "Paused", "0"))
	cq := pc.Dial(t, "400", asterisktest.CallOptions{HangupAfter: 2 * time.Second})
	pq.WaitCall(t, astWait).WaitEnded(t, astWait)
	cq.WaitEnded(t, astWait)
	join := a.Wait(t, astWait, asterisktest.Match("Event", "QueueCallerJoin", "Queue", "400", "CallerIDNum", ec))
	a.Wait(t, astWait, asterisktest.Match("Event", "AgentComplete", "Uniqueid", join.Get("Uniqueid")))

	// Every CDR of the three calls has reached the daemon's history.
	hist, err := cdr.Open(context.Background(), filepath.Join(d.dir, "data", cdr.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	hist.SetLocation(time.UTC)
	wantCDRs := len(a.Filter(asterisktest.Match("Event", "Cdr")))
	eventually(t, "the CDRs in the daemon's history", func() bool {
		wantCDRs = len(a.Filter(asterisktest.Match("Event", "Cdr")))
		n := 0
		hist.Legs(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Minute), func(*report.CDR) error { n++; return nil })
		return wantCDRs >= 4 && n == wantCDRs
	})

	// The tasks, run by hand through the CLI; their mails.
	if out, errOut, code := d.cli("s3cret-pass\n", "mail", "set", "--host", "127.0.0.1", "--port", strconv.Itoa(mail.Port),
		"--username", "reports", "--password-stdin", "--from", "pbx@example.com"); code != 0 {
		t.Fatalf("mail set: %s %s", out, errOut)
	}
	for _, args := range [][]string{
		{"task", "add", "cdr", "--name", "CDR today", "--to", "ops@example.com", "--interval", "current_day", "--format", "csv_detailed", "--compress-over", "100"},
		{"task", "add", "callcenter", "--name", "Queues today", "--to", "sup@example.com", "--interval", "current_day", "--format", "xlsx_detailed",
			"--operator-events", "true", "--compress-over", "100"},
	} {
		if out, errOut, code := d.cli("", args...); code != 0 {
			t.Fatalf("%v: %s %s", args, out, errOut)
		}
	}
	runs := map[string]tasks.Run{}
	for i, name := range []string{"CDR today", "Queues today"} {
		out, errOut, code := d.cli("", "task", "run", name, "--wait", "--json")
		var r tasks.Run
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Status != tasks.StatusOK {
			t.Fatalf("task run %s: %d %s %s", name, code, out, errOut)
		}
		runs[name] = r
		eventually(t, "the mail of "+name, func() bool { return len(mail.Messages()) >= i+1 })
	}
	attach := map[string][]byte{}
	for _, m := range mail.Messages() {
		_, parts := smtptest.Parse(t, m.Data)
		for _, p := range parts[1:] {
			attach[p.Name] = p.Body
		}
	}
	day := runs["CDR today"].From.UTC().Format("2006-01-02")
	callsCSV, legsCSV := attach["cdr-"+day+"-calls.csv"], attach["cdr-"+day+"-legs.csv"]
	if callsCSV == nil || legsCSV == nil {
		t.Fatalf("attachments: %v", keys(attach))
	}
	calls, legs := readCSVBytes(t, callsCSV), readCSVBytes(t, legsCSV)
	byCaller := map[string][]string{}
	for _, r := range calls[1:] {
		byCaller[r[2]] = r
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	// The plain call: one leg, answered by B, about 2 s of talk.
	if r := byCaller[ea]; r == nil || r[4] != eb || r[5] != eb || r[6] != "ANSWERED" || r[10] != "1" || num(r[8]) < 1 || num(r[8]) > 4 {
		t.Errorf("plain call: %q", r)
	}
	// The transfer: answered by Y, X's UniqueID on two legs (to Y, then to Z
	// with about 1 s billed), and a talk time over both.
	if r := byCaller[ex]; r == nil || r[0] != linkedX || r[5] != ey || r[6] != "ANSWERED" || num(r[10]) < 2 {
		t.Errorf("transferred call: %q", r)
	}
	var xLegs [][]string
	for _, l := range legs[1:] {
		if l[0] == linkedX && l[2] == linkedX {
			xLegs = append(xLegs, l)
		}
	}
	if len(xLegs) < 2 || !strings.HasPrefix(xLegs[0][11], "PJSIP/"+ey+"-") || !strings.HasPrefix(xLegs[len(xLegs)-1][11], "PJSIP/"+ez+"-") ||
		num(xLegs[len(xLegs)-1][15]) < 1 || num(xLegs[len(xLegs)-1][15]) > 3 || xLegs[0][1] == xLegs[1][1] {
		t.Errorf("legs of the transfer: %q", xLegs)
	}
	// The queue call: answered by the agent.
	if r := byCaller[ec]; r == nil || r[4] != "400" || r[6] != "ANSWERED" || r[5] != eq {
		t.Errorf("queue call: %q", r)
	}

	// The PBX's own records, loaded into MariaDB, export the same.
	srv := mariadbtest.Start(t)
	dbName := srv.NewCDRDB(t)
	raw := srv.DB(t, dbName)
	eventually(t, "Master.csv has every CDR", func() bool {
		rows, err := mariadbtest.ReadMasterCSV(pbx.MasterCSV(), time.UTC)
		return err == nil && len(rows) >= wantCDRs
	})
	mariadbtest.LoadMasterCSV(t, raw, pbx.MasterCSV(), time.UTC)
	eventually(t, "queue_log has the call", func() bool {
		b, _ := os.ReadFile(pbx.QueueLog())
		return strings.Contains(string(b), "COMPLETECALLER") || strings.Contains(string(b), "COMPLETEAGENT")
	})
	mariadbtest.LoadQueueLog(t, raw, pbx.QueueLog(), time.UTC)
	db, err := pbxdb.Open(pbxdb.Config{DSN: srv.DSN(dbName), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := runs["CDR today"]
	dir := &report.Dir{Path: t.TempDir()}
	_, files, err := report.Export(context.Background(), report.Request{Data: report.CDRData, Format: report.CSV, Detailed: true,
		From: r.From, To: r.To, Location: time.UTC, Stem: "cdr-" + day}, report.Sources{CDR: db}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f.Path)
		if string(b) != string(attach[f.Name]) {
			t.Errorf("%s from MariaDB:\n%s\nmailed (from AMI):\n%s", f.Name, b, attach[f.Name])
		}
	}

	// The call-center export: the queue call and the agent's events.
	xlsxName := "callcenter-" + day + ".xlsx"
	mailed := xlsxDump(t, attach[xlsxName])
	qc := mailed["Queue calls"]
	if len(qc) != 2 || qc[1][0] != join.Get("Uniqueid") || qc[1][2] != "400" || qc[1][3] != ec || qc[1][7] != "answered" ||
		qc[1][8] != "Agent "+eq || qc[1][9].(float64) < 1 || qc[1][9].(float64) > 4 {
		t.Errorf("queue calls: %v", qc)
	}
	if at := mailed["Agent attempts"]; len(at) < 2 || at[len(at)-1][1] != "Agent "+eq || at[len(at)-1][4] != "answered" {
		t.Errorf("attempts: %v", at)
	}
	var evs []string
	for _, e := range mailed["Operator events"][1:] {
		evs = append(evs, fmt.Sprint(e[1], " ", e[3], " ", e[4]))
	}
	if !reflect.DeepEqual(evs, []string{eq + " login <nil>", "Agent " + eq + " pause lunch", "Agent " + eq + " unpause <nil>"}) {
		t.Errorf("operator events: %q", evs)
	}
	rc := runs["Queues today"]
	dir = &report.Dir{Path: t.TempDir()}
	_, files, err = report.Export(context.Background(), report.Request{Data: report.CallCenterData, Format: report.XLSX, Detailed: true,
		OperatorEvents: true, From: rc.From, To: rc.To, Location: time.UTC, Stem: "callcenter-" + day},
		report.Sources{Queue: report.QueueLogSource{Log: db}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(files[0].Path)
	fromDB := xlsxDump(t, b)
	// queue_log does not carry the caller's name (AMI does): the rest is the same.
	for _, rows := range []map[string][][]any{fromDB, mailed} {
		for i := range rows["Queue calls"] {
			if i > 0 {
				rows["Queue calls"][i][4] = nil
			}
		}
	}
	// queue_log stamps the ring and the agent's events in whole seconds of
	// the PBX's clock, the CTI at the AMI event it heard: the two may fall
	// either side of a second.
	for _, c := range []struct {
		sheet string
		col   int
	}{{"Agent attempts", 2}, {"Operator events", 0}} {
		for i, row := range mailed[c.sheet] {
			if i == 0 || i >= len(fromDB[c.sheet]) || len(row) <= c.col || len(fromDB[c.sheet][i]) <= c.col {
				continue
			}
			a, errA := time.Parse(time.DateTime, fmt.Sprint(row[c.col]))
			b, errB := time.Parse(time.DateTime, fmt.Sprint(fromDB[c.sheet][i][c.col]))
			if errA == nil && errB == nil && a.Sub(b).Abs() <= time.Second {
				row[c.col] = fromDB[c.sheet][i][c.col]
			}
		}
	}
	if !reflect.DeepEqual(fromDB, mailed) {
		t.Errorf("call-center export from queue_log:\n%v\nmailed (from AMI):\n%v", fromDB, mailed)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func readCSVBytes(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// xlsxDump reads a workbook with openpyxl: sheet name -> rows.
func xlsxDump(t *testing.T, b []byte) map[string][][]any {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import openpyxl").Run(); err != nil {
		t.Skip("python3-openpyxl not installed")
	}
	path := filepath.Join(t.TempDir(), "x.xlsx")
	os.WriteFile(path, b, 0o600)
	out, err := exec.Command("/usr/bin/python3", "../../report/testdata/xlsx2json.py", path).Output()
	if err != nil {
		t.Fatalf("openpyxl: %v", err)
	}
	var d struct {
		Data map[string][][]any `json:"data"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d.Data
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
