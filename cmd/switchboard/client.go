package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/switchboard-pbx/switchboard/config"
)

// client talks to the daemon's control socket.
type client struct {
	socket string
	json   bool
	out    io.Writer
	stdin  io.Reader
	http   *http.Client
	// keys is set by the KEY=VALUE verbs (pbx set, ha set): an error names
	// the KEY the user typed, not a flag.
	keys bool
	// setKeys: fields the request took from --set KEY=VALUE, named so in errors.
	setKeys map[string]bool
}

// commonFlags are accepted by every CLI verb.
type commonFlags struct {
	config, socket string
	json           bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "/etc/switchboard/switchboard.yaml", "configuration file (to find the control socket)")
	fs.StringVar(&c.socket, "socket", os.Getenv("SWITCHBOARD_SOCKET"), "control socket of the running daemon")
	fs.BoolVar(&c.json, "json", false, "print JSON")
}

// socketPath resolves the control socket: --socket, then the configuration file.
func (c *commonFlags) socketPath() (string, error) {
	if c.socket != "" {
		return c.socket, nil
	}
	cfg, err := config.Load(c.config)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no configuration file %s: pass --config FILE or --socket PATH", c.config)
		}
		return "", err
	}
	return cfg.Admin.Socket, nil
}

// parse handles flags anywhere among the positional arguments, so that both
// "user add --role admin alice" and "user add alice --role admin" work.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type verb struct {
	name, args, help string
	more             string // longer help, printed by --help
	flags            func(fs *flag.FlagSet) func(c *client, pos []string) error
	nargs            int
}

func cmdClient(noun string, args []string, stdin io.Reader, stdout io.Writer) error {
	verbs := verbsFor(noun)
	if noun == "file" {
		noun = "files" // the command's name; "file" is accepted too
	}
	if noun == "status" && (len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help") {
		args = append([]string{"show"}, args...)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, nounUsage(noun, verbs))
		return nil
	}
	var v *verb
	for i := range verbs {
		if verbs[i].name == args[0] {
			v = &verbs[i]
		}
	}
	if v == nil {
		names := make([]string, len(verbs))
		for i, x := range verbs {
			names[i] = x.name
		}
		return &exitError{code: 2, msg: fmt.Sprintf("%s: unknown verb %q%s (verbs: %s; see: switchboard %s help)", noun, args[0],
			didYouMean(args[0], names), strings.Join(names, ", "), noun)}
	}
	fs := flag.NewFlagSet(noun+" "+v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cf commonFlags
	cf.register(fs)
	action := v.flags(fs)
	if helpAsked(args[1:]) {
		fmt.Fprint(stdout, verbUsage(noun, *v, fs))
		return nil
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return &exitError{code: 2, msg: fmt.Sprintf("%s %s: %v (usage: switchboard %s %s %s)", noun, v.name, err, noun, v.name, v.args)}
	}
	if v.nargs >= 0 && len(pos) != v.nargs {
		what := "missing argument"
		if len(pos) > v.nargs {
			what = fmt.Sprintf("unexpected argument %q", pos[v.nargs])
		}
		return &exitError{code: 2, msg: fmt.Sprintf("%s %s: %s (usage: switchboard %s %s %s)", noun, v.name, what, noun, v.name, v.args)}
	}
	sock, err := cf.socketPath()
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	c := newClient(sock, cf.json, stdout, stdin)
	return action(c, pos)
}

// nounUsage lists a noun's verbs.
func nounUsage(noun string, verbs []verb) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: switchboard %s VERB [flags]\n\n", noun)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  %s %s %s\n      %s\n", noun, v.name, v.args, v.help)
	}
	fmt.Fprintf(&b, "\nRun \"switchboard %s VERB --help\" for a verb's flags.\n", noun)
	return b.String()
}

// verbUsage is one verb's help: what it does and its flags.
func verbUsage(noun string, v verb, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: switchboard %s %s %s\n\n%s\n", noun, v.name, v.args, v.help)
	if v.more != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(v.more))
	}
	fmt.Fprintf(&b, "\nFlags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// newClient talks to the daemon's control socket sock.
func newClient(sock string, asJSON bool, stdout io.Writer, stdin io.Reader) *client {
	return &client{socket: sock, json: asJSON, out: stdout, stdin: stdin, http: &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}}
}

// errOut is where notes beside the answer go (stderr), so that stdout stays
// the answer alone for scripts.
func (c *client) errOut() io.Writer { return os.Stderr }

