// Command pnp measures the SIP PnP responder of a real "switchboard serve" under a
// boot storm: SIPp sends 2,000 ua-profile SUBSCRIBEs per second for 10 s (a new
// MAC each, all unknown, answered under the bootstrap policy) to 224.0.1.75 from
// a phone namespace; the daemon runs in an appliance namespace joined by a veth
// pair. It prints
//
//	bench pnp rate=2000 lost=<calls without their NOTIFY> p99_ms=<x>
//
// where lost counts the calls SIPp failed (no NOTIFY within 5 s of the SUBSCRIBE)
// and p99_ms is the 99th percentile of SUBSCRIBE-to-NOTIFY time on the wire: an
// AF_PACKET capture on the phone's veth timestamps (in the kernel) the SUBSCRIBE
// leaving and the NOTIFY arriving, matched by Call-ID. SIPp's own response time
// for the same span (1 ms resolution, includes SIPp's event loop) is printed on
// stderr beside it. The storm runs three times on the same daemon; the median of
// the three p99s is printed and lost calls are summed. Needs root, iproute2,
// sip-tester (and curl for the daemon's counters). Traffic stays inside the two
// namespaces.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/bench/internal/benchnet"
)

var (
	binPath  = flag.String("bin", "bin/switchboard", "switchboard binary")
	rate     = flag.Int("rate", 2000, "SUBSCRIBEs per second")
	seconds  = flag.Int("seconds", 10, "duration of the storm")
	keep     = flag.Bool("keep", false, "keep the work directory")
	rounds   = flag.Int("rounds", 3, "storms in a row (the median p99 is printed, lost calls are summed)")
	cpuProf  = flag.String("cpuprofile", "", "write the daemon's CPU profile here")
	logLevel = flag.String("log", "warn", "daemon log level (its log goes to the work directory)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pnpbench:", err)
		os.Exit(1)
	}
}

func sh(args ...string) error { return benchnet.Run(args...) }

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	for _, b := range []string{"ip", "sipp"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not installed (iproute2, sip-tester)", b)
		}
	}
	bin, err := filepath.Abs(*binPath)
	if err != nil {
		return err
	}
	here, err := filepath.Abs("bench/pnp")
	if err != nil {
		return err
	}
	scenario := filepath.Join(here, "bench.xml")
	if _, err := os.Stat(scenario); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	dir, err := os.MkdirTemp("", "pnpbench")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}

	// The lab: names carry "sbp" and our pid (the tests' cleaner leaves live pids alone).
	id := strconv.Itoa(os.Getpid())
	app, phone, appIf, phoneIf := "sbpbapp"+id, "sbpbph"+id, "sbpba"+id, "sbpbp"+id
	appIP, phoneIP := "198.18.251.1", "198.18.251.2"
	defer benchnet.Del(app, phone)
	if err := benchnet.Add(app, phone); err != nil {
		return err
	}
	if err := benchnet.Link(app, appIf, appIP+"/24", phone, phoneIf, phoneIP+"/24"); err != nil {
		return err
	}
	for _, x := range [][2]string{{app, appIf}, {phone, phoneIf}} {
		if err := sh("ip", "-n", x[0], "route", "add", "224.0.0.0/4", "dev", x[1]); err != nil {
			return err
		}
	}

	// The daemon, with PnP on and the per-source limit out of the way (the storm
	// comes from one address).
	sock := filepath.Join(dir, "switchboard.sock")
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: %s}
http: {listen: "127.0.0.1:18080", https_listen: "127.0.0.1:18443"}
tftp: {listen: ""}
admin: {socket: %s}
provisioning: {base_url: "http://%s"}
pnp:
  enabled: true
  interfaces: [%s]
  unknown: bootstrap
  rate_burst: 100000000
  rate_interval: 1ms
