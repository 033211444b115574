package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// slotOf is the cached slot of tenant's file name, whatever its generation.
func (c *bootCache) slotOf(tenant, name string) *bootSlot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.slots[bootKey{tenant, fileKey(name)}]; ok {
		return el.Value.(*bootSlot)
	}
	return nil
}

// TestBootstrapOnDemand: a pass makes no bootstrap file; the first request by
// name makes the device's and later ones are answered from the cache; a
// change drops it (the next request gets the new file, never the stale one);
// the cache stays within its bounds in files and bytes, and a file made again
// after eviction keeps its ETag and Last-Modified; a device whose bootstrap
// file would carry a secret has none (404), with the reason kept.
func TestBootstrapOnDemand(t *testing.T) {
	e, _ := enrollEnv(t, ModeSingle)
	boots := e.s.render.boots
	names := []string{pvFile}
	for i := 1; i <= 3; i++ {
		mac := fmt.Sprintf("00:15:65:00:01:%02x", i)
		if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"`+mac+`","model":"`+e.model+`","account":"`+e.account+`"}`)); err != nil {
			t.Fatal(err)
		}
		names = append(names, strings.ReplaceAll(mac, ":", "")+".cfg")
	}
	e.sync(t)
	if files, _, made := boots.stats(); files != 0 || made != 0 {
		t.Fatalf("the passes made %d bootstrap files (%d cached): they are made on demand", made, files)
	}
	byName := func(name string) *File {
		t.Helper()
		got, err := e.s.Resolve(name)
		if err != nil || got.File == nil || !got.Bootstrap || strings.Contains(string(got.File.Body), "secret-201") {
			t.Fatalf("by name %s: %+v %v, want the bootstrap file", name, got, err)
		}
		if got.File.Size != len(got.File.Body) || got.File.ETag == "" || got.File.ModTime.IsZero() || !strings.EqualFold(got.File.Name, name) {
			t.Fatalf("bootstrap file %s not stamped: %+v", name, got.File)
		}
		return got.File
	}

	// The first request makes it, the next ones (any case) reuse it.
	first := byName(pvFile)
	if files, _, made := boots.stats(); files != 1 || made != 1 {
		t.Fatalf("after one request: %d cached, %d made", files, made)
	}
	if again := byName(strings.ToUpper(pvFile)); again != first {
		t.Errorf("the second request made the bootstrap file again")
	}
	if _, _, made := boots.stats(); made != 1 {
		t.Errorf("made %d times", made)
	}

	// A change: the pass drops the tenant's cached files, the next request
	// gets the new one.
	if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", e.tmpl, json.RawMessage(
		`{"body":"pass=%%ACCOUNT_SIP_PASSWORD%%\nadmin=%%PHONE_ADMIN_PASSWORD%%\nurl=%%KPBX_PROVISIONING_URL%%\nresync=%%KPBX_RESYNC_SECONDS%%\nv=2\n"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if files, _, _ := boots.stats(); files != 0 {
		t.Errorf("%d bootstrap files of the previous pass still cached", files)
	}
	changed := byName(pvFile)
	if changed == first || !strings.Contains(string(changed.Body), "v=2\n") || changed.ETag == first.ETag {
		t.Fatalf("stale bootstrap file after a change:\n%s", changed.Body)
	}
	// A slot made from an older pass is never served, even if it got in
	// after the pass (a request that read the store before it).
	cur := boots.slotOf(e.tenant, pvFile)
	fake := &bootEntry{device: cur.e.device, mac: cur.e.mac, closed: &File{Name: pvFile, Body: []byte("stale"), Size: 5}}
	boots.put(&bootSlot{key: cur.key, gen: cur.gen - 1, e: fake})
	if got, err := e.s.Resolve(pvFile); err != nil || got.File == fake.closed || !strings.Contains(string(got.File.Body), "v=2\n") {
		t.Errorf("a slot of an older pass was served: %+v %v", got, err)
	}

	// Bounded in files: the least recently used goes first.
	boots.setLimits(2, 1<<20)
	made := map[string]*File{}
	for _, n := range names {
		made[n] = byName(n)
	}
	if files, _, _ := boots.stats(); files != 2 {
		t.Errorf("%d files cached, bound 2", files)
	}
	if boots.slotOf(e.tenant, names[0]) != nil || boots.slotOf(e.tenant, names[3]) == nil {
		t.Errorf("not the least recently used evicted")
	}
	_, _, before := boots.stats()
	remade := byName(names[0])
	if _, _, after := boots.stats(); after != before+1 || remade == made[names[0]] {
		t.Errorf("an evicted file is not made again (%d -> %d renders)", before, after)
	}
	if remade.ETag != made[names[0]].ETag || !remade.ModTime.Equal(made[names[0]].ModTime) {
		t.Errorf("made again after eviction, the file changed its ETag or date: %s %s, was %s %s",
			remade.ETag, remade.ModTime, made[names[0]].ETag, made[names[0]].ModTime)
	}
	// Bounded in bytes: room for one file.
	boots.setLimits(100, boots.slotOf(e.tenant, names[0]).size)
	byName(names[1])
	byName(names[2])
	if files, n, _ := boots.stats(); files != 1 || n > boots.slotOf(e.tenant, names[2]).size {
		t.Errorf("%d files (%d bytes) cached, bound one file's bytes", files, n)
	}
	boots.setLimits(bootCacheFiles, bootCacheBytes)

	// A template that writes a secret literally: no bootstrap file, the
	// reason kept with the device (and logged once).
	leak, err := e.s.SaveTemplate(e.ctx, e.actor, "", "", json.RawMessage(`{"name":"leak","scope":"device","escape":"none","body":"x=secret-201\n"}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00:15:65:00:02:01","model":"`+e.model+`","account":"`+e.account+`","template":"`+leak.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if got, err := e.s.Resolve("001565000201.cfg"); !errors.Is(err, ErrWithheld) || got.File != nil {
		t.Errorf("leaking device by name: %+v %v, want ErrWithheld", got, err)
	}
	if s := boots.slotOf(e.tenant, "001565000201.cfg"); s == nil || s.e != nil || !strings.Contains(s.why, "secret") {
		t.Errorf("leaking device's slot: %+v", s)
	}
	// Its token still serves its file, and its first fetch there is a claim
	// like any device's: the token path makes no bootstrap file.
	_, _, before = boots.stats()
	if got, err := e.s.Resolve(d.URLToken + "/001565000201.cfg"); err != nil || !got.Token || got.event != eventClaim || got.File.Body == nil {
		t.Errorf("leaking device by token: %+v %v", got, err)
	}
	if _, _, after := boots.stats(); after != before {
		t.Errorf("a fetch by token made a bootstrap file")
	}
}
