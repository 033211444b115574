package provision

import (
	"errors"
	"strings"

	"github.com/google/uuid"
)

// Resolution errors. Protocol front ends map them to their own answers (404 or
// TFTP "file not found" / "access violation"), never to a file.
var (
	ErrBadPath  = errors.New("bad path")
	ErrNoTenant = errors.New("unknown tenant")
	ErrNoFile   = errors.New("file not found")
)

// Target is what a requested path names.
type Target struct {
	Tenant string
	Name   string
	File   *File  // a rendered file, or
	Asset  *Asset // an uploaded asset (firmware, ...)
	// MAC is set when the name looks like a device file of a known model (or holds
	// 12 hex digits) but nothing is configured for it.
	MAC string
}

// Resolve maps a request path (relative to the provisioning root: "file" in
// single-tenant mode, "<tenant uuid>/file" in multi-tenant mode) to a file. It
// refuses traversal, absolute paths, empty or nested names and unknown tenants.
func (s *Service) Resolve(path string) (Target, error) {
	var t Target
	if len(path) > 512 || strings.ContainsAny(path, "\\\x00") {
		return t, ErrBadPath
	}
	parts := strings.Split(path, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." {
			return t, ErrBadPath
		}
	}
	if s.tcfg.Mode == ModeMulti {
		if len(parts) != 2 {
			return t, ErrNoFile
		}
		id, err := uuid.Parse(parts[0])
		if err != nil || id.String() != strings.ToLower(parts[0]) {
			return t, ErrNoTenant
		}
		t.Tenant, t.Name = id.String(), parts[1]
	} else {
		if len(parts) != 1 {
			return t, ErrNoFile
		}
		t.Tenant, t.Name = s.singleTenant(), parts[0]
	}
	if t.Tenant == "" || !s.render.hasTenant(t.Tenant) {
		return t, ErrNoTenant
	}
	if err := checkFileName(t.Name, false); err != nil {
		return t, ErrBadPath
	}
	if f, ok := s.render.lookup(t.Tenant, t.Name); ok {
		t.File = f
		return t, nil
	}
	if a, ok := s.assets.lookup(t.Tenant, t.Name); ok {
		t.Asset = a
		return t, nil
	}
	if mac := s.macInName(t.Name); mac != "" && !s.render.configured(t.Tenant, mac) {
		t.MAC = mac
	}
	return t, ErrNoFile
}

// macInName finds the MAC a device-file request carries: by the filename rules of
// the built-in models first, then any run of 12 hex digits.
func (s *Service) macInName(name string) string {
	for _, m := range s.builtin.Models {
		r := m.File
		if !strings.HasPrefix(name, r.Prefix) || !strings.HasSuffix(name, r.Suffix) || len(name) < len(r.Prefix)+len(r.Suffix) {
			continue
		}
		mid := name[len(r.Prefix) : len(name)-len(r.Suffix)]
		if mac, err := ParseMAC(mid); err == nil && mac.Format(r.MACFormat) == mid {
			return mac.String()
		}
	}
	run := 0
	for i := 0; i < len(name); i++ {
		if _, ok := unhex(name[i]); ok {
			run++
			if run == 12 && (i+1 == len(name) || !isHex(name[i+1])) {
				if mac, err := ParseMAC(name[i-11 : i+1]); err == nil && mac.String() != "000000000000" {
					return mac.String()
				}
			}
		} else {
			run = 0
		}
	}
	return ""
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

func (s *Service) singleTenant() string {
	s.render.mu.RLock()
	defer s.render.mu.RUnlock()
	return s.render.single
}

func (r *renderer) hasTenant(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.tenants[id]
	return ok
}
