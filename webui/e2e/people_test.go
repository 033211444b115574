package e2e

import (
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestAccountsPanel: an account created, edited and deleted through its form,
// a short password refused by the form and a taken extension by the daemon,
// the audit rows; deleting an account a device uses is refused and links to
// that device.
func TestAccountsPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten) // 201 Ada Lovelace, linked to a device
	p, u := env.Page(t, "en", "tenant_admin", ten)

	p.Go("accounts/new")
	p.Fill("#account-form", "extension", "301")
	p.Fill("#account-form", "display_name", "Grace Hopper")
	p.Fill("#account-form", "sip_password", "short")
	p.Submit("#account-form")
	if msg := p.FieldError("#account-form", "sip_password"); !strings.Contains(msg, "at least 8") {
		t.Errorf("short password: %q", msg)
	}
	p.Fill("#account-form", "sip_password", "Long-enough-301")
	p.Fill("#account-form", "extension", "201")
	p.Submit("#account-form")
	// The daemon names the first unique field it finds taken (the SIP user
	// defaults to the extension): that field is marked.
	p.WaitVisible("#account-form [aria-invalid=true]")
	if s := p.Text("#account-form .form-msg"); !strings.Contains(s, "conflicts with existing data") || !strings.Contains(s, "another account has the same") {
		t.Errorf("taken extension: %q", s)
	}
	p.Fill("#account-form", "extension", "301")
	p.Fill("#account-form", "transport", "tls")
	p.Shot("new")
	p.Submit("#account-form")
	p.Reshown("accounts")
	p.WaitVisible(`#accounts tr[data-extension="301"]`)
	if row := p.Text(`#accounts tr[data-extension="301"]`); !strings.Contains(row, "Grace Hopper") || !strings.Contains(row, "TLS") {
		t.Errorf("new row: %q", row)
	}
	if rows := env.AuditRows(t, "object_type=account&action=create&user="+u.Name); len(rows) != 1 || rows[0]["tenant"] != ten {
		t.Errorf("create audit: %v", rows)
	}

	p.Click(`#accounts tr[data-extension="301"]`)
	p.WaitVisible("#account-form")
	p.Fill("#account-form", "display_name", "Grace B. Hopper")
	p.Fill("#account-form", "voicemail", "8301")
	p.Submit("#account-form")
	p.Reshown("accounts")
	p.WaitVisible(`#accounts tr[data-extension="301"]`)
	if row := p.Text(`#accounts tr[data-extension="301"]`); !strings.Contains(row, "Grace B. Hopper") {
		t.Errorf("edited row: %q", row)
	}
	rows := env.AuditRows(t, "object_type=account&action=update&user="+u.Name)
	if len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), "8301") {
		t.Fatalf("update audit: %v", rows)
	}

	// The account a device uses cannot go: the page says why and links to it.
	p.Click(`#accounts tr[data-extension="201"]`)
	p.Click("#account-delete")
	p.Confirm()
	p.WaitVisible("#account-linked a")
	if s := p.Text("#account-form .form-msg"); !strings.Contains(s, "linked to 1 device") {
		t.Errorf("delete of a linked account: %q", s)
	}
	p.Go("accounts")
	p.Click(`#accounts tr[data-extension="301"]`)
	p.Click("#account-delete")
	p.Confirm()
	p.Reshown("accounts")
	p.WaitGone(`#accounts tr[data-extension="301"]`)
	if rows := env.AuditRows(t, "object_type=account&action=delete&user="+u.Name); len(rows) != 1 {
		t.Errorf("delete audit: %d rows", len(rows))
	}
}

