package main

import (
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
)

// resyncVerbs are "device resync" and "device reboot": the vendor's NOTIFY to
// the devices named (MAC or id), to those using a template or of a model, or
// to all of the tenant's, with one line per device.
func resyncVerbs() []verb {
	mk := func(name string, reboot bool) verb {
		what := "re-read its provisioning files"
		if reboot {
			what = "restart"
		}
		return verb{name: name, nargs: -1,
			args: "MAC|ID... | --template ID | --model ID | --all [--via auto|ami|direct] [--tenant T]",
			help: "tell registered phones to " + what + " (the vendor's SIP NOTIFY, through the PBX or directly); exits 1 unless every device was sent it",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				tenant := tenantFlag(fs)
				tmpl := fs.String("template", "", "the devices whose file (or model's common file) comes from this template")
				model := fs.String("model", "", "the devices of this model")
				all := fs.Bool("all", false, "every device of the tenant")
				via := fs.String("via", "", "auto (default: the PBX, directly for brands that challenge it), ami or direct")
				return func(c *client, pos []string) error {
					base, err := c.tenantBase(*tenant)
					if err != nil {
						return err
					}
					body := map[string]any{"reboot": reboot, "template": *tmpl, "model": *model, "all": *all, "via": *via}
					if len(pos) > 0 {
						body["devices"] = pos
					}
					// A bulk request may wait for many phones: the daemon
					// answers once each was sent to or failed.
					c.http.Timeout = 0
					var rep struct {
						Results []map[string]any `json:"results"`
						Counts  map[string]int   `json:"counts"`
					}
					raw, err := c.call("POST", base+"/resync", body, &rep)
					if err != nil {
						return resyncFlagError(err)
					}
					if err := c.show(raw, func(w *tabwriter.Writer) {
						printTable(w, []string{"mac", "model", "extension", "status", "via", "event", "detail"}, rep.Results)
						fmt.Fprintf(w, "%s\n", resyncSummary(rep.Counts))
					}); err != nil {
						return err
					}
					sent := rep.Counts["sent_ami"] + rep.Counts["sent_direct"]
					if sent < len(rep.Results) {
						return &exitError{code: 1, msg: fmt.Sprintf("%d of %d devices were not sent the NOTIFY (see status and detail)", len(rep.Results)-sent, len(rep.Results))}
					}
					return nil
				}
			}}
	}
	return []verb{mk("resync", false), mk("reboot", true)}
}

// resyncFlagError names the CLI's flags in the daemon's refusals.
func resyncFlagError(err error) error {
	ee, ok := err.(*exitError)
	if !ok {
		return err
	}
	r := strings.NewReplacer("devices (ids or MACs), template, model or all", "MAC|ID arguments, --template, --model or --all",
		"via must be", "--via must be")
	ee.msg = r.Replace(ee.msg)
	return ee
}

// resyncSummary is "2 sent via AMI, 1 not registered".
func resyncSummary(counts map[string]int) string {
	words := []struct{ key, text string }{{"sent_ami", "sent via AMI"}, {"sent_direct", "sent directly"}, {"not_registered", "not registered"},
		{"no_account", "without an account"}, {"disabled", "disabled"}, {"ami_unreachable", "PBX unreachable"}, {"refused", "refused"},
		{"no_answer", "no answer"}, {"unsupported", "not reachable directly"}}
	var parts []string
	for _, w := range words {
		if n := counts[w.key]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, w.text))
		}
	}
	if len(parts) == 0 {
		return "no devices selected"
	}
	return strings.Join(parts, ", ")
}
