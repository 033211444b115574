package provision

import (
	"strings"

	"github.com/google/uuid"
)

// DirSource serves the files of one sub-directory of every tenant's tree that
// another component renders (the phonebook's phonebook/). Its files go
// through Resolve like the tree's own: the tenant must exist and be enabled,
// and a Secret file gets the tenant's authentication.
type DirSource interface {
	// DirFile returns the file name (a single path element) of tenant's
	// directory, or nil. It is asked on every phone's request: memory only.
	DirFile(tenant, name string) *File
}

// AddDirectory serves src under dir ("phonebook") in each tenant's tree:
// "<tenant>/<dir>/<name>" in multi-tenant mode, "<dir>/<name>" in single-tenant
// mode. Call it before the listeners serve.
func (s *Service) AddDirectory(dir string, src DirSource) {
	if s.subdirs == nil {
		s.subdirs = map[string]DirSource{}
	}
	s.subdirs[dir] = src
}

// resolveSub answers a path into a registered sub-directory; ok is false when
// the path names none (Resolve goes on). Empty elements inside the directory
// ("phonebook//phonebook.xml", from a server path that ends in a slash) are
// ignored.
func (s *Service) resolveSub(path string) (t Target, ok bool, err error) {
	if len(s.subdirs) == 0 {
		return t, false, nil
	}
	// No allocation before the sub-directory is known: this runs for every
	// phone's request.
	rest := path
	multi := s.tcfg.Mode == ModeMulti
	var tenant string
	if multi {
		var found bool
		if tenant, rest, found = strings.Cut(rest, "/"); !found {
			return t, false, nil
		}
	}
	dir, rest, found := strings.Cut(rest, "/")
	if !found {
		return t, false, nil
	}
	src, registered := s.subdirs[dir]
	if !registered {
		return t, false, nil
	}
	if multi {
		id, perr := uuid.Parse(tenant)
		if perr != nil || len(tenant) != 36 {
			return t, true, ErrNoTenant
		}
		t.Tenant = id.String()
	}
	name := strings.TrimLeft(rest, "/")
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") || checkFileName(name, false) != nil {
		return t, true, ErrBadPath
	}
	t.Name = dir + "/" + name
	r := s.render
	r.mu.RLock()
	if s.tcfg.Mode != ModeMulti {
		t.Tenant = r.single
	}
	tf, exists := r.tenants[t.Tenant]
	var auth HTTPAuth
	if exists && tf.disabled {
		exists = false // a disabled tenant is answered as if it did not exist
	} else if exists {
		auth = tf.auth
	}
	r.mu.RUnlock()
	if !exists {
		return t, true, ErrNoTenant
	}
	f := src.DirFile(t.Tenant, name)
	if f == nil {
		return t, true, ErrNoFile
	}
	t.File = f
	if f.Secret {
		t.Auth = auth
	}
	return t, true, nil
}
