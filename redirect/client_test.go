package redirect_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/redirect/redirecttest"
)

// flavour is one client against its double.
type flavour struct {
	name   string
	double *redirecttest.Double
	ep     redirect.Endpoint
	// where the double records a registration of ours
	target string
	checks bool // the service has a check call
	code   string
}

const provURL = "http://127.0.0.1:1/provisioning/"

func flavours(t *testing.T) []flavour {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	sraps := redirecttest.NewSRAPS("key1", "s3cret-hawk")
	snom := redirecttest.NewSnom("snomuser", "snompass")
	yea := redirecttest.NewYealink("yuser", "ypass")
	yea.AddServer("PBX Main", provURL)
	esc := redirecttest.NewEscene("/api/xmlrpc", "euser", "epass")
	esc.AddServer("pbx", provURL)
	ym := redirecttest.NewYMCS("client-1", "ymcs-secret")
	ymServer := ym.AddServer("Switchboard")
	fan := redirecttest.NewFanvil("fuser", "fpass")
	gig := redirecttest.NewGigaset("guser", "gpass")
	for _, c := range []interface{ Close() }{sraps, snom, yea, esc, ym, fan, gig} {
		t.Cleanup(c.Close)
	}
	return []flavour{
		{name: "snom sraps", double: sraps.Double, target: provURL, checks: true, ep: redirect.Endpoint{Brand: "snom", API: "sraps",
			BaseURL: sraps.URL() + "/api/v1/", User: "key1", Secret: "s3cret-hawk", URL: provURL, HTTP: hc}},
		{name: "snom xmlrpc", double: snom.Double, target: provURL, checks: true, ep: redirect.Endpoint{Brand: "snom", API: "xmlrpc",
			BaseURL: snom.URL() + "/xmlrpc/", User: "snomuser", Secret: "snompass", URL: provURL, HTTP: hc}},
		{name: "yealink xmlrpc", double: yea.Double, target: "PBX Main", checks: true, ep: redirect.Endpoint{Brand: "yealink", API: "xmlrpc",
			BaseURL: yea.URL() + "/xmlrpc", User: "yuser", Secret: "ypass", ServerName: "PBX Main", HTTP: hc}},
		{name: "escene xmlrpc", double: esc.Double, target: "pbx", checks: true, ep: redirect.Endpoint{Brand: "escene", API: "xmlrpc",
			BaseURL: esc.URL() + "/api/xmlrpc", User: "euser", Secret: "epass", ServerName: "pbx", HTTP: hc}},
		{name: "yealink ymcs", double: ym.Double, target: ymServer, checks: true, ep: redirect.Endpoint{Brand: "yealink", API: "ymcs",
			BaseURL: ym.URL(), User: "client-1", Secret: "ymcs-secret", ServerName: "Switchboard", HTTP: hc}},
		{name: "fanvil fdps", double: fan.Double, target: provURL, ep: redirect.Endpoint{Brand: "fanvil", API: "fdps",
			BaseURL: fan.URL() + "/xmlrpc.php", User: "fuser", Secret: "fpass", URL: provURL, HTTP: hc}},
		{name: "gigaset autoprov", double: gig.Double, target: provURL, code: "AB12", ep: redirect.Endpoint{Brand: "gigaset", API: "autoprov",
			BaseURL: gig.URL() + "/apxml/rpc.do", User: "guser", Secret: "gpass", URL: provURL, HTTP: hc}},
	}
}

