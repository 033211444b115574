package dhcp

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// ProvDirectory answers Directory questions from the provisioning service.
type ProvDirectory struct {
	Prov    *provision.Service
	BaseURL string // provisioning.base_url
}

// TenantOf finds the tenant whose device has mac. Multi-tenant boxes ask every
// tenant: a lab box has few, and the answer is needed once per DHCP exchange.
func (d ProvDirectory) TenantOf(ctx context.Context, mac string) string {
	if d.Prov.Mode() != provision.ModeMulti {
		t := d.Prov.DefaultTenant()
		if _, err := d.Prov.DeviceByMAC(ctx, t, mac); err == nil {
			return t
		}
		return ""
	}
	list, err := d.Prov.Tenants(ctx)
	if err != nil {
		return ""
	}
	for _, t := range list {
		if _, err := d.Prov.DeviceByMAC(ctx, t.ID, mac); err == nil {
			return t.ID
		}
	}
	return ""
}

// URL is the tenant's provisioning tree as phones fetch it: /provisioning/ in
// single-tenant mode, /provisioning/<uuid>/ in multi-tenant mode.
func (d ProvDirectory) URL(tenant string) string {
	u := strings.TrimRight(d.BaseURL, "/") + "/provisioning/"
	if d.Prov.Mode() == provision.ModeMulti && tenant != "" {
		u += tenant + "/"
	}
	return u
}

// DeviceURL is the secret directory of the device with mac in tenant: where
// its file is served with secure URLs on.
func (d ProvDirectory) DeviceURL(tenant, mac string) string {
	for _, r := range d.Prov.FindMAC(mac) {
		if r.Tenant == tenant {
			return provision.DeviceDir(d.URL(tenant), r.Token)
		}
	}
	return d.URL(tenant)
}

// BrandOUIs maps each brand of the built-in catalog to its OUIs.
func BrandOUIs(prov *provision.Service) map[string][]string {
	out := map[string][]string{}
	for _, b := range prov.BuiltinCatalog().Brands {
		out[b.ID] = b.OUIs
	}
	return out
}

// FallbackTenant resolves Config.Tenant (UUID or name) to a tenant ID.
func FallbackTenant(ctx context.Context, prov *provision.Service, ref string) (string, error) {
	if ref == "" {
		if prov.Mode() == provision.ModeMulti {
			return "", nil
		}
		return prov.DefaultTenant(), nil
	}
	list, err := prov.Tenants(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range list {
		if t.ID == ref || t.Name == ref {
			return t.ID, nil
		}
	}
	return "", fmt.Errorf("dhcp: tenant: no tenant %q", ref)
}

func sortLeases(l []store.DHCPLease) {
	sort.Slice(l, func(i, j int) bool {
		a, b := ipKey(l[i].IP), ipKey(l[j].IP)
		return a < b
	})
}

func ipKey(s string) uint32 {
	if ip, ok := ip4(s); ok {
		return u32(ip)
	}
	return 0
}
