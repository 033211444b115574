// Package procstat reads what the benchmarks print beside their figures from
// /proc: the load average, and the CPU time a process (a server under test)
// has used.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// LoadAvg is the 1-minute load average ("?" when /proc cannot say).
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// Times are the user and system time pid has used, from /proc/<pid>/stat
// (clock ticks of 10 ms: over a run of transfers or commits, enough); zero
// when the process is gone.
func Times(pid int) (user, sys time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The fields after the command (which may hold spaces) in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut) * 10 * time.Millisecond, time.Duration(st) * 10 * time.Millisecond
}

// CPU is user plus system time (Times).
func CPU(pid int) time.Duration {
	u, s := Times(pid)
	return u + s
}
