package provision

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Store kinds of the provisioning objects.
const (
	KindPBX         = "pbx"         // one per tenant, id = tenant id
	KindAccount     = "account"     // SIP accounts
	KindDevice      = "device"      // phones
	KindPlaceholder = "placeholder" // custom %%_NAME%% placeholders
	KindModel       = "model"       // user-defined models (built-ins are in the binary)
	KindTemplate    = "template"    // user-defined templates
)

func verr(field, format string, args ...any) error {
	return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// PBXSettings are the PBX attributes templates see (%%KPBX_...%%), per tenant.
type PBXSettings struct {
	// SIPServer is the registrar address phones use; empty means the appliance's
	// own address as seen by the phone's request is not known, so templates get "".
	SIPServer  string `json:"sip_server"`
	SIPUDPPort int    `json:"sip_udp_port"`
	SIPTCPPort int    `json:"sip_tcp_port"`
	SIPTLSPort int    `json:"sip_tls_port"`
	Transport  string `json:"transport"`
	NTPServer  string `json:"ntp_server"`
	// TimeZone is the tenant's IANA zone; "" (not chosen) is UTC for phones,
	// and lets other services (scheduled tasks) use the appliance's zone.
	TimeZone        string `json:"time_zone"`
	Language        string `json:"language"`
	VoicemailNumber string `json:"voicemail_number"`
	ResyncSeconds   int    `json:"resync_seconds"`
	// Feature codes keys dial: directed pickup (before the extension), group
	// pickup, do-not-disturb toggle. The defaults are FreePBX's (NethVoice).
	PickupPrefix    string `json:"pickup_prefix"`
	GroupPickupCode string `json:"group_pickup_code"`
	DNDCode         string `json:"dnd_code"`
	// PhoneAdminPassword is the web administrator password of the tenant's
	// phones (a device's phone_password overrides it): generated when the
	// tenant is created, never empty.
	PhoneAdminPassword string `json:"phone_admin_password"`
	// SecureURLs serves the files with secrets (device files: SIP and admin
	// passwords) only under each device's secret URL
	// (<provisioning URL><url_token>/<file>); a request that names only the
	// file (and so only knows the MAC) gets 404, over HTTP, HTTPS and TFTP.
	// On for new tenants; off (stored settings without the field) is the old
	// behaviour: files by name, behind http_auth when it is on.
	SecureURLs bool `json:"secure_urls"`
	// EnrollWindow is how long, in seconds, a device created or given a new
	// secret URL stays open for enrollment: while it is open and the device
	// has not fetched from its secret directory yet, the bootstrap file a
	// request by name gets (with SecureURLs) carries the secret directory.
	// 0 opens no window by itself (device enroll still can); at most 30 days.
	EnrollWindow int `json:"enroll_window"`
	// HTTPAuth protects this tenant's provisioning tree: none, basic or digest.
	HTTPAuth     string `json:"http_auth"`
	HTTPUser     string `json:"http_user"`
	HTTPPassword string `json:"http_password"`
}

// DefaultPBXSettings are a new tenant's settings.
func DefaultPBXSettings() PBXSettings {
	return PBXSettings{SIPUDPPort: 5060, SIPTCPPort: 5060, SIPTLSPort: 5061, Transport: "udp",
		NTPServer: "pool.ntp.org", Language: "en", ResyncSeconds: 86400, HTTPAuth: "none",
		PickupPrefix: "**", GroupPickupCode: "*8", DNDCode: "*76", SecureURLs: true, EnrollWindow: DefaultEnrollWindow}
}

var featureCodeRE = regexp.MustCompile(`^[0-9*#]{0,16}$`)

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

func validHost(s string) bool { return net.ParseIP(s) != nil || hostRE.MatchString(s) }

func validPort(p int) bool { return p > 0 && p < 65536 }

// Validate checks the settings.
func (p PBXSettings) Validate() error {
	switch {
	case p.SIPServer != "" && !validHost(p.SIPServer):
		return verr("sip_server", "sip_server must be an IP address or host name")
	case !validPort(p.SIPUDPPort):
		return verr("sip_udp_port", "sip_udp_port must be 1-65535")
	case !validPort(p.SIPTCPPort):
		return verr("sip_tcp_port", "sip_tcp_port must be 1-65535")
	case !validPort(p.SIPTLSPort):
		return verr("sip_tls_port", "sip_tls_port must be 1-65535")
	case p.Transport != "udp" && p.Transport != "tcp" && p.Transport != "tls":
		return verr("transport", "transport must be udp, tcp or tls")
	case p.NTPServer != "" && !validHost(p.NTPServer):
		return verr("ntp_server", "ntp_server must be an IP address or host name")
	case p.EnrollWindow < 0 || p.EnrollWindow > MaxEnrollWindow:
		return verr("enroll_window", "enroll_window must be 0-%d seconds (0: devices open no enrollment window by themselves)", MaxEnrollWindow)
	case p.ResyncSeconds < 0 || p.ResyncSeconds > 7*86400:
		return verr("resync_seconds", "resync_seconds must be 0-604800")
	case p.HTTPAuth != "none" && p.HTTPAuth != "basic" && p.HTTPAuth != "digest":
		return verr("http_auth", "http_auth must be none, basic or digest")
	case p.HTTPAuth != "none" && (p.HTTPUser == "" || len(p.HTTPPassword) < 8):
		return verr("http_password", "http_auth needs http_user and an http_password of at least 8 characters")
	case strings.ContainsAny(p.HTTPUser, ":\"\r\n"):
		return verr("http_user", "http_user must not contain : \" or line breaks")
	case len(p.Language) > 16:
		return verr("language", "language is too long")
	case len(p.VoicemailNumber) > 32:
		return verr("voicemail_number", "voicemail_number is too long")
	case !featureCodeRE.MatchString(p.PickupPrefix):
		return verr("pickup_prefix", "pickup_prefix must be up to 16 digits, * or #")
	case !featureCodeRE.MatchString(p.GroupPickupCode):
		return verr("group_pickup_code", "group_pickup_code must be up to 16 digits, * or #")
	case !featureCodeRE.MatchString(p.DNDCode):
		return verr("dnd_code", "dnd_code must be up to 16 digits, * or #")
	}
	if p.PhoneAdminPassword == "" {
		return verr("phone_admin_password", "phone_admin_password must not be empty: phones would keep an open web interface")
	}
	if err := checkSecret("phone_admin_password", p.PhoneAdminPassword, DefaultPhoneAdminUser); err != nil {
		return err
	}
	if _, err := time.LoadLocation(p.TimeZone); p.TimeZone != "" && (err != nil || p.TimeZone == "Local") {
		return verr("time_zone", "time_zone %q is not an IANA time zone (e.g. Europe/Rome)", p.TimeZone)
	}
	return nil
}

func (p PBXSettings) port(transport string) int {
	switch transport {
	case "tcp":
		return p.SIPTCPPort
	case "tls":
		return p.SIPTLSPort
	}
	return p.SIPUDPPort
}

// Account is a SIP account a device registers with.
type Account struct {
	ID           string `json:"id"`
	Tenant       string `json:"tenant"`
	Extension    string `json:"extension"`
	SIPUsername  string `json:"sip_username"`
	AuthUsername string `json:"auth_username"`
	SIPPassword  string `json:"sip_password"`
	DisplayName  string `json:"display_name"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Voicemail    string `json:"voicemail"`
	// Transport overrides the PBX's default transport for this account ("" = PBX's).
	Transport string `json:"transport"`
}

var extRE = regexp.MustCompile(`^[0-9A-Za-z*#+._-]{1,32}$`)

// Validate checks an account.
func (a Account) Validate() error {
	switch {
	case !extRE.MatchString(a.Extension):
		return verr("extension", "extension must be 1-32 digits, letters or * # + . _ -")
	case a.SIPUsername == "" || len(a.SIPUsername) > 64 || strings.ContainsAny(a.SIPUsername, " @:;<>\"\r\n"):
		return verr("sip_username", "sip_username must be 1-64 characters without spaces, @ : ; < > \"")
	case len(a.AuthUsername) > 64 || strings.ContainsAny(a.AuthUsername, " \r\n\""):
		return verr("auth_username", "auth_username must be at most 64 characters without spaces or quotes")
	case a.SIPPassword == "":
		return verr("sip_password", "sip_password is required")
	case len(a.DisplayName) > 64 || strings.ContainsAny(a.DisplayName, "\r\n"):
		return verr("display_name", "display_name must be at most 64 characters on one line")
	case len(a.FirstName) > 64 || strings.ContainsAny(a.FirstName, "\r\n"):
		return verr("first_name", "first_name must be at most 64 characters on one line")
	case len(a.LastName) > 64 || strings.ContainsAny(a.LastName, "\r\n"):
		return verr("last_name", "last_name must be at most 64 characters on one line")
	case len(a.Voicemail) > 32 || strings.ContainsAny(a.Voicemail, "\r\n"):
		return verr("voicemail", "voicemail must be at most 32 characters")
	case a.Transport != "" && a.Transport != "udp" && a.Transport != "tcp" && a.Transport != "tls":
		return verr("transport", "transport must be empty, udp, tcp or tls")
	}
	return checkSecret("sip_password", a.SIPPassword, a.Extension, a.SIPUsername, a.AuthUsername)
}

// Device is a phone.
type Device struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	MAC      string `json:"mac"` // normalized AABBCCDDEEFF
	Model    string `json:"model"`
	Template string `json:"template"` // "" = the model's default
	Notes    string `json:"notes"`
	Enabled  bool   `json:"enabled"`
	// Network: IPAddrMode is dhcp or static.
	IPAddrMode string `json:"ip_mode"`
	IPAddr     string `json:"ip_address"`
	Netmask    string `json:"netmask"`
	Gateway    string `json:"gateway"`
	DNS1       string `json:"dns1"`
	DNS2       string `json:"dns2"`
	// Phone web credentials (also used for click-to-call).
	PhoneUsername string `json:"phone_username"`
	PhonePassword string `json:"phone_password"`
	// Remote control address and port; empty means the address it registers from.
	RemoteAddress string `json:"remote_address"`
	RemotePort    int    `json:"remote_port"`
	// Account is the linked SIP account's id: the account of line 1 (Lines[0]).
	// Without one no file is generated and the device is saved disabled.
	Account string `json:"account"`
	// Lines are the device's SIP accounts in line order, line 1 first (on a
	// DECT base, line N is handset N). At most the model's Lines.
	Lines []DeviceLine `json:"lines"`
	// Keys are the programmable keys of the phone and of its expansion modules.
	Keys []Key `json:"keys"`
	// RedirectServer is the id of the tenant's vendor redirection server this
	// phone's MAC is registered on ("" = none); package redirect does the rest.
	RedirectServer string `json:"redirect_server,omitempty"`
	// RedirectCode is the vendor's device code when the MAC alone is not enough
	// (Gigaset: the 4 characters after the MAC on the label).
	RedirectCode string `json:"redirect_code,omitempty"`
	// URLToken names the device's secret directory in its tenant's tree
	// (see PBXSettings.SecureURLs): 32 hex digits, generated when the device
	// is created; saving it as "" issues a new one (the old URL stops
	// working). A secret: masked like a password, read with a reveal.
	URLToken string `json:"url_token"`
	// Enrollment is how the device gets its secret URL from the bootstrap
	// file; the daemon keeps it (a patch cannot set it: see Service.Enroll).
	Enrollment Enrollment `json:"enrollment"`
	Created    time.Time  `json:"created"`
}

// DeviceLine is one line of a device: an account, and how the phone labels it.
type DeviceLine struct {
	Account string `json:"account"`
	Label   string `json:"label,omitempty"`
}

// Key is a programmable key: on the phone (Module 0) or on an expansion module.
type Key struct {
	// Module is 0 for the phone's own keys, 1.. for that expansion module.
	Module int `json:"module"`
	// Index is the key's position on the phone or module, from 1; a key saved
	// with 0 takes the first free position.
	Index int    `json:"index"`
	Type  string `json:"type"`
	// Value is what the key dials, watches or opens: an extension (blf,
	// pickup, intercom), a number (speed_dial, transfer, forward), a parking
	// slot (park) or a URL (url).
	Value string `json:"value,omitempty"`
	Label string `json:"label,omitempty"`
	// Line is the device line the key uses, from 1 (0 = line 1).
	Line int `json:"line,omitempty"`
}

// Key types, the same for every vendor; each built-in template maps them to
// the vendor's own codes, and a model lists those its template maps.
const (
	KeyLine        = "line"         // a line (call appearance) key
	KeyBLF         = "blf"          // busy lamp field: watches an extension, calls or picks up
	KeySpeedDial   = "speed_dial"   // dials a number
	KeyPark        = "park"         // parks a call in a slot and shows it
	KeyPickup      = "pickup"       // picks up the call ringing at an extension
	KeyGroupPickup = "group_pickup" // picks up a call ringing in the group
	KeyDND         = "dnd"          // do not disturb
	KeyTransfer    = "transfer"     // transfers the call (to the value, if any)
	KeyVoicemail   = "voicemail"    // voicemail
	KeyURL         = "url"          // opens a URL (XML browser, action URL)
	KeyIntercom    = "intercom"     // intercom call to an extension
	KeyForward     = "forward"      // call forward (to the value)
	KeyHold        = "hold"         // hold
	KeyConference  = "conference"   // conference
)

// KeyTypes are the key types in the order lists show them.
var KeyTypes = []string{KeyLine, KeyBLF, KeySpeedDial, KeyPark, KeyPickup, KeyGroupPickup, KeyDND, KeyTransfer,
	KeyVoicemail, KeyURL, KeyIntercom, KeyForward, KeyHold, KeyConference}

// keyNeedsValue are the key types that do nothing without a value.
var keyNeedsValue = map[string]bool{KeyBLF: true, KeySpeedDial: true, KeyPark: true, KeyPickup: true, KeyURL: true, KeyIntercom: true}

// normalize reads a device stored before lines existed (an account only) as
// a device with that account on line 1.
// accountIDs are the accounts the device's file is made from, each once: the
// main account and the lines'.
func (d Device) accountIDs() []string {
	ids := make([]string, 0, len(d.Lines)+1)
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	add(d.Account)
	for _, l := range d.Lines {
		add(l.Account)
	}
	return ids
}

func (d *Device) normalize() {
	if len(d.Lines) == 0 && d.Account != "" {
		d.Lines = []DeviceLine{{Account: d.Account}}
	}
}

func validIPv4(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil
}

// Validate checks a device's own fields (references are checked by the service).
func (d Device) Validate() error {
	if _, err := ParseMAC(d.MAC); err != nil {
		return verr("mac", "%v", err)
	}
	switch {
	case d.Model == "":
		return verr("model", "model is required")
	case len(d.Notes) > 2048:
		return verr("notes", "notes are longer than 2048 characters")
	case d.IPAddrMode != "dhcp" && d.IPAddrMode != "static":
		return verr("ip_mode", "ip_mode must be dhcp or static")
	case d.IPAddrMode == "static" && !validIPv4(d.IPAddr):
		return verr("ip_address", "a static device needs an IPv4 ip_address")
	case d.IPAddrMode == "static" && !validIPv4(d.Netmask):
		return verr("netmask", "a static device needs a dotted netmask")
	case d.IPAddr != "" && !validIPv4(d.IPAddr):
		return verr("ip_address", "ip_address must be IPv4")
	case d.Netmask != "" && !validIPv4(d.Netmask):
		return verr("netmask", "netmask must be dotted IPv4")
	case d.Gateway != "" && !validIPv4(d.Gateway):
		return verr("gateway", "gateway must be IPv4")
	case d.DNS1 != "" && net.ParseIP(d.DNS1) == nil:
		return verr("dns1", "dns1 must be an IP address")
	case d.DNS2 != "" && net.ParseIP(d.DNS2) == nil:
		return verr("dns2", "dns2 must be an IP address")
	case len(d.PhoneUsername) > 64 || strings.ContainsAny(d.PhoneUsername, "\r\n"):
		return verr("phone_username", "phone_username must be at most 64 characters on one line")
	case d.PhonePassword != "" && checkSecret("phone_password", d.PhonePassword, d.PhoneUsername, DefaultPhoneAdminUser) != nil:
		return checkSecret("phone_password", d.PhonePassword, d.PhoneUsername, DefaultPhoneAdminUser)
	case d.RemoteAddress != "" && !validHost(d.RemoteAddress):
		return verr("remote_address", "remote_address must be an IP address or host name")
	case d.RemotePort != 0 && !validPort(d.RemotePort):
		return verr("remote_port", "remote_port must be 1-65535")
	case d.Enabled && d.Account == "":
		return verr("account", "a device without a linked account cannot be enabled")
	case len(d.Lines) > 128:
		return verr("lines", "a device holds at most 128 lines")
	case len(d.Keys) > 1024:
		return verr("keys", "a device holds at most 1024 keys")
	}
	seen := map[string]int{}
	for i, l := range d.Lines {
		n := i + 1
		switch {
		case l.Account == "":
			return verr("lines", "line %d has no account", n)
		case len(l.Label) > 64 || strings.ContainsAny(l.Label, "\r\n"):
			return verr("lines", "line %d: the label must be at most 64 characters on one line", n)
		}
		if first, dup := seen[l.Account]; dup {
			return verr("lines", "lines %d and %d have the same account", first, n)
		}
		seen[l.Account] = n
	}
	if len(d.Lines) > 0 && d.Lines[0].Account != d.Account {
		return verr("account", "account must be the account of line 1")
	}
	return validateKeys(d.Keys, len(d.Lines))
}

// validateKeys checks keys on their own; the model's limits are checked with
// the model (Model.checkKeys).
func validateKeys(keys []Key, lines int) error {
	at := map[[2]int]int{}
	for i, k := range keys {
		n := i + 1
		if !containsStr(KeyTypes, k.Type) {
			return verr("keys", "key %d: type %q is not one of %s", n, k.Type, strings.Join(KeyTypes, ", "))
		}
		switch {
		case k.Module < 0 || k.Module > 16:
			return verr("keys", "key %d: module must be 0 (the phone) or an expansion module 1-16", n)
		case k.Index < 1 || k.Index > 512:
			return verr("keys", "key %d: index must be 1-512", n)
		case k.Line < 1 || k.Line > max(lines, 1):
			return verr("keys", "key %d: line %d is not a line of the device (it has %d)", n, k.Line, lines)
		case keyNeedsValue[k.Type] && strings.TrimSpace(k.Value) == "":
			return verr("keys", "key %d: a %s key needs a value", n, k.Type)
		case len(k.Value) > 256 || strings.ContainsAny(k.Value, "\r\n"):
			return verr("keys", "key %d: the value must be at most 256 characters on one line", n)
		case len(k.Label) > 64 || strings.ContainsAny(k.Label, "\r\n"):
			return verr("keys", "key %d: the label must be at most 64 characters on one line", n)
		case k.Type == KeyURL && !strings.HasPrefix(k.Value, "http://") && !strings.HasPrefix(k.Value, "https://"):
			return verr("keys", "key %d: a url key needs an http:// or https:// URL", n)
		}
		pos := [2]int{k.Module, k.Index}
		if first, dup := at[pos]; dup {
			return verr("keys", "keys %d and %d are both at position %d of %s", first, n, k.Index, unitName(k.Module))
		}
		at[pos] = n
	}
	return nil
}

func unitName(module int) string {
	if module == 0 {
		return "the phone"
	}
	return fmt.Sprintf("expansion module %d", module)
}

// placeKeys gives keys without a position (Index 0) the first free one on
// their unit, and line 0 line 1, in the order given.
func placeKeys(keys []Key) {
	used := map[[2]int]bool{}
	for _, k := range keys {
		if k.Index > 0 {
			used[[2]int{k.Module, k.Index}] = true
		}
	}
	for i := range keys {
		k := &keys[i]
		if k.Line == 0 {
			k.Line = 1
		}
		if k.Index > 0 {
			continue
		}
		for n := 1; ; n++ {
			if !used[[2]int{k.Module, n}] {
				k.Index = n
				used[[2]int{k.Module, n}] = true
				break
			}
		}
	}
}

// Placeholder is a custom %%_NAME%% placeholder: static (Value) or dynamic (the
// IPv4 address of the appliance's Interface, read live).
type Placeholder struct {
	ID          string `json:"id"`
	Tenant      string `json:"tenant"`
	Name        string `json:"name"` // with the leading underscore
	Type        string `json:"type"` // static or dynamic
	Value       string `json:"value"`
	Interface   string `json:"interface"`
	Description string `json:"description"`
}

var customRE = regexp.MustCompile(`^_[A-Z0-9_]{1,63}$`)

// Validate checks a custom placeholder.
func (p Placeholder) Validate() error {
	switch {
	case !customRE.MatchString(p.Name):
		return verr("name", "name must be _ followed by 1-63 upper-case letters, digits or _ (e.g. _REGISTRAR)")
	case p.Type != "static" && p.Type != "dynamic":
		return verr("type", "type must be static or dynamic")
	case p.Type == "static" && strings.ContainsAny(p.Value, "\r\n"):
		return verr("value", "value must be one line")
	case p.Type == "dynamic" && (p.Interface == "" || len(p.Interface) > 15 || strings.ContainsAny(p.Interface, "/ \t")):
		return verr("interface", "a dynamic placeholder needs an interface name (e.g. eth0 or eth0.20)")
	case len(p.Description) > 256:
		return verr("description", "description is longer than 256 characters")
	}
	return nil
}

// provisioningURL is the base URL phones of tenant fetch from.
func provisioningURL(base, tenant string, multi bool) string {
	u := strings.TrimRight(base, "/") + "/provisioning/"
	if multi {
		u += tenant + "/"
	}
	return u
}

func urlHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
