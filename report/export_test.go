package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var rome = mustZone("Europe/Rome")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, rome)
	if err != nil {
		panic(err)
	}
	return t
}

// testLegs: an answered call (4 s of talk), a call 201 -> 202 transferred to
// 203 (two legs with one UniqueID, as a blind transfer gives), an unanswered
// call from outside whose caller name is a formula, and a busy call the day
// after (outside the interval).
func testLegs() sliceSource {
	return sliceSource{
		{Start: at("2026-03-02 09:00:00"), CallerID: `"Niccolò Rossi" <201>`, Src: "201", Dst: "202", DContext: "from-internal",
			Channel: "PJSIP/201-00000001", DstChannel: "PJSIP/202-00000002", LastApp: "Dial", LastData: "PJSIP/202,30",
			Duration: 6, BillSec: 4, Disposition: "ANSWERED", UniqueID: "1772438400.1", LinkedID: "1772438400.1", Sequence: 1},
		{Start: at("2026-03-02 10:00:00"), CallerID: `"Bob" <202>`, Src: "202", Dst: "203", DContext: "from-internal",
			Channel: "PJSIP/202-00000003", DstChannel: "PJSIP/203-00000004", LastApp: "Dial", LastData: "PJSIP/203",
			Duration: 12, BillSec: 10, Disposition: "ANSWERED", UniqueID: "1772442000.3", LinkedID: "1772442000.3", Sequence: 3},
		{Start: at("2026-03-02 10:00:12"), CallerID: `"Bob" <202>`, Src: "202", Dst: "204", DContext: "from-internal",
			Channel: "PJSIP/203-00000004", DstChannel: "PJSIP/204-00000005", LastApp: "Dial", LastData: "PJSIP/204",
			Duration: 25, BillSec: 20, Disposition: "ANSWERED", UniqueID: "1772442000.3", LinkedID: "1772442000.3", Sequence: 5},
		{Start: at("2026-03-02 11:30:00"), CallerID: `"=HYPERLINK("http://x")" <0612345678>`, Src: "0612345678", Dst: "201",
			DContext: "from-trunk", Channel: "PJSIP/trunk-00000006", DstChannel: "PJSIP/201-00000007", LastApp: "Dial",
			LastData: "PJSIP/201", Duration: 30, BillSec: 0, Disposition: "NO ANSWER", UniqueID: "1772447400.6",
			LinkedID: "1772447400.6", Sequence: 6, UserField: "a, \"quoted\"\nvalue"},
		{Start: at("2026-03-03 08:00:00"), CallerID: `<201>`, Src: "201", Dst: "202", Duration: 2, Disposition: "BUSY",
			UniqueID: "1772521200.9", LinkedID: "1772521200.9", Sequence: 9},
	}
}

