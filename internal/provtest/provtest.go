// Package provtest builds a real provisioning service for the protocol servers'
// tests: a SQLite store in a temporary directory, the built-in catalog, one
// account and one Yealink T54W device with its rendered file, and a 3 MB firmware
// asset, with the logs captured for assertions.
package provtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Log is a concurrency-safe log buffer.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// String is everything logged so far.
func (l *Log) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

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
	e.Prov, err = provision.New(st, provision.TenancyConfig{Mode: mode, DefaultTenant: "default"},
		provision.Config{BaseURL: "http://127.0.0.1", UnknownBurst: burst, UnknownInterval: time.Minute}, e.Logger)
	if err != nil {
		t.Fatal(err)
	}
	e.Prov.AssetDir(filepath.Join(dir, "assets"))
	ten, err := e.Prov.EnsureDefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Tenant = ten.ID
	go e.Prov.Serve(ctx)
	acc, err := e.Prov.SaveAccount(ctx, e.Actor, ten.ID, "", json.RawMessage(`{"extension":"201","sip_password":"prov-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.Account = acc.ID
	dev, err := e.Prov.SaveDevice(ctx, e.Actor, ten.ID, "", json.RawMessage(`{"mac":"00:15:65:12:34:56","model":"yealink-t54w","account":"`+acc.ID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	e.Device = dev.ID
	e.Firmware = make([]byte, 3<<20)
	rand.Read(e.Firmware)
	if _, err := e.Prov.PutAsset(ctx, e.Actor, ten.ID, "firmware.rom", bytes.NewReader(e.Firmware)); err != nil {
		t.Fatal(err)
	}
	e.Sync(t)
	return e
}

// Sync waits until the files reflect every committed change, and refreshes File/Body.
func (e *Env) Sync(t testing.TB) {
	t.Helper()
	if err := e.Prov.WaitRendered(e.Ctx, e.Store.Revision()); err != nil {
		t.Fatal(err)
	}
	f, ok := e.Prov.Lookup(e.Tenant, "001565123456.cfg")
	if !ok {
		t.Fatal("device file not rendered")
	}
	e.File, e.Body = f.Name, f.Body
}
