package provision

// DeviceRef says where a configured MAC lives: its tenant, device and rendered
// file (File is "" while the device has none, e.g. without a linked account).
type DeviceRef struct {
	Tenant, Device, File string
}

// FindMAC lists every tenant that configures mac (AABBCCDDEEFF), from the rendered
// tree: no database access, so protocol front ends may call it per packet.
func (s *Service) FindMAC(mac string) []DeviceRef {
	r := s.render
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []DeviceRef
	for id, tf := range r.tenants {
		if !tf.macs[mac] {
			continue
		}
		ref := DeviceRef{Tenant: id}
		for _, f := range tf.files {
			if f.MAC == mac && f.Device != "" {
				ref.Device, ref.File = f.Device, f.Name
				break
			}
		}
		out = append(out, ref)
	}
	return out
}
