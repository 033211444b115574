package provision

import (
	"fmt"
	"strings"
)

// MAC is a 48-bit hardware address.
type MAC [6]byte

// MAC formats a filename rule or a placeholder can ask for.
const (
	MACUpper      = "AABBCCDDEEFF"
	MACLower      = "aabbccddeeff"
	MACColonUpper = "AA:BB:CC:DD:EE:FF"
	MACColonLower = "aa:bb:cc:dd:ee:ff"
	MACDashUpper  = "AA-BB-CC-DD-EE-FF"
	MACDashLower  = "aa-bb-cc-dd-ee-ff"
)

// MACFormats lists every format, in the order the API documents them.
var MACFormats = []string{MACUpper, MACLower, MACColonUpper, MACColonLower, MACDashUpper, MACDashLower}

// ValidMACFormat reports whether f is one of MACFormats.
func ValidMACFormat(f string) bool {
	for _, x := range MACFormats {
		if x == f {
			return true
		}
	}
	return false
}

// ParseMAC accepts AABBCCDDEEFF, AA:BB:CC:DD:EE:FF and AA-BB-CC-DD-EE-FF, in either
// case. Mixed separators, other lengths and non-hex digits are refused.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	var hex string
	switch len(s) {
	case 12:
		hex = s
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return m, fmt.Errorf("malformed MAC %q: use AABBCCDDEEFF, AA:BB:CC:DD:EE:FF or AA-BB-CC-DD-EE-FF", s)
		}
		var b strings.Builder
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return m, fmt.Errorf("malformed MAC %q: mixed or misplaced separators", s)
				}
				continue
			}
			b.WriteByte(s[i])
		}
		hex = b.String()
	default:
		return m, fmt.Errorf("malformed MAC %q: use AABBCCDDEEFF, AA:BB:CC:DD:EE:FF or AA-BB-CC-DD-EE-FF", s)
	}
	for i := 0; i < 6; i++ {
		hi, ok1 := unhex(hex[2*i])
		lo, ok2 := unhex(hex[2*i+1])
		if !ok1 || !ok2 {
			return m, fmt.Errorf("malformed MAC %q: %q is not a hex digit pair", s, hex[2*i:2*i+2])
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Format writes the MAC in one of MACFormats (MACUpper for an unknown one).
func (m MAC) Format(f string) string {
	digits := "0123456789ABCDEF"
	if f == MACLower || f == MACColonLower || f == MACDashLower {
		digits = "0123456789abcdef"
	}
	var sep byte
	switch f {
	case MACColonUpper, MACColonLower:
		sep = ':'
	case MACDashUpper, MACDashLower:
		sep = '-'
	}
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 && sep != 0 {
			b = append(b, sep)
		}
		b = append(b, digits[x>>4], digits[x&15])
	}
	return string(b)
}

// String is the normalized form stored in devices: AABBCCDDEEFF.
func (m MAC) String() string { return m.Format(MACUpper) }

// OUI is the vendor prefix, upper-case hex (AABBCC).
func (m MAC) OUI() string { return m.Format(MACUpper)[:6] }
