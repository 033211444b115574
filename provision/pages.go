package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/switchboard-pbx/switchboard/store"
)

// DevicePageItem is a device of a listed page with the linked account's
// extension and name and the model's label, so that a list shows them without
// loading every account or the tenant's catalog first.
type DevicePageItem struct {
	DeviceView
	AccountExtension string `json:"account_extension,omitempty"`
	AccountName      string `json:"account_name,omitempty"`
	// ModelLabel is the model's brand and name ("Yealink T46U"); the model's
	// id when the tenant does not see such a model.
	ModelLabel string `json:"model_label,omitempty"`
}

// macSearch turns a search that looks like (part of) a MAC in any of the
// accepted forms into the stored form (upper-case hex, no separators).
func macSearch(q string) string {
	s := strings.ToUpper(strings.NewReplacer(":", "", "-", "", ".", "", " ", "").Replace(q))
	if s == "" || len(s) > 12 {
		return ""
	}
	for _, c := range []byte(s) {
		if !isHex(c) {
			return ""
		}
	}
	return s
}

// accountFields are the account fields a device is found by.
var accountFields = []string{"extension", "display_name", "first_name", "last_name", "sip_username"}

// DevicePage is one page of a tenant's devices sorted by MAC, filtered by q (in
// the MAC in any form, the notes, the model, the linked account's extension or
// names), and the number of matching devices. It reads only the page's devices
// from the store, so it costs the same with ten devices or ten thousand.
func (s *Service) DevicePage(ctx context.Context, tenant, q string, limit, offset int) ([]DevicePageItem, int, error) {
	p := store.Page{Order: "mac", OrderUnique: true, Limit: limit, Offset: offset}
	if q = strings.TrimSpace(q); q != "" {
		p.Match = []store.Match{{Field: "notes", Text: q}, {Field: "model", Text: q},
			{Field: "account", Text: q, RefKind: KindAccount, RefFields: accountFields}}
		if m := macSearch(q); m != "" {
			p.Match = append(p.Match, store.Match{Field: "mac", Text: m})
		}
	}
	var devs []Device
	accounts := map[string]Account{}
	labels := map[string]string{}
	var total int
	err := s.st.View(ctx, func(tx *store.Tx) error {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return orNotFound(err)
		}
		var err error
		total, err = tx.ListPage(KindDevice, tenant, p, jsonInto(&devs))
		if err != nil {
			return err
		}
		for _, d := range devs {
			if _, seen := labels[d.Model]; d.Model != "" && !seen {
				l, err := s.modelLabel(tx, tenant, d.Model)
				if err != nil {
					return err
				}
				labels[d.Model] = l
			}
			if d.Account == "" {
				continue
			}
			if _, seen := accounts[d.Account]; seen {
				continue
			}
			var a Account
			if ok, err := tx.Get(KindAccount, d.Account, &a); err != nil {
				return err
			} else if ok && a.Tenant == tenant {
				accounts[d.Account] = a
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	views := s.ViewDevices(tenant, devs)
	out := make([]DevicePageItem, len(views))
	for i, v := range views {
		out[i] = DevicePageItem{DeviceView: v, ModelLabel: labels[v.Model]}
		if a, ok := accounts[v.Account]; ok {
			out[i].AccountExtension = a.Extension
			out[i].AccountName = a.DisplayName
		}
	}
	return out, total, nil
}

// modelLabel names the model id as the tenant sees it (a built-in model, a
// global user model or one of the tenant's): brand and name, else the id. It
// reads only that model, not the tenant's catalog.
func (s *Service) modelLabel(tx *store.Tx, tenant, id string) (string, error) {
	// A user model of the same id wins, as in catalogIn.
	var um UserModel
	ok, err := tx.Get(KindModel, id, &um)
	if err != nil {
		return "", err
	}
	if ok && (um.Tenant == globalScope || um.Tenant == storeTenant(tenant)) {
		return s.brandName(um.Brand) + " " + um.Name, nil
	}
	for _, m := range s.builtin.Models {
		if m.ID == id {
			return s.brandName(m.Brand) + " " + m.Name, nil
		}
	}
	return id, nil
}

// AccountPage is one page of a tenant's accounts sorted by extension, filtered
// by q (extension, names, SIP user), and the number of matching accounts.
func (s *Service) AccountPage(ctx context.Context, tenant, q string, limit, offset int) ([]Account, int, error) {
	p := store.Page{Order: "extension", OrderUnique: true, Limit: limit, Offset: offset}
	if q = strings.TrimSpace(q); q != "" {
		for _, f := range accountFields {
			p.Match = append(p.Match, store.Match{Field: f, Text: q})
		}
	}
	out := []Account{}
	var total int
	err := s.st.View(ctx, func(tx *store.Tx) error {
		if ok, err := tx.Get(KindTenant, tenant, &Tenant{}); err != nil || !ok {
			return orNotFound(err)
		}
		var err error
		total, err = tx.ListPage(KindAccount, tenant, p, jsonInto(&out))
		return err
	})
	return out, total, err
}

// Interface is one of the appliance's network interfaces, for choosing the
// interface of a dynamic placeholder.
type Interface struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// IPv4 is what a dynamic placeholder on this interface is replaced with now
	// (its first IPv4 address; "" when it has none).
	IPv4 string `json:"ipv4"`
	// Addresses are all its addresses in CIDR form.
	Addresses []string `json:"addresses"`
	MAC       string   `json:"mac,omitempty"`
}

// InterfaceList lists the appliance's network interfaces (VLAN interfaces such
// as eth0.20 included) with the value a dynamic placeholder takes on each. It
// reads the host (for the console), never on a phone's request path.
func InterfaceList() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifc := range ifs {
		it := Interface{Name: ifc.Name, Up: ifc.Flags&net.FlagUp != 0, Addresses: []string{}, MAC: ifc.HardwareAddr.String()}
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				it.Addresses = append(it.Addresses, a.String())
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && it.IPv4 == "" {
					it.IPv4 = ipn.IP.String() // what SystemInterfaces gives the renderer
				}
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// jsonInto is a store list callback appending each object, decoded, to *out.
func jsonInto[T any](out *[]T) func(id string, data json.RawMessage) error {
	return func(id string, data json.RawMessage) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("provision: object %s: %w", id, err)
		}
		if d, ok := any(&v).(*Device); ok {
			d.normalize()
		}
		*out = append(*out, v)
		return nil
	}
}

// deviceFiles returns, for the devices of list, their file's name and why a
// device has none, without copying or sorting the tenant's file list.
func (r *renderer) deviceFiles(tenant string, list []Device) (map[string]string, map[string]string, []Warning) {
	want := make(map[string]bool, len(list))
	for _, d := range list {
		want[d.ID] = true
	}
	files, problems := map[string]string{}, map[string]string{}
	r.mu.RLock()
	defer r.mu.RUnlock()
	tf, ok := r.tenants[tenant]
	if !ok {
		return files, problems, nil
	}
	for _, f := range tf.files {
		if f.Device != "" && want[f.Device] {
			files[f.Device] = f.Name
		}
	}
	for id := range want {
		if p, ok := tf.errors[id]; ok {
			problems[id] = p
		}
	}
	return files, problems, tf.warnings
}

// DeviceCounts is the number of devices of each tenant.
func (s *Service) DeviceCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		ts, err := listTenants(tx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if out[t.ID], err = tx.Count(KindDevice, t.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// FilePage is one page of a tenant's rendered files sorted by name, filtered
// by q (in the name or the device's MAC), and the number of matching files.
func (s *Service) FilePage(tenant, q string, limit, offset int) ([]*File, int) {
	files, _ := s.render.list(tenant)
	if q = strings.TrimSpace(strings.ToLower(q)); q != "" {
		mq := macSearch(q)
		kept := files[:0:0]
		for _, f := range files {
			if strings.Contains(strings.ToLower(f.Name), q) || (mq != "" && strings.Contains(f.MAC, mq)) {
				kept = append(kept, f)
			}
		}
		files = kept
	}
	total := len(files)
	if offset > total {
		offset = total
	}
	end := min(offset+limit, total)
	out := files[offset:end]
	if out == nil {
		out = []*File{}
	}
	return out, total
}

// DeviceUse is what choosing devices by model or template needs of a device.
type DeviceUse struct {
	ID       string `json:"id"`
	Model    string `json:"model"`
	Template string `json:"template"`
}

// EachDeviceUse calls f with each of a tenant's devices in turn, decoding only
// their model and template and holding none of them: counting over ten
// thousand devices (the resync hint of a template save, which runs beside the
// re-render the save causes) then costs next to no memory.
func (s *Service) EachDeviceUse(ctx context.Context, tenant string, f func(DeviceUse)) error {
	return s.st.View(ctx, func(tx *store.Tx) error { return listInto(tx, KindDevice, tenant, f) })
}
