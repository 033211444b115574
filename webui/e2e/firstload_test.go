package e2e

import (
	"fmt"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestDevicesFirstLoad: a console opened (loaded afresh) on the device list
// asks for the list's page once, together with the session, for the tenant the
// console opens on (the one remembered, else the first with devices), with the
// hash's search; the rows carry the model's label without the catalog being
// asked for.
func TestDevicesFirstLoad(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	fixtures(t, env, ten) // device 001565000201, notes "reception"
	if code, err := env.D.API("POST", "/tenants/"+ten+"/devices", env.Token, map[string]any{"mac": "00:15:65:00:02:02", "model": "yealink-t46u", "notes": "hall"}, nil); err != nil || code != 201 {
		t.Fatalf("device: %d %v", code, err)
	}
	// A remembered tenant (the user's preference).
	p, _ := env.Page(t, "en", "admin", ten)
	reloadOn(p, "#/devices?q=reception")
	if n := p.Count("#devices tr[data-mac]"); n != 1 || !strings.Contains(p.Text(`#devices tr[data-mac="001565000201"]`), "Yealink T46U") {
		t.Errorf("first page: %d rows, %q", n, p.Text("#devices tbody"))
	}
	checkCalls(t, p, "/tenants/"+ten+"/devices?", "q=reception")

	// No remembered tenant: a tenant admin's only tenant, known once the tenants are in.
	ten2 := env.NewTenant(t)
	fixtures(t, env, ten2)
	name := env.Name(t, "ta")
	if code, err := env.D.API("POST", "/users", env.Token, map[string]string{"username": name, "password": "test-password-1", "role": "tenant_admin", "tenant": ten2}, nil); err != nil || code != 201 {
		t.Fatalf("user: %d %v", code, err)
	}
	p2 := env.B.NewPage(t, "https://"+env.D.HTTPS+"/", "en")
	p2.Login(name, "test-password-1")
	if last := webuitest.Eval[string](p2, `fetch("/api/v1/me", {headers: {Authorization: "Bearer " + localStorage.getItem("sb.token")}}).then(r => r.json()).then(m => m.last_tenant || "")`); last != "" {
		t.Fatalf("the tenant admin has a remembered tenant: %q", last)
	}
	reloadOn(p2, "#/devices")
	if n := p2.Count("#devices tr[data-mac]"); n != 1 || p2.Count("#add-device") != 1 {
		t.Errorf("tenant admin's first page: %d rows", n)
	}
	checkCalls(t, p2, "/tenants/"+ten2+"/devices?", "limit=50")
}

// reloadOn loads the console afresh on hash (the token stays in the tab's
// storage) and waits for the device list.
func reloadOn(p *webuitest.Page, hash string) {
	p.T.Helper()
	p.Run("load "+hash, cdp.Navigate("about:blank"), cdp.Navigate(p.Base+hash))
	p.Poll("the device list at "+hash, fmt.Sprintf(`(() => { const s = window.__sbShown;
		return !!s && s.page === "devices" && s.path === %q && !!document.querySelector("#devices tbody tr"); })()`, hash))
}

// checkCalls: the page asked for the device list once (for path, with want in
// its query), and not for the catalog.
func checkCalls(t *testing.T, p *webuitest.Page, path, want string) {
	t.Helper()
	calls := webuitest.Eval[[]string](p, `performance.getEntriesByType("resource").map(r => r.name).filter(n => n.includes("/api/"))`)
	var lists []string
	for _, c := range calls {
		if strings.Contains(c, "/devices?") {
			lists = append(lists, c)
		}
		if strings.Contains(c, "/brands") || strings.Contains(c, "/models") {
			t.Errorf("the device list asked for the catalog: %s", c)
		}
	}
	if len(lists) != 1 || !strings.Contains(lists[0], path) || !strings.Contains(lists[0], want) {
		t.Errorf("device list calls: %v (want one of %s with %s)", lists, path, want)
	}
}
