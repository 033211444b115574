package apidoc

import (
	"time"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/doctor"
	"github.com/switchboard-pbx/switchboard/ha"
	"github.com/switchboard-pbx/switchboard/phonebook"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/resync"
	"github.com/switchboard-pbx/switchboard/store"
	"github.com/switchboard-pbx/switchboard/tasks"
)

// Bodies without an exported Go type of their own.
type (
	loginRequest struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	loginResponse struct {
		Token     string         `json:"token"`
		ExpiresAt time.Time      `json:"expires_at"`
		User      admin.UserView `json:"user"`
	}
	status struct {
		Version     string `json:"version"`
		Revision    int64  `json:"revision"`
		Schema      int    `json:"schema"`
		TenancyMode string `json:"tenancy_mode"`
	}
	me struct {
		Username string `json:"username"`
		Role     string `json:"role"`
		Tenant   string `json:"tenant"`
		SourceIP string `json:"source_ip"`
	}
	passwordChange struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	revoked struct {
		Revoked int `json:"revoked"`
	}
	tenantList struct {
		Mode  string             `json:"mode"`
		Items []provision.Tenant `json:"items"`
	}
	auditList struct {
		Total int              `json:"total"`
		Items []store.AuditRow `json:"items"`
	}
	restored struct {
		Revision int64          `json:"revision"`
		Audit    store.AuditRow `json:"audit"`
	}
	secret struct {
		SIPPassword        string `json:"sip_password,omitempty"`
		PhonePassword      string `json:"phone_password,omitempty"`
		HTTPPassword       string `json:"http_password,omitempty"`
		PhoneAdminPassword string `json:"phone_admin_password,omitempty"`
		// ProvisioningURL is a device's secret directory (device reveal).
		ProvisioningURL string `json:"provisioning_url,omitempty"`
	}
	resyncOne struct {
		Reboot bool   `json:"reboot"`
		Via    string `json:"via,omitempty"`
	}
	copyRequest struct {
		Name string `json:"name"`
	}
	previewRequest struct {
		Template string `json:"template"`
	}
	preview struct {
		Rendered string `json:"rendered"`
	}
	fileContent struct {
		File    provision.File `json:"file"`
		Content string         `json:"content"`
	}
	adoptRequest struct {
		Model            string `json:"model"`
		AccountExtension string `json:"account_extension"`
		Template         string `json:"template"`
		Notes            string `json:"notes"`
	}
	ctiUser struct {
		Username      string         `json:"username"`
		Name          string         `json:"name"`
		MainExtension string         `json:"mainextension"`
		Endpoints     []cti.Endpoint `json:"endpoints"`
		Cellphone     string         `json:"cellphone"`
		Email         string         `json:"email"`
		Voicemail     string         `json:"voicemail"`
		DefaultDevice string         `json:"default_device"`
		Profile       string         `json:"profile"`
		Disabled      bool           `json:"disabled"`
	}
	ctiUserInput struct {
		ctiUser
		Password string `json:"password"`
	}
	ctiReload struct {
		Message string `json:"message"`
		Users   int    `json:"users"`
	}
	haPair struct {
		Serial string `json:"serial"`
	}
	haAction struct {
		Action string    `json:"action"`
		Status ha.Status `json:"status"`
	}
	preferences struct {
		Tenant *string `json:"tenant"`
	}
	taskRunStarted struct {
		Message string    `json:"message"`
		Run     tasks.Run `json:"run"`
	}
	mailTest struct {
		To string `json:"to"`
	}
	mailTestResult struct {
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
)

// crud is the five routes httpapi.MountCRUD mounts for one collection.
func crud(base, tag, what string, v any) []Op {
	return []Op{
		{Pattern: "GET " + base, Tag: tag, Summary: "List " + what + "s", Out: List(v)},
		{Pattern: "POST " + base, Tag: tag, Summary: "Create a " + what, In: v, Out: v, Status: 201},
		{Pattern: "GET " + base + "/{id}", Tag: tag, Summary: "Show a " + what, Out: v},
		{Pattern: "PATCH " + base + "/{id}", Tag: tag, Summary: "Change a " + what + " (the fields given)", In: v, Out: v},
		{Pattern: "DELETE " + base + "/{id}", Tag: tag, Summary: "Delete a " + what},
	}
}

// deviceOps is the devices' CRUD, whose list is paged and searched (?q=,
// ?limit=, ?offset=) and carries, beside each device, the linked account's
// extension and name and the model's label, so that a list needs no other call.
func deviceOps() []Op {
	ops := crud(tb+"/devices", "devices", "device", provision.DeviceView{})
	ops[0].Summary = "List devices (a page, by MAC; with the account's extension and name and the model's label)"
	ops[0].Query = []string{"q", "limit", "offset"}
	ops[0].Out = List(provision.DevicePageItem{})
	return ops
}

const tb = "/api/v1/tenants/{tenant}"

// ops is every route of /api/v1. A route a component mounts must be here (the
// test in cmd/switchboard says which one is missing); add it next to its
// neighbours.
var ops = concat(
	[]Op{
		{Pattern: "POST /api/v1/login", Tag: "session", Summary: "Log in: a bearer token for the other routes", In: loginRequest{}, Out: loginResponse{}, Public: true},
		{Pattern: "POST /api/v1/logout", Tag: "session", Summary: "End this token's session"},
		{Pattern: "GET /api/v1/me", Tag: "session", Summary: "Who the caller is", Out: me{}},
		{Pattern: "PUT /api/v1/me/password", Tag: "session", Summary: "Change the caller's own password", In: passwordChange{}},
		{Pattern: "GET /api/v1/status", Tag: "system", Summary: "Version, revision, schema and tenancy mode", Out: status{}},
		{Pattern: "GET /api/v1/diagnostics", Tag: "system", Summary: "Run the doctor's checks (switchboard doctor)", Out: doctor.Report{}},
		{Pattern: "GET /api/v1/openapi.json", Tag: "system", Summary: "This document", Out: Object, Public: true},

		{Pattern: "GET /api/v1/users", Tag: "users", Summary: "List admin users", Out: List(admin.UserView{})},
		{Pattern: "POST /api/v1/users", Tag: "users", Summary: "Add an admin user", In: admin.UserInput{}, Out: admin.UserView{}, Status: 201},
		{Pattern: "GET /api/v1/users/{name}", Tag: "users", Summary: "Show a user", Out: admin.UserView{}},
		{Pattern: "PATCH /api/v1/users/{name}", Tag: "users", Summary: "Change a user (a new password revokes its tokens)", In: admin.UserInput{}, Out: admin.UserView{}},
		{Pattern: "DELETE /api/v1/users/{name}", Tag: "users", Summary: "Delete a user and its tokens"},
		{Pattern: "DELETE /api/v1/users/{name}/sessions", Tag: "users", Summary: "Revoke every token of a user", Out: revoked{}},

		{Pattern: "GET /api/v1/tenants", Tag: "tenants", Summary: "List tenants", Out: tenantList{}},
		{Pattern: "POST /api/v1/tenants", Tag: "tenants", Summary: "Add a tenant (multi-tenant mode)", In: provision.TenantInput{}, Out: provision.Tenant{}, Status: 201},
		{Pattern: "GET /api/v1/tenants/{id}", Tag: "tenants", Summary: "Show a tenant (UUID or name)", Out: provision.Tenant{}},
		{Pattern: "PATCH /api/v1/tenants/{id}", Tag: "tenants", Summary: "Change a tenant", In: provision.TenantInput{}, Out: provision.Tenant{}},
		{Pattern: "DELETE /api/v1/tenants/{id}", Tag: "tenants", Summary: "Delete an empty tenant"},

		{Pattern: "GET /api/v1/audit", Tag: "audit", Summary: "Configuration changes, newest first",
			Query: []string{"month", "day", "user", "object_type", "object_id", "action", "columns", "limit", "offset"}, Out: auditList{}},
		{Pattern: "GET /api/v1/audit/verify", Tag: "audit", Summary: "Check the audit hash chain", Out: store.VerifyResult{}},
		{Pattern: "GET /api/v1/audit/{id}", Tag: "audit", Summary: "One audit row with its before and after images", Out: store.AuditRow{}},
		{Pattern: "POST /api/v1/audit/{id}/restore", Tag: "audit", Summary: "Re-apply a row's before-image as a new change", Out: restored{}},

		{Pattern: "GET /api/v1/placeholders", Tag: "catalog", Summary: "The built-in %%PLACEHOLDERS%%", Out: List(provision.PlaceholderInfo{})},
		{Pattern: "GET /api/v1/brands", Tag: "catalog", Summary: "The built-in brands", Out: List(provision.Brand{})},
		{Pattern: "POST /api/v1/templates/{id}/copy", Tag: "catalog", Summary: "Copy a template (an editable copy of a built-in one)", In: copyRequest{}, Out: provision.Template{}, Status: 201},
		{Pattern: "POST /api/v1/models/{id}/copy", Tag: "catalog", Summary: "Copy a model", In: copyRequest{}, Out: provision.Model{}, Status: 201},
		{Pattern: "POST " + tb + "/templates/{id}/copy", Tag: "catalog", Summary: "Copy a template into a tenant", In: copyRequest{}, Out: provision.Template{}, Status: 201},
		{Pattern: "POST " + tb + "/models/{id}/copy", Tag: "catalog", Summary: "Copy a model into a tenant", In: copyRequest{}, Out: provision.Model{}, Status: 201},

		{Pattern: "GET " + tb + "/pbx", Tag: "pbx", Summary: "The tenant's PBX settings that templates see", Out: provision.PBXSettings{}},
		{Pattern: "PATCH " + tb + "/pbx", Tag: "pbx", Summary: "Change PBX settings (the fields given)", In: provision.PBXSettings{}, Out: provision.PBXSettings{}},
		{Pattern: "POST " + tb + "/devices/{id}/preview", Tag: "devices", Summary: "Render a device's file without saving", In: previewRequest{}, Out: preview{}},
		{Pattern: "GET " + tb + "/devices.csv", Tag: "devices", Summary: "Devices as CSV", Out: CSV},
		{Pattern: "POST " + tb + "/devices.csv", Tag: "devices", Summary: "Import devices from CSV (all rows or none)", In: CSV, Out: provision.ImportResult{}},
		{Pattern: "GET " + tb + "/device-keys.csv", Tag: "devices", Summary: "The devices' programmable keys as CSV, one row per key", Out: CSV},
		{Pattern: "POST " + tb + "/device-keys.csv", Tag: "devices", Summary: "Import keys from CSV (replaces the keys of each device named; all rows or none)", In: CSV, Out: provision.ImportResult{}},
		{Pattern: "GET " + tb + "/accounts.csv", Tag: "accounts", Summary: "Accounts as CSV", Out: CSV},
		{Pattern: "POST " + tb + "/accounts.csv", Tag: "accounts", Summary: "Import accounts from CSV (all rows or none)", In: CSV, Out: provision.ImportResult{}},
		{Pattern: "GET " + tb + "/files", Tag: "files", Summary: "The generated provisioning files", Out: List(provision.File{})},
		{Pattern: "GET " + tb + "/files/{name}", Tag: "files", Summary: "One generated file with its content", Out: fileContent{}},
		{Pattern: "GET " + tb + "/assets", Tag: "files", Summary: "Uploaded files (firmware, images)", Out: List(provision.Asset{})},
		{Pattern: "PUT " + tb + "/assets/{name}", Tag: "files", Summary: "Upload a file", In: Binary, Out: provision.Asset{}},
		{Pattern: "DELETE " + tb + "/assets/{name}", Tag: "files", Summary: "Delete an uploaded file"},
		{Pattern: "GET " + tb + "/unknown-devices", Tag: "devices", Summary: "Phones seen but not configured, with model guesses", Out: List(provision.UnknownView{})},
		{Pattern: "POST " + tb + "/unknown-devices/{mac}/adopt", Tag: "devices", Summary: "Make a seen phone a device", In: adoptRequest{}, Out: provision.DeviceView{}, Status: 201},

		{Pattern: "GET /api/v1/cti/users", Tag: "cti", Summary: "CTI users", Out: []ctiUser{}},
		{Pattern: "POST /api/v1/cti/users", Tag: "cti", Summary: "Add a CTI user", In: ctiUserInput{}, Out: ctiUser{}, Status: 201},
		{Pattern: "GET /api/v1/cti/users/{name}", Tag: "cti", Summary: "Show a CTI user", Out: ctiUser{}},
		{Pattern: "PATCH /api/v1/cti/users/{name}", Tag: "cti", Summary: "Change a CTI user", In: ctiUserInput{}, Out: ctiUser{}},
		{Pattern: "DELETE /api/v1/cti/users/{name}", Tag: "cti", Summary: "Delete a CTI user"},
		{Pattern: "GET /api/v1/cti/profiles", Tag: "cti", Summary: "CTI profiles", Out: []cti.Profile{}},
		{Pattern: "GET /api/v1/cti/profiles/{id}", Tag: "cti", Summary: "Show a CTI profile", Out: cti.Profile{}},
		{Pattern: "PUT /api/v1/cti/profiles/{id}", Tag: "cti", Summary: "Create or replace a CTI profile", In: cti.Profile{}, Out: cti.Profile{}},
		{Pattern: "DELETE /api/v1/cti/profiles/{id}", Tag: "cti", Summary: "Delete a CTI profile"},
		{Pattern: "POST /api/v1/cti/reload", Tag: "cti", Summary: "Re-read users and re-sync the call state from Asterisk", Out: ctiReload{}},
		{Pattern: "GET /api/v1/cti/dump", Tag: "cti", Summary: "The CTI's call state, for diagnostics", Out: Object},

		{Pattern: "GET /api/v1/dhcp/leases", Tag: "dhcp", Summary: "Leases of the built-in DHCP server", Out: Object},
		{Pattern: "GET /api/v1/dhcp/rules", Tag: "dhcp", Summary: "The DHCP server's vendor rules", Out: Object},

		{Pattern: "GET /api/v1/ha", Tag: "ha", Summary: "Cluster state as this node sees it", Out: ha.Status{}},
		{Pattern: "POST /api/v1/ha/pair", Tag: "ha", Summary: "Pair this coordinator with a secondary", In: haPair{}, Out: Object},
		{Pattern: "POST /api/v1/ha/switch", Tag: "ha", Summary: "Hand the resource to the peer", Out: haAction{}},
		{Pattern: "POST /api/v1/ha/unpair", Tag: "ha", Summary: "Leave the cluster", Out: haAction{}},
		{Pattern: "POST /api/v1/ha/disable", Tag: "ha", Summary: "Turn HA off on both nodes", Out: haAction{}},
		{Pattern: "POST /api/v1/ha/takeover", Tag: "ha", Summary: "Ask the active node to hand the resource to this passive node", Out: haAction{}},
		{Pattern: "POST /api/v1/ha/unpair-passive", Tag: "ha", Summary: "Detach the passive node (on the active node, which keeps the resource)", Out: haAction{}},
		{Pattern: "GET /api/v1/ha/config", Tag: "ha", Summary: "This node's HA settings (saved, or the configuration file's), its serial and interfaces", Out: Object},
		{Pattern: "PUT /api/v1/ha/config", Tag: "ha", Summary: "Save this node's HA settings and start HA with them", In: ha.Settings{}, Out: Object},

		{Pattern: "GET /api/v1/me/preferences", Tag: "session", Summary: "The caller's console preferences (the last tenant)", Out: preferences{}},
		{Pattern: "PUT /api/v1/me/preferences", Tag: "session", Summary: "Save the caller's console preferences", In: preferences{}, Out: preferences{}},
		{Pattern: "GET /api/v1/interfaces", Tag: "system", Summary: "This machine's network interfaces (for DHCP and PnP settings)", Out: Object},
		{Pattern: "POST " + tb + "/devices/preview", Tag: "devices", Summary: "Render a device's file from unsaved fields (?id= a saved device to start from)",
			Query: []string{"id"}, In: Object, Out: provision.DevicePreview{}},
		{Pattern: "POST " + tb + "/templates/preview", Tag: "catalog", Summary: "Render an unsaved template body for a device", In: provision.TemplatePreview{}, Out: preview{}},
		{Pattern: "GET /api/v1/pnp", Tag: "pnp", Summary: "The SIP PnP responder's state and recent answers", Out: Object},

		{Pattern: "GET /api/v1/tasks", Tag: "tasks", Summary: "Scheduled tasks (CDR exports by mail)", Out: List(tasks.View{})},
		{Pattern: "POST /api/v1/tasks", Tag: "tasks", Summary: "Add a scheduled task", In: tasks.Input{}, Out: tasks.View{}, Status: 201},
		{Pattern: "GET /api/v1/tasks/{id}", Tag: "tasks", Summary: "Show a task", Out: tasks.View{}},
		{Pattern: "PATCH /api/v1/tasks/{id}", Tag: "tasks", Summary: "Change a task", In: tasks.Input{}, Out: tasks.View{}},
		{Pattern: "DELETE /api/v1/tasks/{id}", Tag: "tasks", Summary: "Delete a task"},
		{Pattern: "POST /api/v1/tasks/{id}/run", Tag: "tasks", Summary: "Run a task now", Out: taskRunStarted{}, Status: 202},
		{Pattern: "GET /api/v1/tasks/{id}/runs", Tag: "tasks", Summary: "A task's past runs, newest first", Query: []string{"limit"}, Out: List(tasks.Run{})},
		{Pattern: "GET /api/v1/mail", Tag: "tasks", Summary: "SMTP settings (the password never shown)", Out: tasks.MailView{}},
		{Pattern: "PUT /api/v1/mail", Tag: "tasks", Summary: "Set the SMTP settings", In: tasks.MailInput{}, Out: tasks.MailView{}},
		{Pattern: "POST /api/v1/mail/test", Tag: "tasks", Summary: "Send a test mail", In: mailTest{}, Out: mailTestResult{}},
		{Pattern: "GET /api/v1/audit/export", Tag: "audit", Summary: "The audit log as CSV, JSON, XLSX or XML (the same filters as GET /api/v1/audit)",
			Query: []string{"format", "month", "day", "user", "object_type", "object_id", "action", "columns", "lang"}, Out: Binary},

		{Pattern: "POST " + tb + "/accounts/{id}/reveal", Tag: "accounts", Summary: "An account's SIP password in clear (audited; not for auditors)", Out: secret{}},
		{Pattern: "POST " + tb + "/devices/{id}/enroll", Tag: "devices", Summary: "Open (window: seconds, absent for the tenant's enroll_window) or close (window: 0) the device's enrollment window: meanwhile the bootstrap file served by MAC names its secret URL, until the phone fetches from it",
			In: provision.EnrollInput{}, Out: provision.DeviceView{}},
		{Pattern: "POST " + tb + "/devices/{id}/reveal", Tag: "devices", Summary: "A device's phone web password and secret provisioning URL in clear (audited; not for auditors)", Out: secret{}},
		{Pattern: "POST " + tb + "/pbx/reveal", Tag: "pbx", Summary: "The provisioning HTTP password and the phones' admin password in clear (audited; not for auditors)", Out: secret{}},
		{Pattern: "POST " + tb + "/files/{name}/reveal", Tag: "files", Summary: "A generated file with its secrets in clear (audited; not for auditors)", Out: fileContent{}},

		{Pattern: "GET " + tb + "/phonebook", Tag: "phonebook", Summary: "The tenant's contacts and speed dials",
			Query: []string{"q", "type", "owner", "limit", "offset"}, Out: List(phonebook.Contact{})},
		{Pattern: "POST " + tb + "/phonebook", Tag: "phonebook", Summary: "Add a contact", In: phonebook.Contact{}, Out: phonebook.Contact{}, Status: 201},
		{Pattern: "GET " + tb + "/phonebook/{id}", Tag: "phonebook", Summary: "Show a contact", Out: phonebook.Contact{}},
		{Pattern: "PATCH " + tb + "/phonebook/{id}", Tag: "phonebook", Summary: "Change a contact (the fields given)", In: phonebook.Contact{}, Out: phonebook.Contact{}},
		{Pattern: "DELETE " + tb + "/phonebook/{id}", Tag: "phonebook", Summary: "Delete a contact"},
		{Pattern: "GET " + tb + "/phonebook.csv", Tag: "phonebook", Summary: "Contacts as CSV", Out: CSV},
		{Pattern: "POST " + tb + "/phonebook.csv", Tag: "phonebook", Summary: "Import contacts from CSV (all rows or none)", In: CSV, Out: phonebook.ImportResult{}},
		{Pattern: "GET " + tb + "/phonebook-files", Tag: "phonebook", Summary: "The phonebook files served to desk phones, per vendor", Out: Object},

		{Pattern: "POST " + tb + "/devices/{id}/resync", Tag: "devices", Summary: "Tell a phone to re-read its files (or restart: reboot true) by its vendor's SIP NOTIFY", In: resyncOne{}, Out: resync.Report{}},
		{Pattern: "POST " + tb + "/resync", Tag: "devices", Summary: "Resync or reboot the devices of a template, a model, a list or the whole tenant", In: resync.Request{}, Out: resync.Report{}},
		{Pattern: "GET /api/v1/resync/vendors", Tag: "devices", Summary: "The NOTIFY events each vendor understands, and how resyncs are sent", Out: Object},

		{Pattern: "POST " + tb + "/redirect-servers/{id}/test", Tag: "redirect", Summary: "Check a redirection server's credentials", Out: redirect.TestResult{}},
		{Pattern: "GET " + tb + "/redirect-status", Tag: "redirect", Summary: "Each device's state at its vendor's redirection service", Out: List(redirect.DeviceStatus{})},
	},
	crud(tb+"/accounts", "accounts", "SIP account", provision.Account{}),
	deviceOps(),
	crud(tb+"/placeholders", "catalog", "custom placeholder", provision.Placeholder{}),
	crud("/api/v1/templates", "catalog", "global template", provision.Template{}),
	crud("/api/v1/models", "catalog", "global model", provision.Model{}),
	crud(tb+"/templates", "catalog", "tenant template", provision.Template{}),
	crud(tb+"/models", "catalog", "tenant model", provision.Model{}),
	crud(tb+"/redirect-servers", "redirect", "redirection server", redirect.ServerView{}),
)

func concat(lists ...[]Op) []Op {
	var out []Op
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
