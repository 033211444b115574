package ha

import (
	"context"
	"log/slog"
	"sync"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// pingGroup pings every target each interval and counts those that answered within
// the window.
type pingGroup struct {
	targets  []string
	interval time.Duration
	window   time.Duration
	log      *slog.Logger

	mu   sync.Mutex
	last map[string]time.Time
}

func newPingGroup(targets []string, interval, window time.Duration, log *slog.Logger) *pingGroup {
	return &pingGroup{targets: targets, interval: interval, window: window, log: log, last: map[string]time.Time{}}
}

// reach counts the targets heard from within the window before now.
func (g *pingGroup) reach(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, t := range g.targets {
		if at, ok := g.last[t]; ok && now.Sub(at) <= g.window {
			n++
		}
	}
	return n
}

// run pings every target until ctx ends.
func (g *pingGroup) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range g.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.pingLoop(ctx, t)
		}()
	}
	wg.Wait()
}

func (g *pingGroup) pingLoop(ctx context.Context, target string) {
	logged := false
	for ctx.Err() == nil {
		p, err := probing.NewPinger(target)
		if err == nil {
			p.SetPrivileged(true)
			p.Interval = g.interval
			p.Timeout = 24 * time.Hour
			p.RecordRtts = false
			p.OnRecv = func(*probing.Packet) {
				g.mu.Lock()
				g.last[target] = time.Now()
				g.mu.Unlock()
			}
			// A send error (an unreachable route) ends Run: start over after a pause.
			err = p.RunWithContext(ctx)
		}
		if err != nil && ctx.Err() == nil && !logged {
			g.log.Warn("pinging a ping-group target", "target", target, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(g.interval):
		}
	}
}
