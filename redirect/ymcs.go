package redirect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ymcs is Yealink's YMCS v2 API: an OAuth2 client-credentials token (cached
// until shortly before it expires) and timestamp/nonce headers on every call.
type ymcs struct {
	e    Endpoint
	base string

	mu       sync.Mutex
	token    string
	expires  time.Time
	serverID string
}

// YMCS error codes of the reference note.
const (
	ymcsInvalidMAC  = 800001
	ymcsExists      = 800003
	ymcsOtherOrg    = 800004
	ymcsUnauth      = 900401
	ymcsForbidden   = 900403
	ymcsRateLimited = 900429
)

type ymcsAnswer struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func ymcsErr(a ymcsAnswer, hdr http.Header) error {
	switch a.Code {
	case ymcsInvalidMAC:
		return vendorErr(ErrMalformedMAC, "%d %s", a.Code, a.Message)
	case ymcsOtherOrg:
		return vendorErr(ErrOwned, "%d %s", a.Code, a.Message)
	case ymcsUnauth, ymcsForbidden:
		return vendorErr(ErrBadCredentials, "%d %s", a.Code, a.Message)
	case ymcsRateLimited:
		ra := time.Duration(0)
		if hdr != nil {
			ra = retryAfter(hdr.Get("Retry-After"), time.Now())
		}
		return &Error{Class: ErrRateLimited, Detail: fmt.Sprintf("%d %s", a.Code, a.Message), RetryAfter: ra}
	}
	return vendorErr(ErrRejected, "%d %s", a.Code, a.Message)
}

func (c *ymcs) getToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Before(c.expires) {
		return c.token, nil
	}
	req, err := newRequest(ctx, http.MethodPost, c.base+"/v2/token", []byte(`{"grant_type":"client_credentials"}`))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(c.e.User, c.e.Secret)
	req.Header.Set("Content-Type", "application/json")
	c.stamp(req)
	status, b, hdr, err := send(c.e.HTTP, req)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		ymcsAnswer
	}
	if jerr := json.Unmarshal(b, &tok); jerr != nil && status == http.StatusOK {
		return "", vendorErr(ErrRejected, "token: bad JSON: %v", jerr)
	}
	if tok.AccessToken == "" && len(tok.Data) > 0 {
		json.Unmarshal(tok.Data, &tok) //nolint:errcheck // shape UNVERIFIED: the token may sit in "data"
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "", vendorErr(ErrBadCredentials, "token: HTTP %d %s", status, tok.Message)
	case tok.Code != 0 && tok.AccessToken == "":
		return "", ymcsErr(tok.ymcsAnswer, hdr)
	case status != http.StatusOK || tok.AccessToken == "":
		return "", vendorErr(ErrRejected, "token: HTTP %d without a token", status)
	}
	if tok.ExpiresIn <= 0 {
		tok.ExpiresIn = 3600
	}
	// Renew a minute early so that a token never expires in flight.
	c.token, c.expires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second-time.Minute)
	return c.token, nil
}

