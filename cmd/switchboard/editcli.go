package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/switchboard-pbx/switchboard/provision"
)

// Edit verbs: device show/set, account add/show/set/delete, and the template
// verbs. Each flag that is given changes one field; a flag left out keeps it.

// fieldFlags registers one optional flag per field (flag name -> JSON key)
// and --set KEY=VALUE for fields without a flag of their own.
type fieldFlags struct {
	opts    map[string]*optional // JSON key -> flag
	set     listFlag
	fromSet map[string]bool // keys the last body took from --set (for setKeys)
}

func newFieldFlags(fs *flag.FlagSet, fields [][3]string) *fieldFlags {
	f := &fieldFlags{opts: map[string]*optional{}}
	for _, x := range fields {
		o := &optional{}
		fs.Var(o, x[0], x[2])
		f.opts[x[1]] = o
	}
	fs.Var(&f.set, "set", "KEY=VALUE for a field without a flag of its own (repeat)")
	return f
}

// body is the fields given, as a JSON patch; numbers stay numbers for keys
// that are numbers ("port").
func (f *fieldFlags) body() (map[string]any, error) {
	out := map[string]any{}
	for k, o := range f.opts {
		if o.set {
			out[k] = o.val
		}
	}
	f.fromSet = map[string]bool{}
	err := assignments(out, f.set, func(kv string) string { return fmt.Sprintf("--set %q: want KEY=VALUE", kv) },
		func(k, v string) (any, error) {
			f.fromSet[k] = true
			if n, err := strconv.Atoi(v); err == nil && strings.HasSuffix(k, "port") {
				return n, nil
			} else if v == "true" || v == "false" {
				return v == "true", nil
			}
			return v, nil
		})
	return out, err
}

// assignments adds KEY=VALUE words (--set flags, the arguments of pbx set and
// ha set) to a JSON patch, each value as typed makes it (the API wants numbers,
// booleans and lists as such; typed's error refuses a key or a value); a word
// without a KEY= is a usage error, worded by bad.
func assignments(out map[string]any, words []string, bad func(kv string) string, typed func(k, v string) (any, error)) error {
	for _, kv := range words {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return &exitError{code: 2, msg: bad(kv)}
		}
		x, err := typed(k, v)
		if err != nil {
			return err
		}
		out[k] = x
	}
	return nil
}

var deviceFields = [][3]string{
	{"model", "model", "model id (see: switchboard catalog models)"},
	{"template", "template", `template id ("" for the model's)`},
	{"notes", "notes", "notes"},
	{"ip-mode", "ip_mode", "dhcp or static"},
	{"ip-address", "ip_address", "static IP address"},
	{"netmask", "netmask", "netmask"},
	{"gateway", "gateway", "gateway"},
	{"dns1", "dns1", "first DNS server"},
	{"dns2", "dns2", "second DNS server"},
	{"phone-username", "phone_username", "the phone's admin user name"},
	{"redirect-server", "redirect_server", `redirection server id ("" for none)`},
}

// accountIDByExtension finds an account of base by extension.
func (c *client) accountByExtension(base, ext string) (map[string]any, error) {
	var res struct{ Items []map[string]any }
	if _, err := c.call("GET", base+"/accounts", nil, &res); err != nil {
		return nil, err
	}
	var exts []string
	for _, a := range res.Items {
		if a["extension"] == ext || a["id"] == ext {
			return a, nil
		}
		exts = append(exts, fmt.Sprint(a["extension"]))
	}
	return nil, &exitError{code: 1, msg: fmt.Sprintf("no account with extension %s in this tenant%s (see: switchboard account list)", ext, didYouMean(ext, exts))}
}

func printObject(w *tabwriter.Writer, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if strings.Contains(k, "password") && v != "" && v != nil {
			v = "********"
		}
		if b, ok := v.(map[string]any); ok {
			j, _ := json.Marshal(b)
			v = string(j)
		}
		fmt.Fprintf(w, "%s:\t%v\n", k, v)
	}
}

