package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Provisioning verbs: devices, accounts, files, the unknown-device list, the
// catalog and the PBX settings of a tenant (--tenant, default "default", the
// single-tenant tenant).

func tenantFlag(fs *flag.FlagSet) *string {
	return fs.String("tenant", "", "tenant UUID or name (default: the box's tenant when there is only one)")
}

// tenantBase resolves --tenant to the API prefix of that tenant. Without
// --tenant, a single-tenant box has its one tenant; a multi-tenant box with
// one tenant uses it and says so; with several it asks which.
func (c *client) tenantBase(ref string) (string, error) {
	if ref == "" {
		var err error
		if ref, err = c.defaultTenant(); err != nil {
			return "", err
		}
	}
	if ref != "default" {
		id, err := c.tenantID(ref)
		if err != nil {
			return "", err
		}
		ref = id
	}
	return "/api/v1/tenants/" + url.PathEscape(ref), nil
}

// defaultTenant is the tenant a verb uses when --tenant is not given.
func (c *client) defaultTenant() (string, error) {
	var res struct {
		Mode  string
		Items []tenantRow
	}
	if _, err := c.call("GET", "/api/v1/tenants", nil, &res); err != nil {
		return "", err
	}
	if res.Mode != "multi" {
		return "default", nil
	}
	var names []string
	for _, t := range res.Items {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	if len(names) == 1 {
		fmt.Fprintf(c.errOut(), "(tenant %s)\n", names[0])
		return names[0], nil
	}
	return "", &exitError{code: 2, msg: fmt.Sprintf("this box has %d tenants (%s): name one with --tenant NAME", len(names), strings.Join(names, ", "))}
}

// raw performs a request with a non-JSON body and returns the answer's bytes.
func (c *client) raw(method, path, contentType string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequest(method, "http://switchboard"+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &exitError{code: 3, msg: fmt.Sprintf("cannot reach the daemon on %s: %v", c.socket, unwrapNet(err))}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		e := &apiErr{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Msg == "" {
			e.Msg = strings.TrimSpace(string(b))
		}
		return nil, &exitError{code: 1, msg: e.Error()}
	}
	return b, nil
}

// csvVerbs are import and export of one collection.
func csvVerbs(what string) []verb {
	return []verb{
		{name: "import", args: "FILE.csv [--tenant T]", nargs: 1, help: "import " + what + " from CSV (all rows or none; re-importing updates)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					in := c.stdin
					if pos[0] != "-" {
						f, err := os.Open(pos[0]) //nolint:gosec // G703: the operator names the file to import, read with their own rights
						if err != nil {
							return &exitError{code: 2, msg: err.Error()}
						}
						defer f.Close()
						in = f
					}
					b, err := c.raw("POST", base+"/"+what+".csv", "text/csv", in)
					if err != nil {
						return err
					}
					var res struct{ Created, Updated int }
					json.Unmarshal(b, &res) //nolint:errcheck // printed raw with --json
					return c.show(b, func(w *tabwriter.Writer) {
						fmt.Fprintf(w, "%s: %d created, %d updated\n", what, res.Created, res.Updated)
					})
				}
			}},
		{name: "export", args: "[--secrets] [--tenant T]", help: "write " + what + " as CSV on standard output (passwords left empty, which an import keeps, unless --secrets)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				secrets := fs.Bool("secrets", false, "include the passwords in clear (recorded in the audit log as a reveal)")
				return func(c *client, _ []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					path := base + "/" + what + ".csv"
					if *secrets {
						path += "?secrets=true"
					}
					b, err := c.raw("GET", path, "", nil)
					if err != nil {
						return err
					}
					_, err = c.out.Write(b)
					return err
				}
			}},
	}
}

// listVerb prints a tenant collection as a table of the given JSON fields.
func listVerb(what, help string, cols []string) verb { return listVerbWith(what, help, cols, nil) }

