package redirect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
	"github.com/switchboard-pbx/switchboard/store"
)

// env is the real store and provisioning service (with one device) and a
// running redirect service.
type env struct {
	*provtest.Env
	svc *redirect.Service
	key string
}

func newEnv(t *testing.T, mod func(*redirect.Config)) *env {
	t.Helper()
	pe := provtest.New(t, provision.ModeSingle, 30)
	cfg := redirect.DefaultConfig()
	cfg.KeyFile = filepath.Join(t.TempDir(), "redirect.key")
	cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.Timeout = 2 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	svc, err := redirect.New(cfg, pe.Store, pe.Prov, pe.Logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pe.Store.Subscribe(svc.Commit)) // what the component runner does in serve
	go svc.Serve(pe.Ctx)
	return &env{Env: pe, svc: svc, key: cfg.KeyFile}
}

func (e *env) server(t *testing.T, body string) redirect.ServerView {
	t.Helper()
	v, err := e.svc.SaveServer(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(body))
	if err != nil {
		t.Fatalf("saving server %s: %v", body, err)
	}
	return v
}

func (e *env) device(t *testing.T, patch string) provision.Device {
	t.Helper()
	d, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, e.Device, json.RawMessage(patch))
	if err != nil {
		t.Fatalf("saving device %s: %v", patch, err)
	}
	return d
}

