package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/switchboard-pbx/switchboard/tasks"
)

// taskFlags are the fields of a task as flags; only those given are sent.
type taskFlags struct {
	name, schedule, at, weekday, interval, format, recipients, tenant optional
	day, compress                                                     optional
	enabled, operatorEvents, supervisors                              optional
}

func (f *taskFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.name, "name", "name (in the mail's subject and body)")
	fs.Var(&f.enabled, "enabled", "true or false: a disabled task runs only by hand")
	fs.Var(&f.schedule, "schedule", "daily, weekly or monthly")
	fs.Var(&f.at, "time", "HH:MM, local time of the run")
	fs.Var(&f.weekday, "weekday", "monday ... sunday (weekly)")
	fs.Var(&f.day, "day", "day of month 1-31 (monthly; 29-31 run on the last day of shorter months)")
	fs.Var(&f.interval, "interval", strings.Join(tasks.Intervals, ", "))
	fs.Var(&f.format, "format", strings.Join(tasks.FileFormats, ", "))
	fs.Var(&f.compress, "compress-over", "zip the attachment when larger than N MB (0 = always)")
	fs.Var(&f.recipients, "to", "recipients, comma-separated ('' = none)")
	fs.Var(&f.operatorEvents, "operator-events", "true or false (call-center, detailed formats)")
	fs.Var(&f.supervisors, "notify-supervisors", "true or false (call-center): mail every supervisor with an address")
	fs.Var(&f.tenant, "tenant", "tenant UUID (multi-tenant: the time zone follows its PBX settings)")
}

func (f *taskFlags) body() (map[string]any, error) {
	b := map[string]any{}
	str := func(key string, o optional) {
		if o.set {
			b[key] = o.val
		}
	}
	str("name", f.name)
	str("schedule", f.schedule)
	str("time", f.at)
	str("weekday", f.weekday)
	str("interval", f.interval)
	str("format", f.format)
	str("tenant", f.tenant)
	for key, o := range map[string]optional{"day_of_month": f.day, "compress_over_mb": f.compress} {
		if o.set {
			n, err := strconv.Atoi(o.val)
			if err != nil {
				return nil, &exitError{code: 2, msg: fmt.Sprintf("%s must be a number", key)}
			}
			b[key] = n
		}
	}
	for key, o := range map[string]optional{"enabled": f.enabled, "operator_events": f.operatorEvents, "notify_supervisors": f.supervisors} {
		if o.set {
			v, err := strconv.ParseBool(o.val)
			if err != nil {
				return nil, &exitError{code: 2, msg: fmt.Sprintf("%s must be true or false", key)}
			}
			b[key] = v
		}
	}
	if f.recipients.set {
		list := []string{}
		for _, r := range strings.Split(f.recipients.val, ",") {
			if r = strings.TrimSpace(r); r != "" {
				list = append(list, r)
			}
		}
		b["recipients"] = list
	}
	return b, nil
}

