package ha

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// States of the HA setting.
const (
	StateDisabled    = "disabled"
	StateEnabled     = "enabled"
	StateCoordinator = "coordinator" // enabled, and this node pushes its configuration
)

// Config is the ha: section. Everything is off by default.
type Config struct {
	// State is disabled, enabled or coordinator (enabled, and pushes configuration).
	State string `yaml:"state"`
	// Serial identifies this node in heartbeats and errors (default: the host name).
	Serial string `yaml:"serial"`
	// RemoteSerial is the peer's serial number.
	RemoteSerial string `yaml:"remote_serial"`
	// Interface carries the main heartbeat path and the resource IP.
	Interface string `yaml:"interface"`
	// LocalIP and RemoteIP are this node's and the peer's address on Interface.
	LocalIP  string `yaml:"local_ip"`
	RemoteIP string `yaml:"remote_ip"`
	// SyncInterface is the second heartbeat path and carries data sync (optional).
	SyncInterface string `yaml:"sync_interface"`
	// SyncLocalIP and SyncRemoteIP are the two addresses on SyncInterface.
	SyncLocalIP  string `yaml:"sync_local_ip"`
	SyncRemoteIP string `yaml:"sync_remote_ip"`
	// ResourceIP lists the addresses (CIDR, IPv4 and/or IPv6) moved to the active node.
	ResourceIP []string `yaml:"resource_ip"`
	// PingGroup lists the addresses both nodes ping; the node that reaches more wins.
	PingGroup []string `yaml:"ping_group"`
	// DefaultActive makes this node the one that takes the resource on indecision.
	DefaultActive bool `yaml:"default_active"`
	// Port is the UDP port of the heartbeat on both paths (default 694, heartbeat's).
	Port int `yaml:"port"`
	// SyncPort is the TCP port of the data sync on the sync path (default 7694).
	SyncPort int `yaml:"sync_port"`
	// PairPort is the TCP port of the pairing SSH listener of an unpaired secondary
	// (default 7022).
	PairPort int `yaml:"pair_port"`
	// Keepalive is the heartbeat interval (default 200ms).
	Keepalive time.Duration `yaml:"keepalive"`
	// Warning logs a warning when a heartbeat is late by this much (default 500ms).
	Warning time.Duration `yaml:"warning"`
	// Dead declares the peer dead when every path has been silent this long (default 1s).
	Dead time.Duration `yaml:"dead"`
	// Init is the wait at boot before anything is acquired (default 2s).
	Init time.Duration `yaml:"init"`
	// ClusterKeyFile holds the shared cluster key (hex, >= 32 bytes decoded); default
	// data_dir/ha/cluster.key. Pairing writes it; without it the node waits to be paired.
	ClusterKeyFile string `yaml:"cluster_key_file"`
	// OnActive and OnPassive are shell commands run (sh -c) after a role change, with
	// SWITCHBOARD_HA_ROLE set; their exit status and output are logged.
	OnActive  []string `yaml:"on_active"`
	OnPassive []string `yaml:"on_passive"`
	// Units are systemd units started on the active node and stopped on the passive.
	Units []string `yaml:"units"`
	// HookTimeout bounds each hook command (default 30s).
	HookTimeout time.Duration `yaml:"hook_timeout"`
}

// DefaultConfig is HA disabled with heartbeat-like timers scaled to an appliance LAN.
func DefaultConfig() Config {
	return Config{
		State:       StateDisabled,
		Port:        694,
		SyncPort:    7694,
		PairPort:    7022,
		Keepalive:   200 * time.Millisecond,
		Warning:     500 * time.Millisecond,
		Dead:        time.Second,
		Init:        2 * time.Second,
		HookTimeout: 30 * time.Second,
		ResourceIP:  []string{},
		PingGroup:   []string{},
		OnActive:    []string{},
		OnPassive:   []string{},
		Units:       []string{},
	}
}

// Enabled reports whether HA runs at all.
func (c Config) Enabled() bool { return c.State == StateEnabled || c.State == StateCoordinator }

// ValidateTimers checks the timer rules of heartbeat's ha.cf; each error names the rule.
func ValidateTimers(keepalive, warning, dead, init time.Duration) error {
	switch {
	case keepalive <= 0:
		return errors.New("keepalive: must be positive")
	case dead <= 2*keepalive:
		return fmt.Errorf("dead: %v must be more than 2 x keepalive (%v)", dead, 2*keepalive)
	case warning <= 0 || warning >= dead:
		return fmt.Errorf("warning: %v must be positive and less than dead (%v)", warning, dead)
	case init < dead:
		return fmt.Errorf("init: %v must be at least dead (%v)", init, dead)
	}
	return nil
}

// Validate checks the section. Errors start with the key, as config.Finish expects.
func (c Config) Validate() error {
	switch c.State {
	case StateDisabled:
		return nil
	case StateEnabled, StateCoordinator:
	default:
		return fmt.Errorf("state: %q is not one of disabled, enabled, coordinator", c.State)
	}
	if err := ValidateTimers(c.Keepalive, c.Warning, c.Dead, c.Init); err != nil {
		return err
	}
	if c.Interface == "" {
		return errors.New("interface: required when ha is enabled")
	}
	for _, f := range []struct{ key, v string }{{"local_ip", c.LocalIP}, {"remote_ip", c.RemoteIP}} {
		if _, err := netip.ParseAddr(f.v); err != nil {
			return fmt.Errorf("%s: %q is not an IP address", f.key, f.v)
		}
	}
	if c.LocalIP == c.RemoteIP {
		return errors.New("remote_ip: must differ from local_ip")
	}
	if c.SyncInterface != "" {
		for _, f := range []struct{ key, v string }{{"sync_local_ip", c.SyncLocalIP}, {"sync_remote_ip", c.SyncRemoteIP}} {
			if _, err := netip.ParseAddr(f.v); err != nil {
				return fmt.Errorf("%s: %q is not an IP address (sync_interface is set)", f.key, f.v)
			}
		}
	}
	if len(c.ResourceIP) == 0 {
		return errors.New("resource_ip: at least one address (CIDR) is required")
	}
	for i, r := range c.ResourceIP {
		if _, err := netip.ParsePrefix(r); err != nil {
			return fmt.Errorf("resource_ip[%d]: %q is not an address in CIDR form (192.0.2.10/24)", i, r)
		}
	}
	if len(c.PingGroup) > 32 {
		return errors.New("ping_group: at most 32 targets")
	}
	for i, p := range c.PingGroup {
		if net.ParseIP(p) == nil {
			return fmt.Errorf("ping_group[%d]: %q is not an IP address", i, p)
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("port: %d is not a port", c.Port)
	}
	if c.SyncPort < 1 || c.SyncPort > 65535 || c.SyncPort == c.Port {
		return fmt.Errorf("sync_port: %d is not a port distinct from port", c.SyncPort)
	}
	if c.PairPort < 1 || c.PairPort > 65535 || c.PairPort == c.SyncPort {
		return fmt.Errorf("pair_port: %d is not a port distinct from sync_port", c.PairPort)
	}
	if c.HookTimeout <= 0 {
		return errors.New("hook_timeout: must be positive")
	}
	if len(c.Serial) > maxName {
		return fmt.Errorf("serial: longer than %d bytes", maxName)
	}
	return nil
}
