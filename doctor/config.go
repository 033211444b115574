package doctor

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Public is the "public" section: how the box is reached from outside the LAN
// (mobile apps, remote phones). Both keys are optional; the checks that need
// them say so when they are not set.
type Public struct {
	// FQDN is the public DNS name ("pbx.example.com") the TLS certificate must
	// cover and the URLs handed to phones and apps should use.
	FQDN string `yaml:"fqdn"`
	// Address is the public IPv4 or IPv6 address (the router's, with NAT).
	Address string `yaml:"address"`
	// HTTPSPort is the public TCP port of HTTPS on Address (the router forwards
	// it to http.https_listen).
	HTTPSPort int `yaml:"https_port"`
}

// DefaultPublic has nothing set and HTTPS on 443.
func DefaultPublic() Public { return Public{HTTPSPort: 443} }

// Validate names the first bad key (relative to the section).
func (p Public) Validate() error {
	if p.FQDN != "" {
		if err := checkFQDN(p.FQDN); err != nil {
			return fmt.Errorf("fqdn: %w", err)
		}
	}
	if p.Address != "" {
		if _, err := netip.ParseAddr(p.Address); err != nil {
			return fmt.Errorf("address: %q is not an IP address", p.Address)
		}
	}
	if p.HTTPSPort < 1 || p.HTTPSPort > 65535 {
		return fmt.Errorf("https_port: %d is not a TCP port", p.HTTPSPort)
	}
	return nil
}

func checkFQDN(s string) error {
	if net.ParseIP(s) != nil {
		return fmt.Errorf("%q is an address, not a name", s)
	}
	if len(s) > 253 || !strings.Contains(s, ".") {
		return fmt.Errorf("%q is not a fully qualified name (pbx.example.com)", s)
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("%q is not a valid DNS name", s)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a valid DNS name", s)
			}
		}
	}
	return nil
}

// Config is the "doctor" section.
type Config struct {
	// EchoURL is an HTTP(S) URL that answers the caller's address as text
	// ("switchboard vantage" serves one at /v1/ip); empty (the default) skips
	// the public-address check, so nothing leaves the box unless asked.
	EchoURL string `yaml:"echo_url"`
	// Vantage is the base URL of a "switchboard vantage" outside the NAT
	// ("http://203.0.113.50:7070"); empty skips the reachability checks.
	Vantage string `yaml:"vantage"`
	// VantageTCP are the public TCP ports the vantage must reach (HTTPS, SIP
	// TLS, the mobile app's port).
	VantageTCP []int `yaml:"vantage_tcp"`
	// VantageUDP is a UDP port in the RTP range the vantage sends a datagram to;
	// the check listens on it here. 0 skips it.
	VantageUDP int `yaml:"vantage_udp"`
	// Resolver is a DNS server (host:port) to ask instead of the system's.
	Resolver string `yaml:"resolver"`
	// CAFile holds extra root certificates (PEM) to trust besides the system's:
	// a company CA.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds each check.
	Timeout time.Duration `yaml:"timeout"`
	// CertWarn is how long before expiry the certificate check warns.
	CertWarn time.Duration `yaml:"cert_warn"`
	// MaxClockSkew is the largest difference between this box's clock and the
	// PBX's that passes.
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`
	// MaxReplicationLag is the HA replication lag (revisions) that passes.
	MaxReplicationLag int64 `yaml:"max_replication_lag"`
	// DiskWarnPercent and DiskFailPercent are the free space of the data
	// directory's file system (percent) under which the disk check warns or fails.
	DiskWarnPercent float64 `yaml:"disk_warn_percent"`
	DiskFailPercent float64 `yaml:"disk_fail_percent"`
}

// DefaultConfig asks nothing outside the box.
func DefaultConfig() Config {
	return Config{VantageTCP: []int{443, 5061, 6061}, VantageUDP: 10000, Timeout: 10 * time.Second,
		CertWarn: 30 * 24 * time.Hour, MaxClockSkew: 2 * time.Second, MaxReplicationLag: 10,
		DiskWarnPercent: 10, DiskFailPercent: 2}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	for _, u := range []struct{ key, v string }{{"echo_url", c.EchoURL}, {"vantage", c.Vantage}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s: %q is not an http(s) URL", u.key, u.v)
		}
	}
	for _, p := range c.VantageTCP {
		if p < 1 || p > 65535 {
			return fmt.Errorf("vantage_tcp: %d is not a TCP port", p)
		}
	}
	if c.VantageUDP < 0 || c.VantageUDP > 65535 {
		return fmt.Errorf("vantage_udp: %d is not a UDP port", c.VantageUDP)
	}
	if c.Resolver != "" {
		if _, _, err := net.SplitHostPort(c.Resolver); err != nil {
			return fmt.Errorf("resolver: %q is not host:port", c.Resolver)
		}
	}
	switch {
	case c.Timeout < 100*time.Millisecond || c.Timeout > 5*time.Minute:
		return errors.New("timeout: must be between 100ms and 5m")
	case c.CertWarn < 0:
		return errors.New("cert_warn: must not be negative")
	case c.MaxClockSkew <= 0:
		return errors.New("max_clock_skew: must be positive")
	case c.MaxReplicationLag < 0:
		return errors.New("max_replication_lag: must not be negative")
	case c.DiskFailPercent < 0 || c.DiskWarnPercent < c.DiskFailPercent || c.DiskWarnPercent > 100:
		return errors.New("disk_warn_percent/disk_fail_percent: need 0 <= disk_fail_percent <= disk_warn_percent <= 100")
	}
	return nil
}