// taskID resolves a task by id or by its (unique) name.
func (c *client) taskID(ref string) (string, error) {
	var res struct{ Items []tasks.View }
	if _, err := c.call("GET", "/api/v1/tasks", nil, &res); err != nil {
		return "", err
	}
	var found []string
	for _, t := range res.Items {
		if t.ID == ref {
			return ref, nil
		}
		if t.Name == ref {
			found = append(found, t.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", &exitError{code: 1, msg: fmt.Sprintf("no task %q", ref)}
	case 1:
		return found[0], nil
	}
	return "", &exitError{code: 1, msg: fmt.Sprintf("%d tasks are named %q: use the id", len(found), ref)}
}

func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func schedText(t tasks.View) string {
	switch t.Schedule {
	case tasks.Weekly:
		return "weekly " + t.Weekday + " " + t.Time
	case tasks.Monthly:
		return fmt.Sprintf("monthly day %d %s", t.DayOfMonth, t.Time)
	}
	return "daily " + t.Time
}

func lastText(r *tasks.Run) string {
	if r == nil {
		return "-"
	}
	return when(&r.Start) + " " + r.Status
}

func printTask(w *tabwriter.Writer, t tasks.View) {
	fmt.Fprintf(w, "id:\t%s\nname:\t%s\ntype:\t%s\nenabled:\t%v\nschedule:\t%s (%s)\ninterval:\t%s\nformat:\t%s\n",
		t.ID, t.Name, t.Type, t.Enabled, schedText(t), t.TimeZone, t.Interval, t.Format)
	fmt.Fprintf(w, "compress over:\t%d MB (0 = always)\nrecipients:\t%s\n", t.CompressOverMB, dash(strings.Join(t.Recipients, ", ")))
	if t.Type == tasks.TypeCallCenter {
		fmt.Fprintf(w, "operator events:\t%v\nnotify supervisors:\t%v\n", t.OperatorEvents, t.NotifySupervisors)
	}
	fmt.Fprintf(w, "next run:\t%s\nlast run:\t%s\nrunning:\t%v\n", when(t.NextRun), lastText(t.LastRun), t.Running)
	if t.LastRun != nil && t.LastRun.Error != "" {
		fmt.Fprintf(w, "last error:\t%s\n", t.LastRun.Error)
	}
}

func taskVerbs() []verb {
	return []verb{
		{name: "list", help: "scheduled tasks with their state",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					var res struct{ Items []tasks.View }
					raw, err := c.call("GET", "/api/v1/tasks", nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintln(w, "ID\tNAME\tTYPE\tENABLED\tSCHEDULE\tFORMAT\tNEXT RUN\tLAST RUN")
						for _, t := range res.Items {
							fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Type, t.Enabled, schedText(t), t.Format,
								when(t.NextRun), lastText(t.LastRun))
						}
					})
				}
			}},
		{name: "show", args: "ID|NAME", nargs: 1, help: "one task",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					id, err := c.taskID(pos[0])
					if err != nil {
						return err
					}
					var t tasks.View
					raw, err := c.call("GET", "/api/v1/tasks/"+url.PathEscape(id), nil, &t)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTask(w, t) })
				}
			}},
		{name: "add", args: "cdr|callcenter --name N --to a@b,c@d [--schedule daily|weekly|monthly --time HH:MM --weekday D --day N --interval I --format F --compress-over MB --operator-events B --notify-supervisors B --enabled B]",
			nargs: 1, help: "a new task",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				var f taskFlags
				f.register(fs)
				return func(c *client, pos []string) error {
					b, err := f.body()
					if err != nil {
						return err
					}
					b["type"] = pos[0]
					var t tasks.View
					raw, err := c.call("POST", "/api/v1/tasks", b, &t)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTask(w, t) })
				}
			}},
		{name: "set", args: "ID|NAME [flags of add]", nargs: 1, help: "change a task (only the flags given)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				var f taskFlags
				f.register(fs)
				return func(c *client, pos []string) error {
					b, err := f.body()
					if err != nil {
						return err
					}
					id, err := c.taskID(pos[0])
					if err != nil {
						return err
					}
					var t tasks.View
					raw, err := c.call("PATCH", "/api/v1/tasks/"+url.PathEscape(id), b, &t)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTask(w, t) })
				}
			}},
		{name: "delete", args: "ID|NAME", nargs: 1, help: "delete a task and its run history",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					id, err := c.taskID(pos[0])
					if err != nil {
						return err
					}
					if _, err := c.call("DELETE", "/api/v1/tasks/"+url.PathEscape(id), nil, nil); err != nil {
						return err
					}
					if !c.json {
						fmt.Fprintf(c.out, "deleted task %s\n", pos[0])
					}
					return nil
				}
			}},
		{name: "run", args: "ID|NAME [--wait]", nargs: 1, help: "run a task now (enabled or not); answers at once, --wait follows it to the end",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				wait := fs.Bool("wait", false, "wait for the run to end; exit 1 if it failed")
				return func(c *client, pos []string) error {
					id, err := c.taskID(pos[0])
					if err != nil {
						return err
					}
					var res struct {
						Message string
						Run     tasks.Run
					}
					raw, err := c.call("POST", "/api/v1/tasks/"+url.PathEscape(id)+"/run", nil, &res)
					if err != nil {
						return err
					}
					if !*wait {
						return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s (run %s)\n", res.Message, res.Run.ID) })
					}
					for {
						var runs struct{ Items []tasks.Run }
						raw, err = c.call("GET", "/api/v1/tasks/"+url.PathEscape(id)+"/runs?limit=20", nil, &runs)
						if err != nil {
							return err
						}
						for _, r := range runs.Items {
							if r.ID != res.Run.ID || r.Status == tasks.StatusRunning {
								continue
							}
							if err := c.show(mustRaw(r), func(w *tabwriter.Writer) { printRun(w, r) }); err != nil {
								return err
							}
							if r.Status != tasks.StatusOK {
								return &exitError{code: 1}
							}
							return nil
						}
						time.Sleep(500 * time.Millisecond)
					}
				}
			}},
		{name: "runs", args: "ID|NAME [--limit N]", nargs: 1, help: "run history, newest first",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				limit := fs.Int("limit", 20, "at most this many runs")
				return func(c *client, pos []string) error {
					id, err := c.taskID(pos[0])
					if err != nil {
						return err
					}
					var res struct{ Items []tasks.Run }
					raw, err := c.call("GET", fmt.Sprintf("/api/v1/tasks/%s/runs?limit=%d", url.PathEscape(id), *limit), nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintln(w, "START\tEND\tTRIGGER\tSTATUS\tROWS\tFILE\tBYTES\tRECIPIENTS\tERROR")
						for _, r := range res.Items {
							fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", when(&r.Start), when(r.End), r.Trigger, r.Status,
								r.Rows, dash(r.File), r.FileSize, dash(strings.Join(r.Recipients, ",")), r.Error)
						}
					})
				}
			}},
	}
}

