package pnp

import (
	"strings"

	"github.com/switchboard-pbx/switchboard/provision"
)

// Vendor is who a SUBSCRIBE comes from: Brand is a catalog brand id (yealink,
// snom, ...) or another lower-case vendor name, "" when nothing tells; By says
// which clue decided (event, user-agent, oui).
type Vendor struct {
	Brand, Model, By string
}

// vendorNames maps names phones put in Event vendor= or User-Agent to a brand id.
// Longer names first, so that "polycom" is not read as "poly" + junk.
var vendorNames = []struct{ word, brand string }{
	{"grandstream", "grandstream"},
	{"panasonic", "panasonic"},
	{"polycom", "poly"},
	{"yealink", "yealink"},
	{"gigaset", "gigaset"},
	{"fanvil", "fanvil"},
	{"aastra", "mitel"},
	{"mitel", "mitel"},
	{"cisco", "cisco"},
	{"htek", "htek"},
	{"snom", "snom"},
	{"poly", "poly"},
}

// Identifier recognises vendors by Event, User-Agent and MAC OUI.
type Identifier struct {
	oui map[string]string // AABBCC -> brand id
}

// NewIdentifier learns the OUIs of brands (the catalog's).
func NewIdentifier(brands []provision.Brand) *Identifier {
	id := &Identifier{oui: map[string]string{}}
	for _, b := range brands {
		for _, o := range b.OUIs {
			id.oui[strings.ToUpper(o)] = b.ID
		}
	}
	return id
}

// oem says a value is a placeholder, not a name: rebadged phones send
// vendor="OEM" model="OEM".
func oem(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || strings.EqualFold(v, "OEM") || strings.EqualFold(v, "unknown")
}

// Identify decides in the order of trust: an Event vendor that is not "OEM", a
// vendor name in the User-Agent, then the MAC's OUI.
func (id *Identifier) Identify(eventVendor, eventModel, userAgent string, mac provision.MAC) Vendor {
	var v Vendor
	if !oem(eventVendor) {
		if b := brandIn(eventVendor); b != "" {
			v.Brand, v.By = b, "event"
		}
	}
	uaBrand := brandIn(userAgent)
	if v.Brand == "" && uaBrand != "" {
		v.Brand, v.By = uaBrand, "user-agent"
	}
	if v.Brand == "" {
		if b, ok := id.oui[mac.OUI()]; ok {
			v.Brand, v.By = b, "oui"
		}
	}
	if !oem(eventModel) {
		v.Model = cleanModel(eventModel)
	}
	if v.Model == "" && uaBrand != "" && uaBrand == v.Brand {
		v.Model = modelFromUA(userAgent)
	}
	return v
}

// brandIn finds a known vendor name in s (case-insensitive).
func brandIn(s string) string {
	if len(s) > 512 {
		s = s[:512]
	}
	l := strings.ToLower(s)
	for _, n := range vendorNames {
		if strings.Contains(l, n.word) {
			return n.brand
		}
	}
	return ""
}

// modelFromUA reads the model after the vendor's name: "Yealink SIP-T54W 96.86.0.70"
// -> T54W, "snomD785/10.1.54.13" -> D785, "Grandstream GRP2612W 1.0.5.67" -> GRP2612W.
func modelFromUA(ua string) string {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	l := strings.ToLower(ua)
	for _, n := range vendorNames {
		i := strings.Index(l, n.word)
		if i < 0 {
			continue
		}
		rest := ua[i+len(n.word):]
		rest = strings.TrimLeft(rest, " -_/")
		if f := strings.Fields(rest); len(f) > 0 {
			m, _, _ := strings.Cut(f[0], "/")
			if len(m) > 4 && strings.EqualFold(m[:4], "SIP-") {
				m = m[4:]
			}
			return cleanModel(m)
		}
		return ""
	}
	return ""
}

// cleanModel keeps a model name printable and short; anything else is dropped.
func cleanModel(m string) string {
	m = strings.TrimSpace(m)
	if len(m) == 0 || len(m) > 32 {
		return ""
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == '+' || c == ' ') {
			return ""
		}
	}
	return m
}
