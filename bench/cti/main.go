// Command cti measures the CTI server. It prints:
//
//	bench cti-fanout clients=1000 p99_ms=... rss_mb=... load=...
//	bench cti-fanout-polling clients=1000 p99_ms=... ratio=... baseline=cti-fanout ... load=...
//	bench cti-rest rps=...
//
// cti-fanout: 1,000 socket.io clients (Engine.IO 4 over websocket, each a
// different CTI user logged in with its own token) are connected; one AMI
// DeviceStateChange is emitted and the time until each client has the
// extenUpdate is recorded, over several rounds; p99 is over all deliveries.
// rss_mb is the peak RSS (VmHWM) of the server process alone: the server runs
// in a child process (this binary with -serve) with the AMI double in it.
//
// cti-fanout-polling: the same with 1,000 Engine.IO long-polling clients (a
// GET always outstanding, as socket.io-client with transports: ['polling']),
// in the same run; ratio is the websocket p99 over the polling p99 (> 1:
// polling faster). The target is a p99 under 150 ms on a quiet machine; load
// is /proc/loadavg during the measure.
//
// cti-rest: GET /webrest/user/me with a valid token, by wrk when installed
// (otherwise a Go load loop), 64 connections for 5 s.
//
// All traffic stays on 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/cti/amitest"
	"github.com/switchboard-pbx/switchboard/cti/siotest"
	"github.com/switchboard-pbx/switchboard/store"
)

