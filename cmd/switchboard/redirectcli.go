package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
)

// Vendor redirection servers of a tenant and the redirect status of its devices.

var redirectCols = []string{"id", "name", "brand", "api", "enabled", "server_name", "effective_provisioning_url", "devices", "devices_provisioned"}

// findRedirectServer resolves a server by id or name.
// redirectServer resolves --tenant and a server's id or name to the server and
// its API path.
func (c *client) redirectServer(tenant, ref string) (map[string]any, string, error) {
	base, err := c.tenantBase(tenant)
	if err != nil {
		return nil, "", err
	}
	s, err := c.findRedirectServer(base, ref)
	if err != nil {
		return nil, "", err
	}
	return s, base + "/redirect-servers/" + url.PathEscape(fmt.Sprint(s["id"])), nil
}

func (c *client) findRedirectServer(base, ref string) (map[string]any, error) {
	var res struct{ Items []map[string]any }
	if _, err := c.call("GET", base+"/redirect-servers", nil, &res); err != nil {
		return nil, err
	}
	for _, s := range res.Items {
		if s["id"] == ref || s["name"] == ref {
			return s, nil
		}
	}
	return nil, &exitError{code: 1, msg: fmt.Sprintf("no redirect server %q in this tenant", ref)}
}

// redirectFields are the flags add and set share; only flags given are sent.
type redirectFields struct {
	fs      *flag.FlagSet
	vals    map[string]*string
	stdin   *bool
	enabled *string
	over    *string
}

func newRedirectFields(fs *flag.FlagSet) *redirectFields {
	f := &redirectFields{fs: fs, vals: map[string]*string{}}
	for _, k := range []struct{ flag, help string }{
		{"name", "label of the server in Switchboard"},
		{"brand", "snom, yealink, escene, fanvil or gigaset"},
		{"api", "snom: sraps (default) or xmlrpc; yealink: xmlrpc (default) or ymcs"},
		{"server-name", "Yealink/Escene: the server defined beforehand in the vendor's web GUI"},
		{"provisioning-url", `where phones are sent ("" = the tenant's provisioning URL)`},
		{"base-url", "vendor service address (required for escene)"},
		{"username", "user name, SRAPS access key id or YMCS client id"},
	} {
		f.vals[k.flag] = fs.String(k.flag, "", k.help)
	}
	f.stdin = fs.Bool("secret-stdin", false, "read the password / secret from the first line of standard input")
	f.enabled = fs.String("enabled", "", "true or false")
	f.over = fs.String("override", "", "Yealink: true takes over MACs registered by another account")
	return f
}

func (f *redirectFields) body(c *client) (map[string]any, error) {
	body := map[string]any{}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for k, v := range f.vals {
		if given[k] {
			body[strings.ReplaceAll(k, "-", "_")] = *v
		}
	}
	for k, v := range map[string]*string{"enabled": f.enabled, "override": f.over} {
		if !given[k] {
			continue
		}
		switch *v {
		case "true":
			body[k] = true
		case "false":
			body[k] = false
		default:
			return nil, &exitError{code: 2, msg: fmt.Sprintf("--%s must be true or false", k)}
		}
	}
	if *f.stdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if line = strings.TrimRight(line, "\r\n"); line == "" {
			return nil, &exitError{code: 2, msg: "--secret-stdin: standard input is empty"}
		}
		body["password"] = line
	}
	return body, nil
}

