package cti

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// Config is the "cti" section of the configuration file.
type Config struct {
	// Enabled starts the CTI server (AMI client, /webrest, /socket.io). Off by
	// default: serve then behaves as if the package did not exist.
	Enabled bool `yaml:"enabled"`
	// AMI is how to reach Asterisk.
	AMI ami.Config `yaml:"ami"`
	// TokenExpiry is the sliding lifetime of a login token: every accepted request
	// extends it by this much.
	TokenExpiry time.Duration `yaml:"token_expiry"`
	// AuthDisabled lets clients log in with a username only (no password). Only
	// for closed lab set-ups; off by default.
	AuthDisabled bool `yaml:"auth_disabled"`
	// UnautheCall is the unauthenticated click-to-call URL used by legacy CRMs.
	UnautheCall UnautheCallConfig `yaml:"unauthe_call"`
	// SocketBurst socket.io connections from one source address are accepted at
	// once; after that one more per SocketInterval (a reconnect flood is refused
	// with 429).
	SocketBurst    int           `yaml:"socket_burst"`
	SocketInterval time.Duration `yaml:"socket_interval"`
	// MaxSockets caps concurrent socket.io connections in total.
	MaxSockets int `yaml:"max_sockets"`
	// Context is the dialplan context of calls the CTI originates.
	Context string `yaml:"context"`
	// OriginateTimeout is how long the caller's own device rings on click-to-call.
	OriginateTimeout time.Duration `yaml:"originate_timeout"`
	// OriginateWait is how long a click-to-call request waits for Asterisk to
	// report an immediate failure (unknown or unregistered device), which it
	// then answers as an error; a later failure reaches the user's clients
	// as an event.
	OriginateWait time.Duration `yaml:"originate_wait"`
	// FeatureCodes are the PBX's feature codes, served to the clients
	// (GET /webrest/astproxy/feature_codes); "conference" is also the prefix
	// of each user's ConfBridge room (prefix + extension). The defaults are
	// FreePBX's; set them to the PBX's.
	FeatureCodes map[string]string `yaml:"feature_codes"`
	// Tenant is the provisioning tenant whose SIP accounts hold the
	// credentials of the users' web phones and NethLink ("" reads every
	// tenant; an extension found in two is then left without credentials).
	Tenant string `yaml:"tenant"`
	// Trunks names the PJSIP endpoints that are provider trunks (not extensions).
	Trunks []string `yaml:"trunks"`
	// FQDN is the host name the mobile app connects to (in its QR code); empty
	// uses the Host of the request.
	FQDN string `yaml:"fqdn"`
	// Brand is the last part of the "csc:" QR code form.
	Brand string `yaml:"brand"`
	// BcryptCost is the cost of CTI user password hashes (4-31).
	BcryptCost int `yaml:"bcrypt_cost"`
	// LoginBurst failed logins per source address are allowed, then one per
	// LoginInterval.
	LoginBurst    int           `yaml:"login_burst"`
	LoginInterval time.Duration `yaml:"login_interval"`
	// History says where the call history (/webrest/historycall,
	// histcallswitch, histcallsgroups) is read from.
	History HistoryConfig `yaml:"history"`
}

// HistoryConfig chooses the source of the call history clients see.
type HistoryConfig struct {
	// Source is "local" (the CDRs the CTI keeps from AMI Cdr events, from the
	// moment it runs: data_dir/cti-history.db), "pbx" (the PBX's own CDR
	// database, tasks.cdr.dsn: every call, also those made while the
	// appliance was down) or "auto" (pbx when tasks.cdr.dsn is set, else
	// local). The CTI keeps recording CDRs locally either way.
	Source string `yaml:"source"`
}

// History sources.
const (
	HistoryAuto  = "auto"
	HistoryLocal = "local"
	HistoryPBX   = "pbx"
)

// UnautheCallConfig guards GET/POST /webrest/astproxy/unauthe_call.
type UnautheCallConfig struct {
	// Enabled opens the endpoint; off by default.
	Enabled bool `yaml:"enabled"`
	// Allow lists the networks (CIDR, e.g. 192.0.2.0/24) that may use it; a
	// request from anywhere else gets 403 even when enabled.
	Allow []string `yaml:"allow"`
}