// listVerbWith is listVerb with row, which may add derived columns to each item.
func listVerbWith(what, help string, cols []string, row func(map[string]any)) verb {
	return verb{name: "list", args: "[--tenant T]", help: help, flags: func(fs *flag.FlagSet) func(*client, []string) error {
		tenant := tenantFlag(fs)
		return func(c *client, _ []string) error {
			base, err := c.tenantBase(*tenant)
			if err != nil {
				return err
			}
			var res struct{ Items []map[string]any }
			raw, err := c.call("GET", base+"/"+what, nil, &res)
			if err != nil {
				return err
			}
			for _, it := range res.Items {
				if row != nil {
					row(it)
				}
			}
			return c.show(raw, func(w *tabwriter.Writer) { printTable(w, cols, res.Items) })
		}
	}}
}

func printTable(w *tabwriter.Writer, cols []string, items []map[string]any) {
	fmt.Fprintln(w, strings.ToUpper(strings.Join(cols, "\t")))
	for _, it := range items {
		vals := make([]string, len(cols))
		for i, c := range cols {
			v := it[c]
			switch x := v.(type) {
			case nil:
				vals[i] = "-"
			case string:
				// Timestamps in the local zone, to the second.
				if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) >= 20 {
					x = t.Local().Format("2006-01-02 15:04:05")
				}
				vals[i] = dash(strings.SplitN(x, "\n", 2)[0])
			case float64:
				vals[i] = strconv.FormatFloat(x, 'f', -1, 64)
			default:
				vals[i] = fmt.Sprint(x)
			}
		}
		fmt.Fprintln(w, strings.Join(vals, "\t"))
	}
}

// deviceArg resolves a verb's tenant and MAC|ID argument to the tenant's API
// base and the device.
func (c *client) deviceArg(tenant, ref string) (string, map[string]any, error) {
	base, err := c.tenantBase(tenant)
	if err != nil {
		return "", nil, err
	}
	d, err := c.findDevice(base, ref)
	return base, d, err
}

// findDevice resolves a device by id or MAC (any accepted format).
func (c *client) findDevice(base, ref string) (map[string]any, error) {
	var res struct{ Items []map[string]any }
	if _, err := c.call("GET", base+"/devices", nil, &res); err != nil {
		return nil, err
	}
	norm := strings.ToUpper(strings.NewReplacer(":", "", "-", "").Replace(ref))
	for _, d := range res.Items {
		if d["id"] == ref || d["mac"] == norm {
			return d, nil
		}
	}
	return nil, &exitError{code: 1, msg: fmt.Sprintf("no device %q in this tenant", ref)}
}

func deviceVerbs() []verb {
	vs := []verb{
		listVerb("devices", "list devices with their file or why they have none", []string{"mac", "model", "enabled", "file", "problem", "notes"}),
		{name: "add", args: "--mac MAC --model MODEL [--account EXT] [--template ID] [--notes N] [--tenant T]", help: "add a device (without an account it is saved disabled)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				mac := fs.String("mac", "", "MAC (AABBCCDDEEFF, AA:BB:.. or AA-BB-..)")
				model := fs.String("model", "", "model id (see: switchboard catalog models)")
				acc := fs.String("account", "", "extension of the linked account")
				tmpl := fs.String("template", "", "template id (default: the model's)")
				notes := fs.String("notes", "", "notes")
				return func(c *client, _ []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					body := map[string]any{"mac": *mac, "model": *model, "template": *tmpl, "notes": *notes}
					if *acc != "" {
						var res struct{ Items []map[string]any }
						if _, err := c.call("GET", base+"/accounts", nil, &res); err != nil {
							return err
						}
						for _, a := range res.Items {
							if a["extension"] == *acc {
								body["account"] = a["id"]
							}
						}
						if body["account"] == nil {
							return &exitError{code: 1, msg: fmt.Sprintf("no account with extension %s", *acc)}
						}
					}
					var d map[string]any
					raw, err := c.call("POST", base+"/devices", body, &d)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						printTable(w, []string{"mac", "model", "enabled", "file", "problem"}, []map[string]any{d})
					})
				}
			}},
		{name: "delete", args: "MAC|ID [--tenant T]", nargs: 1, help: "delete a device",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					base, d, err := c.deviceArg(*tenant, pos[0])
					if err != nil {
						return err
					}
					if _, err := c.call("DELETE", base+"/devices/"+fmt.Sprint(d["id"]), nil, nil); err != nil {
						return err
					}
					return c.show(json.RawMessage(`{"deleted":true}`), func(w *tabwriter.Writer) { fmt.Fprintf(w, "device %s deleted\n", d["mac"]) })
				}
			}},
		{name: "preview", args: "MAC|ID [--template ID] [--tenant T]", nargs: 1, help: "render a device's file without saving anything",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				tmpl := fs.String("template", "", "template id to try instead of the device's")
				return func(c *client, pos []string) error {
					base, d, err := c.deviceArg(*tenant, pos[0])
					if err != nil {
						return err
					}
					var res struct{ Rendered string }
					raw, err := c.call("POST", base+"/devices/"+fmt.Sprint(d["id"])+"/preview", map[string]any{"template": *tmpl}, &res)
					if err != nil {
						return err
					}
					if c.json {
						return c.show(raw, nil)
					}
					_, err = io.WriteString(c.out, res.Rendered)
					return err
				}
			}},
	}
	vs = append(vs, deviceLineKeyVerbs()...)
	vs = append(vs, revealVerb("MAC|ID", "print a device's phone web password and its secret provisioning URL (recorded in the audit log)", "phone_password,provisioning_url",
		func(c *client, base, ref string) (string, error) {
			d, err := c.findDevice(base, ref)
			if err != nil {
				return "", err
			}
			return base + "/devices/" + fmt.Sprint(d["id"]) + "/reveal", nil
		}))
	// device show is deviceLineKeyVerbs' (the device with its lines and keys).
	for _, v := range deviceEditVerbs() {
		if v.name != "show" {
			vs = append(vs, v)
		}
	}
	vs = append(vs, resyncVerbs()...)
	return append(vs, csvVerbs("devices")...)
}

