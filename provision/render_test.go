package provision

// Tests of the renderer as a component: commits delivered late and out of the
// writer's goroutine, a request path that reads memory only, interface
// addresses from an injected source, health and metrics.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/component/roletest"
	"github.com/switchboard-pbx/switchboard/store"
)

// lateDelivery hands commits to the service from another goroutine, each after
// a random delay and several at once when they pile up, as the component
// runner does.
func lateDelivery(tb testing.TB) func(*Service, *store.Store) bool {
	return func(s *Service, st *store.Store) bool {
		var mu sync.Mutex
		var queue []store.Commit
		wake := make(chan struct{}, 1)
		st.OnCommitSync(func(rev int64, ch []store.Change) {
			mu.Lock()
			queue = append(queue, store.Commit{Rev: rev, Changes: append([]store.Change(nil), ch...)})
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		done := make(chan struct{})
		tb.Cleanup(func() { close(done) })
		go func() {
			for {
				select {
				case <-done:
					return
				case <-wake:
				}
				time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
				mu.Lock()
				batch := queue
				queue = nil
				mu.Unlock()
				if len(batch) == 0 {
					continue
				}
				// Coalesced: one delivery with the newest revision.
				c := store.Commit{Rev: batch[len(batch)-1].Rev}
				for _, b := range batch {
					c.Changes = append(c.Changes, b.Changes...)
				}
				s.Commit(c)
			}
		}()
		return true
	}
}

// TestWaitRenderedWithLateCommits: WaitRendered(rev) returns only once the file
// reflects rev, although commits arrive late, coalesced, and interleaved with
// commits of kinds the renderer ignores (which once marked a revision rendered
// while an earlier one was still being rendered).
func TestWaitRenderedWithLateCommits(t *testing.T) {
	e := pvStartWith(t, ModeSingle, Config{}, lateDelivery(t))
	// Enough devices that a pass takes a while, for commits to land during it.
	var acc, dev strings.Builder
	acc.WriteString("extension,sip_password\n")
	dev.WriteString("mac,model,account_extension\n")
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&acc, "%d,pw-%d-Strong\n", 1000+i, i)
		fmt.Fprintf(&dev, "02000000%04x,%s,%d\n", i, e.model, 1000+i)
	}
	if _, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(acc.String())); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(dev.String())); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // unrelated commits, as other components make them
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e.st.Update(e.ctx, e.actor, func(tx *store.Tx) error { // best effort noise
				return tx.Create("other", e.tenant, fmt.Sprintf("o%d", i), map[string]int{"n": i}, "noise")
			})
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 25; i++ {
		pw := fmt.Sprintf("secret-%03d", i)
		if _, err := e.s.SaveAccount(e.ctx, e.actor, e.tenant, e.account, json.RawMessage(`{"sip_password":"`+pw+`"}`)); err != nil {
			t.Fatal(err)
		}
		rev := e.st.Revision()
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		err := e.s.WaitRendered(ctx, rev)
		cancel()
		if err != nil {
			t.Fatalf("revision %d not rendered: %v", rev, err)
		}
		f, ok := e.s.Lookup(e.tenant, pvFile)
		if !ok || !strings.Contains(string(f.Body), "pass="+pw+"\n") {
			t.Fatalf("after WaitRendered(%d) the file is %q, want password %s", rev, f.Body, pw)
		}
		if got := e.s.RenderedRevision(); got < rev {
			t.Fatalf("RenderedRevision %d < %d", got, rev)
		}
	}
}

