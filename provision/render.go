package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// File is a rendered provisioning file. Files are rendered when something they
// depend on changes, never per request; an unchanged re-render keeps its ETag and
// modification time, so phones' conditional requests stay cheap. A File never
// changes once rendered: a new rendering is a new File.
type File struct {
	Name    string    `json:"name"`
	Tenant  string    `json:"tenant"`
	Device  string    `json:"device,omitempty"` // device id; empty for common files
	MAC     string    `json:"mac,omitempty"`
	Size    int       `json:"size"`
	ModTime time.Time `json:"modified"`
	// ETag identifies the content (a quoted hash), for conditional requests.
	ETag string `json:"etag"`
	// ContentType is the template's MIME type (text/plain, text/xml).
	ContentType string `json:"content_type"`
	Body        []byte `json:"-"`
	// Secret says the file carries SIP or phone credentials.
	Secret bool `json:"secret"`
}

// tenantFiles is one tenant's rendered tree: everything the request path needs,
// so that serving a phone reads memory only.
type tenantFiles struct {
	files   map[string]*File  // by lower-case name (phones differ in the case of the MAC)
	assets  map[string]*Asset // uploaded files, by name
	devices map[string]string // every configured MAC -> its file's name ("" without one)
	errors  map[string]string // device id -> why it has no file
	auth    HTTPAuth          // what the tenant demands of requests for secret files
	// tokens maps each device's secret URL token to the device's id, tokenOf
	// the other way; secure withholds device files from requests without
	// their token (PBXSettings.SecureURLs).
	tokens  map[string]string
	tokenOf map[string]string
	secure  bool
	// boot is what renders the devices' bootstrap files on demand (secure
	// tenants only, nil otherwise: see enroll.go and bootcache.go).
	boot *bootSource
	// warnings are what is wrong with every device file of the tenant (no SIP
	// server), shown with each device.
	warnings []Warning
	rev      int64
	// disabled tenants serve nothing (files, assets) and see no unknown phones.
	disabled bool

	// What partial passes need (delta.go), for the run goroutine only: what
	// the passes made of each device (nil until a whole pass ends), the
	// models whose common files the tree has, and how many files a whole
	// pass could not add because another had taken their name.
	index      *devIndex
	models     map[string]bool
	collisions int
}

func newTenantFiles() *tenantFiles {
	return &tenantFiles{files: map[string]*File{}, assets: map[string]*Asset{}, devices: map[string]string{}, errors: map[string]string{}}
}

// fileKey is the key of a file name in tenantFiles.files.
func fileKey(name string) string { return strings.ToLower(name) }