// accountIDs maps the tenant's extensions to account ids (and back).
func (c *client) accountIDs(base string) (byExt, byID map[string]string, err error) {
	var res struct{ Items []map[string]any }
	if _, err := c.call("GET", base+"/accounts", nil, &res); err != nil {
		return nil, nil, err
	}
	byExt, byID = map[string]string{}, map[string]string{}
	for _, a := range res.Items {
		ext, id := fmt.Sprint(a["extension"]), fmt.Sprint(a["id"])
		byExt[ext], byID[id] = id, ext
	}
	return byExt, byID, nil
}

// printDevice shows a device with its lines (by extension) and keys.
func printDevice(w *tabwriter.Writer, d map[string]any, byID map[string]string) {
	for _, k := range []string{"mac", "model", "enabled", "file", "problem", "template", "notes"} {
		fmt.Fprintf(w, "%s:\t%v\n", k, dash(fmt.Sprint(d[k])))
	}
	lines, _ := d["lines"].([]any)
	for i, l := range lines {
		lm, _ := l.(map[string]any)
		fmt.Fprintf(w, "line %d:\t%s %v\n", i+1, byID[fmt.Sprint(lm["account"])], dash(fmt.Sprint(lm["label"])))
	}
	keys, _ := d["keys"].([]any)
	if len(keys) > 0 {
		fmt.Fprintln(w, "\nMODULE\tINDEX\tTYPE\tVALUE\tLABEL\tLINE")
		for _, k := range keys {
			km, _ := k.(map[string]any)
			fmt.Fprintf(w, "%v\t%v\t%v\t%v\t%v\t%v\n", km["module"], km["index"], km["type"], dash(fmt.Sprint(km["value"])), dash(fmt.Sprint(km["label"])), km["line"])
		}
	}
}

