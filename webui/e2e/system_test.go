package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestAuditPanel: the audit log filtered, a column added with the chooser (kept
// across visits), a change shown field by field, restored after confirming
// (the restore is itself a row), the chain verified; a bad filter refused.
func TestAuditPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	_, devID := fixtures(t, env, ten)
	if code, err := env.D.API("PATCH", "/tenants/"+ten+"/devices/"+devID, env.Token, map[string]any{"notes": "moved to the lab"}, nil); err != nil || code != 200 {
		t.Fatalf("device edit: %d %v", code, err)
	}
	p, u := env.Page(t, "en", "admin", ten)
	p.Go("audit")
	p.Fill("#audit-filters", "month", "2026/03")
	p.Submit("#audit-filters")
	if msg := p.FieldError("#audit-filters", "month"); !strings.Contains(msg, "YYYY-MM") {
		t.Errorf("bad month: %q", msg)
	}
	p.Fill("#audit-filters", "month", "")
	p.Fill("#audit-filters", "object_type", "device")
	p.Fill("#audit-filters", "action", "update")
	p.Submit("#audit-filters")
	p.Reshown("audit?object_type=device&action=update")
	// The column chooser: the object id is hidden at first; shown, it stays.
	if p.Count("#audit th") != 8 {
		t.Errorf("default columns: %d", p.Count("#audit th"))
	}
	p.Click("#audit-columns summary")
	p.Click(`#audit-columns input[value="object_id"]`)
	p.Reshown("")
	p.Go("audit?object_type=device&action=update")
	if !strings.Contains(p.Text("#audit thead"), "Identifier") {
		t.Errorf("chosen column not kept: %q", p.Text("#audit thead"))
	}
	p.Poll("the edit's row", fmt.Sprintf(`[...document.querySelectorAll("#audit tbody tr[data-id]")].some(r => r.textContent.includes(%q))`, devID))
	p.Shot("list")
	p.Exec(fmt.Sprintf(`[...document.querySelectorAll("#audit tbody tr[data-id]")].find(r => r.textContent.includes(%q)).click()`, devID))
	p.WaitVisible("#audit-diff")
	diff := p.Text("#audit-diff")
	if !strings.Contains(diff, "reception") || !strings.Contains(diff, "moved to the lab") || strings.Contains(diff, "yealink-t46u") {
		t.Errorf("diff (only the changed field): %q", diff)
	}
	p.Shot("detail")
	p.Click("#restore")
	if s := p.Text("dialog[open]"); !strings.Contains(s, "Before") {
		t.Errorf("restore dialog: %q", s)
	}
	p.Confirm()
	p.Reshown("")
	p.WaitVisible("main .msg.ok")
	var d map[string]any
	env.D.API("GET", "/tenants/"+ten+"/devices/"+devID, env.Token, nil, &d)
	if d["notes"] != "reception" {
		t.Errorf("after restore: notes %v", d["notes"])
	}
	if rows := env.AuditRows(t, "action=restore&user="+u.Name); len(rows) != 1 {
		t.Errorf("restore rows: %d", len(rows))
	}
	p.Go("audit")
	p.Click("#verify")
	p.WaitVisible("main .msg.ok")
	if s := p.Text("main .msg.ok"); !strings.Contains(s, "Chain intact") {
		t.Errorf("verify: %q", s)
	}
}

// TestCTIPanel: a CTI profile and a user created, edited and deleted; a
// default endpoint the user does not have refused by the daemon (the field
// named); audit rows.
func TestCTIPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	p, u := env.Page(t, "en", "admin", ten)
	prof := strings.ReplaceAll(env.Name(t, "p"), "-", "_")
	user := env.Name(t, "cti")

	p.Go("cti/profiles/new")
	p.Fill("#cti-profile-form", "id", prof)
	p.Fill("#cti-profile-form", "name", "Operators")
	p.Submit("#cti-profile-form")
	p.Reshown("cti/profiles")
	p.WaitVisible(`#cti-profiles tr[data-id="` + prof + `"]`)

	p.Go("cti/users/new")
	p.Fill("#cti-user-form", "username", user)
	p.Fill("#cti-user-form", "name", "Alice Operator")
	p.Fill("#cti-user-form", "mainextension", "201")
	p.Fill("#cti-user-form", "profile", prof)
	p.Fill("#cti-user-form", "password", "alice-password-1")
	p.Click("#ep-add")
	p.Exec(`(() => { const r = document.querySelector("#cti-user-form .ep-row"); r.querySelector('[data-ep="id"]').value = "201"; r.querySelector('[data-ep="type"]').value = "physical"; })()`)
	p.Fill("#cti-user-form", "default_device", "999")
	p.Submit("#cti-user-form")
	if msg := p.FieldError("#cti-user-form", "default_device"); !strings.Contains(msg, "Default endpoint") {
		t.Errorf("default endpoint not among the endpoints: %q", msg)
	}
	p.Fill("#cti-user-form", "default_device", "201")
	p.Submit("#cti-user-form")
	p.Reshown("cti")
	p.WaitVisible(`#cti-users tr[data-user="` + user + `"]`)
	if s := p.Text(`#cti-users tr[data-user="` + user + `"]`); !strings.Contains(s, "Operators") || !strings.Contains(s, "201 (physical)") {
		t.Errorf("user row: %q", s)
	}
	p.Click(`#cti-users tr[data-user="` + user + `"]`)
	p.Fill("#cti-user-form", "email", "alice@example.com")
	p.Fill("#cti-user-form", "disabled", "true")
	p.Submit("#cti-user-form")
	p.Reshown("cti")
	if s := p.Text(`#cti-users tr[data-user="` + user + `"]`); !strings.Contains(s, "Disabled") {
		t.Errorf("edited user: %q", s)
	}
	p.Shot("users")
	p.Click(`#cti-users tr[data-user="` + user + `"]`)
	p.Click("#cti-user-delete")
	p.Confirm()
	p.Reshown("cti")
	p.WaitGone(`#cti-users tr[data-user="` + user + `"]`)

	p.Go("cti/profiles/" + prof)
	p.Fill("#cti-profile-form", "name", "Operators (day)")
	p.Submit("#cti-profile-form")
	p.Reshown("cti/profiles")
	if s := p.Text(`#cti-profiles tr[data-id="` + prof + `"]`); !strings.Contains(s, "Operators (day)") {
		t.Errorf("edited profile: %q", s)
	}
	p.Click(`#cti-profiles tr[data-id="` + prof + `"]`)
	p.Click("#cti-profile-delete")
	p.Confirm()
	p.Reshown("cti/profiles")
	p.WaitGone(`#cti-profiles tr[data-id="` + prof + `"]`)
	for _, q := range []string{"object_type=cti_user&action=create", "object_type=cti_user&action=update", "object_type=cti_user&action=delete",
		"object_type=cti_profile&action=create", "object_type=cti_profile&action=update", "object_type=cti_profile&action=delete"} {
		if rows := env.AuditRows(t, q+"&user="+u.Name); len(rows) != 1 {
			t.Errorf("%s: %d audit rows", q, len(rows))
		}
	}
}