func main() {
	serve := flag.Bool("serve", false, "internal: run the server side")
	clients := flag.Int("clients", 1000, "socket.io clients")
	rounds := flag.Int("rounds", 20, "extension changes to time")
	flag.Parse()
	if *serve {
		if p := os.Getenv("CTI_BENCH_CPUPROFILE"); p != "" {
			// Diagnostics: a CPU profile of the server side, for "go tool pprof".
			if f, err := os.Create(p); err == nil {
				pprof.StartCPUProfile(f) //nolint:errcheck // diagnostics only
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
		if err := server(*clients); err != nil {
			fmt.Fprintln(os.Stderr, "bench cti server:", err)
			os.Exit(1)
		}
		return
	}
	// The measuring side runs 1,000 clients; a lazier GC keeps it from pausing
	// in the middle of a fan-out it is timing. The server keeps the default.
	debug.SetGCPercent(400)
	if err := run(*clients, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench cti:", err)
		os.Exit(1)
	}
}

func password(i int) string { return fmt.Sprintf("bench-password-%d", i) }
func username(i int) string { return fmt.Sprintf("u%04d", i) }

// server runs the CTI service against the AMI double; it prints its URL, then
// emits one DeviceStateChange of extension 201 per "emit" line on stdin.
func server(n int) error {
	ami, err := amitest.Start("bench", "benchsecret")
	if err != nil {
		return err
	}
	defer ami.Close()
	ami.SetEndpoint("201", "Not in use")
	dir, err := os.MkdirTemp("", "cti-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.DefaultConfig(filepath.Join(dir, "db")))
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := cti.DefaultConfig()
	cfg.Enabled = true
	cfg.AMI.Address, cfg.AMI.Username, cfg.AMI.Secret = ami.Addr(), "bench", "benchsecret"
	cfg.SocketBurst, cfg.MaxSockets, cfg.BcryptCost = 10*n, 10*n, 4
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := cti.New(cfg, log, st)
	if err != nil {
		return err
	}
	// Users are written in one transaction (the admin API would audit each one).
	prof := cti.Profile{ID: "panel", Name: "panel", MacroPermissions: map[string]cti.Macro{"presence_panel": {Value: true}}}
	if _, err := st.Update(ctx, store.System, func(tx *store.Tx) error {
		if err := tx.Create(cti.KindProfile, "", prof.ID, &prof, "bench profile"); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			h, err := bcrypt.GenerateFromPassword([]byte(password(i)), 4)
			if err != nil {
				return err
			}
			ext := strconv.Itoa(10000 + i)
			u := cti.User{Username: username(i), Name: username(i), PasswordHash: string(h), MainExtension: ext,
				Endpoints: []cti.Endpoint{{ID: ext, Type: "physical"}}, Profile: "panel"}
			if err := tx.Create(cti.KindUser, "", u.Username, &u, "bench user"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	go svc.Serve(ctx) //nolint:errcheck // ends with ctx
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with the process
	for ami.Connected() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the first re-sync
	fmt.Printf("url http://%s\n", ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	states := []string{"INUSE", "NOT_INUSE"}
	for i := 0; sc.Scan(); i++ {
		if sc.Text() == "emit" {
			ami.Emit(amitest.DeviceState("201", states[i%2]))
		}
	}
	return nil
}

func login(base, user, pw string) (string, error) {
	resp, err := http.Post(base+"/webrest/authentication/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	nonce, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
	if !ok {
		return "", fmt.Errorf("login %s: status %d", user, resp.StatusCode)
	}
	return cti.Token(user, pw, nonce), nil
}

func run(n, rounds int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-serve", "-clients", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		// Closing stdin ends the server; kill it if it does not go.
		stdin.Close()
		t := time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() }) //nolint:errcheck // cleanup
		cmd.Wait()                                                        //nolint:errcheck // cleanup
		t.Stop()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server did not start: %w", err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "url "))

	// The websocket baseline first, then the same fan-out to long-polling
	// clients, in one run (the ratio compares them under the same load).
	ctx := context.Background()
	socks, firstTok, err := connect(ctx, base, n, "desktop", func(ctx context.Context) (*siotest.Client, error) {
		return siotest.Dial(ctx, base)
	})
	if err != nil {
		return fmt.Errorf("connecting websocket clients: %w", err)
	}
	lat, err := fanout(ctx, socks, rounds, stdin)
	if err != nil {
		return err
	}
	wsP99 := lat[len(lat)*99/100]
	rss := peakRSS(cmd.Process.Pid)
	fmt.Printf("bench cti-fanout clients=%d p99_ms=%.1f rss_mb=%.0f p50_ms=%.1f rounds=%d load=%s\n", n, ms(wsP99), rss, ms(lat[len(lat)/2]), rounds, loadavg())
	for _, c := range socks {
		c.Close()
	}

	// Each polling client holds a GET open and posts its pongs: two
	// connections each, kept alive.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 3 * n, IdleConnTimeout: time.Minute}}
	socks, _, err = connect(ctx, base, n, "web", func(ctx context.Context) (*siotest.Client, error) {
		return siotest.DialPolling(ctx, base, hc)
	})
	if err != nil {
		return fmt.Errorf("connecting long-polling clients: %w", err)
	}
	lat, err = fanout(ctx, socks, rounds, stdin)
	if err != nil {
		return fmt.Errorf("long polling: %w", err)
	}
	p99 := lat[len(lat)*99/100]
	// ratio > 1: polling is faster than the websocket baseline.
	fmt.Printf("bench cti-fanout-polling clients=%d p99_ms=%.1f p50_ms=%.1f ratio=%.2f baseline=cti-fanout baseline_p99_ms=%.1f target_p99_ms=150 rss_mb=%.0f rounds=%d load=%s\n",
		n, ms(p99), ms(lat[len(lat)/2]), float64(wsP99)/float64(p99), ms(wsP99), peakRSS(cmd.Process.Pid), rounds, loadavg())
	for _, c := range socks {
		c.Close()
	}

	rps, tool, err := restLoad(base+"/webrest/user/me", username(0)+":"+firstTok)
	if err != nil {
		return err
	}
	fmt.Printf("bench cti-rest rps=%.0f tool=%s connections=64 seconds=5\n", rps, tool)
	return nil
}

// connect logs in n clients (user i on client i), 32 at a time; the first
// user's token is returned for the REST load.
func connect(ctx context.Context, base string, n int, uaType string, dial func(context.Context) (*siotest.Client, error)) ([]*siotest.Client, string, error) {
	socks := make([]*siotest.Client, n)
	var firstTok string
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var fail atomic.Value
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := login(base, username(i), password(i))
			if err != nil {
				fail.Store(err)
				return
			}
			if i == 0 {
				firstTok = tok
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := dial(cctx)
			if err != nil {
				fail.Store(err)
				return
			}
			if err := c.Login(cctx, username(i), tok, uaType); err != nil {
				fail.Store(err)
				return
			}
			socks[i] = c
		}()
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		for _, c := range socks {
			if c != nil {
				c.Close()
			}
		}
		return nil, "", err
	}
	return socks, firstTok, nil
}

// fanout has the server emit one extension change per round and records when
// each client read it; the first two rounds warm up. The latencies are sorted.
func fanout(ctx context.Context, socks []*siotest.Client, rounds int, stdin io.Writer) ([]time.Duration, error) {
	var lat []time.Duration
	for r := 0; r < rounds+2; r++ {
		var rw sync.WaitGroup
		start := time.Now()
		got := make([]time.Duration, len(socks))
		for i, c := range socks {
			rw.Add(1)
			go func() {
				defer rw.Done()
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				for {
					ev, err := c.Wait(wctx, "extenUpdate")
					if err != nil {
						got[i] = -1
						return
					}
					if strings.Contains(string(ev.Data), `"exten":"201"`) {
						got[i] = ev.At.Sub(start)
						return
					}
				}
			}()
		}
		start = time.Now()
		fmt.Fprintln(stdin, "emit")
		rw.Wait()
		if r < 2 {
			continue // warm-up rounds
		}
		for _, d := range got {
			if d < 0 {
				return nil, fmt.Errorf("a client missed the update in round %d", r)
			}
			lat = append(lat, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat, nil
}

// loadavg is the 1, 5 and 15 minute load averages, "1.2/0.9/0.7".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return f[0] + "/" + f[1] + "/" + f[2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// peakRSS is VmHWM of pid in MB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb / 1024
}

func restLoad(url, auth string) (float64, string, error) {
	if wrk, err := exec.LookPath("wrk"); err == nil {
		out, err := exec.Command(wrk, "-t2", "-c64", "-d5s", "-H", "Authorization: "+auth, url).CombinedOutput()
		if err != nil {
			return 0, "", fmt.Errorf("wrk: %v\n%s", err, out)
		}
		if bad := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); bad != nil {
			return 0, "", fmt.Errorf("wrk got %s error answers:\n%s", bad[1], out)
		}
		m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			return 0, "", fmt.Errorf("wrk output:\n%s", out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v, "wrk", nil
	}
	// A Go load loop: 64 keep-alive connections.
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	var count atomic.Int64
	var failed atomic.Int64
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", auth)
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // draining
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 0, "", fmt.Errorf("%d requests failed", failed.Load())
	}
	return float64(count.Load()) / 5, "go", nil
}
