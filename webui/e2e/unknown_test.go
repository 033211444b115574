package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestUnknownPaged: 300 phones nobody configured ask for their files; the
// page shows them 50 at a time, paged by the server (each phone on exactly
// one page, newest first), and adopting one from the second page leaves 299.
// Its own daemon: the list's bounds (per-source throttle, new phones per
// second) are raised so that 300 phones from one test join it at once.
func TestUnknownPaged(t *testing.T) {
	env := webuitest.Shared(t) // the browser
	d, err := webuitest.StartDaemon(webuitest.Binary(t),
		"tenancy:\n  mode: multi\nprovisioning:\n  unknown_burst: 1000\n  unknown_new_burst: 1000\n")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	d.AddUser(t, "paged-admin", "paged-admin-password", "admin", "")
	token := d.Login(t, "paged-admin", "paged-admin-password")
	var ten struct{ ID string }
	if code, err := d.API("POST", "/tenants", token, map[string]string{"name": "paged"}, &ten); err != nil || code != 201 {
		t.Fatalf("tenant: %d %v", code, err)
	}
	if code, err := d.API("POST", "/tenants/"+ten.ID+"/accounts", token, map[string]string{"extension": "201", "display_name": "Ada Lovelace", "sip_password": "Secret-201-pw"}, nil); err != nil || code != 201 {
		t.Fatalf("account: %d %v", code, err)
	}

	const phones = 300
	var wg sync.WaitGroup
	errs := make(chan error, phones)
	sem := make(chan struct{}, 8)
	for i := 0; i < phones; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			mac := fmt.Sprintf("0015657%05x", i)
			req, _ := http.NewRequest("GET", "https://"+d.HTTPS+"/provisioning/"+ten.ID+"/"+mac+".cfg", nil)
			req.Header.Set("User-Agent", "Yealink SIP-T46U 108.86.0.20 "+mac)
			resp, err := webuitest.Client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				errs <- fmt.Errorf("%s: %d", mac, resp.StatusCode)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unknown phone's request: %v", err)
	}
	var list struct {
		Total int `json:"total"`
	}
	waitFor(t, "300 phones listed", func() bool {
		code, err := d.API("GET", "/tenants/"+ten.ID+"/unknown-devices?limit=1", token, nil, &list)
		return err == nil && code == 200 && list.Total == phones
	})

	// The console opens on the tenant the user chose last.
	if code, err := d.API("PUT", "/me/preferences", token, map[string]string{"tenant": ten.ID}, nil); err != nil || code != 200 {
		t.Fatalf("preference: %d %v", code, err)
	}
	p := env.B.NewPage(t, "https://"+d.HTTPS+"/", "en")
	p.Login("paged-admin", "paged-admin-password")
	seen := map[string]int{}
	for page := 0; page < 6; page++ {
		if page == 0 {
			p.Go("unknown")
		} else {
			p.Click(`#unknown-pager [data-go="next"]`)
			p.Reshown(fmt.Sprintf("unknown?offset=%d", page*50))
		}
		macs := webuitest.Eval[[]string](p, `[...document.querySelectorAll("#unknown tbody tr[data-mac]")].map(r => r.dataset.mac)`)
		if len(macs) != 50 {
			t.Fatalf("page %d: %d rows", page+1, len(macs))
		}
		for _, m := range macs {
			seen[m]++
		}
		want := fmt.Sprintf("%d–%d of 300", page*50+1, page*50+50)
		if s := p.Text("#unknown-pager"); !strings.Contains(s, want) {
			t.Errorf("page %d pager: %q, want %q", page+1, s, want)
		}
		if page == 0 {
			p.Shot("first")
		}
	}
	if len(seen) != phones {
		t.Errorf("%d distinct phones over the 6 pages, want %d", len(seen), phones)
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("%s on %d pages", m, n)
		}
	}
	if n := p.Count(`#unknown-pager [data-go="next"]:not([disabled])`); n != 0 {
		t.Errorf("the last page offers a next page")
	}
	p.Click(`#unknown-pager [data-go="first"]`)
	p.Reshown("unknown?offset=0")

	// Adopt from the second page.
	p.Click(`#unknown-pager [data-go="next"]`)
	p.Reshown("unknown?offset=50")
	mac := webuitest.Eval[string](p, `document.querySelector("#unknown tbody tr[data-mac]").dataset.mac`)
	sel := `#unknown form[data-mac="` + mac + `"]`
	p.Fill(sel, "account_extension", "201")
	p.Click(sel + " button[type=submit]")
	p.Reshown("unknown?offset=50")
	if s := p.Text("main .msg.ok"); !strings.Contains(s, "Adopted "+mac+" as Yealink T46U") {
		t.Errorf("adopt message: %q", s)
	}
	if s := p.Text("#unknown-pager"); !strings.Contains(s, "51–100 of 299") {
		t.Errorf("after adopting: %q", s)
	}
	if p.Count(`#unknown tr[data-mac="`+mac+`"]`) != 0 {
		t.Errorf("the adopted phone is still listed")
	}
}
