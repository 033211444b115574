package provision

// Placeholder sources. A template rendered for a common file (one per tenant and
// model, no device) may only use PBX placeholders and custom ones.
const (
	SourcePBX     = "pbx"
	SourceAccount = "account"
	SourceDevice  = "device"
	SourceCustom  = "custom"
)

// PlaceholderInfo documents one built-in placeholder.
type PlaceholderInfo struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	Description string `json:"description"`
}

// Placeholders are the built-in placeholders, KalliopePBX-compatible where
// Kalliope documents a name (KPBX_IP_ADDRESS, IPADDR, PHONEUSERNAME, ...).
var Placeholders = []PlaceholderInfo{
	{"KPBX_IP_ADDRESS", SourcePBX, "SIP server (registrar) address phones register to"},
	{"KPBX_HOSTNAME", SourcePBX, "the appliance's host name, as phones reach it"},
	{"KPBX_SIP_UDP_PORT", SourcePBX, "SIP port over UDP"},
	{"KPBX_SIP_TCP_PORT", SourcePBX, "SIP port over TCP"},
	{"KPBX_SIP_TLS_PORT", SourcePBX, "SIP port over TLS"},
	{"KPBX_SIP_TRANSPORT", SourcePBX, "default transport: udp, tcp or tls"},
	{"KPBX_SIP_PORT", SourcePBX, "SIP port of the default transport"},
	{"KPBX_PROVISIONING_URL", SourcePBX, "base URL of this tenant's provisioning tree, ending in /"},
	{"KPBX_PROVISIONING_HOST", SourcePBX, "host[:port] of the provisioning URL"},
	{"KPBX_TENANT_UUID", SourcePBX, "the tenant's UUID"},
	{"KPBX_PROVISIONING_USER", SourcePBX, "user of the tenant's provisioning HTTP authentication (for a secret-free bootstrap file)"},
	{"KPBX_PROVISIONING_PASSWORD", SourcePBX, "password of the tenant's provisioning HTTP authentication"},
	{"KPBX_NTP_SERVER", SourcePBX, "NTP server"},
	{"KPBX_TIMEZONE", SourcePBX, "IANA time zone, e.g. Europe/Rome"},
	{"KPBX_TIMEZONE_OFFSET", SourcePBX, "standard UTC offset of the time zone in hours, e.g. +1 or -5 or +5.5"},
	{"KPBX_TIMEZONE_OFFSET_MINUTES", SourcePBX, "standard UTC offset of the time zone in minutes, e.g. 60"},
	{"KPBX_LANGUAGE", SourcePBX, "phone UI language, ISO 639-1 (en, it, de, ...)"},
	{"KPBX_VOICEMAIL_NUMBER", SourcePBX, "number to dial for voicemail"},
	{"KPBX_RESYNC_SECONDS", SourcePBX, "how often phones re-check their configuration, in seconds"},
	{"KPBX_PHONEBOOK_URL", SourcePBX, "URL of the tenant's phonebook directory, ending in /: add yealink.xml, snom.xml, fanvil.xml, grandstream.xml, cisco.xml or 000000000000-directory.xml"},

	{"ACCOUNT_EXTENSION", SourceAccount, "the extension number"},
	{"ACCOUNT_SIP_USERNAME", SourceAccount, "SIP user (From/Contact user)"},
	{"ACCOUNT_SIP_AUTH_USERNAME", SourceAccount, "SIP authentication user (defaults to the SIP user)"},
	{"ACCOUNT_SIP_PASSWORD", SourceAccount, "SIP password"},
	{"ACCOUNT_DISPLAY_NAME", SourceAccount, "caller name shown on the phone and sent in From"},
	{"ACCOUNT_FIRST_NAME", SourceAccount, "first name"},
	{"ACCOUNT_LAST_NAME", SourceAccount, "last name"},
	{"ACCOUNT_VOICEMAIL", SourceAccount, "voicemail box of the account (defaults to the extension)"},
	{"ACCOUNT_SIP_TRANSPORT", SourceAccount, "the account's transport: udp, tcp or tls (defaults to the PBX's)"},
	{"ACCOUNT_SIP_PORT", SourceAccount, "SIP port of the account's transport"},

	{"IPADDRMODE", SourceDevice, "dhcp or static"},
	{"IPADDR", SourceDevice, "static IPv4 address"},
	{"IPNETMASK", SourceDevice, "static netmask, dotted"},
	{"IPGATEWAY", SourceDevice, "static gateway"},
	{"IPDNS1", SourceDevice, "first DNS server"},
	{"IPDNS2", SourceDevice, "second DNS server"},
	{"PHONEUSERNAME", SourceDevice, "phone web interface user (also used for click-to-call)"},
	{"PHONEPASSWORD", SourceDevice, "phone web interface password"},
	{"MAC", SourceDevice, "MAC as AABBCCDDEEFF"},
	{"MAC_LOWER", SourceDevice, "MAC as aabbccddeeff"},
	{"MAC_COLON", SourceDevice, "MAC as AA:BB:CC:DD:EE:FF"},
	{"MAC_COLON_LOWER", SourceDevice, "MAC as aa:bb:cc:dd:ee:ff"},
	{"MAC_DASH", SourceDevice, "MAC as AA-BB-CC-DD-EE-FF"},
	{"MAC_DASH_LOWER", SourceDevice, "MAC as aa-bb-cc-dd-ee-ff"},
	{"DEVICE_MODEL", SourceDevice, "model name, e.g. T54W"},
	{"DEVICE_BRAND", SourceDevice, "brand name, e.g. Yealink"},
	{"DEVICE_LABEL", SourceDevice, "the device's label (its notes' first line)"},
}

var placeholderSource = func() map[string]string {
	m := map[string]string{}
	for _, p := range Placeholders {
		m[p.Name] = p.Source
	}
	return m
}()

// BuiltinPlaceholder reports the source of a built-in placeholder.
func BuiltinPlaceholder(name string) (source string, ok bool) {
	s, ok := placeholderSource[name]
	return s, ok
}

// KnownFor returns the placeholder check for a template of the given scope:
// device templates see everything; common-file templates see PBX and custom ones.
// custom reports whether a custom placeholder (leading underscore) is defined.
func KnownFor(scope string, custom func(name string) bool) func(string) bool {
	return func(name string) bool {
		if len(name) > 1 && name[0] == '_' {
			return custom != nil && custom(name)
		}
		src, ok := placeholderSource[name]
		if !ok {
			return false
		}
		return scope != ScopeCommon || src == SourcePBX
	}
}

// Template scopes.
const (
	ScopeDevice = "device" // rendered once per device: <prefix><MAC><suffix>
	ScopeCommon = "common" // rendered once per tenant and model: a fixed file name
)
