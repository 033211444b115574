package procstat

import (
	"os"
	"testing"
	"time"
)

// TestTimesOfThisProcess: a process that burned CPU reads back at least a
// tick of it; a process that does not exist reads zero.
func TestTimesOfThisProcess(t *testing.T) {
	for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
	}
	if u, s := Times(os.Getpid()); u+s < 10*time.Millisecond || CPU(os.Getpid()) < u+s {
		t.Fatalf("this process used %v user, %v system after 100 ms of spinning", u, s)
	}
	if u, s := Times(1 << 30); u != 0 || s != 0 {
		t.Fatalf("a process that does not exist: %v %v", u, s)
	}
	if LoadAvg() == "?" {
		t.Fatal("no load average in /proc")
	}
}