func printRun(w *tabwriter.Writer, r tasks.Run) {
	fmt.Fprintf(w, "run:\t%s\nstatus:\t%s\nstart:\t%s\nend:\t%s\nperiod:\t%s - %s\nrows:\t%d (+%d detail)\nfile:\t%s (%d bytes, compressed %v)\nrecipients:\t%s\nmail attempts:\t%d\n",
		r.ID, r.Status, when(&r.Start), when(r.End), when(&r.From), when(&r.To), r.Rows, r.DetailRows, dash(r.File), r.FileSize,
		r.Compressed, dash(strings.Join(r.Recipients, ", ")), r.MailAttempts)
	if r.Error != "" {
		fmt.Fprintf(w, "error:\t%s\n", r.Error)
	}
}

func mailVerbs() []verb {
	return []verb{
		{name: "show", help: "SMTP settings (the password is never shown)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					var m tasks.MailView
					raw, err := c.call("GET", "/api/v1/mail", nil, &m)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "host:\t%s\nport:\t%d\nsecurity:\t%s\nusername:\t%s\npassword:\t%s\nfrom:\t%s\n",
							dash(m.Host), m.Port, m.Security, dash(m.Username), map[bool]string{true: "(set)", false: "-"}[m.PasswordSet], dash(m.From))
					})
				}
			}},
		{name: "set", args: "[--host H] [--port N] [--security starttls|tls|none] [--username U] [--password-stdin] [--from ADDR]",
			help: "change the SMTP settings (only the flags given); the password is read from standard input",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				var host, security, username, from, port optional
				fs.Var(&host, "host", "SMTP server")
				fs.Var(&port, "port", "port (default 587 starttls, 465 tls, 25 none)")
				fs.Var(&security, "security", "starttls (upgrade, mandatory), tls (implicit) or none (local relay, no auth)")
				fs.Var(&username, "username", "login ('' = no authentication)")
				fs.Var(&from, "from", "sender address (Name <addr@example.com>)")
				pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
				return func(c *client, _ []string) error {
					b := map[string]any{}
					for k, o := range map[string]optional{"host": host, "security": security, "username": username, "from": from} {
						if o.set {
							b[k] = o.val
						}
					}
					if port.set {
						n, err := strconv.Atoi(port.val)
						if err != nil {
							return &exitError{code: 2, msg: "--port must be a number"}
						}
						b["port"] = n
					}
					if *pwStdin {
						line, err := bufio.NewReader(c.stdin).ReadString('\n')
						if err != nil && !errors.Is(err, io.EOF) {
							return err
						}
						b["password"] = strings.TrimRight(line, "\r\n")
					}
					var m tasks.MailView
					raw, err := c.call("PUT", "/api/v1/mail", b, &m)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "saved: %s:%d (%s), from %s\n", m.Host, m.Port, m.Security, m.From)
					})
				}
			}},
		{name: "test", args: "ADDRESS", nargs: 1, help: "send a test message with the saved settings (exit 1 if it fails)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					var res struct {
						OK    bool   `json:"ok"`
						Error string `json:"error"`
					}
					raw, err := c.call("POST", "/api/v1/mail/test", map[string]string{"to": pos[0]}, &res)
					if err != nil {
						return err
					}
					if err := c.show(raw, func(w *tabwriter.Writer) {
						if res.OK {
							fmt.Fprintf(w, "test message accepted by the SMTP server for %s\n", pos[0])
						} else {
							fmt.Fprintf(w, "test message failed: %s\n", res.Error)
						}
					}); err != nil {
						return err
					}
					if !res.OK {
						return &exitError{code: 1}
					}
					return nil
				}
			}},
	}
}

