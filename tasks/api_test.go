package tasks

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

func TestRefusalsNameTheField(t *testing.T) {
	e := newEnv(t, testConfig(), Deps{})
	base := `"name":"x","schedule":"daily","time":"06:00","interval":"previous_day"`
	for _, c := range []struct{ body, field, msg string }{
		{`{"type":"cdr",` + base + `,"format":"xlsx","recipients":[]}`, "recipients", "at least one recipient is required"},
		{`{"type":"cdr",` + base + `,"format":"xlsx"}`, "recipients", "at least one recipient"},
		{`{"type":"callcenter",` + base + `,"format":"xlsx","recipients":[]}`, "recipients", `at least one recipient, or notify all supervisors, is required`},
		{`{"type":"callcenter",` + base + `,"format":"xlsx","notify_supervisors":true,"operator_events":true}`, "operator_events", "only with a detailed format"},
		{`{"type":"callcenter",` + base + `,"format":"csv","notify_supervisors":true,"operator_events":true}`, "operator_events", "detailed"},
		{`{"type":"callcenter",` + base + `,"format":"json","notify_supervisors":true,"operator_events":true}`, "operator_events", "detailed"},
		{`{"type":"cdr",` + base + `,"format":"xlsx_detailed","operator_events":true,"recipients":["a@example.com"]}`, "operator_events", "call-center"},
		{`{"type":"cdr",` + base + `,"format":"xlsx","recipients":["not-an-address"]}`, "recipients", "not an e-mail address"},
		{`{"type":"cdr",` + base + `,"format":"pdf","recipients":["a@example.com"]}`, "format", "format must be"},
		{`{"type":"cdr","name":"x","schedule":"weekly","time":"06:00","interval":"previous_day","format":"csv","recipients":["a@example.com"]}`, "weekday", "weekday"},
		{`{"type":"cdr","name":"x","schedule":"monthly","day_of_month":32,"time":"06:00","interval":"previous_day","format":"csv","recipients":["a@example.com"]}`, "day_of_month", "1-31"},
		{`{"type":"cdr","name":"x","schedule":"daily","time":"24:00","interval":"previous_day","format":"csv","recipients":["a@example.com"]}`, "time", "HH:MM"},
		{`{"type":"cdr","name":"","recipients":["a@example.com"]}`, "name", "required"},
		{`{"type":"fax","name":"x"}`, "type", "cdr or callcenter"},
		{`{"name":"x"}`, "type", "required"},
		{`{"type":"cdr","name":"x","interval":"yesterday","recipients":["a@example.com"]}`, "interval", "interval must be"},
		{`{"type":"cdr","name":"x","compress_over_mb":-1,"recipients":["a@example.com"]}`, "compress_over_mb", "0-1000"},
		{`{"type":"cdr","name":"x","recipients":["a@example.com"],"colour":"red"}`, "colour", "unknown field"},
	} {
		var er map[string]string
		if code := e.do("POST", "/api/v1/tasks", "", c.body, &er); code != 400 || er["field"] != c.field || !strings.Contains(er["error"], c.msg) {
			t.Errorf("%s: %d %v, want field %s (%q)", c.body, code, er, c.field, c.msg)
		}
	}
	var l struct{ Items []View }
	e.do("GET", "/api/v1/tasks", "", "", &l)
	if len(l.Items) != 0 {
		t.Fatalf("a refused task was saved: %+v", l.Items)
	}
	// Accepted ones; fields that do not apply to the schedule are dropped.
	var v View
	if code := e.do("POST", "/api/v1/tasks", "", `{"type":"callcenter","name":"Queues weekly","schedule":"weekly","weekday":"friday",
		"day_of_month":12,"time":"18:30","interval":"current_week","format":"xlsx_detailed","operator_events":true,"notify_supervisors":true}`, &v); code != 201 {
		t.Fatalf("%d %+v", code, v)
	}
	if v.DayOfMonth != 0 || v.Weekday != "friday" || v.TimeZone != "Europe/Rome" || v.NextRun == nil || v.NextRun.In(rome).Weekday().String() != "Friday" {
		t.Fatalf("%+v", v)
	}
	// A change that would break a rule is refused and changes nothing.
	var er map[string]string
	if code := e.do("PATCH", "/api/v1/tasks/"+v.ID, "", `{"notify_supervisors":false}`, &er); code != 400 || er["field"] != "recipients" {
		t.Fatalf("%d %v", code, er)
	}
	if code := e.do("PATCH", "/api/v1/tasks/"+v.ID, "", `{"format":"csv"}`, &er); code != 400 || er["field"] != "operator_events" {
		t.Fatalf("%d %v", code, er)
	}
	if code := e.do("PATCH", "/api/v1/tasks/"+v.ID, "", `{"type":"cdr"}`, &er); code != 400 || er["field"] != "type" {
		t.Fatalf("%d %v", code, er)
	}
	var v2 View
	e.do("GET", "/api/v1/tasks/"+v.ID, "", "", &v2)
	if !v2.NotifySupervisors || v2.Format != "xlsx_detailed" || !v2.Updated.Equal(v.Updated) {
		t.Fatalf("changed by a refused update: %+v", v2)
	}
	var v3 View
	if code := e.do("PATCH", "/api/v1/tasks/"+v.ID, "", `{"schedule":"monthly","day_of_month":31}`, &v3); code != 200 || v3.Weekday != "" || v3.DayOfMonth != 31 {
		t.Fatalf("%d %+v", code, v3)
	}
	// Every change has its audit row, by its user.
	rows, _, err := e.st.Audit(context.Background(), store.AuditFilter{ObjectType: KindTask})
	if err != nil || len(rows) != 2 || rows[0].User != "alice" || rows[0].Action != "update" || rows[1].Action != "create" {
		t.Fatalf("audit %+v %v", rows, err)
	}
	if code := e.do("DELETE", "/api/v1/tasks/"+v.ID, "", "", nil); code != 204 {
		t.Fatalf("delete %d", code)
	}
	if code := e.do("GET", "/api/v1/tasks/"+v.ID, "", "", nil); code != 404 {
		t.Fatalf("deleted %d", code)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t, testConfig(), Deps{})
	v := e.task(Input{Name: strp("t")})
	if code := e.do("GET", "/api/v1/tasks", "auditor", "", nil); code != 200 {
		t.Fatalf("auditor list: %d", code)
	}
	if code := e.do("GET", "/api/v1/tasks/"+v.ID+"/runs", "auditor", "", nil); code != 200 {
		t.Fatalf("auditor runs: %d", code)
	}
	for _, c := range []struct{ method, path, role string }{
		{"GET", "/api/v1/tasks", "tenant_admin"},
		{"GET", "/api/v1/mail", "tenant_admin"},
		{"POST", "/api/v1/tasks", "tenant_admin"},
		{"POST", "/api/v1/tasks/" + v.ID + "/run", "tenant_admin"},
		{"POST", "/api/v1/tasks/" + v.ID + "/run", "auditor"},
		{"DELETE", "/api/v1/tasks/" + v.ID, "auditor"},
	} {
		if code := e.do(c.method, c.path, c.role, `{}`, nil); code != 403 {
			t.Errorf("%s %s as %s: %d", c.method, c.path, c.role, code)
		}
	}
	// Not serving (the passive node): a manual run says where tasks run.
	var er map[string]string
	if code := e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", &er); code != 503 || !strings.Contains(er["error"], "active node") {
		t.Fatalf("%d %v", code, er)
	}
}

