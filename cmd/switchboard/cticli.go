package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
)

// CLI verbs of the CTI: "switchboard cti reload|dump", "cti user ...", "cti
// profile ...". They talk to /api/v1/cti on the control socket.

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func cmdCTI(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) > 0 && (args[0] == "user" || args[0] == "users") {
		return cmdClient("cti user", args[1:], stdin, stdout)
	}
	if len(args) > 0 && (args[0] == "profile" || args[0] == "profiles") {
		return cmdClient("cti profile", args[1:], stdin, stdout)
	}
	return cmdClient("cti", args, stdin, stdout)
}

type ctiUserRow struct {
	Username      string `json:"username"`
	Name          string `json:"name"`
	MainExtension string `json:"mainextension"`
	Endpoints     []struct {
		ID     string `json:"id"`
		Type   string `json:"type"`
		Device string `json:"device,omitempty"`
	} `json:"endpoints"`
	Cellphone     string `json:"cellphone"`
	DefaultDevice string `json:"default_device"`
	Profile       string `json:"profile"`
	Disabled      bool   `json:"disabled"`
}

func printCTIUsers(w *tabwriter.Writer, us []ctiUserRow) {
	fmt.Fprintln(w, "USERNAME\tNAME\tEXTENSION\tENDPOINTS\tPROFILE\tDISABLED")
	for _, u := range us {
		var eps []string
		for _, e := range u.Endpoints {
			eps = append(eps, e.ID+":"+e.Type)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%v\n", u.Username, dash(u.Name), dash(u.MainExtension), dash(strings.Join(eps, ",")), dash(u.Profile), u.Disabled)
	}
}

// parseEndpoints reads --endpoint ID:TYPE[:DEVICE] flags.
func parseEndpoints(l listFlag) ([]map[string]string, error) {
	out := []map[string]string{}
	for _, s := range l {
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, &exitError{code: 2, msg: fmt.Sprintf("--endpoint %q: want ID:TYPE or ID:TYPE:DEVICE (TYPE physical, webrtc, mobile or nethlink)", s)}
		}
		e := map[string]string{"id": parts[0], "type": parts[1]}
		if len(parts) == 3 {
			e["device"] = parts[2]
		}
		out = append(out, e)
	}
	return out, nil
}

func ctiUserFlags(fs *flag.FlagSet) (fields map[string]*optional, eps *listFlag, disable, enable *bool) {
	fields = map[string]*optional{}
	for _, f := range []struct{ name, key, help string }{
		{"name", "name", "display name"},
		{"extension", "mainextension", "main extension"},
		{"cellphone", "cellphone", "cellphone number"},
		{"email", "email", "e-mail address"},
		{"voicemail", "voicemail", "voicemail box"},
		{"default-device", "default_device", "default device (an endpoint id)"},
		{"profile", "profile", "CTI profile id"},
	} {
		o := &optional{}
		fs.Var(o, f.name, f.help)
		fields[f.key] = o
	}
	eps = &listFlag{}
	fs.Var(eps, "endpoint", "endpoint ID:TYPE[:DEVICE] (repeat; replaces the list)")
	disable = fs.Bool("disable", false, "disable the user")
	enable = fs.Bool("enable", false, "enable the user")
	return
}

func ctiUserBody(fields map[string]*optional, eps *listFlag, disable, enable *bool) (map[string]any, error) {
	body := map[string]any{}
	for k, o := range fields {
		if o.set {
			body[k] = o.val
		}
	}
	if len(*eps) > 0 {
		list, err := parseEndpoints(*eps)
		if err != nil {
			return nil, err
		}
		body["endpoints"] = list
	}
	if *disable && *enable {
		return nil, &exitError{code: 2, msg: "--disable and --enable together"}
	}
	if *disable {
		body["disabled"] = true
	}
	if *enable {
		body["disabled"] = false
	}
	return body, nil
}

func ctiVerbs() []verb {
	return []verb{
		{name: "reload", help: "re-read CTI users and profiles and re-sync the state from Asterisk",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					raw, err := c.call("POST", "/api/v1/cti/reload", map[string]any{}, nil)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintln(w, "CTI reloaded") })
				}
			}},
		{name: "dump", help: "print the CTI state (AMI link, extensions, channels, queues, parkings, trunks) as JSON",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					raw, err := c.call("GET", "/api/v1/cti/dump", nil, nil)
					if err != nil {
						return err
					}
					return c.show(raw, nil)
				}
			}},
	}
}

