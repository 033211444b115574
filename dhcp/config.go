package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
)

// Config is the "dhcp" section of the configuration file.
type Config struct {
	// Enabled starts the DHCPv4 server. Off by default: a second DHCP server on a
	// LAN that has one already hands out conflicting addresses.
	Enabled bool `yaml:"enabled"`
	// Interface is the one interface the server answers on (required when enabled).
	Interface string `yaml:"interface"`
	// ServerIP is the server identifier (option 54) and the {server_ip} of option
	// templates. Empty: the interface's first IPv4 address at start.
	ServerIP string `yaml:"server_ip"`
	// Port is the UDP port the server listens on (67).
	Port int `yaml:"port"`
	// PoolStart and PoolEnd are the first and last address handed out (inclusive).
	PoolStart string `yaml:"pool_start"`
	PoolEnd   string `yaml:"pool_end"`
	// SubnetMask is option 1, dotted quad.
	SubnetMask string `yaml:"subnet_mask"`
	// LeaseTime is option 51, the time a client may keep its address (12h).
	LeaseTime time.Duration `yaml:"lease_time"`
	// Router is option 3; empty sends none.
	Router string `yaml:"router"`
	// DNS is option 6, a list of IPv4 addresses; empty sends none.
	DNS []string `yaml:"dns"`
	// Domain is option 15; empty sends none.
	Domain string `yaml:"domain"`
	// Tenant (UUID or name) is the tenant whose provisioning URL phones with an
	// unknown MAC get. Empty: the default tenant in single-tenant mode, the bare
	// /provisioning/ tree in multi-tenant mode. Known MACs get their device's tenant.
	Tenant string `yaml:"tenant"`
	// OfferHold is how long an offered address stays set aside for the client that
	// was offered it (30s).
	OfferHold time.Duration `yaml:"offer_hold"`
	// DeclineHold is how long an address a client declined (DHCPDECLINE: someone
	// else answers ARP for it) is kept out of the pool (10m).
	DeclineHold time.Duration `yaml:"decline_hold"`
	// Reservations give fixed addresses to MACs (in or outside the pool, inside
	// the subnet).
	Reservations []Reservation `yaml:"reservations"`
	// Vendors are tried in order: first every rule's vendor class against option 60,
	// then every rule's OUIs against the MAC. Empty list in the file: the built-in
	// rules (DefaultVendors).
	Vendors []VendorRule `yaml:"vendors"`
	// Default are the provisioning options of clients no rule matches.
	Default Options `yaml:"default"`
}

// Reservation is a fixed address for one MAC.
type Reservation struct {
	// MAC in any accepted form (AABBCCDDEEFF, AA:BB:..., AA-BB-...).
	MAC string `yaml:"mac" json:"mac"`
	// IP is the IPv4 address the MAC always gets.
	IP string `yaml:"ip" json:"ip"`
}

// VendorRule chooses provisioning options for one family of phones.
type VendorRule struct {
	// Name identifies the rule in leases and logs.
	Name string `yaml:"name" json:"name"`
	// VendorClass matches when option 60 contains it (case-insensitive).
	VendorClass string `yaml:"vendor_class" json:"vendor_class,omitempty"`
	// VendorClassRegex matches when option 60 matches it (Go RE2 syntax).
	VendorClassRegex string `yaml:"vendor_class_regex" json:"vendor_class_regex,omitempty"`
	// OUIs (AABBCC) match the first three bytes of the client's MAC.
	OUIs []string `yaml:"ouis" json:"ouis,omitempty"`
	// Brand adds the OUIs of that brand of the built-in catalog (yealink, snom...).
	Brand string `yaml:"brand" json:"brand,omitempty"`
	// Options are what clients matching the rule get.
	Options Options `yaml:"options" json:"options"`
}

// Options are the provisioning options of a rule. String values are templates:
// {url} is the tenant's provisioning URL (base_url + /provisioning/[tenant/]),
// for a configured phone its secret directory under it (.../<token>/),
// {base_url} the provisioning base URL, {host} its host, {server_ip} this server's
// address, {mac} the client MAC as AABBCCDDEEFF and {mac_lower} as aabbccddeeff.
// Empty values send nothing.
type Options struct {
	// Option66 is the TFTP server name / provisioning URL.
	Option66 string `yaml:"option66" json:"option66,omitempty"`
	// Option67 is the boot file name.
	Option67 string `yaml:"option67" json:"option67,omitempty"`
	// Option150 is a list of TFTP server IPv4 addresses (Cisco); templates allowed.
	Option150 []string `yaml:"option150" json:"option150,omitempty"`
	// Option160 is Polycom's provisioning server (string).
	Option160 string `yaml:"option160" json:"option160,omitempty"`
	// Option43 are vendor-specific sub-options: code (1-254) -> value.
	Option43 map[int]string `yaml:"option43" json:"option43,omitempty"`
	// Option114 is the default URL Gigaset phones read.
	Option114 string `yaml:"option114" json:"option114,omitempty"`
}

