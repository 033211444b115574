package provision

// DeviceRef says where a configured MAC lives: its tenant, device and rendered
// file (File is "" while the device has none, e.g. without a linked account).
type DeviceRef struct {
	Tenant, Device, File string
	// Token is the device's secret URL token (see DeviceDir): hand the phone
	// DeviceDir(tenant URL, Token), never the tenant's URL alone.
	Token string
}

// TokenOf is the secret URL token of tenant's device (see DeviceDir), from
// the rendered tree; "" when the device has none.
func (s *Service) TokenOf(tenant, device string) string {
	r := s.render
	r.mu.RLock()
	defer r.mu.RUnlock()
	if tf := r.tenants[tenant]; tf != nil {
		return tf.tokenOf[device]
	}
	return ""
}

// FindMAC lists every tenant that configures mac (AABBCCDDEEFF), from the rendered
// tree: no database access, so protocol front ends may call it per packet.
func (s *Service) FindMAC(mac string) []DeviceRef {
	r := s.render
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []DeviceRef
	for id, tf := range r.tenants {
		name, ok := tf.devices[mac]
		if !ok || tf.disabled {
			continue
		}
		ref := DeviceRef{Tenant: id}
		if f := tf.lookupFile(name); name != "" && f != nil {
			ref.Device, ref.File = f.Device, f.Name
			ref.Token = tf.tokenOf[f.Device]
		}
		out = append(out, ref)
	}
	return out
}
