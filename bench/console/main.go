// Command console measures the web console's devices page in Chromium: a real
// "switchboard serve", a tenant with 10,000 devices (and accounts), and the
// time from navigating to the page until its first page of devices is shown,
// read by the page itself (performance.now() since navigation start, when the
// rows are in the document). The baseline is the same page for a tenant with
// 10 devices in the same run: the ratio shows what the tenant's size costs.
//
//	go run ./bench/console -bin bin/switchboard
//
// prints one line:
//
//	bench console-devices devices=10000 first_page_ms=... baseline_10_ms=... ratio=... api_ms=... api_baseline_10_ms=... rounds=7 target_ms=300 load=...
//	bench console-devices-warm devices=10000 first_page_ms=... cold_ms=... ratio=... rounds=7 target_ms=300 load=...
//
// The first is a cold load: the daemon's self-signed certificate is accepted
// by ignoring the error, and Chromium then caches nothing, so every load
// fetches and compiles the whole console. The second is a returning
// installer's browser: the certificate trusted as a real one is (by its
// public key), so the console's files and their compiled code come from the
// cache from the second load on; cold_ms is the cold load interleaved with it.
//
// With -previous OTHER_BIN, a second daemon of another build (say, the last
// release) gets the same big tenant and its loads are interleaved with this
// build's, under the same load, printing a second line:
//
//	bench console-devices-vs-previous devices=... first_page_ms=... previous_ms=... ratio=... load=...
//
// api_ms is the daemon's share: the median time of the page's API call
// (GET .../devices?limit=50) asked without a browser. With CONSOLEBENCH_MARKS
// set, each load's timeline (DOMContentLoaded, start, boot, shown) and its
// requests (how many, how many from the network, bytes, when the last script
// and API answer arrived) go to stderr; with CONSOLEBENCH_MARKS=resources
// also every request's start, request, first byte and end (ms since
// navigation) and the renderer's main-thread time by kind (Chromium's
// Performance metrics, from before the navigation to after the rows were
// found: they include the harness's polling, the page time does not).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	cdpproto "github.com/chromedp/cdproto/cdp"
	cdpperf "github.com/chromedp/cdproto/performance"
	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

func main() {
	bin := flag.String("bin", "bin/switchboard", "the switchboard binary")
	n := flag.Int("devices", 10000, "devices in the big tenant")
	rounds := flag.Int("rounds", 7, "page loads per tenant (the median is printed)")
	previous := flag.String("previous", "", "another build of switchboard to compare with, in the same run (its loads interleaved)")
	flag.Parse()
	if err := run(*bin, *previous, *n, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "consolebench:", err)
		os.Exit(1)
	}
}

// target is one daemon under test, logged in, with its tenants seeded and a
// browser context (its own storage) on its console.
type target struct {
	d          *webuitest.Daemon
	token      string
	base       string
	ctx        context.Context
	big, small string
}

func setUp(b *webuitest.Browser, bin string, n int, withSmall bool) (*target, func(), error) {
	d, err := webuitest.StartDaemon(bin, "tenancy:\n  mode: multi\n")
	if err != nil {
		return nil, nil, err
	}
	out, e, code, err := d.CLI("bench-password-1\n", "user", "add", "bench", "--role", "admin", "--password-stdin")
	if err != nil || code != 0 {
		d.Stop()
		return nil, nil, fmt.Errorf("user add: %v %d %s %s", err, code, out, e)
	}
	var login struct{ Token string }
	if c, err := d.API("POST", "/login", "", map[string]string{"username": "bench", "password": "bench-password-1"}, &login); err != nil || c != 200 {
		d.Stop()
		return nil, nil, fmt.Errorf("login: %d %v", c, err)
	}
	tg := &target{d: d, token: login.Token, base: "https://" + d.HTTPS + "/"}
	if tg.big, err = seed(d, login.Token, "big", n); err != nil {
		d.Stop()
		return nil, nil, err
	}
	if withSmall {
		if tg.small, err = seed(d, login.Token, "small", 10); err != nil {
			d.Stop()
			return nil, nil, err
		}
	}
	ctx, cancel := cdp.NewContext(b.Context(), cdp.WithNewBrowserContext())
	tg.ctx = ctx
	// Log in once: the token stays in the tab's storage.
	if err := cdp.Do(ctx, cdp.Navigate(tg.base),
		cdp.Evaluate[cdp.Void](`localStorage.setItem("sb.token", `+fmt.Sprintf("%q", login.Token)+`)`)); err != nil {
		cancel()
		d.Stop()
		return nil, nil, fmt.Errorf("browser: %w", err)
	}
	return tg, func() { cancel(); d.Stop() }, nil
}