// apiErr is an error answer of the daemon.
type apiErr struct {
	Status int
	Msg    string `json:"error"`
	Field  string `json:"field"`
	// Keys: the verb takes KEY=VALUE pairs, so the field is named as a KEY.
	Keys bool `json:"-"`
	// SetKey: the field came from --set KEY=VALUE.
	SetKey bool `json:"-"`
}

// Error says it in the CLI's words: the field is the flag that sets it, and
// API references become the CLI verbs.
func (e *apiErr) Error() string {
	msg := cliWords(e.Msg)
	if e.Field != "" && !strings.HasPrefix(msg, "line ") {
		if e.Keys {
			return fmt.Sprintf("%s (%s=)", msg, e.Field)
		}
		if e.SetKey {
			return fmt.Sprintf("%s (--set %s=)", msg, e.Field)
		}
		return fmt.Sprintf("%s (--%s)", msg, strings.ReplaceAll(e.Field, "_", "-"))
	}
	return msg
}

// apiRefs maps API references in messages to the CLI verbs that do the same.
var apiRefs = strings.NewReplacer(
	"(the models: GET /api/v1/models, switchboard catalog models)", "(see: switchboard catalog models)",
	"log in at POST /api/v1/login", "check --socket and that you may use it",
)

func cliWords(msg string) string { return apiRefs.Replace(msg) }

// call sends a request and decodes a 2xx answer into out (raw JSON also returned).
func (c *client) call(method, path string, body any, out any) (json.RawMessage, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://switchboard"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		hint := "is 'switchboard serve' running, and are you root or its user?"
		if _, serr := os.Stat(c.socket); errors.Is(serr, os.ErrNotExist) {
			hint = "the socket does not exist: is 'switchboard serve' running with this configuration?"
		}
		return nil, &exitError{code: 3, msg: fmt.Sprintf("cannot reach the daemon on %s: %s (%v)", c.socket, hint, unwrapNet(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := &apiErr{Status: resp.StatusCode, Keys: c.keys}
		if json.Unmarshal(raw, e) != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(raw))
		}
		e.SetKey = c.setKeys[e.Field]
		return nil, &exitError{code: 1, msg: e.Error()}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decoding the answer: %w", err)
		}
	}
	return raw, nil
}

func unwrapNet(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// show prints raw JSON with --json, or the table otherwise.
func (c *client) show(raw json.RawMessage, table func(w *tabwriter.Writer)) error {
	if c.json || table == nil {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			_, err = c.out.Write(raw)
			return err
		}
		buf.WriteByte('\n')
		_, err := c.out.Write(buf.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// readPassword takes a password from --password, --password-stdin or a prompt.
func (c *client) readPassword(flagValue string, fromStdin bool, prompt string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if fromStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", &exitError{code: 2, msg: "--password-stdin: standard input is empty"}
		}
		return line, nil
	}
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", &exitError{code: 2, msg: "no password: use --password-stdin (or run on a terminal to be asked)"}
	}
	fmt.Fprint(os.Stderr, prompt)
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(os.Stderr, "Again: ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", &exitError{code: 2, msg: "the passwords differ"}
	}
	return string(p1), nil
}

func verbsFor(noun string) []verb {
	switch noun {
	case "status":
		return []verb{{name: "show", help: "revision, schema and tenancy mode of the running daemon",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					var s map[string]any
					raw, err := c.call("GET", "/api/v1/status", nil, &s)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						for _, k := range []string{"version", "revision", "schema", "tenancy_mode"} {
							fmt.Fprintf(w, "%s:\t%v\n", k, s[k])
						}
					})
				}
			}}}
	case "user":
		return userVerbs()
	case "tenant":
		return tenantVerbs()
	case "audit":
		return auditVerbs()
	case "device":
		return deviceVerbs()
	case "account":
		return accountVerbs()
	case "file":
		return fileVerbs()
	case "unknown":
		return unknownVerbs()
	case "catalog":
		return catalogVerbs()
	case "template":
		return templateVerbs()
	case "pbx":
		return pbxVerbs()
	case "cti":
		return ctiVerbs()
	case "cti user":
		return ctiUserVerbs()
	case "cti profile":
		return ctiProfileVerbs()
	case "redirect":
		return redirectVerbs()
	case "dhcp":
		return dhcpVerbs()
	case "ha":
		return haVerbs()
	case "phonebook":
		return phonebookVerbs()
	case "task":
		return taskVerbs()
	case "mail":
		return mailVerbs()
	}
	return nil
}

// optional records whether a string flag was given, so that "--full-name ”"
// clears a field while leaving the flag out keeps it.
type optional struct {
	set bool
	val string
}

