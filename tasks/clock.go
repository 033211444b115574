package tasks

import "time"

// Clock is the scheduler's time: the real one in the daemon, a fake one in
// tests that steps across DST changes and month ends in microseconds.
type Clock interface {
	Now() time.Time
	// Timer fires once on the returned channel after d; stop releases it.
	Timer(d time.Duration) (c <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}
