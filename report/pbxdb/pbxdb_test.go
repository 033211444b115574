package pbxdb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
	"github.com/switchboard-pbx/switchboard/report"
)

func TestMain(m *testing.M) { os.Exit(mariadbtest.Main(m)) }

var rome, _ = time.LoadLocation("Europe/Rome")

// pbxCDR is one CDR as Asterisk has it: sent as an AMI Cdr event
// (cdr_manager with LinkedID and Sequence) and written to the cdr table.
type pbxCDR struct {
	start, answer, end                        string
	clid, src, dst, ctx, ch, dstch, app, data string
	dur, bill                                 int
	disp, acct, uid, linked, userfield        string
	seq                                       int
}

func (c pbxCDR) event() ami.Message {
	return ami.NewMessage("Event", "Cdr", "Privilege", "cdr,all", "AccountCode", c.acct, "Source", c.src, "Destination", c.dst,
		"DestinationContext", c.ctx, "CallerID", c.clid, "Channel", c.ch, "DestinationChannel", c.dstch,
		"LastApplication", c.app, "LastData", c.data, "StartTime", c.start, "AnswerTime", c.answer, "EndTime", c.end,
		"Duration", strconv.Itoa(c.dur), "BillableSeconds", strconv.Itoa(c.bill), "Disposition", c.disp,
		"AMAFlags", "DOCUMENTATION", "UniqueID", c.uid, "UserField", c.userfield, "LinkedID", c.linked, "Sequence", strconv.Itoa(c.seq))
}

func (c pbxCDR) insert(t *testing.T, db *sql.DB) {
	t.Helper()
	name, num := report.SplitCallerID(c.clid)
	if _, err := db.Exec(`INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration,
		billsec, disposition, amaflags, accountcode, uniqueid, userfield, cnum, cnam, linkedid, sequence)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,3,?,?,?,?,?,?,?)`, c.start, c.clid, c.src, c.dst, c.ctx, c.ch, c.dstch, c.app, c.data,
		c.dur, c.bill, c.disp, c.acct, c.uid, c.userfield, num, name, c.linked, c.seq); err != nil {
		t.Fatal(err)
	}
}