func ctiUserVerbs() []verb {
	path := func(n string) string { return "/api/v1/cti/users/" + url.PathEscape(n) }
	return []verb{
		{name: "list", help: "list CTI users", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var us []ctiUserRow
				raw, err := c.call("GET", "/api/v1/cti/users", nil, &us)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printCTIUsers(w, us) })
			}
		}},
		{name: "show", args: "USERNAME", nargs: 1, help: "show one CTI user", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, pos []string) error {
				var u ctiUserRow
				raw, err := c.call("GET", path(pos[0]), nil, &u)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printCTIUsers(w, []ctiUserRow{u}) })
			}
		}},
		{name: "add", args: "USERNAME --extension E [--endpoint ID:TYPE[:DEVICE]]... [--profile P] [--name N] [--password-stdin]", nargs: 1,
			help: "add a CTI user (asks for the password on a terminal)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				fields, eps, dis, en := ctiUserFlags(fs)
				pw := fs.String("password", "", "password (visible in the process list: prefer --password-stdin)")
				pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
				return func(c *client, pos []string) error {
					body, err := ctiUserBody(fields, eps, dis, en)
					if err != nil {
						return err
					}
					p, err := c.readPassword(*pw, *pwStdin, "Password for "+pos[0]+": ")
					if err != nil {
						return err
					}
					body["username"], body["password"] = pos[0], p
					var u ctiUserRow
					raw, err := c.call("POST", "/api/v1/cti/users", body, &u)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "CTI user %s added\n", u.Username) })
				}
			}},
		{name: "set", args: "USERNAME [--extension E] [--endpoint ID:TYPE[:DEVICE]]... [--profile P] [--disable|--enable] ...", nargs: 1,
			help: "change a CTI user",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				fields, eps, dis, en := ctiUserFlags(fs)
				return func(c *client, pos []string) error {
					body, err := ctiUserBody(fields, eps, dis, en)
					if err != nil {
						return err
					}
					if len(body) == 0 {
						return &exitError{code: 2, msg: "cti user set: nothing to change"}
					}
					raw, err := c.call("PATCH", path(pos[0]), body, nil)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "CTI user %s changed\n", pos[0]) })
				}
			}},
		{name: "passwd", args: "USERNAME [--password-stdin]", nargs: 1, help: "set a CTI user's password (ends its sessions)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
				return func(c *client, pos []string) error {
					p, err := c.readPassword("", *pwStdin, "New password for "+pos[0]+": ")
					if err != nil {
						return err
					}
					raw, err := c.call("PATCH", path(pos[0]), map[string]any{"password": p}, nil)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "password of CTI user %s changed\n", pos[0]) })
				}
			}},
		{name: "delete", args: "USERNAME", nargs: 1, help: "delete a CTI user", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, pos []string) error {
				if _, err := c.call("DELETE", path(pos[0]), nil, nil); err != nil {
					return err
				}
				if !c.json {
					fmt.Fprintf(c.out, "CTI user %s deleted\n", pos[0])
				}
				return nil
			}
		}},
	}
}

type ctiProfileRow struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	MacroPermissions map[string]struct {
		Value       bool `json:"value"`
		Permissions []struct {
			Name  string `json:"name"`
			Value bool   `json:"value"`
		} `json:"permissions"`
	} `json:"macro_permissions"`
}

func printProfiles(w *tabwriter.Writer, ps []ctiProfileRow) {
	fmt.Fprintln(w, "ID\tNAME\tMACROS ON\tPERMISSIONS")
	for _, p := range ps {
		var on, perms []string
		for m, mp := range p.MacroPermissions {
			if mp.Value {
				on = append(on, m)
			}
			for _, pe := range mp.Permissions {
				if pe.Value {
					perms = append(perms, m+"."+pe.Name)
				}
			}
		}
		sort.Strings(on)
		sort.Strings(perms)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.ID, dash(p.Name), dash(strings.Join(on, ",")), dash(strings.Join(perms, ",")))
	}
}

func ctiProfileVerbs() []verb {
	path := func(n string) string { return "/api/v1/cti/profiles/" + url.PathEscape(n) }
	return []verb{
		{name: "list", help: "list CTI profiles", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var ps []ctiProfileRow
				raw, err := c.call("GET", "/api/v1/cti/profiles", nil, &ps)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printProfiles(w, ps) })
			}
		}},
		{name: "show", args: "ID", nargs: 1, help: "show a CTI profile", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, pos []string) error {
				var p ctiProfileRow
				raw, err := c.call("GET", path(pos[0]), nil, &p)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printProfiles(w, []ctiProfileRow{p}) })
			}
		}},
		{name: "set", args: "ID [--name N] [--macro NAME=on|off]... [--perm MACRO.PERM=on|off]...", nargs: 1,
			help: "create or replace a CTI profile (macros and permissions not given are off)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				name := fs.String("name", "", "display name")
				var macros, perms listFlag
				fs.Var(&macros, "macro", "macro NAME=on|off (repeat)")
				fs.Var(&perms, "perm", "permission MACRO.PERM=on|off (repeat)")
				return func(c *client, pos []string) error {
					type perm struct {
						Name  string `json:"name"`
						Value bool   `json:"value"`
					}
					type macro struct {
						Value       bool   `json:"value"`
						Permissions []perm `json:"permissions"`
					}
					mp := map[string]*macro{}
					onOff := func(s, what string) (string, bool, error) {
						k, v, ok := strings.Cut(s, "=")
						if !ok || (v != "on" && v != "off") || k == "" {
							return "", false, &exitError{code: 2, msg: fmt.Sprintf("--%s %q: want NAME=on or NAME=off", what, s)}
						}
						return k, v == "on", nil
					}
					for _, s := range macros {
						k, on, err := onOff(s, "macro")
						if err != nil {
							return err
						}
						if mp[k] == nil {
							mp[k] = &macro{Permissions: []perm{}}
						}
						mp[k].Value = on
					}
					for _, s := range perms {
						k, on, err := onOff(s, "perm")
						if err != nil {
							return err
						}
						m, p, ok := strings.Cut(k, ".")
						if !ok {
							return &exitError{code: 2, msg: fmt.Sprintf("--perm %q: want MACRO.PERM=on|off", s)}
						}
						if mp[m] == nil {
							mp[m] = &macro{Permissions: []perm{}}
						}
						mp[m].Permissions = append(mp[m].Permissions, perm{p, on})
					}
					raw, err := c.call("PUT", path(pos[0]), map[string]any{"name": *name, "macro_permissions": mp}, nil)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "CTI profile %s saved\n", pos[0]) })
				}
			}},
		{name: "delete", args: "ID", nargs: 1, help: "delete a CTI profile no user has", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, pos []string) error {
				if _, err := c.call("DELETE", path(pos[0]), nil, nil); err != nil {
					return err
				}
				if !c.json {
					fmt.Fprintf(c.out, "CTI profile %s deleted\n", pos[0])
				}
				return nil
			}
		}},
	}
}
