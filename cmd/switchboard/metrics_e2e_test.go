package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// scrape returns the daemon's /metrics text.
func (d *testDaemon) scrape(t *testing.T) string {
	t.Helper()
	resp, err := insecure.Get("https://" + d.https + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// families are the metric names of an exposition, with the series names of
// histograms and summaries (_bucket, _sum, _count) mapped to them.
func families(text string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					out[f[2]+s] = true
				}
			}
		}
	}
	return out
}

// TestMetricsAndGrafanaDashboard scrapes the real daemon after some TFTP and
// HTTP traffic: the TFTP series and switchboard_build_info{version,commit}
// are there, and every metric the shipped Grafana dashboard queries is one the
// daemon exports.
func TestMetricsAndGrafanaDashboard(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	// TFTP: a malformed packet and a request for an unknown file.
	// The error for a request comes from the transfer's own port: an
	// unconnected socket sees it.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server, err := net.ResolveUDPAddr("udp", d.tftp)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for _, pkt := range [][]byte{{0, 1}, append([]byte{0, 1}, "nothing.cfg\x00octet\x00"...)} {
		c.WriteTo(pkt, server)
		if n, _, err := c.ReadFrom(buf); err != nil || n < 4 || buf[1] != 5 {
			t.Fatalf("tftp answer %q %v", buf[:n], err)
		}
	}
	if resp, err := http.Get("http://" + d.plain + "/provisioning/nothing.cfg"); err == nil {
		resp.Body.Close()
	}
	text := d.scrape(t)
	for _, re := range []string{
		`(?m)^switchboard_build_info\{commit="[^"]+",goversion="go[^"]+",version="[^"]+"\} 1$`,
		`(?m)^switchboard_tftp_requests_total\{result="malformed",tenant="none"\} 1$`,
		`(?m)^switchboard_tftp_requests_total\{result="not_found",tenant="[0-9a-f-]{36}"\} 1$`,
		`(?m)^switchboard_tftp_sent_bytes_total\{tenant="none"\} 0$`,
		`(?m)^switchboard_tftp_throttled_total 0$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("/metrics has no line matching %s", re)
		}
	}

	exported := families(text)
	b, err := os.ReadFile("../../packaging/grafana/switchboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	// Metric names in PromQL: identifiers not followed by "(" (functions) and
	// not inside braces or strings (labels); "le", "by" etc. are filtered by
	// the names the exposition uses.
	name := regexp.MustCompile(`\b((?:switchboard|process|go)_[a-z_]+)\b`)
	var missing []string
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			ms := name.FindAllString(tg.Expr, -1)
			if len(ms) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, tg.Expr)
			}
			for _, m := range ms {
				queried++
				if !exported[m] {
					missing = append(missing, m+" (panel "+p.Title+")")
				}
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard queries metrics the daemon does not export:\n  %s", strings.Join(missing, "\n  "))
	}
	if queried < 10 {
		t.Errorf("only %d metric references in the dashboard", queried)
	}
}