// TestRolesAndSession: a wrong password is refused; the token serves a second
// tab; an auditor gets the pages without one write control; a tenant admin
// sees only its tenant; the language switch changes the page; logout revokes
// the token.
func TestRolesAndSession(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	other := env.NewTenant(t)
	fixtures(t, env, ten)

	// Wrong password, then the console opens on the tenant with devices.
	audU := env.NewUser(t, "auditor", "")
	p := env.B.NewPage(t, "https://"+env.D.HTTPS+"/", "en")
	p.Fill("#login", "username", audU.Name)
	p.Fill("#login", "password", "nope-nope")
	p.Submit("#login")
	p.WaitVisible("#login .msg.error")
	if s := p.Text("#login .msg.error"); !strings.Contains(s, "invalid username or password") {
		t.Errorf("wrong password: %q", s)
	}
	p.Login(audU.Name, audU.Password)

	// The auditor: every page, no write control.
	for _, r := range webuitest.Eval[[]string](p, `SB.routes()`) {
		p.Go(r)
		// Writes: submit buttons (but the audit filters and export (reading), the user's own
		// password form, which every role may use), delete buttons, "add"
		// links, imports and uploads.
		n := webuitest.Eval[int](p, `[...document.querySelectorAll("main form:not(#audit-filters):not(#audit-export):not(#password-form) button[type=submit], main button.danger, main a.button[id^=add-], #devices-import, #accounts-import, #asset-upload, #restore, button[data-copy], #cf-add, #ep-add")].filter(e => e.offsetParent !== null && !e.disabled).length`)
		enabled := webuitest.Eval[int](p, `[...document.querySelectorAll("main form.form:not(#audit-filters):not(#audit-export):not(#password-form) :is(input, select, textarea)")].filter(e => !e.disabled).length`)
		if n != 0 || enabled != 0 {
			t.Errorf("auditor on #/%s: %d write controls, %d enabled inputs", r, n, enabled)
		}
	}
	p.Shot("auditor")

	// A second tab of the same browser is logged in too.
	tab := p.NewTab()
	tab.WaitVisible("#nav")

	// A tenant admin: its tenant only, no users of others, no tenant creation.
	ta := env.NewUser(t, "tenant_admin", other)
	q := env.B.NewPage(t, "https://"+env.D.HTTPS+"/", "it")
	q.Login(ta.Name, ta.Password)
	if n := q.Count("#tenant option"); n != 1 {
		t.Errorf("tenant admin sees %d tenants", n)
	}
	q.Go("devices")
	if q.Count("#devices tr[data-mac]") != 0 {
		t.Errorf("tenant admin sees another tenant's devices")
	}
	if s := q.Text("#nav"); !strings.Contains(s, "Lista dei dispositivi") || strings.Contains(s, "SIP PnP") {
		t.Errorf("Italian menu: %q", s)
	}
	// The language switch.
	q.Exec(`(() => { const s = document.getElementById("lang"); s.value = "en"; s.dispatchEvent(new Event("change")); })()`)
	q.Reshown("")
	if s := q.Text("#nav"); !strings.Contains(s, "Devices") {
		t.Errorf("after switching to English: %q", s)
	}
	// Logout revokes the token.
	tok := webuitest.Eval[string](q, `localStorage.getItem("sb.token")`)
	q.Click("#logout")
	q.WaitVisible("#login")
	if code, _ := env.D.API("GET", "/me", tok, nil, nil); code != 401 {
		t.Errorf("token after logout: %d", code)
	}
}
