package httpprov

import (
	"testing"
	"time"
)

// TestDigestNonces (F6): nonces expire after their lifetime (answered as stale,
// so a phone retries with a new one) and the map of issued nonces never holds
// more than its cap, however many challenges are asked for.
func TestDigestNonces(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	n := newNonces(100, time.Minute)
	n.now = func() time.Time { return now }
	v := n.issue()
	if !n.use(v, 1, true) {
		t.Fatal("fresh nonce refused")
	}
	now = now.Add(time.Minute + time.Second)
	if n.use(v, 2, true) || n.known(v) {
		t.Error("a nonce older than its lifetime is still accepted")
	}
	for i := 0; i < 10_000; i++ {
		n.issue()
	}
	if l := n.len(); l > 100 {
		t.Errorf("%d nonces kept, cap 100", l)
	}
	// The newest are kept, so a phone that just got its challenge can answer it.
	last := n.issue()
	if !n.use(last, 1, true) {
		t.Error("the newest nonce was evicted")
	}
}
