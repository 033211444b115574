package dhcp

import (
	"encoding/json"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
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
