package provision

// Bootstrap files on demand. A secure tenant's pass renders no bootstrap file
// (enroll.go): requests by name in such a tenant are rare (factory-reset
// phones, phones sent by a foreign DHCP server; guessers are throttled by the
// per-source limiter), while a bootstrap file for each of 10,000 devices
// would double the tree. The pass leaves a bootSource instead (the tenant's
// catalog, settings and placeholder values as it saw them, its compiled
// templates), and the first request that needs a device's bootstrap file
// reads the device and its accounts from the store, renders the file by the
// same rules as the device file and keeps it in a small cache (bootCache),
// bounded in files and bytes and emptied of the tenant's files by each pass,
// so that no bootstrap file outlives the tree it was made for.

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// The bootstrap cache's bounds: files, and bytes of bodies (an open
// variant counted as made).
const (
	bootCacheFiles = 1024
	bootCacheBytes = 4 << 20
)

// bootReadTimeout bounds the store read of a bootstrap cache miss.
const bootReadTimeout = 5 * time.Second

// bootSource is what a secure tenant's pass leaves for rendering its
// devices' bootstrap files on demand.
type bootSource struct {
	gen uint64    // the pass: a cached file of another pass is stale
	now time.Time // the pass's time: the files' Last-Modified

	// mu makes one bootstrap file at a time for the tenant (they are rare;
	// a burst for one device renders it once) and guards comp.
	mu   sync.Mutex
	td   *tenantData // without the accounts: the request reads the device's
	comp *compiler
}

// newBootSource is the bootSource of a pass over td with compiler comp (the
// pass's: its templates are compiled already), nil unless the tenant serves
// device files under secret URLs only.
func (r *renderer) newBootSource(td *tenantData, comp *compiler, now time.Time) *bootSource {
	if !td.pbx.SecureURLs {
		return nil
	}
	keep := *td
	keep.accounts = nil // every account of the tenant: read per request instead
	comp.td = &keep
	r.bootGen++
	return &bootSource{gen: r.bootGen, now: now, td: &keep, comp: comp}
}

// bootKey names a cached bootstrap file: tenant and the lower-case name of
// the device file it stands for.
type bootKey struct{ tenant, file string }

// bootSlot is a cached bootstrap file, or the reason a device has none.
type bootSlot struct {
	key  bootKey
	gen  uint64     // the bootSource it was made from
	e    *bootEntry // nil: the device has no bootstrap file
	why  string     // why not ("" when the tree is only behind the store)
	size int        // bytes it counts against the bound
}

// bootCache keeps the bootstrap files made on demand, most recently used
// first, within maxFiles files and maxBytes bytes.
type bootCache struct {
	mu       sync.Mutex
	maxFiles int // files
	maxBytes int // bytes of bodies
	bytes    int
	order    *list.List // of *bootSlot, most recently used at the front
	slots    map[bootKey]*list.Element
	made     int // slots ever put (renders), for tests
}

func newBootCache(maxFiles, maxBytes int) *bootCache {
	return &bootCache{maxFiles: maxFiles, maxBytes: maxBytes, order: list.New(), slots: map[bootKey]*list.Element{}}
}

// get returns the slot of k made from generation gen; a slot of another
// generation is stale and removed.
func (c *bootCache) get(k bootKey, gen uint64) (*bootSlot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.slots[k]
	if !ok {
		return nil, false
	}
	s := el.Value.(*bootSlot)
	if s.gen != gen {
		c.remove(el)
		return nil, false
	}
	c.order.MoveToFront(el)
	return s, true
}

// put adds s (replacing its key's slot) and evicts the least recently used
// slots beyond the bounds; s itself stays even if it alone exceeds them.
func (c *bootCache) put(s *bootSlot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.slots[s.key]; ok {
		c.remove(el)
	}
	c.slots[s.key] = c.order.PushFront(s)
	c.bytes += s.size
	c.made++
	for c.order.Len() > 1 && (c.order.Len() > c.maxFiles || c.bytes > c.maxBytes) {
		c.remove(c.order.Back())
	}
}

func (c *bootCache) remove(el *list.Element) {
	s := c.order.Remove(el).(*bootSlot)
	delete(c.slots, s.key)
	c.bytes -= s.size
}