func run(bin, previous string, n, rounds int) error {
	if webuitest.Chromium() == "" {
		return fmt.Errorf("chromium is not installed")
	}
	b, err := webuitest.StartBrowser()
	if err != nil {
		return err
	}
	defer b.Close()
	cur, stop, err := setUp(b, bin, n, true)
	if err != nil {
		return err
	}
	defer stop()
	var prev *target
	if previous != "" {
		if prev, stop, err = setUp(b, previous, n, false); err != nil {
			return fmt.Errorf("previous build: %w", err)
		}
		defer stop()
	}
	measureOn := func(tg *target, tenant string) (float64, error) {
		d, ctx, base := tg.d, tg.ctx, tg.base
		if c, err := d.API("PUT", "/me/preferences", tg.token, map[string]string{"tenant": tenant}, nil); err != nil || c != 200 {
			return 0, fmt.Errorf("preference: %d %v", c, err)
		}
		lctx, cancel := context.WithTimeout(ctx, 120*time.Second)
		defer cancel()
		var before []*cdpperf.Metric
		if os.Getenv("CONSOLEBENCH_MARKS") == "resources" {
			_ = cdp.Do(lctx, cdp.Navigate("about:blank"))
			_, _ = cdp.Call(lctx, cdpperf.Enable, cdpperf.EnableParams{})
			r, _ := cdp.Call(lctx, cdpperf.GetMetrics, cdpproto.Empty{})
			before = r.Metrics
		}
		if err := cdp.Do(lctx, cdp.Navigate("about:blank"), cdp.Navigate(base+"#/devices"),
			cdp.WaitVisible(cdp.CSS("#devices tbody tr[data-mac]"))); err != nil {
			return 0, err
		}
		ms, err := cdp.Run(lctx, cdp.Evaluate[float64](`(() => { const s = window.__sbShown;
			if (!s || s.page !== "devices" || !document.querySelector("#devices tbody tr[data-mac]")) throw new Error("not the devices page");
			return s.at; })()`))
		if err != nil {
			return 0, err
		}
		if os.Getenv("CONSOLEBENCH_MARKS") != "" {
			marks, _ := cdp.Run(lctx, cdp.Evaluate[string](`[...performance.getEntriesByType("navigation").map(n => "html=" + Math.round(n.responseEnd) + " dcl=" + Math.round(n.domContentLoadedEventEnd) + " page_bytes=" + n.transferSize),
				...performance.getEntriesByType("mark").map(m => m.name + "=" + Math.round(m.startTime)),
				(() => { const r = performance.getEntriesByType("resource");
					return "requests=" + r.length + " from_network=" + r.filter(x => x.transferSize > 0).length +
						" bytes=" + r.reduce((a, x) => a + x.transferSize, 0) + " api=" + r.filter(x => x.name.includes("/api/")).length +
						" js_end=" + Math.round(Math.max(0, ...r.filter(x => x.name.includes(".js")).map(x => x.responseEnd))) +
						" api_end=" + Math.round(Math.max(0, ...r.filter(x => x.name.includes("/api/")).map(x => x.responseEnd))) +
						" proto=" + [...new Set(r.map(x => x.nextHopProtocol))].join(","); })()].join(" ")`))
			fmt.Fprintf(os.Stderr, "consolebench: %s shown=%.0f\n", marks, ms)
			if os.Getenv("CONSOLEBENCH_MARKS") == "resources" {
				res, _ := cdp.Run(lctx, cdp.Evaluate[string](`performance.getEntriesByType("resource").map(x => "consolebench:   " +
					[x.startTime, x.requestStart, x.responseStart, x.responseEnd].map(Math.round).join("-") + " " + x.transferSize + " " + x.name.replace(/^https:\/\/[^/]+/, "")).join("\n")`))
				fmt.Fprintln(os.Stderr, res)
				r, _ := cdp.Call(lctx, cdpperf.GetMetrics, cdpproto.Empty{})
				bm := map[string]float64{}
				for _, m := range before {
					bm[m.Name] = m.Value
				}
				var main []string
				for _, m := range r.Metrics {
					if strings.HasSuffix(m.Name, "Duration") {
						main = append(main, fmt.Sprintf("%s=%.0f", strings.TrimSuffix(m.Name, "Duration"), (m.Value-bm[m.Name])*1000))
					}
				}
				fmt.Fprintf(os.Stderr, "consolebench:   main thread ms: %s\n", strings.Join(main, " "))
			}
		}
		rows, err := cdp.Run(lctx, cdp.Evaluate[int](`document.querySelectorAll("#devices tbody tr[data-mac]").length`))
		if err != nil || rows != min(50, n) && tenant == tg.big {
			return 0, fmt.Errorf("%d rows on the first page (%v)", rows, err)
		}
		return ms, nil
	}
	measure := func(tenant string) (float64, error) { return measureOn(cur, tenant) }
	big, small, d, login := cur.big, cur.small, cur.d, struct{ Token string }{cur.token}
	// One warm-up load of each (the browser's cache of the console's files,
	// though with the self-signed certificate Chromium caches nothing).
	if _, err := measure(small); err != nil {
		return err
	}
	if _, err := measure(big); err != nil {
		return err
	}
	if prev != nil {
		if _, err := measureOn(prev, prev.big); err != nil {
			return err
		}
	}
	var bigMs, smallMs, prevMs []float64
	for i := 0; i < rounds; i++ {
		s, err := measure(small)
		if err != nil {
			return err
		}
		g, err := measure(big)
		if err != nil {
			return err
		}
		smallMs, bigMs = append(smallMs, s), append(bigMs, g)
		fmt.Fprintf(os.Stderr, "consolebench: round %d: 10 devices %.0f ms, %d devices %.0f ms\n", i+1, s, n, g)
		if prev != nil {
			p, err := measureOn(prev, prev.big)
			if err != nil {
				return err
			}
			prevMs = append(prevMs, p)
			fmt.Fprintf(os.Stderr, "consolebench: round %d: previous build, %d devices %.0f ms\n", i+1, n, p)
		}
	}
	// The API's share: the first page of devices asked directly, without a browser.
	apiMs := func(tenant string) (float64, error) {
		var v []float64
		for i := 0; i < 21; i++ {
			start := time.Now()
			if c, err := d.API("GET", "/tenants/"+tenant+"/devices?limit=50", login.Token, nil, nil); err != nil || c != 200 {
				return 0, fmt.Errorf("devices page: %d %v", c, err)
			}
			v = append(v, float64(time.Since(start).Microseconds())/1000)
		}
		return median(v), nil
	}
	apiBig, err := apiMs(big)
	if err != nil {
		return err
	}
	apiSmall, err := apiMs(small)
	if err != nil {
		return err
	}
	load := ""
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Fields(string(la))[0]
	}
	// A returning installer's browser: the certificate trusted (as a real one
	// is), so Chromium keeps the console's files and their compiled code;
	// interleaved with cold loads of the same page in the same run.
	warmMs, coldMs, err := warmLoads(cur, rounds, measureOn)
	if err != nil {
		return fmt.Errorf("warm loads: %w", err)
	}
	g, s := median(bigMs), median(smallMs)
	fmt.Printf("bench console-devices devices=%d first_page_ms=%.0f baseline_10_ms=%.0f ratio=%.2f api_ms=%.1f api_baseline_10_ms=%.1f rounds=%d target_ms=300 load=%s\n",
		n, g, s, g/s, apiBig, apiSmall, rounds, load)
	w, c := median(warmMs), median(coldMs)
	fmt.Printf("bench console-devices-warm devices=%d first_page_ms=%.0f cold_ms=%.0f ratio=%.2f rounds=%d target_ms=300 load=%s\n",
		n, w, c, w/c, rounds, load)
	if prev != nil {
		p := median(prevMs)
		fmt.Printf("bench console-devices-vs-previous devices=%d first_page_ms=%.0f previous_ms=%.0f ratio=%.2f rounds=%d load=%s\n",
			n, g, p, g/p, rounds, load)
	}
	return nil
}

