package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/smtptest"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// gatedSource is a CDR source that holds the export until released.
type gatedSource struct {
	legSource
	gate chan struct{}
	once sync.Once
}

func (g *gatedSource) Legs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.legSource.Legs(ctx, from, to, fn)
}

// someLegs: n answered calls on 2 March 2026 (the "previous day" of a run on the 3rd).
func someLegs(n int) legSource {
	var out legSource
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("1772442000.%d", i)
		out = append(out, report.CDR{Start: local("2026-03-02 08:00").Add(time.Duration(i) * time.Second),
			CallerID: fmt.Sprintf(`"Caller %d" <0611%06d>`, i, i), Src: fmt.Sprintf("0611%06d", i), Dst: "201",
			DContext: "from-trunk", Channel: "PJSIP/trunk-0000", DstChannel: "PJSIP/201-0001", LastApp: "Dial",
			LastData: "PJSIP/201,30", Duration: 40, BillSec: 31, Disposition: "ANSWERED", UniqueID: id, LinkedID: id, Sequence: i})
	}
	return out
}

// mailEnv: the service with a go-smtp server behind STARTTLS and PLAIN auth,
// the settings saved through the API, the clock on 3 March 2026.
func mailEnv(t *testing.T, src report.Sources, implicit bool, maxBytes int64) (*env, *smtptest.Server) {
	t.Helper()
	srv := smtptest.Start(t, implicit, maxBytes)
	cfg := testConfig()
	cfg.CAFile = srv.CAFile
	clk := &fakeClock{now: local("2026-03-03 10:00")}
	e := newEnv(t, cfg, Deps{Sources: src, Clock: clk})
	security := SecuritySTARTTLS
	if implicit {
		security = SecurityTLS
	}
	var v MailView
	body := fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"security":%q,"username":"reports","password":"s3cret-pass","from":"Switchboard <pbx@example.com>"}`, srv.Port, security)
	if code := e.do("PUT", "/api/v1/mail", "", body, &v); code != 200 || !v.PasswordSet || v.Port != srv.Port {
		t.Fatalf("mail settings: %d %+v", code, v)
	}
	e.serve()
	return e, srv
}

func (e *env) waitRun(id string) Run {
	e.t.Helper()
	var r Run
	eventually(e.t, "the run ends", func() bool {
		runs, err := e.svc.Runs(context.Background(), id, 1)
		if err != nil || len(runs) == 0 {
			return false
		}
		r = runs[0]
		e.svc.mu.Lock()
		busy := e.svc.running[id]
		e.svc.mu.Unlock()
		return r.Status != StatusRunning && !busy
	})
	return r
}

func TestManualRunAnswersAtOnceAndTheMailArrivesLater(t *testing.T) {
	src := &gatedSource{legSource: someLegs(25), gate: make(chan struct{})}
	e, srv := mailEnv(t, report.Sources{CDR: src}, false, 0)
	var v View
	if code := e.do("POST", "/api/v1/tasks", "", `{"type":"cdr","name":"Daily CDR","schedule":"daily","time":"06:00",
		"interval":"previous_day","format":"xlsx","compress_over_mb":5,"recipients":["boss@example.com","ops@example.com"],"enabled":false}`, &v); code != 201 {
		t.Fatalf("create: %d %+v", code, v)
	}
	if v.NextRun != nil || v.Enabled {
		t.Fatalf("a disabled task has a next run: %+v", v)
	}
	var ans struct {
		Message string `json:"message"`
		Run     Run    `json:"run"`
	}
	// A disabled task runs by hand; the answer comes while the export is
	// still held by the source.
	if code := e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", &ans); code != 202 || ans.Message != "report generation started" || ans.Run.Status != StatusRunning {
		t.Fatalf("run: %d %+v", code, ans)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("mail sent before the export could run")
	}
	var tv View
	e.do("GET", "/api/v1/tasks/"+v.ID, "", "", &tv)
	if !tv.Running || tv.LastRun == nil || tv.LastRun.ID != ans.Run.ID {
		t.Fatalf("task while running: %+v", tv)
	}
	close(src.gate)
	r := e.waitRun(v.ID)
	if r.Status != StatusOK || r.Rows != 25 || r.Compressed || r.File != "cdr-2026-03-02.xlsx" || r.FileSize == 0 ||
		r.MailAttempts != 1 || strings.Join(r.Recipients, ",") != "boss@example.com,ops@example.com" || r.By != "alice" {
		t.Fatalf("run: %+v", r)
	}
	if !r.From.Equal(local("2026-03-02 00:00")) || !r.To.Equal(local("2026-03-03 00:00")) || r.End == nil {
		t.Fatalf("period: %+v", r)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].From != "pbx@example.com" || strings.Join(msgs[0].To, ",") != "boss@example.com,ops@example.com" {
		t.Fatalf("messages: %+v", msgs)
	}
	h, parts := smtptest.Parse(t, msgs[0].Data)
	if !strings.Contains(h.Get("Subject"), "Daily CDR") || len(parts) != 2 {
		t.Fatalf("subject %q, %d parts", h.Get("Subject"), len(parts))
	}
	if !strings.Contains(string(parts[0].Body), "Calls: 25") || parts[1].Name != "cdr-2026-03-02.xlsx" ||
		parts[1].ContentType != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" || int64(len(parts[1].Body)) != r.FileSize {
		t.Fatalf("parts: %q / %s %s %d", parts[0].Body, parts[1].Name, parts[1].ContentType, len(parts[1].Body))
	}
	// The attachment opens in a real spreadsheet reader with the rows.
	path := filepath.Join(t.TempDir(), parts[1].Name)
	os.WriteFile(path, parts[1].Body, 0o600)
	d := openpyxl(t, path)
	rows := d.Data["Calls"]
	if len(rows) != 26 || rows[0][1] != "Start" || rows[1][1] != "2026-03-02 08:00:00" || rows[25][2] != "0611000024" || rows[25][8] != float64(31) {
		t.Fatalf("xlsx rows: %v", rows[:2])
	}
}

type xlsxDump struct {
	Sheets []string           `json:"sheets"`
	Data   map[string][][]any `json:"data"`
}

func openpyxl(t *testing.T, path string) xlsxDump {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import openpyxl").Run(); err != nil {
		t.Skip("python3-openpyxl not installed")
	}
	out, err := exec.Command("/usr/bin/python3", "../report/testdata/xlsx2json.py", path).Output()
	if err != nil {
		t.Fatalf("openpyxl: %v", err)
	}
	var d xlsxDump
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSizeRuleDecidesTheZip(t *testing.T) {
	// About 4.3 MB of CSV: 2 files (detailed) together.
	src := someLegs(20000)
	e, srv := mailEnv(t, report.Sources{CDR: src}, true, 0)
	mk := func(format string, over int) string {
		var v View
		body := fmt.Sprintf(`{"type":"cdr","name":"%s over %d","interval":"previous_day","format":%q,"compress_over_mb":%d,"recipients":["a@example.com"]}`, format, over, format, over)
		if code := e.do("POST", "/api/v1/tasks", "", body, &v); code != 201 {
			t.Fatalf("%d", code)
		}
		return v.ID
	}
	for i, c := range []struct {
		format  string
		over    int
		zipped  bool
		attachs []string
	}{
		{FormatCSVDetailed, 10, false, []string{"cdr-2026-03-02-calls.csv", "cdr-2026-03-02-legs.csv"}}, // 4 MB < 10 MB
		{FormatCSVDetailed, 2, true, []string{"cdr-2026-03-02.zip"}},                                    // larger than 2 MB
		{FormatJSON, 0, true, []string{"cdr-2026-03-02.zip"}},                                           // 0 = always
	} {
		id := mk(c.format, c.over)
		if code := e.do("POST", "/api/v1/tasks/"+id+"/run", "", "", nil); code != 202 {
			t.Fatalf("run %d", code)
		}
		r := e.waitRun(id)
		if r.Status != StatusOK || r.Compressed != c.zipped || r.File != strings.Join(c.attachs, ", ") {
			t.Fatalf("case %d: %+v", i, r)
		}
		eventually(t, "the mail", func() bool { return len(srv.Messages()) == i+1 })
		_, parts := smtptest.Parse(t, srv.Messages()[i].Data)
		var names []string
		var total int64
		for _, p := range parts[1:] {
			names = append(names, p.Name)
			total += int64(len(p.Body))
		}
		if strings.Join(names, ", ") != r.File || total != r.FileSize {
			t.Fatalf("case %d: attached %v (%d bytes), run says %s (%d)", i, names, total, r.File, r.FileSize)
		}
		if !c.zipped {
			if total <= 2*report.MB || total > 10*report.MB {
				t.Fatalf("the CSV files are %d bytes: the cases above assume 2-10 MB", total)
			}
			continue
		}
		z := filepath.Join(t.TempDir(), "a.zip")
		os.WriteFile(z, parts[1].Body, 0o600)
		if _, err := exec.LookPath("unzip"); err != nil {
			t.Skip("unzip not installed")
		}
		out, err := exec.Command("unzip", "-t", z).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No errors detected") {
			t.Fatalf("unzip -t: %v %s", err, out)
		}
	}
}

func TestTemporaryFailuresAreRetried(t *testing.T) {
	e, srv := mailEnv(t, report.Sources{CDR: someLegs(3)}, false, 0)
	var waits []time.Duration
	e.svc.mail.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	srv.FailNext(2)
	v := e.task(Input{Name: strp("retry"), Interval: strp(PreviousDay)})
	e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", nil)
	r := e.waitRun(v.ID)
	if r.Status != StatusOK || r.MailAttempts != 3 || len(srv.Messages()) != 1 {
		t.Fatalf("%+v, %d messages", r, len(srv.Messages()))
	}
	if len(waits) != 2 || waits[0] != time.Minute || waits[1] != 2*time.Minute {
		t.Fatalf("backoff %v", waits)
	}
	// Past mail_attempts the run fails, saying so.
	srv.FailNext(10)
	e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", nil)
	r = e.waitRun(v.ID)
	if r.Status != StatusFailed || r.MailAttempts != 5 || !strings.Contains(r.Error, "451") || !strings.Contains(r.Error, "after 5 attempts") {
		t.Fatalf("%+v", r)
	}
}

func TestPermanentFailuresAreNot(t *testing.T) {
	e, srv := mailEnv(t, report.Sources{CDR: someLegs(3)}, false, 0)
	srv.SetPassword("changed") // the stored password is now wrong: 535
	v := e.task(Input{Name: strp("bad auth"), Interval: strp(PreviousDay)})
	e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", nil)
	r := e.waitRun(v.ID)
	if r.Status != StatusFailed || r.MailAttempts != 1 || !strings.Contains(r.Error, "mail:") {
		t.Fatalf("%+v", r)
	}
	var h View
	e.do("GET", "/api/v1/tasks/"+v.ID, "", "", &h)
	if h.LastRun == nil || h.LastRun.Status != StatusFailed {
		t.Fatalf("%+v", h)
	}
	if hl := e.svc.Health(context.Background()); hl.Status != "degraded" || !strings.Contains(hl.Detail, "last run failed") {
		t.Fatalf("health %+v", hl)
	}
}

func TestTooLargeMessageIsAnErrorOnTheRun(t *testing.T) {
	e, srv := mailEnv(t, report.Sources{CDR: someLegs(2000)}, false, 50000)
	v := e.task(Input{Name: strp("big"), Interval: strp(PreviousDay), Format: strp(FormatCSV), CompressOverMB: intp(100)})
	e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", nil)
	r := e.waitRun(v.ID)
	if r.Status != StatusFailed || !strings.Contains(r.Error, "larger than the 50000 bytes the SMTP server accepts") || r.Rows != 2000 || r.FileSize == 0 {
		t.Fatalf("%+v", r)
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("a message went through")
	}
}

func TestCallCenterMailsTheSupervisors(t *testing.T) {
	q := queueSource{calls: []report.QueueCall{{CallID: "1.1", Queue: "400", CallerNum: "0611", Entered: local("2026-03-02 09:00"),
		Position: 1, Wait: 5, Outcome: report.OutcomeAnswered, Agent: "201", Talk: 30,
		Attempts: []report.AgentAttempt{{Agent: "201", Start: local("2026-03-02 09:00"), Ring: 3, Result: report.AttemptAnswered}}}}}
	e, srv := mailEnv(t, report.Sources{Queue: q}, false, 0)
	// Supervisors: admin users marked so, CTI users whose profile has the
	// qmanager macro on; each with an address, enabled.
	_, err := e.st.Update(context.Background(), store.System, func(tx *store.Tx) error {
		for id, doc := range map[string]string{
			"sup":      `{"username":"sup","role":"admin","email":"sup@example.com","supervisor":true}`,
			"plain":    `{"username":"plain","role":"admin","email":"plain@example.com"}`,
			"disabled": `{"username":"disabled","role":"admin","email":"off@example.com","supervisor":true,"disabled":true}`,
		} {
			if err := tx.Create("user", "", id, json.RawMessage(doc), ""); err != nil {
				return err
			}
		}
		tx.Create("cti_profile", "", "qm", json.RawMessage(`{"id":"qm","macro_permissions":{"qmanager":{"value":true,"permissions":[]}}}`), "")
		tx.Create("cti_profile", "", "base", json.RawMessage(`{"id":"base","macro_permissions":{"qmanager":{"value":false,"permissions":[]}}}`), "")
		tx.Create("cti_user", "", "anna", json.RawMessage(`{"username":"anna","email":"anna@example.com","profile":"qm"}`), "")
		tx.Create("cti_user", "", "bob", json.RawMessage(`{"username":"bob","email":"bob@example.com","profile":"base"}`), "")
		return tx.Create("cti_user", "", "noemail", json.RawMessage(`{"username":"noemail","profile":"qm"}`), "")
	})
	if err != nil {
		t.Fatal(err)
	}
	var v View
	if code := e.do("POST", "/api/v1/tasks", "", `{"type":"callcenter","name":"Queues","interval":"previous_day","format":"csv_detailed",
		"operator_events":true,"notify_supervisors":true}`, &v); code != 201 {
		t.Fatalf("%d", code)
	}
	e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", nil)
	r := e.waitRun(v.ID)
	if r.Status != StatusOK || strings.Join(r.Recipients, ",") != "anna@example.com,sup@example.com" || r.Rows != 1 || r.DetailRows != 1 {
		t.Fatalf("%+v", r)
	}
	_, parts := smtptest.Parse(t, srv.Messages()[0].Data)
	var names []string
	for _, p := range parts[1:] {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "callcenter-2026-03-02-queue_calls.csv,callcenter-2026-03-02-attempts.csv,callcenter-2026-03-02-operator_events.csv" {
		t.Fatalf("%v", names)
	}
}

func TestMailPasswordIsSealedAndNeverReturned(t *testing.T) {
	e, srv := mailEnv(t, report.Sources{CDR: someLegs(1)}, false, 0)
	var v map[string]any
	e.do("GET", "/api/v1/mail", "auditor", "", &v)
	if _, ok := v["password"]; ok || v["password_set"] != true || v["username"] != "reports" {
		t.Fatalf("%v", v)
	}
	// Stored sealed: the plain password is nowhere in the database files.
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(e.st.Path() + suffix)
		if strings.Contains(string(b), "s3cret-pass") {
			t.Fatalf("the password is in the clear in %s", e.st.Path()+suffix)
		}
	}
	rows, _, err := e.st.Audit(context.Background(), store.AuditFilter{ObjectType: KindMail})
	if err != nil || len(rows) != 1 || !strings.Contains(string(rows[0].After), `"password":"********"`) {
		t.Fatalf("audit: %+v %v", rows, err)
	}
	// The test mail works with it; a change without a password keeps it.
	var res map[string]any
	if code := e.do("POST", "/api/v1/mail/test", "", `{"to":"me@example.com"}`, &res); code != 200 || res["ok"] != true {
		t.Fatalf("test: %d %v", code, res)
	}
	e.do("PUT", "/api/v1/mail", "", `{"from":"pbx2@example.com"}`, &v)
	if code := e.do("POST", "/api/v1/mail/test", "", `{"to":"me@example.com"}`, &res); code != 200 || res["ok"] != true {
		t.Fatalf("test after a change: %d %v", code, res)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[1].From != "pbx2@example.com" || msgs[1].To[0] != "me@example.com" {
		t.Fatalf("%+v", msgs)
	}
	// A wrong password gives ok: false with the server's answer.
	e.do("PUT", "/api/v1/mail", "", `{"password":"wrong-one"}`, &v)
	if code := e.do("POST", "/api/v1/mail/test", "", `{"to":"me@example.com"}`, &res); code != 200 || res["ok"] != false || res["error"] == "" {
		t.Fatalf("test with a wrong password: %d %v", code, res)
	}
	// Bad settings are refused naming the field, and change nothing.
	for _, c := range []struct{ body, field string }{
		{`{"security":"none"}`, "security"}, // the password would travel in clear
		{`{"port":0}`, "port"},
		{`{"from":"not an address"}`, "from"},
		{`{"host":"bad host!"}`, "host"},
		{`{"security":"ssl"}`, "security"},
		{`{"username":""}`, ""}, // no username: the password goes too
		{`{"security":"none"}`, ""},
	} {
		var er map[string]any
		code := e.do("PUT", "/api/v1/mail", "", c.body, &er)
		if c.field == "" {
			if code != 200 || er["password_set"] != false {
				t.Errorf("%s: %d %v", c.body, code, er)
			}
			continue
		}
		if code != 400 || er["field"] != c.field {
			t.Errorf("%s: %d %v", c.body, code, er)
		}
	}
	if code := e.do("POST", "/api/v1/mail/test", "", `{"to":"nobody"}`, &res); code != 400 {
		t.Fatalf("bad address: %d", code)
	}
}
