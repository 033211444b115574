package tasks

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// Store kinds.
const (
	KindTask = "task"
	KindRun  = "task_run"
	KindMail = "mail_settings"
)

// Task kinds.
const (
	TypeCDR        = "cdr"        // CDR export
	TypeCallCenter = "callcenter" // call-center CDR export
)

// File formats a task offers.
const (
	FormatXLSX         = "xlsx"
	FormatXLSXDetailed = "xlsx_detailed"
	FormatCSV          = "csv"
	FormatCSVDetailed  = "csv_detailed"
	FormatJSON         = "json"
	FormatXML          = "xml"
)

// FileFormats lists them in the console's order.
var FileFormats = []string{FormatXLSX, FormatXLSXDetailed, FormatCSV, FormatCSVDetailed, FormatJSON, FormatXML}

// Weekdays are the values of weekday, Monday first.
var Weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// Task is a scheduled export as stored.
type Task struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Type is cdr or callcenter; it does not change after creation.
	Type    string `json:"type"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Schedule is daily, weekly or monthly; Time is "HH:MM" local.
	Schedule string `json:"schedule"`
	Time     string `json:"time"`
	// Weekday is set for weekly tasks only, DayOfMonth for monthly ones only.
	Weekday    string `json:"weekday,omitempty"`
	DayOfMonth int    `json:"day_of_month,omitempty"`
	Interval   string `json:"interval"`
	Format     string `json:"format"`
	// CompressOverMB zips the attachment when it is larger than this many MB;
	// 0 = always.
	CompressOverMB int      `json:"compress_over_mb"`
	Recipients     []string `json:"recipients"`
	// Call-center tasks only.
	OperatorEvents    bool      `json:"operator_events,omitempty"`
	NotifySupervisors bool      `json:"notify_supervisors,omitempty"`
	Created           time.Time `json:"created"`
	// Updated is when the task was last saved: a run "missed while down" must
	// be due after it (see Service.catchUp).
	Updated time.Time `json:"updated"`
}

// Input is what the API accepts; nil fields stay as they are on update.
type Input struct {
	Type              *string   `json:"type"`
	Name              *string   `json:"name"`
	Enabled           *bool     `json:"enabled"`
	Schedule          *string   `json:"schedule"`
	Time              *string   `json:"time"`
	Weekday           *string   `json:"weekday"`
	DayOfMonth        *int      `json:"day_of_month"`
	Interval          *string   `json:"interval"`
	Format            *string   `json:"format"`
	CompressOverMB    *int      `json:"compress_over_mb"`
	Recipients        *[]string `json:"recipients"`
	OperatorEvents    *bool     `json:"operator_events"`
	NotifySupervisors *bool     `json:"notify_supervisors"`
	Tenant            *string   `json:"tenant"`
}

func (in Input) apply(t *Task) {
	str := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	str(&t.Name, in.Name)
	str(&t.Schedule, in.Schedule)
	str(&t.Time, in.Time)
	str(&t.Weekday, in.Weekday)
	str(&t.Interval, in.Interval)
	str(&t.Format, in.Format)
	if in.Enabled != nil {
		t.Enabled = *in.Enabled
	}
	if in.DayOfMonth != nil {
		t.DayOfMonth = *in.DayOfMonth
	}
	if in.CompressOverMB != nil {
		t.CompressOverMB = *in.CompressOverMB
	}
	if in.Recipients != nil {
		t.Recipients = nil
		seen := map[string]bool{}
		for _, r := range *in.Recipients {
			r = strings.TrimSpace(r)
			if r != "" && !seen[strings.ToLower(r)] {
				seen[strings.ToLower(r)] = true
				t.Recipients = append(t.Recipients, r)
			}
		}
	}
	if in.OperatorEvents != nil {
		t.OperatorEvents = *in.OperatorEvents
	}
	if in.NotifySupervisors != nil {
		t.NotifySupervisors = *in.NotifySupervisors
	}
	// What does not apply to the schedule is dropped, so that switching a
	// task from weekly to daily does not need a second field cleared.
	if t.Schedule != Weekly {
		t.Weekday = ""
	}
	if t.Schedule != Monthly {
		t.DayOfMonth = 0
	}
	if t.Recipients == nil {
		t.Recipients = []string{}
	}
}

var timeRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

func bad(field, format string, args ...any) error {
	return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Detailed reports whether a format is a detailed variant.
func Detailed(format string) bool { return format == FormatXLSXDetailed || format == FormatCSVDetailed }

// reportFormat is the report format of a task format.
func reportFormat(format string) report.Format {
	return report.Format(strings.TrimSuffix(format, "_detailed"))
}

// Validate checks every rule of the task; the error names the field.
func (t *Task) Validate() error {
	switch {
	case t.Type != TypeCDR && t.Type != TypeCallCenter:
		return bad("type", "type must be cdr or callcenter")
	case t.Name == "":
		return bad("name", "name is required")
	case len(t.Name) > 100 || strings.ContainsAny(t.Name, "\r\n"):
		return bad("name", "name must be one line of at most 100 characters")
	case !oneOf(t.Schedule, []string{Daily, Weekly, Monthly}):
		return bad("schedule", "schedule must be daily, weekly or monthly")
	case !timeRE.MatchString(t.Time):
		return bad("time", "time must be HH:MM (00:00-23:59)")
	case t.Schedule == Weekly && !oneOf(t.Weekday, Weekdays):
		return bad("weekday", "a weekly task needs a weekday (monday ... sunday)")
	case t.Schedule == Monthly && (t.DayOfMonth < 1 || t.DayOfMonth > 31):
		return bad("day_of_month", "a monthly task needs a day of month 1-31 (29-31 run on the last day of shorter months)")
	case !oneOf(t.Interval, Intervals):
		return bad("interval", "interval must be one of %s", strings.Join(Intervals, ", "))
	case !oneOf(t.Format, FileFormats):
		return bad("format", "format must be one of %s", strings.Join(FileFormats, ", "))
	case t.CompressOverMB < 0 || t.CompressOverMB > 1000:
		return bad("compress_over_mb", "compress_over_mb must be 0-1000 (0 = always zip)")
	case len(t.Recipients) > 100:
		return bad("recipients", "at most 100 recipients")
	}
	for _, r := range t.Recipients {
		a, err := mail.ParseAddress(r)
		if err != nil || a.Address != r || !strings.Contains(r, "@") {
			return bad("recipients", "%q is not an e-mail address (name@example.com)", r)
		}
	}
	if t.Type == TypeCDR {
		switch {
		case t.OperatorEvents:
			return bad("operator_events", "operator events are only in call-center exports")
		case t.NotifySupervisors:
			return bad("notify_supervisors", "notifying supervisors is only for call-center exports")
		case len(t.Recipients) == 0:
			return bad("recipients", "at least one recipient is required")
		}
		return nil
	}
	if t.OperatorEvents && !Detailed(t.Format) {
		return bad("operator_events", "operator events are exported only with a detailed format (XLSX or CSV detailed)")
	}
	if len(t.Recipients) == 0 && !t.NotifySupervisors {
		return bad("recipients", "at least one recipient, or notify all supervisors, is required")
	}
	return nil
}

// schedule is the task's Schedule.
func (t *Task) schedule() Schedule {
	var h, m int
	fmt.Sscanf(t.Time, "%d:%d", &h, &m) //nolint:errcheck // validated
	s := Schedule{Every: t.Schedule, Hour: h, Minute: m, Day: t.DayOfMonth}
	for i, w := range Weekdays {
		if w == t.Weekday {
			s.Weekday = time.Weekday((i + 1) % 7)
		}
	}
	return s
}

// View is a task as the API shows it, with its state.
type View struct {
	Task
	// TimeZone is the zone Time is in.
	TimeZone string     `json:"time_zone"`
	NextRun  *time.Time `json:"next_run"` // nil when disabled (or tasks do not run here)
	LastRun  *RunView   `json:"last_run"`
	Running  bool       `json:"running"`
}

// Run statuses.
const (
	StatusRunning     = "running"
	StatusOK          = "ok"
	StatusFailed      = "failed"
	StatusInterrupted = "interrupted" // the daemon stopped during the run
)

// Run triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerCatchUp  = "catch-up" // missed while the daemon was down, run at start
)

// Run is one execution of a task, as stored.
type Run struct {
	ID      string `json:"id"`
	Task    string `json:"task"`
	Tenant  string `json:"tenant"`
	Trigger string `json:"trigger"`
	// By is who started a manual run.
	By string `json:"by,omitempty"`
	// Scheduled is the run of the schedule this is (schedule and catch-up).
	Scheduled *time.Time `json:"scheduled,omitempty"`
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end,omitempty"`
	Status    string     `json:"status"`
	// From and To are the exported period [from, to).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Rows is the number of calls (queue calls) exported; DetailRows the legs,
	// agent attempts and operator events of detailed formats.
	Rows       int64    `json:"rows"`
	DetailRows int64    `json:"detail_rows"`
	File       string   `json:"file,omitempty"`
	FileSize   int64    `json:"file_size"`
	Compressed bool     `json:"compressed"`
	Recipients []string `json:"recipients"`
	// MailAttempts is how many times the message was offered to the server.
	MailAttempts int    `json:"mail_attempts"`
	Error        string `json:"error,omitempty"`
}

// RunView is a run in listings.
type RunView = Run
