// Command provbench measures the provisioning servers against the classic
// baselines in the same run, on the same machine: tftpd-hpa and dnsmasq for
// TFTP and nginx for HTTP, all serving the very bytes switchboard renders. It
// prints one line per benchmark and baseline:
//
//	bench tftp-config ratio=... ours_per_s=... baseline_per_s=... client_cpu_us=... baseline=tftpd-hpa
//	bench tftp-config ratio=... ours_per_s=... baseline_per_s=... ours_cpu_us=... baseline_cpu_us=... ours_sys_us=... baseline_sys_us=... client_cpu_us=... baseline=dnsmasq
//	bench tftp-firmware ratio=... ours_s=... baseline_s=... baseline=tftpd-hpa
//	bench tftp-firmware ratio=... ours_s=... baseline_s=... baseline=dnsmasq
//	bench http-config ratio=... ours_rps=... baseline_rps=...
//	bench regen-10k seconds=... rss_mb=...
//	bench edit-10k devices=... edits=... p50_ms=... p99_ms=... whole_pass_ms=... ratio=...
//
// Ratios are ours/baseline for throughputs and baseline/ours for durations, so
// bigger is better. tftpd-hpa forks per transfer; dnsmasq serves every transfer
// from one process, the harder baseline. Traffic stays on loopback: each server
// listens on a loopback address of its own (127.0.0.11 ours, .12 tftpd-hpa, .13
// nginx, .14 dnsmasq) on its usual port.
//
// The TFTP client is the bench's own (tftpclient.go), the same for every
// server: an event loop on one thread with a fresh socket per transfer. On
// 2 cores the client and the server share the CPU, so the throughput is
// about 2 cores / (client CPU + server CPU) per transfer, and a heavy
// client hides the servers' differences. client_cpu_us is the client's own
// CPU per transfer (the whole bench process, from getrusage, around the
// loads), ours_client_cpu_us and baseline_client_cpu_us its share with each
// server; ours_cpu_us and baseline_cpu_us are the servers', ours_sys_us and
// baseline_sys_us the part of it spent in the kernel (what no change in the
// server's own code can cut: the ratio can be no better than (client +
// baseline) / (client + ours_sys_us) with the same system calls). The client
// costs about 110-140 µs per 8 KB config (2 cores, December 2026), down from
// about 165-230 µs with a goroutine and a Go socket per transfer; what is
// left is nearly all the kernel's: some 40 syscalls per transfer (a socket,
// a datagram sent and one received per block), each above a microsecond on
// this virtual machine, and on loopback a send also pays for the delivery
// and the wake-up of the server.
//
// It needs in.tftpd (tftpd-hpa), dnsmasq, nginx and wrk; run it as root
// (tftpd-hpa chroots).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-pbx/switchboard/bench/internal/procstat"
)

var (
	binPath     = flag.String("bin", "bin/switchboard", "switchboard binary")
	devices     = flag.Int("devices", 10000, "devices (and distinct configs)")
	transfers   = flag.Int("transfers", 10000, "TFTP config transfers")
	clients     = flag.Int("clients", 200, "concurrent TFTP clients")
	fwMB        = flag.Int("firmware-mb", 20, "firmware size in MB")
	httpSecs    = flag.Int("http-seconds", 5, "wrk duration per server and round")
	rounds      = flag.Int("rounds", 3, "interleaved wrk rounds (the median ratio is printed)")
	fwRounds    = flag.Int("firmware-rounds", 5, "interleaved firmware transfers per server (the median ratio is printed)")
	edits       = flag.Int("edits", 50, "account edits timed by edit-10k")
	keep        = flag.Bool("keep", false, "keep the work directory")
	oursTFTP    = flag.String("ours-tftp", "", "our TFTP listen address (default: our loopback address, port 69; a build before the source-address fix needs 127.0.0.1:69)")
	loBase      = flag.Int("loopback-base", 11, "last byte of our loopback address; the baselines take the next three")
	only        = flag.String("only", "", "run only regen-10k (no baselines) or only the TFTP benchmarks (tftp: regen-10k, then tftpd-hpa and dnsmasq)")
	clientLoops = flag.Int("client-loops", 1, "event loops (threads) of the TFTP load client")
	secure      = flag.Bool("secure", false, "with -only regen-10k: keep secret URLs on (new tenants' default; bootstrap files are made at the first request by name, four of them here); printed as regen-10k-secure")
)

