package provision

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// Secret device URLs. A phone's MAC is printed on its box and label and is
// sent in clear on the LAN: it is not a secret, so a file with a SIP or admin
// password must not be had for a MAC alone. Each device gets a random token,
// and its full file is served under <tenant tree>/<token>/<file>; with
// PBXSettings.SecureURLs on (new tenants) that is the only way to it.

// urlTokenLength is the length of a token: 32 hex digits, 128 bits.
const urlTokenLength = 32

// NewURLToken returns a fresh random device token.
func NewURLToken() string {
	var b [urlTokenLength / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// isURLToken reports whether s has a token's shape (32 lower-case hex digits).
func isURLToken(s string) bool {
	if len(s) != urlTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// LogPath is a request path fit for a log line: every element shaped like a
// device token is replaced by ********, so that logs (readable by more people
// than the secrets) never carry a working secret URL.
func LogPath(path string) string {
	if len(path) < urlTokenLength {
		return Printable(path)
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if isURLToken(strings.ToLower(p)) {
			parts[i] = "********"
		}
	}
	return Printable(strings.Join(parts, "/"))
}

// DeviceDir is the URL of a device's secret directory: the tenant's
// provisioning URL (ending in /) followed by the token. Without a token it
// is the tenant's URL.
func DeviceDir(tenantURL, token string) string {
	if token == "" {
		return tenantURL
	}
	return tenantURL + token + "/"
}

// stripToken splits a request path into the device token it carries and the
// path without it: "<tenant>/<token>/<rest>" (multi-tenant) or
// "<token>/<rest>" (single-tenant). ok is false when the path has no element
// of a token's shape where a token goes.
func stripToken(path string, multi bool) (token, rest string, ok bool) {
	prefix := ""
	rest = path
	if multi {
		t, r, found := strings.Cut(path, "/")
		if !found {
			return "", "", false
		}
		prefix, rest = t+"/", r
	}
	tok, r, found := strings.Cut(rest, "/")
	if !found || !isURLToken(tok) {
		return "", "", false
	}
	return tok, prefix + r, true
}
