package ha

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

type syncWriter = testlog.Buffer

func TestHooksRunInOrderAndLogResults(t *testing.T) {
	f := filepath.Join(t.TempDir(), "out")
	c := DefaultConfig()
	c.OnActive = []string{`echo "active $SWITCHBOARD_HA_ROLE" >> ` + f}
	c.OnPassive = []string{`echo passive >> ` + f, `echo boom; exit 3`}
	c.HookTimeout = 5 * time.Second
	var logs syncWriter
	h := newHookRunner(c, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.run(ctx)
	h.roleChanged(RoleActive)
	h.roleChanged(RolePassive)
	h.roleChanged(RoleActive)
	ok := false
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(f)
		if strings.Count(string(b), "\n") == 3 {
			ok = true
			break
		}
	}
	b, _ := os.ReadFile(f)
	if !ok || string(b) != "active active\npassive\nactive active\n" {
		t.Fatalf("hooks ran out of order or not at all: %q", b)
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !strings.Contains(logs.String(), "hook failed"); {
		time.Sleep(20 * time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, "hook failed") || !strings.Contains(l, "boom") || !strings.Contains(l, "exit status 3") {
		t.Fatalf("failed hook not logged with its output and status:\n%s", l)
	}
}