func (e *env) status(t *testing.T) *redirect.DeviceStatus {
	t.Helper()
	d, err := e.Prov.Device(e.Ctx, e.Tenant, e.Device)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := e.Prov.ViewDevices(e.Tenant, []provision.Device{d})[0].Redirect.(*redirect.DeviceStatus)
	return st
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOutageThenProvisionedWithoutTouching(t *testing.T) {
	e := newEnv(t, nil)
	y := redirecttest.NewYealink("acme", "pw-1")
	defer y.Close()
	y.AddServer("Acme PBX", "http://127.0.0.1/provisioning/")
	sv := e.server(t, `{"name":"rps","brand":"yealink","server_name":"Acme PBX","base_url":"`+y.URL()+`/xmlrpc","username":"acme","password":"pw-1"}`)
	if sv.API != "xmlrpc" {
		t.Fatalf("default api = %q", sv.API)
	}
	// Down and slow: every attempt hangs past the client's 2 s timeout.
	y.SetDown(true)
	y.SetDelay(3 * time.Second)
	start := time.Now()
	e.device(t, `{"redirect_server":"`+sv.ID+`"}`)
	if time.Since(start) > 1500*time.Millisecond {
		t.Fatal("saving a device waited for the vendor")
	}
	eventually(t, "the outage shows on the device", func() bool {
		st := e.status(t)
		return st != nil && st.Error == redirect.ErrUnreachable && !st.Provisioned && st.LastAttempt != nil
	})
	if _, ok := y.Registered("001565123456"); ok {
		t.Fatal("registered while down")
	}
	y.SetDelay(0)
	y.SetDown(false)
	eventually(t, "provisioned once the vendor is back", func() bool {
		st := e.status(t)
		return st != nil && st.Provisioned && st.Error == ""
	})
	if got, ok := y.Registered("001565123456"); !ok || got != "Acme PBX" {
		t.Fatalf("double has %q %v", got, ok)
	}
	if y.Calls("redirect.registerDevice") < 1 {
		t.Fatal("no registration call")
	}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	sraps := redirecttest.NewSRAPS("key-a", "secret-a")
	defer sraps.Close()
	snom := redirecttest.NewSnom("u", "p")
	defer snom.Close()
	a := e.server(t, `{"name":"sraps","brand":"snom","base_url":"`+sraps.URL()+`/api/v1/","username":"key-a","password":"secret-a"}`)
	b := e.server(t, `{"name":"legacy","brand":"snom","api":"xmlrpc","provisioning_url":"https://pbx.example/prov/","base_url":"`+snom.URL()+`/xmlrpc/","username":"u","password":"p"}`)
	url := e.Prov.ProvisioningURL(e.Tenant)
	if a.EffectiveURL != url {
		t.Fatalf("effective URL %q, want the tenant's %q", a.EffectiveURL, url)
	}

	// Each phone is sent to its own secret directory.
	e.device(t, `{"redirect_server":"`+a.ID+`"}`)
	dev := provision.DeviceDir(url, e.Token)
	eventually(t, "registered on SRAPS", func() bool { u, ok := sraps.Registered("001565123456"); return ok && u == dev })
	eventually(t, "status provisioned", func() bool { st := e.status(t); return st != nil && st.Provisioned })
	// A new token re-registers the phone with its new URL.
	d := e.device(t, `{"url_token":""}`)
	eventually(t, "re-registered with the new token", func() bool {
		u, ok := sraps.Registered("001565123456")
		return ok && u == provision.DeviceDir(url, d.URLToken) && d.URLToken != e.Token
	})

	// A MAC change deregisters the old MAC and registers the new one.
	e.device(t, `{"mac":"00:15:65:AB:CD:EF"}`)
	eventually(t, "re-registered under the new MAC", func() bool {
		_, old := sraps.Registered("001565123456")
		_, neu := sraps.Registered("001565ABCDEF")
		return !old && neu
	})
	// A server change moves it.
	e.device(t, `{"redirect_server":"`+b.ID+`"}`)
	eventually(t, "moved to the legacy service", func() bool {
		u, ok := snom.Registered("001565ABCDEF")
		return ok && u == "https://pbx.example/prov/" && sraps.Devices() == 0
	})
	eventually(t, "status provisioned on b", func() bool { st := e.status(t); return st != nil && st.Provisioned && st.Server == b.ID })
	// The server in use cannot be deleted.
	if err := e.svc.DeleteServer(e.Ctx, e.Actor, e.Tenant, b.ID); err == nil || !strings.Contains(err.Error(), "assigned") {
		t.Fatalf("deleting a server in use: %v", err)
	}
	// Unassigning deregisters.
	e.device(t, `{"redirect_server":""}`)
	eventually(t, "deregistered", func() bool { return snom.Devices() == 0 })
	eventually(t, "status gone", func() bool { return e.status(t) == nil })
	if err := e.svc.DeleteServer(e.Ctx, e.Actor, e.Tenant, b.ID); err != nil {
		t.Fatalf("deleting an unused server: %v", err)
	}
	// Deleting the device deregisters too.
	e.device(t, `{"redirect_server":"`+a.ID+`"}`)
	eventually(t, "registered again", func() bool { _, ok := sraps.Registered("001565ABCDEF"); return ok })
	if err := e.Prov.DeleteDevice(e.Ctx, e.Actor, e.Tenant, e.Device); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deregistered after delete", func() bool { return sraps.Devices() == 0 })
	eventually(t, "server deletable", func() bool { return e.svc.DeleteServer(e.Ctx, e.Actor, e.Tenant, a.ID) == nil })

	// Every step is in the audit log, attributed.
	rows, _, err := e.Store.Audit(e.Ctx, store.AuditFilter{ObjectType: redirect.KindState, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 4 || rows[0].User != "redirect" {
		t.Fatalf("%d state audit rows", len(rows))
	}
	// The registered URL carries a token: masked in the audit log.
	for _, r := range rows {
		for _, img := range []json.RawMessage{r.Before, r.After} {
			if bytes.Contains(img, []byte(e.Token)) || bytes.Contains(img, []byte(d.URLToken)) {
				t.Fatalf("state audit image shows a token: %s", img)
			}
		}
	}
	// What was done at the vendor cannot be "restored" in the database.
	if _, err := e.Store.Restore(e.Ctx, e.Actor, rows[0].ID); err == nil {
		t.Fatal("a redirect state row was restored")
	}
	rows, _, _ = e.Store.Audit(e.Ctx, store.AuditFilter{ObjectType: redirect.KindServer, Limit: 100})
	if len(rows) != 4 { // two created, two deleted
		t.Fatalf("%d server audit rows", len(rows))
	}
	for _, r := range rows {
		for _, img := range []json.RawMessage{r.Before, r.After} {
			if bytes.Contains(img, []byte("secret-a")) || (img != nil && !bytes.Contains(img, []byte(`"credentials":"********"`))) {
				t.Fatalf("audit image not redacted: %s", img)
			}
		}
	}
}

func TestCredentialsSealed(t *testing.T) {
	e := newEnv(t, nil)
	y := redirecttest.NewYMCS("cid", "very-secret-ymcs")
	defer y.Close()
	y.AddServer("Main")
	sv := e.server(t, `{"name":"ymcs","brand":"yealink","api":"ymcs","server_name":"Main","base_url":"`+y.URL()+`","username":"cid","password":"wrong-one"}`)
	raw, _ := json.Marshal(sv)
	if bytes.Contains(raw, []byte("wrong-one")) || bytes.Contains(raw, []byte(`"credentials"`)) || !sv.HasCredentials {
		t.Fatalf("view shows credentials: %s", raw)
	}
	fi, err := os.Stat(e.key)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file %v %v", fi, err)
	}
	res, err := e.svc.TestServer(e.Ctx, e.Tenant, sv.ID)
	if err != nil || res.OK || res.Error != redirect.ErrBadCredentials {
		t.Fatalf("test with a bad secret: %+v %v", res, err)
	}
	e.device(t, `{"redirect_server":"`+sv.ID+`"}`)
	eventually(t, "bad credentials on the device", func() bool {
		st := e.status(t)
		return st != nil && st.Error == redirect.ErrBadCredentials
	})
	if _, err := e.svc.SaveServer(e.Ctx, e.Actor, e.Tenant, sv.ID, json.RawMessage(`{"password":"very-secret-ymcs"}`)); err != nil {
		t.Fatal(err)
	}
	if res, _ := e.svc.TestServer(e.Ctx, e.Tenant, sv.ID); !res.OK {
		t.Fatalf("test after the fix: %+v", res)
	}
	eventually(t, "provisioned after fixing the password", func() bool { st := e.status(t); return st != nil && st.Provisioned })
	// Neither secret is in the database file (WAL included) or the log.
	for _, f := range []string{e.Store.Path(), e.Store.Path() + "-wal"} {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("very-secret-ymcs")) || bytes.Contains(b, []byte("wrong-one")) {
			t.Fatalf("%s holds a clear-text secret", f)
		}
	}
	if strings.Contains(e.Log.String(), "very-secret-ymcs") || strings.Contains(e.Log.String(), "wrong-one") {
		t.Fatal("a secret was logged")
	}
}

func TestRateLimitAndOwned(t *testing.T) {
	e := newEnv(t, nil)
	y := redirecttest.NewYMCS("cid", "s")
	defer y.Close()
	sv := e.server(t, `{"name":"ymcs","brand":"yealink","api":"ymcs","base_url":"`+y.URL()+`","username":"cid","password":"s"}`)
	y.RateLimit(1, "1")
	e.device(t, `{"redirect_server":"`+sv.ID+`"}`)
	eventually(t, "rate limited", func() bool { st := e.status(t); return st != nil && st.Error == redirect.ErrRateLimited })
	t0 := time.Now()
	eventually(t, "provisioned after Retry-After", func() bool { st := e.status(t); return st != nil && st.Provisioned })
	if time.Since(t0) < 500*time.Millisecond {
		t.Fatal("retried before Retry-After")
	}
	// Another account's MAC.
	y.Own("001565ABABAB")
	e.device(t, `{"mac":"001565ABABAB"}`)
	eventually(t, "owned by another account", func() bool {
		st := e.status(t)
		return st != nil && st.Error == redirect.ErrOwned && !st.Provisioned
	})
	if _, ok := y.Registered("001565123456"); ok {
		t.Fatal("old MAC left registered")
	}
}

func TestResyncRepairsLostRegistration(t *testing.T) {
	e := newEnv(t, func(c *redirect.Config) { c.ResyncInterval = 100 * time.Millisecond })
	y := redirecttest.NewYealink("u", "p")
	defer y.Close()
	y.AddServer("S", "http://x/")
	sv := e.server(t, `{"name":"y","brand":"yealink","server_name":"S","base_url":"`+y.URL()+`/xmlrpc","username":"u","password":"p"}`)
	e.device(t, `{"redirect_server":"`+sv.ID+`"}`)
	eventually(t, "registered", func() bool { _, ok := y.Registered("001565123456"); return ok })
	y.Forget("001565123456")
	eventually(t, "registered again by the periodic check", func() bool { _, ok := y.Registered("001565123456"); return ok })
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	good := `"base_url":"http://127.0.0.1:9/","username":"u","password":"p"`
	for _, c := range []struct{ body, field string }{
		{`{"name":"x","brand":"nokia",` + good + `}`, "brand"},
		{`{"name":"x","brand":"snom","api":"ymcs",` + good + `}`, "api"},
		{`{"name":"x","brand":"yealink",` + good + `}`, "server_name"},
		{`{"name":"x","brand":"escene","server_name":"s","username":"u","password":"p"}`, "base_url"},
		{`{"name":"x","brand":"snom","provisioning_url":"javascript:x",` + good + `}`, "provisioning_url"},
		{`{"name":"x","brand":"snom","base_url":"http://127.0.0.1:9/"}`, "password"},
		{`{"name":"x","brand":"snom","colour":"red",` + good + `}`, "colour"},
		{`{"name":"","brand":"snom",` + good + `}`, "name"},
		{`{"name":"x","brand":"snom","base_url":"http://127.0.0.1:9/","username":"u","password":"p\nq"}`, "password"},
	} {
		_, err := e.svc.SaveServer(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(c.body))
		ve, ok := err.(*store.ValidationError)
		if !ok || ve.Field != c.field {
			t.Errorf("%s: %v, want a validation error on %s", c.body, err, c.field)
		}
	}
	if l, _ := e.svc.Servers(e.Ctx, e.Tenant); len(l) != 0 {
		t.Fatalf("bad input saved %d servers", len(l))
	}
	_, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, e.Device, json.RawMessage(`{"redirect_server":"nope"}`))
	if ve, ok := err.(*store.ValidationError); !ok || ve.Field != "redirect_server" {
		t.Fatalf("unknown server on a device: %v", err)
	}
	g := e.server(t, `{"name":"g","brand":"gigaset",`+good+`}`)
	_, err = e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, e.Device, json.RawMessage(`{"redirect_server":"`+g.ID+`"}`))
	if ve, ok := err.(*store.ValidationError); !ok || ve.Field != "redirect_code" {
		t.Fatalf("gigaset without a code: %v", err)
	}
}

