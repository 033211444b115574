package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/dhcp"
)

// cmdDHCP runs "switchboard dhcp VERB": probe runs here (it needs a raw socket
// on this host, not the daemon), the other verbs go to the daemon.
func cmdDHCP(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "probe" {
		return cmdDHCPProbe(args[1:], stdout, stderr)
	}
	return cmdClient("dhcp", args, stdin, stdout)
}

func dhcpVerbs() []verb {
	return []verb{
		{name: "leases", help: "leases of the built-in DHCP server (needs dhcp.enabled)", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var res struct{ Items []map[string]any }
				raw, err := c.call("GET", "/api/v1/dhcp/leases", nil, &res)
				if err != nil {
					return dhcpHint(err)
				}
				return c.show(raw, func(w *tabwriter.Writer) {
					printTable(w, []string{"ip", "mac", "state", "expires", "vendor", "vendor_class", "hostname", "tenant"}, res.Items)
				})
			}
		}},
		{name: "rules", help: "vendor rules choosing options 66/67/150/160/43/114", flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				raw, err := c.call("GET", "/api/v1/dhcp/rules", nil, nil)
				if err != nil {
					return dhcpHint(err)
				}
				return c.show(raw, nil)
			}
		}},
		{name: "probe", args: "--interface IF [--vendor-class X] [--timeout D]",
			help:  "broadcast a DISCOVER (never a REQUEST), print the offer and whether it points here (runs locally, needs CAP_NET_RAW)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error { return nil }},
	}
}

func dhcpHint(err error) error {
	var ee *exitError
	if errors.As(err, &ee) && (strings.Contains(ee.msg, "no such endpoint") || strings.Contains(ee.msg, "DHCP server is not enabled")) {
		return &exitError{code: 1, msg: "the daemon's DHCP server is not enabled (set dhcp.enabled in the configuration)"}
	}
	return err
}

func cmdDHCPProbe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dhcp probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	iface := fs.String("interface", "", "interface to broadcast the DISCOVER on (required)")
	vc := fs.String("vendor-class", "", "option 60 to send, e.g. yealink or snomD785")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for an offer")
	cfgPath := fs.String("config", "/etc/switchboard/switchboard.yaml", "configuration file (for provisioning.base_url); may be absent")
	baseURL := fs.String("base-url", "", "this appliance's provisioning base URL (default: from the configuration)")
	asJSON := fs.Bool("json", false, "print JSON")
	if printHelp(stdout, fs, args, "usage: switchboard dhcp probe --interface IF [--vendor-class X] [--timeout D]\n\n"+
		"Broadcasts a DHCP DISCOVER (never a REQUEST) and prints the offer and whether it points at this appliance.\n") {
		return nil
	}
	if _, err := parse(fs, args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, msg: "usage: switchboard dhcp probe --interface IF [--vendor-class X] [--timeout D]"}
	}
	if *iface == "" {
		return &exitError{code: 2, msg: "dhcp probe: --interface is required"}
	}
	if *timeout <= 0 || *timeout > 5*time.Minute {
		return &exitError{code: 2, msg: "dhcp probe: --timeout must be between 0 and 5m"}
	}
	base := *baseURL
	if base == "" {
		cfg, err := config.Load(*cfgPath)
		switch {
		case err == nil:
			base = cfg.Provisioning.BaseURL
		case errors.Is(err, os.ErrNotExist):
			// No configuration on this host: judge by its addresses alone.
		default:
			return &exitError{code: 2, msg: err.Error()}
		}
	}
	offers, err := dhcp.Probe(context.Background(), dhcp.ProbeConfig{Interface: *iface, VendorClass: *vc, Timeout: *timeout, BaseURL: base})
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"base_url": base, "offers": offers})
	}
	if base != "" {
		fmt.Fprintf(stdout, "base URL:   %s\n", base)
	}
	if len(offers) > 1 {
		fmt.Fprintf(stdout, "WARNING:    %d DHCP servers answered; a phone takes whichever answers first\n", len(offers))
	}
	for i, o := range offers {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		o.Print(stdout)
	}
	return nil
}
