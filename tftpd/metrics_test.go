package tftpd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
)

// TestTFTPMetricsAndQuietShutdown: tftp-hpa's transfers, an unknown file, a
// write and a malformed packet land in the by-tenant counters, and stopping
// the server logs no "transfer failed" line for the socket closing.
func TestTFTPMetricsAndQuietShutdown(t *testing.T) {
	tfNeed(t, "tftp")
	env := &tfEnv{Env: provtest.New(t, provision.ModeSingle, 30)}
	srv := tfServer(t, env.Env, 30, nil)
	if err := srv.Bind(env.Ctx); err != nil {
		t.Fatal(err)
	}
	env.addr = srv.Addr().String()
	env.host, env.port = "127.0.0.1", env.addr[strings.LastIndex(env.addr, ":")+1:]
	ctx, cancel := context.WithCancel(env.Ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		if out, code := env.hpa(t, env.File, filepath.Join(dir, "f")); code != 0 || strings.Contains(out, "Error") {
			t.Fatalf("tftp get: %d %s", code, out)
		}
	}
	env.hpa(t, "nope.cfg", filepath.Join(dir, "n"))
	if out, _ := tfRun(t, "tftp", env.host, env.port, "-c", "put", filepath.Join(dir, "f"), "up.cfg"); !strings.Contains(out, "read-only") {
		t.Errorf("put: %s", out)
	}
	tfRequest(t, env.addr, []byte{0, 1})

	// The hook runs after the last ACK: wait for the second transfer's line.
	deadline := time.Now().Add(5 * time.Second)
	for len(env.Log.Lines(`msg="tftp transfer"`)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ten := env.Tenant
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{value(t, srv.m.requests.WithLabelValues(ten, resServed)), 2, "served"},
		{value(t, srv.m.requests.WithLabelValues(ten, resNotFound)), 1, "not found"},
		{value(t, srv.m.requests.WithLabelValues(noTenant, resDenied)), 1, "denied (write)"},
		{value(t, srv.m.requests.WithLabelValues(noTenant, resMalformed)), 1, "malformed"},
		{value(t, srv.m.bytes.WithLabelValues(ten)), float64(2 * len(env.Body)), "bytes"},
		{value(t, srv.m.errors.WithLabelValues(ten)), 0, "errors"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := count(srv.m.requests); n != 4 {
		t.Errorf("%d request series:\n%s", n, env.Log.String())
	}

	before := len(env.Log.Lines(`msg="tftp transfer failed"`))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if lines := env.Log.Lines(`msg="tftp transfer failed"`); len(lines) != before {
		t.Errorf("shutdown logged %d false failures:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}
