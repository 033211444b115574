// Command bootstorm measures a boot storm: 10,000 desk phones powered on at
// once, each doing DHCP (DISCOVER to ACK, option 66 telling it where its files
// are) and then fetching its own file and the common file, over TFTP in one run
// and over HTTP in another. It prints one line per transport:
//
//	bench boot-storm phones=10000 transport=tftp seconds=... failures=... ratio=... baseline_seconds=... baseline=dnsmasq
//	bench boot-storm phones=10000 transport=http seconds=... failures=... ratio=... baseline_seconds=... baseline=dnsmasq+nginx
//
// The server is "switchboard serve" with its DHCP server, TFTP and plain HTTP in
// one network namespace; the baseline is dnsmasq (DHCP and TFTP of the very same
// bytes, and nginx for the HTTP run) in the same namespace. The phones live in a
// second namespace joined by a veth pair: one Go process (this binary, run
// again with -loadgen inside that namespace) speaks DHCP through one raw packet
// socket, each phone with its own MAC, and then uses the address it was given
// (the whole pool is routed to the namespace as local, so each phone can bind
// its own address). seconds is the time from the first DISCOVER until the last
// phone has both files; a phone that has not within -deadline counts as a
// failure. ratio is baseline seconds / ours (bigger is better). dnsmasq runs
// with --no-ping: switchboard does not probe addresses before offering them,
// and the phones' namespace answers for the whole pool. The server reaches
// the pool through one neighbour (see topology). Needs root, iproute2,
// dnsmasq and nginx; every namespace and interface is named sbb*.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // to clear the leases between runs

	"github.com/switchboard-pbx/switchboard/bench/internal/benchnet"
	"github.com/switchboard-pbx/switchboard/bench/internal/procstat"
)

const (
	nsSrv, nsCli = "sbb-srv", "sbb-cli"
	srvIP        = "10.254.128.1"
	cliIP        = "10.254.128.2"
	poolStart    = "10.254.0.10"
	poolEnd      = "10.254.63.250"
	poolRoute    = "10.254.0.0/18" // the pool, local to the phones' namespace
	commonFile   = "y000000000096.cfg"
)

var (
	bin      = flag.String("bin", "bin/switchboard", "switchboard binary")
	phones   = flag.Int("phones", 10000, "phones")
	deadline = flag.Duration("deadline", 120*time.Second, "a phone without both files by then is a failure")
	ramp     = flag.Duration("ramp", time.Second, "phones power on spread over this long")
	only     = flag.String("transport", "tftp,http", "transports to run")
	keep     = flag.Bool("keep", false, "keep the work directory")
	logLevel = flag.String("log-level", "warn", "switchboard's log level (its log is in the work directory)")

	loadgen = flag.Bool("loadgen", false, "internal: run the phones (inside the phones' namespace)")
	lgIf    = flag.String("if", "sbbc", "internal: the phones' interface")
	lgFirst = flag.Int("first", 0, "internal: index of the first phone's MAC")
)

func main() {
	flag.Parse()
	raiseFileLimit()
	if *loadgen {
		if err := runPhones(); err != nil {
			fmt.Fprintln(os.Stderr, "bootstorm loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/bootstorm: needs root (network namespaces)")
		os.Exit(1)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/bootstorm:", err)
		cleanup()
		os.Exit(1)
	}
}

// raiseFileLimit: ten thousand phones (and the servers serving them) need a
// socket each; the servers inherit the limit.
func raiseFileLimit() {
	lim := syscall.Rlimit{Cur: 200000, Max: 200000}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		var cur syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur) == nil {
			cur.Cur = cur.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur) // as high as allowed
		}
	}
}

func sh(args ...string) error { return benchnet.Run(args...) }

func cleanup() { benchnet.Del(nsSrv, nsCli) }

