package provision

import (
	"errors"
	"strings"
	"testing"
)

// dirFiles is a DirSource with fixed files, recording what it is asked.
type dirFiles map[string]*File

func (d dirFiles) DirFile(tenant, name string) *File {
	if f := d[name]; f != nil {
		c := *f
		c.Tenant = tenant
		return &c
	}
	return nil
}

// FuzzResolveSubdir feeds Resolve request paths with a sub-directory served
// by another component (the phonebook's): no panic, nothing outside
// <tenant>/<dir>/<one name>, a secret file always with the tenant's
// authentication, and the tree's own files still resolved as before.
func FuzzResolveSubdir(f *testing.F) {
	single := pvStart(f, ModeSingle)
	multi := pvStart(f, ModeMulti)
	src := dirFiles{"a.xml": {Name: "dir/a.xml", Body: []byte("<a/>"), Secret: true}, "open.xml": {Name: "dir/open.xml", Body: []byte("<o/>")}}
	for _, e := range []*pvEnv{single, multi} {
		e.s.AddDirectory("dir", src)
	}
	tenant := multi.tenant
	for _, p := range []string{
		"dir/a.xml", "dir//a.xml", "dir/../a.xml", "dir/./a.xml", "dir/a.xml/", "dir/", "dir", "dir/x/a.xml", "dir/open.xml",
		tenant + "/dir/a.xml", tenant + "//dir/a.xml", tenant + "/dir//a.xml", strings.ToUpper(tenant) + "/dir/a.xml",
		"6f1c2a5e-0000-4000-8000-000000000000/dir/a.xml", "x/dir/a.xml", tenant + "/dir/..", tenant + "/dir/a\\b",
		pvFile, tenant + "/" + pvFile, "dir/" + pvFile, "dir/\x00", "other/a.xml",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, e := range []*pvEnv{single, multi} {
			got, err := e.s.Resolve(p)
			if err != nil {
				if !errors.Is(err, ErrBadPath) && !errors.Is(err, ErrNoTenant) && !errors.Is(err, ErrNoFile) {
					t.Fatalf("%q: unexpected error %v", p, err)
				}
				if got.File != nil || got.Asset != nil {
					t.Fatalf("%q: error %v, yet a file", p, err)
				}
				continue
			}
			if got.Tenant != e.tenant {
				t.Fatalf("%q resolved in tenant %q", p, got.Tenant)
			}
			if got.File == nil && got.Asset == nil {
				t.Fatalf("%q: no error and nothing to serve", p)
			}
			dir, name, sub := strings.Cut(got.Name, "/")
			if !sub {
				continue // the tree's own file: FuzzResolve's business
			}
			if dir != "dir" || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
				t.Fatalf("%q resolved outside the directory: %q", p, got.Name)
			}
			if !got.File.Secret && got.Auth.Required() {
				t.Fatalf("%q: a file without secrets asks for authentication", p)
			}
		}
	})
}

func TestResolveSubdirAuth(t *testing.T) {
	e := pvStart(t, ModeMulti)
	e.s.AddDirectory("dir", dirFiles{"a.xml": {Name: "dir/a.xml", Body: []byte("<a/>"), Secret: true},
		"open.xml": {Name: "dir/open.xml", Body: []byte("<o/>")}})
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, []byte(`{"http_auth":"digest","http_user":"phones","http_password":"s3cret-pass"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	got, err := e.s.Resolve(e.tenant + "/dir/a.xml")
	if err != nil || got.Name != "dir/a.xml" || got.Tenant != e.tenant || got.Auth.Mode != "digest" || string(got.File.Body) != "<a/>" {
		t.Fatalf("secret file: %+v %v", got, err)
	}
	got, err = e.s.Resolve(e.tenant + "/dir/open.xml")
	if err != nil || got.Auth.Required() {
		t.Fatalf("a file that is not secret asks for authentication: %+v %v", got, err)
	}
	if _, err := e.s.Resolve("6f1c2a5e-0000-4000-8000-000000000000/dir/a.xml"); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := e.s.Resolve(e.tenant + "/dir/none.xml"); !errors.Is(err, ErrNoFile) {
		t.Fatalf("unknown file: %v", err)
	}
	// Under a device's token (the KPBX_PHONEBOOK_URL of its file) the
	// directory is served after the token is taken off, without credentials;
	// a wrong token gets nothing.
	got, err = e.s.Resolve(e.tenant + "/" + e.token + "/dir/a.xml")
	if err != nil || got.Name != "dir/a.xml" || got.Auth.Required() || !got.Token || string(got.File.Body) != "<a/>" {
		t.Fatalf("secret file under the token: %+v %v", got, err)
	}
	if got, err := e.s.Resolve(e.tenant + "/" + NewURLToken() + "/dir/a.xml"); err == nil || got.File != nil {
		t.Fatalf("secret file under a wrong token: %+v %v", got, err)
	}
}