func (c *ymcs) stamp(req *http.Request) {
	req.Header.Set("timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10))
	req.Header.Set("nonce", randomHex(16))
}

// call POSTs body to path and returns the answer's data; a rejected cached token
// is dropped and the call made once more with a new one.
func (c *ymcs) call(ctx context.Context, path string, body any) (int, json.RawMessage, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return 0, nil, fmt.Errorf("redirect: %w", err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.getToken(ctx)
		if err != nil {
			return 0, nil, err
		}
		req, err := newRequest(ctx, http.MethodPost, c.base+path, payload)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		c.stamp(req)
		status, b, hdr, err := send(c.e.HTTP, req)
		if err != nil {
			return status, nil, err
		}
		var a ymcsAnswer
		if len(strings.TrimSpace(string(b))) > 0 {
			if err := json.Unmarshal(b, &a); err != nil {
				return status, nil, vendorErr(ErrRejected, "%s: HTTP %d, bad JSON", path, status)
			}
		}
		if status == http.StatusUnauthorized && a.Code == 0 {
			a.Code = ymcsUnauth
		}
		if a.Code == ymcsUnauth && attempt == 0 {
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			continue
		}
		if a.Code != 0 && a.Code != 200 {
			return status, nil, ymcsErr(a, hdr)
		}
		if status/100 != 2 {
			return status, nil, vendorErr(ErrRejected, "%s: HTTP %d", path, status)
		}
		if len(a.Data) == 0 {
			a.Data = b
		}
		return status, a.Data, nil
	}
}

// server resolves the configured server name to its id (once).
func (c *ymcs) server(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.serverID
	c.mu.Unlock()
	if id != "" || c.e.ServerName == "" {
		return id, nil
	}
	_, data, err := c.call(ctx, "/v2/rps/listServers", map[string]any{"skip": 0, "limit": 100, "autoCount": true})
	if err != nil {
		return "", err
	}
	list, err := ymcsItems(data)
	if err != nil {
		return "", err
	}
	for _, s := range list {
		if s["serverName"] == c.e.ServerName || s["name"] == c.e.ServerName {
			id, _ = s["id"].(string)
		}
	}
	if id == "" {
		return "", vendorErr(ErrRejected, "the server name %q is not defined at the vendor", c.e.ServerName)
	}
	c.mu.Lock()
	c.serverID = id
	c.mu.Unlock()
	return id, nil
}

// ymcsItems reads a list answer: a bare array or {"data":[...]} / {"items":[...]}.
func ymcsItems(data json.RawMessage) ([]map[string]any, error) {
	var list []map[string]any
	if json.Unmarshal(data, &list) == nil {
		return list, nil
	}
	var wrapped struct {
		Data  []map[string]any `json:"data"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return nil, vendorErr(ErrRejected, "list: bad JSON: %v", err)
	}
	return append(wrapped.Data, wrapped.Items...), nil
}

func (c *ymcs) Register(ctx context.Context, t Target) error {
	id, err := c.server(ctx)
	if err != nil {
		return err
	}
	body := map[string]any{"mac": t.MAC}
	if id != "" {
		body["serverId"] = id
	} else {
		body["uniqueServerUrl"] = t.url(c.e)
	}
	_, _, err = c.call(ctx, "/v2/rps/devices", body)
	var e *Error
	if errors.As(err, &e) && strings.HasPrefix(e.Detail, strconv.Itoa(ymcsExists)) {
		return nil // already ours
	}
	return err
}

func (c *ymcs) Deregister(ctx context.Context, t Target) error {
	_, _, err := c.call(ctx, "/v2/rps/delDevices", map[string]any{"deviceIdType": "mac", "deviceIds": []string{t.MAC}})
	return err
}

func (c *ymcs) Check(ctx context.Context, t Target) (State, error) {
	id, err := c.server(ctx)
	if err != nil {
		return StateUnknown, err
	}
	_, data, err := c.call(ctx, "/v2/rps/listDevices", map[string]any{"skip": 0, "limit": 10, "autoCount": true,
		"filter": map[string]any{"mac": t.MAC}})
	if err != nil {
		return StateUnknown, err
	}
	list, err := ymcsItems(data)
	if err != nil {
		return StateUnknown, err
	}
	for _, d := range list {
		m, _ := d["mac"].(string)
		if normalMAC(m) != t.MAC {
			continue
		}
		if (id != "" && d["serverId"] == id) || (id == "" && d["uniqueServerUrl"] == t.url(c.e)) {
			return StateRegistered, nil
		}
		return StateUnregistered, nil
	}
	return StateUnregistered, nil
}

func (c *ymcs) Test(ctx context.Context) error {
	_, _, err := c.call(ctx, "/v2/rps/listServers", map[string]any{"skip": 0, "limit": 1, "autoCount": true})
	return err
}

// normalMAC strips separators and upper-cases.
func normalMAC(m string) string {
	return strings.ToUpper(strings.NewReplacer(":", "", "-", "", " ", "", ".", "").Replace(m))
}
