package dhcp

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Option codes this package speaks beyond the ones dhcpv4 names.
const (
	opt43  = 43
	opt66  = 66
	opt67  = 67
	opt114 = 114
	opt150 = 150
	opt160 = 160
)

var placeholders = []string{"{url}", "{base_url}", "{host}", "{server_ip}", "{mac}", "{mac_lower}"}

// checkTemplate refuses unknown {placeholders} so that a typo is a start-up error,
// not a phone that boots with a literal "{ulr}" in its URL.
func checkTemplate(s string) error {
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("%q: unclosed {", s)
		}
		name := rest[i : i+j+1]
		known := false
		for _, p := range placeholders {
			known = known || p == name
		}
		if !known {
			return fmt.Errorf("%q: unknown placeholder %s (known: %s)", s, name, strings.Join(placeholders, " "))
		}
		rest = rest[i+j+1:]
	}
}

// vars are the values of the placeholders for one client.
type vars struct {
	url, baseURL, host, serverIP, mac string
}

// value is the value of the placeholder {name}, and whether there is one.
func (v vars) value(name string) (string, bool) {
	switch name {
	case "url":
		return v.url, true
	case "base_url":
		return v.baseURL, true
	case "host":
		return v.host, true
	case "server_ip":
		return v.serverIP, true
	case "mac":
		return strings.ToUpper(v.mac), true
	case "mac_lower":
		return strings.ToLower(v.mac), true
	}
	return "", false
}

// expand replaces the placeholders in s, leaving any other braces as they
// are. It runs for every OFFER and ACK: no Replacer built per message.
func (v vars) expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		if val, ok := v.value(s[i+1 : i+j]); ok {
			b.WriteString(val)
			s = s[i+j+1:]
			continue
		}
		b.WriteByte('{')
		s = s[i+1:]
	}
}

// rule is a compiled VendorRule.
type rule struct {
	name  string
	class string // lower case
	re    *regexp.Regexp
	ouis  map[[3]byte]bool
	opts  Options
}

// compileRules turns the configured rules into matchers; brandOUIs maps a catalog
// brand to its OUIs (AABBCC).
func compileRules(list []VendorRule, brandOUIs map[string][]string) ([]rule, error) {
	out := make([]rule, 0, len(list))
	for i, r := range list {
		c := rule{name: r.Name, class: strings.ToLower(r.VendorClass), ouis: map[[3]byte]bool{}, opts: r.Options}
		if r.VendorClassRegex != "" {
			re, err := regexp.Compile(r.VendorClassRegex)
			if err != nil {
				return nil, fmt.Errorf("vendors[%d].vendor_class_regex: %w", i, err)
			}
			c.re = re
		}
		ouis := append([]string{}, r.OUIs...)
		if r.Brand != "" {
			b, ok := brandOUIs[r.Brand]
			if !ok {
				return nil, fmt.Errorf("vendors[%d].brand: %q is not a brand of the catalog", i, r.Brand)
			}
			ouis = append(ouis, b...)
		}
		for _, o := range ouis {
			k, err := parseOUI(o)
			if err != nil {
				return nil, fmt.Errorf("vendors[%d].ouis: %w", i, err)
			}
			c.ouis[k] = true
		}
		out = append(out, c)
	}
	return out, nil
}

func parseOUI(s string) ([3]byte, error) {
	var k [3]byte
	h := strings.NewReplacer(":", "", "-", "").Replace(s)
	if !ouiRE.MatchString(h) {
		return k, fmt.Errorf("%q is not 3 bytes of hex (AABBCC)", s)
	}
	for i := range 3 {
		var b byte
		fmt.Sscanf(h[2*i:2*i+2], "%02x", &b) //nolint:errcheck // checked by ouiRE
		k[i] = b
	}
	return k, nil
}

