package dhcp

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// ProvDirectory answers Directory questions from the provisioning service.
// The MACs of every tenant's devices are indexed once per store revision: a
// boot storm asks twice per phone, and reading every device each time (ten
// thousand documents) would make each answer cost tens of milliseconds.
type ProvDirectory struct {
	Prov    *provision.Service
	BaseURL string // provisioning.base_url
	// Revision is the store revision the index is valid for (the store's
	// Revision; nil indexes again at every question).
	Revision func() int64

	mu     sync.Mutex
	rev    int64
	built  bool
	byMAC  map[string]string // canonical MAC -> tenant ID
	byID   map[string]string // device ID -> canonical MAC, to tell a MAC change from another edit
	seen   int64             // the revision of the last commit Commit saw
	builds int               // how many times the devices were indexed
}

// Commit keeps the index current off the DHCP path: a commit that changes
// devices or tenants indexes them again now (the phones of a boot storm that
// follows find it built), one that does not keeps the index valid for its
// revision, so that an unrelated change costs the next DHCP message nothing.
func (d *ProvDirectory) Commit(ctx context.Context, c store.Commit) {
	if d.Revision == nil {
		return
	}
	if c.Touches(provision.KindDevice, provision.KindTenant) && !d.sameMACs(ctx, c) {
		rev := d.Revision() // read before the devices: the index is at least this new
		idx, ids, err := d.index(ctx)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.seen = max(d.seen, c.Rev)
		if err == nil && (!d.built || rev > d.rev) {
			d.byMAC, d.byID, d.rev, d.built = idx, ids, rev, true
			d.builds++
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// The index reflects every change up to d.rev, and those since the last
	// commit seen up to c.Rev touched no device: still valid at c.Rev.
	if d.built && d.seen > 0 && d.rev >= d.seen && d.rev <= c.Rev {
		d.rev = c.Rev
	}
	d.seen = max(d.seen, c.Rev)
}

// sameMACs reports whether every change of c is an edit of a device that
// keeps its MAC (and tenant): a phone claiming its secret URL, a new template,
// a note. A boot storm through secret directories makes thousands of such
// commits, each of which would otherwise index every device again.
func (d *ProvDirectory) sameMACs(ctx context.Context, c store.Commit) bool {
	if c.All {
		return false
	}
	d.mu.Lock()
	built, byID, byMAC := d.built, d.byID, d.byMAC
	d.mu.Unlock()
	if !built {
		return false
	}
	for _, ch := range c.Changes {
		if ch.Kind != provision.KindDevice {
			if ch.Kind == provision.KindTenant {
				return false
			}
			continue
		}
		mac, known := byID[ch.ID]
		if ch.Action != "update" || !known || byMAC[mac] != ch.Tenant {
			return false
		}
		dev, err := d.Prov.Device(ctx, ch.Tenant, ch.ID)
		if err != nil || dev.MAC != mac {
			return false
		}
	}
	return true
}

// Warm indexes the devices now, when nothing has yet: the server calls it
// as it binds, so that the first DISCOVERs of a boot storm do not all wait
// for the index.
func (d *ProvDirectory) Warm(ctx context.Context) {
	d.TenantOf(ctx, "000000000000")
}

// indexTimeout bounds reading every device to index them again.
const indexTimeout = 10 * time.Second

// TenantOf finds the tenant whose device has mac.
func (d *ProvDirectory) TenantOf(ctx context.Context, mac string) string {
	m, err := provision.ParseMAC(mac)
	if err != nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rev := int64(-1)
	if d.Revision != nil {
		rev = d.Revision()
	}
	// Once commits reach Commit, a stale index still answers for the MACs it
	// has: Commit brings it up to date off this path (a device deleted or
	// moved a moment ago is answered as before for those milliseconds), and
	// indexing every device here, once per DHCP message while commits keep
	// coming (phones claiming their secret URLs in a boot storm), held every
	// message up for seconds. A MAC it lacks may be a device added a moment
	// ago: that one indexes again, once per revision.
	if tenant, ok := d.byMAC[m.String()]; ok && d.built && rev >= 0 && d.seen > 0 {
		return tenant
	}
	if !d.built || rev != d.rev || rev < 0 {
		ctx, cancel := context.WithTimeout(ctx, indexTimeout)
		defer cancel()
		idx, ids, err := d.index(ctx)
		if err != nil {
			return ""
		}
		d.byMAC, d.byID, d.rev, d.built = idx, ids, rev, true
		d.builds++
	}
	return d.byMAC[m.String()]
}

// index maps every device's MAC to its tenant. A MAC in two tenants (allowed
// in multi-tenant mode) goes to the first tenant listed, as before.
func (d *ProvDirectory) index(ctx context.Context) (byMAC, byID map[string]string, err error) {
	var tenants []string
	if d.Prov.Mode() != provision.ModeMulti {
		tenants = []string{d.Prov.DefaultTenant()}
	} else {
		list, err := d.Prov.Tenants(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range list {
			tenants = append(tenants, t.ID)
		}
	}
	byMAC, byID = map[string]string{}, map[string]string{}
	for _, t := range tenants {
		devs, err := d.Prov.Devices(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		for _, dev := range devs {
			byID[dev.ID] = dev.MAC
			if _, taken := byMAC[dev.MAC]; !taken {
				byMAC[dev.MAC] = t
			}
		}
	}
	return byMAC, byID, nil
}

// URL is the tenant's provisioning tree as phones fetch it: /provisioning/ in
// single-tenant mode, /provisioning/<uuid>/ in multi-tenant mode.
func (d *ProvDirectory) URL(tenant string) string {
	u := strings.TrimRight(d.BaseURL, "/") + "/provisioning/"
	if d.Prov.Mode() == provision.ModeMulti && tenant != "" {
		u += tenant + "/"
	}
	return u
}

// DeviceURL is the secret directory of the device with mac in tenant: where
// its file is served with secure URLs on.
func (d *ProvDirectory) DeviceURL(tenant, mac string) string {
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
