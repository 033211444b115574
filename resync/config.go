package resync

import (
	"errors"
	"fmt"
	"time"
)

// Ways a NOTIFY reaches a phone.
const (
	ViaAuto   = "auto"   // the PBX, except for brands that challenge it (Cisco): directly
	ViaAMI    = "ami"    // the PBX sends it (AMI PJSIPNotify to the account's endpoint)
	ViaDirect = "direct" // Switchboard sends it to the contact the PBX reports
)

// Config is the "resync" section. The PBX is reached with the CTI's cti.ami
// settings, whether or not the CTI itself is enabled.
type Config struct {
	// Via is how NOTIFYs go when a request does not say: auto, ami or direct.
	Via string `yaml:"via"`
	// Timeout bounds waiting for a phone's answer to a direct NOTIFY (and its
	// retransmissions), per device.
	Timeout time.Duration `yaml:"timeout"`
	// Parallel is how many devices of one request are handled at once.
	Parallel int `yaml:"parallel"`
}

// DefaultConfig: auto, 4 s per phone, 16 at once.
func DefaultConfig() Config {
	return Config{Via: ViaAuto, Timeout: 4 * time.Second, Parallel: 16}
}

// Validate names the first bad key, relative to the section.
func (c Config) Validate() error {
	switch {
	case !validVia(c.Via):
		return fmt.Errorf("via: %q is not auto, ami or direct", c.Via)
	case c.Timeout < 100*time.Millisecond || c.Timeout > time.Minute:
		return errors.New("timeout: must be between 100ms and 1m")
	case c.Parallel < 1 || c.Parallel > 256:
		return errors.New("parallel: must be between 1 and 256")
	}
	return nil
}

func validVia(v string) bool { return v == ViaAuto || v == ViaAMI || v == ViaDirect }