func deviceEditVerbs() []verb {
	return []verb{
		{name: "show", args: "MAC|ID [--tenant T]", nargs: 1, help: "show one device, its file and its problem if any",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					_, d, err := c.deviceArg(*tenant, pos[0])
					if err != nil {
						return err
					}
					raw, _ := json.Marshal(d)
					return c.show(raw, func(w *tabwriter.Writer) { printObject(w, d) })
				}
			}},
		{name: "set", args: "MAC|ID [--account EXT] [--model M] [--template ID] [--notes N] [--enable|--disable] [--set KEY=VALUE] [--tenant T]", nargs: 1,
			help: "change a device: only the fields given",
			more: `--account "" unlinks the account (the device is then disabled). Fields without a flag of their own
(see "switchboard device show") are set with --set, e.g. --set remote_port=5062.
The phone's admin password is read with --phone-password-stdin.`,
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				ff := newFieldFlags(fs, deviceFields)
				var account optional
				fs.Var(&account, "account", `extension of the account to link ("" unlinks)`)
				enable := fs.Bool("enable", false, "enable the device")
				disable := fs.Bool("disable", false, "disable the device")
				pwStdin := fs.Bool("phone-password-stdin", false, "read the phone's admin password from standard input")
				return func(c *client, pos []string) error {
					body, err := ff.body()
					if err != nil {
						return err
					}
					if *enable && *disable {
						return &exitError{code: 2, msg: "device set: --enable and --disable together"}
					}
					if *enable || *disable {
						body["enabled"] = *enable
					}
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					if account.set {
						body["account"] = ""
						if account.val != "" {
							a, err := c.accountByExtension(base, account.val)
							if err != nil {
								return err
							}
							body["account"] = a["id"]
						}
					}
					if *pwStdin {
						p, err := c.readPassword("", true, "")
						if err != nil {
							return err
						}
						body["phone_password"] = p
					}
					if len(body) == 0 {
						return &exitError{code: 2, msg: "device set: nothing to change (see: switchboard device set --help)"}
					}
					d, err := c.findDevice(base, pos[0])
					if err != nil {
						return err
					}
					var out map[string]any
					c.setKeys = ff.fromSet
					raw, err := c.call("PATCH", base+"/devices/"+url.PathEscape(fmt.Sprint(d["id"])), body, &out)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						printTable(w, []string{"mac", "model", "enabled", "file", "problem"}, []map[string]any{out})
					})
				}
			}},
	}
}

var accountFields = [][3]string{
	{"sip-username", "sip_username", "SIP user name (default: the extension)"},
	{"auth-username", "auth_username", "SIP authentication user name"},
	{"display-name", "display_name", "name shown on the phone"},
	{"first-name", "first_name", "first name"},
	{"last-name", "last_name", "last name"},
	{"voicemail", "voicemail", "voicemail number"},
	{"transport", "transport", "udp, tcp or tls"},
}