// DefaultVendors are the built-in rules, from the vendor notes: most phones take a
// URL in 66; Polycom also reads 160, Gigaset 114; legacy Cisco wants a bare host
// in 66 and TFTP addresses in 150.
func DefaultVendors() []VendorRule {
	url := Options{Option66: "{url}"}
	return []VendorRule{
		{Name: "yealink", VendorClass: "yealink", Brand: "yealink", Options: url},
		{Name: "snom", VendorClass: "snom", Brand: "snom", Options: url},
		{Name: "poly", VendorClassRegex: "(?i)polycom|^poly", Brand: "poly", Options: Options{Option66: "{url}", Option160: "{url}"}},
		{Name: "grandstream", VendorClass: "grandstream", Brand: "grandstream", Options: url},
		{Name: "fanvil", VendorClass: "fanvil", Brand: "fanvil", Options: url},
		{Name: "gigaset", VendorClass: "gigaset", Brand: "gigaset", Options: Options{Option66: "{url}", Option114: "{url}"}},
		{Name: "cisco", VendorClass: "cisco", Brand: "cisco", Options: Options{Option66: "{server_ip}", Option150: []string{"{server_ip}"}}},
	}
}

// DefaultConfig is off, with a 12 h lease and the built-in vendor rules.
func DefaultConfig() Config {
	return Config{
		Port:        67,
		LeaseTime:   12 * time.Hour,
		OfferHold:   30 * time.Second,
		DeclineHold: 10 * time.Minute,
		Vendors:     DefaultVendors(),
		Default:     Options{Option66: "{url}"},
	}
}

func ip4(s string) (net.IP, bool) {
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil || ip.To4() == nil {
		return nil, false
	}
	return ip.To4(), true
}