// deviceLineKeyVerbs show and change a device's lines and keys.
func deviceLineKeyVerbs() []verb {
	// edit loads a device, lets change alter its JSON, saves the fields it
	// returns and prints the device.
	edit := func(c *client, tenant, ref string, change func(d map[string]any, byExt map[string]string) (map[string]any, error)) error {
		base, err := c.tenantBase(tenant)
		if err != nil {
			return err
		}
		d, err := c.findDevice(base, ref)
		if err != nil {
			return err
		}
		byExt, byID, err := c.accountIDs(base)
		if err != nil {
			return err
		}
		out := d
		raw := json.RawMessage(nil)
		if change != nil {
			patch, err := change(d, byExt)
			if err != nil {
				return err
			}
			if raw, err = c.call("PATCH", base+"/devices/"+fmt.Sprint(d["id"]), patch, &out); err != nil {
				return err
			}
		} else {
			raw, _ = json.Marshal(d)
		}
		return c.show(raw, func(w *tabwriter.Writer) { printDevice(w, out, byID) })
	}
	keyList := func(d map[string]any) []map[string]any {
		keys, _ := d["keys"].([]any)
		out := []map[string]any{}
		for _, k := range keys {
			if km, ok := k.(map[string]any); ok {
				out = append(out, km)
			}
		}
		return out
	}
	num := func(v any) int { f, _ := v.(float64); return int(f) }
	return []verb{
		{name: "show", args: "MAC|ID [--tenant T]", nargs: 1, help: "a device with its lines and keys",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error { return edit(c, *tenant, pos[0], nil) }
			}},
		{name: "lines", args: "MAC|ID EXT... [--tenant T]", nargs: -1, help: "set the device's lines: the accounts' extensions, line 1 first (DECT: one per handset)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					if len(pos) < 2 {
						return &exitError{code: 2, msg: "device lines: give the device and at least one extension"}
					}
					return edit(c, *tenant, pos[0], func(_ map[string]any, byExt map[string]string) (map[string]any, error) {
						var lines []map[string]string
						for _, ext := range pos[1:] {
							id, ok := byExt[ext]
							if !ok {
								return nil, &exitError{code: 1, msg: fmt.Sprintf("no account with extension %s", ext)}
							}
							lines = append(lines, map[string]string{"account": id})
						}
						return map[string]any{"lines": lines, "enabled": true}, nil
					})
				}
			}},
		{name: "key", args: "MAC|ID --type TYPE [--value V] [--label L] [--index N] [--module M] [--line N] [--tenant T]", nargs: 1,
			help: "add a key, or replace the one at --index on the phone (--module 0) or an expansion module; types: line, blf, speed_dial, park, pickup, group_pickup, dnd, transfer, voicemail, url, intercom, forward, hold, conference",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				typ := fs.String("type", "", "key type")
				value := fs.String("value", "", "extension, number or URL")
				label := fs.String("label", "", "label")
				index := fs.Int("index", 0, "position from 1 (0: the first free one)")
				module := fs.Int("module", 0, "0 for the phone, 1.. for an expansion module")
				line := fs.Int("line", 1, "the device line the key uses")
				return func(c *client, pos []string) error {
					return edit(c, *tenant, pos[0], func(d map[string]any, _ map[string]string) (map[string]any, error) {
						keys := []map[string]any{}
						for _, k := range keyList(d) {
							if *index == 0 || num(k["index"]) != *index || num(k["module"]) != *module {
								keys = append(keys, k)
							}
						}
						keys = append(keys, map[string]any{"type": *typ, "value": *value, "label": *label, "index": *index, "module": *module, "line": *line})
						return map[string]any{"keys": keys}, nil
					})
				}
			}},
		{name: "key-delete", args: "MAC|ID --index N [--module M] [--tenant T]", nargs: 1, help: "remove the key at a position",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				index := fs.Int("index", 0, "position from 1")
				module := fs.Int("module", 0, "0 for the phone, 1.. for an expansion module")
				return func(c *client, pos []string) error {
					return edit(c, *tenant, pos[0], func(d map[string]any, _ map[string]string) (map[string]any, error) {
						keys := []map[string]any{}
						found := false
						for _, k := range keyList(d) {
							if num(k["index"]) == *index && num(k["module"]) == *module {
								found = true
								continue
							}
							keys = append(keys, k)
						}
						if !found {
							return nil, &exitError{code: 1, msg: fmt.Sprintf("no key at position %d of module %d", *index, *module)}
						}
						return map[string]any{"keys": keys}, nil
					})
				}
			}},
		renameVerb(csvVerbs("device-keys")[0], "keys-import", "import device keys from CSV (mac,module,index,type,value,label,line): each device named gets the file's keys"),
		renameVerb(csvVerbs("device-keys")[1], "keys-export", "write every device's keys as CSV on standard output"),
	}
}

