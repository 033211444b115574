package e2e

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestModelFirmwareField: the model page offers the tenant's uploaded files
// as the target firmware. A built-in model gets a form of its own: saved
// (the resync offer declined), the device's file names the firmware and the
// page shows the choice again; an auditor sees it disabled. A tenant's own
// model has the field in its form (Italian), and "none" clears it.
func TestModelFirmwareField(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten)
	base := "/tenants/" + ten
	const fw = "T46U-108.86.0.20.rom"
	for _, n := range []string{fw, "other.bin"} {
		if code, err := env.D.API("PUT", base+"/assets/"+n, env.Token, "image "+n, nil); err != nil || code >= 300 {
			t.Fatalf("upload %s: %d %v", n, code, err)
		}
	}
	firmwareOf := func(id string) string {
		var m struct{ Firmware string }
		if code, err := env.D.API("GET", base+"/models/"+id, env.Token, nil, &m); err != nil || code != 200 {
			t.Fatalf("model %s: %d %v", id, code, err)
		}
		return m.Firmware
	}

	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("models/yealink-t46u")
	p.WaitVisible("#model-firmware-form")
	if p.Count("#model-form button[type=submit]") != 0 || p.Count("#model-form [name=firmware]") != 0 {
		t.Errorf("a built-in model's own form is editable or has the firmware")
	}
	p.WaitOption("#model-firmware-form", "firmware", "other.bin")
	if opts := webuitest.Eval[[]string](p, `[...document.querySelector("#model-firmware-form [name=firmware]").options].map(o => o.value)`); strings.Join(opts, ",") != ",T46U-108.86.0.20.rom,other.bin" {
		t.Errorf("firmware options: %q", opts)
	}
	p.Fill("#model-firmware-form", "firmware", fw)
	p.Shot("builtin")
	p.Submit("#model-firmware-form")
	// The tenant's device uses the model: the resync offer comes, declined.
	p.WaitVisible("#resync-offer")
	p.Click("dialog[open] #confirm-cancel")
	waitFor(t, "firmware saved", func() bool { return firmwareOf("yealink-t46u") == fw })
	p.Poll("the choice shown again", `(document.querySelector("#model-firmware-form [name=firmware]") || {}).value === "`+fw+`"`)
	waitFor(t, "the device file names the firmware", func() bool {
		resp, body, err := env.D.Get("/provisioning/" + ten + "/001565000201.cfg")
		return err == nil && resp.StatusCode == 200 && strings.Contains(string(body), "\nstatic.firmware.url = ") &&
			strings.Contains(string(body), "/provisioning/"+ten+"/"+fw+"\n")
	})
	if rows := env.AuditRows(t, "object_type=firmware&action=create&user="+u.Name); len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), fw) {
		t.Errorf("firmware audit: %v", rows)
	}

	// An auditor sees the choice, disabled.
	pa, _ := env.Page(t, "en", "auditor", ten)
	pa.Go("models/yealink-t46u")
	pa.WaitVisible("#model-firmware-form")
	if !webuitest.Eval[bool](pa, `(() => { const s = document.querySelector("#model-firmware-form [name=firmware]"); return s.disabled && s.value === "`+fw+`"; })()`) ||
		pa.Count("#model-firmware-form button[type=submit]") != 0 {
		t.Errorf("auditor: the firmware is not shown read-only")
	}

	// A tenant's own model (a copy): the field is in its form, in Italian too.
	var own struct{ ID string }
	if code, err := env.D.API("POST", base+"/models/yealink-t46u/copy", env.Token, map[string]string{"name": "T46U ufficio"}, &own); err != nil || code != 201 {
		t.Fatalf("copy: %d %v", code, err)
	}
	if got := firmwareOf(own.ID); got != fw {
		t.Errorf("the copy's firmware: %q, want the original's", got)
	}
	pi, _ := env.Page(t, "it", "tenant_admin", ten)
	pi.Go("models/" + own.ID)
	pi.WaitVisible("#model-form [name=firmware]")
	if pi.Count("#model-firmware-form") != 0 {
		t.Errorf("an own model has a second firmware form")
	}
	if s := webuitest.Eval[string](pi, `(() => { const s = document.querySelector("#model-form [name=firmware]");
		return document.querySelector('label[for="' + s.id + '"]').textContent + "|" + s.options[0].textContent; })()`); strings.NewReplacer("\u2062", "", "\u2063", "").Replace(s) != "Firmware di destinazione|Nessuno: i telefoni tengono il loro" {
		t.Errorf("Italian firmware field: %q", s)
	}
	if bad := pi.Untranslated(); len(bad) > 0 {
		t.Errorf("untranslated text: %q", bad)
	}
	pi.Fill("#model-form", "firmware", "other.bin")
	pi.Submit("#model-form")
	pi.Reshown("models")
	waitFor(t, "own model's firmware", func() bool { return firmwareOf(own.ID) == "other.bin" })
	pi.Go("models/" + own.ID)
	pi.WaitVisible("#model-form [name=firmware]")
	pi.Fill("#model-form", "firmware", "")
	pi.Submit("#model-form")
	pi.Reshown("models")
	waitFor(t, "own model's firmware cleared", func() bool { return firmwareOf(own.ID) == "" })
}