// TestRequestPathReadsMemoryOnly: with the database closed, files, assets and
// configured MACs are still answered (and case-insensitively).
func TestRequestPathReadsMemoryOnly(t *testing.T) {
	e := pvStart(t, ModeSingle)
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{pvFile, strings.ToUpper(pvFile), "001565123456.CFG"} {
		got, err := e.s.Resolve(name)
		if err != nil || got.File == nil || got.File.Name != pvFile || got.Tenant != e.tenant {
			t.Errorf("Resolve(%q) with the store closed: %+v %v", name, got, err)
		}
	}
	if got, err := e.s.Resolve(pvAsset); err != nil || got.Asset == nil || got.Asset.Size != int64(len("firmware bytes")) {
		t.Errorf("asset with the store closed: %+v %v", got, err)
	}
	if refs := e.s.FindMAC("001565123456"); len(refs) != 1 || refs[0].File != pvFile || refs[0].Device != e.device {
		t.Errorf("FindMAC with the store closed: %+v", refs)
	}
	if _, err := e.s.Resolve("001565abcdef.cfg"); err != ErrNoFile {
		t.Errorf("unknown file: %v", err)
	}
}

// fakeInterfaces is an Interfaces whose addresses a test sets.
type fakeInterfaces struct {
	mu    sync.Mutex
	addrs map[string]string
	reads int
}

func (f *fakeInterfaces) IPv4() (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	out := map[string]string{}
	for k, v := range f.addrs {
		out[k] = v
	}
	return out, nil
}

func (f *fakeInterfaces) set(name, ip string) {
	f.mu.Lock()
	f.addrs[name] = ip
	f.mu.Unlock()
}

