package ha

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"time"
)

// hookRunner runs the role-change hooks one change at a time, in order, so that a
// quick active -> passive -> active never runs "stop" after the later "start".
type hookRunner struct {
	onActive, onPassive, units []string
	timeout                    time.Duration
	log                        *slog.Logger
	queue                      chan Role
}

func newHookRunner(c Config, log *slog.Logger) *hookRunner {
	return &hookRunner{onActive: c.OnActive, onPassive: c.OnPassive, units: c.Units, timeout: c.HookTimeout,
		log: log, queue: make(chan Role, 64)}
}

func (h *hookRunner) roleChanged(r Role) {
	select {
	case h.queue <- r:
	default:
		h.log.Error("hook queue full, a role change runs no hooks", "role", r.String())
	}
}

func (h *hookRunner) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-h.queue:
			cmds, verb := h.onPassive, "stop"
			if r == RoleActive {
				cmds, verb = h.onActive, "start"
			}
			for _, u := range h.units {
				h.exec(ctx, r, "systemctl", verb, u)
			}
			for _, c := range cmds {
				h.exec(ctx, r, "/bin/sh", "-c", c)
			}
		}
	}
}

func (h *hookRunner) exec(ctx context.Context, r Role, name string, args ...string) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_HA_ROLE="+r.String())
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if len(out) > 2048 {
		out = out[:2048]
	}
	attrs := []any{"role", r.String(), "command", append([]string{name}, args...), "took", time.Since(start).Round(time.Millisecond), "output", string(out)}
	if err != nil {
		h.log.Error("hook failed", append(attrs, "err", err)...)
		return
	}
	h.log.Info("hook ran", attrs...)
}
