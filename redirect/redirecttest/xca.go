package redirecttest

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
)

// YealinkOpen is Yealink's JSON API with X-Ca signatures: POST
// api/open/v1/server/list and GET api/open/v1/device/checkMac?mac=, answering
// the {"ret","data","error"} envelope (errors often with HTTP 200). The
// signature is recomputed from the request: METHOD, Content-MD5 (recomputed
// from the body) and the X-Ca headers, the path and, bodiless, the query.
type YealinkOpen struct {
	*Double
	key, secret string
	nonces      map[string]bool
}

// NewYealinkOpen starts the X-Ca double for one key and secret.
func NewYealinkOpen(key, secret string) *YealinkOpen {
	y := &YealinkOpen{key: key, secret: secret, nonces: map[string]bool{}}
	y.Double = newDouble(y.handle, plain429)
	return y
}

func envelope(w http.ResponseWriter, data any, msg string, code int) {
	if msg == "" {
		jsonAnswer(w, http.StatusOK, map[string]any{"ret": 1, "data": data, "error": nil})
		return
	}
	jsonAnswer(w, http.StatusOK, map[string]any{"ret": -1, "data": nil, "error": map[string]any{"msg": msg, "errorCode": code}})
}

// check returns why the signature is refused, or "".
func (y *YealinkOpen) check(r *http.Request, body []byte) string {
	h := r.Header
	if subtle.ConstantTimeCompare([]byte(h.Get("X-Ca-Key")), []byte(y.key)) != 1 {
		return "unknown X-Ca-Key"
	}
	ts, err := strconv.ParseInt(h.Get("X-Ca-Timestamp"), 10, 64)
	if err != nil || time.Since(time.UnixMilli(ts)).Abs() > 15*time.Minute {
		return "X-Ca-Timestamp missing or out of range"
	}
	nonce := h.Get("X-Ca-Nonce")
	if nonce == "" || strings.Contains(nonce, "-") {
		return "X-Ca-Nonce must be a uuid without dashes"
	}
	req := redirect.XCaRequest{Method: r.Method, Path: r.URL.Path, Key: h.Get("X-Ca-Key"), Nonce: nonce, Timestamp: h.Get("X-Ca-Timestamp")}
	if len(body) > 0 {
		req.ContentMD5 = redirect.ContentMD5(body)
		if h.Get("Content-MD5") != req.ContentMD5 {
			return "Content-MD5 does not match the body"
		}
	} else if q := r.URL.Query(); len(q) > 0 {
		req.Query = map[string]string{}
		for k := range q {
			req.Query[k] = q.Get(k)
		}
	}
	if subtle.ConstantTimeCompare([]byte(redirect.XCaSignature(y.secret, req)), []byte(h.Get("X-Ca-Signature"))) != 1 {
		return "signature mismatch"
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.nonces[nonce] {
		return "replayed nonce"
	}
	y.nonces[nonce] = true
	return ""
}

func (y *YealinkOpen) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if why := y.check(r, body); why != "" {
		y.authFailed()
		jsonAnswer(w, http.StatusUnauthorized, map[string]any{"ret": -1, "error": map[string]any{"msg": why, "errorCode": 401}})
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/open/v1/server/list":
		y.count("server/list")
		var in struct {
			Key  string `json:"key"`
			Skip int    `json:"skip"`
		}
		if json.Unmarshal(body, &in) != nil {
			envelope(w, nil, "bad.request", 400)
			return
		}
		envelope(w, map[string]any{"total": 1, "data": []map[string]any{{"id": "1", "serverName": in.Key}}}, "", 0)
	case r.Method == http.MethodGet && r.URL.Path == "/api/open/v1/device/checkMac":
		y.count("device/checkMac")
		m := norm(r.URL.Query().Get("mac"))
		y.mu.Lock()
		owned := y.owned[m]
		_, ours := y.devices[m]
		y.mu.Unlock()
		switch {
		case m == "":
			envelope(w, nil, "device.mac.invalid", 400)
		case owned:
			envelope(w, nil, "device.mac.added.by.other", 409)
		default:
			envelope(w, map[string]any{"registered": ours}, "", 0)
		}
	default:
		jsonAnswer(w, http.StatusNotFound, map[string]any{"ret": -1, "error": map[string]any{"msg": "not.found", "errorCode": 404}})
	}
}
