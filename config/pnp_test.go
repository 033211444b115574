package config

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/pnp"
)

func TestPnPSection(t *testing.T) {
	cfg := Default()
	yml := `
pnp:
  enabled: true
  interfaces: [eth0, eth0.100]
  notify_port: 5070
  unknown: bootstrap
  bootstrap_url: "http://192.0.2.1/boot/{mac}.cfg"
  tenants:
    - {interface: eth0.100, tenant: acme}
    - {mac_prefix: "00:15:65", tenant: beta}
  rate_interval: 5s
`
	if err := Parse([]byte(yml), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	p := cfg.PnP
	if !p.Enabled || len(p.Interfaces) != 2 || p.NotifyPort != 5070 || p.Unknown != pnp.UnknownBootstrap ||
		len(p.Tenants) != 2 || p.Tenants[1].MACPrefix != "00:15:65" || p.RateInterval != 5*time.Second || p.T1 != 500*time.Millisecond {
		t.Errorf("parsed %+v", p)
	}
	for yml, want := range map[string]string{
		"pnp: {unknown: maybe}":                         "key pnp.unknown:",
		"pnp: {notify_port: 5060}":                      "key pnp.notify_port:",
		"pnp: {tenants: [{tenant: x}]}":                 "key pnp.tenants[0]:",
		"pnp: {tenants: [{mac_prefix: zz, tenant: x}]}": "key pnp.tenants[0].mac_prefix:",
		"pnp: {bootstrap_url: 'not a url'}":             "key pnp.bootstrap_url:",
		"pnp: {t1: 1ms}":                                "key pnp.t1:",
		"pnp: {enable: true}":                           "unknown key pnp.enable",
	} {
		cfg := Default()
		err := Parse([]byte(yml), &cfg)
		if err == nil {
			err = cfg.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yml, err, want)
		}
	}
}