func renameVerb(v verb, name, help string) verb {
	v.name, v.help = name, help
	return v
}

func accountVerbs() []verb {
	vs := []verb{listVerb("accounts", "list SIP accounts", []string{"extension", "sip_username", "display_name", "transport"}),
		revealVerb("EXTENSION", "print an account's SIP password (recorded in the audit log)", "sip_password",
			func(c *client, base, ext string) (string, error) {
				var res struct{ Items []map[string]any }
				if _, err := c.call("GET", base+"/accounts", nil, &res); err != nil {
					return "", err
				}
				for _, a := range res.Items {
					if a["extension"] == ext {
						return base + "/accounts/" + fmt.Sprint(a["id"]) + "/reveal", nil
					}
				}
				return "", &exitError{code: 1, msg: fmt.Sprintf("no account with extension %s", ext)}
			})}
	vs = append(vs, accountEditVerbs()...)
	return append(vs, csvVerbs("accounts")...)
}

// revealVerb prints one secret, read through the audited reveal route that
// path finds for the positional argument.
func revealVerb(arg, help, key string, path func(c *client, base, ref string) (string, error)) verb {
	nargs, args := 1, arg+" [--tenant T]"
	if arg == "" {
		nargs, args = 0, "[--tenant T]"
	}
	return verb{name: "reveal", args: args, nargs: nargs, help: help,
		flags: func(fs *flag.FlagSet) func(*client, []string) error {
			tenant := tenantFlag(fs)
			return func(c *client, pos []string) error {
				base, err := c.tenantBase(*tenant)
				if err != nil {
					return err
				}
				ref := ""
				if len(pos) > 0 {
					ref = pos[0]
				}
				p, err := path(c, base, ref)
				if err != nil {
					return err
				}
				var res map[string]string
				raw, err := c.call("POST", p, nil, &res)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) {
					keys := strings.Split(key, ",")
					if len(keys) == 1 {
						fmt.Fprintln(w, res[key])
						return
					}
					for _, k := range keys {
						fmt.Fprintf(w, "%s:\t%s\n", k, res[k])
					}
				})
			}
		}}
}

func fileVerbs() []verb {
	return []verb{
		listVerb("files", "the generated files (name, size, modified, device)", []string{"name", "size", "modified", "mac", "content_type"}),
		{name: "show", args: "NAME [--reveal] [--tenant T]", nargs: 1, help: "print one generated file (its passwords as ******** unless --reveal)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				reveal := fs.Bool("reveal", false, "print the passwords in clear (recorded in the audit log)")
				return func(c *client, pos []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					var res struct{ Content string }
					method, path := "GET", base+"/files/"+url.PathEscape(pos[0])
					if *reveal {
						method, path = "POST", path+"/reveal"
					}
					raw, err := c.call(method, path, nil, &res)
					if err != nil {
						return err
					}
					if c.json {
						return c.show(raw, nil)
					}
					_, err = io.WriteString(c.out, res.Content)
					return err
				}
			}},
	}
}