// TestUsersAndTenantsPanels: a tenant and a user created, edited and deleted;
// a bad username and a short password refused; the user's own password
// changed from "My account"; audit rows.
func TestUsersAndTenantsPanels(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	p, u := env.Page(t, "en", "admin", ten)
	name := env.Name(t, "tenant")

	// Tenants.
	p.Go("tenants/new")
	p.Submit("#tenant-form")
	if msg := p.FieldError("#tenant-form", "name"); !strings.Contains(msg, "required") {
		t.Errorf("empty tenant name: %q", msg)
	}
	p.Fill("#tenant-form", "name", name)
	p.Fill("#tenant-form", "description", "Branch office")
	p.Submit("#tenant-form")
	p.Reshown("tenants")
	p.WaitVisible(`#tenants tr[data-tenant="` + name + `"]`)
	if n := p.Count(`#tenant option`); n < 3 {
		t.Errorf("the new tenant is not in the tenant picker (%d options)", n)
	}
	p.Click(`#tenants tr[data-tenant="` + name + `"]`)
	p.Fill("#tenant-form", "description", "Branch office, Milan")
	p.Fill("#tenant-form", "enabled", "false")
	p.Submit("#tenant-form")
	p.Reshown("tenants")
	if row := p.Text(`#tenants tr[data-tenant="` + name + `"]`); !strings.Contains(row, "Milan") || !strings.Contains(row, "Disabled") {
		t.Errorf("edited tenant: %q", row)
	}

	// Users: a tenant admin of the new tenant.
	user := env.Name(t, "user")
	p.Go("users/new")
	p.Fill("#user-form", "username", "not valid!")
	p.Fill("#user-form", "password", "short")
	p.Submit("#user-form")
	if msg := p.FieldError("#user-form", "username"); !strings.Contains(msg, "letters, digits") {
		t.Errorf("bad username: %q", msg)
	}
	if msg := p.FieldError("#user-form", "password"); !strings.Contains(msg, "8 to 72") {
		t.Errorf("short password: %q", msg)
	}
	p.Fill("#user-form", "username", user)
	p.Fill("#user-form", "full_name", "Ann Branch")
	p.Fill("#user-form", "role", "tenant_admin")
	p.Fill("#user-form", "tenant", ten)
	p.Fill("#user-form", "password", "branch-password-1")
	p.Submit("#user-form")
	p.Reshown("users")
	p.WaitVisible(`#users tr[data-user="` + user + `"]`)
	// Edit: role auditor (no tenant), disabled, a new password.
	p.Click(`#users tr[data-user="` + user + `"]`)
	p.Fill("#user-form", "role", "auditor")
	p.Fill("#user-form", "disabled", "true")
	p.Fill("#user-form", "password", "new-branch-password")
	p.Submit("#user-form")
	p.Reshown("users")
	if row := p.Text(`#users tr[data-user="` + user + `"]`); !strings.Contains(row, "auditor") || !strings.Contains(row, "disabled") {
		t.Errorf("edited user: %q", row)
	}
	if rows := env.AuditRows(t, "object_type=user&action=update&user="+u.Name); len(rows) != 1 || !strings.Contains(asJSON(rows[0]["after"]), `"auditor"`) {
		t.Errorf("user update audit: %v", rows)
	}
	p.Click(`#users tr[data-user="` + user + `"]`)
	p.Click("#user-delete")
	p.Confirm()
	p.Reshown("users")
	p.WaitGone(`#users tr[data-user="` + user + `"]`)
	// The tenant is empty now: it can go.
	p.Go("tenants")
	p.Click(`#tenants tr[data-tenant="` + name + `"]`)
	p.Click("#tenant-delete")
	p.Confirm()
	p.Reshown("tenants")
	p.WaitGone(`#tenants tr[data-tenant="` + name + `"]`)
	for _, q := range []string{"object_type=tenant&action=create", "object_type=tenant&action=delete", "object_type=user&action=delete"} {
		if rows := env.AuditRows(t, q+"&user="+u.Name); len(rows) != 1 {
			t.Errorf("%s: %d audit rows", q, len(rows))
		}
	}

	// My account: the password, then log in again with it.
	p.Go("profile")
	p.Fill("#password-form", "current_password", u.Password)
	p.Fill("#password-form", "new_password", "changed-password-1")
	p.Fill("#password-form", "repeat", "changed-password-2")
	p.Submit("#password-form")
	if msg := p.FieldError("#password-form", "repeat"); !strings.Contains(msg, "differ") {
		t.Errorf("mismatched repeat: %q", msg)
	}
	p.Fill("#password-form", "repeat", "changed-password-1")
	p.Submit("#password-form")
	p.WaitVisible("#login")
	if s := p.Text("#app .msg.error"); !strings.Contains(s, "Password changed") {
		t.Errorf("after the change: %q", s)
	}
	p.Login(u.Name, "changed-password-1")
}
