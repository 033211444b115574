package provision_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// TestUnknownListBounded (F3): a flood of sightings of new MACs (what spoofed
// TFTP sources produce, which no per-source budget stops) adds at most the
// global budget of new phones, the tenant's list keeps at most its cap, evicting
// the phones seen least recently, and a listed phone seen again is refreshed
// whatever the budget.
func TestUnknownListBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := provision.DefaultConfig()
	cfg.BaseURL = "http://127.0.0.1"
	cfg.UnknownMaxPerTenant, cfg.UnknownNewBurst, cfg.UnknownNewInterval = 20, 30, time.Hour
	prov, err := provision.New(st, provision.TenancyConfig{Mode: provision.ModeSingle, DefaultTenant: "default"}, cfg,
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ten, err := prov.EnsureDefaultTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { prov.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// list waits until the marker phone shows userAgent: every sighting queued
	// before it has been handled (the queue is handled in order).
	const marker = "0015650000FF"
	list := func(userAgent string) []store.UnknownDevice {
		t.Helper()
		prov.SeeUnknown(ten.ID, marker, "192.0.2.1", userAgent, "marker.cfg")
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			l, err := prov.UnknownDevices(ctx, ten.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range l {
				if u.MAC == marker && u.UserAgent == userAgent {
					return l
				}
			}
		}
		t.Fatalf("marker with %q never listed", userAgent)
		return nil
	}
	list("start") // the marker is the first new phone
	for i := 0; i < 300; i++ {
		prov.SeeUnknown(ten.ID, fmt.Sprintf("0015651%05X", i), fmt.Sprintf("198.18.%d.%d", i/250, i%250), "flood", "x.cfg")
		switch {
		case i%100 == 99:
			list(fmt.Sprint("after ", i)) // keep the queue from overflowing
		case i%5 == 4:
			// Seen often, like a real phone: never the least recently seen.
			prov.SeeUnknown(ten.ID, marker, "192.0.2.1", "refresh", "marker.cfg")
		}
	}
	got := list("end")
	if len(got) > 20 {
		t.Fatalf("the list holds %d phones, cap 20", len(got))
	}
	have := map[string]bool{}
	for _, u := range got {
		have[u.MAC] = true
	}
	// Budget 30: the marker and the first 29 of the flood were added; of those,
	// the cap keeps the 20 seen last: the marker (refreshed) and flood 10..28.
	for i := 0; i < 300; i++ {
		mac := fmt.Sprintf("0015651%05X", i)
		if want := i >= 10 && i <= 28; have[mac] != want {
			t.Errorf("flood phone %d listed=%v, want %v", i, have[mac], want)
		}
	}
	if !have[marker] {
		t.Error("the refreshed marker was evicted")
	}
}
