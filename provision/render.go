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
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// File is a rendered provisioning file. Files are rendered when something they
// depend on changes, never per request; an unchanged re-render keeps its ETag and
// modification time, so phones' conditional requests stay cheap.
type File struct {
	Name        string    `json:"name"`
	Tenant      string    `json:"tenant"`
	Device      string    `json:"device,omitempty"` // device id; empty for common files
	MAC         string    `json:"mac,omitempty"`
	Size        int       `json:"size"`
	ModTime     time.Time `json:"modified"`
	ETag        string    `json:"etag"`
	ContentType string    `json:"content_type"`
	Body        []byte    `json:"-"`
	// Header holds the response header values, built once per rendering so that
	// serving a file allocates nothing for them (net/http never mutates them).
	Header map[string][]string `json:"-"`
	// Secret says the file carries SIP or phone credentials.
	Secret bool `json:"secret"`
}

// tenantFiles is one tenant's rendered tree.
type tenantFiles struct {
	files  map[string]*File
	errors map[string]string // device id -> why it has no file
	macs   map[string]bool   // every configured device, with or without a file
	auth   HTTPAuth          // what the tenant demands of requests for secret files
	rev    int64
	// disabled tenants serve nothing (files, assets) and see no unknown phones.
	disabled bool
}

// renderer keeps every tenant's files and re-renders the tenants that changes
// touch, coalescing bursts of commits into one pass.
type renderer struct {
	s   *Service
	log *slog.Logger

	mu      sync.RWMutex
	tenants map[string]*tenantFiles
	single  string // the tenant served at the root in single-tenant mode

	dirtyMu sync.Mutex
	dirty   map[string]int64 // tenant ("*" = all) -> newest revision seen
	wake    chan struct{}
	doneRev int64
	cond    *sync.Cond

	ifaceMu sync.Mutex
	ifaces  map[string]string // interface -> IPv4 read at the last poll
}

func newRenderer(s *Service, log *slog.Logger) *renderer {
	r := &renderer{s: s, log: log, tenants: map[string]*tenantFiles{}, dirty: map[string]int64{"*": 0},
		wake: make(chan struct{}, 1), ifaces: map[string]string{}}
	r.cond = sync.NewCond(&r.dirtyMu)
	return r
}

func (r *renderer) setSingle(id string) {
	r.mu.Lock()
	r.single = id
	r.mu.Unlock()
}

// onCommit marks the tenants a transaction touched.
func (r *renderer) onCommit(rev int64, changes []store.Change, all bool) {
	r.dirtyMu.Lock()
	if all {
		r.dirty["*"] = rev
	}
	for _, c := range changes {
		switch {
		case c.Kind == KindTenant:
			r.dirty[c.ID] = rev
		case c.Tenant == "" && (c.Kind == KindModel || c.Kind == KindTemplate):
			r.dirty["*"] = rev // a global model or template: every tenant may use it
		case c.Tenant != "":
			r.dirty[c.Tenant] = rev
		}
	}
	if len(r.dirty) == 0 {
		// Nothing of ours changed; still record the revision as rendered.
		if rev > r.doneRev {
			r.doneRev = rev
			r.cond.Broadcast()
		}
	}
	r.dirtyMu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run renders dirty tenants until ctx ends.
func (r *renderer) run(ctx context.Context) {
	poll := time.NewTicker(10 * time.Second)
	defer poll.Stop()
	for {
		r.renderDirty(ctx)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-poll.C:
			r.pollInterfaces()
		}
	}
}

