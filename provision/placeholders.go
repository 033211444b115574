package provision

// Placeholder sources. A template rendered for a common file (one per tenant and
// model, no device) may only use PBX placeholders and custom ones.
const (
	SourcePBX     = "pbx"
	SourceAccount = "account"
	SourceDevice  = "device"
	SourceCustom  = "custom"
	SourceLine    = "line" // inside %%FOR LINES%% and %%FOR ALL LINES%%
	SourceKey     = "key"  // inside %%FOR KEYS%% and %%FOR ALL KEYS%%
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
	{"KPBX_TIMEZONE_OFFSET_HM", SourcePBX, "standard UTC offset as +HH:MM, e.g. +05:30"},
	{"KPBX_TIMEZONE_POSIX", SourcePBX, "the zone as a POSIX TZ rule with every field, e.g. CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00"},
	{"KPBX_TIMEZONE_SNOM", SourcePBX, "Snom's name of the zone (country and offset, e.g. ITA+1, GBR-0 for UTC)"},
	{"KPBX_TIMEZONE_GIGASET", SourcePBX, "a zone Gigaset systems list: the zone itself, Greenwich for UTC, else the nearest listed zone"},
	{"KPBX_TIMEZONE_NAME_YEALINK", SourcePBX, "the Yealink (and Akuvox) name of a zone with daylight saving, e.g. Italy(Rome); empty for others"},
	{"KPBX_DST", SourcePBX, "1 when the zone has daylight saving time, else empty"},
	{"KPBX_DST_SAVE_MINUTES", SourcePBX, "minutes daylight saving adds, e.g. 60"},
	{"KPBX_DST_START_MONTH", SourcePBX, "month daylight saving starts in, 1-12"},
	{"KPBX_DST_START_WEEK", SourcePBX, "its week of the month: 1-4, 5 for the last"},
	{"KPBX_DST_START_WEEKDAY", SourcePBX, "its day of the week: 0 Sunday .. 6 Saturday"},
	{"KPBX_DST_START_DAY", SourcePBX, "this year's day of the month it starts on"},
	{"KPBX_DST_START_HOUR", SourcePBX, "the local hour it starts at (standard time)"},
	{"KPBX_DST_START_MINUTE", SourcePBX, "the minute it starts at"},
	{"KPBX_DST_END_MONTH", SourcePBX, "month daylight saving ends in, 1-12"},
	{"KPBX_DST_END_WEEK", SourcePBX, "its week of the month: 1-4, 5 for the last"},
	{"KPBX_DST_END_WEEKDAY", SourcePBX, "its day of the week: 0 Sunday .. 6 Saturday"},
	{"KPBX_DST_END_DAY", SourcePBX, "this year's day of the month it ends on"},
	{"KPBX_DST_END_HOUR", SourcePBX, "the local hour it ends at (daylight time)"},
	{"KPBX_DST_END_MINUTE", SourcePBX, "the minute it ends at"},
	{"KPBX_LANGUAGE", SourcePBX, "phone UI language, ISO 639-1 (en, it, de, ...)"},
	{"KPBX_VOICEMAIL_NUMBER", SourcePBX, "number to dial for voicemail"},
	{"KPBX_RESYNC_SECONDS", SourcePBX, "how often phones re-check their configuration, in seconds (0: never)"},
	{"KPBX_RESYNC_MINUTES", SourcePBX, "the same in minutes, rounded up (4000 s is 67), for phones that count in minutes"},
	{"KPBX_RESYNC_HOURS", SourcePBX, "the same in hours, rounded up, for phones that count in hours"},
	{"KPBX_PICKUP_PREFIX", SourcePBX, "feature code dialled before an extension to pick up its call (directed pickup), e.g. **"},
	{"KPBX_GROUP_PICKUP_CODE", SourcePBX, "feature code that picks up a call ringing in the group, e.g. *8"},
	{"KPBX_DND_CODE", SourcePBX, "feature code that toggles do-not-disturb on the PBX, e.g. *76"},
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
	{"PHONEUSERNAME", SourceDevice, "phone web interface user: the device's phone_username, else admin (also used for click-to-call)"},
	{"PHONEPASSWORD", SourceDevice, "phone web interface password: the same as PHONE_ADMIN_PASSWORD (KalliopePBX's name)"},
	{"PHONE_ADMIN_PASSWORD", SourceDevice, "the phone's administrator (web) password: the device's phone_password, else the tenant's phone_admin_password; never empty"},
	{"MAC", SourceDevice, "MAC as AABBCCDDEEFF"},
	{"MAC_LOWER", SourceDevice, "MAC as aabbccddeeff"},
	{"MAC_COLON", SourceDevice, "MAC as AA:BB:CC:DD:EE:FF"},
	{"MAC_COLON_LOWER", SourceDevice, "MAC as aa:bb:cc:dd:ee:ff"},
	{"MAC_DASH", SourceDevice, "MAC as AA-BB-CC-DD-EE-FF"},
	{"MAC_DASH_LOWER", SourceDevice, "MAC as aa-bb-cc-dd-ee-ff"},
	{"DEVICE_MODEL", SourceDevice, "model name, e.g. T54W"},
	{"DEVICE_BRAND", SourceDevice, "brand name, e.g. Yealink"},
	{"DEVICE_LABEL", SourceDevice, "the device's label (its notes' first line)"},
	{"DEVICE_LINES", SourceDevice, "how many lines (accounts) the device has"},
	{"KPBX_FIRMWARE_URL", SourceDevice, "URL of the target firmware of the device's model (one of the tenant's uploaded files), in the device's own directory of the tree (its secret one with secure URLs); empty when the model has none: use it inside %%IF KPBX_FIRMWARE_URL%%. In a common file: the firmware of the models that list the file, in the tenant's directory (empty when they differ)"},

	{"LINE_NUMBER", SourceLine, "the line's number on the device, from 1 (line 1 is the ACCOUNT_ placeholders' account)"},
	{"LINE_INDEX0", SourceLine, "the line's number from 0"},
	{"LINE_ACTIVE", SourceLine, "1 when an account is on the line; empty for the unused lines of FOR ALL LINES"},
	{"LINE_HANDSET_ID", SourceLine, "the DECT handset of the line, 5 digits (00001)"},
	{"LINE_DECT_CODE", SourceLine, "the handset's DECT registration code: the extension's last 4 digits (0000 when not numeric)"},
	{"LINE_EXTENSION", SourceLine, "the line's extension number"},
	{"LINE_SIP_USERNAME", SourceLine, "SIP user of the line"},
	{"LINE_SIP_AUTH_USERNAME", SourceLine, "SIP authentication user of the line"},
	{"LINE_SIP_PASSWORD", SourceLine, "SIP password of the line"},
	{"LINE_DISPLAY_NAME", SourceLine, "caller name of the line"},
	{"LINE_FIRST_NAME", SourceLine, "first name of the line's account"},
	{"LINE_LAST_NAME", SourceLine, "last name of the line's account"},
	{"LINE_LABEL", SourceLine, "the line's label on the phone (the device's, else the display name)"},
	{"LINE_VOICEMAIL", SourceLine, "voicemail box of the line"},
	{"LINE_SIP_TRANSPORT", SourceLine, "transport of the line: udp, tcp or tls"},
	{"LINE_SIP_PORT", SourceLine, "SIP port of the line's transport"},

	{"KEY_INDEX", SourceKey, "the key's position on the phone or on its expansion module, from 1"},
	{"KEY_INDEX0", SourceKey, "the key's position from 0"},
	{"KEY_MODULE", SourceKey, "0 for a key of the phone, 1.. for a key of that expansion module"},
	{"KEY_POSITION", SourceKey, "the key's position counting the phone's keys, then each module's, from 1"},
	{"KEY_POSITION0", SourceKey, "KEY_POSITION from 0"},
	{"KEY_TYPE", SourceKey, "line, blf, speed_dial, park, pickup, group_pickup, dnd, transfer, voicemail, url, intercom, forward, hold or conference; in FOR ALL KEYS the phone's first free keys are line keys of lines 1, 2, ... and the others empty"},
	{"KEY_VALUE", SourceKey, "what the key dials, watches or opens (an extension, a number, a URL)"},
	{"KEY_LABEL", SourceKey, "the key's label (its value when none is set)"},
	{"KEY_LINE", SourceKey, "the device line the key uses, from 1"},
	{"KEY_LINE0", SourceKey, "the device line the key uses, from 0"},
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

// loopPlaceholder is the loop a built-in loop placeholder belongs to (LINES or
// KEYS), or "".
func loopPlaceholder(name string) string {
	switch placeholderSource[name] {
	case SourceLine:
		return LoopLines
	case SourceKey:
		return LoopKeys
	}
	return ""
}

// KnownFor returns the placeholder check for a template of the given scope:
// device templates see everything; common-file templates see PBX and custom ones,
// and the firmware URL of the models that list them.
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
		return scope != ScopeCommon || src == SourcePBX || name == "KPBX_FIRMWARE_URL"
	}
}

// Template scopes.
const (
	ScopeDevice = "device" // rendered once per device: <prefix><MAC><suffix>
	ScopeCommon = "common" // rendered once per tenant and model: a fixed file name
)