func redirectVerbs() []verb {
	return []verb{
		listVerb("redirect-servers", "list the tenant's vendor redirection servers", redirectCols),
		{name: "add", args: "--name N --brand B [--api A] [--server-name S] [--provisioning-url U] [--base-url U] --username U --secret-stdin [--tenant T]",
			help: "add a redirection server (the secret is read from standard input and stored encrypted)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				f := newRedirectFields(fs)
				return func(c *client, _ []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					body, err := f.body(c)
					if err != nil {
						return err
					}
					var s map[string]any
					raw, err := c.call("POST", base+"/redirect-servers", body, &s)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTable(w, redirectCols, []map[string]any{s}) })
				}
			}},
		{name: "set", args: "ID|NAME [--name ..] [--enabled true|false] [--secret-stdin] ... [--tenant T]", nargs: 1,
			help: "change a redirection server (flags as for add)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				f := newRedirectFields(fs)
				return func(c *client, pos []string) error {
					s, path, err := c.redirectServer(*tenant, pos[0])
					if err != nil {
						return err
					}
					body, err := f.body(c)
					if err != nil {
						return err
					}
					raw, err := c.call("PATCH", path, body, &s)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printTable(w, redirectCols, []map[string]any{s}) })
				}
			}},
		{name: "delete", args: "ID|NAME [--tenant T]", nargs: 1, help: "delete a redirection server no device uses",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					s, path, err := c.redirectServer(*tenant, pos[0])
					if err != nil {
						return err
					}
					if _, err := c.call("DELETE", path, nil, nil); err != nil {
						return err
					}
					return c.show(json.RawMessage(`{"deleted":true}`), func(w *tabwriter.Writer) { fmt.Fprintf(w, "redirect server %s deleted\n", s["name"]) })
				}
			}},
		{name: "test", args: "ID|NAME [--tenant T]", nargs: 1, help: "check the server's credentials with the vendor (exit 1 if refused)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					s, path, err := c.redirectServer(*tenant, pos[0])
					if err != nil {
						return err
					}
					var res struct {
						OK     bool   `json:"ok"`
						Error  string `json:"error"`
						Detail string `json:"detail"`
					}
					raw, err := c.call("POST", path+"/test", nil, &res)
					if err != nil {
						return err
					}
					if err := c.show(raw, func(w *tabwriter.Writer) {
						if res.OK {
							fmt.Fprintf(w, "%s: connection and credentials OK\n", s["name"])
						} else {
							fmt.Fprintf(w, "%s: %s (%s)\n", s["name"], res.Error, res.Detail)
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
		{name: "status", args: "[--tenant T]", help: "each assigned device: provisioned on its redirection server, last error, last attempt",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, _ []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					var res struct {
						Items []struct {
							MAC    string         `json:"mac"`
							Status map[string]any `json:"status"`
						}
					}
					raw, err := c.call("GET", base+"/redirect-status", nil, &res)
					if err != nil {
						return err
					}
					rows := make([]map[string]any, len(res.Items))
					for i, it := range res.Items {
						rows[i] = map[string]any{"mac": it.MAC}
						for k, v := range it.Status {
							rows[i][k] = v
						}
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						printTable(w, []string{"mac", "server", "provisioned", "error", "last_attempt", "next_attempt"}, rows)
					})
				}
			}},
		{name: "assign", args: "MAC|ID SERVER [--code C] [--tenant T]", nargs: 2,
			help: "register a device on a redirection server (SERVER '' unassigns; --code: Gigaset label code)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				code := fs.String("code", "", "vendor device code (Gigaset: the 4 characters after the MAC on the label)")
				return func(c *client, pos []string) error {
					base, d, err := c.deviceArg(*tenant, pos[0])
					if err != nil {
						return err
					}
					body := map[string]any{"redirect_server": ""}
					if pos[1] != "" {
						s, err := c.findRedirectServer(base, pos[1])
						if err != nil {
							return err
						}
						body["redirect_server"] = s["id"]
					}
					if *code != "" {
						body["redirect_code"] = *code
					}
					raw, err := c.call("PATCH", base+"/devices/"+url.PathEscape(fmt.Sprint(d["id"])), body, &d)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "device %s: redirect server %s (registration runs in the background: see redirect status)\n", d["mac"], dash(fmt.Sprint(body["redirect_server"])))
					})
				}
			}},
	}
}