func accountEditVerbs() []verb {
	withPassword := func(fs *flag.FlagSet) (*string, *bool) {
		return fs.String("password", "", "SIP password (visible in the process list: prefer --password-stdin)"),
			fs.Bool("password-stdin", false, "read the SIP password from the first line of standard input")
	}
	return []verb{
		{name: "add", args: "EXTENSION [--password-stdin] [--display-name N] [...] [--tenant T]", nargs: 1, help: "add a SIP account",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				ff := newFieldFlags(fs, accountFields)
				pw, pwStdin := withPassword(fs)
				return func(c *client, pos []string) error {
					body, err := ff.body()
					if err != nil {
						return err
					}
					body["extension"] = pos[0]
					p, err := c.readPassword(*pw, *pwStdin, "SIP password for "+pos[0]+": ")
					if err != nil {
						return err
					}
					body["sip_password"] = p
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					var a map[string]any
					c.setKeys = ff.fromSet
					raw, err := c.call("POST", base+"/accounts", body, &a)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "account %v added\n", a["extension"]) })
				}
			}},
		{name: "show", args: "EXTENSION [--tenant T]", nargs: 1, help: "show one account (the password masked)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					a, err := c.accountByExtension(base, pos[0])
					if err != nil {
						return err
					}
					raw, _ := json.Marshal(a)
					return c.show(raw, func(w *tabwriter.Writer) { printObject(w, a) })
				}
			}},
		{name: "set", args: "EXTENSION [--display-name N] [--password-stdin] [--set KEY=VALUE] [...] [--tenant T]", nargs: 1,
			help: "change an account: only the fields given",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				ff := newFieldFlags(fs, accountFields)
				var ext optional
				fs.Var(&ext, "extension", "new extension")
				pw, pwStdin := withPassword(fs)
				return func(c *client, pos []string) error {
					body, err := ff.body()
					if err != nil {
						return err
					}
					if ext.set {
						body["extension"] = ext.val
					}
					if *pw != "" || *pwStdin {
						p, err := c.readPassword(*pw, *pwStdin, "")
						if err != nil {
							return err
						}
						body["sip_password"] = p
					}
					if len(body) == 0 {
						return &exitError{code: 2, msg: "account set: nothing to change (see: switchboard account set --help)"}
					}
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					a, err := c.accountByExtension(base, pos[0])
					if err != nil {
						return err
					}
					var out map[string]any
					c.setKeys = ff.fromSet
					raw, err := c.call("PATCH", base+"/accounts/"+url.PathEscape(fmt.Sprint(a["id"])), body, &out)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printObject(w, out) })
				}
			}},
		{name: "delete", args: "EXTENSION [--tenant T]", nargs: 1, help: "delete an account no device uses",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					a, err := c.accountByExtension(base, pos[0])
					if err != nil {
						return err
					}
					if _, err := c.call("DELETE", base+"/accounts/"+url.PathEscape(fmt.Sprint(a["id"])), nil, nil); err != nil {
						return err
					}
					return c.show(json.RawMessage(`{"deleted":true}`), func(w *tabwriter.Writer) { fmt.Fprintf(w, "account %s deleted\n", pos[0]) })
				}
			}},
	}
}

// templateBase is where templates live: a tenant's with --tenant, the global
// ones without.
func (c *client) templateBase(tenant string) (string, error) {
	if tenant == "" {
		return "/api/v1/templates", nil
	}
	base, err := c.tenantBase(tenant)
	return base + "/templates", err
}