// lookupFile finds a file by name whatever the case of its letters, without
// allocating: the name is folded into a buffer on the stack.
func (tf *tenantFiles) lookupFile(name string) *File {
	var buf [256]byte
	if len(name) > len(buf) {
		return tf.files[fileKey(name)]
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return tf.files[string(buf[:len(name)])]
}

// renderer keeps every tenant's files and re-renders the tenants that commits
// touch (only their changed devices when that is all they touched: delta.go),
// coalescing bursts of commits into one pass. It runs in one goroutine
// (run): only that goroutine writes the trees, under mu, so it may read them
// without the lock.
type renderer struct {
	s   *Service
	log *slog.Logger

	mu      sync.RWMutex
	tenants map[string]*tenantFiles
	single  string // the tenant served at the root in single-tenant mode

	dirtyMu sync.Mutex
	dirty   map[string]bool   // tenants to render whole ("*" = all)
	deltas  map[string]*delta // tenants to render in part: changed devices and accounts
	seenRev int64             // newest revision delivered by Commit
	doneRev int64             // every revision up to this one is rendered
	busy    bool              // a pass is running
	wake    chan struct{}
	// pace is the pause of a passive node (passivePace); rush cuts it short
	// (hurry): the node became active, or someone waits for a revision.
	pace   time.Duration
	rush   chan struct{}
	cond   *sync.Cond
	failed map[string]string // tenant -> why its last rendering failed

	ifaceMu sync.RWMutex
	ifaces  map[string]string // interface -> IPv4, as last read from the source
	// usedIfaces are the interfaces placeholders named in the passes so far
	// (run goroutine only).
	usedIfaces map[string]bool

	// boots are the bootstrap files made on demand (bootcache.go); bootGen
	// numbers the passes that leave a bootSource (run goroutine only).
	boots   *bootCache
	bootGen uint64
}

func newRenderer(s *Service, log *slog.Logger) *renderer {
	r := &renderer{s: s, log: log, tenants: map[string]*tenantFiles{}, dirty: map[string]bool{"*": true}, deltas: map[string]*delta{},
		wake: make(chan struct{}, 1), pace: passivePace, rush: make(chan struct{}, 1), ifaces: map[string]string{}, failed: map[string]string{}, usedIfaces: map[string]bool{},
		boots: newBootCache(bootCacheFiles, bootCacheBytes)}
	r.cond = sync.NewCond(&r.dirtyMu)
	return r
}

func (r *renderer) setSingle(id string) {
	r.mu.Lock()
	r.single = id
	r.mu.Unlock()
}

// renderedKinds are the store kinds files are made from.
var renderedKinds = map[string]bool{KindTenant: true, KindPBX: true, KindAccount: true, KindDevice: true,
	KindPlaceholder: true, KindModel: true, KindTemplate: true, KindAsset: true, KindFirmware: true}

// commit marks the tenants a delivered commit touched. It never blocks on
// rendering: the run goroutine does the work.
func (r *renderer) commit(c store.Commit) {
	r.dirtyMu.Lock()
	if c.Rev > r.seenRev {
		r.seenRev = c.Rev
	}
	if c.All {
		r.dirty["*"] = true // too much changed to list: render every tenant
	}
	for _, ch := range c.Changes {
		switch {
		case !renderedKinds[ch.Kind]:
		case ch.Kind == KindTenant:
			r.dirty[ch.ID] = true
		case ch.Tenant == globalScope || ch.Tenant == "":
			r.dirty["*"] = true // a global model or template: every tenant may use it
		case ch.Kind == KindDevice || ch.Kind == KindAccount:
			if r.dirty[ch.Tenant] || r.dirty["*"] {
				break // rendered whole anyway: nothing to gather
			}
			d := r.deltas[ch.Tenant]
			if d == nil {
				d = newDelta()
				r.deltas[ch.Tenant] = d
			}
			if !d.add(ch) {
				r.dirty[ch.Tenant] = true
				delete(r.deltas, ch.Tenant)
			}
		default:
			r.dirty[ch.Tenant] = true
		}
	}
	if !r.busy && len(r.dirty) == 0 && len(r.deltas) == 0 && r.seenRev > r.doneRev {
		// Nothing of ours changed and nothing is pending: rendered as it is.
		r.doneRev = r.seenRev
		r.cond.Broadcast()
	}
	r.dirtyMu.Unlock()
	r.poke()
}

func (r *renderer) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// markAll schedules every tenant for rendering.
func (r *renderer) markAll() {
	r.dirtyMu.Lock()
	r.dirty["*"] = true
	r.dirtyMu.Unlock()
	r.poke()
}

// passivePace is how long the renderer of a passive HA node lets replicated
// commits gather after a pass before the next one. A passive serves no file,
// and a pass may re-render whole tenants (a catalog or settings change):
// rendering every replicated commit cost the passive as much CPU per commit
// as the active (what delays the acknowledgement the active waits for, on a
// node that also applies the commits; and, on a shared host, the active
// itself). It is the least pause (see passivePause); a node that becomes
// active, or anyone waiting for a revision (WaitRendered), renders at once.
const passivePace = time.Second

// A passive's pause grows with its passes: after a pass that took d it
// pauses passiveDuty x d (at least the pace, at most maxPassivePace), so that
// rendering a large tenant (10,000 devices: about 0.7 s a pass) takes a fifth
// of a core at most rather than most of one while commits keep coming, CPU the
// node needs to apply and acknowledge them (and, on a shared host, the active
// needs to commit). Its files then stay at most maxPassivePace plus a pass
// behind until it becomes active, when it renders at once.
const (
	passiveDuty    = 4
	maxPassivePace = 10 * time.Second
)

// passivePause is the pause after a pass that took pass, with pace the least.
func passivePause(pace, pass time.Duration) time.Duration {
	return max(pace, min(passiveDuty*pass, maxPassivePace))
}

func (r *renderer) hurry() {
	select {
	case r.rush <- struct{}{}:
	default:
	}
}

// run renders dirty tenants until ctx ends, and re-reads the interfaces that
// dynamic placeholders name every ifacePoll.
func (r *renderer) run(ctx context.Context, ifacePoll time.Duration) {
	r.refreshInterfaces()
	poll := time.NewTicker(ifacePoll)
	defer poll.Stop()
	pace := time.NewTimer(r.pace)
	pace.Stop()
	for {
		start := time.Now()
		r.renderDirty(ctx)
		if !r.s.serving() {
			pace.Reset(passivePause(r.pace, time.Since(start)))
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			case <-r.rush:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-poll.C:
			if r.refreshInterfaces() {
				r.markAll()
			}
		}
	}
}

func (r *renderer) renderDirty(ctx context.Context) {
	r.dirtyMu.Lock()
	dirty, deltas, target := r.dirty, r.deltas, r.seenRev
	if len(dirty) == 0 && len(deltas) == 0 {
		r.dirtyMu.Unlock()
		return
	}
	r.dirty, r.deltas, r.busy = map[string]bool{}, map[string]*delta{}, true
	r.dirtyMu.Unlock()
	if dirty["*"] {
		// Rendering everything from data read after this point covers every
		// revision committed so far, delivered or not.
		target = max(target, r.s.st.Revision())
	}
	r.renderTenants(ctx, dirty, deltas)
	r.dirtyMu.Lock()
	r.busy = false
	r.doneRev = max(r.doneRev, target)
	if len(r.dirty) == 0 && len(r.deltas) == 0 {
		r.doneRev = max(r.doneRev, r.seenRev)
	}
	r.cond.Broadcast()
	r.dirtyMu.Unlock()
}

// renderTenants renders the tenants of dirty whole, those of deltas only in
// part where a partial pass can stand for a whole one (delta.go).
func (r *renderer) renderTenants(ctx context.Context, dirty map[string]bool, deltas map[string]*delta) {
	if r.s.Mode() == ModeSingle {
		// The served tenant is the oldest one; a replicated snapshot (HA) replaces
		// the tenants with the active node's, so it is read again.
		if list, err := r.s.Tenants(ctx); err == nil && len(list) > 0 && list[0].ID != r.singleTenant() {
			r.log.Info("single-tenant mode now serves tenant", "tenant", list[0].ID)
			r.setSingle(list[0].ID)
		}
	}
	var tenants []string
	if dirty["*"] {
		list, err := r.s.Tenants(ctx)
		if err != nil {
			r.log.Error("listing tenants to render", "err", err)
			r.markFailed("*", err)
			return
		}
		for _, t := range list {
			tenants = append(tenants, t.ID)
		}
		r.mu.Lock()
		for id := range r.tenants {
			if !containsStr(tenants, id) {
				delete(r.tenants, id)
			}
		}
		r.mu.Unlock()
	} else {
		for t := range dirty {
			tenants = append(tenants, t)
		}
		for t := range deltas {
			if !dirty[t] {
				tenants = append(tenants, t)
			}
		}
		sort.Strings(tenants)
	}
	churn := 0
	for _, t := range tenants {
		start := time.Now()
		var st renderStats
		partly := false
		var err error
		if d := deltas[t]; d != nil && !dirty[t] && !dirty["*"] {
			if st, partly, err = r.renderDelta(ctx, t, d); err != nil && ctx.Err() == nil {
				r.log.Debug("partial pass failed, rendering the tenant whole", "tenant", t, "err", err)
			}
		}
		if !partly {
			st, err = r.renderTenant(ctx, t)
		}
		churn += st.replaced + st.written
		r.s.metrics.observe(time.Since(start), partly, err)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("rendering tenant", "tenant", t, "err", err)
			}
			r.markFailed(t, err)
			continue
		}
		r.markFailed(t, nil)
		r.log.Debug("rendered tenant", "tenant", t, "partly", partly, "files", st.files, "changed", st.changed, "took", time.Since(start))
	}
	if churn > 16<<20 {
		// A large pass (the first one, or one that replaced many files) leaves
		// much garbage: the previous generation and what reading the store
		// took. Hand it back to the system now rather than over minutes.
		debug.FreeOSMemory()
	}
}

