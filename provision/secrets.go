package provision

// Secrets in answers: SIP passwords, phone web passwords and the provisioning
// HTTP password are shown as store.Mask to every role; an admin (or the
// tenant's own admin) sees one in clear only by asking for it, and every such
// reveal is an audit row.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/switchboard-pbx/switchboard/store"
)

// KindFile names a rendered file in audit rows of reveals (files are not
// stored objects).
const KindFile = "file"

// secretVars are the placeholders whose values are secrets.
var secretVars = []string{"ACCOUNT_SIP_PASSWORD", "PHONEPASSWORD", "PHONE_ADMIN_PASSWORD", "KPBX_PROVISIONING_PASSWORD"}

// keepMasked drops from a JSON patch the keys among secrets whose value is
// store.Mask: a client that sends back what it read means "unchanged".
func keepMasked(patch json.RawMessage, secrets ...string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(patch, &m) != nil {
		return patch // strictMerge reports it
	}
	changed := false
	for _, k := range secrets {
		var v string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &v) == nil && v == store.Mask {
			delete(m, k)
			changed = true
		}
	}
	if !changed {
		return patch
	}
	out, err := json.Marshal(m)
	if err != nil {
		return patch
	}
	return out
}

// MaskedBody is a rendered file's content with every secret that went into it
// (its device's SIP passwords, one per line, its phone admin password, the
// tenant's provisioning and phone admin passwords,
// as written raw or XML-escaped) replaced by store.Mask. A file without
// secrets comes back as it is.
func (s *Service) MaskedBody(ctx context.Context, f *File) ([]byte, error) {
	if !f.Secret {
		return f.Body, nil
	}
	var values []string
	err := s.st.View(ctx, func(tx *store.Tx) error {
		pbx, err := getPBX(tx, f.Tenant)
		if err != nil {
			return err
		}
		values = append(values, pbx.HTTPPassword, pbx.PhoneAdminPassword)
		if f.Device == "" {
			return nil
		}
		var d Device
		if err := getIn(tx, KindDevice, f.Tenant, f.Device, &d); err != nil {
			return err
		}
		values = append(values, d.PhonePassword, d.URLToken)
		for _, l := range d.Lines {
			var a Account
			if err := getIn(tx, KindAccount, f.Tenant, l.Account, &a); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			values = append(values, a.SIPPassword)
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var forms [][]byte
	for _, v := range values {
		if v == "" {
			continue
		}
		forms = append(forms, appendValue(nil, v, EscapeNone), appendValue(nil, v, EscapeXML))
	}
	// Longest first, so that a secret containing another is masked whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	body := f.Body
	for _, form := range forms {
		body = bytes.ReplaceAll(body, form, []byte(store.Mask))
	}
	return body, nil
}

// RevealAccount returns an account's SIP password and records the reveal.
func (s *Service) RevealAccount(ctx context.Context, actor store.Actor, tenant, id string) (string, error) {
	a, err := s.Account(ctx, tenant, id)
	if err != nil {
		return "", err
	}
	return a.SIPPassword, s.st.Reveal(ctx, actor, KindAccount, tenant, id, "sip_password of account "+a.Extension+" revealed")
}

// RevealDevice returns a device's phone web password and its secret
// provisioning URL (the directory its files are served under, see
// PBXSettings.SecureURLs), and records the reveal.
func (s *Service) RevealDevice(ctx context.Context, actor store.Actor, tenant, id string) (phonePassword, provisioningURL string, err error) {
	d, err := s.Device(ctx, tenant, id)
	if err != nil {
		return "", "", err
	}
	return d.PhonePassword, DeviceDir(s.ProvisioningURL(tenant), d.URLToken),
		s.st.Reveal(ctx, actor, KindDevice, tenant, id, "phone_password and secret URL of device "+d.MAC+" revealed")
}

// RevealPBX returns a tenant's provisioning HTTP password and phone admin
// password and records the reveal.
func (s *Service) RevealPBX(ctx context.Context, actor store.Actor, tenant string) (httpPassword, phoneAdminPassword string, err error) {
	p, err := s.PBX(ctx, tenant)
	if err != nil {
		return "", "", err
	}
	return p.HTTPPassword, p.PhoneAdminPassword, s.st.Reveal(ctx, actor, KindPBX, tenant, tenant, "http_password and phone_admin_password of the PBX settings revealed")
}

// RevealFile returns a rendered file in clear and records the reveal (when it
// carries secrets; a file without any is no reveal).
func (s *Service) RevealFile(ctx context.Context, actor store.Actor, tenant, name string) (*File, error) {
	f, ok := s.Lookup(tenant, name)
	if !ok {
		return nil, store.ErrNotFound
	}
	if !f.Secret {
		return f, nil
	}
	return f, s.st.Reveal(ctx, actor, KindFile, tenant, f.Name, "rendered file "+f.Name+" revealed with its secrets")
}

// RevealExport records that a CSV export carried the secrets of the tenant's
// objects of kind (accounts or devices).
func (s *Service) RevealExport(ctx context.Context, actor store.Actor, tenant, kind string) error {
	return s.st.Reveal(ctx, actor, kind, tenant, tenant, kind+" secrets of the tenant exported in CSV")
}