func main() {
	flag.Parse()
	if *secure && *only != "regen-10k" {
		fmt.Fprintln(os.Stderr, "provbench: -secure goes with -only regen-10k (the baselines serve files by name)")
		os.Exit(2)
	}
	setAddrs(*loBase)
	if *oursTFTP == "" {
		*oursTFTP = oursIP + ":69"
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "provbench:", err)
		os.Exit(1)
	}
}

// The servers' addresses: one loopback address each, on its usual port (no
// port chosen by closing a listener and reusing its number): 127.0.0.11 ours,
// .12 tftpd-hpa, .13 nginx, .14 dnsmasq, moved by -loopback-base (two runs
// at once on one machine need different ones).
var oursIP, hpaAddr, ngAddr, dnsmasqIP string

func setAddrs(base int) {
	oursIP = fmt.Sprintf("127.0.0.%d", base)
	hpaAddr = fmt.Sprintf("127.0.0.%d:69", base+1)
	ngAddr = fmt.Sprintf("127.0.0.%d:8080", base+2)
	dnsmasqIP = fmt.Sprintf("127.0.0.%d", base+3)
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// tftpUp reports whether a TFTP server at addr serves name.
func tftpUp(addr, name string) bool {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	_, err = tftpGet(ap, name, 0, 200*time.Millisecond, 1)
	return err == nil
}

type daemon struct {
	cmd    *exec.Cmd
	sock   string
	http   string
	tftp   string
	client *http.Client
	stderr *bytes.Buffer
}

func (d *daemon) api(method, path, ctype string, body io.Reader, out any) error {
	req, _ := http.NewRequest(method, "http://sb"+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (d *daemon) json(method, path string, in, out any) error {
	b, _ := json.Marshal(in)
	return d.api(method, path, "application/json", bytes.NewReader(b), out)
}

// template8K renders to about 8 KB per device, distinct per account.
func template8K() string {
	var b strings.Builder
	b.WriteString("#!version:1.0.0.1\naccount.1.enable = 1\naccount.1.label = %%ACCOUNT_DISPLAY_NAME%%\n" +
		"account.1.user_name = %%ACCOUNT_SIP_USERNAME%%\naccount.1.auth_name = %%ACCOUNT_SIP_AUTH_USERNAME%%\n" +
		"account.1.password = %%ACCOUNT_SIP_PASSWORD%%\naccount.1.sip_server.1.address = %%KPBX_IP_ADDRESS%%\n" +
		"account.1.sip_server.1.port = %%ACCOUNT_SIP_PORT%%\nlocal_time.ntp_server1 = %%KPBX_NTP_SERVER%%\n" +
		"static.auto_provision.server.url = %%KPBX_PROVISIONING_URL%%\nnetwork.internet_port.type = %%IPADDRMODE|dhcp=0|static=2%%\n")
	for i := 0; b.Len() < 7800; i++ {
		fmt.Fprintf(&b, "linekey.%d.label = %%%%ACCOUNT_EXTENSION%%%%-%d %%%%MAC_LOWER%%%%\n", i, i)
	}
	return b.String()
}

func run() error {
	work, err := os.MkdirTemp("", "provbench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	os.Chmod(work, 0o755)
	// Our TFTP listens on a loopback address of its own, like the baselines
	// (dnsmasq with --bind-interfaces), not on 127.0.0.1: the bench's client
	// checks that answers come from the address it asked.
	d := &daemon{sock: filepath.Join(work, "sb.sock"), http: oursIP + ":8080", tftp: *oursTFTP, stderr: &bytes.Buffer{}}
	// The bench's 200 TFTP clients share one source address, where the
	// default per-source cap (8, an anti-flood limit) would refuse most of
	// them: the caps are raised so that the bench measures serving.
	cfg := fmt.Sprintf("data_dir: %s/data\nlog:\n  level: warn\nhttp:\n  listen: %q\n  https_listen: \"%s:8443\"\n"+
		"admin:\n  socket: %s\n  bcrypt_cost: 4\ntftp:\n  listen: %q\n  max_transfers_per_source: 1000\n  max_transfers: 1000\nprovisioning:\n  base_url: \"http://%s\"\n  unknown_burst: 1000000\n",
		work, d.http, oursIP, d.sock, d.tftp, d.http)
	cfgPath := filepath.Join(work, "sb.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	d.cmd = exec.Command(*binPath, "serve", "--config", cfgPath)
	if p := os.Getenv("PROVBENCH_CPUPROFILE"); p != "" {
		d.cmd.Env = append(os.Environ(), "SWITCHBOARD_CPUPROFILE="+p)
	}
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		return err
	}
	defer func() { d.cmd.Process.Signal(syscall.SIGTERM); d.cmd.Wait() }()
	d.client = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
	}}}
	for i := 0; ; i++ {
		if err := d.api("GET", "/api/v1/status", "", nil, nil); err == nil {
			break
		} else if i > 300 {
			return fmt.Errorf("daemon not up: %v\n%s", err, d.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Catalog, PBX settings, accounts and devices.
	var tmpl, model struct{ ID string }
	if err := d.json("POST", "/api/v1/templates", map[string]any{"name": "bench", "scope": "device", "body": template8K()}, &tmpl); err != nil {
		return err
	}
	if err := d.json("POST", "/api/v1/models", map[string]any{"name": "Bench", "brand": "yealink", "template": tmpl.ID,
		"file": map[string]string{"prefix": "", "mac_format": "aabbccddeeff", "suffix": ".cfg"}}, &model); err != nil {
		return err
	}
	// Files by name (secure URLs off), as the nginx and tftpd-hpa baselines
	// serve them: the same paths on both sides.
	if err := d.json("PATCH", "/api/v1/tenants/default/pbx", map[string]any{"sip_server": "192.0.2.10", "secure_urls": *secure}, nil); err != nil {
		return err
	}
	var acc, dev bytes.Buffer
	acc.WriteString("extension,sip_password,display_name\n")
	dev.WriteString("mac,model,account_extension\n")
	names := make([]string, *devices)
	for i := 0; i < *devices; i++ {
		fmt.Fprintf(&acc, "%d,pw-%08d,User %d\n", 10000+i, i*7919, i)
		mac := fmt.Sprintf("0015650%05x", i)
		fmt.Fprintf(&dev, "%s,%s,%d\n", mac, model.ID, 10000+i)
		names[i] = mac + ".cfg"
	}
	if err := d.api("POST", "/api/v1/tenants/default/accounts.csv", "text/csv", &acc, nil); err != nil {
		return err
	}
	if err := d.api("POST", "/api/v1/tenants/default/devices.csv", "text/csv", &dev, nil); err != nil {
		return err
	}
	if err := waitRendered(d, names, ""); err != nil {
		return err
	}

	// regen-10k: change the template, time until every file carries the change.
	// The peak is sampled while the re-render runs, not once it is over.
	start := time.Now()
	stopPeak := samplePeak(d.cmd.Process.Pid)
	if err := d.json("PATCH", "/api/v1/templates/"+tmpl.ID, map[string]any{"body": template8K() + "# regenerated\n"}, nil); err != nil {
		return err
	}
	if err := waitRendered(d, names, "# regenerated"); err != nil {
		return err
	}
	regen := time.Since(start)
	peak := stopPeak()
	// Steady state: the daemon returns the previous generation of files to the OS
	// once a large pass is done; wait until the RSS stops falling.
	rss := rssMB(d.cmd.Process.Pid)
	waitUntil(10*time.Second, func() bool {
		time.Sleep(250 * time.Millisecond)
		now := rssMB(d.cmd.Process.Pid)
		steady := now >= rss*0.99
		rss = min(rss, now)
		return steady
	})
	name := "regen-10k"
	if *secure {
		name += "-secure"
	}
	fmt.Printf("bench %s seconds=%.2f rss_mb=%.0f rss_during_regen_mb=%.0f devices=%d target_seconds=10 target_rss_mb=150 load=%s\n",
		name, regen.Seconds(), rss, peak, *devices, procstat.LoadAvg())
	// The list of 10,000 files is checked after the measurement: answering it
	// takes memory of its own (JSON), which is not the re-render's.
	if err := countFiles(d, *devices); err != nil {
		return err
	}
	if !*secure {
		if err := editBench(d, names, regen); err != nil {
			return err
		}
	}
	if *only == "regen-10k" {
		return nil
	}

	// The baselines serve the same bytes from disk.
	root := filepath.Join(work, "root")
	os.MkdirAll(root, 0o755)
	for _, n := range names {
		b, err := get("http://" + d.http + "/provisioning/" + n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, n), b, 0o644); err != nil {
			return err
		}
	}
	fw := make([]byte, *fwMB<<20)
	rand.Read(fw)
	os.WriteFile(filepath.Join(root, "firmware.rom"), fw, 0o644)
	if err := d.api("PUT", "/api/v1/tenants/default/assets/firmware.rom", "application/octet-stream", bytes.NewReader(fw), nil); err != nil {
		return err
	}

	hpa := exec.Command("in.tftpd", "--foreground", "--listen", "--address", hpaAddr, "--secure", "--user", "nobody", "--blocksize", "65464", root)
	var hpaErr bytes.Buffer
	hpa.Stderr = &hpaErr
	if err := hpa.Start(); err != nil {
		return fmt.Errorf("tftpd-hpa: %w", err)
	}
	defer func() { hpa.Process.Kill(); hpa.Wait() }()
	if !waitUntil(10*time.Second, func() bool { return tftpUp(hpaAddr, names[0]) }) {
		return fmt.Errorf("tftpd-hpa does not serve: %s", hpaErr.String())
	}
	// dnsmasq: TFTP only (no DNS, no DHCP), as many transfers at once as the
	// clients make. Its log goes to /dev/null: --quiet-tftp still logs a
	// line per file sent (2.90), which on stderr went through a pipe to this
	// process, a write for dnsmasq and a wake-up and a read for the bench's
	// client on every transfer, where ours logs nothing at level warn.
	// Startup failures still reach stderr.
	dm := exec.Command("dnsmasq", "--keep-in-foreground", "--port=0", "--user=root", "--group=root",
		"--listen-address="+dnsmasqIP, "--bind-interfaces", "--enable-tftp", "--tftp-root="+root, "--tftp-max=10000",
		"--quiet-tftp", "--log-facility=/dev/null", "--pid-file="+filepath.Join(work, "dnsmasq.pid"))
	var dmErr bytes.Buffer
	dm.Stderr = &dmErr
	if err := dm.Start(); err != nil {
		return fmt.Errorf("dnsmasq: %w", err)
	}
	defer func() { dm.Process.Kill(); dm.Wait() }()
	dmAddr := dnsmasqIP + ":69"
	if !waitUntil(10*time.Second, func() bool { return tftpUp(dmAddr, names[0]) }) {
		return fmt.Errorf("dnsmasq does not serve: %s", dmErr.String())
	}

	// tftp-config against tftpd-hpa: it forks a process per transfer and
	// serves a few dozen a second, so it gets a fifth of the transfers (and
	// ours the same number); on a loaded machine some of its clients give up,
	// which is counted and printed rather than fatal.
	hpaN := max(*transfers/5, *clients)
	t0, s0 := timeouts.Load(), selfCPU()
	ours, _, err := tftpLoad(d.tftp, names, hpaN, *clients, 0.01)
	if err != nil {
		return fmt.Errorf("tftp-config (ours): %w", err)
	}
	t1, s1 := timeouts.Load(), selfCPU()
	base, hpaFailed, err := tftpLoad(hpaAddr, names, hpaN, *clients, 0.2)
	if err != nil {
		return fmt.Errorf("tftp-config (tftpd-hpa): %w %s", err, hpaErr.String())
	}
	s2 := selfCPU()
	perHPA := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(hpaN) }
	fmt.Printf("bench tftp-config ratio=%.2f ours_per_s=%.0f baseline_per_s=%.0f ours_timeouts=%d baseline_timeouts=%d baseline_failed=%d client_cpu_us=%.0f ours_client_cpu_us=%.0f baseline_client_cpu_us=%.0f transfers=%d clients=%d baseline=tftpd-hpa load=%s\n",
		ours/base, ours, base, t1-t0, timeouts.Load()-t1, hpaFailed, perHPA(s2-s0)/2, perHPA(s1-s0), perHPA(s2-s1), hpaN, *clients, procstat.LoadAvg())
	// Against dnsmasq: interleaved rounds (the machine is shared), the median ratio.
	// Beside the throughput, the CPU time each server spent per transfer
	// (user + system, from /proc): on a shared machine it moves less with the
	// load than the wall clock does.
	var dmRatios, dmOurs, dmBase []float64
	var oursCPU, baseCPU, oursSys, baseSys, oursClient, baseClient time.Duration
	var oursTO, baseTO int64
	for i := 0; i < *rounds; i++ {
		u0, k0 := procstat.Times(d.cmd.Process.Pid)
		t0, s0 := timeouts.Load(), selfCPU()
		o, _, err := tftpLoad(d.tftp, names, *transfers, *clients, 0.01)
		if err != nil {
			return fmt.Errorf("tftp-config (ours): %w", err)
		}
		u1, k1 := procstat.Times(d.cmd.Process.Pid)
		oursCPU, oursSys = oursCPU+u1+k1-u0-k0, oursSys+k1-k0
		oursTO += timeouts.Load() - t0
		oursClient += selfCPU() - s0
		u0, k0 = procstat.Times(dm.Process.Pid)
		t0, s0 = timeouts.Load(), selfCPU()
		b, _, err := tftpLoad(dmAddr, names, *transfers, *clients, 0.01)
		if err != nil {
			return fmt.Errorf("tftp-config (dnsmasq): %w %s", err, dmErr.String())
		}
		u1, k1 = procstat.Times(dm.Process.Pid)
		baseCPU, baseSys = baseCPU+u1+k1-u0-k0, baseSys+k1-k0
		baseTO += timeouts.Load() - t0
		baseClient += selfCPU() - s0
		dmRatios, dmOurs, dmBase = append(dmRatios, o/b), append(dmOurs, o), append(dmBase, b)
	}
	perXfer := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(*rounds**transfers) }
	fmt.Printf("bench tftp-config ratio=%.2f ours_per_s=%.0f baseline_per_s=%.0f ours_cpu_us=%.0f baseline_cpu_us=%.0f ours_sys_us=%.0f baseline_sys_us=%.0f cpu_ratio=%.2f ours_timeouts=%d baseline_timeouts=%d client_cpu_us=%.0f ours_client_cpu_us=%.0f baseline_client_cpu_us=%.0f transfers=%d clients=%d rounds=%d baseline=dnsmasq target_ratio=1.5 load=%s\n",
		median(dmRatios), median(dmOurs), median(dmBase), perXfer(oursCPU), perXfer(baseCPU), perXfer(oursSys), perXfer(baseSys), perXfer(baseCPU)/perXfer(oursCPU), oursTO, baseTO,
		perXfer(oursClient+baseClient)/2, perXfer(oursClient), perXfer(baseClient), *transfers, *clients, *rounds, procstat.LoadAvg())

	// tftp-firmware: one transfer takes about a second, so a single pair is at
	// the mercy of whatever else the machine does in that second. Interleaved
	// rounds, the median of the per-round ratios.
	for _, bl := range []struct{ name, addr, target string }{{"tftpd-hpa", hpaAddr, ""}, {"dnsmasq", dmAddr, " target_ratio=1.5"}} {
		var fwRatios, oursS, baseS []float64
		for i := 0; i < *fwRounds; i++ {
			oursFW, err := tftpFirmware(d.tftp, len(fw))
			if err != nil {
				return fmt.Errorf("tftp-firmware (ours): %w", err)
			}
			baseFW, err := tftpFirmware(bl.addr, len(fw))
			if err != nil {
				return fmt.Errorf("tftp-firmware (%s): %w", bl.name, err)
			}
			fwRatios = append(fwRatios, baseFW.Seconds()/oursFW.Seconds())
			oursS, baseS = append(oursS, oursFW.Seconds()), append(baseS, baseFW.Seconds())
		}
		fmt.Printf("bench tftp-firmware ratio=%.2f ours_s=%.2f baseline_s=%.2f rounds=%d size_mb=%d blksize=1428 baseline=%s%s load=%s\n",
			median(fwRatios), median(oursS), median(baseS), *fwRounds, *fwMB, bl.name, bl.target, procstat.LoadAvg())
	}
	if *only == "tftp" {
		return nil
	}

	// http-config: wrk with random paths among the devices, vs nginx on the same files.
	ngConf := filepath.Join(work, "nginx.conf")
	os.WriteFile(ngConf, []byte(fmt.Sprintf(`daemon off; worker_processes 2; pid %s/nginx.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  client_body_temp_path %[1]s/ngtmp; proxy_temp_path %[1]s/ngtmp; fastcgi_temp_path %[1]s/ngtmp; uwsgi_temp_path %[1]s/ngtmp; scgi_temp_path %[1]s/ngtmp;
  server { listen %s; location /provisioning/ { alias %s/; } } }
`, work, ngAddr, root)), 0o644)
	ng := exec.Command("nginx", "-c", ngConf, "-p", work)
	var ngErr bytes.Buffer
	ng.Stderr = &ngErr
	if err := ng.Start(); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	defer func() { ng.Process.Signal(syscall.SIGQUIT); ng.Wait() }()
	if !waitUntil(10*time.Second, func() bool { _, err := get("http://" + ngAddr + "/provisioning/" + names[0]); return err == nil }) {
		return fmt.Errorf("nginx does not serve: %s", ngErr.String())
	}
	lua := filepath.Join(work, "paths.lua")
	var l strings.Builder
	l.WriteString("local paths = {")
	for i, n := range names {
		if i > 0 {
			l.WriteString(",")
		}
		fmt.Fprintf(&l, "%q", "/provisioning/"+n)
	}
	l.WriteString("}\nmath.randomseed(42)\nrequest = function() return wrk.format(\"GET\", paths[math.random(#paths)]) end\n")
	os.WriteFile(lua, []byte(l.String()), 0o644)
	// Interleaved rounds, median ratio: the machine is shared and noisy.
	var ratios, oursAll, baseAll []float64
	for round := 0; round < *rounds; round++ {
		oursRPS, err := wrk(d.http, lua)
		if err != nil {
			return fmt.Errorf("http-config (ours): %w", err)
		}
		baseRPS, err := wrk(ngAddr, lua)
		if err != nil {
			return fmt.Errorf("http-config (nginx): %w %s", err, ngErr.String())
		}
		ratios, oursAll, baseAll = append(ratios, oursRPS/baseRPS), append(oursAll, oursRPS), append(baseAll, baseRPS)
	}
	fmt.Printf("bench http-config ratio=%.2f ours_rps=%.0f baseline_rps=%.0f rounds=%d connections=128 devices=%d baseline=nginx target_ratio=0.8\n",
		median(ratios), median(oursAll), median(baseAll), *rounds, *devices)
	return nil
}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}