func class(t *testing.T, err error, want string) {
	t.Helper()
	var e *redirect.Error
	if !errors.As(err, &e) || e.Class != want {
		t.Fatalf("error = %v, want class %q", err, want)
	}
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	for _, f := range flavours(t) {
		t.Run(f.name, func(t *testing.T) {
			c, err := redirect.NewClient(f.ep)
			if err != nil {
				t.Fatal(err)
			}
			dev := redirect.Target{MAC: "000413AABBCC", Code: f.code}
			dev2 := redirect.Target{MAC: "000413DDEEFF", Code: f.code}

			if err := c.Test(ctx); err != nil {
				t.Fatalf("test connection: %v", err)
			}
			t.Run("register", func(t *testing.T) {
				if err := c.Register(ctx, dev); err != nil {
					t.Fatal(err)
				}
				if got, ok := f.double.Registered(dev.MAC); !ok || got != f.target {
					t.Fatalf("double has %q %v, want %q", got, ok, f.target)
				}
				if f.checks {
					if st, err := c.Check(ctx, dev); err != nil || st != redirect.StateRegistered {
						t.Fatalf("check = %v, %v", st, err)
					}
				}
			})
			t.Run("re-register", func(t *testing.T) {
				// Registering again (the daemon restarted mid-way) is not an error...
				if err := c.Register(ctx, dev); err != nil {
					t.Fatal(err)
				}
				// ...and a MAC change is deregister old + register new.
				if err := c.Deregister(ctx, dev); err != nil {
					t.Fatal(err)
				}
				if err := c.Register(ctx, dev2); err != nil {
					t.Fatal(err)
				}
				if _, ok := f.double.Registered(dev.MAC); ok {
					t.Fatal("old MAC still registered")
				}
				if _, ok := f.double.Registered(dev2.MAC); !ok {
					t.Fatal("new MAC not registered")
				}
			})
			t.Run("deregister", func(t *testing.T) {
				if err := c.Deregister(ctx, dev2); err != nil {
					t.Fatal(err)
				}
				if f.double.Devices() != 0 {
					t.Fatalf("double still has %d devices", f.double.Devices())
				}
				if err := c.Deregister(ctx, dev2); err != nil {
					t.Fatalf("deregistering an unregistered MAC: %v", err)
				}
				st, err := c.Check(ctx, dev2)
				want := redirect.StateUnregistered
				if !f.checks {
					want = redirect.StateUnknown
				}
				if err != nil || st != want {
					t.Fatalf("check = %v, %v; want %v", st, err, want)
				}
			})
			t.Run("owned by other", func(t *testing.T) {
				other := redirect.Target{MAC: "000413121212", Code: f.code}
				f.double.Own(other.MAC)
				class(t, c.Register(ctx, other), redirect.ErrOwned)
				// YMCS lists only the organisation's own devices: it cannot say.
				if f.checks && f.ep.API != "ymcs" {
					if st, err := c.Check(ctx, other); err != nil || st != redirect.StateElsewhere {
						t.Fatalf("check = %v, %v", st, err)
					}
				}
			})
			t.Run("malformed MAC", func(t *testing.T) {
				bad := redirect.Target{MAC: "00041ZZZZZZZ", Code: f.code}
				class(t, c.Register(ctx, bad), redirect.ErrMalformedMAC)
			})
			t.Run("bad credentials", func(t *testing.T) {
				ep := f.ep
				ep.Secret = "wrong"
				bc, err := redirect.NewClient(ep)
				if err != nil {
					t.Fatal(err)
				}
				before := f.double.AuthFailures()
				class(t, bc.Test(ctx), redirect.ErrBadCredentials)
				class(t, bc.Register(ctx, dev), redirect.ErrBadCredentials)
				if f.double.AuthFailures() <= before {
					t.Fatal("the double did not see the bad authentication")
				}
			})
			t.Run("rate limited", func(t *testing.T) {
				f.double.RateLimit(1, "7")
				err := c.Register(ctx, dev)
				class(t, err, redirect.ErrRateLimited)
				var e *redirect.Error
				errors.As(err, &e)
				if e.RetryAfter != 7*time.Second {
					t.Fatalf("RetryAfter = %v", e.RetryAfter)
				}
				if err := c.Register(ctx, dev); err != nil {
					t.Fatalf("after the limit: %v", err)
				}
			})
			t.Run("outage", func(t *testing.T) {
				f.double.SetDown(true)
				class(t, c.Register(ctx, dev2), redirect.ErrUnreachable)
				class(t, c.Deregister(ctx, dev), redirect.ErrUnreachable)
				f.double.SetDown(false)
				if err := c.Deregister(ctx, dev); err != nil {
					t.Fatalf("after the outage: %v", err)
				}
			})
		})
	}
}

func TestYMCSTokenCache(t *testing.T) {
	ym := redirecttest.NewYMCS("id", "secret")
	defer ym.Close()
	ym.AddServer("S")
	c, err := redirect.NewClient(redirect.Endpoint{Brand: "yealink", API: "ymcs", BaseURL: ym.URL(), User: "id", Secret: "secret", ServerName: "S"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, mac := range []string{"001565000001", "001565000002", "001565000003"} {
		if err := c.Register(ctx, redirect.Target{MAC: mac}); err != nil {
			t.Fatal(err)
		}
	}
	if n := ym.Calls("token"); n != 1 {
		t.Fatalf("%d token requests for 3 registrations, want 1 (cached)", n)
	}
	// A token the server no longer accepts is renewed once, transparently.
	ym.ExpireTokens()
	if err := c.Deregister(ctx, redirect.Target{MAC: "001565000001"}); err != nil {
		t.Fatal(err)
	}
	if n := ym.Calls("token"); n != 2 {
		t.Fatalf("%d token requests after expiry, want 2", n)
	}
	// A token that expires by its expires_in is renewed before use.
	ym2 := redirecttest.NewYMCS("id", "secret")
	defer ym2.Close()
	ym2.TokenTTL = 60 * time.Second // the client renews a minute early: always stale
	c2, _ := redirect.NewClient(redirect.Endpoint{Brand: "yealink", API: "ymcs", BaseURL: ym2.URL(), User: "id", Secret: "secret", URL: provURL})
	for i := 0; i < 2; i++ {
		if err := c2.Test(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := ym2.Calls("token"); n != 2 {
		t.Fatalf("%d token requests with short-lived tokens, want 2", n)
	}
}

func TestSRAPSRefusesForeignLinks(t *testing.T) {
	// A link to another host must not receive our signed requests.
	srv := http.NewServeMux()
	srv.HandleFunc("/api/v1/tokens/k", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"links":{"company":"http://192.0.2.1/api/v1/companies/x/"}}`))
	})
	d := newLoopback(t, srv)
	c, _ := redirect.NewClient(redirect.Endpoint{Brand: "snom", API: "sraps", BaseURL: d + "/api/v1/", User: "k", Secret: "s", URL: provURL})
	class(t, c.Register(context.Background(), redirect.Target{MAC: "000413000001"}), redirect.ErrRejected)
}