func (r *renderer) renderDirty(ctx context.Context) {
	r.dirtyMu.Lock()
	dirty := r.dirty
	r.dirty = map[string]int64{}
	r.dirtyMu.Unlock()
	if len(dirty) == 0 {
		return
	}
	rev := r.s.st.Revision()
	if r.s.Mode() == ModeSingle {
		// The served tenant is the oldest one; a replicated snapshot (HA) replaces
		// the tenants with the active node's, so it is read again.
		if list, err := r.s.Tenants(ctx); err == nil && len(list) > 0 && list[0].ID != r.singleTenant() {
			r.log.Info("single-tenant mode now serves tenant", "tenant", list[0].ID)
			r.setSingle(list[0].ID)
		}
	}
	var tenants []string
	if _, all := dirty["*"]; all {
		list, err := r.s.Tenants(ctx)
		if err != nil {
			r.log.Error("list tenants", "err", err)
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
	}
	rendered := 0
	for _, t := range tenants {
		start := time.Now()
		tf, err := r.renderTenant(ctx, t)
		if err != nil {
			r.log.Error("render tenant", "tenant", t, "err", err)
			continue
		}
		r.mu.Lock()
		if tf == nil {
			delete(r.tenants, t)
		} else {
			r.tenants[t] = tf
			for _, f := range tf.files {
				rendered += f.Size
			}
		}
		r.mu.Unlock()
		if tf != nil {
			r.log.Debug("rendered tenant", "tenant", t, "files", len(tf.files), "took", time.Since(start))
		}
	}
	r.dirtyMu.Lock()
	if rev > r.doneRev {
		r.doneRev = rev
	}
	r.cond.Broadcast()
	r.dirtyMu.Unlock()
	if rendered > 16<<20 {
		// A pass over thousands of files leaves the previous generation as garbage;
		// hand it back now rather than carrying twice the tree until the next GC.
		debug.FreeOSMemory()
	}
}

// waitRendered blocks until the files reflect revision rev (or ctx ends).
func (r *renderer) waitRendered(ctx context.Context, rev int64) error {
	stop := context.AfterFunc(ctx, func() {
		r.dirtyMu.Lock()
		r.cond.Broadcast()
		r.dirtyMu.Unlock()
	})
	defer stop()
	r.dirtyMu.Lock()
	defer r.dirtyMu.Unlock()
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

// snapshot is what rendering a tenant reads, in one read transaction.
type snapshot struct {
	tenant       Tenant
	pbx          PBXSettings
	accounts     map[string]Account
	devices      []Device
	placeholders []Placeholder
	models       map[string]Model
	templates    map[string]Template
}

func (r *renderer) load(ctx context.Context, tenant string) (*snapshot, error) {
	sn := &snapshot{accounts: map[string]Account{}, models: map[string]Model{}, templates: map[string]Template{}}
	found := false
	err := r.s.st.View(ctx, func(tx *store.Tx) error {
		ok, err := tx.Get(KindTenant, tenant, &sn.tenant)
		if err != nil || !ok {
			return err
		}
		found = true
		if sn.pbx, err = getPBX(tx, tenant); err != nil {
			return err
		}
		if err := listInto(tx, KindAccount, tenant, func(a Account) { sn.accounts[a.ID] = a }); err != nil {
			return err
		}
		if err := listInto(tx, KindDevice, tenant, func(d Device) { sn.devices = append(sn.devices, d) }); err != nil {
			return err
		}
		if err := listInto(tx, KindPlaceholder, tenant, func(p Placeholder) { sn.placeholders = append(sn.placeholders, p) }); err != nil {
			return err
		}
		models, templates, err := r.s.catalogIn(tx, tenant)
		sn.models, sn.templates = models, templates
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return sn, nil
}

// listInto decodes every object of kind in tenant.
func listInto[T any](tx *store.Tx, kind, tenant string, add func(T)) error {
	return tx.List(kind, tenant, func(id string, data json.RawMessage) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("provision: %s %s: %w", kind, id, err)
		}
		add(v)
		return nil
	})
}

func (r *renderer) renderTenant(ctx context.Context, tenant string) (*tenantFiles, error) {
	sn, err := r.load(ctx, tenant)
	if err != nil || sn == nil {
		return nil, err
	}
	r.mu.RLock()
	old := r.tenants[tenant]
	r.mu.RUnlock()
	out := &tenantFiles{files: map[string]*File{}, errors: map[string]string{}, macs: map[string]bool{}, rev: r.s.st.Revision()}
	if !sn.tenant.Enabled {
		out.disabled = true
		return out, nil
	}
	out.auth = HTTPAuth{Mode: sn.pbx.HTTPAuth, User: sn.pbx.HTTPUser, Password: sn.pbx.HTTPPassword}
	now := time.Now().UTC().Truncate(time.Second)
	custom := map[string]bool{}
	base := r.s.pbxVars(sn.tenant, sn.pbx)
	for _, p := range sn.placeholders {
		custom[p.Name] = true
		if p.Type == "static" {
			base[p.Name] = p.Value
		} else {
			base[p.Name] = r.interfaceIPv4(p.Interface)
		}
	}
	isCustom := func(n string) bool { return custom[n] }
	compiled := map[string]*Compiled{}
	compile := func(id, scope string) (*Compiled, Template, error) {
		t, ok := sn.templates[id]
		if !ok {
			return nil, t, fmt.Errorf("template %q does not exist", id)
		}
		if c, ok := compiled[id]; ok {
			return c, t, nil
		}
		c, err := Compile(t.Body, KnownFor(scope, isCustom))
		if err != nil {
			return nil, t, fmt.Errorf("template %q: %w", t.Name, err)
		}
		compiled[id] = c
		return c, t, nil
	}
	put := func(f *File) {
		sum := sha256.Sum256(f.Body)
		f.ETag = `"` + hex.EncodeToString(sum[:12]) + `"`
		f.Size = len(f.Body)
		f.ModTime = now
		if old != nil {
			if prev, ok := old.files[f.Name]; ok && prev.ETag == f.ETag {
				f = prev // unchanged: same bytes, same ETag, same Last-Modified
			}
		}
		if f.Header == nil {
			ct := f.ContentType
			if ct == "" {
				ct = "text/plain"
			}
			if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
				ct += "; charset=utf-8"
			}
			f.Header = map[string][]string{
				"Etag":           {f.ETag},
				"Content-Type":   {ct},
				"Cache-Control":  {"no-cache"},
				"Last-Modified":  {f.ModTime.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}, // http.TimeFormat
				"Content-Length": {strconv.Itoa(len(f.Body))},
				"Accept-Ranges":  {"bytes"},
			}
		}
		out.files[f.Name] = f
	}
	usedModels := map[string]bool{}
	var b []byte
	for _, d := range sn.devices {
		out.macs[d.MAC] = true
		m, ok := sn.models[d.Model]
		if !ok {
			out.errors[d.ID] = fmt.Sprintf("model %q does not exist", d.Model)
			continue
		}
		usedModels[m.ID] = true
		acc, ok := sn.accounts[d.Account]
		if !ok {
			out.errors[d.ID] = "no linked account: no file is generated"
			continue
		}
		if !d.Enabled {
			out.errors[d.ID] = "disabled"
			continue
		}
		tid := d.Template
		if tid == "" {
			tid = m.Template
		}
		c, t, err := compile(tid, ScopeDevice)
		if err != nil {
			out.errors[d.ID] = err.Error()
			continue
		}
		mac, err := ParseMAC(d.MAC)
		if err != nil {
			out.errors[d.ID] = err.Error()
			continue
		}
		vars := make(map[string]string, len(base)+40)
		for k, v := range base {
			vars[k] = v
		}
		deviceVars(vars, d, mac, m, sn.pbx, acc, r.s.brandName(m.Brand))
		b = c.Append(b[:0], vars, t.Escape)
		name := m.File.Name(mac)
		if prev, dup := out.files[name]; dup {
			out.errors[d.ID] = fmt.Sprintf("file %s is already generated for device %s", name, prev.MAC)
			continue
		}
		put(&File{Name: name, Tenant: tenant, Device: d.ID, MAC: mac.String(), ContentType: t.ContentType, Body: bytes.Clone(b), Secret: true})
	}
	ids := make([]string, 0, len(usedModels))
	for id := range usedModels {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for _, cf := range sn.models[id].CommonFiles {
			if _, done := out.files[cf.Name]; done {
				continue // shared by several models of one family
			}
			c, t, err := compile(cf.Template, ScopeCommon)
			if err != nil {
				r.log.Warn("common file not rendered", "tenant", tenant, "file", cf.Name, "err", err)
				continue
			}
			b = c.Append(b[:0], base, t.Escape)
			put(&File{Name: cf.Name, Tenant: tenant, ContentType: t.ContentType, Body: bytes.Clone(b)})
		}
	}
	return out, nil
}

// pbxVars are the tenant-wide placeholder values.
func (s *Service) pbxVars(t Tenant, p PBXSettings) map[string]string {
	provURL := provisioningURL(s.cfg.BaseURL, t.ID, s.cfg.Mode == ModeMulti)
	off := tzOffsetMinutes(p.TimeZone)
	return map[string]string{
		"KPBX_IP_ADDRESS":              p.SIPServer,
		"KPBX_HOSTNAME":                urlHostname(s.cfg.BaseURL),
		"KPBX_SIP_UDP_PORT":            strconv.Itoa(p.SIPUDPPort),
		"KPBX_SIP_TCP_PORT":            strconv.Itoa(p.SIPTCPPort),
		"KPBX_SIP_TLS_PORT":            strconv.Itoa(p.SIPTLSPort),
		"KPBX_SIP_TRANSPORT":           p.Transport,
		"KPBX_SIP_PORT":                strconv.Itoa(p.port(p.Transport)),
		"KPBX_PROVISIONING_URL":        provURL,
		"KPBX_PROVISIONING_HOST":       urlHost(provURL),
		"KPBX_TENANT_UUID":             t.ID,
		"KPBX_PROVISIONING_USER":       p.HTTPUser,
		"KPBX_PROVISIONING_PASSWORD":   p.HTTPPassword,
		"KPBX_NTP_SERVER":              p.NTPServer,
		"KPBX_TIMEZONE":                p.TimeZone,
		"KPBX_TIMEZONE_OFFSET":         formatOffsetHours(off),
		"KPBX_TIMEZONE_OFFSET_MINUTES": strconv.Itoa(off),
		"KPBX_LANGUAGE":                p.Language,
		"KPBX_VOICEMAIL_NUMBER":        p.VoicemailNumber,
		"KPBX_RESYNC_SECONDS":          strconv.Itoa(p.ResyncSeconds),
	}
}

func urlHostname(raw string) string {
	h := urlHost(raw)
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// tzOffsetMinutes is the standard (winter) offset of an IANA zone: phones apply
// daylight saving themselves from their own rules.
func tzOffsetMinutes(zone string) int {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return 0
	}
	year := time.Now().Year()
	_, jan := time.Date(year, 1, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(year, 7, 1, 12, 0, 0, 0, loc).Zone()
	return min(jan, jul) / 60
}

func formatOffsetHours(min int) string {
	sign := "+"
	if min < 0 {
		sign = "-"
	}
	h := math.Abs(float64(min)) / 60
	return sign + strconv.FormatFloat(h, 'f', -1, 64)
}

// deviceVars adds the account and device placeholders.
func deviceVars(v map[string]string, d Device, mac MAC, m Model, p PBXSettings, a Account, brand string) {
	transport := a.Transport
	if transport == "" {
		transport = p.Transport
	}
	auth := a.AuthUsername
	if auth == "" {
		auth = a.SIPUsername
	}
	vm := a.Voicemail
	if vm == "" {
		vm = a.Extension
	}
	display := a.DisplayName
	if display == "" {
		display = strings.TrimSpace(a.FirstName + " " + a.LastName)
	}
	if display == "" {
		display = a.Extension
	}
	label, _, _ := strings.Cut(d.Notes, "\n")
	v["ACCOUNT_EXTENSION"] = a.Extension
	v["ACCOUNT_SIP_USERNAME"] = a.SIPUsername
	v["ACCOUNT_SIP_AUTH_USERNAME"] = auth
	v["ACCOUNT_SIP_PASSWORD"] = a.SIPPassword
	v["ACCOUNT_DISPLAY_NAME"] = display
	v["ACCOUNT_FIRST_NAME"] = a.FirstName
	v["ACCOUNT_LAST_NAME"] = a.LastName
	v["ACCOUNT_VOICEMAIL"] = vm
	v["ACCOUNT_SIP_TRANSPORT"] = transport
	v["ACCOUNT_SIP_PORT"] = strconv.Itoa(p.port(transport))
	v["IPADDRMODE"] = d.IPAddrMode
	v["IPADDR"] = d.IPAddr
	v["IPNETMASK"] = d.Netmask
	v["IPGATEWAY"] = d.Gateway
	v["IPDNS1"] = d.DNS1
	v["IPDNS2"] = d.DNS2
	v["PHONEUSERNAME"] = d.PhoneUsername
	v["PHONEPASSWORD"] = d.PhonePassword
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

// interfaceIPv4 returns the interface's first IPv4 address ("" if none), and
// remembers it so that the poller notices a change.
func (r *renderer) interfaceIPv4(name string) string {
	ip := readIPv4(name)
	r.ifaceMu.Lock()
	r.ifaces[name] = ip
	r.ifaceMu.Unlock()
	return ip
}

func readIPv4(name string) string {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// pollInterfaces re-renders everything when an interface a dynamic placeholder
// reads has changed its address.
func (r *renderer) pollInterfaces() {
	r.ifaceMu.Lock()
	changed := false
	for name, old := range r.ifaces {
		if now := readIPv4(name); now != old {
			r.log.Info("interface address changed: re-rendering", "interface", name, "old", old, "new", now)
			changed = true
		}
	}
	r.ifaceMu.Unlock()
	if changed {
		r.dirtyMu.Lock()
		r.dirty["*"] = r.s.st.Revision()
		r.dirtyMu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// configured reports whether tenant has a device with mac.
func (r *renderer) configured(tenant, mac string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tf, ok := r.tenants[tenant]
	return ok && tf.macs[mac]
}

// lookup returns a tenant's file.
func (r *renderer) lookup(tenant, name string) (*File, bool) {
	f, _, ok := r.lookupAuth(tenant, name)
	return f, ok
}

// lookupAuth returns a tenant's file and the authentication the tenant demands,
// from one rendering (no database access on the request path).
func (r *renderer) lookupAuth(tenant, name string) (*File, HTTPAuth, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tf, ok := r.tenants[tenant]
	if !ok {
		return nil, HTTPAuth{}, false
	}
	f, ok := tf.files[name]
	return f, tf.auth, ok
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
