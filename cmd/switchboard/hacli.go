package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// haVerbs are "switchboard ha ...": the cluster as the local daemon sees it, and
// the HA actions.
func haVerbs() []verb {
	status := func(c *client, raw []byte, s map[string]any) error {
		return c.show(raw, func(w *tabwriter.Writer) {
			for _, k := range []string{"state", "enabled", "paired", "pairing", "left", "serial", "sync_ip", "role", "service_state", "active_node",
				"epoch", "reach", "ping_group", "resource", "revision", "replication_lag", "actions", "error"} {
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
					if s["enabled"] == false && !c.json {
						return &exitError{code: 1, msg: "HA is off on this node (ha.state: disabled): there is no cluster to show; " +
							"turn it on with 'switchboard ha set state=enabled ...' (see 'switchboard ha config') or the console's High availability page"}
					}
					return status(c, raw, s)
				}
			}},
		{name: "pair", args: "[--serial SERIAL]", help: "pair this coordinator with the secondary whose serial number is SERIAL (default: the remote_serial setting)",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				serial := fs.String("serial", "", "the secondary's serial number (as printed on it)")
				return func(c *client, _ []string) error {
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
		action("takeover", "ask the active node to hand the resource to this one (run on the passive node)"),
		action("unpair", "leave the cluster (run on the passive node; the active keeps the resource)"),
		action("unpair-passive", "detach the passive node (run on the active node, which keeps the resource)"),
		action("disable", "turn HA off on both nodes (the active keeps the resource)"),
		{name: "config", help: "this node's HA settings (saved, or the configuration file's) and its interfaces",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, _ []string) error {
					var v struct {
						Settings map[string]any `json:"settings"`
						Saved    bool           `json:"saved"`
						Serial   string         `json:"serial"`
					}
					raw, err := c.call("GET", "/api/v1/ha/config", nil, &v)
					if err != nil {
						return err
					}
					return c.show(raw, func(w *tabwriter.Writer) {
						src := "configuration file"
						if v.Saved {
							src = "saved"
						}
						fmt.Fprintf(w, "serial:\t%s\nsource:\t%s\n", v.Serial, src)
						printKV(w, v.Settings)
					})
				}
			}},
		{name: "set", args: "KEY=VALUE...", nargs: -1,
			help: "change this node's HA settings and start HA with them (\"save and start\"); lists are comma-separated, e.g. state=enabled resource_ip=10.0.0.10/24 ping_group=10.0.0.1,10.0.0.2 dead_ms=1000",
			flags: func(fs *flag.FlagSet) func(*client, []string) error {
				return func(c *client, pos []string) error {
					if len(pos) == 0 {
						return &exitError{code: 2, msg: "ha set: give KEY=VALUE pairs"}
					}
					c.keys = true
					var cur struct {
						Settings map[string]any `json:"settings"`
					}
					if _, err := c.call("GET", "/api/v1/ha/config", nil, &cur); err != nil {
						return err
					}
					err := assignments(cur.Settings, pos, func(kv string) string { return fmt.Sprintf("ha set: %q is not KEY=VALUE", kv) },
						func(k, v string) (any, error) {
							if _, known := cur.Settings[k]; !known {
								return nil, &exitError{code: 2, msg: fmt.Sprintf("ha set: unknown setting %q", k)}
							}
							switch {
							case k == "resource_ip" || k == "ping_group":
								list := []string{}
								for _, x := range strings.Split(v, ",") {
									if x = strings.TrimSpace(x); x != "" {
										list = append(list, x)
									}
								}
								return list, nil
							case k == "default_active":
								b, err := strconv.ParseBool(v)
								if err != nil {
									return nil, &exitError{code: 2, msg: fmt.Sprintf("ha set: default_active=%q is not true or false", v)}
								}
								return b, nil
							case strings.HasSuffix(k, "_ms"):
								n, err := strconv.ParseInt(v, 10, 64)
								if err != nil {
									return nil, &exitError{code: 2, msg: fmt.Sprintf("ha set: %s=%q is not a number of milliseconds", k, v)}
								}
								return n, nil
							}
							return v, nil
						})
					if err != nil {
						return err
					}
					var out struct {
						Status map[string]any `json:"status"`
					}
					raw, err := c.call("PUT", "/api/v1/ha/config", cur.Settings, &out)
					if err != nil {
						return err
					}
					if c.json {
						return c.show(raw, nil)
					}
					fmt.Fprintf(c.out, "ha settings saved; HA %v (%v)\n", out.Status["service_state"], out.Status["role"])
					return nil
				}
			}},
	}
}
