package phonebook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
)

// Dir is the directory of the phonebook files in each tenant's provisioning
// tree: /provisioning/<tenant>/phonebook/yealink.xml (multi-tenant) or
// /provisioning/phonebook/yealink.xml (single-tenant).
const Dir = "phonebook"

// fileSet holds every tenant's rendered directory files. They are rendered
// when contacts change (never per request) and served by the provisioning
// tree, which asks DirFile.
type fileSet struct {
	title string

	mu      sync.RWMutex
	tenants map[string]map[string]*provision.File // tenant -> lower-case name -> file
	empty   map[string]*provision.File            // the files of a tenant without contacts

	dirtyMu sync.Mutex
	dirty   map[string]bool
	wake    chan struct{}
}

func newFileSet(title string) *fileSet {
	fs := &fileSet{title: title, tenants: map[string]map[string]*provision.File{}, dirty: map[string]bool{},
		wake: make(chan struct{}, 1)}
	fs.empty = fs.build("", nil, nil, time.Now().UTC().Truncate(time.Second))
	return fs
}

// mark schedules a tenant's files for rendering.
func (fs *fileSet) mark(tenant string) {
	fs.dirtyMu.Lock()
	fs.dirty[tenant] = true
	fs.dirtyMu.Unlock()
	select {
	case fs.wake <- struct{}{}:
	default:
	}
}

func (fs *fileSet) markAll(tenants []string) {
	for _, t := range tenants {
		fs.mark(t)
	}
}

func (fs *fileSet) takeDirty() []string {
	fs.dirtyMu.Lock()
	defer fs.dirtyMu.Unlock()
	out := make([]string, 0, len(fs.dirty))
	for t := range fs.dirty {
		out = append(out, t)
	}
	clear(fs.dirty)
	sort.Strings(out)
	return out
}

// failed names a rendering problem; rendering cannot fail today (the contacts
// are validated on the way in), so there is none.
func (fs *fileSet) failed() string { return "" }

// render renders a tenant's files from its book. A file whose bytes did not
// change keeps its ETag and modification time, so that phones' conditional
// requests stay cheap.
func (fs *fileSet) render(tenant string, b *book) {
	pub := b.public()
	fs.mu.RLock()
	prev := fs.tenants[tenant]
	fs.mu.RUnlock()
	files := fs.build(tenant, pub, prev, time.Now().UTC().Truncate(time.Second))
	fs.mu.Lock()
	if len(pub) == 0 {
		delete(fs.tenants, tenant)
	} else {
		fs.tenants[tenant] = files
	}
	fs.mu.Unlock()
}

// build renders every vendor's files for the contacts.
func (fs *fileSet) build(tenant string, cs []*Contact, prev map[string]*provision.File, now time.Time) map[string]*provision.File {
	out := map[string]*provision.File{}
	put := func(name string, body []byte) {
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:12]) + `"`
		if p := prev[name]; p != nil && p.ETag == etag {
			out[name] = p
			return
		}
		if p := fs.empty[name]; tenant != "" && p != nil && p.ETag == etag {
			out[name] = p
			return
		}
		// Secret: the directory holds personal data, so it is served under
		// the tenant's provisioning authentication like the device files.
		out[name] = &provision.File{Name: Dir + "/" + name, Tenant: tenant, Size: len(body), ModTime: now, ETag: etag,
			ContentType: "text/xml", Body: body, Secret: true}
	}
	put(FileYealink, renderYealink(fs.title, cs))
	put(FileSnom, renderSnom(fs.title, cs))
	put(FileFanvil, renderFanvil(fs.title, cs))
	gs := renderGrandstream(fs.title, cs)
	put(FileGrandstream, gs)
	put(FileGrandstreamPath, bytes.Clone(gs))
	poly := renderPoly(fs.title, cs)
	put(FilePoly, poly)
	put(FilePolyDirectory, bytes.Clone(poly))
	for i, page := range renderCisco(fs.title, cs) {
		put(ciscoFile(i+1), page)
	}
	return out
}

// file returns a tenant's file by name, whatever its case.
func (fs *fileSet) file(tenant, name string) *provision.File {
	name = strings.ToLower(name)
	if isPolyMACDirectory(name) {
		name = FilePolyDirectory
	}
	fs.mu.RLock()
	set, ok := fs.tenants[tenant]
	fs.mu.RUnlock()
	if !ok {
		set = fs.empty
	}
	f := set[name]
	if f != nil && f.Tenant != tenant {
		// An empty tenant's file: the same bytes, under the tenant's name.
		c := *f
		c.Tenant = tenant
		return &c
	}
	return f
}

// names lists a tenant's file names.
func (fs *fileSet) names(tenant string) []string {
	fs.mu.RLock()
	set, ok := fs.tenants[tenant]
	fs.mu.RUnlock()
	if !ok {
		set = fs.empty
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// isPolyMACDirectory matches the per-phone contact directory a Poly phone asks
// for first: <12 hex digits>-directory.xml.
func isPolyMACDirectory(name string) bool {
	mac, ok := strings.CutSuffix(name, "-directory.xml")
	if !ok || len(mac) != 12 {
		return false
	}
	for i := 0; i < len(mac); i++ {
		c := mac[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// DirFile answers a request for a file of the phonebook directory of a tenant
// (provision.DirSource): the rendered file, or nil. The provisioning tree has
// checked the tenant and applies its authentication (the files are Secret).
func (s *Service) DirFile(tenant, name string) *provision.File {
	return s.files.file(tenant, name)
}

// FileNames lists the directory files of a tenant.
func (s *Service) FileNames(tenant string) []string { return s.files.names(tenant) }