// calls of 2 March 2026 in Rome: a plain answered call, a blind transfer
// (two CDRs with the transferee's UniqueID), a parked and picked-up call, an
// unanswered call from outside with a name in quotes, a busy one, a call at
// 23:59 whose second leg is after midnight, and one on 3 March.
var calls = []pbxCDR{
	{"2026-03-02 09:00:00", "2026-03-02 09:00:02", "2026-03-02 09:00:06", `"Ada" <201>`, "201", "202", "from-internal",
		"PJSIP/201-00000001", "PJSIP/202-00000002", "Dial", "PJSIP/202,,tT", 6, 4, "ANSWERED", "", "1772438400.1", "1772438400.1", "", 1},
	{"2026-03-02 10:00:00", "2026-03-02 10:00:03", "2026-03-02 10:00:10", `"Ada" <201>`, "201", "202", "from-internal",
		"PJSIP/201-00000003", "PJSIP/202-00000004", "Dial", "PJSIP/202,,tT", 10, 7, "ANSWERED", "sales", "1772442000.3", "1772442000.3", "", 3},
	{"2026-03-02 10:00:10", "2026-03-02 10:00:14", "2026-03-02 10:01:14", `"Ada" <201>`, "201", "203", "from-internal",
		"PJSIP/201-00000003", "PJSIP/203-00000005", "Dial", "PJSIP/203,0,tTkK", 64, 60, "ANSWERED", "sales", "1772442000.3", "1772442000.3", "", 5},
	{"2026-03-02 11:00:00", "2026-03-02 11:00:01", "2026-03-02 11:00:20", `"Bob" <202>`, "202", "204", "from-internal",
		"PJSIP/202-00000006", "PJSIP/204-00000007", "Dial", "PJSIP/204", 20, 19, "ANSWERED", "", "1772445600.6", "1772445600.6", "", 6},
	{"2026-03-02 11:00:20", "2026-03-02 11:00:20", "2026-03-02 11:00:40", `"Bob" <202>`, "202", "s", "parkedcalls",
		"PJSIP/202-00000006", "", "Park", "default:701", 20, 20, "ANSWERED", "", "1772445600.6", "1772445600.6", "", 8},
	{"2026-03-02 11:00:40", "2026-03-02 11:00:40", "2026-03-02 11:02:00", `"Carl" <205>`, "205", "701", "from-internal",
		"PJSIP/205-00000009", "PJSIP/202-00000006", "ParkedCall", "default,701", 80, 80, "ANSWERED", "", "1772445640.9", "1772445600.6", "rec-1.wav", 9},
	{"2026-03-02 12:30:00", "", "2026-03-02 12:30:30", `"Rossi, ""Mario"" & C." <0612345678>`, "0612345678", "201", "from-trunk",
		"PJSIP/trunk-0000000a", "PJSIP/201-0000000b", "Dial", "PJSIP/201,30", 30, 0, "NO ANSWER", "", "1772451000.10", "1772451000.10", "", 10},
	{"2026-03-02 13:00:00", "", "2026-03-02 13:00:02", `"Ada" <201>`, "201", "206", "from-internal",
		"PJSIP/201-0000000c", "PJSIP/206-0000000d", "Dial", "PJSIP/206", 2, 0, "BUSY", "", "1772452800.12", "1772452800.12", "", 12},
	{"2026-03-02 23:59:50", "2026-03-02 23:59:55", "2026-03-03 00:00:20", `"Dan" <207>`, "207", "208", "from-internal",
		"PJSIP/207-0000000e", "PJSIP/208-0000000f", "Dial", "PJSIP/208", 30, 25, "ANSWERED", "", "1772495990.14", "1772495990.14", "", 14},
	{"2026-03-03 00:00:20", "2026-03-03 00:00:22", "2026-03-03 00:01:20", `"Dan" <207>`, "207", "209", "from-internal",
		"PJSIP/207-0000000e", "PJSIP/209-00000010", "Dial", "PJSIP/209", 60, 58, "ANSWERED", "", "1772495990.14", "1772495990.14", "", 16},
	{"2026-03-03 08:00:00", "2026-03-03 08:00:01", "2026-03-03 08:00:11", `"Ada" <201>`, "201", "202", "from-internal",
		"PJSIP/201-00000011", "PJSIP/202-00000012", "Dial", "PJSIP/202", 10, 9, "ANSWERED", "", "1772521200.17", "1772521200.17", "", 17},
}

func sources(t *testing.T) (*DB, *cdr.Store, *sql.DB) {
	t.Helper()
	srv := mariadbtest.Shared(t)
	name := srv.NewCDRDB(t)
	raw := srv.DB(t, name)
	ctx := context.Background()
	ami, err := cdr.Open(ctx, filepath.Join(t.TempDir(), cdr.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ami.Close() })
	ami.SetLocation(rome)
	// AMI sends CDRs as legs end, not in order: send them reversed.
	for i := len(calls) - 1; i >= 0; i-- {
		if err := ami.Add(ctx, calls[i].event()); err != nil {
			t.Fatal(err)
		}
		calls[i].insert(t, raw)
	}
	db, err := Open(Config{DSN: srv.DSN(name), Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, ami, raw
}

func exportFiles(t *testing.T, req report.Request, src report.Sources) map[string][]byte {
	t.Helper()
	dir := &report.Dir{Path: t.TempDir()}
	_, files, err := report.Export(context.Background(), req, src, dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f.Name, ".xlsx") {
			b = xlsxText(t, f.Path)
		}
		out[f.Name] = b
	}
	return out
}

// xlsxText is a workbook as openpyxl reads it (the archive itself carries
// its creation time).
func xlsxText(t *testing.T, path string) []byte {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import openpyxl").Run(); err != nil {
		t.Skip("python3-openpyxl not installed")
	}
	out, err := exec.Command("/usr/bin/python3", "../testdata/xlsx2json.py", path).Output()
	if err != nil {
		t.Fatalf("openpyxl: %v", err)
	}
	return out
}

