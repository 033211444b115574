package e2e

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestPlaceholdersPanel: a static placeholder created, edited (made dynamic on
// the loopback interface, its current value shown) and deleted; a bad name
// refused; audit rows.
func TestPlaceholdersPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("placeholders/new")
	p.Fill("#placeholder-form", "name", "_bad name")
	p.Submit("#placeholder-form")
	if msg := p.FieldError("#placeholder-form", "name"); !strings.Contains(msg, "must start with _") {
		t.Errorf("bad name: %q", msg)
	}
	p.Fill("#placeholder-form", "name", "_FLOOR")
	p.Fill("#placeholder-form", "value", "third")
	p.Fill("#placeholder-form", "description", "the floor")
	if s := p.Text("#placeholder-current"); s != "third" {
		t.Errorf("current value of a static placeholder: %q", s)
	}
	p.Submit("#placeholder-form")
	p.Reshown("placeholders")
	p.WaitVisible(`#placeholders tr[data-name="_FLOOR"]`)
	p.Click(`#placeholders tr[data-name="_FLOOR"]`)
	p.Fill("#placeholder-form", "type", "dynamic")
	p.WaitOption("#placeholder-form", "interface", "lo")
	p.Fill("#placeholder-form", "interface", "lo")
	if s := p.Text("#placeholder-current"); s != "127.0.0.1" {
		t.Errorf("current value of lo: %q", s)
	}
	p.Shot("dynamic")
	p.Submit("#placeholder-form")
	p.Reshown("placeholders")
	if row := p.Text(`#placeholders tr[data-name="_FLOOR"]`); !strings.Contains(row, "127.0.0.1") || !strings.Contains(row, "from lo") {
		t.Errorf("dynamic row: %q", row)
	}
	if rows := env.AuditRows(t, "object_type=placeholder&action=update&user="+u.Name); len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), `"lo"`) {
		t.Errorf("update audit: %v", rows)
	}
	p.Click(`#placeholders tr[data-name="_FLOOR"]`)
	p.Click("#placeholder-delete")
	p.Confirm()
	p.Reshown("placeholders")
	p.WaitGone(`#placeholders tr[data-name="_FLOOR"]`)
	if rows := env.AuditRows(t, "object_type=placeholder&action=delete&user="+u.Name); len(rows) != 1 {
		t.Errorf("delete audit: %d rows", len(rows))
	}
}

// TestTemplatesPanel: a built-in template is read-only and copied; the copy
// edited in the editor (an unknown placeholder marks its line and is refused,
// a placeholder inserted from the list, the preview for a device follows the
// typing) and deleted; audit rows.
func TestTemplatesPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten)
	p, u := env.Page(t, "en", "admin", ten)
	p.Go("templates")
	p.WaitVisible(`#templates tr[data-id="yealink-device"]`)
	p.Click(`#templates tr[data-id="yealink-device"]`)
	p.WaitVisible("#template-form")
	if p.Count("#template-form button[type=submit]") != 0 || !strings.Contains(p.Text("main"), "Built-in template") {
		t.Errorf("a built-in template is editable")
	}
	p.Click("#template-copy")
	p.Reshown("")
	p.WaitVisible("#template-form button[type=submit]")
	if name := webuitest.Eval[string](p, `document.querySelector("#template-form [name=name]").value`); name != "Yealink (device) (copy)" {
		t.Errorf("copy's name: %q", name)
	}
	copyID := webuitest.Eval[string](p, `location.hash.split("/")[2]`)

	// A short body with an unknown placeholder on line 2.
	p.Fill("#template-form", "name", "Reception Yealink")
	p.Fill("#template-form", "body", "#!version:1.0.0.1\naccount.1.label = %%ACCOUNT_EXTENSON%%\n")
	p.WaitVisible(`.editor .gutter div.bad[data-line="2"]`)
	if s := p.Text("#template-problems"); !strings.Contains(s, "Line 2") || !strings.Contains(s, "%%ACCOUNT_EXTENSON%%") {
		t.Errorf("problem list: %q", s)
	}
	p.Submit("#template-form")
	p.WaitVisible(`#template-form [name=body][aria-invalid=true]`)
	p.Shot("unknown")
	// Fix it from the list of placeholders.
	p.Fill("#template-form", "body", "#!version:1.0.0.1\naccount.1.label = \n")
	p.Exec(`(() => { const a = document.querySelector("#template-form [name=body]"); a.focus(); a.setSelectionRange(36, 36); })()`)
	p.Type("#ph-filter", "EXTENSION")
	p.Click(`#ph-list button[data-ph="ACCOUNT_EXTENSION"]`)
	if body := webuitest.Eval[string](p, `document.querySelector("#template-form [name=body]").value`); body != "#!version:1.0.0.1\naccount.1.label = %%ACCOUNT_EXTENSION%%\n" {
		t.Errorf("inserted placeholder: %q", body)
	}
	p.WaitGone(`.editor .gutter div.bad`)
	// The preview renders it for the tenant's device as it is typed.
	p.Poll("preview", `(document.querySelector("#template-preview-body") || {}).textContent === "#!version:1.0.0.1\naccount.1.label = 201\n"`)
	p.Shot("editor")
	p.Submit("#template-form")
	p.Reshown("templates")
	p.WaitVisible(`#templates tr[data-id="` + copyID + `"]`)
	if row := p.Text(`#templates tr[data-id="` + copyID + `"]`); !strings.Contains(row, "Reception Yealink") || !strings.Contains(row, "this tenant's") {
		t.Errorf("edited copy: %q", row)
	}
	if rows := env.AuditRows(t, "object_type=template&action=update&user="+u.Name); len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), "ACCOUNT_EXTENSION") {
		t.Errorf("update audit: %v", rows)
	}
	p.Click(`#templates tr[data-id="` + copyID + `"]`)
	p.Click("#template-delete")
	p.Confirm()
	p.Reshown("templates")
	p.WaitGone(`#templates tr[data-id="` + copyID + `"]`)
	for _, a := range []string{"create", "delete"} {
		if rows := env.AuditRows(t, "object_type=template&action="+a+"&user="+u.Name); len(rows) != 1 {
			t.Errorf("%s audit: %d rows", a, len(rows))
		}
	}
}

