package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// render runs the provisioning renderer until the test ends (saving a device
// answers once its file is rendered).
func (e *env) render() {
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	go e.prov.Serve(ctx)
}

// seedDevices adds n devices (MACs 001565000000 + i, every third linked to an
// account "2xx Person i") to tenant.
func (e *env) seedDevices(tenant string, n int) {
	e.t.Helper()
	base := "/api/v1/tenants/" + tenant
	for i := 0; i < n; i++ {
		dev := obj{"mac": fmt.Sprintf("00:15:65:00:%02X:%02X", i/256, i%256), "model": "yealink-t46u", "notes": fmt.Sprintf("desk %d", i)}
		if i%3 == 0 {
			a := e.must(http.StatusCreated, "POST", base+"/accounts", e.adminTk,
				obj{"extension": fmt.Sprint(200 + i), "display_name": fmt.Sprintf("Person %d", i), "sip_password": "Secret-pw-1"}).obj(e.t)
			dev["account"] = a["id"]
		}
		e.must(http.StatusCreated, "POST", base+"/devices", e.adminTk, dev)
	}
}

func items(t *testing.T, m obj) []obj {
	t.Helper()
	l, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items: %v", m)
	}
	out := make([]obj, len(l))
	for i, x := range l {
		out[i] = x.(obj)
	}
	return out
}

func TestDevicePages(t *testing.T) {
	e := newEnv(t)
	e.render()
	ten := e.createTenant("acme")
	e.seedDevices(ten, 120)
	base := "/api/v1/tenants/" + ten + "/devices"
	get := func(q string) obj {
		t.Helper()
		return e.must(http.StatusOK, "GET", base+"?"+q, e.adminTk, nil).obj(t)
	}
	// Pages in MAC order with the total, without loading every device.
	m := get("limit=50")
	page := items(t, m)
	if m["total"] != float64(120) || m["limit"] != float64(50) || len(page) != 50 || page[0]["mac"] != "001565000000" || page[49]["mac"] != "001565000031" {
		t.Fatalf("first page: total %v, %d items, first %v", m["total"], len(page), page[0]["mac"])
	}
	if last := items(t, get("limit=50&offset=100")); len(last) != 20 || last[19]["mac"] != "001565000077" {
		t.Fatalf("last page: %d items", len(last))
	}
	// The linked account's extension and name come with the page.
	if page[0]["account_extension"] != "200" || page[0]["account_name"] != "Person 0" || page[1]["account_extension"] != nil {
		t.Errorf("account labels: %v / %v", page[0], page[1]["account_extension"])
	}
	// So does the model's label, as the catalog names it (brand and name).
	if page[0]["model_label"] != "Yealink T46U" {
		t.Errorf("model label: %v", page[0]["model_label"])
	}
	// Search: a MAC in any of its forms, notes, the account's name.
	for q, want := range map[string]int{
		"00:15:65:00:00:1":   16, // 0010-001F
		"00-15-65-00-00-1":   16,
		"0015650000":         120,
		"desk 11":            11, // 11, 110-119
		"Person 9":           5,  // 9, 90, 93, 96, 99 (accounts exist for multiples of 3)
		"person 99":          1,
		"yealink-t46":        120,
		"nothing like it %_": 0,
	} {
		m := get("q=" + url.QueryEscape(q) + "&limit=1000")
		if m["total"] != float64(want) || len(items(t, m)) != want {
			t.Errorf("q=%q: total %v, %d items, want %d", q, m["total"], len(items(t, m)), want)
		}
	}
	// No query: the whole list as before (the CLI's export relies on it).
	if all := e.must(http.StatusOK, "GET", base, e.adminTk, nil).obj(t); len(items(t, all)) != 120 || all["total"] != nil {
		t.Errorf("unpaged list: %d items, total %v", len(items(t, all)), all["total"])
	}
	// Bad parameters name the field.
	for q, field := range map[string]string{"limit=0": "limit", "limit=1001": "limit", "offset=-1": "offset", "limit=x": "limit",
		"sort=mac": "sort", "q=" + strings.Repeat("a", 129): "q"} {
		wantError(t, e.do("GET", base+"?"+q, e.adminTk, nil), http.StatusBadRequest, field)
	}
	// Another tenant's admin sees nothing of it.
	other := e.createTenant("beta")
	e.createUser("bob", "bob-password-1", RoleTenantAdmin, other)
	bob := e.login("bob", "bob-password-1")
	wantError(t, e.do("GET", base+"?limit=5", bob, nil), http.StatusNotFound, "")
	// Accounts page the same way, by extension.
	a := e.must(http.StatusOK, "GET", "/api/v1/tenants/"+ten+"/accounts?limit=10&offset=5", e.adminTk, nil).obj(t)
	if a["total"] != float64(40) || len(items(t, a)) != 10 || items(t, a)[0]["extension"] != "215" {
		t.Errorf("accounts page: total %v, first %v", a["total"], items(t, a)[0]["extension"])
	}
	if a := e.must(http.StatusOK, "GET", "/api/v1/tenants/"+ten+"/accounts?q=person+105", e.adminTk, nil).obj(t); a["total"] != float64(1) {
		t.Errorf("accounts q: %v", a["total"])
	}
}

