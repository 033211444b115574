package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/nstest"
)

func TestDHCPOffByDefault(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	out, errOut, code := d.cli("", "dhcp", "leases")
	if code != 1 || !strings.Contains(errOut, "not enabled") {
		t.Errorf("dhcp leases on a daemon without DHCP: code %d, %q %q", code, out, errOut)
	}
	if strings.Contains(d.stderr.String(), "dhcp") {
		t.Errorf("a daemon with dhcp off logged about DHCP:\n%s", d.stderr.String())
	}
	cmd := exec.Command(binPath, "dhcp", "probe")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(b), "--interface is required") {
		t.Errorf("probe without --interface: %v %q", err, b)
	}
	// Enabled without an interface stops start-up with one line naming the key.
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("data_dir: "+t.TempDir()+"\ndhcp:\n  enabled: true\n"), 0o600)
	b, err = exec.Command(binPath, "serve", "--config", p).CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(b)), "\n") != 0 || !strings.Contains(string(b), "key dhcp.interface") {
		t.Errorf("enabled without interface: %v %q", err, b)
	}
}

// startIn starts the daemon inside network namespace ns.
func (d *testDaemon) startIn(ns string) {
	d.t.Helper()
	d.run(exec.Command("ip", "netns", "exec", ns, binPath, "serve", "--config", d.cfgPath)) // ip execs the binary: same pid
}

// TestDHCPThroughDaemon runs "switchboard serve" with dhcp enabled in a
// namespace; busybox udhcpc gets a lease, the real binary's probe reads the
// offer, "dhcp leases" lists the lease over the control socket, also after a restart.
func TestDHCPThroughDaemon(t *testing.T) {
	nstest.Need(t, "udhcpc", "curl")
	nstest.RemoveLeftovers()
	srv, cli := nstest.New(t, "e"), nstest.New(t, "f")
	nstest.Link(t, srv, "sbde0", "", cli, "sbdc0", "aa:00:00:00:03:01")
	nstest.Run(t, "ip", "-n", srv, "addr", "add", "10.201.3.1/24", "dev", "sbde0")
	d := newDaemon(t, `provisioning:
  base_url: http://10.201.3.1:8080
dhcp:
  enabled: true
  interface: sbde0
  pool_start: 10.201.3.100
  pool_end: 10.201.3.110
  subnet_mask: 255.255.255.0
  lease_time: 1h
`)
	d.startIn(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// The probe, run like an installer would, inside the client's namespace.
	b, err := nstest.Cmd(ctx, cli, binPath, "dhcp", "probe", "--interface", "sbdc0", "--vendor-class", "yealink",
		"--timeout", "6s", "--config", d.cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s\ndaemon:\n%s", err, b, d.stderr.String())
	}
	for _, want := range []string{"server:     10.201.3.1 (this appliance)", "option 66:  http://10.201.3.1:8080/provisioning/\n", "verdict:    points at this appliance"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("probe output lacks %q:\n%s", want, b)
		}
	}

	t.Logf("probe:\n%s", b)
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nenv > \""+dir+"/env.$1\"\n"), 0o755)
	if b, err := nstest.Cmd(ctx, cli, "udhcpc", "-f", "-q", "-n", "-i", "sbdc0", "-t", "5", "-T", "1", "-A", "1",
		"-V", "Cisco CP-7841", "-O", "66", "-O", "150", "-s", script).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc: %v\n%s\ndaemon:\n%s", err, b, d.stderr.String())
	}
	env := nstest.ReadEnv(t, filepath.Join(dir, "env.bound"))
	if env["tftp"] != "10.201.3.1" || env["opt150"] != "0ac90301" || !strings.HasPrefix(env["ip"], "10.201.3.1") {
		t.Errorf("udhcpc saw %v", env)
	}

	leases := func() []map[string]any {
		out, errOut, code := d.cli("", "dhcp", "leases", "--json")
		if code != 0 {
			t.Fatalf("dhcp leases: %d %s", code, errOut)
		}
		var res struct{ Items []map[string]any }
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return res.Items
	}
	got := leases()
	if len(got) != 1 || got[0]["ip"] != env["ip"] || got[0]["mac"] != "AA0000000301" || got[0]["state"] != "bound" || got[0]["vendor"] != "cisco" {
		t.Errorf("leases %v", got)
	}
	out, _, code := d.cli("", "dhcp", "leases")
	if code != 0 || !strings.Contains(out, env["ip"]) || !strings.Contains(out, "Cisco CP-7841") {
		t.Errorf("dhcp leases table: %q", out)
	}
	// The daemon's HTTPS listener is on the namespace's loopback: ask from inside.
	m, err := nstest.Cmd(ctx, srv, "curl", "-sk", "https://"+d.https+"/metrics").Output()
	if err != nil || !strings.Contains(string(m), "switchboard_dhcp_leases_bound 1\n") || !strings.Contains(string(m), "switchboard_dhcp_dropped_total 0\n") {
		t.Errorf("metrics (%v) lack the DHCP lines:\n%.2000s", err, m)
	}
	out, _, code = d.cli("", "dhcp", "rules")
	if code != 0 || !strings.Contains(out, `"server_ip": "10.201.3.1"`) || !strings.Contains(out, `"name": "gigaset"`) {
		t.Errorf("dhcp rules: %q", out)
	}

	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr.String())
	}
	d.startIn(srv)
	if again := leases(); len(again) != 1 || again[0]["ip"] != env["ip"] {
		t.Errorf("after restart: %v", again)
	}
}