func (r *renderer) markFailed(tenant string, err error) {
	r.dirtyMu.Lock()
	defer r.dirtyMu.Unlock()
	if err == nil {
		delete(r.failed, tenant)
		return
	}
	r.failed[tenant] = err.Error()
}

// waitRendered blocks until the files reflect revision rev (or ctx ends). Revision
// rev must reach the renderer through Commit.
func (r *renderer) waitRendered(ctx context.Context, rev int64) error {
	stop := context.AfterFunc(ctx, func() {
		r.dirtyMu.Lock()
		r.cond.Broadcast()
		r.dirtyMu.Unlock()
	})
	defer stop()
	r.dirtyMu.Lock()
	defer r.dirtyMu.Unlock()
	if r.doneRev < rev {
		r.hurry()
	}
	for r.doneRev < rev && ctx.Err() == nil {
		r.cond.Wait()
	}
	return ctx.Err()
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// listInto decodes every object of kind in tenant.
func listInto[T any](tx *store.Tx, kind, tenant string, add func(T)) error {
	return tx.List(kind, tenant, func(id string, data json.RawMessage) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("provision: %s %s: %w", kind, id, err)
		}
		if d, ok := any(&v).(*Device); ok {
			d.normalize()
		}
		add(v)
		return nil
	})
}

// renderStats says what a tenant's pass did.
type renderStats struct {
	files, changed int
	replaced       int // bytes of bodies the pass made garbage
	written        int // bytes of new bodies
}

// tenantData is what rendering a tenant's files needs besides its devices, read
// in the same read transaction as the devices.
type tenantData struct {
	tenant    Tenant
	pbx       PBXSettings
	accounts  map[string]Account
	models    map[string]Model
	templates map[string]Template
	assets    map[string]*Asset
	base      map[string]string // tenant-wide placeholder values
	custom    map[string]bool
}

// treeWriter writes a pass's files into the live tree in batches, so that a
// phone keeps being served while its tenant is re-rendered and the bodies of
// the previous generation become garbage as the pass goes, not all at its end:
// a tenant of 10,000 phones never holds two generations in memory.
type treeWriter struct {
	r      *renderer
	tenant string
	tf     *tenantFiles // live; only the run goroutine writes it
	now    time.Time
	seen   map[string]*File  // the files of this pass, by key
	models map[string]bool   // models of the tenant's devices (for common files)
	tokens map[string]string // device token -> device id
	index  *devIndex         // what the pass made of each device
	// collisions counts the files put refused: their name was taken.
	collisions int
	rev        int64 // the store's revision when the pass began (its snapshot is as new or newer)
	batch      []*File
	stats      renderStats
	since      int // bytes replaced since the last collection
}

const (
	writeBatch = 256     // files per lock
	gcEvery    = 4 << 20 // bytes of replaced bodies between collections
)

func (r *renderer) newWriter(tenant string) *treeWriter {
	r.mu.Lock()
	tf, ok := r.tenants[tenant]
	if !ok {
		tf = newTenantFiles()
		tf.disabled = true // not served until the pass ends
		r.tenants[tenant] = tf
	}
	// The pass makes the index anew: the old one is garbage now, not at the
	// pass's end (a partial pass waits for a whole pass that ends).
	tf.index = nil
	r.mu.Unlock()
	r.collectIfLarge(tenant) // the garbage of reading the tenant's accounts and catalog
	return &treeWriter{r: r, tenant: tenant, tf: tf, now: time.Now().UTC().Truncate(time.Second), seen: map[string]*File{}, models: map[string]bool{}, tokens: map[string]string{}, index: newDevIndex()}
}

