package e2e

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestDoctorPanel: the Diagnostics page runs the daemon's checks and shows one
// row per check with its verdict; the database and audit chain pass, the
// checks of what is not configured say so, the unreachable AMI fails with its
// fix, and "Run again" runs them again.
func TestDoctorPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	p, _ := env.Page(t, "en", "admin", ten)
	p.Go("doctor")
	p.WaitVisible(`#doctor-checks tr[data-check="audit.chain"]`)
	p.Shot("doctor")
	for check, status := range map[string]string{"audit.chain": "OK", "db.integrity": "OK", "public.address": "SKIP", "ha.peer": "SKIP", "pbx.ami": "FAIL"} {
		if n := p.Count(`#doctor-checks tr[data-check="` + check + `"][data-status="` + status + `"]`); n != 1 {
			t.Errorf("%s: no %s row:\n%s", check, status, p.Text("#doctor-checks"))
		}
	}
	if txt := p.Text(`#doctor-checks tr[data-check="public.address"]`); !strings.Contains(txt, "off by default") {
		t.Errorf("public.address row: %q", txt)
	}
	// The shared daemon's AMI address answers nothing: a failure with its fix.
	if txt := p.Text(`#doctor-checks tr[data-check="pbx.ami"]`); !strings.Contains(txt, "connection refused") || !strings.Contains(txt, "manager.conf") {
		t.Errorf("pbx.ami row: %q", txt)
	}
	if n := p.Count("#doctor-checks tr[data-check]"); n < 20 {
		t.Errorf("%d checks shown", n)
	}
	p.Click("#doctor-rerun")
	p.WaitVisible(`#doctor-checks tr[data-check="audit.chain"]`)
}