func (o *optional) String() string     { return o.val }
func (o *optional) Set(s string) error { o.val, o.set = s, true; return nil }

type userRow struct {
	Username string    `json:"username"`
	Role     string    `json:"role"`
	Tenant   string    `json:"tenant"`
	FullName string    `json:"full_name"`
	Disabled bool      `json:"disabled"`
	Created  time.Time `json:"created"`
}

func printUsers(w *tabwriter.Writer, users []userRow) {
	fmt.Fprintln(w, "USERNAME\tROLE\tTENANT\tFULL NAME\tDISABLED")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\n", u.Username, u.Role, dash(u.Tenant), dash(u.FullName), u.Disabled)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func userVerbs() []verb {
	userPath := func(n string) string { return "/api/v1/users/" + url.PathEscape(n) }
	return []verb{
		{name: "list", help: "list admin users", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var res struct{ Items []userRow }
				raw, err := c.call("GET", "/api/v1/users", nil, &res)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printUsers(w, res.Items) })
			}
		}},
		{name: "show", args: "USERNAME", nargs: 1, help: "show one user", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, pos []string) error {
				var u userRow
				raw, err := c.call("GET", userPath(pos[0]), nil, &u)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printUsers(w, []userRow{u}) })
			}
		}},
		{name: "add", args: "USERNAME --role admin|tenant_admin|auditor [--tenant ID|NAME] [--full-name N] [--email A] [--supervisor] [--password-stdin]", nargs: 1,
			help: "add a user (asks for the password on a terminal)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				role := fs.String("role", "", "admin, tenant_admin or auditor")
				var tenant, full, email optional
				fs.Var(&tenant, "tenant", "tenant (id or name) of a tenant_admin")
				fs.Var(&full, "full-name", "full name")
				fs.Var(&email, "email", "e-mail address")
				supervisor := fs.Bool("supervisor", false, "receives the call-center exports of tasks that notify all supervisors")
				pw := fs.String("password", "", "password (visible in the process list: prefer --password-stdin)")
				pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
				return func(c *client, pos []string) error {
					if *role == "" {
						return &exitError{code: 2, msg: "user add: --role is required (admin, tenant_admin or auditor)"}
					}
					p, err := c.readPassword(*pw, *pwStdin, "Password for "+pos[0]+": ")
					if err != nil {
						return err
					}
					body := map[string]any{"username": pos[0], "password": p, "role": *role}
					if tenant.set {
						id, err := c.tenantID(tenant.val)
						if err != nil {
							return err
						}
						body["tenant"] = id
					}
					if full.set {
						body["full_name"] = full.val
					}
					if email.set {
						body["email"] = email.val
					}
					if *supervisor {
						body["supervisor"] = true
					}
					var u userRow
					raw, err := c.call("POST", "/api/v1/users", body, &u)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "user %s added (role %s)\n", u.Username, u.Role) })
				}
			}},
		{name: "set", args: "USERNAME [--role R] [--tenant T] [--full-name N] [--email A] [--supervisor true|false] [--disable|--enable]", nargs: 1, help: "change a user",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				var role, tenant, full, email, supervisor optional
				fs.Var(&role, "role", "admin, tenant_admin or auditor")
				fs.Var(&tenant, "tenant", "tenant (id or name) of a tenant_admin")
				fs.Var(&full, "full-name", "full name")
				fs.Var(&email, "email", "e-mail address ('' removes it)")
				fs.Var(&supervisor, "supervisor", "true or false: receives call-center exports sent to all supervisors")
				disable := fs.Bool("disable", false, "disable the user (revokes its tokens)")
				enable := fs.Bool("enable", false, "enable the user")
				return func(c *client, pos []string) error {
					body := map[string]any{}
					if role.set {
						body["role"] = role.val
					}
					if tenant.set {
						id := tenant.val
						if id != "" {
							var err error
							if id, err = c.tenantID(id); err != nil {
								return err
							}
						}
						body["tenant"] = id
					}
					if full.set {
						body["full_name"] = full.val
					}
					if email.set {
						body["email"] = email.val
					}
					if supervisor.set {
						v, err := strconv.ParseBool(supervisor.val)
						if err != nil {
							return &exitError{code: 2, msg: "user set: --supervisor must be true or false"}
						}
						body["supervisor"] = v
					}
					if *disable && *enable {
						return &exitError{code: 2, msg: "user set: --disable and --enable together"}
					}
					if *disable || *enable {
						body["disabled"] = *disable
					}
					var u userRow
					raw, err := c.call("PATCH", userPath(pos[0]), body, &u)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printUsers(w, []userRow{u}) })
				}
			}},
		{name: "passwd", args: "USERNAME [--password-stdin]", nargs: 1, help: "set a user's password (revokes its tokens)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
				return func(c *client, pos []string) error {
					p, err := c.readPassword("", *pwStdin, "New password for "+pos[0]+": ")
					if err != nil {
						return err
					}
					raw, err := c.call("PATCH", userPath(pos[0]), map[string]any{"password": p}, nil)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "password of %s changed\n", pos[0]) })
				}
			}},
		{name: "delete", args: "USERNAME", nargs: 1, help: "delete a user and its tokens",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					if _, err := c.call("DELETE", userPath(pos[0]), nil, nil); err != nil {
						return err
					}
					return c.show(json.RawMessage(`{"deleted":true}`), func(w *tabwriter.Writer) { fmt.Fprintf(w, "user %s deleted\n", pos[0]) })
				}
			}},
		{name: "revoke", args: "USERNAME", nargs: 1, help: "revoke every token of a user",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					var res struct{ Revoked int }
					raw, err := c.call("DELETE", userPath(pos[0])+"/sessions", nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%d token(s) of %s revoked\n", res.Revoked, pos[0]) })
				}
			}},
	}
}

