package main

import (
	"flag"
	"fmt"
	"text/tabwriter"
	"time"
)

// haVerbs are "switchboard ha ...": the cluster as the local daemon sees it, and
// the HA actions.
func haVerbs() []verb {
	status := func(c *client, raw []byte, s map[string]any) error {
		return c.show(raw, func(w *tabwriter.Writer) {
			for _, k := range []string{"enabled", "paired", "left", "serial", "role", "service_state", "active_node",
				"epoch", "reach", "ping_group", "revision", "replication_lag"} {
				if v, ok := s[k]; ok {
					fmt.Fprintf(w, "%s:\t%v\n", k, v)
				}
			}
			if p, ok := s["peer"].(map[string]any); ok {
				fmt.Fprintf(w, "peer:\t%v (%v, alive %v, epoch %v, reach %v, revision %v)\n", p["serial"], p["role"], p["alive"], p["epoch"], p["reach"], p["revision"])
			}
			if paths, ok := s["paths"].([]any); ok {
				for _, x := range paths {
					p, _ := x.(map[string]any)
					seen := "never"
					if t, ok := p["last_seen"].(string); ok {
						if at, err := time.Parse(time.RFC3339Nano, t); err == nil {
							seen = time.Since(at).Round(time.Millisecond).String() + " ago"
						}
					}
					fmt.Fprintf(w, "path %v:\tpeer %v, rtt %v ms, last seen %s\n", p["name"], p["peer"], p["rtt_ms"], seen)
				}
			}
		})
	}
	action := func(name, help string) verb {
		return verb{name: name, help: help, flags: func(fs *flag.FlagSet) func(*client, []string) error {
			return func(c *client, _ []string) error {
				var out struct {
					Status map[string]any `json:"status"`
				}
				raw, err := c.call("POST", "/api/v1/ha/"+name, nil, &out)
				if err != nil {
					return err
				}
				if c.json {
					return c.show(raw, nil)
				}
				fmt.Fprintf(c.out, "ha %s: done\n", name)
				return nil
			}
		}}
	}
	return []verb{
		{name: "status", help: "nodes, cluster state, heartbeat RTT and last seen, active node, replication lag",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					var s map[string]any
					raw, err := c.call("GET", "/api/v1/ha", nil, &s)
					if err != nil {
						return err
					}
					return status(c, raw, s)
				}
			}},
		{name: "pair", args: "--serial SERIAL", help: "pair this coordinator with the secondary whose serial number is SERIAL",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				serial := fs.String("serial", "", "the secondary's serial number (as printed on it)")
				return func(c *client, _ []string) error {
					if *serial == "" {
						return &exitError{code: 2, msg: "ha pair: --serial is required"}
					}
					raw, err := c.call("POST", "/api/v1/ha/pair", map[string]string{"serial": *serial}, nil)
					if err != nil {
						return err
					}
					if c.json {
						return c.show(raw, nil)
					}
					fmt.Fprintln(c.out, "ha pair: paired")
					return nil
				}
			}},
		action("switch", "hand the resource to the peer (run on the active node)"),
		action("unpair", "leave the cluster (run on the passive node; the active keeps the resource)"),
		action("disable", "turn HA off on both nodes (the active keeps the resource)"),
	}
}