func u32(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

func ipOf(v uint32) net.IP {
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

// maxPool bounds the pool so that a scan for a free address stays cheap.
const maxPool = 1 << 16

// Validate checks the section; its error starts with the key (without "dhcp.").
// A disabled section is only checked for values that cannot parse at all.
func (c Config) Validate() error {
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("port: %d is not a UDP port", c.Port)
	}
	if c.LeaseTime < time.Minute || c.LeaseTime > 365*24*time.Hour {
		return fmt.Errorf("lease_time: %s must be between 1m and 8760h", c.LeaseTime)
	}
	if c.OfferHold < time.Second || c.OfferHold > 10*time.Minute {
		return fmt.Errorf("offer_hold: %s must be between 1s and 10m", c.OfferHold)
	}
	if c.DeclineHold < 0 || c.DeclineHold > 24*time.Hour {
		return fmt.Errorf("decline_hold: %s must be between 0 and 24h", c.DeclineHold)
	}
	for i, r := range c.Vendors {
		if err := r.validate(); err != nil {
			return fmt.Errorf("vendors[%d].%w", i, err)
		}
	}
	if err := c.Default.validate(); err != nil {
		return fmt.Errorf("default.%w", err)
	}
	if !c.Enabled {
		return nil
	}
	if c.Interface == "" {
		return errors.New("interface: must be set when dhcp.enabled is true")
	}
	if c.ServerIP != "" {
		if _, ok := ip4(c.ServerIP); !ok {
			return fmt.Errorf("server_ip: %q is not an IPv4 address", c.ServerIP)
		}
	}
	mask, ok := ip4(c.SubnetMask)
	if !ok {
		return fmt.Errorf("subnet_mask: %q is not a dotted-quad mask", c.SubnetMask)
	}
	if ones, bits := net.IPMask(mask).Size(); bits == 0 || ones < 8 || ones > 30 {
		return fmt.Errorf("subnet_mask: %q must be a contiguous mask between /8 and /30", c.SubnetMask)
	}
	start, ok := ip4(c.PoolStart)
	if !ok {
		return fmt.Errorf("pool_start: %q is not an IPv4 address", c.PoolStart)
	}
	end, ok := ip4(c.PoolEnd)
	if !ok {
		return fmt.Errorf("pool_end: %q is not an IPv4 address", c.PoolEnd)
	}
	if u32(end) < u32(start) {
		return fmt.Errorf("pool_end: %s is before pool_start %s", end, start)
	}
	if u32(end)-u32(start)+1 > maxPool {
		return fmt.Errorf("pool_end: the pool has more than %d addresses", maxPool)
	}
	m := net.IPMask(mask)
	if !start.Mask(m).Equal(end.Mask(m)) {
		return fmt.Errorf("pool_end: %s is not in the subnet of pool_start %s/%s", end, start, c.SubnetMask)
	}
	net0 := u32(start.Mask(m))
	bcast := net0 | ^u32(net.IP(mask))
	if u32(start) == net0 || u32(end) == bcast {
		return errors.New("pool_start: the pool must not include the network or broadcast address")
	}
	sub := &net.IPNet{IP: start.Mask(m), Mask: m}
	if c.Router != "" {
		if ip, ok := ip4(c.Router); !ok || !sub.Contains(ip) {
			return fmt.Errorf("router: %q is not an IPv4 address in %s", c.Router, sub)
		}
	}
	for i, d := range c.DNS {
		if _, ok := ip4(d); !ok {
			return fmt.Errorf("dns[%d]: %q is not an IPv4 address", i, d)
		}
	}
	if len(c.Domain) > 255 {
		return errors.New("domain: longer than 255 bytes")
	}
	seenMAC, seenIP := map[string]bool{}, map[string]bool{}
	for i, r := range c.Reservations {
		m, err := provision.ParseMAC(r.MAC)
		if err != nil {
			return fmt.Errorf("reservations[%d].mac: %w", i, err)
		}
		ip, ok := ip4(r.IP)
		if !ok || !sub.Contains(ip) {
			return fmt.Errorf("reservations[%d].ip: %q is not an IPv4 address in %s", i, r.IP, sub)
		}
		if rt, _ := ip4(c.Router); ip.Equal(rt) || (c.ServerIP != "" && ip.Equal(net.ParseIP(strings.TrimSpace(c.ServerIP)))) {
			return fmt.Errorf("reservations[%d].ip: %s is the router's or the server's own address", i, r.IP)
		}
		if seenMAC[m.String()] || seenIP[ip.String()] {
			return fmt.Errorf("reservations[%d]: %s or %s is reserved twice", i, r.MAC, r.IP)
		}
		seenMAC[m.String()], seenIP[ip.String()] = true, true
	}
	return nil
}

var ouiRE = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)

func (r VendorRule) validate() error {
	if r.Name == "" {
		return errors.New("name: must not be empty")
	}
	if r.VendorClass == "" && r.VendorClassRegex == "" && len(r.OUIs) == 0 && r.Brand == "" {
		return errors.New("vendor_class: a rule needs vendor_class, vendor_class_regex, ouis or brand")
	}
	if r.VendorClassRegex != "" {
		if _, err := regexp.Compile(r.VendorClassRegex); err != nil {
			return fmt.Errorf("vendor_class_regex: %w", err)
		}
	}
	for _, o := range r.OUIs {
		if !ouiRE.MatchString(strings.NewReplacer(":", "", "-", "").Replace(o)) {
			return fmt.Errorf("ouis: %q is not 3 bytes of hex (AABBCC)", o)
		}
	}
	if err := r.Options.validate(); err != nil {
		return fmt.Errorf("options.%w", err)
	}
	return nil
}

func (o Options) validate() error {
	check := func(key, v string) error {
		if err := checkTemplate(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	for _, kv := range [][2]string{{"option66", o.Option66}, {"option67", o.Option67}, {"option160", o.Option160}, {"option114", o.Option114}} {
		if err := check(kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, v := range o.Option150 {
		if err := check("option150", v); err != nil {
			return err
		}
		if !strings.Contains(v, "{") {
			if _, ok := ip4(v); !ok {
				return fmt.Errorf("option150: %q is not an IPv4 address or {server_ip}", v)
			}
		}
	}
	for code, v := range o.Option43 {
		if code < 1 || code > 254 {
			return fmt.Errorf("option43: sub-option %d is not between 1 and 254", code)
		}
		if err := check("option43", v); err != nil {
			return err
		}
	}
	return nil
}
