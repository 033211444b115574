package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, c := range []struct {
		key string
		mod func(*Config)
	}{
		{"token_ttl", func(c *Config) { c.TokenTTL = 59 * time.Second }},
		{"bcrypt_cost", func(c *Config) { c.BcryptCost = 3 }},
		{"bcrypt_cost", func(c *Config) { c.BcryptCost = 32 }},
		{"login_ip_burst", func(c *Config) { c.LoginIPBurst = 0 }},
		{"login_ip_interval", func(c *Config) { c.LoginIPInterval = 0 }},
		{"login_user_burst", func(c *Config) { c.LoginUserBurst = 0 }},
		{"login_user_interval", func(c *Config) { c.LoginUserInterval = -1 }},
		{"login_user_total_burst", func(c *Config) { c.LoginUserTotalBurst = c.LoginUserBurst - 1 }},
		{"login_user_total_interval", func(c *Config) { c.LoginUserTotalInterval = 0 }},
		{"socket", func(c *Config) { c.Socket = "/" + strings.Repeat("x", 100) }},
	} {
		t.Run(c.key, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mod(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), c.key+":") {
				t.Errorf("Validate = %v, want an error starting %q", err, c.key+":")
			}
		})
	}
	// The edges are allowed.
	cfg := DefaultConfig()
	cfg.TokenTTL, cfg.BcryptCost, cfg.LoginIPBurst, cfg.Socket = time.Minute, 4, 1, "/"+strings.Repeat("x", 99)
	if err := cfg.Validate(); err != nil {
		t.Errorf("edge values refused: %v", err)
	}
}

func TestNew(t *testing.T) {
	e := newEnv(t)
	bad := DefaultConfig()
	bad.TokenTTL = time.Second
	if _, err := New(bad, nil, e.st, e.prov, "v"); err == nil || !strings.Contains(err.Error(), "admin: token_ttl") {
		t.Errorf("New with a bad config: %v", err)
	}
	api, err := New(DefaultConfig(), nil, e.st, e.prov, "v")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(api.Collectors()); n != 3 {
		t.Errorf("%d collectors, want the 3 login counters", n)
	}
	// Users work through any API on the store (the demo set-up uses them).
	u, err := api.Users().Get(context.Background(), "admin")
	if err != nil || u.Role != RoleAdmin || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Errorf("Users().Get(admin) = %+v, %v", u, err)
	}
	if _, err := api.Users().Get(context.Background(), "nobody"); err != store.ErrNotFound {
		t.Errorf("Users().Get(nobody) error = %v, want store.ErrNotFound", err)
	}
}