// match picks the rule for a client: a vendor class match wins over an OUI match
// (the class names the firmware, the OUI only the maker of the network chip), and
// within each kind the first rule wins. nil: no rule, use the default.
func match(rules []rule, vendorClass string, mac net.HardwareAddr) *rule {
	if vendorClass != "" {
		lc := strings.ToLower(vendorClass)
		for i := range rules {
			r := &rules[i]
			if (r.class != "" && strings.Contains(lc, r.class)) || (r.re != nil && r.re.MatchString(vendorClass)) {
				return r
			}
		}
	}
	if len(mac) >= 3 {
		k := [3]byte{mac[0], mac[1], mac[2]}
		for i := range rules {
			if rules[i].ouis[k] {
				return &rules[i]
			}
		}
	}
	return nil
}

// maxOptLen is what one option TLV holds; longer values would need RFC 3396
// splitting, which phones do not all implement, so they are left out (and logged).
const maxOptLen = 255

// provisioningOptions renders o for one client into DHCP options. Values that do
// not fit an option are reported in skipped.
func provisioningOptions(o Options, v vars) (opts []dhcpv4.Option, skipped []string) {
	str := func(code uint8, name, tmpl string) {
		if tmpl == "" {
			return
		}
		val := v.expand(tmpl)
		if val == "" || len(val) > maxOptLen {
			skipped = append(skipped, name)
			return
		}
		opts = append(opts, dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(code), []byte(val)))
	}
	str(opt66, "option66", o.Option66)
	str(opt67, "option67", o.Option67)
	if len(o.Option150) > 0 {
		var b []byte
		for _, t := range o.Option150 {
			ip, ok := ip4(v.expand(t))
			if !ok {
				skipped = append(skipped, "option150")
				continue
			}
			b = append(b, ip...)
		}
		if len(b) > 0 && len(b) <= maxOptLen {
			opts = append(opts, dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(opt150), b))
		}
	}
	str(opt160, "option160", o.Option160)
	if len(o.Option43) > 0 {
		sub := map[int]string{}
		for code, t := range o.Option43 {
			sub[code] = v.expand(t)
		}
		b, err := encodeSubOptions(sub)
		if err != nil || len(b) > maxOptLen {
			skipped = append(skipped, "option43")
		} else {
			opts = append(opts, dhcpv4.OptGeneric(dhcpv4.GenericOptionCode(opt43), b))
		}
	}
	str(opt114, "option114", o.Option114)
	return opts, skipped
}

// SubOption is one type-length-value entry of option 43.
type SubOption struct {
	Code  int    `json:"code"`
	Value string `json:"value"`
}

// encodeSubOptions lays out option 43 as code, length, value triples, by code.
func encodeSubOptions(sub map[int]string) ([]byte, error) {
	codes := make([]int, 0, len(sub))
	for c := range sub {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var b []byte
	for _, c := range codes {
		if c < 1 || c > 254 || len(sub[c]) > 255 {
			return nil, fmt.Errorf("sub-option %d: code or length out of range", c)
		}
		b = append(b, byte(c), byte(len(sub[c]))) //nolint:gosec // G115: both checked to fit a byte just above
		b = append(b, sub[c]...)
	}
	return b, nil
}

var errNotTLV = errors.New("not a list of sub-options")

// decodeSubOptions reads option 43 as type-length-value entries (pad 0 skipped,
// end 255 stops). Option 43 may also be opaque vendor data; then it returns
// errNotTLV and the caller shows the bytes.
func decodeSubOptions(b []byte) ([]SubOption, error) {
	var out []SubOption
	for i := 0; i < len(b); {
		code := b[i]
		if code == 0 {
			i++
			continue
		}
		if code == 255 {
			break
		}
		if i+1 >= len(b) {
			return nil, errNotTLV
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			return nil, errNotTLV
		}
		out = append(out, SubOption{Code: int(code), Value: string(b[i+2 : i+2+n])})
		i += 2 + n
	}
	return out, nil
}
