package pnp

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	for want, mut := range map[string]func(*Config){
		"interfaces[0]":            func(c *Config) { c.Interfaces = []string{"a very long interface name"} },
		"port":                     func(c *Config) { c.Port = 0 },
		"notify_port: must be":     func(c *Config) { c.NotifyPort = 70000 },
		"notify_port: must differ": func(c *Config) { c.NotifyPort = 5060 },
		"unknown":                  func(c *Config) { c.Unknown = "answer" },
		"rate_burst":               func(c *Config) { c.RateBurst = 0 },
		"rate_interval":            func(c *Config) { c.RateInterval = 0 },
		"t1":                       func(c *Config) { c.T1 = time.Millisecond },
		"t2":                       func(c *Config) { c.T2 = 100 * time.Millisecond },
		"max_transactions":         func(c *Config) { c.MaxTransactions = 0 },
		"bootstrap_url":            func(c *Config) { c.BootstrapURL = "/relative/{mac}" },
		"tenants[0].tenant":        func(c *Config) { c.Tenants = []TenantMap{{Interface: "eth0"}} },
		"tenants[0]: needs":        func(c *Config) { c.Tenants = []TenantMap{{Tenant: "x"}} },
		"tenants[0].mac_prefix":    func(c *Config) { c.Tenants = []TenantMap{{MACPrefix: "00:15:6g", Tenant: "x"}} },
	} {
		c := DefaultConfig()
		mut(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	c := DefaultConfig()
	c.BootstrapURL = "tftp://192.0.2.1/{MAC}.cfg"
	c.Tenants = []TenantMap{{MACPrefix: "00-15-65", Tenant: "acme"}, {Interface: "eth0.100", Tenant: "beta"}}
	if err := c.Validate(); err != nil {
		t.Errorf("good config refused: %v", err)
	}
	if p, err := normPrefix("00:15:6a"); err != nil || p != "00156A" {
		t.Errorf("normPrefix %q %v", p, err)
	}
}

func TestLeftoverNames(t *testing.T) {
	for name, want := range map[string]string{
		"sbpapp123n1": "123", "sbpph123n2": "123", "sbpa123n1": "123", "sbpp123n1": "123",
		"sbpbapp77": "77", "sbpba77": "77", "sbpbp77": "77", "sbpe2e9n1": "9", "sbpd9": "9", "sbpd9p": "9",
		"sbh-ha1": "", "eth0": "", "sbpxyz1": "",
	} {
		m := leftoverRE.FindStringSubmatch(name)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: pid %q, want %q", name, got, want)
		}
	}
}