func topology() error {
	cleanup()
	if err := benchnet.Add(nsSrv, nsCli); err != nil {
		return err
	}
	if err := benchnet.Link(nsSrv, "sbbs", srvIP+"/16", nsCli, "sbbc", cliIP+"/16"); err != nil {
		return err
	}
	for _, s := range [][]string{
		// Every pool address is this namespace's own: the phones bind the one
		// they were given, and the kernel answers ARP for all of them.
		{"ip", "-n", nsCli, "route", "add", "local", poolRoute, "dev", "lo"},
		// The server reaches the pool through the phones' side of the link:
		// one neighbour entry, not ten thousand (the kernel's neighbour table
		// is shared by every namespace and holds 1024 by default; a real flat
		// LAN of ten thousand phones needs net.ipv4.neigh.default.gc_thresh*
		// raised on any server, ours or the baseline).
		{"ip", "-n", nsSrv, "route", "add", poolRoute, "via", cliIP, "dev", "sbbs"},
	} {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}

func macOf(i int) string { return fmt.Sprintf("0015657%05x", i) }

// ours is switchboard serve in the server namespace.
type ours struct {
	dir, bin string
	cmd      *exec.Cmd
	done     chan struct{}
	client   *http.Client
	log      *os.File
}

func (o *ours) start(transport string) error {
	opt66 := "{server_ip}"
	if transport == "http" {
		opt66 = "{url}"
	}
	cfg := fmt.Sprintf(`data_dir: %s/data
log: {level: %s}
http: {listen: "%s:80", https_listen: "127.0.0.1:8443"}
tftp: {listen: "%s:69"}
admin: {bcrypt_cost: 4}
provisioning: {base_url: "http://%s", unknown_burst: 1000000}
dhcp:
  enabled: true
  interface: sbbs
  server_ip: %s
  pool_start: %s
  pool_end: %s
  subnet_mask: 255.255.0.0
  lease_time: 12h
  vendors:
    - {name: yealink, vendor_class: yealink, brand: yealink, options: {option66: "%s"}}
`, o.dir, *logLevel, srvIP, srvIP, srvIP, srvIP, poolStart, poolEnd, opt66)
	p := filepath.Join(o.dir, "switchboard.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return err
	}
	o.cmd = exec.Command("ip", "netns", "exec", nsSrv, o.bin, "serve", "--config", p)
	var err error
	if o.log, err = os.OpenFile(filepath.Join(o.dir, "switchboard.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return err
	}
	o.cmd.Stdout, o.cmd.Stderr = o.log, o.log
	if err := o.cmd.Start(); err != nil {
		return err
	}
	o.done = make(chan struct{})
	go func() { o.cmd.Wait(); close(o.done) }()
	sock := filepath.Join(o.dir, "data", "switchboard.sock")
	o.client = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	if !waitFor(60*time.Second, func() bool { return o.call("GET", "/api/v1/status", "", nil, nil) == nil }) {
		return fmt.Errorf("switchboard did not start (see %s)", o.log.Name())
	}
	return nil
}

func (o *ours) stop() {
	if o.cmd == nil {
		return
	}
	o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(30 * time.Second):
		o.cmd.Process.Kill()
		<-o.done
	}
	o.log.Close()
	o.cmd = nil
}

func (o *ours) call(method, path, ctype string, body io.Reader, out any) error {
	req, _ := http.NewRequest(method, "http://sb"+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := o.client.Do(req)
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

// seed imports the phones (accounts and devices) and waits for their files.
func (o *ours) seed(n int) error {
	b, _ := json.Marshal(map[string]any{"sip_server": "192.0.2.10"})
	if err := o.call("PATCH", "/api/v1/tenants/default/pbx", "application/json", bytes.NewReader(b), nil); err != nil {
		return err
	}
	var acc, dev bytes.Buffer
	acc.WriteString("extension,sip_password,display_name\n")
	dev.WriteString("mac,model,account_extension\n")
	for i := range n {
		fmt.Fprintf(&acc, "%d,pw-%08d,Phone %d\n", 20000+i, i*7919, i)
		fmt.Fprintf(&dev, "%s,yealink-t54w,%d\n", macOf(i), 20000+i)
	}
	if err := o.call("POST", "/api/v1/tenants/default/accounts.csv", "text/csv", &acc, nil); err != nil {
		return err
	}
	if err := o.call("POST", "/api/v1/tenants/default/devices.csv", "text/csv", &dev, nil); err != nil {
		return err
	}
	return o.waitFiles(n)
}

func (o *ours) waitFiles(n int) error {
	if !waitFor(10*time.Minute, func() bool {
		var res struct {
			Items []json.RawMessage `json:"items"`
		}
		return o.call("GET", "/api/v1/tenants/default/files", "", nil, &res) == nil && len(res.Items) >= n+1
	}) {
		return errors.New("switchboard did not render the files")
	}
	return nil
}

// secureURLs turns the tenant's secret URLs on or off and waits until every
// file reflects it. Over HTTP option 66 is {url}: a phone gets its secret
// directory and fetches its file there. Over TFTP option 66 is the bare server
// address, as with dnsmasq: a phone asks for its file by name, which a tenant
// serves only with secret URLs off (the setting for phones provisioned by a
// name alone, see "Secret URLs" in the README).
func (o *ours) secureURLs(on bool) error {
	b, _ := json.Marshal(map[string]any{"secure_urls": on})
	if err := o.call("PATCH", "/api/v1/tenants/default/pbx", "application/json", bytes.NewReader(b), nil); err != nil {
		return err
	}
	return waitErr(10*time.Minute, func() bool {
		var st struct {
			Revision int64 `json:"revision"`
			Rendered int64 `json:"rendered_revision"`
		}
		return o.call("GET", "/api/v1/status", "", nil, &st) == nil && st.Rendered >= st.Revision
	}, "switchboard did not render the files again")
}

// clearLeases forgets the leases of the previous run (switchboard stopped).
func (o *ours) clearLeases() error {
	db, err := sql.Open("sqlite", filepath.Join(o.dir, "data", "switchboard.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`DELETE FROM dhcp_leases`)
	return err
}

// export writes the files switchboard serves to root, for the baseline.
func (o *ours) export(root string, n int) error {
	get := func(name string) error {
		var f struct {
			Content string `json:"content"`
		}
		if err := o.call("GET", "/api/v1/tenants/default/files/"+name, "", nil, &f); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, name), []byte(f.Content), 0o644)
	}
	if err := get(commonFile); err != nil {
		return err
	}
	for i := range n {
		if err := get(macOf(i) + ".cfg"); err != nil {
			return err
		}
	}
	return nil
}

// baseline is dnsmasq (DHCP, TFTP) and, for HTTP, nginx, serving root.
type baseline struct {
	dir, root string
	procs     []*exec.Cmd
}

func (b *baseline) start(transport string) error {
	opt66 := srvIP
	if transport == "http" {
		opt66 = "http://" + srvIP + "/provisioning/"
	}
	leases := filepath.Join(b.dir, "dnsmasq.leases")
	os.Remove(leases)
	// In a configuration file, as an installer writes it: quoted, a string
	// (unquoted, dnsmasq sends an address as four bytes).
	conf := filepath.Join(b.dir, "dnsmasq.conf")
	if err := os.WriteFile(conf, []byte("dhcp-option=66,\""+opt66+"\"\n"), 0o644); err != nil {
		return err
	}
	args := []string{"netns", "exec", nsSrv, "dnsmasq", "--keep-in-foreground", "--port=0", "--user=root", "--group=root",
		"--interface=sbbs", "--bind-interfaces", "--dhcp-authoritative", "--no-ping", "--quiet-dhcp", "--quiet-tftp",
		"--dhcp-range=" + poolStart + "," + poolEnd + ",255.255.0.0,12h", "--dhcp-lease-max=20000",
		"--dhcp-leasefile=" + leases, "--conf-file=" + conf, "--pid-file=" + filepath.Join(b.dir, "dnsmasq.pid"),
		"--log-facility=" + filepath.Join(b.dir, "dnsmasq.log")}
	if transport == "tftp" {
		args = append(args, "--enable-tftp", "--tftp-root="+b.root, "--tftp-max=20000")
	}
	dm := exec.Command("ip", args...)
	dm.Stdout, dm.Stderr = os.Stderr, os.Stderr
	if err := dm.Start(); err != nil {
		return err
	}
	b.procs = append(b.procs, dm)
	if transport == "http" {
		conf := filepath.Join(b.dir, "nginx.conf")
		os.MkdirAll(filepath.Join(b.dir, "ngtmp"), 0o755)
		os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off; worker_processes 2; pid %[1]s/nginx.pid; error_log stderr error;
events { worker_connections 20000; }
http { access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path %[1]s/ngtmp; proxy_temp_path %[1]s/ngtmp; fastcgi_temp_path %[1]s/ngtmp; uwsgi_temp_path %[1]s/ngtmp; scgi_temp_path %[1]s/ngtmp;
  server { listen %[2]s:80; location /provisioning/ { alias %[3]s/; } } }
`, b.dir, srvIP, b.root)), 0o644)
		ng := exec.Command("ip", "netns", "exec", nsSrv, "nginx", "-c", conf, "-p", b.dir)
		ng.Stdout, ng.Stderr = os.Stderr, os.Stderr
		if err := ng.Start(); err != nil {
			return err
		}
		b.procs = append(b.procs, ng)
	}
	// Up once it answers: the DHCP socket is bound (and TFTP, or nginx's port).
	port := "67"
	return waitErr(10*time.Second, func() bool {
		out, _ := exec.Command("ip", "netns", "exec", nsSrv, "ss", "-Hlnu", "sport = :"+port).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			return false
		}
		if transport == "http" {
			out, _ = exec.Command("ip", "netns", "exec", nsSrv, "ss", "-Hltn", "sport = :80").Output()
			return len(bytes.TrimSpace(out)) > 0
		}
		return true
	}, "the baseline did not start")
}

func (b *baseline) stop() {
	for _, p := range b.procs {
		p.Process.Signal(syscall.SIGTERM)
		p.Wait()
	}
	b.procs = nil
}

func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func waitErr(d time.Duration, cond func() bool, msg string) error {
	if waitFor(d, cond) {
		return nil
	}
	return errors.New(msg)
}

// result is what the load generator reports.
type result struct {
	Seconds    float64 `json:"seconds"`
	Failures   int     `json:"failures"`
	DHCPP50Ms  float64 `json:"dhcp_p50_ms"`
	DHCPP99Ms  float64 `json:"dhcp_p99_ms"`
	FirstError string  `json:"first_error"`
	// What the phones sent and got: DHCP messages, replies, DISCOVERs sent again.
	DHCPSent    int64 `json:"dhcp_sent"`
	DHCPReplies int64 `json:"dhcp_replies"`
	Retransmits int64 `json:"retransmits"`
	PacketDrops int64 `json:"packet_drops"` // replies the phones' raw socket dropped
}

// storm runs the phones in their namespace against whatever serves now.
func storm(transport string, first int) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command("ip", "netns", "exec", nsCli, self, "-loadgen", "-transport", transport,
		"-phones", fmt.Sprint(*phones), "-first", fmt.Sprint(first), "-deadline", deadline.String(), "-ramp", ramp.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("load generator: %w", err)
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		return r, fmt.Errorf("load generator said %q: %w", out, err)
	}
	return r, nil
}

// udpStats is the namespace's UDP counters (/proc/net/snmp).
func udpStats(ns string) map[string]int64 {
	out, _ := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	var names []string
	m := map[string]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		for i, v := range f[1:] {
			var n int64
			fmt.Sscan(v, &n)
			if i < len(names) {
				m[names[i]] = n
			}
		}
	}
	return m
}

func udpDiff(a, b map[string]int64) string {
	var parts []string
	for _, k := range []string{"InDatagrams", "OutDatagrams", "RcvbufErrors", "SndbufErrors", "InErrors", "NoPorts"} {
		parts = append(parts, fmt.Sprintf("%s=%d", k, b[k]-a[k]))
	}
	return strings.Join(parts, " ")
}

func run() error {
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	for _, tool := range []string{"dnsmasq", "nginx", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed", tool)
		}
	}
	work, err := os.MkdirTemp("", "sbb-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}
	os.Chmod(work, 0o755)
	if err := topology(); err != nil {
		return err
	}
	defer cleanup()
	o := &ours{dir: filepath.Join(work, "ours"), bin: abs}
	os.MkdirAll(o.dir, 0o755)
	b := &baseline{dir: filepath.Join(work, "baseline"), root: filepath.Join(work, "baseline", "root")}
	os.MkdirAll(b.root, 0o755)
	seeded := false
	for _, transport := range strings.Split(*only, ",") {
		if err := o.start(transport); err != nil {
			return err
		}
		if !seeded {
			fmt.Fprintf(os.Stderr, "seeding %d phones\n", *phones)
			if err := o.seed(*phones); err != nil {
				o.stop()
				return err
			}
			if err := o.export(b.root, *phones); err != nil {
				o.stop()
				return err
			}
			seeded = true
		} else if err := o.waitFiles(*phones); err != nil {
			o.stop()
			return err
		}
		if err := o.secureURLs(transport == "http"); err != nil {
			o.stop()
			return err
		}
		load := procstat.LoadAvg()
		udp0, udpc0 := udpStats(nsSrv), udpStats(nsCli)
		mine, err := storm(transport, 0)
		fmt.Fprintf(os.Stderr, "  udp srv: %s\n  udp cli: %s\n", udpDiff(udp0, udpStats(nsSrv)), udpDiff(udpc0, udpStats(nsCli)))
		dropped, _ := exec.Command("ip", "netns", "exec", nsSrv, "sh", "-c",
			"curl -sk https://127.0.0.1:8443/metrics | grep '^switchboard_dhcp_dropped_total'; ss -uamn | grep -A1 -E ':(67|69) '").Output()
		o.stop()
		if err != nil {
			return fmt.Errorf("%s (ours): %w", transport, err)
		}
		if err := o.clearLeases(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  ours %s: %+v load=%s %s\n", transport, mine, load, bytes.TrimSpace(dropped))
		if err := b.start(transport); err != nil {
			b.stop()
			return err
		}
		theirs, err := storm(transport, 0)
		b.stop()
		if err != nil {
			return fmt.Errorf("%s (baseline): %w", transport, err)
		}
		fmt.Fprintf(os.Stderr, "  baseline %s: %+v\n", transport, theirs)
		name := "dnsmasq"
		if transport == "http" {
			name = "dnsmasq+nginx"
		}
		ratio := 0.0
		if mine.Seconds > 0 {
			ratio = theirs.Seconds / mine.Seconds
		}
		fmt.Printf("bench boot-storm phones=%d transport=%s seconds=%.2f failures=%d ratio=%.2f baseline_seconds=%.2f baseline_failures=%d dhcp_p50_ms=%.0f dhcp_p99_ms=%.0f baseline_dhcp_p99_ms=%.0f ramp_s=%.1f load=%s baseline=%s target_seconds=30 target_ratio=1\n",
			*phones, transport, mine.Seconds, mine.Failures, ratio, theirs.Seconds, theirs.Failures, mine.DHCPP50Ms, mine.DHCPP99Ms,
			theirs.DHCPP99Ms, ramp.Seconds(), load, name)
	}
	return nil
}
