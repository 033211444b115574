package provision

import (
	"log/slog"
	"strings"
)

// ThrottledMsg is the message of the line every provisioning front end (HTTP,
// HTTPS, TFTP) writes when a source starts being throttled for asking for
// unknown files. The README documents it and the shipped fail2ban filter
// (packaging/fail2ban) matches it: change all three together.
const ThrottledMsg = "too many unknown files, throttling"

// LogThrottled writes that line, at WARN, with the source address and the
// name that tipped it over (cut to one printable line). It is the one place the
// line is made, so that TFTP and HTTP cannot drift apart again.
func LogThrottled(log *slog.Logger, src, file string) {
	log.Warn(ThrottledMsg, "src", src, "file", Printable(file))
}

// Printable keeps a client-sent string to one log line of at most 256 bytes.
func Printable(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