// warmLoads measures tg's big tenant in a browser that trusts the daemon's
// certificate (its files cached from the second load on) and, interleaved,
// in the cold one tg has (a certificate error ignored: nothing is cached).
func warmLoads(tg *target, rounds int, measureOn func(*target, string) (float64, error)) (warm, cold []float64, err error) {
	spki, err := webuitest.SPKI(tg.d.HTTPS)
	if err != nil {
		return nil, nil, err
	}
	b, err := webuitest.StartBrowserTrusting(spki)
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	ctx, cancel := cdp.NewContext(b.Context(), cdp.WithNewBrowserContext())
	defer cancel()
	if err := cdp.Do(ctx, cdp.Navigate(tg.base),
		cdp.Evaluate[cdp.Void](`localStorage.setItem("sb.token", `+fmt.Sprintf("%q", tg.token)+`)`)); err != nil {
		return nil, nil, fmt.Errorf("browser: %w", err)
	}
	wt := *tg
	wt.ctx = ctx
	if _, err := measureOn(&wt, wt.big); err != nil { // fills the cache
		return nil, nil, err
	}
	for i := 0; i < rounds; i++ {
		w, err := measureOn(&wt, wt.big)
		if err != nil {
			return nil, nil, err
		}
		c, err := measureOn(tg, tg.big)
		if err != nil {
			return nil, nil, err
		}
		warm, cold = append(warm, w), append(cold, c)
		fmt.Fprintf(os.Stderr, "consolebench: round %d: trusted certificate (cached) %.0f ms, ignored certificate error (nothing cached) %.0f ms\n", i+1, w, c)
	}
	return warm, cold, nil
}

