package redirect

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect/xmlrpc"
)

// Brands and API flavours.
const (
	BrandSnom    = "snom"
	BrandYealink = "yealink"
	BrandEscene  = "escene"
	BrandFanvil  = "fanvil"
	BrandGigaset = "gigaset"

	APISRAPS    = "sraps"    // Snom SRAPS REST with Hawk
	APIXMLRPC   = "xmlrpc"   // the legacy XML-RPC services
	APIYMCS     = "ymcs"     // Yealink YMCS v2 with OAuth2 client credentials
	APIFDPS     = "fdps"     // Fanvil FDPS (XML-RPC)
	APIAutoprov = "autoprov" // Gigaset autoprov (XML-RPC)
)

// apis lists each brand's flavours, the default first.
var apis = map[string][]string{
	BrandSnom:    {APISRAPS, APIXMLRPC},
	BrandYealink: {APIXMLRPC, APIYMCS},
	BrandEscene:  {APIXMLRPC},
	BrandFanvil:  {APIFDPS},
	BrandGigaset: {APIAutoprov},
}

// defaultBaseURL is each flavour's public service. Escene has none: its service
// is not documented, so its base URL must be configured (see doc.go).
func defaultBaseURL(brand, api string) string {
	switch brand + "/" + api {
	case "snom/sraps":
		return "https://api.sraps.snom.com/api/v1/"
	case "snom/xmlrpc":
		return "https://secure-provisioning.snom.com:8083/xmlrpc/"
	case "yealink/xmlrpc":
		return "https://api-dm.yealink.com:8443/xmlrpc"
	case "yealink/ymcs":
		return "https://eu-api.ymcs.yealink.com"
	case "fanvil/fdps":
		return "http://fdps.fanvil.com/xmlrpc.php"
	case "gigaset/autoprov":
		return "https://prov.gigaset.net/apxml/rpc.do"
	}
	return ""
}

// Error classes: the plain words a device's status shows.
const (
	ErrOwned          = "owned by another account"
	ErrMalformedMAC   = "malformed MAC"
	ErrBadCredentials = "bad credentials"
	ErrUnreachable    = "vendor unreachable"
	ErrRateLimited    = "rate limited"
	ErrRejected       = "refused by the vendor"
)

// Error is a failed vendor call, classified.
type Error struct {
	Class string
	// Detail is the vendor's own words (or the transport error), for the log.
	Detail string
	// RetryAfter is the vendor's requested pause (rate limits), 0 if none.
	RetryAfter time.Duration
	// fault is set when the vendor answered with an XML-RPC fault.
	fault *xmlrpc.Fault
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Class
	}
	return e.Class + ": " + e.Detail
}

func vendorErr(class, format string, args ...any) *Error {
	return &Error{Class: class, Detail: fmt.Sprintf(format, args...)}
}

// ClassOf is the error class of err ("" for nil, ErrRejected for an unclassified one).
func ClassOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrUnreachable
	}
	return ErrRejected
}

// State is what the vendor says about a MAC.
type State int

// Vendor states of a MAC.
const (
	StateUnknown      State = iota // the service has no check call
	StateUnregistered              // not registered (or registered with a stale target)
	StateRegistered                // registered for us, to our target
	StateElsewhere                 // registered by another account
)

func (s State) String() string {
	return [...]string{"unknown", "unregistered", "registered", "registered elsewhere"}[s]
}

// Target is one device as a vendor sees it.
type Target struct {
	MAC  string // 12 upper-case hex digits
	Code string // Gigaset: the 4-character code after the MAC on the label
	// URL is where this phone is redirected: its own secret directory in
	// the tenant's tree (see provision.DeviceDir); "" = the endpoint's URL.
	URL string
}

// url is where t is redirected under endpoint e.
func (t Target) url(e Endpoint) string {
	if t.URL != "" {
		return t.URL
	}
	return e.URL
}

// Client talks to one redirection account.
type Client interface {
	// Register points the MAC at our provisioning URL or server.
	Register(ctx context.Context, t Target) error
	// Deregister removes the MAC; a MAC that is not registered is not an error.
	Deregister(ctx context.Context, t Target) error
	// Check asks where the MAC stands.
	Check(ctx context.Context, t Target) (State, error)
	// Test checks the credentials without changing anything.
	Test(ctx context.Context) error
}

// Endpoint is everything a client needs: one redirection server's settings
// with its decrypted credentials.
type Endpoint struct {
	Brand, API string
	BaseURL    string // "" = the flavour's public service
	User       string // Hawk key id, OAuth2 client id or Basic user name
	Secret     string
	ServerName string // Yealink/Escene/YMCS: the server defined in the vendor GUI
	URL        string // where phones are redirected (Snom, Gigaset, Fanvil, YMCS without a server)
	Override   bool   // Yealink: take over a MAC registered by another account
	HTTP       *http.Client
}

// NewClient returns the client of e's brand and flavour.
func NewClient(e Endpoint) (Client, error) {
	if e.BaseURL == "" {
		e.BaseURL = defaultBaseURL(e.Brand, e.API)
	}
	u, err := url.Parse(e.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("redirect: base URL %q is not an http(s)://host/path URL", e.BaseURL)
	}
	if e.HTTP == nil {
		e.HTTP = &http.Client{Timeout: 15 * time.Second}
	}
	switch e.Brand + "/" + e.API {
	case "snom/sraps":
		return newSRAPS(e, u), nil
	case "snom/xmlrpc":
		return &snomXML{rpc: rpc{e: e, url: e.BaseURL}}, nil
	case "yealink/xmlrpc", "escene/xmlrpc":
		return &yealinkXML{rpc: rpc{e: e, url: e.BaseURL}}, nil
	case "yealink/ymcs":
		return &ymcs{e: e, base: strings.TrimRight(e.BaseURL, "/")}, nil
	case "fanvil/fdps":
		r := rpc{e: e, url: e.BaseURL}
		r.e.Secret = fanvilPassword(e.Secret)
		return &fanvil{yealinkXML{rpc: r}}, nil
	case "gigaset/autoprov":
		return &gigaset{rpc: rpc{e: e, url: e.BaseURL}}, nil
	}
	return nil, fmt.Errorf("redirect: no client for brand %q with api %q", e.Brand, e.API)
}

// ---- HTTP plumbing shared by the clients ----

const maxAnswer = 4 << 20

// send performs req and returns the status and body, classifying transport
// failures, 429 and 5xx answers. Other statuses are the caller's to judge.
func send(c *http.Client, req *http.Request) (int, []byte, http.Header, error) {
	req.Header.Set("User-Agent", "switchboard-redirect/1")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, &Error{Class: ErrUnreachable, Detail: transportDetail(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return 0, nil, nil, &Error{Class: ErrUnreachable, Detail: "reading the answer: " + transportDetail(err)}
	}
	if len(body) > maxAnswer {
		return 0, nil, nil, vendorErr(ErrRejected, "answer larger than %d bytes", maxAnswer)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return resp.StatusCode, body, resp.Header, &Error{Class: ErrRateLimited, Detail: "HTTP 429",
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case resp.StatusCode >= 500:
		return resp.StatusCode, body, resp.Header, vendorErr(ErrUnreachable, "HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, body, resp.Header, nil
}

func transportDetail(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// retryAfter parses Retry-After (seconds or an HTTP date); 0 when absent or bad.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 24*time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

func newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	return req, nil
}

func lowerMAC(m string) string { return strings.ToLower(m) }