// put adds a rendered file; a file with the same bytes as the served one is kept
// as it is (same ETag, same Last-Modified). It reports false when another file of
// this pass already has the name.
func (w *treeWriter) put(f *File) (*File, bool) {
	key := fileKey(f.Name)
	if first, dup := w.seen[key]; dup {
		w.collisions++
		return first, false
	}
	stampFile(f, w.now)
	w.stats.files++
	if prev, ok := w.tf.files[key]; ok && sameFile(prev, f) {
		w.seen[key] = prev
		return prev, true // unchanged: nothing to write
	} else if ok {
		w.stats.replaced += prev.Size
		w.since += prev.Size
	}
	w.seen[key] = f
	w.stats.changed++
	w.stats.written += f.Size
	w.batch = append(w.batch, f)
	if len(w.batch) >= writeBatch {
		w.flush()
	}
	return f, true
}

// stampFile sets a new file's ETag and size from its body, and its
// modification time.
func stampFile(f *File, now time.Time) {
	sum := sha256.Sum256(f.Body)
	f.ETag = `"` + hex.EncodeToString(sum[:12]) + `"`
	f.Size = len(f.Body)
	f.ModTime = now
}

// sameFile says whether a new rendering (stamped) is the served file prev:
// then prev is kept, ETag and modification time with it.
func sameFile(prev, f *File) bool {
	return prev.ETag == f.ETag && prev.Name == f.Name && prev.Secret == f.Secret && prev.Device == f.Device
}

func (w *treeWriter) flush() {
	if len(w.batch) > 0 {
		w.r.mu.Lock()
		for _, f := range w.batch {
			w.tf.files[fileKey(f.Name)] = f
		}
		w.r.mu.Unlock()
		clear(w.batch)
		w.batch = w.batch[:0]
	}
	if w.since >= gcEvery {
		// The bodies just replaced are garbage; collect them now so that the
		// next ones reuse their memory instead of growing the heap to twice the
		// tree (the tree is large, its pointers few: a collection is cheap).
		runtime.GC()
		w.since = 0
	}
}

// Warning is a problem of a saved configuration that does not stop its files
// (a file without a registrar still lets the phone boot), with the field to fix.
type Warning struct {
	Field string `json:"field"`
	Msg   string `json:"msg"`
}

// tenantWarnings are the problems of a tenant's settings its device files inherit.
func tenantWarnings(p PBXSettings) []Warning {
	var out []Warning
	if p.SIPServer == "" {
		out = append(out, Warning{Field: "sip_server", Msg: "the PBX settings have no sip_server: phones get a file without a registrar and cannot register"})
	}
	return out
}

// finish removes the files the pass did not write and installs the tenant-wide
// state (authentication, device list, errors, assets, what renders bootstrap
// files: boot, nil unless the tenant has secure URLs) in one step. The
// bootstrap files made from the previous pass are dropped.
func (w *treeWriter) finish(devices, errs map[string]string, assets map[string]*Asset, auth HTTPAuth, disabled bool, rev int64, warnings []Warning, boot *bootSource) {
	w.flush()
	tokenOf := make(map[string]string, len(w.tokens))
	for tok, id := range w.tokens {
		tokenOf[id] = tok
	}
	w.r.mu.Lock()
	for key, f := range w.tf.files {
		if _, ok := w.seen[key]; !ok {
			w.stats.replaced += f.Size
			delete(w.tf.files, key)
		}
	}
	w.tf.devices, w.tf.errors, w.tf.assets = devices, errs, assets
	w.tf.auth, w.tf.disabled, w.tf.rev, w.tf.warnings = auth, disabled, rev, warnings
	w.tf.tokens, w.tf.tokenOf, w.tf.secure, w.tf.boot = w.tokens, tokenOf, boot != nil, boot
	w.tf.index, w.tf.models, w.tf.collisions = w.index, w.models, w.collisions
	w.r.mu.Unlock()
	w.r.boots.drop(w.tenant)
}

// collectIfLarge runs a collection when tenant's tree holds gcEvery bytes or
// more. A pass over a large tree collects before it reads the tenant and
// again before it renders: the garbage of what led to it (the admin request,
// the save hint's pass over every device) and of reading the tenant's
// accounts would otherwise sit on top of the old tree until the first batch
// of replaced bodies, and set the peak of the whole pass (the tree is large,
// its pointers few: a collection is cheap).
func (r *renderer) collectIfLarge(tenant string) {
	r.mu.RLock()
	size := 0
	if tf, ok := r.tenants[tenant]; ok {
		for _, f := range tf.files {
			size += f.Size
		}
	}
	r.mu.RUnlock()
	if size >= gcEvery {
		runtime.GC()
	}
}