func TestAuditExport(t *testing.T) {
	e := newEnv(t, testConfig(), Deps{})
	for _, n := range []string{"first", "second, with \"quotes\""} {
		e.task(Input{Name: strp(n)})
	}
	get := func(query string) (*http.Response, []byte) {
		resp, err := http.Get(e.srv.URL + "/api/v1/audit/export" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := get("?format=csv")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), `filename=audit-`) {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF"))).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("%v %q", err, b)
	}
	if strings.Join(recs[0], "|") != "Transaction ID|Day|Timestamp|User|IP address|Action|Object type|Description" ||
		recs[2][3] != "alice" || recs[2][4] != "192.0.2.1" || recs[2][7] != `scheduled task "second, with "quotes"" created` || !strings.Contains(string(b), `"scheduled task ""second, with ""quotes"""" created"`+"\r\n") {
		t.Fatalf("%q", recs)
	}
	_, b = get("?format=json&columns=user,action,object_id&lang=it")
	var doc struct {
		Changes []map[string]any `json:"changes"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Changes) != 2 || len(doc.Changes[0]) != 3 || doc.Changes[0]["action"] != "create" {
		t.Fatalf("%v %s", err, b)
	}
	resp, b = get("?format=xml&user=nobody")
	path := filepath.Join(t.TempDir(), "a.xml")
	os.WriteFile(path, b, 0o600)
	if out, err := exec.Command("xmllint", "--noout", path).CombinedOutput(); err != nil || !strings.Contains(string(b), "<changes>\n</changes>") {
		t.Fatalf("%v %s %s", err, out, b)
	}
	resp, b = get("?format=xlsx&columns=time,description&lang=it")
	if resp.Header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("%v", resp.Header)
	}
	path = filepath.Join(t.TempDir(), "a.xlsx")
	os.WriteFile(path, b, 0o600)
	d := openpyxl(t, path)
	if d.Sheets[0] != "Registro modifiche" || len(d.Data[d.Sheets[0]]) != 3 || d.Data[d.Sheets[0]][0][1] != "Descrizione" {
		t.Fatalf("%+v", d)
	}
	for q, field := range map[string]string{"?format=pdf": "format", "?columns=user,secret": "columns", "?month=2026": "month", "?colour=1": "colour"} {
		var er map[string]string
		if code := e.do("GET", "/api/v1/audit/export"+q, "", "", &er); code != 400 || er["field"] != field {
			t.Errorf("%s: %d %v", q, code, er)
		}
	}
}
