package provision

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
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
	SIPServer       string `json:"sip_server"`
	SIPUDPPort      int    `json:"sip_udp_port"`
	SIPTCPPort      int    `json:"sip_tcp_port"`
	SIPTLSPort      int    `json:"sip_tls_port"`
	Transport       string `json:"transport"`
	NTPServer       string `json:"ntp_server"`
	TimeZone        string `json:"time_zone"`
	Language        string `json:"language"`
	VoicemailNumber string `json:"voicemail_number"`
	ResyncSeconds   int    `json:"resync_seconds"`
	// HTTPAuth protects this tenant's provisioning tree: none, basic or digest.
	HTTPAuth     string `json:"http_auth"`
	HTTPUser     string `json:"http_user"`
	HTTPPassword string `json:"http_password"`
}

// DefaultPBXSettings are a new tenant's settings.
func DefaultPBXSettings() PBXSettings {
	return PBXSettings{SIPUDPPort: 5060, SIPTCPPort: 5060, SIPTLSPort: 5061, Transport: "udp",
		NTPServer: "pool.ntp.org", TimeZone: "UTC", Language: "en", ResyncSeconds: 86400, HTTPAuth: "none"}
}

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
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "" || p.TimeZone == "Local" {
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
	case a.SIPPassword == "" || len(a.SIPPassword) > 128 || strings.ContainsAny(a.SIPPassword, "\r\n"):
		return verr("sip_password", "sip_password must be 1-128 characters on one line")
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
	return nil
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
	// Account is the linked SIP account's id. Without one no file is generated and
	// the device is saved disabled.
	Account string `json:"account"`
	// RedirectServer is the id of the tenant's vendor redirection server this
	// phone's MAC is registered on ("" = none); package redirect does the rest.
	RedirectServer string `json:"redirect_server,omitempty"`
	// RedirectCode is the vendor's device code when the MAC alone is not enough
	// (Gigaset: the 4 characters after the MAC on the label).
	RedirectCode string    `json:"redirect_code,omitempty"`
	Created      time.Time `json:"created"`
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
	case len(d.PhonePassword) > 128 || strings.ContainsAny(d.PhonePassword, "\r\n"):
		return verr("phone_password", "phone_password must be at most 128 characters on one line")
	case d.RemoteAddress != "" && !validHost(d.RemoteAddress):
		return verr("remote_address", "remote_address must be an IP address or host name")
	case d.RemotePort != 0 && !validPort(d.RemotePort):
		return verr("remote_port", "remote_port must be 1-65535")
	case d.Enabled && d.Account == "":
		return verr("account", "a device without a linked account cannot be enabled")
	}
	return nil
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