// auditExportVerb is "audit export": the filtered audit log as a file.
func auditExportVerb() verb {
	return verb{name: "export", args: "--format csv|json|xml|xlsx [--columns a,b] [-o FILE] [--month --day --user --type --action --object-id] [--lang en|it]",
		help: "the audit log as a file (default: standard output; xlsx needs -o)",
		flags: func(fs *flag.FlagSet) func(*client, []string) error {
			format := fs.String("format", "csv", "csv, json, xml or xlsx")
			out := fs.String("o", "", "output file (default: standard output)")
			names := map[string]string{"month": "month", "day": "day", "user": "user", "type": "object_type",
				"action": "action", "object-id": "object_id", "columns": "columns", "lang": "lang"}
			vals := map[string]*string{}
			for f := range names {
				vals[f] = fs.String(f, "", names[f])
			}
			return func(c *client, _ []string) error {
				q := url.Values{"format": {*format}}
				for f, v := range vals {
					if *v != "" {
						q.Set(names[f], *v)
					}
				}
				if *out == "" && *format == "xlsx" {
					if f, ok := c.out.(*os.File); ok && isTerminal(f) {
						return &exitError{code: 2, msg: "audit export: an xlsx file is binary: write it with -o FILE"}
					}
				}
				return c.download("/api/v1/audit/export?"+q.Encode(), *out)
			}
		}}
}

// download streams a GET answer to path (or the client's output).
func (c *client) download(path, to string) error {
	resp, err := c.http.Get("http://switchboard" + path)
	if err != nil {
		return &exitError{code: 3, msg: fmt.Sprintf("cannot reach the daemon on %s: %v", c.socket, unwrapNet(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := &apiErr{Status: resp.StatusCode}
		if jsonErr := jsonUnmarshal(raw, e); jsonErr != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(raw))
		}
		return &exitError{code: 1, msg: e.Error()}
	}
	if to == "" {
		_, err := io.Copy(c.out, resp.Body)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", to, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}

func mustRaw(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