// seed makes a tenant with n devices, every one linked to its own account,
// imported as CSV (one transaction each).
func seed(d *webuitest.Daemon, token, name string, n int) (string, error) {
	var ten struct{ ID string }
	if c, err := d.API("POST", "/tenants", token, map[string]string{"name": name}, &ten); err != nil || c != 201 {
		return "", fmt.Errorf("tenant: %d %v", c, err)
	}
	var acc, dev bytes.Buffer
	acc.WriteString("extension,sip_password,display_name\n")
	dev.WriteString("mac,model,account_extension,enabled,notes\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&acc, "%d,Secret-%06d-pw,Person %d\n", 100000+i, i, i)
		fmt.Fprintf(&dev, "0015650%05X,yealink-t46u,%d,true,desk %d\n", i, 100000+i, i)
	}
	for _, up := range []struct {
		what string
		body *bytes.Buffer
	}{{"accounts", &acc}, {"devices", &dev}} {
		req, _ := http.NewRequest("POST", "https://"+d.HTTPS+"/api/v1/tenants/"+ten.ID+"/"+up.what+".csv", up.body)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := importClient.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("import %s: %d", up.what, resp.StatusCode)
		}
	}
	return ten.ID, nil
}

// importClient allows the long imports (the daemon's self-signed certificate).
var importClient = &http.Client{Timeout: 10 * time.Minute, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
}}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
