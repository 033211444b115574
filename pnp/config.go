package pnp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
)

// Unknown-MAC policies.
const (
	UnknownIgnore    = "ignore"
	UnknownBootstrap = "bootstrap"
)

// Config is the "pnp" section of the configuration file.
type Config struct {
	// Enabled starts the responder. Off by default: answering multicast SUBSCRIBEs
	// on a LAN is a decision for the installer.
	Enabled bool `yaml:"enabled"`
	// Interfaces are the interface names (VLAN interfaces such as eth0.100 too) on
	// which the group 224.0.1.75 is joined. Empty: every interface that is up,
	// multicast-capable and not loopback when the responder starts.
	Interfaces []string `yaml:"interfaces"`
	// Port is the UDP port of the multicast group (5060 by RFC; tests change it).
	Port int `yaml:"port"`
	// NotifyPort is the unicast UDP port the 200 OKs and NOTIFYs are sent from and
	// their answers come back to. 0: a free port chosen at start. Never 5060 on a
	// PBX host.
	NotifyPort int `yaml:"notify_port"`
	// Unknown is what a SUBSCRIBE from a MAC no tenant configures gets: "ignore"
	// (no answer at all) or "bootstrap" (the bootstrap URL, and the MAC lands on the
	// tenant's "seen, not configured" list).
	Unknown string `yaml:"unknown"`
	// BootstrapURL is the URL unknown phones get under the bootstrap policy. Empty:
	// the tenant's provisioning directory (provisioning.base_url + tenant path).
	// {mac} (aabbccddeeff), {MAC} (AABBCCDDEEFF), {model} and {tenant} (UUID) are
	// replaced; vendor macros such as Fanvil's $mac pass through untouched.
	BootstrapURL string `yaml:"bootstrap_url"`
	// Tenants maps the interface a SUBSCRIBE arrived on, or the phone's MAC prefix,
	// to a tenant (multi-tenant mode needs it; KalliopePBX just turns PnP off
	// there). The first matching entry wins.
	Tenants []TenantMap `yaml:"tenants"`
	// RateBurst SUBSCRIBEs from one source address are answered before it is
	// throttled; then one more per RateInterval.
	RateBurst    int           `yaml:"rate_burst"`
	RateInterval time.Duration `yaml:"rate_interval"`
	// T1 is the RFC 3261 round-trip estimate (500ms): NOTIFY retransmissions start
	// at T1 and double up to T2; the transaction gives up at 64*T1.
	T1 time.Duration `yaml:"t1"`
	// T2 caps the NOTIFY retransmission interval (4s).
	T2 time.Duration `yaml:"t2"`
	// MaxTransactions caps the SUBSCRIBEs remembered at once (each for 64*T1, for
	// retransmission detection, plus its NOTIFY; about 600 bytes each); beyond it
	// new ones are dropped. The default holds a storm of 2,000 SUBSCRIBE/s for
	// 64*T1 = 32 s with room to spare.
	MaxTransactions int `yaml:"max_transactions"`
}

// TenantMap sends phones seen on Interface, or whose MAC starts with MACPrefix,
// to Tenant. An entry with both must match both.
type TenantMap struct {
	// Interface is an interface name (eth0, eth0.100 for a VLAN).
	Interface string `yaml:"interface"`
	// MACPrefix is 1 to 12 hex digits (separators allowed): 001565, 00:15:65:1.
	MACPrefix string `yaml:"mac_prefix"`
	// Tenant is the tenant's name or UUID.
	Tenant string `yaml:"tenant"`
}

// DefaultConfig is off, on the standard group port, ignoring unknown phones.
func DefaultConfig() Config {
	return Config{
		Port:            5060,
		Unknown:         UnknownIgnore,
		RateBurst:       10,
		RateInterval:    2 * time.Second,
		T1:              500 * time.Millisecond,
		T2:              4 * time.Second,
		MaxTransactions: 100000,
	}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	for i, name := range c.Interfaces {
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t") {
			return fmt.Errorf("interfaces[%d]: %q is not an interface name", i, name)
		}
	}
	switch {
	case c.Port < 1 || c.Port > 65535:
		return errors.New("port: must be between 1 and 65535")
	case c.NotifyPort < 0 || c.NotifyPort > 65535:
		return errors.New("notify_port: must be between 0 and 65535")
	case c.NotifyPort != 0 && c.NotifyPort == c.Port:
		return errors.New("notify_port: must differ from port (the unicast SIP port stays the PBX's)")
	case c.Unknown != UnknownIgnore && c.Unknown != UnknownBootstrap:
		return fmt.Errorf("unknown: %q is not one of ignore, bootstrap", c.Unknown)
	case c.RateBurst < 1:
		return errors.New("rate_burst: must be at least 1")
	case c.RateInterval <= 0:
		return errors.New("rate_interval: must be positive")
	case c.T1 < 10*time.Millisecond || c.T1 > 10*time.Second:
		return errors.New("t1: must be between 10ms and 10s")
	case c.T2 < c.T1 || c.T2 > time.Minute:
		return errors.New("t2: must be between t1 and 1m")
	case c.MaxTransactions < 1:
		return errors.New("max_transactions: must be at least 1")
	}
	if c.BootstrapURL != "" {
		u, err := url.Parse(strings.NewReplacer("{mac}", "x", "{MAC}", "x", "{model}", "x", "{tenant}", "x").Replace(c.BootstrapURL))
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "tftp" && u.Scheme != "ftp") {
			return fmt.Errorf("bootstrap_url: %q must be an absolute http(s), tftp or ftp URL", c.BootstrapURL)
		}
	}
	for i, m := range c.Tenants {
		if m.Tenant == "" {
			return fmt.Errorf("tenants[%d].tenant: must not be empty", i)
		}
		if m.Interface == "" && m.MACPrefix == "" {
			return fmt.Errorf("tenants[%d]: needs interface or mac_prefix", i)
		}
		if m.MACPrefix != "" {
			if _, err := normPrefix(m.MACPrefix); err != nil {
				return fmt.Errorf("tenants[%d].mac_prefix: %w", i, err)
			}
		}
	}
	return nil
}

// normPrefix turns "00:15:65" into "001565".
func normPrefix(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == ':' || c == '-' || c == '.':
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
			b.WriteByte(c)
		case c >= 'a' && c <= 'f':
			b.WriteByte(c - 'a' + 'A')
		default:
			return "", fmt.Errorf("%q is not hex digits", p)
		}
	}
	if b.Len() == 0 || b.Len() > 12 {
		return "", fmt.Errorf("%q must have 1 to 12 hex digits", p)
	}
	return b.String(), nil
}

// macLower is the MAC in aabbccddeeff form.
func macLower(m provision.MAC) string { return m.Format(provision.MACLower) }