// drop removes tenant's slots (its tree was rendered again, or is gone).
func (c *bootCache) drop(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.slots {
		if k.tenant == tenant {
			c.remove(el)
		}
	}
}

// stats are the cache's files, bytes and renders so far.
func (c *bootCache) stats() (files, bytes, made int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes, c.made
}

// setLimits changes the bounds (tests); they apply from the next put.
func (c *bootCache) setLimits(maxFiles, maxBytes int) {
	c.mu.Lock()
	c.maxFiles, c.maxBytes = maxFiles, maxBytes
	c.mu.Unlock()
}

// bootstrapFor is the bootstrap entry of device file f of tenant, made at
// the first request that needs it, or nil when the device has none (the
// tenant has no secure URLs, the device no token, the file would carry a
// secret: logged once per pass, at the first request).
func (r *renderer) bootstrapFor(tenant string, f *File) *bootEntry {
	r.mu.RLock()
	var bs *bootSource
	if tf := r.tenants[tenant]; tf != nil && !tf.disabled {
		bs = tf.boot
	}
	r.mu.RUnlock()
	if bs == nil || f.Device == "" {
		return nil
	}
	key := bootKey{tenant, fileKey(f.Name)}
	if s, ok := r.boots.get(key, bs.gen); ok {
		return s.entryOf(f)
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if s, ok := r.boots.get(key, bs.gen); ok {
		return s.entryOf(f) // made by the request this one waited for
	}
	s, err := r.makeBootstrap(bs, tenant, f)
	if err != nil {
		r.log.Warn("reading a device for its bootstrap file", "tenant", tenant, "mac", f.MAC, "err", err)
		return nil
	}
	r.boots.put(s)
	if s.why != "" {
		r.log.Warn("no bootstrap file for the device", "tenant", tenant, "mac", f.MAC, "err", s.why)
	}
	return s.entryOf(f)
}

// entryOf is the slot's file if it stands for f's device.
func (s *bootSlot) entryOf(f *File) *bootEntry {
	if s.e == nil || s.e.device != f.Device {
		return nil
	}
	return s.e
}

// makeBootstrap renders the bootstrap file of device file f from bs and the
// device and accounts as the store has them now (as new as the tree, or
// newer: a change not yet rendered, which the next pass drops with the
// slot). A device that no longer has f as its file gets an empty slot,
// without a reason: the tree is behind the store, not wrong. The caller
// holds bs.mu.
func (r *renderer) makeBootstrap(bs *bootSource, tenant string, f *File) (*bootSlot, error) {
	slot := &bootSlot{key: bootKey{tenant, fileKey(f.Name)}, gen: bs.gen}
	var d Device
	var cur PBXSettings
	var accounts map[string]Account
	ctx, cancel := context.WithTimeout(context.Background(), bootReadTimeout)
	defer cancel()
	err := r.s.st.View(ctx, func(tx *store.Tx) error {
		if err := getIn(tx, KindDevice, tenant, f.Device, &d); err != nil {
			return err
		}
		var err error
		if cur, err = getPBX(tx, tenant); err != nil {
			return err
		}
		accounts, err = lineAccounts(tx, tenant, d)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return slot, nil // deleted since the pass
	case err != nil:
		return nil, err
	case d.URLToken == "":
		return slot, nil
	}
	td := bs.td
	dr, why := r.prepareDevice(td, bs.comp, d, accounts, make(map[string]string, len(td.base)+40))
	if why != "" || fileKey(dr.m.File.Name(dr.mac)) != slot.key.file {
		return slot, nil // changed since the pass
	}
	// The secrets of the settings the file is made with (the pass's) and of
	// the store's newer ones, if they changed since.
	secrets := append(deviceSecrets(d, td.pbx, accounts), cur.HTTPPassword, cur.PhoneAdminPassword)
	e, why := renderBootstrap(dr.c, dr.t, dr.sc, d, secrets, td.base["KPBX_PROVISIONING_URL"])
	if e == nil {
		slot.why = why
		return slot, nil
	}
	c := e.closed
	c.Name = f.Name
	sum := sha256.Sum256(c.Body)
	c.ETag, c.Size, c.ModTime = `"`+hex.EncodeToString(sum[:12])+`"`, len(c.Body), bs.now
	slot.e, slot.size = e, c.Size
	if e.openable {
		slot.size += c.Size + len(e.dir) // the open variant, once made
	}
	return slot, nil
}
