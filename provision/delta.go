package provision

// Partial passes. A commit that changes devices or accounts of a tenant, and
// nothing else that files are made from, re-renders only the devices it
// touches: the changed devices, and the devices whose lines use a changed
// account. A whole pass over a tenant of 10,000 phones takes about 0.7 s of
// CPU; an installer saving one account, or an HA active acknowledging a
// stream of account edits, should not pay that per commit.
//
// A partial pass leaves the tree exactly as a whole pass over the same
// snapshot would, or it is not applied and the tenant is rendered whole. The
// cases it leaves to a whole pass: a tenant never rendered whole, disabled or
// gone; a name two files want (which file wins depends on the order of a
// whole pass); a change of the set of models in use (the common files follow
// it); more than maxDelta devices to render (a whole pass is as cheap).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// maxDelta bounds what a partial pass takes: changed objects gathered, and
// devices to re-render. Beyond it the tenant is rendered whole.
const maxDelta = 512

// delta is what commits changed in a tenant since its last pass, when they
// changed devices and accounts only.
type delta struct {
	devices, accounts map[string]bool
}

func newDelta() *delta { return &delta{devices: map[string]bool{}, accounts: map[string]bool{}} }

// add records a changed device or account; false when the delta has grown
// past maxDelta.
func (d *delta) add(ch store.Change) bool {
	if ch.Kind == KindDevice {
		d.devices[ch.ID] = true
	} else {
		d.accounts[ch.ID] = true
	}
	return len(d.devices)+len(d.accounts) <= maxDelta
}

// devEntry is what a pass made of one device: what a later partial pass
// must undo when the device changes, and which accounts it depends on.
type devEntry struct {
	mac, model, token string
	file              string   // the key of its file; "" without one
	accounts          []string // its main and lines' accounts
}

func newDevEntry(d Device) devEntry {
	return devEntry{mac: d.MAC, model: d.Model, token: d.URLToken, accounts: d.accountIDs()}
}

// devIndex is what the passes made of a tenant's devices, with the reverse
// maps that let a partial pass cost what it renders, not what the tenant
// holds (a scan of 10,000 devices per account edit cost more than the edit).
// The store keeps MACs unique in a tenant at every revision and devices
// reach the index in commit order, so macs has one device per MAC.
type devIndex struct {
	devs     map[string]devEntry
	users    map[string][]string // account id -> the devices using it
	macs     map[string]string   // MAC -> device id
	modelUse map[string]int      // model id -> devices of that model
}

func newDevIndex() *devIndex {
	return &devIndex{devs: map[string]devEntry{}, users: map[string][]string{}, macs: map[string]string{}, modelUse: map[string]int{}}
}

func (x *devIndex) add(id string, e devEntry) {
	x.devs[id] = e
	for _, a := range e.accounts {
		x.users[a] = append(x.users[a], id)
	}
	x.macs[e.mac] = id
	x.modelUse[e.model]++
}

func (x *devIndex) remove(id string) (devEntry, bool) {
	e, ok := x.devs[id]
	if !ok {
		return e, false
	}
	delete(x.devs, id)
	for _, a := range e.accounts {
		if left := slices.DeleteFunc(x.users[a], func(d string) bool { return d == id }); len(left) > 0 {
			x.users[a] = left
		} else {
			delete(x.users, a)
		}
	}
	if x.macs[e.mac] == id {
		delete(x.macs, e.mac)
	}
	if x.modelUse[e.model]--; x.modelUse[e.model] <= 0 {
		delete(x.modelUse, e.model)
	}
	return e, true
}