func (r *renderer) renderTenant(ctx context.Context, tenant string) (renderStats, error) {
	r.collectIfLarge(tenant)
	var w *treeWriter
	rev := r.s.st.Revision()
	gone := false
	err := r.s.st.View(ctx, func(tx *store.Tx) error {
		td, ok, err := r.loadTenant(tx, tenant, true)
		if err != nil {
			return err
		}
		if !ok {
			gone = true
			return nil
		}
		w = r.newWriter(tenant)
		w.rev = rev
		devices, errs := map[string]string{}, map[string]string{}
		if !td.tenant.Enabled {
			w.finish(devices, errs, map[string]*Asset{}, HTTPAuth{}, true, rev, nil, nil)
			return nil
		}
		comp := &compiler{td: td, compiled: map[string]*Compiled{}}
		if err := r.renderDevices(tx, td, comp, w, devices, errs); err != nil {
			return err
		}
		r.renderCommon(td, w)
		w.finish(devices, errs, td.assets, HTTPAuth{Mode: td.pbx.HTTPAuth, User: td.pbx.HTTPUser, Password: td.pbx.HTTPPassword}, false, rev, tenantWarnings(td.pbx), r.newBootSource(td, comp, w.now))
		return nil
	})
	if gone {
		r.mu.Lock()
		delete(r.tenants, tenant)
		r.mu.Unlock()
		r.boots.drop(tenant)
	}
	if w == nil {
		return renderStats{}, err
	}
	return w.stats, err
}

// loadTenant reads everything but the devices, and the accounts only when
// accounts is set (a partial pass reads each device's own).
func (r *renderer) loadTenant(tx *store.Tx, tenant string, accounts bool) (*tenantData, bool, error) {
	td := &tenantData{accounts: map[string]Account{}, assets: map[string]*Asset{}, custom: map[string]bool{}}
	ok, err := tx.Get(KindTenant, tenant, &td.tenant)
	if err != nil || !ok {
		return nil, false, err
	}
	if td.pbx, err = getPBX(tx, tenant); err != nil {
		return nil, false, err
	}
	if accounts {
		if err := listInto(tx, KindAccount, tenant, func(a Account) { td.accounts[a.ID] = a }); err != nil {
			return nil, false, err
		}
	}
	if r.s.assets.dir != "" {
		if err := listInto(tx, KindAsset, tenant, func(a Asset) { td.assets[a.Name] = &a }); err != nil {
			return nil, false, err
		}
	}
	if td.models, td.templates, err = r.s.catalogIn(tx, tenant); err != nil {
		return nil, false, err
	}
	td.base = r.s.pbxVars(td.tenant, td.pbx)
	err = listInto(tx, KindPlaceholder, tenant, func(p Placeholder) {
		td.custom[p.Name] = true
		td.base[p.Name] = r.placeholderValue(p)
	})
	return td, true, err
}

// placeholderValue is a custom placeholder's value: its text, or the address of
// the interface it names as last read (never read here: rendering does no I/O).
func (r *renderer) placeholderValue(p Placeholder) string {
	if p.Type == "static" {
		return p.Value
	}
	r.usedIfaces[p.Interface] = true
	return r.interfaceIPv4(p.Interface)
}

// compiler compiles each template of a pass once.
type compiler struct {
	td       *tenantData
	compiled map[string]*Compiled
}

func (c *compiler) get(id, scope string) (*Compiled, Template, error) {
	t, ok := c.td.templates[id]
	if !ok {
		return nil, t, fmt.Errorf("template %q does not exist", id)
	}
	if x, ok := c.compiled[id]; ok {
		return x, t, nil
	}
	x, err := Compile(t.Body, KnownFor(scope, func(n string) bool { return c.td.custom[n] }))
	if err != nil {
		return nil, t, fmt.Errorf("template %q: %w", t.Name, err)
	}
	c.compiled[id] = x
	return x, t, nil
}

// renderDevices renders each device as it is read from the store, so that the
// devices of a large tenant are never all decoded at once. Bootstrap files are
// not made here but at the first request that needs one (bootcache.go).
func (r *renderer) renderDevices(tx *store.Tx, td *tenantData, comp *compiler, w *treeWriter, devices, errs map[string]string) error {
	vars := make(map[string]string, len(td.base)+40)
	var b []byte
	return tx.List(KindDevice, w.tenant, func(id string, data json.RawMessage) error {
		var d Device
		if err := json.Unmarshal(data, &d); err != nil {
			return fmt.Errorf("provision: device %s: %w", id, err)
		}
		d.normalize() // as every other reader of devices (getIn, listInto)
		devices[d.MAC] = ""
		entry := newDevEntry(d)
		defer func() { w.index.add(d.ID, entry) }()
		if d.URLToken != "" {
			w.tokens[d.URLToken] = d.ID
		}
		if _, ok := td.models[d.Model]; ok {
			w.models[d.Model] = true
		}
		dr, why := r.prepareDevice(td, comp, d, td.accounts, vars)
		if why != "" {
			errs[d.ID] = why
			return nil
		}
		var err error
		if b, err = dr.c.RenderScope(b[:0], dr.sc, dr.t.Escape); err != nil {
			errs[d.ID] = fmt.Sprintf("template %q: %v", dr.t.Name, err)
			return nil
		}
		f, ok := w.put(&File{Name: dr.m.File.Name(dr.mac), Tenant: w.tenant, Device: d.ID, MAC: dr.mac.String(), ContentType: dr.t.ContentType, Body: bytes.Clone(b), Secret: true})
		if !ok {
			errs[d.ID] = fmt.Sprintf("file %s is already generated for device %s", f.Name, f.MAC)
			return nil
		}
		devices[d.MAC] = f.Name
		entry.file = fileKey(f.Name)
		if td.pbx.SecureURLs && d.URLToken != "" {
			r.s.enroll.set(d.ID, w.rev, d.Enrollment)
		}
		return nil
	})
}