func TestPreferencesAndTenantCounts(t *testing.T) {
	e := newEnv(t)
	e.render()
	acme := e.createTenant("acme")
	beta := e.createTenant("beta")
	e.seedDevices(acme, 4)
	me := func(tok string) obj { return e.must(http.StatusOK, "GET", "/api/v1/me", tok, nil).obj(t) }
	if me(e.adminTk)["last_tenant"] != "" {
		t.Fatalf("a fresh user has a last tenant")
	}
	rev := e.revision()
	e.must(http.StatusOK, "PUT", "/api/v1/me/preferences", e.adminTk, obj{"tenant": beta})
	if me(e.adminTk)["last_tenant"] != beta {
		t.Errorf("last tenant not kept")
	}
	if e.revision() != rev {
		t.Errorf("a preference changed the configuration revision")
	}
	if rows, _ := e.audit(e.adminTk, "limit=5"); len(rows) > 0 && strings.Contains(fmt.Sprint(rows[0]), "pref") {
		t.Errorf("a preference was audited: %v", rows[0])
	}
	wantError(t, e.do("PUT", "/api/v1/me/preferences", e.adminTk, obj{"tenant": "not-a-tenant"}), http.StatusBadRequest, "tenant")
	wantError(t, e.do("PUT", "/api/v1/me/preferences", e.adminTk, obj{"theme": "dark"}), http.StatusBadRequest, "theme")
	// A tenant admin may only remember its own tenant; an auditor (read-only) may
	// keep its preference too.
	e.createUser("ta", "ta-password-1", RoleTenantAdmin, acme)
	ta := e.login("ta", "ta-password-1")
	wantError(t, e.do("PUT", "/api/v1/me/preferences", ta, obj{"tenant": beta}), http.StatusBadRequest, "tenant")
	e.must(http.StatusOK, "PUT", "/api/v1/me/preferences", ta, obj{"tenant": acme})
	e.createUser("eve", "eve-password-1", RoleAuditor, "")
	eve := e.login("eve", "eve-password-1")
	e.must(http.StatusOK, "PUT", "/api/v1/me/preferences", eve, obj{"tenant": acme})
	if me(eve)["last_tenant"] != acme {
		t.Errorf("auditor's preference not kept")
	}
	// A deleted tenant is no longer anyone's last tenant.
	e.must(http.StatusNoContent, "DELETE", "/api/v1/tenants/"+beta, e.adminTk, nil)
	if me(e.adminTk)["last_tenant"] != "" {
		t.Errorf("last tenant names a deleted tenant")
	}
	// The tenant list says how many devices each has and where its files are.
	for _, it := range items(t, e.must(http.StatusOK, "GET", "/api/v1/tenants", e.adminTk, nil).obj(t)) {
		want := 0.0
		if it["id"] == acme {
			want = 4
		}
		if it["devices"] != want || !strings.HasPrefix(fmt.Sprint(it["provisioning_url"]), "http://192.0.2.10/provisioning/") {
			t.Errorf("tenant %v: devices %v, url %v", it["name"], it["devices"], it["provisioning_url"])
		}
	}
}

