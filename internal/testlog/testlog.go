// Package testlog is the concurrency-safe buffer tests hand to a server's logger
// or a child process's output, and read while it still writes.
package testlog

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects writes from any number of goroutines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// String is everything written so far.
func (l *Buffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Lines returns the lines holding every one of parts.
func (l *Buffer) Lines(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// Count is how many lines hold every one of parts.
func (l *Buffer) Count(parts ...string) int { return len(l.Lines(parts...)) }

// WaitLines polls until n lines hold every one of parts (servers may log a
// request after the client has its answer), and returns them.
func (l *Buffer) WaitLines(t testing.TB, n int, parts ...string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := l.Lines(parts...)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d log lines with %q, want %d:\n%s", len(got), parts, n, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
