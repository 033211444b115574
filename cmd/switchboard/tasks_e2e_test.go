package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/smtptest"
)

// TestTasksThroughDaemon drives scheduled tasks, the SMTP settings and the
// audit export through the real daemon and its CLI, with a real SMTP server.
func TestTasksThroughDaemon(t *testing.T) {
	srv := smtptest.Start(t, false, 0)
	d := newDaemon(t, fmt.Sprintf("tasks:\n  time_zone: Europe/Rome\n  ca_file: %s\n", srv.CAFile))
	d.start()
	// Refusals name the field and exit 1.
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"task", "add", "cdr", "--name", "no recipients"}, "(--recipients)"},
		{[]string{"task", "add", "callcenter", "--name", "q", "--format", "csv", "--operator-events", "true", "--notify-supervisors", "true"}, "(--operator-events)"},
		{[]string{"task", "add", "callcenter", "--name", "q", "--format", "xlsx_detailed"}, "at least one recipient, or notify all supervisors"},
	} {
		if out, errOut, code := d.cli("", c.args...); code != 1 || !strings.Contains(errOut, c.field) {
			t.Fatalf("%v: exit %d %s %s", c.args, code, out, errOut)
		}
	}
	out, errOut, code := d.cli("s3cret-pass\n", "mail", "set", "--host", "127.0.0.1", "--port", fmt.Sprint(srv.Port), "--security", "starttls",
		"--username", "reports", "--password-stdin", "--from", "Switchboard <pbx@example.com>")
	if code != 0 {
		t.Fatalf("mail set: %d %s %s", code, out, errOut)
	}
	if out, _, _ = d.cli("", "mail", "show", "--json"); strings.Contains(out, "s3cret") || !strings.Contains(out, `"password_set": true`) {
		t.Fatalf("mail show: %s", out)
	}
	if out, errOut, code = d.cli("", "mail", "test", "ops@example.com"); code != 0 || len(srv.Messages()) != 1 {
		t.Fatalf("mail test: %d %s %s", code, out, errOut)
	}
	if h, _ := smtptest.Parse(t, srv.Messages()[0].Data); !strings.Contains(h.Get("Subject"), "test message") {
		t.Fatalf("test message: %v", h)
	}
	out, errOut, code = d.cli("", "task", "add", "cdr", "--name", "Weekly CDR", "--to", "ops@example.com,boss@example.com",
		"--schedule", "weekly", "--weekday", "monday", "--time", "07:30", "--interval", "previous_week", "--format", "csv_detailed", "--compress-over", "0")
	if code != 0 || !strings.Contains(out, "weekly monday 07:30 (Europe/Rome)") || !strings.Contains(out, "ops@example.com, boss@example.com") {
		t.Fatalf("task add: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = d.cli("", "task", "set", "Weekly CDR", "--enabled", "false"); code != 0 || !strings.Contains(out, "enabled:            false") && !strings.Contains(out, "enabled:") {
		t.Fatalf("task set: %d %s %s", code, out, errOut)
	}
	out, _, _ = d.cli("", "task", "list", "--json")
	var res struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Items) != 1 || res.Items[0]["enabled"] != false || res.Items[0]["next_run"] != nil {
		t.Fatalf("task list: %v %s", err, out)
	}
	if out, _, code = d.cli("", "task", "runs", "Weekly CDR"); code != 0 || !strings.HasPrefix(out, "START") {
		t.Fatalf("task runs: %d %s", code, out)
	}
	if _, errOut, code = d.cli("", "task", "show", "nonexistent"); code != 1 || !strings.Contains(errOut, `no task "nonexistent"`) {
		t.Fatalf("task show: %d %s", code, errOut)
	}
	// The audit log has the changes, the SMTP password redacted; exported
	// with chosen columns.
	csvPath := filepath.Join(t.TempDir(), "audit.csv")
	if out, errOut, code = d.cli("", "audit", "export", "--format", "csv", "--columns", "user,action,object_type,description", "-o", csvPath); code != 0 {
		t.Fatalf("audit export: %d %s %s", code, out, errOut)
	}
	b, _ := os.ReadFile(csvPath)
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF"))).ReadAll()
	// The default tenant is created with its PBX settings (its phones' admin
	// password): two rows before the mail settings.
	if err != nil || len(recs) != 6 || strings.Join(recs[0], ",") != "User,Action,Object type,Description" ||
		strings.Join(recs[3], ",") != "cli:root,create,mail_settings,SMTP settings saved" && os.Geteuid() == 0 || recs[5][1] != "update" {
		t.Fatalf("audit csv: %v %q", err, recs)
	}
	xlsxPath := filepath.Join(t.TempDir(), "audit.xlsx")
	if out, errOut, code = d.cli("", "audit", "export", "--format", "xlsx", "--type", "task", "--lang", "it", "-o", xlsxPath); code != 0 {
		t.Fatalf("audit export xlsx: %d %s %s", code, out, errOut)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import openpyxl").Run(); err == nil {
		py := `import openpyxl,sys; ws=openpyxl.load_workbook(sys.argv[1]).active; print(ws.title, ws.max_row, ws.cell(1,1).value, ws.cell(2,6).value)`
		got, err := exec.Command("/usr/bin/python3", "-c", py, xlsxPath).CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != "Registro modifiche 3 ID transazione create" {
			t.Fatalf("openpyxl: %v %s", err, got)
		}
	}
	if _, errOut, code = d.cli("", "audit", "export", "--format", "pdf"); code != 1 || !strings.Contains(errOut, "(--format)") {
		t.Fatalf("bad format: %d %s", code, errOut)
	}
}