func TestStatusFeaturesAndInterfaces(t *testing.T) {
	e := newEnv(t)
	st := e.must(http.StatusOK, "GET", "/api/v1/status", e.adminTk, nil).obj(t)
	if f, ok := st["features"].([]any); !ok || len(f) != 0 {
		t.Errorf("features of a bare API: %v", st["features"])
	}
	e.api.SetFeatures([]string{"pnp", "dhcp"})
	st = e.must(http.StatusOK, "GET", "/api/v1/status", e.adminTk, nil).obj(t)
	if fmt.Sprint(st["features"]) != "[dhcp pnp]" {
		t.Errorf("features: %v", st["features"])
	}
	ifs := items(t, e.must(http.StatusOK, "GET", "/api/v1/interfaces", e.adminTk, nil).obj(t))
	found := false
	for _, i := range ifs {
		found = found || (i["name"] == "lo" && i["ipv4"] == "127.0.0.1")
	}
	if !found {
		t.Errorf("no lo with 127.0.0.1 in %v", ifs)
	}
	wantError(t, e.do("GET", "/api/v1/interfaces?x=1", e.adminTk, nil), http.StatusBadRequest, "x")
}

func TestPreviews(t *testing.T) {
	e := newEnv(t)
	e.render()
	ctx := context.Background()
	ten := e.createTenant("acme")
	base := "/api/v1/tenants/" + ten
	acc := e.must(http.StatusCreated, "POST", base+"/accounts", e.adminTk, obj{"extension": "301", "display_name": "Grace Hopper", "sip_password": "Secret-pw-301"}).obj(t)
	e.must(http.StatusCreated, "POST", base+"/placeholders", e.adminTk, obj{"name": "_FLOOR", "type": "static", "value": "third"})
	rev := e.revision()

	// An unsaved device: its file name and content, nothing saved.
	p := e.must(http.StatusOK, "POST", base+"/devices/preview", e.adminTk, obj{"mac": "00-15-65-AA-BB-CC", "model": "yealink-t46u", "account": acc["id"]}).obj(t)
	if p["file"] != "001565aabbcc.cfg" || !strings.Contains(fmt.Sprint(p["body"]), "Grace Hopper") || p["problem"] != nil {
		t.Errorf("device preview: %v", p)
	}
	// Without an account: no file, saved disabled.
	p = e.must(http.StatusOK, "POST", base+"/devices/preview", e.adminTk, obj{"mac": "001565AABBCD", "model": "yealink-t46u", "enabled": true}).obj(t)
	if p["body"] != "" || !strings.Contains(fmt.Sprint(p["problem"]), "no linked account") || p["device"].(obj)["enabled"] != false {
		t.Errorf("preview without account: %v", p)
	}
	wantError(t, e.do("POST", base+"/devices/preview", e.adminTk, obj{"mac": "00:15:65:zz:00:01", "model": "yealink-t46u"}), http.StatusBadRequest, "mac")
	wantError(t, e.do("POST", base+"/devices/preview", e.adminTk, obj{"mac": "001565000001", "model": "nope"}), http.StatusBadRequest, "model")
	if e.revision() != rev {
		t.Errorf("a preview of an unsaved device saved something")
	}
	// An existing device with changes not yet saved.
	dev := e.must(http.StatusCreated, "POST", base+"/devices", e.adminTk, obj{"mac": "001565000002", "model": "yealink-t46u"}).obj(t)
	rev = e.revision()
	p = e.must(http.StatusOK, "POST", base+"/devices/preview?id="+dev["id"].(string), e.adminTk, obj{"account": acc["id"], "enabled": true}).obj(t)
	if p["file"] != "001565000002.cfg" || !strings.Contains(fmt.Sprint(p["body"]), "301") {
		t.Errorf("preview of changes: %v", p)
	}
	if e.revision() != rev {
		t.Errorf("a preview saved something")
	}

	// An unsaved template body for that device, with the tenant's placeholders.
	tp := e.must(http.StatusOK, "POST", base+"/templates/preview", e.adminTk,
		obj{"body": "ext=%%ACCOUNT_EXTENSION%%\nfloor=%%_FLOOR%%\n", "scope": "device", "device": dev["id"]}).obj(t)
	if tp["rendered"] != "ext=\nfloor=third\n" {
		t.Errorf("template preview (the device has no saved account yet): %q", tp["rendered"])
	}
	e.must(http.StatusOK, "PATCH", base+"/devices/"+dev["id"].(string), e.adminTk, obj{"account": acc["id"], "enabled": true})
	tp = e.must(http.StatusOK, "POST", base+"/templates/preview", e.adminTk,
		obj{"body": "<n>%%ACCOUNT_DISPLAY_NAME%%</n>", "escape": "xml", "device": dev["id"]}).obj(t)
	if tp["rendered"] != "<n>Grace Hopper</n>" {
		t.Errorf("template preview: %q", tp["rendered"])
	}
	m := wantError(t, e.do("POST", base+"/templates/preview", e.adminTk, obj{"body": "a\nb=%%NOPE%%\n", "device": dev["id"]}), http.StatusBadRequest, "body")
	if !strings.Contains(fmt.Sprint(m["error"]), "line 2") {
		t.Errorf("unknown placeholder error without its line: %v", m["error"])
	}
	m = wantError(t, e.do("POST", base+"/templates/preview", e.adminTk, obj{"body": "%%KPBX_NTP_SERVER%% %%MAC%%", "scope": "common"}), http.StatusBadRequest, "body")
	if !strings.Contains(fmt.Sprint(m["error"]), "common file") {
		t.Errorf("device placeholder in a common template: %v", m["error"])
	}
	if tp := e.must(http.StatusOK, "POST", base+"/templates/preview", e.adminTk, obj{"body": "ntp=%%KPBX_NTP_SERVER%%", "scope": "common"}).obj(t); tp["rendered"] != "ntp=pool.ntp.org" {
		t.Errorf("common preview: %v", tp["rendered"])
	}
	wantError(t, e.do("POST", base+"/templates/preview", e.adminTk, obj{"body": "x"}), http.StatusBadRequest, "device")
	wantError(t, e.do("POST", base+"/templates/preview", e.adminTk, obj{"body": "x", "scope": "other"}), http.StatusBadRequest, "scope")
	// Auditors read, they do not render credentials.
	e.createUser("eve", "eve-password-1", RoleAuditor, "")
	eve := e.login("eve", "eve-password-1")
	wantError(t, e.do("POST", base+"/devices/preview", eve, obj{"mac": "001565000009", "model": "yealink-t46u"}), http.StatusForbidden, "")
	wantError(t, e.do("POST", base+"/templates/preview", eve, obj{"body": "x", "device": dev["id"]}), http.StatusForbidden, "")

	// Files page by page once rendered.
	if err := e.prov.WaitRendered(ctx, e.revision()); err != nil {
		t.Fatal(err)
	}
	f := e.must(http.StatusOK, "GET", base+"/files?q=001565000002&limit=10", e.adminTk, nil).obj(t)
	if f["total"] != float64(1) || items(t, f)[0]["name"] != "001565000002.cfg" {
		t.Errorf("files page: %v", f)
	}
}
