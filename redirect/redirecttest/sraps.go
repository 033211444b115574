package redirecttest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/redirect"
)

// SettingUUID is the uuid of the SRAPS double's "setting_server" setting.
const SettingUUID = "7a1c5e0e-5d0a-4c3e-9a57-3f4f1b2c0d11"

const srapsCompany = "c0ffee00-1111-2222-3333-444455556666"

// SRAPS is the Snom SRAPS REST API under /api/v1/: every request must carry a
// Hawk header whose MAC the double recomputes (and whose payload hash it
// recomputes when there is a body); a bodiless request may send the hash of the
// empty payload or none. Timestamps more than a minute off and replayed nonces
// are refused.
type SRAPS struct {
	*Double
	keyID, secret string
	nonces        map[string]bool
	// endpoint documents as the double stores them (PUT is a full replace)
	docs map[string]json.RawMessage
}

// NewSRAPS starts a SRAPS double for one access key.
func NewSRAPS(keyID, secret string) *SRAPS {
	s := &SRAPS{keyID: keyID, secret: secret, nonces: map[string]bool{}, docs: map[string]json.RawMessage{}}
	s.Double = newDouble(s.handle, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"detail":"Request was throttled."}`)
	})
	return s
}

func jsonAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // test double
}

// checkHawk verifies the Authorization header against the request exactly.
func (s *SRAPS) checkHawk(r *http.Request, body []byte) string {
	attrs, ok := redirect.ParseHawk(r.Header.Get("Authorization"))
	if !ok {
		return "missing or malformed Hawk header"
	}
	if subtle.ConstantTimeCompare([]byte(attrs["id"]), []byte(s.keyID)) != 1 {
		return "unknown key id"
	}
	ts, err := strconv.ParseInt(attrs["ts"], 10, 64)
	if err != nil || attrs["nonce"] == "" || attrs["mac"] == "" {
		return "Hawk header needs ts, nonce and mac"
	}
	if d := time.Since(time.Unix(ts, 0)); d > time.Minute || d < -time.Minute {
		return "stale timestamp"
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
	}
	hash := attrs["hash"]
	if len(body) > 0 || hash != "" {
		want := redirect.HawkPayloadHash(r.Header.Get("Content-Type"), body)
		if len(body) == 0 && hash == redirect.HawkPayloadHash("", nil) {
			want = hash // the hash of the empty payload, as some clients send
		}
		if len(body) > 0 && hash == "" {
			return "a request with a payload must carry its hash"
		}
		if subtle.ConstantTimeCompare([]byte(hash), []byte(want)) != 1 {
			return "payload hash mismatch"
		}
	}
	mac := redirect.HawkMAC(s.secret, redirect.HawkRequest{TS: attrs["ts"], Nonce: attrs["nonce"], Method: r.Method,
		PathQuery: r.RequestURI, Host: host, Port: port, Hash: hash, Ext: attrs["ext"]})
	if subtle.ConstantTimeCompare([]byte(mac), []byte(attrs["mac"])) != 1 {
		return "bad mac"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := attrs["ts"] + "/" + attrs["nonce"]
	if s.nonces[key] {
		return "replayed nonce"
	}
	s.nonces[key] = true
	return ""
}

var endpointPath = regexp.MustCompile(`^/api/v1/companies/` + srapsCompany + `/endpoints/([^/]+)$`)

func (s *SRAPS) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if why := s.checkHawk(r, body); why != "" {
		s.authFailed()
		w.Header().Set("WWW-Authenticate", "Hawk")
		jsonAnswer(w, http.StatusUnauthorized, map[string]string{"detail": "Authentication failed: " + why})
		return
	}
	base := "http://" + r.Host + "/api/v1/"
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/api/v1/tokens/"+s.keyID:
		s.count("GET token")
		jsonAnswer(w, http.StatusOK, map[string]any{"id": s.keyID, "links": map[string]string{"company": base + "companies/" + srapsCompany + "/"}})
	case r.Method == http.MethodGet && p == "/api/v1/companies/"+srapsCompany+"/":
		s.count("GET company")
		jsonAnswer(w, http.StatusOK, map[string]any{"uuid": srapsCompany, "name": "Test Company",
			"links": map[string]string{"endpoints": base + "companies/" + srapsCompany + "/endpoints/"}})
	case r.Method == http.MethodGet && p == "/api/v1/settings/":
		s.count("GET settings")
		// Two pages, the setting on the second, linked the RFC 5988 way.
		if r.URL.Query().Get("page") == "2" {
			jsonAnswer(w, http.StatusOK, []map[string]string{{"uuid": SettingUUID, "param_name": "setting_server"}})
			return
		}
		w.Header().Set("Link", `<`+base+`settings/?page=2&page_size=1000>; rel="next"`)
		jsonAnswer(w, http.StatusOK, []map[string]string{{"uuid": "0d2e6a4a-0000-4000-8000-000000000001", "param_name": "language"}})
	case endpointPath.MatchString(p):
		s.endpoint(w, r, endpointPath.FindStringSubmatch(p)[1], body)
	default:
		jsonAnswer(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
	}
}

var lowerHex12 = regexp.MustCompile(`^[0-9a-f]{12}$`)

func (s *SRAPS) endpoint(w http.ResponseWriter, r *http.Request, mac string, body []byte) {
	s.count(r.Method + " endpoint")
	if !lowerHex12.MatchString(mac) {
		jsonAnswer(w, http.StatusBadRequest, map[string]any{"mac": []string{"Enter a valid MAC address (12 lower-case hex digits)."}, "message": "invalid mac"})
		return
	}
	m := strings.ToUpper(mac)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owned[m] {
		if r.Method == http.MethodGet {
			jsonAnswer(w, http.StatusForbidden, map[string]string{"detail": "User lacks permission to endpoint"})
			return
		}
		jsonAnswer(w, http.StatusForbidden, map[string]string{"error": "taken_mac_or_forbidden"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		doc, ok := s.docs[m]
		if !ok {
			jsonAnswer(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc) // test double
	case http.MethodPut:
		var in struct {
			MAC      string `json:"mac"`
			Enabled  *bool  `json:"autoprovisioning_enabled"`
			Settings map[string]struct {
				Value string            `json:"value"`
				Attrs map[string]string `json:"attrs"`
			} `json:"settings_manager"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.MAC != mac {
			jsonAnswer(w, http.StatusBadRequest, map[string]string{"message": "body must be an endpoint whose mac matches the URL"})
			return
		}
		_, existed := s.docs[m]
		s.docs[m] = json.RawMessage(body)
		url := ""
		if in.Enabled != nil && *in.Enabled {
			url = in.Settings[SettingUUID].Value
		}
		s.devices[m] = url
		status := http.StatusCreated
		if existed {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body) // test double
	case http.MethodDelete:
		if _, ok := s.docs[m]; !ok {
			jsonAnswer(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
			return
		}
		delete(s.docs, m)
		delete(s.devices, m)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}