func export(t *testing.T, req Request, src Sources) (Stats, []File) {
	t.Helper()
	dir := &Dir{Path: t.TempDir()}
	if req.From.IsZero() {
		req.From, req.To = at("2026-03-02 00:00:00"), at("2026-03-03 00:00:00")
	}
	if req.Location == nil {
		req.Location = rome
	}
	if req.Stem == "" {
		req.Stem = "cdr-2026-03-02"
	}
	st, files, err := Export(context.Background(), req, src, dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, files
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\uFEFF")) {
		t.Fatalf("%s: no UTF-8 byte-order mark", path)
	}
	b = b[3:]
	if bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n"))+strings.Count(string(b), "quoted\"\"\nvalue") {
		t.Fatalf("%s: record separators are not CRLF", path)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestCDRCSV(t *testing.T) {
	st, files := export(t, Request{Data: CDRData, Format: CSV}, Sources{CDR: testLegs()})
	if st.Rows != 3 || st.Detail != 0 || len(files) != 1 || files[0].Name != "cdr-2026-03-02.csv" {
		t.Fatalf("stats %+v files %+v", st, files)
	}
	recs := readCSV(t, files[0].Path)
	want := [][]string{
		{"Call ID", "Start", "Caller", "Caller name", "Called", "Answered by", "Outcome", "Wait (s)", "Talk (s)", "Duration (s)", "Legs", "Account code"},
		{"1772438400.1", "2026-03-02 09:00:00", "201", "Niccolò Rossi", "202", "202", "ANSWERED", "2", "4", "6", "1", ""},
		// transferred: answered by 203 after 2 s, ends when the second leg ends (12 + 25 s)
		{"1772442000.3", "2026-03-02 10:00:00", "202", "Bob", "203", "203", "ANSWERED", "2", "35", "37", "2", ""},
		{"1772447400.6", "2026-03-02 11:30:00", "0612345678", `'=HYPERLINK("http://x")`, "201", "", "NO ANSWER", "30", "0", "30", "1", ""},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Fatalf("CSV:\n got %q\nwant %q", recs, want)
	}
}

func TestCDRDetailedCSVIsOneFilePerTable(t *testing.T) {
	st, files := export(t, Request{Data: CDRData, Format: CSV, Detailed: true, Language: Italian}, Sources{CDR: testLegs()})
	if st.Rows != 3 || st.Detail != 4 || len(files) != 2 {
		t.Fatalf("stats %+v files %+v", st, files)
	}
	if files[0].Name != "cdr-2026-03-02-calls.csv" || files[1].Name != "cdr-2026-03-02-legs.csv" {
		t.Fatalf("names: %+v", files)
	}
	calls, legs := readCSV(t, files[0].Path), readCSV(t, files[1].Path)
	if calls[0][1] != "Inizio" || legs[0][3] != "Inizio" || legs[0][1] != "Tratta" || len(calls) != 4 || len(legs) != 5 {
		t.Fatalf("calls %q\nlegs %q", calls, legs)
	}
	// Both legs of the transferred call are there, with their own times.
	if got := legs[2][:6]; !reflect.DeepEqual(got, []string{"1772442000.3", "3", "1772442000.3", "2026-03-02 10:00:00", "2026-03-02 10:00:02", "2026-03-02 10:00:12"}) {
		t.Fatalf("leg 3: %q", got)
	}
	if got := legs[3][:6]; !reflect.DeepEqual(got, []string{"1772442000.3", "5", "1772442000.3", "2026-03-02 10:00:12", "2026-03-02 10:00:17", "2026-03-02 10:00:37"}) {
		t.Fatalf("leg 5: %q", got)
	}
	if legs[4][18] != "a, \"quoted\"\nvalue" || legs[4][4] != "" {
		t.Fatalf("unanswered leg: %q", legs[4])
	}
}

func TestCDRJSON(t *testing.T) {
	_, files := export(t, Request{Data: CDRData, Format: JSON, Detailed: true}, Sources{CDR: testLegs()})
	b, _ := os.ReadFile(files[0].Path)
	var doc struct {
		Calls []struct {
			CallID string `json:"call_id"`
			Start  string `json:"start"`
			Talk   int    `json:"talk"`
			Caller string `json:"caller_name"`
			Legs   []struct {
				Sequence int     `json:"sequence"`
				Answer   *string `json:"answer"`
				Userfld  string  `json:"userfield"`
			} `json:"legs"`
		} `json:"calls"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(doc.Calls) != 3 || len(doc.Calls[1].Legs) != 2 || doc.Calls[1].Legs[1].Sequence != 5 || doc.Calls[1].Talk != 35 {
		t.Fatalf("%s", b)
	}
	if doc.Calls[0].Start != "2026-03-02T09:00:00+01:00" || doc.Calls[0].Caller != "Niccolò Rossi" {
		t.Fatalf("first call: %+v", doc.Calls[0])
	}
	if doc.Calls[2].Legs[0].Answer != nil || doc.Calls[2].Legs[0].Userfld != "a, \"quoted\"\nvalue" || doc.Calls[2].Caller != `=HYPERLINK("http://x")` {
		t.Fatalf("third call: %+v", doc.Calls[2])
	}
	// Not detailed: no legs key at all.
	_, files = export(t, Request{Data: CDRData, Format: JSON}, Sources{CDR: testLegs()})
	b, _ = os.ReadFile(files[0].Path)
	if strings.Contains(string(b), `"legs":[`) || !json.Valid(b) {
		t.Fatalf("%s", b)
	}
}

func xmllint(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed (Debian libxml2-utils)")
	}
	if out, err := exec.Command("xmllint", "--noout", path).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
}

func TestCDRXML(t *testing.T) {
	legs := testLegs()
	legs[0].LastData = "bad \x01 control \x1f chars & <tags>"
	_, files := export(t, Request{Data: CDRData, Format: XML, Detailed: true}, Sources{CDR: legs})
	xmllint(t, files[0].Path)
	b, _ := os.ReadFile(files[0].Path)
	var doc struct {
		XMLName xml.Name `xml:"cdr"`
		Calls   []struct {
			CallID string `xml:"call_id"`
			Legs   []struct {
				Sequence int    `xml:"sequence"`
				LastData string `xml:"lastdata"`
			} `xml:"legs>leg"`
		} `xml:"calls>call"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Calls) != 3 || len(doc.Calls[1].Legs) != 2 || doc.Calls[0].Legs[0].LastData != "bad  control  chars & <tags>" {
		t.Fatalf("%+v\n%s", doc, b)
	}
}

type xlsxDump struct {
	Sheets []string           `json:"sheets"`
	Active string             `json:"active"`
	Data   map[string][][]any `json:"data"`
}

// openpyxl reads path with Debian's python3-openpyxl.
func openpyxl(t *testing.T, path string) xlsxDump {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import openpyxl").Run(); err != nil {
		t.Skip("python3-openpyxl not installed")
	}
	out, err := exec.Command("/usr/bin/python3", "testdata/xlsx2json.py", path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("openpyxl: %v\n%s", err, stderr)
	}
	var d xlsxDump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCDRXLSXOpensInOpenpyxl(t *testing.T) {
	_, files := export(t, Request{Data: CDRData, Format: XLSX, Detailed: true}, Sources{CDR: testLegs()})
	d := openpyxl(t, files[0].Path)
	if !reflect.DeepEqual(d.Sheets, []string{"Calls", "Call legs"}) || d.Active != "Calls" {
		t.Fatalf("sheets %v active %s", d.Sheets, d.Active)
	}
	calls, legs := d.Data["Calls"], d.Data["Call legs"]
	if len(calls) != 4 || len(legs) != 5 {
		t.Fatalf("calls %v\nlegs %v", calls, legs)
	}
	wantHead := []any{"Call ID", "Start", "Caller", "Caller name", "Called", "Answered by", "Outcome", "Wait (s)", "Talk (s)", "Duration (s)", "Legs", "Account code"}
	if !reflect.DeepEqual(calls[0], wantHead) {
		t.Fatalf("header %v", calls[0])
	}
	// A real date cell (local wall time), numbers as numbers, text kept as
	// text (no apostrophe needed: an XLSX string cell is never a formula).
	if calls[2][1] != "2026-03-02 10:00:00" || calls[2][8] != float64(35) || calls[3][3] != `=HYPERLINK("http://x")` || calls[1][3] != "Niccolò Rossi" {
		t.Fatalf("rows %v", calls[1:])
	}
	if legs[3][1] != float64(5) || legs[3][4] != "2026-03-02 10:00:17" || legs[4][4] != nil {
		t.Fatalf("legs %v", legs)
	}
}

func TestXLSXContinuesOnANewSheetPastTheRowLimit(t *testing.T) {
	old := maxSheetRows
	maxSheetRows = 3 // header + 2 rows per sheet
	defer func() { maxSheetRows = old }()
	var legs sliceSource
	for i := 0; i < 5; i++ {
		id := "call." + string(rune('a'+i))
		legs = append(legs, CDR{Start: at("2026-03-02 09:00:00").Add(time.Duration(i) * time.Minute), Src: "201", Dst: "202",
			Duration: 1, Disposition: "NO ANSWER", UniqueID: id, LinkedID: id})
	}
	_, files := export(t, Request{Data: CDRData, Format: XLSX, Language: Italian}, Sources{CDR: legs})
	d := openpyxl(t, files[0].Path)
	if !reflect.DeepEqual(d.Sheets, []string{"Chiamate", "Chiamate (2)", "Chiamate (3)"}) {
		t.Fatalf("sheets %v", d.Sheets)
	}
	var ids []any
	for _, s := range d.Sheets {
		rows := d.Data[s]
		if rows[0][0] != "ID chiamata" {
			t.Fatalf("%s header %v", s, rows[0])
		}
		for _, r := range rows[1:] {
			ids = append(ids, r[0])
		}
	}
	if !reflect.DeepEqual(ids, []any{"call.a", "call.b", "call.c", "call.d", "call.e"}) {
		t.Fatalf("ids %v", ids)
	}
}

func TestEmptyExportsHaveTheirHeaders(t *testing.T) {
	for _, f := range Formats {
		st, files := export(t, Request{Data: CDRData, Format: f, Detailed: true, From: at("2020-01-01 00:00:00"), To: at("2020-01-02 00:00:00")}, Sources{CDR: testLegs()})
		if st.Rows != 0 {
			t.Fatalf("%s: %+v", f, st)
		}
		switch f {
		case CSV:
			if len(files) != 2 || len(readCSV(t, files[1].Path)) != 1 {
				t.Fatalf("csv: %+v", files)
			}
		case JSON:
			b, _ := os.ReadFile(files[0].Path)
			if string(b) != "{\"calls\":[]}\n" {
				t.Fatalf("json: %s", b)
			}
		case XML:
			xmllint(t, files[0].Path)
		case XLSX:
			d := openpyxl(t, files[0].Path)
			if len(d.Data["Calls"]) != 1 || len(d.Data["Call legs"]) != 1 {
				t.Fatalf("xlsx: %+v", d)
			}
		}
	}
}

func testQueue() queueSlice {
	return queueSlice{
		calls: []QueueCall{
			{CallID: "1772438400.10", Queue: "400", CallerNum: "0611111111", CallerName: "ACME", Entered: at("2026-03-02 09:10:00"),
				Position: 1, Wait: 8, Outcome: OutcomeAnswered, Agent: "201", Talk: 42, Attempts: []AgentAttempt{
					{Agent: "202", Start: at("2026-03-02 09:10:01"), Ring: 5, Result: AttemptNoAnswer},
					{Agent: "201", Start: at("2026-03-02 09:10:06"), Ring: 2, Result: AttemptAnswered}}},
			{CallID: "1772438400.20", Queue: "400", CallerNum: "0622222222", Entered: at("2026-03-02 09:20:00"),
				Position: 1, Wait: 15, Outcome: OutcomeAbandoned},
		},
		events: []AgentEvent{
			{Time: at("2026-03-02 08:00:00"), Agent: "201", Queue: "400", Event: EventLogin},
			{Time: at("2026-03-02 12:00:00"), Agent: "201", Queue: "400", Event: EventPause, Reason: "lunch"},
		},
	}
}

func TestCallCenterExports(t *testing.T) {
	st, files := export(t, Request{Data: CallCenterData, Format: XLSX, Detailed: true, OperatorEvents: true}, Sources{Queue: testQueue()})
	if st.Rows != 2 || st.Detail != 4 {
		t.Fatalf("%+v", st)
	}
	d := openpyxl(t, files[0].Path)
	if !reflect.DeepEqual(d.Sheets, []string{"Queue calls", "Agent attempts", "Operator events"}) {
		t.Fatalf("%v", d.Sheets)
	}
	if r := d.Data["Queue calls"][1]; r[7] != "answered" || r[8] != "201" || r[9] != float64(42) {
		t.Fatalf("%v", r)
	}
	if r := d.Data["Operator events"][2]; r[3] != "pause" || r[4] != "lunch" {
		t.Fatalf("%v", r)
	}
	_, files = export(t, Request{Data: CallCenterData, Format: XML, Detailed: true, OperatorEvents: true}, Sources{Queue: testQueue()})
	xmllint(t, files[0].Path)
	b, _ := os.ReadFile(files[0].Path)
	if !strings.Contains(string(b), "<attempts><attempt><call_id>1772438400.10</call_id><agent>202</agent>") ||
		!strings.Contains(string(b), "<queue_call><call_id>1772438400.20</call_id>") || !strings.Contains(string(b), "<attempts></attempts>") {
		t.Fatalf("%s", b)
	}
	// Operator events need the detailed variant.
	if _, _, err := Export(context.Background(), Request{Data: CallCenterData, Format: CSV, OperatorEvents: true, Stem: "x"},
		Sources{Queue: testQueue()}, &Dir{Path: t.TempDir()}); err == nil {
		t.Fatal("operator events without detailed accepted")
	}
}

func TestSizeRuleAndZip(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, size int) File {
		p := filepath.Join(dir, name)
		os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o600)
		return File{Name: name, Path: p, Size: int64(size)}
	}
	small := []File{mk("a.csv", MB/2), mk("b.csv", MB/2)} // exactly 1 MB together
	for _, c := range []struct {
		files []File
		limit int
		want  bool
	}{
		{small, 0, true},  // 0 = always
		{small, 1, false}, // not larger than 1 MB
		{append(small, mk("c.csv", 1)), 1, true},
		{small, 2, false},
	} {
		if got := NeedsZip(c.files, c.limit); got != c.want {
			t.Errorf("NeedsZip(%d bytes, %d) = %v", len(c.files), c.limit, got)
		}
	}
	z, err := Zip(small, filepath.Join(dir, "out.zip"), "cdr.zip")
	if err != nil {
		t.Fatal(err)
	}
	if z.Size >= MB/10 || z.Name != "cdr.zip" {
		t.Fatalf("zip %+v", z)
	}
	if _, err := exec.LookPath("unzip"); err != nil {
		t.Skip("unzip not installed")
	}
	out, err := exec.Command("unzip", "-t", z.Path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors detected") {
		t.Fatalf("unzip -t: %v\n%s", err, out)
	}
	list, _ := exec.Command("unzip", "-Z1", z.Path).Output()
	if string(list) != "a.csv\nb.csv\n" {
		t.Fatalf("zip holds %q", list)
	}
}

func TestDefuse(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "@SUM(A1)": "'@SUM(A1)", "+390612345": "+390612345", "-5": "-5",
		"+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0", "-2+3": "'-2+3", "+39 06 1234": "+39 06 1234", "Bob": "Bob", "": "",
	} {
		if got := defuse(in); got != want {
			t.Errorf("defuse(%q) = %q, want %q", in, got, want)
		}
	}
}