type tenantRow struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	Created     time.Time `json:"created"`
}

func printTenants(w *tabwriter.Writer, list []tenantRow) {
	fmt.Fprintln(w, "ID\tNAME\tENABLED\tDESCRIPTION")
	for _, t := range list {
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", t.ID, t.Name, t.Enabled, dash(t.Description))
	}
}

// tenantID accepts a tenant's UUID or its name.
func (c *client) tenantID(ref string) (string, error) {
	var res struct{ Items []tenantRow }
	if _, err := c.call("GET", "/api/v1/tenants", nil, &res); err != nil {
		return "", err
	}
	for _, t := range res.Items {
		if t.ID == ref || t.Name == ref {
			return t.ID, nil
		}
	}
	return "", &exitError{code: 1, msg: fmt.Sprintf("no tenant with id or name %q (see: switchboard tenant list)", ref)}
}

func tenantVerbs() []verb {
	return []verb{
		{name: "list", help: "list tenants", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var res struct {
					Mode  string
					Items []tenantRow
				}
				raw, err := c.call("GET", "/api/v1/tenants", nil, &res)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printTenants(w, res.Items) })
			}
		}},
		{name: "show", args: "ID|NAME", nargs: 1, help: "show one tenant", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, pos []string) error {
				id, err := c.tenantID(pos[0])
				if err != nil {
					return err
				}
				var t tenantRow
				raw, err := c.call("GET", "/api/v1/tenants/"+id, nil, &t)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printTenants(w, []tenantRow{t}) })
			}
		}},
		{name: "add", args: "NAME [--description D]", nargs: 1, help: "add a tenant (multi-tenant mode)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				var desc optional
				fs.Var(&desc, "description", "description")
				return func(c *client, pos []string) error {
					body := map[string]any{"name": pos[0]}
					if desc.set {
						body["description"] = desc.val
					}
					var t tenantRow
					raw, err := c.call("POST", "/api/v1/tenants", body, &t)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTenants(w, []tenantRow{t}) })
				}
			}},
		{name: "set", args: "ID|NAME [--name N] [--description D] [--disable|--enable]", nargs: 1, help: "change a tenant",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				var name, desc optional
				fs.Var(&name, "name", "new name")
				fs.Var(&desc, "description", "description")
				disable := fs.Bool("disable", false, "disable the tenant")
				enable := fs.Bool("enable", false, "enable the tenant")
				return func(c *client, pos []string) error {
					id, err := c.tenantID(pos[0])
					if err != nil {
						return err
					}
					body := map[string]any{}
					if name.set {
						body["name"] = name.val
					}
					if desc.set {
						body["description"] = desc.val
					}
					if *disable && *enable {
						return &exitError{code: 2, msg: "tenant set: --disable and --enable together"}
					}
					if *disable || *enable {
						body["enabled"] = *enable
					}
					var t tenantRow
					raw, err := c.call("PATCH", "/api/v1/tenants/"+id, body, &t)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTenants(w, []tenantRow{t}) })
				}
			}},
		{name: "delete", args: "ID|NAME", nargs: 1, help: "delete an empty tenant",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					id, err := c.tenantID(pos[0])
					if err != nil {
						return err
					}
					if _, err := c.call("DELETE", "/api/v1/tenants/"+id, nil, nil); err != nil {
						return err
					}
					return c.show(json.RawMessage(`{"deleted":true}`), func(w *tabwriter.Writer) { fmt.Fprintf(w, "tenant %s deleted\n", pos[0]) })
				}
			}},
	}
}