func unknownVerbs() []verb {
	cols := []string{"mac", "ip", "file", "user_agent", "guess", "first_seen", "last_seen", "requests"}
	list := verb{name: "list", args: "[--limit N] [--offset N] [--tenant T]",
		help: `phones that asked for a file but are not configured ("seen, not configured"), most recently seen first, with the likeliest model`,
		flags: func(fs *flag.FlagSet) func(*client, []string) error {
			tenant := tenantFlag(fs)
			limit := fs.Int("limit", 100, "phones per page (1-1000)")
			offset := fs.Int("offset", 0, "phones to skip")
			return func(c *client, _ []string) error {
				base, err := c.tenantBase(*tenant)
				if err != nil {
					return err
				}
				var res struct {
					Items         []map[string]any
					Total, Offset int
				}
				raw, err := c.call("GET", fmt.Sprintf("%s/unknown-devices?limit=%d&offset=%d", base, *limit, *offset), nil, &res)
				if err != nil {
					return err
				}
				for _, it := range res.Items {
					if g, _ := it["models"].([]any); len(g) > 0 {
						best, _ := g[0].(map[string]any)
						it["guess"] = best["model"]
					}
				}
				return c.show(raw, func(w *tabwriter.Writer) {
					printTable(w, cols, res.Items)
					if len(res.Items) < res.Total {
						fmt.Fprintf(w, "(%d-%d of %d; --offset %d for more)\n", res.Offset+min(1, len(res.Items)), res.Offset+len(res.Items), res.Total, res.Offset+len(res.Items))
					}
				})
			}
		}}
	adopt := verb{name: "adopt", nargs: 1, args: "MAC [--model MODEL] [--account EXT] [--template ID] [--notes N] [--tenant T]",
		help: "make a seen phone a device (the model is guessed from its file name and User-Agent unless given)",
		flags: func(fs *flag.FlagSet) func(*client, []string) error {
			tenant := tenantFlag(fs)
			model := fs.String("model", "", "model id (default: the one best guess)")
			acc := fs.String("account", "", "extension of the linked account (without one the device is saved disabled)")
			tmpl := fs.String("template", "", "template id (default: the model's)")
			notes := fs.String("notes", "", "notes")
			return func(c *client, pos []string) error {
				base, err := c.tenantBase(*tenant)
				if err != nil {
					return err
				}
				body := map[string]any{}
				for k, v := range map[string]string{"model": *model, "account_extension": *acc, "template": *tmpl, "notes": *notes} {
					if v != "" {
						body[k] = v
					}
				}
				var d map[string]any
				raw, err := c.call("POST", base+"/unknown-devices/"+url.PathEscape(pos[0])+"/adopt", body, &d)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) {
					fmt.Fprintf(w, "adopted %v as %v (%v)\n", d["mac"], d["model"], d["file"])
				})
			}
		}}
	return []verb{list, adopt}
}

func catalogVerbs() []verb {
	return []verb{
		{name: "models", args: "[--tenant T]", help: "models (built-in and yours) with their file names; with --tenant, the tenant's view with its models and target firmware",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := fs.String("tenant", "", "show the models a tenant sees (UUID or name), with the tenant's firmware of each")
				return func(c *client, _ []string) error {
					path := "/api/v1/models"
					cols := []string{"id", "brand", "name", "file_rule", "lines", "builtin"}
					if *tenant != "" {
						base, err := c.tenantBase(*tenant)
						if err != nil {
							return err
						}
						path, cols = base+"/models", append(cols, "firmware")
					}
					var res struct{ Items []map[string]any }
					raw, err := c.call("GET", path, nil, &res)
					if err != nil {
						return err
					}
					for _, m := range res.Items {
						if f, ok := m["file"].(map[string]any); ok {
							m["file_rule"] = fmt.Sprint(f["prefix"], "<", f["mac_format"], ">", f["suffix"])
						}
					}
					sort.SliceStable(res.Items, func(i, j int) bool { return fmt.Sprint(res.Items[i]["brand"]) < fmt.Sprint(res.Items[j]["brand"]) })
					return c.show(raw, func(w *tabwriter.Writer) { printTable(w, cols, res.Items) })
				}
			}},
		{name: "firmware", nargs: -1, args: "MODEL [FILE | --clear] [--tenant T]",
			help: "show or set a model's target firmware in a tenant: one of the tenant's uploaded files, named to phones in %%KPBX_FIRMWARE_URL%%",
			more: "The firmware is chosen per tenant, for built-in, global and the tenant's own models alike.\n" +
				"FILE must be uploaded first (PUT /api/v1/tenants/{tenant}/assets/{name}). Phones pick the change up\n" +
				"at their next check; 'switchboard device resync --model MODEL' tells them now.",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				clear := fs.Bool("clear", false, "remove the model's target firmware (phones keep the one they run)")
				return func(c *client, pos []string) error {
					if len(pos) < 1 || len(pos) > 2 || len(pos) == 2 && *clear {
						return &exitError{code: 2, msg: "catalog firmware: give MODEL, and FILE or --clear to change it"}
					}
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					path := base + "/models/" + url.PathEscape(pos[0])
					var m map[string]any
					var raw []byte
					if len(pos) == 1 && !*clear {
						raw, err = c.call("GET", path, nil, &m)
					} else {
						fw := ""
						if len(pos) == 2 {
							fw = pos[1]
						}
						c.keys = true
						raw, err = c.call("PATCH", path, map[string]any{"firmware": fw}, &m)
					}
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fw := fmt.Sprint(m["firmware"])
						if m["firmware"] == nil || fw == "" {
							fw = "(none: phones keep the firmware they run)"
						}
						fmt.Fprintf(w, "model\t%v %v (%v)\n", m["brand"], m["name"], m["id"])
						fmt.Fprintf(w, "firmware\t%s\n", fw)
						hint, _ := m["resync"].(map[string]any)
						if n, ok := hint["devices"].(float64); ok && n > 0 {
							fmt.Fprintf(w, "devices\t%d use the model: 'switchboard device resync --model %v' applies it now\n", int(n), m["id"])
						}
					})
				}
			}},
		{name: "templates", help: "templates (built-in and yours)", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var res struct{ Items []map[string]any }
				raw, err := c.call("GET", "/api/v1/templates", nil, &res)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) {
					printTable(w, []string{"id", "name", "scope", "escape", "builtin"}, res.Items)
				})
			}
		}},
		{name: "placeholders", help: "the built-in %%PLACEHOLDERS%%", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var res struct{ Items []map[string]any }
				raw, err := c.call("GET", "/api/v1/placeholders", nil, &res)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printTable(w, []string{"name", "source", "description"}, res.Items) })
			}
		}},
	}
}