func TestMissingKeyFile(t *testing.T) {
	e := newEnv(t, nil)
	y := redirecttest.NewYealink("u", "p")
	defer y.Close()
	y.AddServer("S", "http://x/")
	e.server(t, `{"name":"y","brand":"yealink","server_name":"S","base_url":"`+y.URL()+`/xmlrpc","username":"u","password":"p"}`)
	cfg := redirect.DefaultConfig()
	cfg.KeyFile = filepath.Join(t.TempDir(), "other.key")
	other, err := redirect.New(cfg, e.Store, e.Prov, e.Logger)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := other.Servers(e.Ctx, e.Tenant)
	if _, err := other.TestServer(e.Ctx, e.Tenant, l[0].ID); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("credentials opened without their key: %v", err)
	}
}

func TestBoundedConcurrency(t *testing.T) {
	e := newEnv(t, func(c *redirect.Config) { c.Concurrency = 2 })
	s := redirecttest.NewSnom("u", "p")
	defer s.Close()
	s.SetDelay(30 * time.Millisecond)
	sv := e.server(t, `{"name":"s","brand":"snom","api":"xmlrpc","base_url":"`+s.URL()+`/xmlrpc/","username":"u","password":"p"}`)
	for i := 0; i < 8; i++ {
		mac := fmt.Sprintf("0004130000%02x", i)
		if _, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(`{"mac":"`+mac+`","model":"snom-d785","redirect_server":"`+sv.ID+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "all registered", func() bool { return s.Devices() == 8 })
	if m := s.MaxInFlight(); m > 2 || m < 1 {
		t.Fatalf("%d vendor calls at once, want at most 2", m)
	}
}

func TestBackoffDuringOutage(t *testing.T) {
	e := newEnv(t, nil) // backoff 20ms doubling to 200ms
	s := redirecttest.NewSnom("u", "p")
	defer s.Close()
	s.SetDown(true)
	sv := e.server(t, `{"name":"s","brand":"snom","api":"xmlrpc","base_url":"`+s.URL()+`/xmlrpc/","username":"u","password":"p"}`)
	start := time.Now()
	e.device(t, `{"redirect_server":"`+sv.ID+`"}`)
	eventually(t, "five attempts during the outage", func() bool { return s.Requests() >= 5 })
	// Five attempts wait out four delays, each at least half of 20, 40, 80
	// and 160 ms (jitter over the upper half): 150 ms at least, where a loop
	// without backoff takes a few. A lower bound only: load makes it longer.
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Fatalf("five attempts in %s of outage: no backoff", took)
	}
	eventually(t, "the outage in the status", func() bool {
		st := e.status(t)
		return st != nil && st.NextAttempt != nil && st.Error == redirect.ErrUnreachable && !st.Provisioned
	})
	s.SetDown(false)
	eventually(t, "provisioned after the outage", func() bool { st := e.status(t); return st != nil && st.Provisioned })
}