// deviceRender is what rendering a device's file takes, checked.
type deviceRender struct {
	c   *Compiled
	t   Template
	m   Model
	mac MAC
	sc  *Scope
}

// prepareDevice checks device d against the tenant's catalog and accounts and
// fills vars (cleared first) and the scope its file renders with; without a
// file, it says why. accounts holds at least the device's own accounts.
func (r *renderer) prepareDevice(td *tenantData, comp *compiler, d Device, accounts map[string]Account, vars map[string]string) (deviceRender, string) {
	m, ok := td.models[d.Model]
	if !ok {
		return deviceRender{}, fmt.Sprintf("model %q does not exist", d.Model)
	}
	acc, ok := accounts[d.Account]
	if !ok {
		return deviceRender{}, "no linked account: no file is generated"
	}
	if !d.Enabled {
		return deviceRender{}, "disabled"
	}
	tid := d.Template
	if tid == "" {
		tid = m.Template
	}
	c, t, err := comp.get(tid, ScopeDevice)
	if err != nil {
		return deviceRender{}, err.Error()
	}
	mac, err := ParseMAC(d.MAC)
	if err != nil {
		return deviceRender{}, err.Error()
	}
	clear(vars)
	for k, v := range td.base {
		vars[k] = v
	}
	deviceVars(vars, d, mac, m, td.pbx, acc, r.s.brandName(m.Brand))
	secureVars(vars, td.pbx, d)
	vars["KPBX_FIRMWARE_URL"] = firmwareURL(vars["KPBX_PROVISIONING_URL"], m, td.assets)
	return deviceRender{c: c, t: t, m: m, mac: mac, sc: deviceScope(c, vars, d, m, td.pbx, accounts)}, ""
}

