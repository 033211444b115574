package redirecttest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// YMCS is Yealink's YMCS v2 API: POST /v2/token with HTTP Basic client
// id:secret and {"grant_type":"client_credentials"} issues a bearer token;
// every call needs that token (unexpired) and the headers timestamp
// (milliseconds, within five minutes) and nonce (32 hex digits, never reused).
// Errors are {code, message}. The MAC form is UNVERIFIED: any separator and
// case are accepted.
type YMCS struct {
	*Double
	clientID, secret string
	// TokenTTL is the lifetime of issued tokens.
	TokenTTL time.Duration
	tokens   map[string]time.Time
	nonces   map[string]bool
	servers  map[string]string // id -> name
	byID     map[string]string // device id -> MAC
}

// NewYMCS starts a YMCS double for one client id and secret.
func NewYMCS(clientID, secret string) *YMCS {
	y := &YMCS{clientID: clientID, secret: secret, TokenTTL: time.Hour, tokens: map[string]time.Time{},
		nonces: map[string]bool{}, servers: map[string]string{}, byID: map[string]string{}}
	y.Double = newDouble(y.handle, func(w http.ResponseWriter) {
		jsonAnswer(w, http.StatusTooManyRequests, map[string]any{"code": 900429, "message": "too many requests"})
	})
	return y
}

// AddServer defines a server in the YMCS GUI and returns its id.
func (y *YMCS) AddServer(name string) string {
	y.mu.Lock()
	defer y.mu.Unlock()
	id := fmt.Sprintf("srv%04d", len(y.servers)+1)
	y.servers[id] = name
	return id
}

// ExpireTokens invalidates every issued token (as a server-side expiry would).
func (y *YMCS) ExpireTokens() { y.mu.Lock(); y.tokens = map[string]time.Time{}; y.mu.Unlock() }

var hex32 = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func ymcsErr(w http.ResponseWriter, status, code int, msg string) {
	jsonAnswer(w, status, map[string]any{"code": code, "message": msg})
}

func (y *YMCS) stampOK(w http.ResponseWriter, r *http.Request) bool {
	ts, err := strconv.ParseInt(r.Header.Get("timestamp"), 10, 64)
	if err != nil || time.Since(time.UnixMilli(ts)).Abs() > 5*time.Minute {
		y.authFailed()
		ymcsErr(w, http.StatusBadRequest, 900400, "timestamp header missing or out of range")
		return false
	}
	n := r.Header.Get("nonce")
	y.mu.Lock()
	seen := y.nonces[n]
	y.nonces[n] = true
	y.mu.Unlock()
	if !hex32.MatchString(n) || seen {
		y.authFailed()
		ymcsErr(w, http.StatusBadRequest, 900400, "nonce header missing, malformed or reused")
		return false
	}
	return true
}

func (y *YMCS) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if !y.stampOK(w, r) {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.URL.Path == "/v2/token" {
		y.count("token")
		u, p, ok := r.BasicAuth()
		var in struct {
			GrantType string `json:"grant_type"`
		}
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(y.clientID)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(y.secret)) != 1 {
			y.authFailed()
			ymcsErr(w, http.StatusUnauthorized, 900401, "invalid client credentials")
			return
		}
		if json.Unmarshal(body, &in) != nil || in.GrantType != "client_credentials" {
			ymcsErr(w, http.StatusBadRequest, 900400, "grant_type must be client_credentials")
			return
		}
		tok := fmt.Sprintf("tok-%d-%s", time.Now().UnixNano(), r.Header.Get("nonce")[:8])
		y.mu.Lock()
		y.tokens[tok] = time.Now().Add(y.TokenTTL)
		y.mu.Unlock()
		jsonAnswer(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(y.TokenTTL.Seconds())})
		return
	}
	auth := r.Header.Get("Authorization")
	y.mu.Lock()
	exp, ok := y.tokens[trimBearer(auth)]
	y.mu.Unlock()
	if !ok || time.Now().After(exp) {
		y.authFailed()
		ymcsErr(w, http.StatusUnauthorized, 900401, "token missing, invalid or expired")
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		ymcsErr(w, http.StatusBadRequest, 900400, "body must be a JSON object")
		return
	}
	y.count(r.URL.Path)
	y.mu.Lock()
	defer y.mu.Unlock()
	switch r.URL.Path {
	case "/v2/rps/listServers":
		var list []map[string]any
		for id, name := range y.servers {
			list = append(list, map[string]any{"id": id, "serverName": name})
		}
		jsonAnswer(w, http.StatusOK, map[string]any{"total": len(list), "data": list})
	case "/v2/rps/devices":
		mac, _ := in["mac"].(string)
		m := norm(mac)
		server, _ := in["serverId"].(string)
		unique, _ := in["uniqueServerUrl"].(string)
		target := server
		switch {
		case m == "":
			ymcsErr(w, http.StatusBadRequest, 800001, "invalid MAC")
			return
		case y.owned[m]:
			ymcsErr(w, http.StatusConflict, 800004, "device belongs to another organisation")
			return
		case server != "" && y.servers[server] == "":
			ymcsErr(w, http.StatusBadRequest, 800002, "server not found")
			return
		case server == "" && unique == "":
			ymcsErr(w, http.StatusBadRequest, 900400, "serverId or uniqueServerUrl is required")
			return
		case server == "":
			target = "url:" + unique
		}
		if _, ok := y.devices[m]; ok {
			ymcsErr(w, http.StatusConflict, 800003, "device already exists")
			return
		}
		y.devices[m] = target
		id := fmt.Sprintf("dev-%s", m)
		y.byID[id] = m
		jsonAnswer(w, http.StatusCreated, map[string]any{"id": id})
	case "/v2/rps/listDevices":
		filter, _ := in["filter"].(map[string]any)
		want, _ := filter["mac"].(string)
		var list []map[string]any
		for m, target := range y.devices {
			if want != "" && norm(want) != m {
				continue
			}
			d := map[string]any{"id": "dev-" + m, "mac": m}
			if u, ok := cutPrefix(target, "url:"); ok {
				d["uniqueServerUrl"] = u
			} else {
				d["serverId"] = target
			}
			list = append(list, d)
		}
		jsonAnswer(w, http.StatusOK, map[string]any{"total": len(list), "data": list})
	case "/v2/rps/delDevices":
		if in["deviceIdType"] != "mac" {
			ymcsErr(w, http.StatusBadRequest, 900400, "deviceIdType must be mac")
			return
		}
		ids, _ := in["deviceIds"].([]any)
		n := 0
		for _, v := range ids {
			s, _ := v.(string)
			if m := norm(s); m != "" {
				if _, ok := y.devices[m]; ok {
					delete(y.devices, m)
					n++
				}
			}
		}
		jsonAnswer(w, http.StatusOK, map[string]any{"successCount": n})
	default:
		ymcsErr(w, http.StatusNotFound, 900404, "no such API")
	}
}

func trimBearer(h string) string {
	t, ok := cutPrefix(h, "Bearer ")
	if !ok {
		return ""
	}
	return t
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