type auditRow struct {
	ID          int64           `json:"id"`
	TxID        int64           `json:"tx_id"`
	Time        time.Time       `json:"time"`
	User        string          `json:"user"`
	SourceIP    string          `json:"source_ip"`
	Action      string          `json:"action"`
	ObjectType  string          `json:"object_type"`
	ObjectID    string          `json:"object_id"`
	Description string          `json:"description"`
	Before      json.RawMessage `json:"before"`
	After       json.RawMessage `json:"after"`
}

func auditVerbs() []verb {
	return []verb{
		{name: "list", args: "[--month YYYY-MM] [--day YYYY-MM-DD] [--user U] [--type T] [--action A] [--object-id ID] [--columns a,b] [--limit N] [--offset N]",
			help: "list configuration changes, newest first",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				names := map[string]string{"month": "month", "day": "day", "user": "user", "type": "object_type",
					"action": "action", "object-id": "object_id", "columns": "columns", "limit": "limit", "offset": "offset"}
				vals := map[string]*string{}
				for f := range names {
					vals[f] = fs.String(f, "", "filter: "+names[f])
				}
				return func(c *client, _ []string) error {
					q := url.Values{}
					for f, v := range vals {
						if *v != "" {
							q.Set(names[f], *v)
						}
					}
					if vals["columns"] != nil && *vals["columns"] != "" && !c.json {
						return &exitError{code: 2, msg: "audit list: --columns selects JSON fields: use it with --json"}
					}
					var res struct {
						Total int
						Items []auditRow
					}
					raw, err := c.call("GET", "/api/v1/audit?"+q.Encode(), nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintln(w, "ID\tTX\tTIME\tUSER\tSOURCE\tACTION\tTYPE\tOBJECT\tDESCRIPTION")
						for _, r := range res.Items {
							fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.TxID, r.Time.Local().Format("2006-01-02 15:04:05"),
								r.User, r.SourceIP, r.Action, r.ObjectType, r.ObjectID, r.Description)
						}
						fmt.Fprintf(w, "(%d of %d rows)\n", len(res.Items), res.Total)
					})
				}
			}},
		{name: "show", args: "ID", nargs: 1, help: "one row with its before and after images",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					var r auditRow
					raw, err := c.call("GET", "/api/v1/audit/"+url.PathEscape(pos[0]), nil, &r)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "row:\t%d (transaction %d)\nwhen:\t%s\nwho:\t%s from %s\nwhat:\t%s %s %s\ndescription:\t%s\nbefore:\t%s\nafter:\t%s\n",
							r.ID, r.TxID, r.Time.Local().Format(time.RFC3339), r.User, r.SourceIP, r.Action, r.ObjectType, r.ObjectID,
							r.Description, orNull(r.Before), orNull(r.After))
					})
				}
			}},
		{name: "verify", help: "check the audit hash chain; exits 1 and names the rows when one was changed or deleted",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					var res struct {
						Rows     int64
						OK       bool
						Problems []struct {
							Row    int64
							Reason string
						}
					}
					raw, err := c.call("GET", "/api/v1/audit/verify", nil, &res)
					if err != nil {
						return err
					}
					if err := c.show(raw, func(w *tabwriter.Writer) {
						if res.OK {
							fmt.Fprintf(w, "audit log OK: %d rows, chain intact\n", res.Rows)
							return
						}
						fmt.Fprintf(w, "audit log TAMPERED: %d problem(s) in %d rows\n", len(res.Problems), res.Rows)
						for _, p := range res.Problems {
							fmt.Fprintf(w, "  row %d:\t%s\n", p.Row, p.Reason)
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
		{name: "restore", args: "ID", nargs: 1, help: "re-apply a row's before-image as a new, audited change",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					var res struct {
						Revision int64
						Audit    auditRow
					}
					raw, err := c.call("POST", "/api/v1/audit/"+url.PathEscape(pos[0])+"/restore", nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "restored: %s (audit row %d, revision %d)\n", res.Audit.Description, res.Audit.ID, res.Revision)
					})
				}
			}},
		auditExportVerb(),
	}
}

func orNull(b json.RawMessage) string {
	if len(b) == 0 {
		return "(none)"
	}
	return string(b)
}