func pbxVerbs() []verb {
	return []verb{
		{name: "show", args: "[--tenant T]", help: "the PBX attributes templates see", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			tenant := tenantFlag(fs)
			return func(c *client, _ []string) error {
				base, err := c.tenantBase(*tenant)
				if err != nil {
					return err
				}
				var m map[string]any
				raw, err := c.call("GET", base+"/pbx", nil, &m)
				if err != nil {
					return err
				}
				return c.show(raw, func(w *tabwriter.Writer) { printKV(w, m) })
			}
		}},
		revealVerb("", "print the provisioning HTTP password and the phones' admin password (recorded in the audit log)", "http_password,phone_admin_password",
			func(_ *client, base, _ string) (string, error) { return base + "/pbx/reveal", nil }),
		{name: "set", args: "KEY=VALUE... [--tenant T]", nargs: -1, help: "change PBX attributes (e.g. sip_server=10.0.0.5 time_zone=Europe/Rome secure_urls=true)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					if len(pos) == 0 {
						return &exitError{code: 2, msg: "pbx set: give KEY=VALUE pairs"}
					}
					c.keys = true
					body := map[string]any{}
					err := assignments(body, pos, func(kv string) string { return fmt.Sprintf("pbx set: %q is not KEY=VALUE", kv) },
						func(k, v string) (any, error) {
							if n, err := strconv.Atoi(v); err == nil && (strings.HasSuffix(k, "port") || strings.HasSuffix(k, "seconds")) {
								return n, nil
							} else if b, err := strconv.ParseBool(v); err == nil && k == "secure_urls" {
								return b, nil
							}
							return v, nil
						})
					if err != nil {
						return err
					}
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					var before, m map[string]any
					if _, err := c.call("GET", base+"/pbx", nil, &before); err != nil {
						return err
					}
					raw, err := c.call("PATCH", base+"/pbx", body, &m)
					if err != nil {
						return err
					}
					var changed []string
					for k := range body {
						if fmt.Sprint(before[k]) != fmt.Sprint(m[k]) {
							changed = append(changed, k)
						}
					}
					sort.Strings(changed)
					return c.show(raw, func(w *tabwriter.Writer) {
						if len(changed) == 0 {
							fmt.Fprintln(w, "unchanged: the values given are the current ones")
						} else {
							fmt.Fprintf(w, "changed: %s\n", strings.Join(changed, ", "))
						}
						printKV(w, m)
					})
				}
			}},
	}
}

func printKV(w *tabwriter.Writer, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if strings.Contains(k, "password") && v != "" {
			v = "********"
		}
		fmt.Fprintf(w, "%s:\t%v\n", k, v)
	}
}