// What was registered is kept in the store: a restarted service still
// deregisters the old MAC.
func TestRestartResumes(t *testing.T) {
	pe := provtest.New(t, provision.ModeSingle, 30)
	cfg := redirect.DefaultConfig()
	cfg.KeyFile = filepath.Join(t.TempDir(), "redirect.key")
	cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	y := redirecttest.NewYealink("u", "p")
	defer y.Close()
	y.AddServer("S", "http://x/")
	ctx1, stop := context.WithCancel(pe.Ctx)
	svc1, err := redirect.New(cfg, pe.Store, pe.Prov, pe.Logger)
	if err != nil {
		t.Fatal(err)
	}
	unsub := pe.Store.Subscribe(svc1.Commit)
	done := make(chan struct{})
	go func() { svc1.Serve(ctx1); close(done) }()
	sv, err := svc1.SaveServer(pe.Ctx, pe.Actor, pe.Tenant, "", json.RawMessage(`{"name":"y","brand":"yealink","server_name":"S","base_url":"`+y.URL()+`/xmlrpc","username":"u","password":"p"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pe.Prov.SaveDevice(pe.Ctx, pe.Actor, pe.Tenant, pe.Device, json.RawMessage(`{"redirect_server":"`+sv.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "registered", func() bool { _, ok := y.Registered("001565123456"); return ok })
	stop()
	unsub()
	<-done
	// While no service runs, the MAC changes.
	if _, err := pe.Prov.SaveDevice(pe.Ctx, pe.Actor, pe.Tenant, pe.Device, json.RawMessage(`{"mac":"001565000777"}`)); err != nil {
		t.Fatal(err)
	}
	svc2, err := redirect.New(cfg, pe.Store, pe.Prov, pe.Logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pe.Store.Subscribe(svc2.Commit))
	go svc2.Serve(pe.Ctx)
	eventually(t, "old MAC deregistered and new one registered after the restart", func() bool {
		_, old := y.Registered("001565123456")
		_, neu := y.Registered("001565000777")
		return !old && neu
	})
}