// TestModelsPanel: a model created with a new brand (the example file name
// follows the rule as it is typed), edited, deleted; a bad rule refused; the
// built-in ones are read-only; audit rows.
func TestModelsPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	p, u := env.Page(t, "en", "tenant_admin", ten)
	p.Go("models/yealink-t46u")
	if p.Count("#model-form button[type=submit]") != 0 {
		t.Errorf("a built-in model is editable")
	}
	p.Go("models/new")
	p.Fill("#model-form", "brand", "\u0000new")
	p.Fill("#model-form", "new_brand", "Acme Phones")
	p.Fill("#model-form", "name", "AP-1")
	p.Fill("#model-form", "template", "yealink-device")
	p.Fill("#model-form", "prefix", "acme-")
	p.Fill("#model-form", "mac_format", "AA-BB-CC-DD-EE-FF")
	p.Fill("#model-form", "suffix", ".conf")
	if s := p.Text("#model-example"); s != "acme-00-15-65-12-34-56.conf" {
		t.Errorf("example file name: %q", s)
	}
	p.Fill("#model-form", "suffix", "/x")
	p.Submit("#model-form")
	if msg := p.FieldError("#model-form", "suffix"); !strings.Contains(msg, "Do not use") {
		t.Errorf("bad suffix: %q", msg)
	}
	p.Fill("#model-form", "suffix", ".conf")
	p.Click("#cf-add")
	p.Exec(`(() => { const r = document.querySelector("#model-form .cf-row"); r.querySelector("input").value = "acme-common.cfg"; r.querySelector("select").value = "yealink-common"; })()`)
	p.Shot("new")
	p.Submit("#model-form")
	p.Reshown("models")
	var id string
	p.Poll("new model row", `[...document.querySelectorAll("#models tr[data-id]")].some(r => r.textContent.includes("AP-1"))`)
	id = webuitest.Eval[string](p, `[...document.querySelectorAll("#models tr[data-id]")].find(r => r.textContent.includes("AP-1")).dataset.id`)
	if row := p.Text(`#models tr[data-id="` + id + `"]`); !strings.Contains(row, "Acme Phones") || !strings.Contains(row, "acme-00-15-65-12-34-56.conf") {
		t.Errorf("new row: %q", row)
	}
	p.Click(`#models tr[data-id="` + id + `"]`)
	p.Fill("#model-form", "mac_format", "aabbccddeeff")
	p.Fill("#model-form", "lines", "4")
	p.Submit("#model-form")
	p.Reshown("models")
	p.Poll("edited row", `document.querySelector('#models tr[data-id="`+id+`"]').textContent.includes("acme-001565123456.conf".toLowerCase())`)
	rows := env.AuditRows(t, "object_type=model&action=update&user="+u.Name)
	if len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), "acme-common.cfg") || !strings.Contains(asJSON(rows[0]["after"]), `"lines":4`) {
		t.Errorf("update audit: %v", rows)
	}
	p.Click(`#models tr[data-id="` + id + `"]`)
	p.Click("#model-delete")
	p.Confirm()
	p.Reshown("models")
	p.WaitGone(`#models tr[data-id="` + id + `"]`)
	if rows := env.AuditRows(t, "object_type=model&action=delete&user="+u.Name); len(rows) != 1 {
		t.Errorf("delete audit: %d rows", len(rows))
	}
}
