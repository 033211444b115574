package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/switchboard-pbx/switchboard/store"
)

// Target firmware. A model's firmware is one of the tenant's uploaded files
// (assets): assets belong to a tenant while built-in and global models are
// shared by every tenant, so the choice is a per-tenant mapping model ->
// asset (kind firmware, id "<tenant>/<model>"), the same for built-in, global
// and tenant models. Seen from a tenant, a model carries it as its Firmware
// field; saving a model in a tenant with a "firmware" field sets it (a
// built-in or global model takes a patch of that field alone, no copy
// needed). Device files name it in %%KPBX_FIRMWARE_URL%%: the asset's URL
// in the device's own directory of the tree (its secret directory when the
// tenant has secure URLs), empty when the model has none.

// KindFirmware is the store kind of the per-tenant model -> asset mapping.
const KindFirmware = "firmware"

// ModelFirmware is a tenant's target firmware for a model.
type ModelFirmware struct {
	Tenant string `json:"tenant"`
	Model  string `json:"model"`
	// Asset is the uploaded file's name in the tenant's tree.
	Asset string `json:"asset"`
}

func firmwareID(tenant, model string) string { return tenant + "/" + model }

// tenantScoped reports whether tenant names one tenant (not the global scope).
func tenantScoped(tenant string) bool { return tenant != "" && tenant != globalScope }

// splitFirmware takes the "firmware" field out of a model patch: the
// asset name, whether the patch had the field, and the rest of the patch.
// A patch that is not a JSON object is returned whole, for strictMerge to
// report.
func splitFirmware(patch json.RawMessage) (asset string, has bool, rest json.RawMessage, err error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(patch, &fields) != nil || fields == nil {
		return "", false, patch, nil
	}
	raw, has := fields["firmware"]
	if !has {
		return "", false, patch, nil
	}
	if !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &asset); err != nil {
			return "", false, nil, verr("firmware", "firmware must be the name of an uploaded file (a string; \"\" for none)")
		}
	}
	delete(fields, "firmware")
	rest, err = json.Marshal(fields)
	return asset, true, rest, err
}

// setFirmware records (or, for "", clears) tenant's target firmware for a
// model; the asset must be one of the tenant's uploaded files.
func setFirmware(tx *store.Tx, tenant string, m Model, asset string) error {
	if !tenantScoped(tenant) {
		if asset == "" {
			return nil
		}
		return verr("firmware", "firmware is chosen per tenant (it is one of the tenant's uploaded files): set it on the model in a tenant")
	}
	id := firmwareID(tenant, m.ID)
	var old ModelFirmware
	had, err := tx.Get(KindFirmware, id, &old)
	if err != nil {
		return err
	}
	if asset == "" {
		if !had {
			return nil
		}
		return tx.Delete(KindFirmware, id, fmt.Sprintf("model %s %s: target firmware %s removed", m.Brand, m.Name, old.Asset))
	}
	if err := checkFileName(asset, false); err != nil {
		return verr("firmware", "firmware: %v", err)
	}
	var a Asset
	if ok, err := tx.Get(KindAsset, assetID(tenant, asset), &a); err != nil {
		return err
	} else if !ok || a.Tenant != tenant {
		return verr("firmware", "firmware %q is not one of this tenant's uploaded files: upload it first (PUT /api/v1/tenants/{tenant}/assets/{name})", asset)
	}
	mf := ModelFirmware{Tenant: tenant, Model: m.ID, Asset: asset}
	desc := fmt.Sprintf("model %s %s: target firmware set to %s", m.Brand, m.Name, asset)
	if had {
		return tx.Replace(KindFirmware, tenant, id, mf, desc)
	}
	return tx.Create(KindFirmware, tenant, id, mf, desc)
}

// dropFirmware removes every tenant's firmware mapping of a deleted model.
func dropFirmware(tx *store.Tx, model string) error {
	var ids []string
	err := tx.List(KindFirmware, "", func(id string, data json.RawMessage) error {
		var mf ModelFirmware
		if err := json.Unmarshal(data, &mf); err != nil {
			return fmt.Errorf("provision: firmware %s: %w", id, err)
		}
		if mf.Model == model {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := tx.Delete(KindFirmware, id, "target firmware of deleted model removed"); err != nil {
			return err
		}
	}
	return nil
}

// firmwareUser is the model whose target firmware asset is, in tenant ("" = none).
func firmwareUser(tx *store.Tx, tenant, asset string) (string, error) {
	model := ""
	err := listInto(tx, KindFirmware, tenant, func(mf ModelFirmware) {
		if mf.Asset == asset && model == "" {
			model = mf.Model
		}
	})
	return model, err
}

// overlayFirmware sets the Firmware field of tenant's view of the models.
func overlayFirmware(tx *store.Tx, tenant string, models map[string]Model) error {
	if !tenantScoped(tenant) {
		return nil
	}
	return listInto(tx, KindFirmware, tenant, func(mf ModelFirmware) {
		if m, ok := models[mf.Model]; ok {
			m.Firmware = mf.Asset
			models[mf.Model] = m
		}
	})
}

// firmwareURL is the URL of a device's target firmware: the asset in the
// device's directory of the tree (dir is the device's
// KPBX_PROVISIONING_URL), or "" when the model has none or the file is gone.
func firmwareURL(dir string, m Model, assets map[string]*Asset) string {
	if m.Firmware == "" || assets[m.Firmware] == nil {
		return ""
	}
	return dir + url.PathEscape(m.Firmware)
}

// firmwareVar sets %%KPBX_FIRMWARE_URL%% for a preview, which shows the
// tenant's directory (vars' KPBX_PROVISIONING_URL), never a device's secret one.
func firmwareVar(tx *store.Tx, tenant string, vars map[string]string, m Model) error {
	vars["KPBX_FIRMWARE_URL"] = ""
	if m.Firmware == "" {
		return nil
	}
	var a Asset
	ok, err := tx.Get(KindAsset, assetID(tenant, m.Firmware), &a)
	if err != nil || !ok {
		return err
	}
	vars["KPBX_FIRMWARE_URL"] = firmwareURL(vars["KPBX_PROVISIONING_URL"], m, map[string]*Asset{m.Firmware: &a})
	return nil
}

// modelName names a model in messages: brand and name, else its id.
func (s *Service) modelName(tx *store.Tx, tenant, id string) string {
	models, _, err := s.catalogIn(tx, tenant)
	if m, ok := models[id]; err == nil && ok {
		return s.brandName(m.Brand) + " " + m.Name
	}
	return id
}