// TestDynamicPlaceholderFollowsInterface: a dynamic placeholder takes the
// address the injected source reports, and a new address re-renders the file.
func TestDynamicPlaceholderFollowsInterface(t *testing.T) {
	src := &fakeInterfaces{addrs: map[string]string{"lan0": "192.0.2.1", "wan0": "198.51.100.1"}}
	e := pvStartWith(t, ModeSingle, Config{InterfacePoll: 20 * time.Millisecond}, func(s *Service, _ *store.Store) bool {
		s.SetInterfaces(src)
		return false
	})
	if _, err := e.s.SavePlaceholder(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"name":"_LAN","type":"dynamic","interface":"lan0"}`)); err != nil {
		t.Fatal(err)
	}
	// Custom placeholders exist in their tenant: the template is the tenant's.
	body := `{"name":"lan","body":"user=%%ACCOUNT_SIP_USERNAME%%\nlan=%%_LAN%%\n"}`
	tp, err := e.s.SaveTemplate(e.ctx, e.actor, e.tenant, "", json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"template":"`+tp.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if f, _ := e.s.Lookup(e.tenant, pvFile); !strings.Contains(string(f.Body), "lan=192.0.2.1\n") {
		t.Fatalf("file %q, want the interface's address", f.Body)
	}
	src.set("lan0", "192.0.2.77")
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, _ := e.s.Lookup(e.tenant, pvFile)
		if strings.Contains(string(f.Body), "lan=192.0.2.77\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file %q after the address changed", f.Body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The preview reads the same snapshot.
	out, err := e.s.Preview(e.ctx, e.tenant, e.device, "", nil)
	if err != nil || !strings.Contains(out, "lan=192.0.2.77") {
		t.Errorf("preview %q %v", out, err)
	}
}

// TestProvisioningComponent: the service is a component named render,
// healthy once rendered, degraded while a tenant cannot be rendered, with
// metrics a registry accepts.
func TestProvisioningComponent(t *testing.T) {
	e := pvStart(t, ModeSingle)
	var c component.Component = e.s
	if c.Name() != "render" {
		t.Errorf("name %q", c.Name())
	}
	if h := c.Health(e.ctx); h.Status != component.OK || !strings.Contains(h.Detail, "1 files") {
		t.Errorf("health %+v", h)
	}
	reg := prometheus.NewRegistry()
	for _, col := range c.Collectors() {
		if err := reg.Register(col); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, mf := range mfs {
		if m := mf.GetMetric(); len(m) > 0 && m[0].GetGauge() != nil {
			seen[mf.GetName()] = m[0].GetGauge().GetValue()
		} else {
			seen[mf.GetName()] = -1
		}
	}
	if seen["switchboard_provisioning_files"] != 1 || seen["switchboard_provisioning_rendered_revision"] != float64(e.st.Revision()) {
		t.Errorf("metrics %v", seen)
	}
	if _, ok := seen["switchboard_provisioning_render_seconds"]; !ok {
		t.Errorf("no render histogram: %v", seen)
	}
	// A rendering that cannot read the store leaves the files as they were and
	// says so.
	e.st.Close()
	e.s.Commit(store.Commit{Rev: e.st.Revision() + 1, Changes: []store.Change{{Kind: KindDevice, Tenant: e.tenant}}})
	deadline := time.Now().Add(10 * time.Second)
	for h := c.Health(e.ctx); h.Status != component.Degraded; h = c.Health(e.ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("health %+v after a failed rendering", h)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h := c.Health(e.ctx); !strings.Contains(h.Detail, e.tenant) {
		t.Errorf("degraded health does not name the tenant: %+v", h)
	}
	if f, ok := e.s.Lookup(e.tenant, pvFile); !ok || !strings.Contains(string(f.Body), "secret-201") {
		t.Errorf("the previous file is gone after a failed rendering: %v", ok)
	}
}

// TestPassiveRendersAtAPace: on a passive HA node a replicated commit does not
// set off a pass of its own (commits gather for the pace), but a WaitRendered
// gets its revision rendered at once, and so does becoming active; an active
// node renders every commit as it comes.
func TestPassiveRendersAtAPace(t *testing.T) {
	role := &roletest.Role{}
	e := pvStartWith(t, ModeSingle, Config{}, func(s *Service, _ *store.Store) bool {
		s.FollowRole(role)
		s.render.pace = time.Hour // only a hurry ends a pause
		return false
	})
	e.sync(t)
	body := func() string { f, _ := e.s.Lookup(e.tenant, pvFile); return string(f.Body) }
	save := func(pw string) int64 {
		t.Helper()
		if _, err := e.s.SaveAccount(e.ctx, e.actor, e.tenant, e.account, json.RawMessage(`{"sip_password":"`+pw+`"}`)); err != nil {
			t.Fatal(err)
		}
		return e.st.Revision()
	}
	renders := func(pw string) bool {
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if strings.Contains(body(), "pass="+pw+"\n") {
				return true
			}
		}
		return false
	}
	rev := save("paced-pw-1")
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(body(), "pass=paced-pw-1\n") || e.s.RenderedRevision() >= rev {
		t.Fatal("a passive node rendered a commit without waiting for the pace")
	}
	e.sync(t) // a waiter does not wait for the pace
	if !strings.Contains(body(), "pass=paced-pw-1\n") {
		t.Fatalf("after WaitRendered the file is %q", body())
	}
	save("paced-pw-2")
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(body(), "pass=paced-pw-2\n") {
		t.Fatal("a passive node rendered a commit without waiting for the pace")
	}
	role.Set(true)
	if !renders("paced-pw-2") {
		t.Fatalf("the node became active and its files stayed behind: %q", body())
	}
	save("active-pw-1")
	if !renders("active-pw-1") {
		t.Fatalf("an active node did not render a commit: %q", body())
	}
}

// TestPassivePause: a passive's pause after a pass is at least the pace, grows
// with the pass (rendering takes at most about 1/(1+passiveDuty) of its time)
// and is capped, so its files never fall further behind than the cap and a
// pass.
func TestPassivePause(t *testing.T) {
	for _, c := range []struct{ pace, pass, want time.Duration }{
		{time.Second, 0, time.Second},
		{time.Second, 100 * time.Millisecond, time.Second},
		{time.Second, 700 * time.Millisecond, passiveDuty * 700 * time.Millisecond},
		{time.Second, time.Minute, maxPassivePace},
		{time.Hour, time.Minute, time.Hour}, // a test's pace wins
	} {
		if got := passivePause(c.pace, c.pass); got != c.want {
			t.Errorf("passivePause(%v, %v) = %v, want %v", c.pace, c.pass, got, c.want)
		}
	}
}
