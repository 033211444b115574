package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter is a token bucket per key that only failures drain.
type Limiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	m        map[string]*bucket
	now      func() time.Time
}

// SetClock replaces the clock (tests).
func (l *Limiter) SetClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

type bucket struct {
	tokens    float64
	last      time.Time
	throttled bool
}

// New allows burst failures, then one per interval.
func New(burst int, interval time.Duration) *Limiter {
	return &Limiter{burst: float64(burst), interval: interval, m: map[string]*bucket{}, now: time.Now}
}

// Sibling is a new, empty limiter with the same burst and interval: a budget
// of its own for another kind of failure.
func (l *Limiter) Sibling() *Limiter {
	return New(int(l.burst), l.interval)
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	b.tokens = math.Min(l.burst, b.tokens+float64(now.Sub(b.last))/float64(l.interval))
	b.last = now
}

// Wait is how long src must wait (0: serve it).
func (l *Limiter) Wait(src string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[src]
	if !ok {
		return 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		b.throttled = false
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.interval))
}

// Fail counts a failure; it reports true when this one starts throttling src.
func (l *Limiter) Fail(src string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.m[src]
	if !ok {
		if len(l.m) > 100000 {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.m[src] = b
	}
	l.refill(b, now)
	b.tokens = math.Max(0, b.tokens-1)
	if b.tokens < 1 && !b.throttled {
		b.throttled = true
		return true
	}
	return false
}

// prune forgets buckets that have refilled, so a scan from many addresses cannot
// grow the map without bound.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.m, k)
		}
	}
}
