package dhcp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// TestDirectoryFollowsTheStore: the MAC index is built once per store revision
// and so answers a device added, moved to another tenant or deleted at the
// next question, in both tenancy modes.
func TestDirectoryFollowsTheStore(t *testing.T) {
	for _, mode := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			env := provtest.New(t, mode, 30)
			d := &ProvDirectory{Prov: env.Prov, BaseURL: "http://192.0.2.1", Revision: env.Store.Revision}
			const mac = "001565AABBCC"
			if got := d.TenantOf(env.Ctx, mac); got != "" {
				t.Fatalf("unknown MAC: tenant %q", got)
			}
			dev, err := env.Prov.SaveDevice(env.Ctx, env.Actor, env.Tenant, "", json.RawMessage(`{"mac":"00:15:65:aa:bb:cc","model":"yealink-t54w"}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.TenantOf(env.Ctx, "00-15-65-AA-BB-CC"); got != env.Tenant {
				t.Fatalf("device just added: tenant %q, want %q", got, env.Tenant)
			}
			if err := env.Prov.DeleteDevice(env.Ctx, env.Actor, env.Tenant, dev.ID); err != nil {
				t.Fatal(err)
			}
			if got := d.TenantOf(env.Ctx, mac); got != "" {
				t.Fatalf("device deleted: tenant %q", got)
			}
			if got := d.TenantOf(env.Ctx, "not a mac"); got != "" {
				t.Fatalf("bad MAC: tenant %q", got)
			}
		})
	}
}

// TestExpandPlaceholders: placeholders are replaced wherever they are, other
// braces are left alone.
func TestExpandPlaceholders(t *testing.T) {
	v := vars{url: "http://h/p/", baseURL: "http://h", host: "h", serverIP: "192.0.2.1", mac: "00156512ab34"}
	for in, want := range map[string]string{
		"plain":                     "plain",
		"{url}":                     "http://h/p/",
		"{server_ip}:{host}":        "192.0.2.1:h",
		"x{mac}y{mac_lower}z":       "x00156512AB34y00156512ab34z",
		"{{url}}":                   "{http://h/p/}",
		"{unknown}{base_url}":       "{unknown}http://h",
		"{ur{url}":                  "{urhttp://h/p/",
		"open { only":               "open { only",
		"tftp://{server_ip}/{mac}/": "tftp://192.0.2.1/00156512AB34/",
	} {
		if got := v.expand(in); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDirectoryKeptCurrentByCommits: fed the store's commits (as serve does
// through the component's Commit), the directory indexes the devices when a
// commit changes them, before any DHCP message asks, and keeps its index
// through a commit that changes no device: a boot storm after either finds it
// built.
func TestDirectoryKeptCurrentByCommits(t *testing.T) {
	env := provtest.New(t, provision.ModeSingle, 30)
	d := &ProvDirectory{Prov: env.Prov, BaseURL: "http://192.0.2.1", Revision: env.Store.Revision}
	defer env.Store.Subscribe(func(c store.Commit) { d.Commit(env.Ctx, c) })()
	current := func() (int64, int) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.built {
			return -1, d.builds
		}
		return d.rev, d.builds
	}
	waitCurrent := func(what string) int {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			rev, builds := current()
			if rev == env.Store.Revision() {
				return builds
			}
			if time.Now().After(end) {
				t.Fatalf("%s: index at revision %d, store at %d", what, rev, env.Store.Revision())
			}
		}
	}
	if _, err := env.Prov.SaveDevice(env.Ctx, env.Actor, env.Tenant, "", json.RawMessage(`{"mac":"00:15:65:aa:bb:cc","model":"yealink-t54w"}`)); err != nil {
		t.Fatal(err)
	}
	builds := waitCurrent("device added")
	if got := d.TenantOf(env.Ctx, "001565AABBCC"); got != env.Tenant {
		t.Fatalf("device added: tenant %q, want %q", got, env.Tenant)
	}
	if _, after := current(); after != builds {
		t.Fatalf("the question indexed again (%d builds, %d before)", after, builds)
	}
	if _, err := env.Prov.SetPBX(env.Ctx, env.Actor, env.Tenant, json.RawMessage(`{"secure_urls":true}`)); err != nil {
		t.Fatal(err)
	}
	if after := waitCurrent("settings changed"); after != builds {
		t.Fatalf("a commit without devices indexed them again (%d builds, %d before)", after, builds)
	}
	if got := d.TenantOf(env.Ctx, "001565AABBCC"); got != env.Tenant {
		t.Fatalf("after the settings: tenant %q, want %q", got, env.Tenant)
	}
	if _, after := current(); after != builds {
		t.Fatalf("the question after the settings indexed again (%d builds, %d before)", after, builds)
	}
}

// TestDirectoryKeepsIndexAcrossDeviceEdits: edits that keep every MAC (a
// phone claiming its secret URL, a note) do not index the devices again, a
// MAC change does, and a question between a commit and its delivery is
// answered from the index for a MAC it has.
func TestDirectoryKeepsIndexAcrossDeviceEdits(t *testing.T) {
	env := provtest.New(t, provision.ModeSingle, 30)
	d := &ProvDirectory{Prov: env.Prov, BaseURL: "http://192.0.2.1", Revision: env.Store.Revision}
	dev, err := env.Prov.SaveDevice(env.Ctx, env.Actor, env.Tenant, "", json.RawMessage(`{"mac":"00:15:65:aa:bb:01","model":"yealink-t54w"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.TenantOf(env.Ctx, "001565AABB01"); got != env.Tenant {
		t.Fatalf("tenant %q, want %q", got, env.Tenant)
	}
	builds := func() int { d.mu.Lock(); defer d.mu.Unlock(); return d.builds }
	commits := make(chan store.Commit, 16)
	defer env.Store.Subscribe(func(c store.Commit) { commits <- c })()
	deliver := func() {
		t.Helper()
		select {
		case c := <-commits:
			d.Commit(env.Ctx, c)
		case <-time.After(10 * time.Second):
			t.Fatal("no commit delivered")
		}
	}
	// Commits reach the directory from now on (as serve wires it).
	if _, err := env.Prov.SaveDevice(env.Ctx, env.Actor, env.Tenant, dev.ID, json.RawMessage(`{"notes":"desk 1"}`)); err != nil {
		t.Fatal(err)
	}
	deliver()
	before := builds()
	if _, err := env.Prov.SaveDevice(env.Ctx, env.Actor, env.Tenant, dev.ID, json.RawMessage(`{"notes":"desk 2"}`)); err != nil {
		t.Fatal(err)
	}
	// Not delivered yet: the question is answered from the index as it is.
	if got := d.TenantOf(env.Ctx, "001565AABB01"); got != env.Tenant || builds() != before {
		t.Fatalf("between commit and delivery: tenant %q, %d builds (%d before)", got, builds(), before)
	}
	deliver()
	if builds() != before {
		t.Fatalf("an edit that keeps the MAC indexed the devices again (%d builds, %d before)", builds(), before)
	}
	if _, err := env.Prov.SaveDevice(env.Ctx, env.Actor, env.Tenant, dev.ID, json.RawMessage(`{"mac":"00:15:65:aa:bb:02"}`)); err != nil {
		t.Fatal(err)
	}
	deliver()
	if builds() == before {
		t.Fatal("a MAC change did not index the devices again")
	}
	if got := d.TenantOf(env.Ctx, "001565AABB02"); got != env.Tenant {
		t.Fatalf("new MAC: tenant %q, want %q", got, env.Tenant)
	}
	if got := d.TenantOf(env.Ctx, "001565AABB01"); got != "" {
		t.Fatalf("old MAC: tenant %q, want none", got)
	}
}
