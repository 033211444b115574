package ha

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// KindSettings is this node's HA settings as saved through the admin API: one
// object (id settingsID), Local to the node (each node has its own; replication
// neither sends nor replaces it). The ha: section of the configuration file is
// the default until the first save.
const (
	KindSettings = "ha_settings"
	settingsID   = "node"
)

// Settings are the HA settings an installer edits (the fields of KalliopePBX's
// HA panel). The rest of the ha: section (ports, hooks, units, key file) stays in
// the configuration file: hooks run shell commands, which the API must not set.
type Settings struct {
	// State is disabled, enabled or coordinator.
	State string `json:"state"`
	// RemoteSerial is the peer's serial number (what the coordinator pairs with).
	RemoteSerial string `json:"remote_serial"`
	// Interface carries the main heartbeat path and the resource IP.
	Interface string `json:"interface"`
	// LocalIP and RemoteIP are this node's and the peer's address on Interface.
	LocalIP  string `json:"local_ip"`
	RemoteIP string `json:"remote_ip"`
	// ResourceIP are the addresses (CIDR) moved to the active node.
	ResourceIP []string `json:"resource_ip"`
	// PingGroup are the addresses both nodes ping.
	PingGroup []string `json:"ping_group"`
	// SyncInterface carries the data sync and a second heartbeat path (optional),
	// with the two addresses on it.
	SyncInterface string `json:"sync_interface"`
	SyncLocalIP   string `json:"sync_local_ip"`
	SyncRemoteIP  string `json:"sync_remote_ip"`
	// DefaultActive makes this node the one that takes the resource on indecision.
	DefaultActive bool `json:"default_active"`
	// The timers, in milliseconds: heartbeat interval, the keepalive warning
	// threshold, the dead timeout and the init timeout.
	KeepaliveMs int64 `json:"keepalive_ms"`
	WarningMs   int64 `json:"warning_ms"`
	DeadMs      int64 `json:"dead_ms"`
	InitMs      int64 `json:"init_ms"`
}

// SettingsOf is the editable part of c.
func SettingsOf(c Config) Settings {
	return Settings{State: c.State, RemoteSerial: c.RemoteSerial, Interface: c.Interface, LocalIP: c.LocalIP,
		RemoteIP: c.RemoteIP, ResourceIP: nonNil(c.ResourceIP), PingGroup: nonNil(c.PingGroup),
		SyncInterface: c.SyncInterface, SyncLocalIP: c.SyncLocalIP, SyncRemoteIP: c.SyncRemoteIP,
		DefaultActive: c.DefaultActive, KeepaliveMs: c.Keepalive.Milliseconds(), WarningMs: c.Warning.Milliseconds(),
		DeadMs: c.Dead.Milliseconds(), InitMs: c.Init.Milliseconds()}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Apply returns c with the settings' fields.
func (s Settings) Apply(c Config) Config {
	c.State, c.RemoteSerial, c.Interface, c.LocalIP, c.RemoteIP = s.State, s.RemoteSerial, s.Interface, s.LocalIP, s.RemoteIP
	c.ResourceIP, c.PingGroup = nonNil(s.ResourceIP), nonNil(s.PingGroup)
	c.SyncInterface, c.SyncLocalIP, c.SyncRemoteIP = s.SyncInterface, s.SyncLocalIP, s.SyncRemoteIP
	c.DefaultActive = s.DefaultActive
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	c.Keepalive, c.Warning, c.Dead, c.Init = ms(s.KeepaliveMs), ms(s.WarningMs), ms(s.DeadMs), ms(s.InitMs)
	return c
}

// settingsField maps a key of Config.Validate's errors to the JSON field.
func settingsField(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	switch key {
	case "keepalive", "warning", "dead", "init":
		return key + "_ms"
	}
	return key
}

// Check validates s on top of base (this node's configuration file) for this
// host: the rules of the ha: section, and interfaces and local addresses that
// exist here. The error is a *store.ValidationError naming the JSON field.
func (s Settings) Check(base Config) error {
	bad := func(field, format string, args ...any) error {
		return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch s.State {
	case StateDisabled, StateEnabled, StateCoordinator:
	default:
		return bad("state", "state must be disabled, enabled or coordinator")
	}
	if len(s.RemoteSerial) > maxName || strings.ContainsFunc(s.RemoteSerial, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return bad("remote_serial", "the remote serial number must be at most %d printable characters", maxName)
	}
	if s.State == StateDisabled {
		return nil
	}
	if s.State == StateCoordinator && strings.TrimSpace(s.RemoteSerial) == "" {
		return bad("remote_serial", "the coordinator needs the secondary's serial number to pair with it")
	}
	c := s.Apply(base)
	if err := c.Validate(); err != nil {
		key, msg, ok := strings.Cut(err.Error(), ": ")
		if !ok {
			return bad("", "%s", err.Error())
		}
		return bad(settingsField(key), "%s: %s", settingsField(key), msg)
	}
	if err := hasInterface(s.Interface, s.LocalIP); err != nil {
		return bad(err.field, "%s", err.msg)
	}
	if s.SyncInterface != "" {
		if err := hasInterface(s.SyncInterface, s.SyncLocalIP); err != nil {
			return bad("sync_"+err.field, "%s", err.msg)
		}
	}
	return nil
}

type fieldError struct{ field, msg string }

// hasInterface checks that interface name exists on this host and has ip.
func hasInterface(name, ip string) *fieldError {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return &fieldError{"interface", fmt.Sprintf("this node has no interface %q", name)}
	}
	want, err := netip.ParseAddr(ip)
	if err != nil {
		return &fieldError{"local_ip", fmt.Sprintf("%q is not an IP address", ip)}
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return &fieldError{"interface", fmt.Sprintf("addresses of %s: %v", name, err)}
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == want.Unmap() {
			return nil
		}
	}
	return &fieldError{"local_ip", fmt.Sprintf("%s is not an address of %s on this node", ip, name)}
}

// Interface is one network interface of this host, for the settings form.
type Interface struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// Interfaces lists this host's interfaces with their addresses (loopback left out).
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("ha: interfaces: %w", err)
	}
	out := []Interface{}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		it := Interface{Name: ifi.Name, Addrs: []string{}}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLinkLocalUnicast() {
				it.Addrs = append(it.Addrs, p.Addr().String())
			}
		}
		out = append(out, it)
	}
	return out, nil
}

var errRestoreSettings = errors.New("HA settings are this node's own: edit them on the node, they are not restored from the audit log")
