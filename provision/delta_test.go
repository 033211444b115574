package provision

// Partial passes against whole ones: random edits of devices and accounts,
// and after each burst the tree the partial passes left must be the tree a
// whole pass over the same store makes.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-pbx/switchboard/store"
)

// treeView is what a tenant's tree serves and keeps, comparable.
type treeView struct {
	Files               map[string]string // name -> etag, device, secret, type, MAC
	Devices, Errors     map[string]string
	Tokens, TokenOf     map[string]string
	Index               map[string]devEntry
	Users               map[string][]string
	MACs                map[string]string
	ModelUse            map[string]int
	Models              map[string]bool
	Collisions          int
	Disabled, HasSecure bool
}

func viewOf(r *renderer, tenant string) treeView {
	r.mu.RLock()
	defer r.mu.RUnlock()
	tf := r.tenants[tenant]
	if tf == nil {
		return treeView{}
	}
	v := treeView{Files: map[string]string{}, Devices: maps.Clone(tf.devices), Errors: maps.Clone(tf.errors),
		Tokens: maps.Clone(tf.tokens), TokenOf: maps.Clone(tf.tokenOf), Models: maps.Clone(tf.models),
		Collisions: tf.collisions, Disabled: tf.disabled, HasSecure: tf.secure}
	if x := tf.index; x != nil {
		v.Index, v.MACs, v.ModelUse, v.Users = maps.Clone(x.devs), maps.Clone(x.macs), maps.Clone(x.modelUse), map[string][]string{}
		for a, ids := range x.users {
			v.Users[a] = slices.Sorted(slices.Values(ids)) // the order devices reached the index
		}
	}
	for k, f := range tf.files {
		v.Files[k] = fmt.Sprintf("%s %s %s %v %s %s", f.Name, f.ETag, f.Device, f.Secret, f.ContentType, f.MAC)
	}
	return v
}

// wholeView renders tenant whole with a renderer of its own, from the store
// as it is now.
func (e *pvEnv) wholeView(t *testing.T) treeView {
	t.Helper()
	r := newRenderer(e.s, slog.New(slog.DiscardHandler))
	if _, err := r.renderTenant(e.ctx, e.tenant); err != nil {
		t.Fatal(err)
	}
	return viewOf(r, e.tenant)
}

