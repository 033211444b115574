package ha

import (
	"strings"
	"testing"
	"time"
)

func goodConfig() Config {
	c := DefaultConfig()
	c.State, c.Interface, c.LocalIP, c.RemoteIP = StateEnabled, "eth0", "10.0.0.1", "10.0.0.2"
	c.ResourceIP = []string{"10.0.0.10/24", "fd00::10/64"}
	c.PingGroup = []string{"10.0.0.254"}
	return c
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default (disabled) config: %v", err)
	}
	if err := goodConfig().Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		key string
		mod func(*Config)
	}{
		{"state", func(c *Config) { c.State = "on" }},
		{"interface", func(c *Config) { c.Interface = "" }},
		{"remote_ip", func(c *Config) { c.RemoteIP = "nope" }},
		{"remote_ip", func(c *Config) { c.RemoteIP = c.LocalIP }},
		{"resource_ip", func(c *Config) { c.ResourceIP = nil }},
		{"resource_ip[1]", func(c *Config) { c.ResourceIP[1] = "fd00::10" }},
		{"ping_group[0]", func(c *Config) { c.PingGroup[0] = "host" }},
		{"sync_local_ip", func(c *Config) { c.SyncInterface = "eth1" }},
		{"dead", func(c *Config) { c.Dead = 2 * c.Keepalive }},
		{"warning", func(c *Config) { c.Warning = c.Dead }},
		{"init", func(c *Config) { c.Init = c.Dead - time.Millisecond }},
		{"sync_port", func(c *Config) { c.SyncPort = c.Port }},
	} {
		c := goodConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("%s: got %v, want an error naming %s", tc.key, err, tc.key)
		}
	}
}
