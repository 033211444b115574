package provision

import (
	"log/slog"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// ThrottledMsg is the message of the line every provisioning front end (HTTP,
// HTTPS, TFTP) writes when a source starts being throttled for asking for
// unknown files. The README documents it and the shipped fail2ban filter
// (packaging/fail2ban) matches it: change all three together.
const ThrottledMsg = "too many unknown files, throttling"

// Throttle is the budget of requests for unknown files that the provisioning
// front ends share (a scanner cannot double it by switching protocol), with
// the one logger that writes its line: TFTP and HTTP write one and the same
// line, so one fail2ban expression matches both.
type Throttle struct {
	limit *ratelimit.Limiter
	log   *slog.Logger
}

// NewThrottle shares limit among the front ends; log (in serve, the
// provisioning component's) writes the throttle line.
func NewThrottle(limit *ratelimit.Limiter, log *slog.Logger) *Throttle {
	return &Throttle{limit: limit, log: log}
}

// Wait is how long src must wait before an unknown name is answered (0: now).
func (t *Throttle) Wait(src string) time.Duration { return t.limit.Wait(src) }

// Fail counts a request of src for file, which named nothing; the one that
// starts throttling src is logged, at WARN, with the name cut to one line.
func (t *Throttle) Fail(src, file string) {
	if t.limit.Fail(src) {
		t.log.Warn(ThrottledMsg, "src", src, "file", LogPath(file))
	}
}

// Sibling is a budget of the same size of its own (ratelimit.Limiter.Sibling).
func (t *Throttle) Sibling() *ratelimit.Limiter { return t.limit.Sibling() }

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
