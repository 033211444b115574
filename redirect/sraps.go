package redirect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sraps is Snom's SRAPS REST API with Hawk authentication. The company and
// its endpoint collection are found by following links from the access key,
// and the provisioning URL is the value of the "setting_server" setting.
type sraps struct {
	e    Endpoint
	base *url.URL

	mu        sync.Mutex
	endpoints string // the company's endpoint collection URL, ending in "/"
	setting   string // uuid of the setting_server setting
}

func newSRAPS(e Endpoint, base *url.URL) *sraps {
	b := *base
	if !strings.HasSuffix(b.Path, "/") {
		b.Path += "/"
	}
	return &sraps{e: e, base: &b}
}

// resolve turns a link from an answer into a URL, refusing links to another
// host: the vendor's answers must not send our signed requests elsewhere.
func (c *sraps) resolve(ref string) (string, error) {
	u, err := c.base.Parse(ref)
	if err != nil || u.Host != c.base.Host || u.Scheme != c.base.Scheme {
		return "", vendorErr(ErrRejected, "link %q leaves %s", ref, c.base.Host)
	}
	return u.String(), nil
}

// do sends one Hawk-signed request; body is JSON-encoded when not nil.
func (c *sraps) do(ctx context.Context, method, rawURL string, body any) (int, []byte, http.Header, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, nil, nil, fmt.Errorf("redirect: %w", err)
		}
	}
	req, err := newRequest(ctx, method, rawURL, payload)
	if err != nil {
		return 0, nil, nil, err
	}
	port := req.URL.Port()
	if port == "" {
		port = "443"
		if req.URL.Scheme == "http" {
			port = "80"
		}
	}
	hr := HawkRequest{TS: strconv.FormatInt(time.Now().Unix(), 10), Nonce: randomHex(6), Method: method,
		PathQuery: req.URL.RequestURI(), Host: req.URL.Hostname(), Port: port}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
		hr.Hash = HawkPayloadHash("application/json", payload)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", HawkHeader(c.e.User, c.e.Secret, hr))
	status, answer, hdr, err := send(c.e.HTTP, req)
	if err != nil {
		return status, answer, hdr, err
	}
	if status == http.StatusUnauthorized {
		return status, answer, hdr, vendorErr(ErrBadCredentials, "HTTP 401: %s", srapsMessage(answer))
	}
	return status, answer, hdr, nil
}

// srapsMessage is the error text of a JSON answer (message, detail or error).
func srapsMessage(b []byte) string {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		s := strings.TrimSpace(string(b))
		if len(s) > 200 {
			s = s[:200]
		}
		return s
	}
	for _, k := range []string{"message", "detail", "error"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return strings.TrimSpace(string(b))
}

func srapsErr(status int, b []byte) error {
	msg := srapsMessage(b)
	l := strings.ToLower(msg)
	switch {
	case strings.Contains(l, "taken_mac_or_forbidden") || strings.Contains(l, "lacks permission") || status == http.StatusForbidden:
		return vendorErr(ErrOwned, "HTTP %d: %s", status, msg)
	case strings.Contains(l, "mac"):
		return vendorErr(ErrMalformedMAC, "HTTP %d: %s", status, msg)
	}
	return vendorErr(ErrRejected, "HTTP %d: %s", status, msg)
}

// getJSON fetches and decodes a JSON object.
func (c *sraps) getJSON(ctx context.Context, u string, v any) (http.Header, error) {
	status, b, hdr, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, srapsErr(status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, vendorErr(ErrRejected, "GET %s: bad JSON: %v", u, err)
	}
	return hdr, nil
}

type links struct {
	Links map[string]string `json:"links"`
}

