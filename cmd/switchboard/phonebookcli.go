package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
)

// CLI verbs of the phonebook: "switchboard phonebook list|show|add|set|delete|
// import|export|files". They talk to /api/v1/tenants/{tenant}/phonebook on the
// control socket.

type phonebookRow struct {
	ID        int64  `json:"id"`
	Owner     string `json:"owner_id"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Company   string `json:"company"`
	WorkPhone string `json:"workphone"`
	CellPhone string `json:"cellphone"`
	HomePhone string `json:"homephone"`
	Fax       string `json:"fax"`
	Extension string `json:"extension"`
	SpeedDial string `json:"speeddial_num"`
	WorkEmail string `json:"workemail"`
	Notes     string `json:"notes"`
}

func printPhonebook(w *tabwriter.Writer, rows []phonebookRow) {
	fmt.Fprintln(w, "ID\tTYPE\tOWNER\tNAME\tCOMPANY\tNUMBERS\tE-MAIL")
	for _, r := range rows {
		var nums []string
		for _, n := range []struct{ label, v string }{{"ext", r.Extension}, {"work", r.WorkPhone}, {"mobile", r.CellPhone},
			{"home", r.HomePhone}, {"fax", r.Fax}, {"dial", r.SpeedDial}} {
			if n.v != "" {
				nums = append(nums, n.label+" "+n.v)
			}
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Type, dash(r.Owner), dash(r.Name), dash(r.Company),
			dash(strings.Join(nums, ", ")), dash(r.WorkEmail))
	}
}

// contactFlags are the contact's fields as flags, by their JSON name.
func contactFlags(fs *flag.FlagSet) map[string]*optional {
	fields := map[string]*optional{}
	for _, f := range []struct{ name, key, help string }{
		{"name", "name", "the person's name"},
		{"company", "company", "company"},
		{"title", "title", "job title"},
		{"work", "workphone", "work number"},
		{"mobile", "cellphone", "mobile number"},
		{"home", "homephone", "home number"},
		{"fax", "fax", "fax number"},
		{"extension", "extension", "internal extension"},
		{"speed-dial", "speeddial_num", "the number a speed dial calls"},
		{"email", "workemail", "work e-mail"},
		{"home-email", "homeemail", "home e-mail"},
		{"url", "url", "web site"},
		{"notes", "notes", "notes"},
		{"type", "type", "public (default), private or speeddial"},
		{"owner", "owner_id", "the CTI user of a private contact or speed dial"},
	} {
		o := &optional{}
		fs.Var(o, f.name, f.help)
		fields[f.key] = o
	}
	return fields
}

func contactBody(fields map[string]*optional) map[string]any {
	body := map[string]any{}
	for k, o := range fields {
		if o.set {
			body[k] = o.val
		}
	}
	return body
}

func phonebookVerbs() []verb {
	base := func(c *client, tenant string) (string, error) {
		b, err := c.tenantBase(tenant)
		return b + "/phonebook", err
	}
	idArg := func(s string) (string, error) {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n <= 0 {
			return "", &exitError{code: 2, msg: fmt.Sprintf("%q is not a contact id (see: switchboard phonebook list)", s)}
		}
		return s, nil
	}
	return []verb{
		{name: "list", args: "[SEARCH] [--type T] [--owner U] [--limit N] [--tenant T]", nargs: -1,
			help: "list or search contacts (by name, company, number, notes, e-mail)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				typ := fs.String("type", "", "only public, private or speeddial contacts")
				owner := &optional{}
				fs.Var(owner, "owner", "only the contacts of this CTI user (\"\" for the tenant's own)")
				limit := fs.Int("limit", 100, "how many to list (at most 1000)")
				offset := fs.Int("offset", 0, "skip this many")
				return func(c *client, pos []string) error {
					if len(pos) > 1 {
						return &exitError{code: 2, msg: "usage: switchboard phonebook list [SEARCH] [flags]"}
					}
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					q := url.Values{}
					if len(pos) == 1 {
						q.Set("q", pos[0])
					}
					if *typ != "" {
						q.Set("type", *typ)
					}
					if owner.set {
						q.Set("owner", owner.val)
					}
					q.Set("limit", strconv.Itoa(*limit))
					q.Set("offset", strconv.Itoa(*offset))
					var res struct {
						Items []phonebookRow `json:"items"`
						Total int            `json:"total"`
					}
					raw, err := c.call("GET", b+"?"+q.Encode(), nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						printPhonebook(w, res.Items)
						if res.Total > len(res.Items) {
							fmt.Fprintf(w, "(%d of %d: see --offset and --limit)\n", len(res.Items), res.Total)
						}
					})
				}
			}},
		{name: "show", args: "ID [--tenant T]", nargs: 1, help: "show one contact",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					id, err := idArg(pos[0])
					if err != nil {
						return err
					}
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					var r phonebookRow
					raw, err := c.call("GET", b+"/"+id, nil, &r)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { printPhonebook(w, []phonebookRow{r}) })
				}
			}},
		{name: "add", args: "--name N|--company C [--work W] [--mobile M] [--extension E] ... [--type T --owner U] [--tenant T]",
			help: "add a contact (public to the tenant unless --type says otherwise)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				fields := contactFlags(fs)
				return func(c *client, _ []string) error {
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					var r phonebookRow
					raw, err := c.call("POST", b, contactBody(fields), &r)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "contact %d added\n", r.ID) })
				}
			}},
		{name: "set", args: "ID [--name N] [--work W] ... [--tenant T]", nargs: 1,
			help: "change a contact (--field '' clears a field)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				fields := contactFlags(fs)
				return func(c *client, pos []string) error {
					id, err := idArg(pos[0])
					if err != nil {
						return err
					}
					body := contactBody(fields)
					if len(body) == 0 {
						return &exitError{code: 2, msg: "nothing to change: give at least one field flag (see: switchboard phonebook help)"}
					}
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					raw, err := c.call("PATCH", b+"/"+id, body, nil)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "contact %s changed\n", id) })
				}
			}},
		{name: "delete", args: "ID [--tenant T]", nargs: 1, help: "delete a contact",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					id, err := idArg(pos[0])
					if err != nil {
						return err
					}
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					if _, err := c.call("DELETE", b+"/"+id, nil, nil); err != nil {
						return err
					}
					return c.show([]byte(`{"deleted":`+id+`}`), func(w *tabwriter.Writer) { fmt.Fprintf(w, "contact %s deleted\n", id) })
				}
			}},
		{name: "import", args: "FILE.csv [--tenant T]", nargs: 1,
			help: "import contacts from CSV (UTF-8, ';' or ','): all rows or none; a row with an id updates that contact",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, pos []string) error {
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					in := c.stdin
					if pos[0] != "-" {
						f, err := os.Open(pos[0]) //nolint:gosec // G703: the operator's own file, named on the command line
						if err != nil {
							return &exitError{code: 2, msg: err.Error()}
						}
						defer f.Close()
						in = f
					}
					return c.phonebookImport(b+".csv", in)
				}
			}},
		{name: "export", args: "[--tenant T]", help: "write the contacts as CSV on standard output (import it back after editing)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, _ []string) error {
					b, err := base(c, *tenant)
					if err != nil {
						return err
					}
					out, err := c.raw("GET", b+".csv", "", nil)
					if err != nil {
						return err
					}
					_, err = c.out.Write(out)
					return err
				}
			}},
		{name: "files", args: "[--tenant T]", help: "the desk phones' directory files and their paths under the provisioning URL",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				return func(c *client, _ []string) error {
					b, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					var res struct {
						Items []struct {
							Vendor, Path string
							Size         int
						}
					}
					raw, err := c.call("GET", b+"/phonebook-files", nil, &res)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						fmt.Fprintln(w, "VENDOR\tPATH\tBYTES")
						for _, f := range res.Items {
							fmt.Fprintf(w, "%s\t%s\t%d\n", f.Vendor, f.Path, f.Size)
						}
					})
				}
			}},
	}
}

// phonebookImport posts a CSV file and prints every bad line of a refused one.
func (c *client) phonebookImport(path string, in io.Reader) error {
	req, err := http.NewRequest("POST", "http://switchboard"+path, in)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/csv")
	resp, err := c.http.Do(req)
	if err != nil {
		return &exitError{code: 3, msg: fmt.Sprintf("cannot reach the daemon on %s: %v", c.socket, unwrapNet(err))}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error  string `json:"error"`
			Errors []struct {
				Line  int    `json:"line"`
				Field string `json:"field"`
				Error string `json:"error"`
			} `json:"errors"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			return &exitError{code: 1, msg: strings.TrimSpace(string(b))}
		}
		if c.json {
			c.out.Write(b) //nolint:errcheck // stdout; a closed pipe ends the command anyway
			return &exitError{code: 1}
		}
		var msg strings.Builder
		if len(e.Errors) == 0 {
			msg.WriteString(e.Error)
		} else {
			fmt.Fprintf(&msg, "nothing imported, %d lines have errors:", len(e.Errors))
			for _, l := range e.Errors {
				fmt.Fprintf(&msg, "\n  line %d", l.Line)
				if l.Field != "" {
					fmt.Fprintf(&msg, " (%s)", l.Field)
				}
				fmt.Fprintf(&msg, ": %s", l.Error)
			}
		}
		return &exitError{code: 1, msg: msg.String()}
	}
	var res struct{ Created, Updated int }
	json.Unmarshal(b, &res) //nolint:errcheck // printed raw with --json
	return c.show(b, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "contacts: %d created, %d updated\n", res.Created, res.Updated)
	})
}