// renderCommon renders the common files of the models the tenant's devices use.
func (r *renderer) renderCommon(td *tenantData, w *treeWriter) {
	ids := make([]string, 0, len(w.models))
	for id := range w.models {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	comp := &compiler{td: td, compiled: map[string]*Compiled{}}
	firmware := commonFirmware(td, ids)
	done := map[string]bool{}
	vars := make(map[string]string, len(td.base)+1)
	var b []byte
	for _, id := range ids {
		for _, cf := range td.models[id].CommonFiles {
			if done[fileKey(cf.Name)] {
				continue // shared by several models of one family
			}
			done[fileKey(cf.Name)] = true
			c, t, err := comp.get(cf.Template, ScopeCommon)
			if err != nil {
				r.log.Warn("common file not rendered", "tenant", w.tenant, "file", cf.Name, "err", err)
				continue
			}
			clear(vars)
			for k, v := range td.base {
				vars[k] = v
			}
			vars["KPBX_FIRMWARE_URL"] = firmware[fileKey(cf.Name)]
			b = c.Append(b[:0], vars, t.Escape)
			w.put(&File{Name: cf.Name, Tenant: w.tenant, ContentType: t.ContentType, Body: bytes.Clone(b)})
		}
	}
}

// commonFirmware is %%KPBX_FIRMWARE_URL%% of each common file of the models
// ids: the target firmware of the models that list the file, in the tenant's
// directory (uploaded files are served there by name), or "" when none is set
// or they disagree (a file shared by a family cannot name two images).
func commonFirmware(td *tenantData, ids []string) map[string]string {
	out := map[string]string{}
	seen := map[string]bool{}
	for _, id := range ids {
		m := td.models[id]
		u := firmwareURL(td.base["KPBX_PROVISIONING_URL"], m, td.assets)
		for _, cf := range m.CommonFiles {
			k := fileKey(cf.Name)
			if prev, ok := out[k]; seen[k] && (!ok || prev != u) {
				delete(out, k)
				continue
			}
			if !seen[k] {
				seen[k] = true
				out[k] = u
			}
		}
	}
	return out
}

// secureVars points a device file's own URLs (where the phone fetches its
// configuration and the phonebook again) at the device's secret directory
// when the tenant serves device files only there: a phone provisioned once
// through its token keeps using it.
func secureVars(vars map[string]string, p PBXSettings, d Device) {
	if !p.SecureURLs || d.URLToken == "" {
		return
	}
	dir := DeviceDir(vars["KPBX_PROVISIONING_URL"], d.URLToken)
	vars["KPBX_PROVISIONING_URL"] = dir
	vars["KPBX_PHONEBOOK_URL"] = dir + "phonebook/"
}

// pbxVars are the tenant-wide placeholder values.
func (s *Service) pbxVars(t Tenant, p PBXSettings) map[string]string {
	provURL := provisioningURL(s.cfg.BaseURL, t.ID, s.cfg.Mode == ModeMulti)
	zone := p.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	v := map[string]string{
		"KPBX_IP_ADDRESS":            p.SIPServer,
		"KPBX_HOSTNAME":              urlHostname(s.cfg.BaseURL),
		"KPBX_SIP_UDP_PORT":          strconv.Itoa(p.SIPUDPPort),
		"KPBX_SIP_TCP_PORT":          strconv.Itoa(p.SIPTCPPort),
		"KPBX_SIP_TLS_PORT":          strconv.Itoa(p.SIPTLSPort),
		"KPBX_SIP_TRANSPORT":         p.Transport,
		"KPBX_SIP_PORT":              strconv.Itoa(p.port(p.Transport)),
		"KPBX_PROVISIONING_URL":      provURL,
		"KPBX_PROVISIONING_HOST":     urlHost(provURL),
		"KPBX_TENANT_UUID":           t.ID,
		"KPBX_PROVISIONING_USER":     p.HTTPUser,
		"KPBX_PROVISIONING_PASSWORD": p.HTTPPassword,
		"KPBX_NTP_SERVER":            p.NTPServer,
		"KPBX_TIMEZONE":              p.TimeZone,
		"KPBX_LANGUAGE":              p.Language,
		"KPBX_VOICEMAIL_NUMBER":      p.VoicemailNumber,
		"KPBX_RESYNC_SECONDS":        strconv.Itoa(p.ResyncSeconds),
		"KPBX_RESYNC_MINUTES":        strconv.Itoa((p.ResyncSeconds + 59) / 60),
		"KPBX_RESYNC_HOURS":          strconv.Itoa((p.ResyncSeconds + 3599) / 3600),
		"KPBX_PICKUP_PREFIX":         p.PickupPrefix,
		"KPBX_GROUP_PICKUP_CODE":     p.GroupPickupCode,
		"KPBX_DND_CODE":              p.DNDCode,
		"KPBX_PHONEBOOK_URL":         provURL + "phonebook/",
	}
	timeVars(v, zone, time.Now())
	return v
}

func urlHostname(raw string) string {
	h := urlHost(raw)
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

func formatOffsetHours(min int) string {
	sign := "+"
	if min < 0 {
		sign = "-"
	}
	h := math.Abs(float64(min)) / 60
	return sign + strconv.FormatFloat(h, 'f', -1, 64)
}

// accountValues are an account's placeholder values with their defaults.
type accountValues struct {
	auth, vm, display, transport, port string
}

func valuesOf(a Account, p PBXSettings) accountValues {
	v := accountValues{auth: a.AuthUsername, vm: a.Voicemail, display: a.DisplayName, transport: a.Transport}
	if v.transport == "" {
		v.transport = p.Transport
	}
	if v.auth == "" {
		v.auth = a.SIPUsername
	}
	if v.vm == "" {
		v.vm = a.Extension
	}
	if v.display == "" {
		v.display = strings.TrimSpace(a.FirstName + " " + a.LastName)
	}
	if v.display == "" {
		v.display = a.Extension
	}
	v.port = strconv.Itoa(p.port(v.transport))
	return v
}

// accountKeys are the names of an account's placeholders under one prefix:
// ACCOUNT_ for line 1's, LINE_ for each line of a FOR ALL LINES loop (the
// same names after the prefix). Built once: put runs for every line of every
// device of a render pass.
type accountKeys [10]string

func keysFor(prefix string) accountKeys {
	var k accountKeys
	for i, n := range []string{"EXTENSION", "SIP_USERNAME", "SIP_AUTH_USERNAME", "SIP_PASSWORD", "DISPLAY_NAME",
		"FIRST_NAME", "LAST_NAME", "VOICEMAIL", "SIP_TRANSPORT", "SIP_PORT"} {
		k[i] = prefix + n
	}
	return k
}

var accountNames, lineNames = keysFor("ACCOUNT_"), keysFor("LINE_")

// put sets a's placeholders under the names k.
func (av accountValues) put(dst map[string]string, k *accountKeys, a Account) {
	for i, v := range [...]string{a.Extension, a.SIPUsername, av.auth, a.SIPPassword, av.display,
		a.FirstName, a.LastName, av.vm, av.transport, av.port} {
		dst[k[i]] = v
	}
}

// deviceVars adds the account (line 1) and device placeholders.
func deviceVars(v map[string]string, d Device, mac MAC, m Model, p PBXSettings, a Account, brand string) {
	av := valuesOf(a, p)
	label, _, _ := strings.Cut(d.Notes, "\n")
	av.put(v, &accountNames, a)
	v["DEVICE_LINES"] = strconv.Itoa(len(d.Lines))
	v["IPADDRMODE"] = d.IPAddrMode
	v["IPADDR"] = d.IPAddr
	v["IPNETMASK"] = d.Netmask
	v["IPGATEWAY"] = d.Gateway
	v["IPDNS1"] = d.DNS1
	v["IPDNS2"] = d.DNS2
	login := phoneLogin(d, p)
	v["PHONEUSERNAME"] = login.User
	v["PHONEPASSWORD"] = login.Password
	v["PHONE_ADMIN_PASSWORD"] = login.Password
	v["MAC"] = mac.Format(MACUpper)
	v["MAC_LOWER"] = mac.Format(MACLower)
	v["MAC_COLON"] = mac.Format(MACColonUpper)
	v["MAC_COLON_LOWER"] = mac.Format(MACColonLower)
	v["MAC_DASH"] = mac.Format(MACDashUpper)
	v["MAC_DASH_LOWER"] = mac.Format(MACDashLower)
	v["DEVICE_MODEL"] = m.Name
	v["DEVICE_BRAND"] = brand
	v["DEVICE_LABEL"] = strings.TrimSpace(label)
}

// deviceScope is what a device's template renders with: vars, and the lines
// and keys for the loops the template has (only those are built).
func deviceScope(c *Compiled, vars map[string]string, d Device, m Model, p PBXSettings, accounts map[string]Account) *Scope {
	sc := &Scope{Vars: vars}
	if c.UsesLoop(LoopLines) || c.UsesLoop(LoopAllLines) {
		for i, l := range d.Lines {
			a, ok := accounts[l.Account]
			if !ok {
				continue
			}
			sc.Lines = append(sc.Lines, lineFrame(i+1, l, a, p))
		}
		if c.UsesLoop(LoopAllLines) {
			for i := 0; i < max(m.Lines, len(d.Lines)); i++ {
				if i < len(sc.Lines) {
					sc.AllLines = append(sc.AllLines, sc.Lines[i])
				} else {
					sc.AllLines = append(sc.AllLines, slotFrame(i+1))
				}
			}
		}
	}
	if c.UsesLoop(LoopKeys) || c.UsesLoop(LoopAllKeys) {
		keys := slices.Clone(d.Keys)
		sort.SliceStable(keys, func(i, j int) bool {
			if keys[i].Module != keys[j].Module {
				return keys[i].Module < keys[j].Module
			}
			return keys[i].Index < keys[j].Index
		})
		modules := 0
		for _, k := range keys {
			sc.Keys = append(sc.Keys, keyFrame(k, m, d, sc.Lines))
			modules = max(modules, k.Module)
		}
		if c.UsesLoop(LoopAllKeys) {
			byPos := map[[2]int]map[string]string{}
			for i, k := range keys {
				byPos[[2]int{k.Module, k.Index}] = sc.Keys[i]
			}
			for mod := 0; mod <= modules; mod++ {
				n := m.Keys
				if mod > 0 {
					n = m.ModuleKeys
				}
				for idx := 1; idx <= n; idx++ {
					switch f, ok := byPos[[2]int{mod, idx}]; {
					case ok:
						sc.AllKeys = append(sc.AllKeys, f)
					case mod == 0 && idx <= len(sc.Lines):
						// The phone's first free keys show the lines, as a
						// factory-new phone does.
						sc.AllKeys = append(sc.AllKeys, keyFrame(Key{Index: idx, Type: KeyLine, Line: idx}, m, d, sc.Lines))
					default:
						sc.AllKeys = append(sc.AllKeys, keyFrame(Key{Module: mod, Index: idx, Line: 1}, m, d, sc.Lines))
					}
				}
			}
		}
	}
	return sc
}

// lineFrame is the LINE_ placeholders of line n.
func lineFrame(n int, l DeviceLine, a Account, p PBXSettings) map[string]string {
	av := valuesOf(a, p)
	f := slotFrame(n)
	label := l.Label
	if label == "" {
		label = av.display
	}
	f["LINE_ACTIVE"] = "1"
	f["LINE_DECT_CODE"] = dectCode(a.Extension)
	f["LINE_LABEL"] = label
	av.put(f, &lineNames, a)
	return f
}

// slotFrame is an unused line n: its numbers only.
func slotFrame(n int) map[string]string {
	return map[string]string{"LINE_NUMBER": strconv.Itoa(n), "LINE_INDEX0": strconv.Itoa(n - 1),
		"LINE_HANDSET_ID": fmt.Sprintf("%05d", n)}
}

// dectCode is the handset registration code of an extension: its last four
// digits (wazo-provd's rule), or 0000.
func dectCode(ext string) string {
	for _, c := range ext {
		if c < '0' || c > '9' {
			return "0000"
		}
	}
	if len(ext) >= 4 {
		return ext[len(ext)-4:]
	}
	return strings.Repeat("0", 4-len(ext)) + ext
}

// keyFrame is the KEY_ placeholders of k; an unused position has no type.
func keyFrame(k Key, m Model, d Device, lines []map[string]string) map[string]string {
	pos := k.Index
	if k.Module > 0 {
		pos = m.Keys + (k.Module-1)*m.ModuleKeys + k.Index
	}
	line := max(k.Line, 1)
	label := k.Label
	if label == "" && k.Type == KeyLine && line <= len(lines) {
		label = lines[line-1]["LINE_LABEL"]
	}
	if label == "" {
		label = k.Value
	}
	return map[string]string{
		"KEY_INDEX": strconv.Itoa(k.Index), "KEY_INDEX0": strconv.Itoa(k.Index - 1),
		"KEY_MODULE": strconv.Itoa(k.Module), "KEY_POSITION": strconv.Itoa(pos), "KEY_POSITION0": strconv.Itoa(pos - 1),
		"KEY_TYPE": k.Type, "KEY_VALUE": k.Value, "KEY_LABEL": label,
		"KEY_LINE": strconv.Itoa(line), "KEY_LINE0": strconv.Itoa(line - 1),
	}
}

// lookup returns a tenant's file, whatever the case of the name.
func (r *renderer) lookup(tenant, name string) (*File, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tf, ok := r.tenants[tenant]
	if !ok {
		return nil, false
	}
	f := tf.lookupFile(name)
	return f, f != nil
}

// list returns a tenant's files, sorted by name, and per-device render errors.
func (r *renderer) list(tenant string) ([]*File, map[string]string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tf, ok := r.tenants[tenant]
	if !ok {
		return nil, nil
	}
	out := make([]*File, 0, len(tf.files))
	for _, f := range tf.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	errs := make(map[string]string, len(tf.errors))
	for k, v := range tf.errors {
		errs[k] = v
	}
	return out, errs
}