// countFiles checks that the tenant has at least n files.
func countFiles(d *daemon, n int) error {
	var res struct {
		Items []struct{ Name string }
	}
	if err := d.api("GET", "/api/v1/tenants/default/files", "", nil, &res); err != nil {
		return err
	}
	if len(res.Items) < n {
		return fmt.Errorf("%d files rendered, want %d", len(res.Items), n)
	}
	return nil
}

// waitRendered polls the daemon's status until the files reflect the newest
// revision, then checks a sample spread over the files for marker. The status
// is a few bytes: polling the list of 10,000 files instead would make the
// daemon's memory during the re-render mostly the benchmark's.
// editBench is edit-10k: an installer changes one account's display name in
// the tenant of 10,000 devices, and the time is how long until its device's
// file, fetched over HTTP as the phone would, carries it (the PATCH
// included). The baseline is regen-10k's whole pass in the same run: what
// every such edit cost before partial passes.
func editBench(d *daemon, names []string, whole time.Duration) error {
	var list struct {
		Items []struct {
			ID        string `json:"id"`
			Extension string `json:"extension"`
		} `json:"items"`
	}
	if err := d.json("GET", "/api/v1/tenants/default/accounts", nil, &list); err != nil {
		return err
	}
	if len(list.Items) == 0 {
		return errors.New("edit-10k: no account")
	}
	var lat []float64
	for i := 0; i < *edits; i++ {
		a := list.Items[(i*7919)%len(list.Items)]
		ext, err := strconv.Atoi(a.Extension)
		if err != nil || ext-10000 < 0 || ext-10000 >= len(names) {
			return fmt.Errorf("edit-10k: account %s has extension %q", a.ID, a.Extension)
		}
		label := fmt.Sprintf("Edited %d", i)
		want := []byte("account.1.label = " + label + "\n")
		start := time.Now()
		if err := d.json("PATCH", "/api/v1/tenants/default/accounts/"+a.ID, map[string]any{"display_name": label}, nil); err != nil {
			return err
		}
		for {
			b, err := get("http://" + d.http + "/provisioning/" + names[ext-10000])
			if err != nil {
				return err
			}
			if bytes.Contains(b, want) {
				break
			}
			if time.Since(start) > 30*time.Second {
				return fmt.Errorf("edit-10k: %s lacks %q 30 s after the edit", names[ext-10000], label)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	fmt.Printf("bench edit-10k devices=%d edits=%d p50_ms=%.2f p99_ms=%.2f whole_pass_ms=%.0f ratio=%.0f load=%s\n",
		len(names), len(lat), p50, p99, float64(whole.Milliseconds()), float64(whole.Milliseconds())/p50, procstat.LoadAvg())
	return nil
}

func waitRendered(d *daemon, names []string, marker string) error {
	var st struct {
		Revision         int64 `json:"revision"`
		RenderedRevision int64 `json:"rendered_revision"`
	}
	if err := d.api("GET", "/api/v1/status", "", nil, &st); err != nil {
		return err
	}
	want := st.Revision
	start := time.Now()
	for st.RenderedRevision < want {
		if time.Since(start) > 5*time.Minute {
			return errors.New("files not rendered within 5 minutes")
		}
		time.Sleep(10 * time.Millisecond)
		if err := d.api("GET", "/api/v1/status", "", nil, &st); err != nil {
			return err
		}
	}
	n := len(names)
	for _, i := range []int{0, n / 3, n / 2, n - 1} {
		b, err := get("http://" + d.http + "/provisioning/" + names[i])
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte(marker)) {
			return fmt.Errorf("%s lacks %q once rendered", names[i], marker)
		}
	}
	return nil
}

// samplePeak polls the process's resident set every 5 ms until the returned
// function is called, which returns the largest value seen.
func samplePeak(pid int) func() float64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v := rssMB(pid); !math.IsNaN(v) && uint64(v) > peak.Load() {
				peak.Store(uint64(v))
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		<-stopped
		return float64(peak.Load())
	}
}

// selfCPU is the user and system time this process (the bench's client) has
// used, from getrusage: microseconds, where /proc's ticks are 10 ms.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return math.NaN()
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return math.NaN()
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

// tftpLoad runs total transfers of distinct names with conc clients and returns
// completed transfers per second and the failed ones; more than maxFail of
// them failing is an error.
func tftpLoad(addr string, names []string, total, conc int, maxFail float64) (float64, int64, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, 0, err
	}
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	err = tftpRun(tftpJob{
		server: ap, name: func(i int) string { return names[i%len(names)] }, total: total, conc: conc, loops: *clientLoops,
		timeout: 2 * time.Second, retries: 5,
		done: func(_ int, _ int64, err error) {
			if err != nil {
				failed.Add(1)
				once.Do(func() { firstErr = err })
			}
		},
	})
	if err != nil {
		return 0, 0, err
	}
	el := time.Since(start)
	f := failed.Load()
	if float64(f) > float64(total)*maxFail {
		return 0, f, fmt.Errorf("%d of %d transfers failed: %v", f, total, firstErr)
	}
	return float64(total-int(f)) / el.Seconds(), f, nil
}

// tftpFirmware downloads the firmware three times with blksize 1428 and returns
// the median duration.
func tftpFirmware(addr string, size int) (time.Duration, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return 0, err
	}
	var runs []time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		n, err := tftpGet(ap, "firmware.rom", 1428, 2*time.Second, 5)
		if err != nil {
			return 0, err
		}
		if int(n) != size {
			return 0, fmt.Errorf("got %d bytes, want %d", n, size)
		}
		runs = append(runs, time.Since(start))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
	return runs[1], nil
}

func wrk(addr, script string) (float64, error) {
	out, err := exec.Command("wrk", "-t2", "-c128", fmt.Sprintf("-d%ds", *httpSecs), "-s", script, "http://"+addr+"/").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %v %s", err, out)
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); m != nil {
		return 0, fmt.Errorf("wrk saw %s error responses:\n%s", m[1], out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