func TestSameExportFromMariaDBAndAMI(t *testing.T) {
	db, amiStore, _ := sources(t)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	for _, c := range []struct {
		f        report.Format
		detailed bool
	}{{report.CSV, true}, {report.JSON, true}, {report.XML, true}, {report.XLSX, true}, {report.CSV, false}} {
		req := report.Request{Data: report.CDRData, Format: c.f, Detailed: c.detailed, From: day, To: day.AddDate(0, 0, 1),
			Location: rome, Stem: "cdr-2026-03-02", Language: report.Italian}
		fromDB := exportFiles(t, req, report.Sources{CDR: db})
		fromAMI := exportFiles(t, req, report.Sources{CDR: amiStore})
		if !reflect.DeepEqual(fromDB, fromAMI) {
			for name := range fromDB {
				if !bytes.Equal(fromDB[name], fromAMI[name]) {
					t.Errorf("%s differs:\nMariaDB:\n%s\nAMI:\n%s", name, fromDB[name], fromAMI[name])
				}
			}
			t.FailNow()
		}
		if c.f == report.JSON {
			var doc struct {
				Calls []struct {
					ID       string `json:"call_id"`
					Legs     int    `json:"leg_count"`
					Talk     int    `json:"talk"`
					Answered string `json:"answered_by"`
					Outcome  string `json:"outcome"`
					LegList  []struct {
						Seq int `json:"sequence"`
					} `json:"legs"`
				} `json:"calls"`
			}
			if err := json.Unmarshal(fromDB["cdr-2026-03-02.json"], &doc); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range doc.Calls {
				got = append(got, c.ID+" "+strconv.Itoa(c.Legs)+" "+c.Outcome+" "+c.Answered+" "+strconv.Itoa(c.Talk))
			}
			want := []string{
				"1772438400.1 1 ANSWERED 202 4",
				"1772442000.3 2 ANSWERED 202 71",  // transferred: 3 s to answer, ends at 10:01:14
				"1772445600.6 3 ANSWERED 204 119", // parked and picked up by 205, ends 11:02:00
				"1772451000.10 1 NO ANSWER  0",
				"1772452800.12 1 BUSY  0",
				"1772495990.14 2 ANSWERED 208 85", // the leg after midnight belongs to this call
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("calls:\n%q\nwant\n%q", got, want)
			}
		}
	}
}

