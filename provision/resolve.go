package provision

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Resolution errors. Protocol front ends map them to their own answers (404 or
// TFTP "file not found" / "access violation"), never to a file.
var (
	ErrBadPath  = errors.New("bad path")
	ErrNoTenant = errors.New("unknown tenant")
	ErrNoFile   = errors.New("file not found")
	// ErrWithheld is ErrNoFile for a device file asked for by name in a
	// tenant that serves it only under the device's secret URL.
	ErrWithheld = fmt.Errorf("%w: a device file is served only under its secret URL", ErrNoFile)
)

// Target is what a requested path names.
type Target struct {
	Tenant string
	Name   string
	File   *File  // a rendered file, or
	Asset  *Asset // an uploaded asset (firmware, ...)
	// Auth is what the tenant demands before serving File (Mode "none" or "").
	Auth HTTPAuth
	// MAC is set when the name looks like a device file of a known model (or holds
	// 12 hex digits) but nothing is configured for it.
	MAC string
	// Token says the request came through a device's secret URL (which is its
	// credential: Auth is then empty).
	Token bool
	// Bootstrap says File is the device's bootstrap file (see enroll.go): a
	// secure tenant's answer to a request for a device file by name;
	// Enroll that it carries the device's secret directory.
	Bootstrap, Enroll bool
	// secure is the tenant's PBXSettings.SecureURLs.
	secure bool
	// event and device are what Served records for this answer.
	event  int
	device string
}

// HTTPAuth is a tenant's provisioning authentication: Mode none, basic or digest.
type HTTPAuth struct {
	Mode, User, Password string
}

// Required reports whether requests must authenticate.
func (a HTTPAuth) Required() bool { return a.Mode == "basic" || a.Mode == "digest" }

// Resolve maps a request path (relative to the provisioning root: "file" in
// single-tenant mode, "<tenant uuid>/file" in multi-tenant mode) to a file. It
// refuses traversal, absolute paths, empty or nested names and unknown tenants.
//
// A device's secret directory ("<token>/file", "<tenant uuid>/<token>/file")
// serves everything the tenant's tree does (common files, assets, the
// phonebook), its own device file, and no other device's. A device file asked
// for without its token is ErrWithheld in a tenant with secure URLs.
func (s *Service) Resolve(path string) (Target, error) {
	if len(path) == 0 || len(path) > 512 || strings.ContainsAny(path, "\\\x00") {
		return Target{}, ErrBadPath
	}
	if tok, rest, ok := stripToken(path, s.tcfg.Mode == ModeMulti); ok {
		t, err := s.resolvePath(rest)
		if errors.Is(err, ErrBadPath) || errors.Is(err, ErrNoTenant) {
			return Target{}, err
		}
		r := s.render
		r.mu.RLock()
		dev, known := "", false
		if tf := r.tenants[t.Tenant]; tf != nil {
			dev, known = tf.tokens[tok]
		}
		r.mu.RUnlock()
		// An unknown token is a wrong guess: nothing is said of the file.
		if !known || err != nil || t.File != nil && t.File.Device != "" && t.File.Device != dev {
			return Target{Tenant: t.Tenant}, ErrNoFile
		}
		t.Auth, t.Token, t.MAC = HTTPAuth{}, true, ""
		// The device's own file, fetched in a secure tenant by a device that
		// has not claimed its directory yet: a claim. It does not ask whether
		// the device has a bootstrap file (one whose template writes a secret
		// has none): that would make one at every first fetch of a boot storm
		// (bootcache.go), and the claim is true either way.
		if t.secure && t.File != nil && t.File.Device != "" {
			if en, _ := s.enroll.get(dev); en.ClaimedAt.IsZero() {
				t.event, t.device = eventClaim, dev
			}
		}
		return t, nil
	}
	t, err := s.resolvePath(path)
	if err == nil && t.secure && t.File != nil && t.File.Secret && t.File.Device != "" {
		return s.bootstrap(t)
	}
	return t, err
}

// bootstrap is the answer to a request by name for a device file a secure
// tenant withholds: the device's bootstrap file (made at the first request
// that needs it, then cached: bootcache.go), or ErrWithheld without one.
func (s *Service) bootstrap(t Target) (Target, error) {
	e := s.render.bootstrapFor(t.Tenant, t.File)
	if e == nil {
		return Target{Tenant: t.Tenant, Name: t.Name}, ErrWithheld
	}
	en, _ := s.enroll.get(e.device)
	f, handsOut := e.pick(en, time.Now())
	t.File, t.Bootstrap, t.Enroll = f, true, handsOut
	if handsOut {
		t.event, t.device = eventHandOut, e.device
	}
	return t, nil
}

// resolvePath is Resolve without device tokens.
func (s *Service) resolvePath(path string) (Target, error) {
	var t Target
	if st, ok, err := s.resolveSub(path); ok {
		return st, err
	}
	dir, name, nested := strings.Cut(path, "/")
	if nested && strings.Contains(name, "/") {
		for _, p := range strings.Split(path, "/") {
			if p == "" || p == "." || p == ".." {
				return t, ErrBadPath
			}
		}
		return t, ErrNoFile
	}
	if !nested {
		dir, name = "", path
	}
	if name == "" || name == "." || name == ".." || (nested && (dir == "" || dir == "." || dir == "..")) {
		return t, ErrBadPath
	}
	if err := checkFileName(name, false); err != nil {
		return t, ErrBadPath
	}
	multi := s.tcfg.Mode == ModeMulti
	if multi != nested {
		return t, ErrNoFile
	}
	if multi {
		id, err := uuid.Parse(dir)
		if err != nil || len(dir) != 36 {
			return t, ErrNoTenant
		}
		t.Tenant = id.String()
	}
	t.Name = name
	// One look at the rendered tree: tenant, file or asset, and the tenant's
	// authentication together (memory only: this is every phone's request).
	r := s.render
	r.mu.RLock()
	if !multi {
		t.Tenant = r.single
	}
	tf, ok := r.tenants[t.Tenant]
	if ok && tf.disabled {
		ok = false // a disabled tenant is answered as if it did not exist
	}
	if ok {
		t.secure = tf.secure
		if f := tf.lookupFile(name); f != nil {
			t.File = f
			if f.Secret {
				t.Auth = tf.auth
			}
		} else if a, found := tf.assets[name]; found {
			t.Asset = a
		} else if mac := s.macInName(name); mac != "" {
			if _, configured := tf.devices[mac]; !configured {
				t.MAC = mac
			}
		}
	}
	r.mu.RUnlock()
	switch {
	case !ok:
		return t, ErrNoTenant
	case t.File != nil || t.Asset != nil:
		return t, nil
	}
	return t, ErrNoFile
}

// macInName finds the MAC a device-file request carries: by the filename rules of
// the built-in models first, then any run of 12 hex digits.
func (s *Service) macInName(name string) string {
	for _, m := range s.builtin.Models {
		for _, c := range m.CommonFiles {
			if c.Name == name {
				return "" // a common file (Poly 000000000000.cfg) names no device
			}
		}
	}
	for _, m := range s.builtin.Models {
		r := m.File
		if !strings.HasPrefix(name, r.Prefix) || !strings.HasSuffix(name, r.Suffix) || len(name) < len(r.Prefix)+len(r.Suffix) {
			continue
		}
		mid := name[len(r.Prefix) : len(name)-len(r.Suffix)]
		if mac, err := ParseMAC(mid); err == nil && mac.Format(r.MACFormat) == mid && phoneMAC(mac) {
			return mac.String()
		}
	}
	run := 0
	for i := 0; i < len(name); i++ {
		if _, ok := unhex(name[i]); ok {
			run++
			if run == 12 && (i+1 == len(name) || !isHex(name[i+1])) {
				if mac, err := ParseMAC(name[i-11 : i+1]); err == nil && phoneMAC(mac) {
					return mac.String()
				}
			}
		} else {
			run = 0
		}
	}
	return ""
}

// phoneMAC tells a phone's MAC from the zero-padded numbers of common file
// names (y000000000123.cfg): OUI 00:00:00 belongs to no phone vendor, and a
// group (multicast) address is no device at all.
func phoneMAC(m MAC) bool {
	return (m[0] != 0 || m[1] != 0 || m[2] != 0) && m[0]&1 == 0
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

func (s *Service) singleTenant() string {
	return s.render.singleTenant()
}

func (r *renderer) singleTenant() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.single
}