// DefaultConfig returns the defaults: disabled, local Asterisk, 30 minute tokens.
func DefaultConfig() Config {
	return Config{
		AMI:              ami.DefaultConfig(),
		TokenExpiry:      30 * time.Minute,
		UnautheCall:      UnautheCallConfig{Allow: []string{}},
		Trunks:           []string{},
		SocketBurst:      20,
		SocketInterval:   time.Second,
		MaxSockets:       5000,
		Context:          "from-internal",
		OriginateTimeout: 15 * time.Second,
		OriginateWait:    500 * time.Millisecond,
		FeatureCodes:     defaultFeatureCodes(),
		Brand:            "NETHESIS",
		BcryptCost:       10,
		LoginBurst:       10,
		LoginInterval:    30 * time.Second,
		History:          HistoryConfig{Source: HistoryAuto},
	}
}

var (
	contextRe     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,79}$`)
	featureNameRe = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	featureCodeRe = regexp.MustCompile(`^[0-9*#]{1,16}$`)
)

// defaultFeatureCodes are FreePBX's defaults (the names nethcti uses).
func defaultFeatureCodes() map[string]string {
	return map[string]string{
		"dnd_on": "*78", "dnd_off": "*79", "dnd_toggle": "*76",
		"cf_on": "*72", "cf_off": "*73", "cfb_on": "*90", "cfb_off": "*91", "cfu_on": "*52", "cfu_off": "*53",
		"pickup": "*8", "direct_pickup": "**", "audio_test": "*43", "echo_test": "*43",
		"vm_mine": "*97", "vm_other": "*98", "conference": "8", "que_toggle": "*45",
	}
}

// Validate names the first bad key, relative to the section. A disabled section
// is not checked beyond its shape, so defaults never stop start-up.
func (c Config) Validate() error {
	switch c.History.Source {
	case HistoryAuto, HistoryLocal, HistoryPBX:
	default:
		return fmt.Errorf("history.source: %q must be auto, local or pbx", c.History.Source)
	}
	if !c.Enabled {
		return nil
	}
	if err := c.AMI.Validate(); err != nil {
		return err
	}
	switch {
	case c.TokenExpiry < time.Minute:
		return errors.New("token_expiry: must be at least 1m")
	case c.SocketBurst < 1:
		return errors.New("socket_burst: must be at least 1")
	case c.SocketInterval <= 0:
		return errors.New("socket_interval: must be positive")
	case c.MaxSockets < 1:
		return errors.New("max_sockets: must be at least 1")
	case !contextRe.MatchString(c.Context):
		return fmt.Errorf("context: %q is not a dialplan context name", c.Context)
	case c.OriginateTimeout < time.Second:
		return errors.New("originate_timeout: must be at least 1s")
	case c.OriginateWait < 0 || c.OriginateWait > 10*time.Second:
		return errors.New("originate_wait: must be between 0s and 10s")
	case c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost:
		return errors.New("bcrypt_cost: must be between 4 and 31")
	case c.LoginBurst < 1:
		return errors.New("login_burst: must be at least 1")
	case c.LoginInterval <= 0:
		return errors.New("login_interval: must be positive")
	}
	for k, v := range c.FeatureCodes {
		if !featureNameRe.MatchString(k) || !featureCodeRe.MatchString(v) {
			return fmt.Errorf("feature_codes.%s: %q is not a feature code (digits, * and #)", k, v)
		}
	}
	for i, a := range c.UnautheCall.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			return fmt.Errorf("unauthe_call.allow[%d]: %q is not a CIDR network (like 192.0.2.0/24)", i, a)
		}
	}
	if c.UnautheCall.Enabled && len(c.UnautheCall.Allow) == 0 {
		return errors.New("unauthe_call.allow: list the networks allowed to use unauthe_call when it is enabled")
	}
	return nil
}

func (c Config) allowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range c.UnautheCall.Allow {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}
