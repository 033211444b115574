// Package provtest builds a real provisioning service for the protocol servers'
// tests: a SQLite store in a temporary directory, the built-in catalog, one
// account and one Yealink T54W device with its rendered file, and a 3 MB firmware
// asset, with the logs captured for assertions. Tests add what else they need
// (another tenant, templates, models, devices) through the Env's helpers.
package provtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Log is a concurrency-safe log buffer.
type Log = testlog.Buffer

// Env is a running provisioning service.
type Env struct {
	Ctx      context.Context
	Store    *store.Store
	Prov     *provision.Service
	Logger   *slog.Logger
	Log      *Log
	Tenant   string
	Account  string
	Device   string
	Token    string // the device's secret URL token
	File     string // the device file's name
	Body     []byte
	Firmware []byte
	Actor    store.Actor
}

// New starts the service in mode (provision.ModeSingle or ModeMulti).
func New(t testing.TB, mode string, burst int) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	st, err := store.Open(ctx, store.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &Env{Ctx: ctx, Store: st, Log: &Log{}, Actor: store.Actor{User: "test", IP: "127.0.0.1"}}
	e.Logger = slog.New(slog.NewTextHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pcfg := provision.DefaultConfig()
	pcfg.BaseURL, pcfg.UnknownBurst, pcfg.UnknownInterval = "http://127.0.0.1", burst, time.Minute
	e.Prov, err = provision.New(st, provision.TenancyConfig{Mode: mode, DefaultTenant: "default"}, pcfg, e.Logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Subscribe(e.Prov.Commit)) // what the component runner does in serve
	e.Prov.AssetDir(filepath.Join(dir, "assets"))
	ten, err := e.Prov.EnsureDefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Tenant = ten.ID
	// The fixture's tenant serves device files by name (secure_urls off), as
	// tenants made before secret URLs do: the protocol servers' tests are
	// about serving; Secure turns secret URLs on.
	if _, err := e.Prov.SetPBX(ctx, e.Actor, ten.ID, json.RawMessage(`{"secure_urls":false}`)); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { e.Prov.Serve(ctx); close(served) }()
	t.Cleanup(func() { cancel(); <-served })
	acc, err := e.Prov.SaveAccount(ctx, e.Actor, ten.ID, "", json.RawMessage(`{"extension":"201","sip_password":"prov-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.Account = acc.ID
	dev, err := e.Prov.SaveDevice(ctx, e.Actor, ten.ID, "", json.RawMessage(`{"mac":"00:15:65:12:34:56","model":"yealink-t54w","account":"`+acc.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.Device, e.Token = dev.ID, dev.URLToken
	e.Firmware = make([]byte, 3<<20)
	rand.Read(e.Firmware)
	if _, err := e.Prov.PutAsset(ctx, e.Actor, ten.ID, "firmware.rom", bytes.NewReader(e.Firmware)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	// The account reached the phone's file.
	if !bytes.Contains(e.Body, []byte("prov-secret")) || !bytes.Contains(e.Body, []byte("201")) {
		t.Fatalf("device file without the account:\n%s", e.Body)
	}
	return e
}

// Secure turns the tenant's secret URLs on (device files only under
// <token>/) and waits until the files reflect it.
func (e *Env) Secure(t testing.TB) {
	t.Helper()
	if _, err := e.Prov.SetPBX(e.Ctx, e.Actor, e.Tenant, json.RawMessage(`{"secure_urls":true}`)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
}

// Sync waits until the files reflect every committed change, and refreshes File/Body.
func (e *Env) Sync(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx, 10*time.Second)
	defer cancel()
	if err := e.Prov.WaitRendered(ctx, e.Store.Revision()); err != nil {
		t.Fatal(err)
	}
	f, ok := e.Prov.Lookup(e.Tenant, "001565123456.cfg")
	if !ok {
		t.Fatal("device file not rendered")
	}
	e.File, e.Body = f.Name, f.Body
}

// Lookup is the rendered file name of the fixture's tenant; the test fails when
// there is none.
func (e *Env) Lookup(t testing.TB, name string) *provision.File {
	t.Helper()
	f, ok := e.Prov.Lookup(e.Tenant, name)
	if !ok {
		files, problems := e.Prov.Files(e.Tenant)
		t.Fatalf("%s not rendered: %v %v", name, files, problems)
	}
	return f
}

// AddTenant creates another (empty) tenant and waits until it is rendered.
func (e *Env) AddTenant(t testing.TB, name string) string {
	t.Helper()
	ten, err := e.Prov.CreateTenant(e.Ctx, e.Actor, provision.TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	return ten.ID
}

// Save stores one object of kind template, model, account or device (the last
// two in the fixture's tenant) from a JSON patch, and returns its ID.
func (e *Env) Save(t testing.TB, kind, patch string) string {
	t.Helper()
	var id string
	var err error
	switch kind {
	case "template":
		var x provision.Template
		x, err = e.Prov.SaveTemplate(e.Ctx, e.Actor, "", "", json.RawMessage(patch))
		id = x.ID
	case "model":
		var x provision.Model
		x, err = e.Prov.SaveModel(e.Ctx, e.Actor, "", "", json.RawMessage(patch))
		id = x.ID
	case "account":
		var x provision.Account
		x, err = e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(patch))
		id = x.ID
	case "device":
		var x provision.Device
		x, err = e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(patch))
		id = x.ID
	default:
		t.Fatalf("provtest.Save: unknown kind %q", kind)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", kind, patch, err)
	}
	return id
}

// WaitEnrollment polls device id until ok accepts its enrollment state
// (hand-outs and claims are recorded off the request path), then waits for the
// files to reflect it.
func (e *Env) WaitEnrollment(t testing.TB, id string, ok func(provision.Enrollment) bool) provision.Enrollment {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := e.Prov.Device(e.Ctx, e.Tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		d = e.Prov.ViewDevices(e.Tenant, []provision.Device{d})[0].Device // with the hand-outs
		if ok(d.Enrollment) {
			e.Sync(t)
			return d.Enrollment
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s: enrollment state not reached: %+v", id, d.Enrollment)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Enroll opens (window > 0) or closes (window < 0) the fixture device's
// enrollment window and waits until the files reflect it.
func (e *Env) Enroll(t testing.TB, window time.Duration) {
	t.Helper()
	if _, err := e.Prov.Enroll(e.Ctx, e.Actor, e.Tenant, e.Device, window); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
}

// Curl fetches u with the real curl, as a phone's HTTP client would, and
// returns the body and the status code ("000" when nothing answered); the
// test fails when curl cannot run, and is skipped when it is not installed.
func Curl(t testing.TB, u string) (body, code string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (CI installs it through .ci/run)")
	}
	out := filepath.Join(t.TempDir(), "body")
	c, err := exec.Command("curl", "-s", "--max-time", "10", "-o", out, "-w", "%{http_code}", u).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", u, err)
	}
	b, _ := os.ReadFile(out)
	return string(b), string(c)
}
