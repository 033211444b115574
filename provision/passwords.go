package provision

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"

	"github.com/switchboard-pbx/switchboard/store"
)

// Password policy for what phones hold: SIP passwords and the phones' admin
// passwords. A phone on a LAN is scanned and guessed at like any web server,
// and a SIP account is money; the policy refuses what a guesser tries first.

// MinSecretLength is the shortest SIP or phone admin password accepted.
const MinSecretLength = 8

// weakSecrets are passwords (lower-cased) guessers try first; a password
// made of one of them and digits is refused too.
var weakSecrets = []string{"password", "passw0rd", "admin", "administrator", "welcome", "qwerty", "azerty",
	"letmein", "secret", "changeme", "default", "phone", "voip", "sip", "asterisk", "freepbx", "yealink",
	"snom", "fanvil", "grandstream", "polycom", "cisco", "gigaset", "user", "guest", "test", "root"}

// checkSecret applies the policy to pw, a value of field; name is the user the
// password belongs to (an extension, a SIP user), which it must not contain.
func checkSecret(field, pw string, names ...string) error {
	switch {
	case len(pw) > 128 || strings.ContainsAny(pw, "\r\n"):
		return verr(field, "%s must be at most 128 characters on one line", field)
	case len(pw) < MinSecretLength:
		return verr(field, "%s is too weak: it must have at least %d characters", field, MinSecretLength)
	}
	lower := strings.ToLower(pw)
	if trivial(lower) {
		return verr(field, "%s is too weak: a run or repetition of one character (like 12345678 or aaaaaaaa) is guessed first", field)
	}
	core := strings.Trim(lower, "0123456789")
	for _, w := range weakSecrets {
		if core == w {
			return verr(field, "%s is too weak: %q (with digits or not) is among the first passwords guessed", field, w)
		}
	}
	for _, n := range names {
		if n != "" && strings.Trim(lower, strings.ToLower(n)) == "" {
			return verr(field, "%s is too weak: it is the user name %q (repeated), which scanners try first", field, n)
		}
	}
	if classes(pw) < 2 {
		return verr(field, "%s is too weak: mix at least two of lower-case letters, upper-case letters, digits and symbols", field)
	}
	return nil
}

// trivial reports a repetition of one character or a run (abcd..., 1234...,
// 9876...).
func trivial(s string) bool {
	same, up, down := true, true, true
	for i := 1; i < len(s); i++ {
		same = same && s[i] == s[0]
		up = up && s[i] == s[i-1]+1
		down = down && s[i] == s[i-1]-1
	}
	return same || up || down
}

func classes(s string) int {
	var lower, upper, digit, other int
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			lower = 1
		case c >= 'A' && c <= 'Z':
			upper = 1
		case c >= '0' && c <= '9':
			digit = 1
		default:
			other = 1
		}
	}
	return lower + upper + digit + other
}

// GeneratePassword makes a random password of n characters (letters and
// digits without look-alikes) with at least one lower-case letter, one
// upper-case letter and one digit, as phones' keypads can type it.
func GeneratePassword(n int) string {
	const lower, upper, digits = "abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"
	pick := func(set string) byte {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // does not fail on Linux
		}
		return set[k.Int64()]
	}
	for {
		b := make([]byte, n)
		for i := range b {
			b[i] = pick(lower + upper + digits)
		}
		if s := string(b); strings.ContainsAny(s, lower) && strings.ContainsAny(s, upper) && strings.ContainsAny(s, digits) {
			return s
		}
	}
}

// DefaultPhoneAdminUser is the phones' web administrator when a device names
// none (Yealink, Snom, Fanvil, Grandstream call theirs admin).
const DefaultPhoneAdminUser = "admin"

// PhoneLogin is how to log in to a phone's web interface: the device's own
// credentials, else the administrator with the tenant's phone admin password.
// The CTI's click-to-call drives phones with it.
type PhoneLogin struct {
	User     string
	Password string
}

// PhoneLoginOf returns the login of device d, reading the tenant's settings in tx.
func PhoneLoginOf(tx *store.Tx, d Device) (PhoneLogin, error) {
	p, err := getPBX(tx, d.Tenant)
	if err != nil {
		return PhoneLogin{}, err
	}
	return phoneLogin(d, p), nil
}

func phoneLogin(d Device, p PBXSettings) PhoneLogin {
	l := PhoneLogin{User: d.PhoneUsername, Password: d.PhonePassword}
	if l.User == "" {
		l.User = DefaultPhoneAdminUser
	}
	if l.Password == "" {
		l.Password = p.PhoneAdminPassword
	}
	return l
}
