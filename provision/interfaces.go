package provision

import (
	"maps"
	"net"
)

// Interfaces is where dynamic custom placeholders (%%_NAME%% of type dynamic)
// get the appliance's addresses from. The renderer reads it in its own loop,
// at start and every few seconds, never while rendering or serving: a file is
// made from the last addresses read.
type Interfaces interface {
	// IPv4 returns the first IPv4 address of each interface that has one.
	IPv4() (map[string]string, error)
}

// SystemInterfaces reads the host's interfaces.
type SystemInterfaces struct{}

// IPv4 implements Interfaces.
func (SystemInterfaces) IPv4() (map[string]string, error) {
	list, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, ifc := range list {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				out[ifc.Name] = ipn.IP.String()
				break
			}
		}
	}
	return out, nil
}

// SetInterfaces replaces the interface source (before Serve); tests use it to
// change an address without touching the host.
func (s *Service) SetInterfaces(src Interfaces) { s.ifaces = src }

// refreshInterfaces reads the source and reports whether the address of an
// interface a placeholder names has changed. It runs in the run goroutine.
func (r *renderer) refreshInterfaces() bool {
	now, err := r.s.ifaces.IPv4()
	if err != nil {
		r.log.Warn("reading interface addresses", "err", err)
		return false
	}
	r.ifaceMu.Lock()
	defer r.ifaceMu.Unlock()
	if maps.Equal(now, r.ifaces) {
		return false
	}
	changed := false
	for name := range r.usedIfaces {
		if old, ip := r.ifaces[name], now[name]; old != ip {
			r.log.Info("interface address changed: re-rendering", "interface", name, "old", old, "new", ip)
			changed = true
		}
	}
	r.ifaces = now
	return changed
}

// interfaceIPv4 is an interface's address as last read ("" if none).
func (r *renderer) interfaceIPv4(name string) string {
	r.ifaceMu.RLock()
	defer r.ifaceMu.RUnlock()
	return r.ifaces[name]
}
