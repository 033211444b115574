package cti_test

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/config"
)

// The cti section through the real config loader: defaults are off and valid, and
// each bad value stops start-up with one line naming its key.
func TestConfigSection(t *testing.T) {
	cfg := config.Default()
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	if cfg.CTI.Enabled || cfg.CTI.UnautheCall.Enabled || cfg.CTI.AuthDisabled || cfg.CTI.TokenExpiry.String() != "30m0s" {
		t.Fatalf("defaults: %+v", cfg.CTI)
	}
	good := "cti:\n  enabled: true\n  ami:\n    username: sb\n    secret: s\n"
	for _, c := range []struct{ yaml, key string }{
		{"cti:\n  enabled: true\n", "cti.ami.username"},
		{good + "  token_expiry: 10s\n", "cti.token_expiry"},
		{good + "  unauthe_call:\n    enabled: true\n", "cti.unauthe_call.allow"},
		{good + "  unauthe_call:\n    enabled: true\n    allow: [\"10.0.0.0/33\"]\n", "cti.unauthe_call.allow[0]"},
		{good + "  context: \"bad ctx\"\n", "cti.context"},
		{good + "  ami:\n    address: nohost\n", "line"}, // key repeated: the loader's own error
		{"cti:\n  enabled: true\n  ami:\n    address: nohost\n    username: a\n    secret: b\n", "cti.ami.address"},
		{"cti:\n  socket_burst: 1.5\n", "cti.socket_burst"},
		{"cti:\n  bogus: 1\n", "cti.bogus"},
	} {
		cfg := config.Default()
		err := config.Parse([]byte(c.yaml), &cfg)
		if err == nil {
			err = cfg.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), c.key) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err = %v, want one line naming %s", c.yaml, err, c.key)
		}
	}
	cfg = config.Default()
	if err := config.Parse([]byte(good+"  unauthe_call:\n    enabled: true\n    allow: [\"192.0.2.0/24\", \"2001:db8::/32\"]\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finish(); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
}
