package redirecttest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Double is the state and the controls every double shares.
type Double struct {
	srv *httptest.Server

	mu         sync.Mutex
	down       bool
	limited    int // the next n requests are refused as rate-limited
	retryAfter string
	calls      map[string]int
	authFails  int
	devices    map[string]string // MAC (12 upper-case hex) -> where it points
	owned      map[string]bool   // MACs registered by another account
	rateBody   func(w http.ResponseWriter)
	handle     func(w http.ResponseWriter, r *http.Request)
	delay      time.Duration
	requests   int
	inFlight   int
	maxFlight  int
}

func newDouble(h func(w http.ResponseWriter, r *http.Request), rateBody func(w http.ResponseWriter)) *Double {
	d := &Double{calls: map[string]int{}, devices: map[string]string{}, owned: map[string]bool{}, handle: h, rateBody: rateBody}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	return d
}

// URL is the double's base address (http://127.0.0.1:port).
func (d *Double) URL() string { return d.srv.URL }

// Close stops the server.
func (d *Double) Close() { d.srv.Close() }

// SetDown drops every connection without an answer while down is true.
func (d *Double) SetDown(down bool) { d.mu.Lock(); d.down = down; d.mu.Unlock() }

// RateLimit refuses the next n requests as rate-limited, with Retry-After.
func (d *Double) RateLimit(n int, retryAfter string) {
	d.mu.Lock()
	d.limited, d.retryAfter = n, retryAfter
	d.mu.Unlock()
}

// Own marks mac as registered by another account.
func (d *Double) Own(mac string) { d.mu.Lock(); d.owned[norm(mac)] = true; d.mu.Unlock() }

// Registered says where mac points, if it is registered on this account.
func (d *Double) Registered(mac string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.devices[norm(mac)]
	return v, ok
}

// Devices is how many MACs this account has registered.
func (d *Double) Devices() int { d.mu.Lock(); defer d.mu.Unlock(); return len(d.devices) }

// Calls counts requests by operation name (method name, or "METHOD path-kind").
func (d *Double) Calls(op string) int { d.mu.Lock(); defer d.mu.Unlock(); return d.calls[op] }

// AuthFailures counts requests refused for their authentication.
func (d *Double) AuthFailures() int { d.mu.Lock(); defer d.mu.Unlock(); return d.authFails }

func (d *Double) count(op string) { d.mu.Lock(); d.calls[op]++; d.mu.Unlock() }

func (d *Double) authFailed() { d.mu.Lock(); d.authFails++; d.mu.Unlock() }

// SetDelay makes every answer take at least delay (a slow vendor).
func (d *Double) SetDelay(delay time.Duration) { d.mu.Lock(); d.delay = delay; d.mu.Unlock() }

// Requests counts every request that reached the double, outages included.
func (d *Double) Requests() int { d.mu.Lock(); defer d.mu.Unlock(); return d.requests }

// MaxInFlight is the most requests the double has had open at once.
func (d *Double) MaxInFlight() int { d.mu.Lock(); defer d.mu.Unlock(); return d.maxFlight }

func (d *Double) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.requests++
	d.inFlight++
	d.maxFlight = max(d.maxFlight, d.inFlight)
	delay := d.delay
	d.mu.Unlock()
	defer func() { d.mu.Lock(); d.inFlight--; d.mu.Unlock() }()
	if delay > 0 {
		time.Sleep(delay)
	}
	d.mu.Lock()
	down, limited := d.down, d.limited > 0
	if limited {
		d.limited--
	}
	ra := d.retryAfter
	d.mu.Unlock()
	if down {
		// An outage: the connection dies without an answer.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if limited {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		d.rateBody(w)
		return
	}
	d.handle(w, r)
}

// norm is a MAC without separators, upper-case; "" when it is not 12 hex digits.
func norm(mac string) string {
	m := strings.ToUpper(strings.NewReplacer(":", "", "-", "", " ", "", ".", "").Replace(mac))
	if len(m) != 12 || strings.Trim(m, "0123456789ABCDEF") != "" {
		return ""
	}
	return m
}

func plain429(w http.ResponseWriter) {
	http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
}

// Forget drops mac from the account, as when someone removes it in the
// vendor's portal.
func (d *Double) Forget(mac string) { d.mu.Lock(); delete(d.devices, norm(mac)); d.mu.Unlock() }