// affected lists the devices a delta re-renders, sorted: the changed devices
// and those using a changed account (any of its lines: a device's file
// carries every line's credentials).
func (d *delta) affected(x *devIndex) []string {
	ids := make(map[string]bool, len(d.devices))
	for id := range d.devices {
		ids[id] = true
	}
	for a := range d.accounts {
		for _, id := range x.users[a] {
			ids[id] = true
		}
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// partial is a partial pass in the making: the devices re-rendered, checked
// against the tree before anything of it changes.
type partial struct {
	r      *renderer
	tenant string
	tf     *tenantFiles
	td     *tenantData
	comp   *compiler
	rev    int64
	now    time.Time
	vars   map[string]string
	buf    []byte
	ids    []string            // the devices rendered, sorted
	next   map[string]devEntry // the new entry of each device still there
	files  map[string]*File    // device id -> its new file
	errs   map[string]string   // device id -> why it has no file
	enroll []Device            // devices whose enrollment the tree now reflects
	stats  renderStats
}

// renderDelta renders the devices dl touches in tenant; false (and nothing
// changed) when the tenant must be rendered whole instead.
func (r *renderer) renderDelta(ctx context.Context, tenant string, dl *delta) (renderStats, bool, error) {
	tf := r.tenants[tenant] // the run goroutine reads the trees without the lock
	if tf == nil || tf.index == nil || tf.disabled || tf.collisions > 0 {
		return renderStats{}, false, nil
	}
	ids := dl.affected(tf.index)
	if len(ids) > maxDelta {
		return renderStats{}, false, nil
	}
	var p *partial
	rev := r.s.st.Revision()
	err := r.s.st.View(ctx, func(tx *store.Tx) error {
		td, ok, err := r.loadTenant(tx, tenant, false)
		if err != nil || !ok || !td.tenant.Enabled {
			return err
		}
		p = &partial{r: r, tenant: tenant, tf: tf, td: td, comp: &compiler{td: td, compiled: map[string]*Compiled{}},
			rev: rev, now: time.Now().UTC().Truncate(time.Second), vars: make(map[string]string, len(td.base)+40), ids: ids,
			next: map[string]devEntry{}, files: map[string]*File{}, errs: map[string]string{}}
		for _, id := range ids {
			if err := p.device(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || p == nil || !p.fits() {
		return renderStats{}, false, err
	}
	p.apply()
	return p.stats, true, nil
}

// device renders device id as the store has it now (nothing when it is gone).
func (p *partial) device(tx *store.Tx, id string) error {
	var d Device
	err := getIn(tx, KindDevice, p.tenant, id, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	accounts, err := lineAccounts(tx, p.tenant, d)
	if err != nil {
		return err
	}
	p.next[id] = newDevEntry(d)
	dr, why := p.r.prepareDevice(p.td, p.comp, d, accounts, p.vars)
	if why != "" {
		p.errs[id] = why
		return nil
	}
	if p.buf, err = dr.c.RenderScope(p.buf[:0], dr.sc, dr.t.Escape); err != nil {
		p.errs[id] = fmt.Sprintf("template %q: %v", dr.t.Name, err)
		return nil
	}
	p.files[id] = &File{Name: dr.m.File.Name(dr.mac), Tenant: p.tenant, Device: d.ID, MAC: dr.mac.String(), ContentType: dr.t.ContentType, Body: bytes.Clone(p.buf), Secret: true}
	if p.td.pbx.SecureURLs && d.URLToken != "" {
		p.enroll = append(p.enroll, d)
	}
	return nil
}

// fits says whether applying the pass leaves the tree a whole pass would:
// every new file's name free (or the device's own), and the same models in
// use (a model is in use when a device has it and the catalog has it).
func (p *partial) fits() bool {
	names := make(map[string]bool, len(p.files))
	for id, f := range p.files {
		key := fileKey(f.Name)
		if names[key] {
			return false
		}
		names[key] = true
		if cur := p.tf.files[key]; cur != nil && cur.Device != id {
			return false
		}
	}
	x := p.tf.index
	use := make(map[string]int, len(x.modelUse)+1)
	for m, n := range x.modelUse {
		use[m] = n
	}
	for _, id := range p.ids {
		if old, ok := x.devs[id]; ok {
			use[old.model]--
		}
		if e, ok := p.next[id]; ok {
			use[e.model]++
		}
	}
	used := 0
	for m, n := range use {
		if _, ok := p.td.models[m]; ok && n > 0 {
			if !p.tf.models[m] {
				return false
			}
			used++
		}
	}
	return used == len(p.tf.models)
}

// apply installs the pass: the devices' old files, MACs, tokens and errors
// out, the new ones in, an unchanged file kept as it is (same ETag and
// modification time, as a whole pass keeps it).
func (p *partial) apply() {
	tf, x := p.tf, p.tf.index
	var macs []string // MACs the devices had: out of the tree unless another device has one now
	p.r.mu.Lock()
	for _, id := range p.ids {
		old, had := x.remove(id)
		if !had {
			continue
		}
		if cur := tf.files[old.file]; old.file != "" && cur != nil && cur.Device == id {
			if f := p.files[id]; f == nil || fileKey(f.Name) != old.file {
				p.stats.replaced += cur.Size
				delete(tf.files, old.file)
			}
		}
		macs = append(macs, old.mac)
		if old.token != "" && tf.tokens[old.token] == id {
			delete(tf.tokens, old.token)
		}
		delete(tf.tokenOf, id)
		delete(tf.errors, id)
	}
	for _, id := range p.ids {
		e, ok := p.next[id]
		if !ok {
			continue
		}
		tf.devices[e.mac] = ""
		if e.token != "" {
			tf.tokens[e.token] = id
			tf.tokenOf[id] = e.token
		}
		if why, bad := p.errs[id]; bad {
			tf.errors[id] = why
		}
		if f := p.files[id]; f != nil {
			e.file = p.put(f)
			tf.devices[e.mac] = f.Name
		}
		x.add(id, e)
	}
	for _, mac := range macs {
		if _, taken := x.macs[mac]; !taken {
			delete(tf.devices, mac)
		}
	}
	tf.rev = p.rev
	p.r.mu.Unlock()
	p.r.boots.drop(p.tenant)
	for _, d := range p.enroll {
		p.r.s.enroll.set(d.ID, p.rev, d.Enrollment)
	}
}

// put installs a device's new file, or keeps the served one when its bytes
// are the same; it returns the file's key. The caller holds r.mu.
func (p *partial) put(f *File) string {
	key := fileKey(f.Name)
	stampFile(f, p.now)
	p.stats.files++
	if prev := p.tf.files[key]; prev != nil && sameFile(prev, f) {
		return key
	} else if prev != nil {
		p.stats.replaced += prev.Size
	}
	p.tf.files[key] = f
	p.stats.changed++
	p.stats.written += f.Size
	return key
}