func TestQueueLogShapes(t *testing.T) {
	db, amiStore, raw := sources(t)
	ctx := context.Background()
	at := func(hms string) time.Time {
		t, _ := time.ParseInLocation("2006-01-02 15:04:05", "2026-03-02 "+hms, rome)
		return t
	}
	// What app_queue writes for an answered and an abandoned call, and a
	// member added and paused; the first call in the data1..data5 shape, the
	// rest in the "data" shape (both columns exist in FreePBX's table).
	lines := []struct {
		time, callid, agent, event, data string
		split                            bool
	}{
		{"08:00:00.000000", "MANAGER", "PJSIP/201", "ADDMEMBER", "", false},
		{"09:00:00.100000", "500.1", "NONE", "ENTERQUEUE", "|0611|1", true},
		{"09:00:05.000000", "500.1", "PJSIP/202", "RINGNOANSWER", "4500", true},
		{"09:00:06.000000", "500.1", "PJSIP/201", "CONNECT", "6|500.2|1", true},
		{"09:01:06.000000", "500.1", "PJSIP/201", "COMPLETECALLER", "6|60|1", true},
		{"10:00:00.000000", "600.1", "NONE", "ENTERQUEUE", "|0622|1", false},
		{"10:00:09.000000", "600.1", "NONE", "ABANDON", "1|1|9", false},
		{"12:00:00.000000", "NONE", "PJSIP/201", "PAUSE", "lunch", false},
	}
	for _, l := range lines {
		var d [5]string
		joined := l.data
		if l.split {
			copy(d[:], strings.Split(l.data, "|"))
			joined = ""
		}
		if _, err := raw.Exec(`INSERT INTO queue_log (time, callid, queuename, agent, event, data, data1, data2, data3, data4, data5)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`, "2026-03-02 "+l.time, l.callid, "400", l.agent, l.event, joined, d[0], d[1], d[2], d[3], d[4]); err != nil {
			t.Fatal(err)
		}
	}
	// The same, as AMI events.
	for _, e := range []struct {
		at string
		kv []string
	}{
		{"08:00:00", []string{"Event", "QueueMemberAdded", "Queue", "400", "MemberName", "PJSIP/201", "Interface", "PJSIP/201", "Paused", "0"}},
		{"09:00:00", []string{"Event", "QueueCallerJoin", "Queue", "400", "Uniqueid", "500.1", "CallerIDNum", "0611", "CallerIDName", "<unknown>", "Position", "1"}},
		{"09:00:05", []string{"Event", "AgentRingNoAnswer", "Queue", "400", "Uniqueid", "500.1", "MemberName", "PJSIP/202", "RingTime", "4500"}},
		{"09:00:06", []string{"Event", "AgentConnect", "Queue", "400", "Uniqueid", "500.1", "MemberName", "PJSIP/201", "HoldTime", "6", "RingTime", "1"}},
		{"09:01:06", []string{"Event", "AgentComplete", "Queue", "400", "Uniqueid", "500.1", "MemberName", "PJSIP/201", "HoldTime", "6", "TalkTime", "60", "Reason", "caller"}},
		{"10:00:00", []string{"Event", "QueueCallerJoin", "Queue", "400", "Uniqueid", "600.1", "CallerIDNum", "0622", "Position", "1"}},
		{"10:00:09", []string{"Event", "QueueCallerAbandon", "Queue", "400", "Uniqueid", "600.1", "Position", "1", "OriginalPosition", "1", "HoldTime", "9"}},
		{"12:00:00", []string{"Event", "QueueMemberPause", "Queue", "400", "MemberName", "PJSIP/201", "Interface", "PJSIP/201", "Paused", "1", "PausedReason", "lunch"}},
	} {
		if err := amiStore.AddQueueEvent(ctx, ami.NewMessage(e.kv...), at(e.at)); err != nil {
			t.Fatal(err)
		}
	}
	day := at("00:00:00")
	req := report.Request{Data: report.CallCenterData, Format: report.CSV, Detailed: true, OperatorEvents: true,
		From: day, To: day.AddDate(0, 0, 1), Location: rome, Stem: "cc"}
	fromDB := exportFiles(t, req, report.Sources{Queue: report.QueueLogSource{Log: db}})
	fromAMI := exportFiles(t, req, report.Sources{Queue: report.QueueLogSource{Log: amiStore}})
	calls := string(fromDB["cc-queue_calls.csv"])
	if !strings.Contains(calls, "500.1,2026-03-02 09:00:00,400,0611,,1,6,answered,201,60") ||
		!strings.Contains(calls, "600.1,2026-03-02 10:00:00,400,0622,,1,9,abandoned,,0") {
		t.Fatalf("queue calls from MariaDB:\n%s", calls)
	}
	if ev := string(fromDB["cc-operator_events.csv"]); !strings.Contains(ev, "2026-03-02 08:00:00,201,400,login,") ||
		!strings.Contains(ev, "2026-03-02 12:00:00,201,400,pause,lunch") {
		t.Fatalf("operator events:\n%s", ev)
	}
	if !reflect.DeepEqual(fromDB, fromAMI) {
		for name := range fromDB {
			if !bytes.Equal(fromDB[name], fromAMI[name]) {
				t.Errorf("%s differs:\nMariaDB:\n%s\nAMI:\n%s", name, fromDB[name], fromAMI[name])
			}
		}
	}
}

func TestRefusesWhatIsNotThere(t *testing.T) {
	srv := mariadbtest.Shared(t)
	db, err := Open(Config{DSN: srv.DSN("asteriskcdrdb_missing"), Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Legs(context.Background(), time.Now().Add(-time.Hour), time.Now(), func(*report.CDR) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "pbxdb: cdr") {
		t.Fatalf("%v", err)
	}
	if _, err := Open(Config{DSN: "not a dsn"}); err == nil {
		t.Fatal("bad DSN accepted")
	}
}
