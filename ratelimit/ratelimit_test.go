package ratelimit

import (
	"testing"
	"time"
)

func near(a, b time.Duration) bool {
	d := a - b
	return d > -time.Millisecond && d < time.Millisecond
}

func TestLimiter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	l := New(3, time.Minute)
	l.SetClock(func() time.Time { return now })
	advance := func(d time.Duration) { now = now.Add(d) }

	if w := l.Wait("a"); w != 0 {
		t.Fatalf("fresh key waits %v", w)
	}
	for i := 0; i < 3; i++ {
		if w := l.Wait("a"); w != 0 {
			t.Fatalf("after %d failures: wait %v, want 0", i, w)
		}
		l.Fail("a")
	}
	if w := l.Wait("a"); !near(w, time.Minute) {
		t.Fatalf("after burst: wait %v, want 1m", w)
	}
	if w := l.Wait("b"); w != 0 {
		t.Errorf("other key waits %v", w)
	}
	advance(20 * time.Second)
	if w := l.Wait("a"); !near(w, 40*time.Second) {
		t.Errorf("20s later: wait %v, want 40s", w)
	}
	advance(40 * time.Second)
	if w := l.Wait("a"); w != 0 {
		t.Errorf("one interval later: wait %v, want 0", w)
	}
	l.Fail("a") // the one earned attempt is used up
	if w := l.Wait("a"); !near(w, time.Minute) {
		t.Errorf("after failing the earned attempt: wait %v, want 1m", w)
	}
	// Failing while throttled does not dig deeper than empty.
	l.Fail("a")
	l.Fail("a")
	if w := l.Wait("a"); !near(w, time.Minute) {
		t.Errorf("failures while empty: wait %v, want 1m", w)
	}

	// A long quiet spell refills to burst, never beyond.
	advance(time.Hour)
	for i := 0; i < 3; i++ {
		if w := l.Wait("a"); w != 0 {
			t.Fatalf("after refill, attempt %d: wait %v", i, w)
		}
		l.Fail("a")
	}
	if w := l.Wait("a"); !near(w, time.Minute) {
		t.Errorf("refill went beyond burst: wait %v after 3 failures", w)
	}

	// prune forgets only full buckets.
	l.Fail("b")
	advance(30 * time.Second)
	l.Fail("c")
	advance(30 * time.Second) // b full again, c and a not
	l.prune(now)
	if _, ok := l.m["b"]; ok {
		t.Errorf("prune kept a full bucket")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := l.m[k]; !ok {
			t.Errorf("prune dropped bucket %s that is not full", k)
		}
	}
}

func TestLimiterBurstOne(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(1, 10*time.Second)
	l.SetClock(func() time.Time { return now })
	l.Fail("k")
	if w := l.Wait("k"); !near(w, 10*time.Second) {
		t.Errorf("wait %v, want 10s", w)
	}
	now = now.Add(9 * time.Second)
	if w := l.Wait("k"); !near(w, time.Second) {
		t.Errorf("wait %v, want 1s", w)
	}
	now = now.Add(time.Second)
	if w := l.Wait("k"); w != 0 {
		t.Errorf("wait %v, want 0", w)
	}
}