`, filepath.Join(dir, "data"), *logLevel, sock, appIP, appIf)
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemonOut, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return err
	}
	defer daemonOut.Close()
	daemon := exec.CommandContext(ctx, "ip", "netns", "exec", app, bin, "serve", "--config", cfgPath)
	daemon.Stdout, daemon.Stderr = daemonOut, daemonOut
	if *cpuProf != "" {
		p, err := filepath.Abs(*cpuProf)
		if err != nil {
			return err
		}
		daemon.Env = append(os.Environ(), "SWITCHBOARD_CPUPROFILE="+p)
	}
	daemon.Cancel = func() error { return daemon.Process.Signal(os.Interrupt) }
	daemon.WaitDelay = 5 * time.Second
	if err := daemon.Start(); err != nil {
		return err
	}
	defer daemon.Wait()
	defer cancel()
	// Ready once the control socket exists (it is bound after the PnP sockets).
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) || daemon.ProcessState != nil {
			b, _ := os.ReadFile(daemonOut.Name())
			return fmt.Errorf("daemon did not start:\n%s", b)
		}
	}
	time.Sleep(300 * time.Millisecond)

	// Rounds on the same daemon, a fresh range of MACs each: the median p99 is
	// printed (the machine is shared and noisy), every lost call counts.
	lost, p99s := 0, []float64{}
	for r := 0; r < *rounds; r++ {
		l, p99, err := storm(ctx, r, dir, app, phone, phoneIf, phoneIP, scenario)
		if err != nil {
			return err
		}
		lost += l
		p99s = append(p99s, p99)
	}
	if m, err := exec.Command("ip", "netns", "exec", app, "curl", "-sk", "https://127.0.0.1:18443/metrics").Output(); err == nil {
		var counters []string
		for _, line := range strings.Split(string(m), "\n") {
			if v, ok := strings.CutPrefix(line, "switchboard_pnp_"); ok {
				counters = append(counters, strings.Replace(strings.TrimSuffix(v, "_total"), "_total ", "=", 1))
			}
		}
		fmt.Fprintln(os.Stderr, "pnpbench: daemon counters:", strings.Join(counters, " "))
	}
	fmt.Printf("bench pnp rate=%d lost=%d p99_ms=%.2f\n", *rate, lost, pct(p99s, 0.5))
	return nil
}

// storm runs one round: rate*seconds SUBSCRIBEs, a new MAC each. It returns the
// calls without their NOTIFY and the p99 SUBSCRIBE-to-NOTIFY time on the wire.
func storm(ctx context.Context, round int, dir, app, phone, phoneIf, phoneIP, scenario string) (int, float64, error) {
	calls := *rate * *seconds
	rdir := filepath.Join(dir, fmt.Sprintf("round%d", round))
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return 0, 0, err
	}
	var csv strings.Builder
	csv.WriteString("SEQUENTIAL\n")
	for i := 0; i < calls; i++ {
		fmt.Fprintf(&csv, "02%010X\n", round*calls+i+1) // locally administered, one per phone
	}
	inf := filepath.Join(rdir, "macs.csv")
	if err := os.WriteFile(inf, []byte(csv.String()), 0o600); err != nil {
		return 0, 0, err
	}
	capt, err := openCapture(phone, phoneIf)
	if err != nil {
		return 0, 0, err
	}
	// SIPp's own -timeout has been seen not to fire once it is overloaded: a
	// deadline of ours ends a round that hangs (its calls then count as lost).
	rctx, cancel := context.WithTimeout(ctx, time.Duration(*seconds+40)*time.Second)
	defer cancel()
	sipp := exec.CommandContext(rctx, "ip", "netns", "exec", phone, "sipp", "-nostdin", "224.0.1.75:5060",
		"-sf", scenario, "-inf", inf, "-i", phoneIP, "-p", "5060",
		"-r", strconv.Itoa(*rate), "-m", strconv.Itoa(calls), "-l", strconv.Itoa(calls),
		"-trace_rtt", "-rtt_freq", "1000", "-trace_err", "-timeout", strconv.Itoa(*seconds+60)+"s",
		"-max_recv_loops", "10000", "-max_sched_loops", "10000", "-buff_size", "4194304")
	sipp.Dir = rdir
	var out bytes.Buffer
	sipp.Stdout, sipp.Stderr = &out, &out
	runErr := sipp.Run()
	wire, missing := capt.close()
	load := ""
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Fields(string(la))[0]
	}
	ok, failed := screenCount(out.String(), "Successful call"), screenCount(out.String(), "Failed call")
	if rctx.Err() != nil {
		fmt.Fprintf(os.Stderr, "pnpbench: round %d: SIPp hung and was stopped: %v\n", round+1, runErr)
		ok = max(ok, 0)
		failed = max(failed, 0)
	} else if ok < 0 || failed < 0 {
		return 0, 0, fmt.Errorf("sipp: %v: no statistics screen:\n%s", runErr, tail(out.String()))
	}
	sippTimes, err := rtts(rdir)
	if err != nil {
		return 0, 0, err
	}
	if len(wire) == 0 {
		return 0, 0, fmt.Errorf("the capture saw no SUBSCRIBE/NOTIFY pairs:\n%s", tail(out.String()))
	}
	fmt.Fprintf(os.Stderr, "pnpbench: round %d: %d calls, %d successful, %d failed (SIPp); capture %d pairs, %d SUBSCRIBEs without NOTIFY; "+
		"wire p50 %.2f p99 %.2f max %.2f ms; SIPp's own p99 %.0f ms (1 ms resolution, includes its event loop); load %s\n",
		round+1, calls, ok, failed, len(wire), missing, pct(wire, 0.50), pct(wire, 0.99), pct(wire, 1), pct(sippTimes, 0.99), load)
	return calls - ok, pct(wire, 0.99), nil
}

// pct is the q-quantile (nearest rank) of v.
func pct(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// screenCount reads a cumulative counter from SIPp's final statistics screen.
func screenCount(screen, name string) int {
	re := regexp.MustCompile(regexp.QuoteMeta(name) + `\s*\|\s*\d+\s*\|\s*(\d+)`)
	m := re.FindAllStringSubmatch(screen, -1)
	if len(m) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// rtts reads SIPp's -trace_rtt file: "date_ms;response_time_ms;rtd_no" per call.
func rtts(dir string) ([]float64, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	if len(files) == 0 {
		return nil, errors.New("SIPp wrote no _rtt.csv")
	}
	f, err := os.Open(files[0])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ";")
		if len(p) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(p[1]), 64)
		if err != nil {
			continue // the header line
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}