// readBody reads a template body from FILE or "-" (standard input).
func (c *client) readBody(path string) (string, error) {
	r := c.stdin
	if path != "-" {
		f, err := os.Open(path) //nolint:gosec // G304: the operator's own file, named on the command line
		if err != nil {
			return "", &exitError{code: 2, msg: err.Error()}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	return string(b), err
}

func templateVerbs() []verb {
	tflag := func(fs *flag.FlagSet) *string {
		return fs.String("tenant", "", "a tenant's templates (UUID or name); without it, the global ones")
	}
	return []verb{
		{name: "list", args: "[--tenant T]", help: "templates: built-in and your copies",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tflag(fs)
				return func(c *client, _ []string) error {
					base, err := c.templateBase(*tenant)
					if err != nil {
						return err
					}
					var res struct{ Items []map[string]any }
					raw, err := c.call("GET", base, nil, &res)
					if err != nil {
						return err
					}
					sort.SliceStable(res.Items, func(i, j int) bool { return fmt.Sprint(res.Items[i]["id"]) < fmt.Sprint(res.Items[j]["id"]) })
					return c.show(raw, func(w *tabwriter.Writer) {
						printTable(w, []string{"id", "name", "scope", "escape", "builtin"}, res.Items)
					})
				}
			}},
		{name: "show", args: "ID [--tenant T]", nargs: 1, help: "print a template's body",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tflag(fs)
				return func(c *client, pos []string) error {
					base, err := c.templateBase(*tenant)
					if err != nil {
						return err
					}
					var tm provision.Template
					raw, err := c.call("GET", base+"/"+url.PathEscape(pos[0]), nil, &tm)
					if err != nil {
						return err
					}
					if c.json {
						return c.show(raw, nil)
					}
					_, err = io.WriteString(c.out, tm.Body)
					return err
				}
			}},
		{name: "copy", args: "ID --name NAME [--tenant T]", nargs: 1, help: "copy a template (a built-in one cannot be edited, its copy can)",
			more: "With --tenant the copy belongs to that tenant and may use its custom placeholders.",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tflag(fs)
				name := fs.String("name", "", "name of the copy")
				return func(c *client, pos []string) error {
					base, err := c.templateBase(*tenant)
					if err != nil {
						return err
					}
					var tm provision.Template
					raw, err := c.call("POST", base+"/"+url.PathEscape(pos[0])+"/copy", map[string]string{"name": *name}, &tm)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "template %s copied to %s (%s): edit it with switchboard template edit %s --file FILE\n", pos[0], tm.ID, tm.Name, tm.ID)
					})
				}
			}},
		{name: "edit", args: "ID --file FILE|- [--tenant T]", nargs: 1, help: "replace a template's body with a file's (checked before it is saved)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tflag(fs)
				file := fs.String("file", "", `file with the new body ("-": standard input)`)
				return func(c *client, pos []string) error {
					if *file == "" {
						return &exitError{code: 2, msg: "template edit: --file is required (get the body with: switchboard template show " + pos[0] + " > FILE)"}
					}
					body, err := c.readBody(*file)
					if err != nil {
						return err
					}
					base, err := c.templateBase(*tenant)
					if err != nil {
						return err
					}
					var tm provision.Template
					raw, err := c.call("PATCH", base+"/"+url.PathEscape(pos[0]), map[string]string{"body": body}, &tm)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "template %s saved (%d bytes)\n", tm.ID, len(tm.Body)) })
				}
			}},
		{name: "validate", args: "--file FILE|- [--tenant T]", help: "check a template body: syntax and placeholder names (nothing is saved)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tflag(fs)
				file := fs.String("file", "", `file with the body ("-": standard input)`)
				return func(c *client, _ []string) error {
					if *file == "" {
						return &exitError{code: 2, msg: "template validate: --file is required"}
					}
					body, err := c.readBody(*file)
					if err != nil {
						return err
					}
					known := map[string]bool{}
					var res struct{ Items []map[string]any }
					if _, err := c.call("GET", "/api/v1/placeholders", nil, &res); err != nil {
						return err
					}
					for _, p := range res.Items {
						known[fmt.Sprint(p["name"])] = true
					}
					if *tenant != "" {
						base, err := c.tenantBase(*tenant)
						if err != nil {
							return err
						}
						res.Items = nil
						if _, err := c.call("GET", base+"/placeholders", nil, &res); err != nil {
							return err
						}
						for _, p := range res.Items {
							known[fmt.Sprint(p["name"])] = true
						}
					}
					names := make([]string, 0, len(known))
					for n := range known {
						names = append(names, n)
					}
					comp, err := provision.Compile(body, func(n string) bool { return known[n] })
					if err != nil {
						msg := err.Error()
						if i := strings.Index(msg, "unknown placeholder %%"); i >= 0 {
							bad := strings.TrimSuffix(strings.SplitN(msg[i+len("unknown placeholder %%"):], "%%", 2)[0], "%%")
							msg += didYouMean(bad, names)
							if *tenant == "" && strings.HasPrefix(bad, "_") {
								msg += " (a tenant's custom placeholder: validate with --tenant and copy the template into that tenant)"
							}
						}
						return &exitError{code: 1, msg: "template validate: " + msg}
					}
					fmt.Fprintf(c.out, "template OK: %d placeholder(s): %s\n", len(comp.Names()), strings.Join(comp.Names(), ", "))
					return nil
				}
			}},
	}
}
