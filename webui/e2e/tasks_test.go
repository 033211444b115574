package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/smtptest"
	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestTasksPanel drives "Attività pianificate" in Italian: the SMTP settings
// with a test mail to a real SMTP server, a task refused without recipients
// (the error on the field), the fields that follow the type and the
// schedule, the task saved, started with the play button (the answer at
// once, the mail after) and its run in the history.
func TestTasksPanel(t *testing.T) {
	env := webuitest.Shared(t)
	mail := smtptest.Start(t, false, 0)
	mail.User = "" // a relay on the local network: no authentication, no TLS
	p, u := env.Page(t, "it", "admin", "")

	p.Go("tasks/mail")
	p.Fill("#mail-form", "host", "127.0.0.1")
	p.Fill("#mail-form", "security", "none")
	p.Fill("#mail-form", "port", strconv.Itoa(mail.Port))
	p.Fill("#mail-form", "from", "Centralino <pbx@example.com>")
	p.Submit("#mail-form")
	p.WaitVisible("main .msg.ok") // the page shown again, with "saved"
	p.Fill("#mail-test", "to", "ops@example.com")
	p.Submit("#mail-test")
	p.WaitVisible("#mail-test-msg .msg.ok")
	if n := len(mail.Messages()); n != 1 {
		t.Fatalf("test mail: %d messages", n)
	}

	p.Go("tasks/new")
	if !strings.Contains(p.Text("main h1, main h2"), "Pianifica nuova attività") {
		t.Errorf("title: %q", p.Text("main h1, main h2"))
	}
	name := env.Name(t, "report")
	p.Fill("#task-form", "name", name)
	// Weekly shows the weekday, monthly the day of month; call-center the
	// operator events and the supervisors.
	visible := func(field string) bool {
		return webuitest.Eval[bool](p, `!document.querySelector('#task-form [data-field="`+field+`"]').hidden`)
	}
	if visible("weekday") || visible("day_of_month") || visible("operator_events") {
		t.Errorf("daily cdr task shows weekday, day of month or operator events")
	}
	p.Fill("#task-form", "schedule", "weekly")
	if !visible("weekday") || visible("day_of_month") {
		t.Errorf("weekly: weekday hidden or day of month shown")
	}
	p.Fill("#task-form", "schedule", "monthly")
	if visible("weekday") || !visible("day_of_month") {
		t.Errorf("monthly: weekday shown or day of month hidden")
	}
	p.Fill("#task-form", "type", "callcenter")
	if !visible("operator_events") || !visible("notify_supervisors") {
		t.Errorf("call-center fields hidden")
	}
	p.Fill("#task-form", "type", "cdr")
	p.Fill("#task-form", "schedule", "daily")
	// No recipients: refused, the message on the field.
	p.Submit("#task-form")
	if msg := p.FieldError("#task-form", "recipients"); !strings.Contains(msg, "Destinatari") {
		t.Errorf("recipients error: %q", msg)
	}
	if msg := p.Text("#task-form .form-msg"); !strings.Contains(msg, "at least one recipient is required") {
		t.Errorf("the API's reason: %q", msg)
	}
	p.Shot("validation")
	p.Fill("#task-form", "recipients", "ops@example.com\nboss@example.com")
	p.Fill("#task-form", "format", "csv")
	p.Submit("#task-form")
	p.Reshown("tasks")
	row := `#tasks tr[data-name="` + name + `"]`
	p.WaitVisible(row)
	if s := p.Text(row); !strings.Contains(s, "Ogni giorno alle 06:00") || !strings.Contains(s, "Sì") {
		t.Errorf("row: %q", s)
	}
	// The play button answers at once; the mail follows.
	p.Click(row + " button[data-run]")
	p.WaitVisible("#tasks-msg .msg.ok")
	if s := p.Text("#tasks-msg"); !strings.Contains(s, "Generazione del report avviata") {
		t.Errorf("answer: %q", s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(mail.Messages()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no report mail")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := mail.Messages()[1]; strings.Join(m.To, ",") != "ops@example.com,boss@example.com" {
		t.Errorf("report to %v", m.To)
	}
	p.Click(row)
	p.WaitVisible("#task-runs")
	p.Poll("the run in the history", `(() => { location.hash = location.hash; return !!document.querySelector('#task-runs tr[data-status="ok"]'); })()`)
	if s := p.Text(`#task-runs tr[data-status="ok"]`); !strings.Contains(s, "Manuale") || !strings.Contains(s, "Riuscita") {
		t.Errorf("history: %q", s)
	}
	p.Shot("history")
	if rows := env.AuditRows(t, "object_type=task&user="+u.Name); len(rows) != 1 || rows[0]["action"] != "create" {
		t.Errorf("audit: %v", rows)
	}
	if bad := p.Untranslated(); len(bad) > 0 {
		t.Errorf("untranslated: %q", bad)
	}
}