func (e *pvEnv) partialPasses() uint64 {
	var m dto.Metric
	if err := e.s.metrics.renderSeconds.WithLabelValues("partial").(prometheus.Histogram).Write(&m); err != nil {
		panic(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestPartialPassIsAWholePass edits devices and accounts at random (lines,
// MACs, models, accounts' passwords, enabled, created and deleted) and
// compares, after each burst, the served tree with a whole pass's.
func TestPartialPassIsAWholePass(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			e := pvStart(t, ModeMulti)
			if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(fmt.Sprintf(`{"secure_urls":%v,"sip_server":"192.0.2.10"}`, secure))); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, map[bool]uint64{false: 2, true: 3}[secure]))
			exts := make([]string, 12)
			for i := range exts {
				exts[i] = fmt.Sprint(400 + i)
			}
			accounts := append(e.accountsFor(t, exts...), e.account)
			models := []string{e.model, "yealink-t31p", "yealink-t31p", "poly-vvx250"}
			nextMAC := 0x100
			mac := func() string { nextMAC++; return fmt.Sprintf("00:15:65:aa:%02x:%02x", nextMAC>>8, nextMAC&0xff) }
			devices := []string{e.device}
			newDevice := func() {
				d, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"`+mac()+`","model":"`+models[rng.IntN(len(models))]+`","account":"`+accounts[rng.IntN(len(accounts))]+`"}`))
				if err == nil {
					devices = append(devices, d.ID)
				}
			}
			for range 15 {
				newDevice()
			}
			e.sync(t)
			if got, want := viewOf(e.s.render, e.tenant), e.wholeView(t); !reflect.DeepEqual(got, want) {
				t.Fatalf("first pass differs from a whole pass:\n got %+v\nwant %+v", got, want)
			}
			before := e.partialPasses()
			for step := range 60 {
				for range 1 + rng.IntN(4) {
					dev := devices[rng.IntN(len(devices))]
					acc := accounts[rng.IntN(len(accounts))]
					var err error
					switch op := rng.IntN(10); op {
					case 0, 1, 2:
						_, err = e.s.SaveAccount(e.ctx, e.actor, e.tenant, acc, json.RawMessage(fmt.Sprintf(`{"sip_password":"pw-%d-Secret"}`, rng.IntN(1e6))))
					case 3:
						_, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, dev, json.RawMessage(fmt.Sprintf(`{"enabled":%v}`, rng.IntN(2) == 0)))
					case 4:
						other := accounts[rng.IntN(len(accounts))]
						_, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, dev, json.RawMessage(`{"lines":[{"account":"`+acc+`"},{"account":"`+other+`"}]}`))
					case 5:
						_, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, dev, json.RawMessage(`{"mac":"`+mac()+`"}`))
					case 6:
						_, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, dev, json.RawMessage(`{"model":"`+models[rng.IntN(len(models))]+`"}`))
					case 7:
						newDevice()
					case 8:
						if err = e.s.DeleteDevice(e.ctx, e.actor, e.tenant, dev); err == nil {
							devices = deleteStr(devices, dev)
						}
					case 9:
						if rng.IntN(2) == 0 {
							a, err2 := e.s.SaveAccount(e.ctx, e.actor, e.tenant, "", json.RawMessage(fmt.Sprintf(`{"extension":"%d","sip_password":"pw-new-Secret"}`, 500+step)))
							if err2 == nil {
								accounts = append(accounts, a.ID)
							}
						} else if err = e.s.DeleteAccount(e.ctx, e.actor, e.tenant, acc); err == nil {
							accounts = deleteStr(accounts, acc)
						}
					}
					_ = err // a refused edit (a line too many, an account in use) changes nothing
				}
				e.sync(t)
				got, want := viewOf(e.s.render, e.tenant), e.wholeView(t)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d: the tree differs from a whole pass:\n%s", step, diffViews(got, want))
				}
				if len(devices) == 0 {
					newDevice()
				}
			}
			if n := e.partialPasses() - before; n < 20 {
				t.Errorf("%d partial passes in 60 bursts: most edits were rendered whole", n)
			}
		})
	}
}

func deleteStr(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// diffViews says where two trees differ.
func diffViews(got, want treeView) string {
	var b strings.Builder
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			fmt.Fprintf(&b, "%s:\n got %v\nwant %v\n", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
	return b.String()
}

// TestPartialPassRendersOnlyTheTouchedDevices: an account's new password
// reaches the file of the device using it through a partial pass, which
// leaves every other file as it was (the same File), and an unchanged
// re-render keeps the file's ETag.
func TestPartialPassRendersOnlyTheTouchedDevices(t *testing.T) {
	e := pvStart(t, ModeSingle)
	acc := e.accountsFor(t, "601", "602")
	other, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"mac":"00:15:65:00:06:02","model":"`+e.model+`","account":"`+acc[1]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"account":"`+acc[0]+`"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	mine, _ := e.s.Lookup(e.tenant, pvFile)
	theirs, _ := e.s.Lookup(e.tenant, "001565000602.cfg")
	before := e.partialPasses()
	if _, err := e.s.SaveAccount(e.ctx, e.actor, e.tenant, acc[0], json.RawMessage(`{"sip_password":"changed-601-Secret"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if n := e.partialPasses() - before; n != 1 {
		t.Fatalf("%d partial passes for one account's edit, want 1", n)
	}
	now, _ := e.s.Lookup(e.tenant, pvFile)
	if !strings.Contains(string(now.Body), "pass=changed-601-Secret\n") || now.ETag == mine.ETag {
		t.Errorf("the device's file after its account changed: %q", now.Body)
	}
	if still, _ := e.s.Lookup(e.tenant, "001565000602.cfg"); still != theirs {
		t.Errorf("the other device's file was replaced: %+v -> %+v", theirs, still)
	}
	// Saving the device unchanged renders the same bytes: the file stays.
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, other.ID, json.RawMessage(`{"remote_port":5061}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if still, _ := e.s.Lookup(e.tenant, "001565000602.cfg"); still != theirs {
		t.Errorf("an unchanged re-render replaced the file: %+v -> %+v", theirs, still)
	}
	// A device's template change is the tenant's: rendered whole.
	before = e.partialPasses()
	if _, err := e.s.SaveTemplate(e.ctx, e.actor, "", e.tmpl, json.RawMessage(`{"body":"user=%%ACCOUNT_SIP_USERNAME%%\n"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if f, _ := e.s.Lookup(e.tenant, pvFile); string(f.Body) != "user=601\n" || e.partialPasses() != before {
		t.Errorf("after a template change: %q, %d partial passes", f.Body, e.partialPasses()-before)
	}
	// The last device of one model moving to a model no device had: as many
	// models in use as before, but not the same ones (their common files).
	if err := e.s.DeleteDevice(e.ctx, e.actor, e.tenant, other.ID); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"model":"yealink-t31p"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if got, want := viewOf(e.s.render, e.tenant), e.wholeView(t); !reflect.DeepEqual(got, want) {
		t.Errorf("after a change of the only model in use the tree differs from a whole pass:\n%s", diffViews(got, want))
	}
}

// TestDeltasGatherOnlyWhatAPartialPassTakes: a tenant already due for a whole
// pass gathers no changed devices, a delta that outgrows maxDelta becomes a
// whole pass, and another tenant's delta is kept.
func TestDeltasGatherOnlyWhatAPartialPassTakes(t *testing.T) {
	r := newRenderer(nil, slog.New(slog.DiscardHandler))
	r.dirty = map[string]bool{} // past the first pass
	r.commit(store.Commit{Rev: 1, Changes: []store.Change{
		{Kind: KindPBX, ID: "a", Tenant: "a"}, {Kind: KindDevice, ID: "d1", Tenant: "a"},
		{Kind: KindAccount, ID: "x1", Tenant: "b"},
	}})
	if r.deltas["a"] != nil || !r.dirty["a"] {
		t.Errorf("tenant a, due for a whole pass: delta %+v, dirty %v", r.deltas["a"], r.dirty)
	}
	if d := r.deltas["b"]; d == nil || !d.accounts["x1"] || r.dirty["b"] {
		t.Errorf("tenant b: delta %+v, dirty %v", d, r.dirty)
	}
	var many []store.Change
	for i := range maxDelta + 1 {
		many = append(many, store.Change{Kind: KindDevice, ID: fmt.Sprint("d", i), Tenant: "b"})
	}
	r.commit(store.Commit{Rev: 2, Changes: many})
	if r.deltas["b"] != nil || !r.dirty["b"] {
		t.Errorf("tenant b past maxDelta: a delta kept (%v), dirty %v", r.deltas["b"] != nil, r.dirty)
	}
	r.commit(store.Commit{Rev: 3, Changes: []store.Change{{Kind: KindDevice, ID: "d", Tenant: "b"}}})
	if r.deltas["b"] != nil {
		t.Error("tenant b, due for a whole pass, gathered a device again")
	}
}