var nextLink = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// setup finds the endpoint collection and the setting_server uuid once.
func (c *sraps) setup(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endpoints != "" && c.setting != "" {
		return c.endpoints, c.setting, nil
	}
	var tok links
	if _, err := c.getJSON(ctx, c.base.JoinPath("tokens", c.e.User).String(), &tok); err != nil {
		return "", "", err
	}
	company, err := c.resolve(tok.Links["company"])
	if err != nil || tok.Links["company"] == "" {
		return "", "", vendorErr(ErrRejected, "the access key has no company link")
	}
	var comp links
	if _, err := c.getJSON(ctx, company, &comp); err != nil {
		return "", "", err
	}
	eps, err := c.resolve(comp.Links["endpoints"])
	if err != nil || comp.Links["endpoints"] == "" {
		return "", "", vendorErr(ErrRejected, "the company has no endpoints link")
	}
	if !strings.HasSuffix(eps, "/") {
		eps += "/"
	}
	next := c.base.JoinPath("settings").String() + "/?page_size=1000"
	setting := ""
	for page := 0; next != "" && setting == "" && page < 50; page++ {
		var list []struct {
			UUID      string `json:"uuid"`
			ParamName string `json:"param_name"`
		}
		hdr, err := c.getJSON(ctx, next, &list)
		if err != nil {
			return "", "", err
		}
		for _, s := range list {
			if s.ParamName == "setting_server" {
				setting = s.UUID
			}
		}
		next = ""
		if m := nextLink.FindStringSubmatch(hdr.Get("Link")); m != nil {
			if next, err = c.resolve(m[1]); err != nil {
				return "", "", err
			}
		}
	}
	if setting == "" {
		return "", "", vendorErr(ErrRejected, "no setting_server among the SRAPS settings")
	}
	c.endpoints, c.setting = eps, setting
	return eps, setting, nil
}

func (c *sraps) Register(ctx context.Context, t Target) error {
	eps, setting, err := c.setup(ctx)
	if err != nil {
		return err
	}
	mac := lowerMAC(t.MAC)
	body := map[string]any{"mac": mac, "autoprovisioning_enabled": true,
		"settings_manager": map[string]any{setting: map[string]any{"value": t.url(c.e), "attrs": map[string]string{"perm": "RW"}}}}
	status, b, _, err := c.do(ctx, http.MethodPut, eps+mac, body)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return srapsErr(status, b)
	}
	return nil
}

func (c *sraps) Deregister(ctx context.Context, t Target) error {
	eps, _, err := c.setup(ctx)
	if err != nil {
		return err
	}
	status, b, _, err := c.do(ctx, http.MethodDelete, eps+lowerMAC(t.MAC), nil)
	if err != nil {
		return err
	}
	if status/100 != 2 && status != http.StatusNotFound {
		return srapsErr(status, b)
	}
	return nil
}

func (c *sraps) Check(ctx context.Context, t Target) (State, error) {
	eps, setting, err := c.setup(ctx)
	if err != nil {
		return StateUnknown, err
	}
	status, b, _, err := c.do(ctx, http.MethodGet, eps+lowerMAC(t.MAC), nil)
	if err != nil {
		return StateUnknown, err
	}
	switch {
	case status == http.StatusNotFound:
		return StateUnregistered, nil
	case status == http.StatusForbidden:
		return StateElsewhere, nil
	case status != http.StatusOK:
		return StateUnknown, srapsErr(status, b)
	}
	var ep struct {
		Enabled  bool `json:"autoprovisioning_enabled"`
		Settings map[string]struct {
			Value string `json:"value"`
		} `json:"settings_manager"`
	}
	if err := json.Unmarshal(b, &ep); err != nil {
		return StateUnknown, vendorErr(ErrRejected, "endpoint: bad JSON: %v", err)
	}
	if ep.Enabled && ep.Settings[setting].Value == t.url(c.e) {
		return StateRegistered, nil
	}
	return StateUnregistered, nil
}

func (c *sraps) Test(ctx context.Context) error {
	var tok links
	_, err := c.getJSON(ctx, c.base.JoinPath("tokens", c.e.User).String(), &tok)
	return err
}
