package phonebook

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// env is a phonebook over a real store and a real provisioning service (the
// tenants, the tree that serves the directory files), with the component's
// commit delivery and Serve running as switchboard serve runs them.
type env struct {
	ctx    context.Context
	st     *store.Store
	prov   *provision.Service
	pb     *Service
	tenant string // the default tenant
	other  string // a second tenant
	admin  store.Actor
}

func newEnv(tb testing.TB, mode string) *env {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	dir := tb.TempDir()
	st, err := store.Open(ctx, store.DefaultConfig(dir))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pcfg := provision.DefaultConfig()
	pcfg.BaseURL, pcfg.UnknownBurst, pcfg.UnknownInterval = "http://127.0.0.1:8080", 5, time.Minute
	prov, err := provision.New(st, provision.TenancyConfig{Mode: mode, DefaultTenant: "default"}, pcfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	ten, err := prov.EnsureDefaultTenant(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{ctx: ctx, st: st, prov: prov, tenant: ten.ID, admin: store.Actor{User: "admin", IP: "127.0.0.1"}}
	if mode == provision.ModeMulti {
		name := "other"
		o, err := prov.CreateTenant(ctx, e.admin, provision.TenantInput{Name: &name})
		if err != nil {
			tb.Fatal(err)
		}
		e.other = o.ID
	}
	e.pb, err = New(ctx, DefaultConfig(), log, st, prov)
	if err != nil {
		tb.Fatal(err)
	}
	prov.AddDirectory(Dir, e.pb)
	// What the component runner does in serve: commits to both, Serve for both.
	tb.Cleanup(st.Subscribe(prov.Commit))
	tb.Cleanup(st.Subscribe(e.pb.Commit))
	done := make(chan struct{}, 2)
	go func() { prov.Serve(ctx); done <- struct{}{} }()
	go func() { e.pb.Serve(ctx); done <- struct{}{} }()
	tb.Cleanup(func() { cancel(); <-done; <-done })
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := prov.WaitRendered(wctx, st.Revision()); err != nil {
		tb.Fatal(err)
	}
	return e
}

// create stores a contact or fails the test.
func (e *env) create(tb testing.TB, c Contact) *Contact {
	tb.Helper()
	if c.Tenant == "" {
		c.Tenant = e.tenant
	}
	out, err := e.pb.Create(e.ctx, e.admin, c)
	if err != nil {
		tb.Fatalf("create %+v: %v", c, err)
	}
	return out
}

// eventually polls cond until it holds or 10 s pass.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
