package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/internal/apidoc"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/store"
)

// everythingOn turns on every feature that mounts API routes, so that the
// route list is the daemon's whole API. Nothing is bound or served.
const everythingOn = `
tenancy:
  mode: multi
cti:
  enabled: true
  ami:
    username: sb
    secret: not-used
redirect:
  enabled: true
dhcp:
  enabled: true
  interface: lo
  pool_start: 10.201.3.100
  pool_end: 10.201.3.110
  subnet_mask: 255.255.255.0
pnp:
  enabled: true
ha:
  state: enabled
  serial: node-a
  remote_serial: node-b
  interface: lo
  local_ip: 192.0.2.1
  remote_ip: 192.0.2.2
  resource_ip: [192.0.2.10/24]
`

// fullRouter builds the daemon of a configuration with every feature on, as
// serve does, and mounts the components' routes: the real router, not a list
// kept by hand.
func fullRouter(t *testing.T) *component.Web {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "sb.yaml")
	if err := os.WriteFile(p, []byte("data_dir: "+filepath.Join(dir, "data")+"\nadmin:\n  bcrypt_cost: 4\n"+everythingOn), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := store.Open(ctx, store.DefaultConfig(cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := build(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), st, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d.web.Mount(d.components...)
	return d.web
}

// TestOpenAPIMatchesRoutes: every route the daemon mounts under /api/v1 is in
// the OpenAPI document, and the document describes no route the daemon does
// not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	served := map[string]string{}
	for _, r := range fullRouter(t).Routes() {
		served[r.Pattern] = r.Component
	}
	described := map[string]bool{}
	for _, p := range apidoc.Patterns() {
		described[p] = true
	}
	var problems []string
	for p, c := range served {
		if !described[p] {
			problems = append(problems, fmt.Sprintf("route %q (component %s) is served but not documented: add it to the table in internal/apidoc/routes.go", p, c))
		}
	}
	for p := range described {
		if _, ok := served[p]; !ok {
			problems = append(problems, fmt.Sprintf("route %q is documented in internal/apidoc/routes.go but no component mounts it: remove it or fix its pattern", p))
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Fatalf("the OpenAPI document and the router differ:\n  %s", strings.Join(problems, "\n  "))
	}
	if len(served) < 50 {
		t.Fatalf("only %d routes mounted: the full configuration did not turn every feature on", len(served))
	}
}
