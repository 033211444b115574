package cti

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

const kindUnautheCall = "cti_unauthe_call"

// caller is the authenticated CTI user of a request.
type caller struct {
	access
	token string
	ip    string
}

func (c *caller) actor() store.Actor { return store.Actor{User: "cti:" + c.user.Username, IP: c.ip} }

// rerr is a refusal with its HTTP status and the field at fault.
func rerr(status int, field, format string, args ...any) error {
	return httpapi.Errorf(status, field, format, args...)
}

// writeJSON answers compact JSON, as nethcti does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

func writeErr(w http.ResponseWriter, status int, field, msg string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, body)
}

func (svc *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	if status, field, msg, ok := httpapi.Status(err); ok {
		writeErr(w, status, field, msg)
		return
	}
	switch {
	case errors.Is(err, ami.ErrDown):
		writeErr(w, http.StatusServiceUnavailable, "", "the PBX (Asterisk AMI) is not connected; try again shortly")
	default:
		svc.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeErr(w, http.StatusInternalServerError, "", "internal error (see the daemon log)")
	}
}

type authedFn func(w http.ResponseWriter, r *http.Request, c *caller) error

// routes builds the /webrest and /socket.io mux.
func (svc *Service) routes() {
	m := http.NewServeMux()
	open := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		m.HandleFunc(pattern, svc.wrap(func(w http.ResponseWriter, r *http.Request) error { return h(w, r) }))
	}
	auth := func(pattern string, h authedFn) {
		m.HandleFunc(pattern, svc.wrap(func(w http.ResponseWriter, r *http.Request) error {
			c, ok := svc.authenticate(r)
			if !ok {
				return errUnauthorized
			}
			return h(w, r, c)
		}))
	}
	open("POST /webrest/authentication/login", svc.login)
	auth("POST /webrest/authentication/logout", svc.logout)
	auth("POST /webrest/authentication/persistent_token_login", svc.persistentToken)
	auth("POST /webrest/authentication/persistent_token_remove", svc.persistentRemove)
	auth("POST /webrest/authentication/phone_island_token_login", svc.phoneIslandToken)
	auth("GET /webrest/authentication/phone_island_token_check", svc.phoneIslandCheck)
	auth("GET /webrest/user/me", svc.me)
	auth("GET /webrest/user/presence", svc.getPresence)
	auth("POST /webrest/user/presence", svc.setPresence)
	auth("POST /webrest/user/default_device", svc.setDefaultDevice)
	auth("GET /webrest/user/endpoints/all", svc.allEndpoints)
	auth("GET /webrest/user/mobile_qrcode", svc.mobileQR)
	auth("GET /webrest/user/paramurl", svc.paramURL)
	auth("GET /webrest/user/nethlink", svc.nethlinkGet)
	auth("POST /webrest/user/nethlink", svc.nethlinkPost)
	auth("POST /webrest/user/settings", svc.settingsPost)
	auth("DELETE /webrest/user/settings", svc.settingsDelete)
	auth("DELETE /webrest/user/setting/{prop}", svc.settingDelete)
	auth("GET /webrest/user/all_avatars", svc.allAvatars)
	auth("GET /webrest/astproxy/feature_codes", svc.featureCodes)
	auth("GET /webrest/astproxy/pinstatus", svc.pinStatus)
	auth("GET /webrest/astproxy/pin", emptyList)
	auth("POST /webrest/astproxy/pin", notHere("call PINs"))
	auth("GET /webrest/astproxy/opgroups", svc.opGroups)
	auth("GET /webrest/astproxy/conference/{endpoint}", svc.conference)
	auth("GET /webrest/astproxy/qmanager_queues", svc.qmanagerQueues)
	for _, p := range []string{"queue_astats", "qalarms", "qmanager_astats", "qmanager_qcalls_hist", "qmanager_qstats/{qid}"} {
		auth("GET /webrest/astproxy/"+p, emptyObject)
	}
	for _, p := range []string{"queue_recall/{hours}/{qids}/{type}", "qrecall_info/{hours}/{cid}/{qid}", "qmanager_queue_recall/{hours}/{qids}/{type}"} {
		auth("GET /webrest/astproxy/"+p, emptyList)
	}
	auth("GET /webrest/voicemail/list/{type}", svc.voicemailList)
	auth("GET /webrest/voicemail/download/{id}", noFile("voice mail message"))
	auth("GET /webrest/voicemail/listen/{id}", noFile("voice mail message"))
	auth("GET /webrest/voicemail/listen_custom_msg/{type}", noFile("voice mail greeting"))
	auth("POST /webrest/voicemail/delete", notHere("voice mail messages"))
	auth("POST /webrest/voicemail/custom_msg", notHere("voice mail greetings"))
	auth("POST /webrest/voicemail/custom_msg_from_file", notHere("voice mail greetings"))
	auth("DELETE /webrest/voicemail/custom_msg/{type}", notHere("voice mail greetings"))
	auth("GET /webrest/offhour/list", emptyList)
	auth("GET /webrest/offhour/list_announcement", emptyList)
	auth("GET /webrest/offhour/listen_announcement/{id}", noFile("announcement"))
	auth("GET /webrest/offhour/download_announcement/{id}", noFile("announcement"))
	for _, p := range []string{"set_offhour", "enable_announcement", "delete_announcement", "modify_announcement", "upload_announcement", "record_announcement"} {
		auth("POST /webrest/offhour/"+p, notHere("off-hour rules and announcements"))
	}
	auth("GET /webrest/streaming/sources", emptyObject)
	for _, p := range []string{"open", "subscribe", "unsubscribe"} {
		auth("POST /webrest/streaming/"+p, noFile("streaming source"))
	}
	auth("GET /webrest/custcard/list", emptyList)
	auth("GET /webrest/custcard/getbynum/{number}/{format}", emptyObject)
	auth("GET /webrest/profiling/all", svc.profiling)
	auth("GET /webrest/historycall/down_callrec/{id}", noFile("call recording"))
	auth("GET /webrest/historycall/listen_callrec/{id}", noFile("call recording"))
	auth("POST /webrest/historycall/delete_callrec", notHere("call recordings"))
	auth("GET /webrest/astproxy/extensions", svc.extensions)
	auth("GET /webrest/astproxy/extension/{id}", svc.extension)
	auth("GET /webrest/astproxy/queues", svc.queues)
	auth("GET /webrest/astproxy/trunks", svc.trunks)
	auth("GET /webrest/astproxy/parkings", svc.parkings)
	auth("GET /webrest/astproxy/dnd", svc.getDND)
	auth("POST /webrest/astproxy/dnd", svc.setDND)
	auth("GET /webrest/astproxy/cfcall/{type}/{endpoint}", svc.getCF)
	auth("POST /webrest/astproxy/cfcall", svc.setCF)
	for name, op := range svc.callOps() {
		auth("POST /webrest/astproxy/"+name, op)
	}
	auth("GET /webrest/historycall/interval/{type}/{target}/{from}/{to}", svc.historyCall)
	auth("GET /webrest/historycall/interval/{type}/{target}/{from}/{to}/{filter}", svc.historyCall)
	auth("GET /webrest/histcallswitch/interval/{from}/{to}", svc.historySwitch)
	auth("GET /webrest/histcallswitch/interval/{from}/{to}/{filter}", svc.historySwitch)
	auth("GET /webrest/histcallsgroups/interval/{from}/{to}", svc.historyGroups)
	auth("GET /webrest/histcallsgroups/interval/{from}/{to}/{filter}", svc.historyGroups)
	open("GET /webrest/astproxy/unauthe_call/{endpoint}/{number}", svc.unautheCallGet)
	open("POST /webrest/astproxy/unauthe_call", svc.unautheCallPost)
	m.HandleFunc("OPTIONS /webrest/", func(w http.ResponseWriter, r *http.Request) {
		svc.cors(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
	open("/webrest/", func(w http.ResponseWriter, r *http.Request) error {
		return rerr(http.StatusNotFound, "", "no such endpoint: %s %s", r.Method, r.URL.Path)
	})
	m.HandleFunc("/socket.io/", svc.socketHandler)
	svc.mux = m
}

// cors is permissive, as nethcti's: the CTI web app is often served from the PBX
// web server, another origin. Tokens travel in a header, never in cookies.
func (svc *Service) cors(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, auth-exp")
	h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
}

func (svc *Service) wrap(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				svc.log.Error("panic in request", "path", r.URL.Path, "panic", v)
				writeErr(w, http.StatusInternalServerError, "", "internal error (see the daemon log)")
			}
		}()
		svc.cors(w, r)
		if err := h(w, r); err != nil {
			svc.fail(w, r, err)
		}
	}
}

// authenticate checks "Authorization: <user>:<token>".
func (svc *Service) authenticate(r *http.Request) (*caller, bool) {
	h := r.Header.Get("Authorization")
	name, tok, ok := strings.Cut(h, ":")
	if !ok || name == "" || (tok == "" && !svc.cfg.AuthDisabled) {
		return nil, false
	}
	u, p, ok := svc.dir.Resolve(strings.TrimSpace(name))
	if !ok || u.Disabled {
		return nil, false
	}
	tok = strings.TrimSpace(tok)
	if !svc.checkToken(r.Context(), u.Username, tok) {
		return nil, false
	}
	return &caller{access: access{user: u, profile: p}, token: tok, ip: remoteIP(r)}, true
}

// Kinds of non-expiring tokens, stored hashed in the store as sessions of
// "<prefix><user>" so they survive restarts: the no-exp login's (one per
// user), the phone-island/middleware token (one per user) and the mobile
// app's QR code token (one per user).
var tokenKinds = map[string]string{"cti-persistent:": "persistent", "cti-phone-island:": "phone-island", "cti-mobile:": "mobile"}

// storedToken accepts a persistent, phone-island or mobile token kept
// (hashed) in the store; once seen it is cached in memory.
func (svc *Service) storedToken(ctx context.Context, user, tok string) bool {
	if len(tok) != 40 && len(tok) != 64 {
		return false
	}
	se, err := svc.st.LookupSession(ctx, hashSecret(tok), time.Now())
	if err != nil {
		return false
	}
	for prefix, kind := range tokenKinds {
		if se.Username == prefix+user {
			svc.grants.loadHash(user, hashSecret(tok), kind)
			return true
		}
	}
	return false
}

// checkToken accepts a live session token or a stored non-expiring one.
func (svc *Service) checkToken(ctx context.Context, user, tok string) bool {
	return svc.cfg.AuthDisabled || svc.grants.Check(user, tok) || svc.storedToken(ctx, user, tok)
}

// readBody decodes a JSON object or an HTML form into v (a struct of strings).
func readBody(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		return rerr(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	if len(body) > 64<<10 {
		return rerr(http.StatusRequestEntityTooLarge, "", "request body is larger than 64 KiB")
	}
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return rerr(http.StatusBadRequest, "", "malformed form body")
		}
		m := map[string]string{}
		for k := range vals {
			m[k] = vals.Get(k)
		}
		body, _ = json.Marshal(m)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return rerr(http.StatusBadRequest, "", "request body is empty: expected a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return rerr(http.StatusBadRequest, te.Field, "field %q must be %s", te.Field, te.Type)
		}
		return rerr(http.StatusBadRequest, "", "bad JSON body: %v", err)
	}
	return nil
}

// ---- authentication ----

type loginReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (svc *Service) login(w http.ResponseWriter, r *http.Request) error {
	var req loginReq
	if err := readBody(r, &req); err != nil {
		return err
	}
	if req.Username == "" {
		return rerr(http.StatusBadRequest, "username", "username is required")
	}
	ip := remoteIP(r)
	if wait := svc.loginLim.Wait(ip); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return rerr(http.StatusTooManyRequests, "", "too many failed logins: retry later")
	}
	u, _, ok := svc.dir.Resolve(req.Username)
	good := ok && !u.Disabled
	if !svc.cfg.AuthDisabled {
		// Exactly one comparison at the configured cost whoever asks: an
		// unknown or disabled user must not answer faster than a known one
		// (which would tell who exists).
		hash := svc.dummyHash
		if ok {
			hash = []byte(u.PasswordHash)
		}
		if svc.compare(hash, []byte(req.Password)) != nil {
			good = false
		}
	}
	if !good {
		svc.loginLim.Fail(ip)
		svc.log.Warn("login failed", "user", req.Username, "src", ip)
		writeErr(w, http.StatusUnauthorized, "", "invalid username or password")
		return nil
	}
	nonce := newNonce()
	// The client signs with the name it typed (extension, user@domain or username).
	tok := Token(req.Username, req.Password, nonce)
	kind := "session"
	if strings.EqualFold(r.Header.Get("auth-exp"), "no-exp") {
		kind = "persistent"
		if err := svc.storeToken(r.Context(), "cti-persistent:", u.Username, tok, ip); err != nil {
			return err
		}
	} else {
		svc.grants.Add(u.Username, tok, kind)
	}
	svc.log.Info("login", "user", u.Username, "src", ip, "kind", kind)
	// nethcti answers a good login with 401 and the nonce: the client then
	// computes the token itself.
	w.Header().Set("WWW-Authenticate", "Digest "+nonce)
	w.WriteHeader(http.StatusUnauthorized)
	return nil
}

func (svc *Service) logout(w http.ResponseWriter, r *http.Request, c *caller) error {
	svc.grants.Remove(c.token)
	svc.st.DeleteSession(r.Context(), hashSecret(c.token)) //nolint:errcheck // only persistent tokens are there
	svc.log.Info("logout", "user", c.user.Username, "src", c.ip)
	writeJSON(w, http.StatusOK, map[string]string{"message": "logged out"})
	return nil
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// storeToken keeps a non-expiring token of kind prefix for user, replacing the
// user's previous one of that kind (nethcti keeps one of each per user).
func (svc *Service) storeToken(ctx context.Context, prefix, user, tok, ip string) error {
	// Fail rather than leave the token being replaced valid.
	if err := svc.dropTokens(ctx, prefix, user); err != nil {
		return err
	}
	if err := svc.st.CreateSession(ctx, store.Session{TokenHash: hashSecret(tok), Username: prefix + user,
		Kind: "cti", Created: time.Now(), Expires: time.Now().AddDate(100, 0, 0), SourceIP: ip}); err != nil {
		return err
	}
	svc.grants.Add(user, tok, tokenKinds[prefix])
	return nil
}

// dropTokens revokes user's stored tokens of kind prefix.
func (svc *Service) dropTokens(ctx context.Context, prefix, user string) error {
	if _, err := svc.st.DeleteUserSessions(ctx, prefix+user); err != nil {
		return err
	}
	svc.grants.RemoveKind(user, tokenKinds[prefix])
	return nil
}

// POST /webrest/authentication/persistent_token_login -> {token, username}
func (svc *Service) persistentToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	tok := randomToken()
	if err := svc.storeToken(r.Context(), "cti-persistent:", c.user.Username, tok, c.ip); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "username": c.user.Username})
	return nil
}

// POST /webrest/authentication/phone_island_token_login -> {token, username}:
// the non-expiring token the embedded phone (NethLink's) and
// nethcti-middleware use for REST and the socket. A new one replaces the
// previous.
func (svc *Service) phoneIslandToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	tok := randomToken()
	if err := svc.storeToken(r.Context(), "cti-phone-island:", c.user.Username, tok, c.ip); err != nil {
		return err
	}
	svc.log.Info("phone-island token issued", "user", c.user.Username, "src", c.ip)
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "username": c.user.Username})
	return nil
}

// GET /webrest/authentication/phone_island_token_check -> {exists}
func (svc *Service) phoneIslandCheck(w http.ResponseWriter, r *http.Request, c *caller) error {
	n, err := svc.st.CountUserSessions(r.Context(), "cti-phone-island:"+c.user.Username, time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"exists": n > 0})
	return nil
}

// POST /webrest/authentication/persistent_token_remove {type}: type
// "phone-island" revokes the phone-island token, "no-exp" the persistent one.
func (svc *Service) persistentRemove(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		Type string `json:"type"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	prefix := map[string]string{"phone-island": "cti-phone-island:", "no-exp": "cti-persistent:"}[req.Type]
	if prefix == "" {
		return rerr(http.StatusBadRequest, "type", "type must be phone-island or no-exp")
	}
	if err := svc.dropTokens(r.Context(), prefix, c.user.Username); err != nil {
		return err
	}
	svc.log.Info("persistent token removed", "user", c.user.Username, "type", req.Type, "src", c.ip)
	writeJSON(w, http.StatusOK, map[string]string{})
	return nil
}

// Endpoints0 lists the user's extensions (main first), each once.
func (u *User) Endpoints0() []string {
	out := []string{}
	if u.MainExtension != "" {
		out = append(out, u.MainExtension)
	}
	for _, e := range u.Endpoints {
		if !slices.Contains(out, e.ID) {
			out = append(out, e.ID)
		}
	}
	return out
}

// amiDo runs an action; strict means an error response from Asterisk fails the
// request (a DBDel of a key that is not there is fine, a DBPut that fails is not).
func (svc *Service) amiDo(ctx context.Context, m ami.Message, strict bool) error {
	if svc.ami == nil {
		return ami.ErrDown
	}
	resp, err := svc.ami.Action(ctx, m)
	if err != nil {
		if errors.Is(err, ami.ErrDown) {
			return err
		}
		return fmt.Errorf("%s: %w", m.Get("Action"), err)
	}
	if strict && !strings.EqualFold(resp.Get("Response"), "Success") {
		return rerr(http.StatusBadGateway, "", "the PBX refused %s: %s", m.Get("Action"), resp.Get("Message"))
	}
	return nil
}

// ---- state ----

func (svc *Service) extensions(w http.ResponseWriter, r *http.Request, c *caller) error {
	svc.mu.Lock()
	exts := svc.model.Extensions()
	svc.mu.Unlock()
	if !c.sees(model.RoomPresence) {
		for e := range exts {
			if !c.owns(e) {
				delete(exts, e)
			}
		}
	}
	writeJSON(w, http.StatusOK, exts)
	return nil
}

func (svc *Service) extension(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if !c.sees(model.ExtenRoom(id)) && !c.sees(model.RoomPresence) {
		return rerr(http.StatusForbidden, "", "extension %s is not yours and your profile has no presence panel", id)
	}
	svc.mu.Lock()
	x, ok := svc.model.Extensions()[id]
	svc.mu.Unlock()
	if !ok {
		return rerr(http.StatusNotFound, "", "no extension %s", id)
	}
	writeJSON(w, http.StatusOK, x)
	return nil
}

func (svc *Service) queues(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.sees(model.RoomQueues) {
		return rerr(http.StatusForbidden, "", "your profile has no queue permissions")
	}
	svc.mu.Lock()
	q := svc.model.Queues()
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, q)
	return nil
}

func (svc *Service) trunks(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.sees(model.RoomTrunks) {
		return rerr(http.StatusForbidden, "", "your profile has no trunk permissions")
	}
	svc.mu.Lock()
	t := svc.model.Trunks()
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (svc *Service) parkings(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.sees(model.RoomParkings) {
		return rerr(http.StatusForbidden, "", "your profile has no parking permissions")
	}
	svc.mu.Lock()
	p := svc.model.Parkings()
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (svc *Service) getDND(w http.ResponseWriter, r *http.Request, c *caller) error {
	svc.mu.Lock()
	on := svc.model.DND(c.user.MainExtension)
	svc.mu.Unlock()
	status := "off"
	if on {
		status = "on"
	}
	writeJSON(w, http.StatusOK, map[string]string{"exten": c.user.MainExtension, "status": status})
	return nil
}

func (svc *Service) setDND(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		Endpoint string `json:"endpoint"`
		Status   string `json:"status"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	if req.Endpoint == "" {
		req.Endpoint = c.user.MainExtension
	}
	if !c.may("dnd", req.Endpoint) {
		return rerr(http.StatusForbidden, "endpoint", "endpoint %s is not yours", req.Endpoint)
	}
	if req.Status != "on" && req.Status != "off" {
		return rerr(http.StatusBadRequest, "status", "status must be on or off")
	}
	m := ami.NewMessage("Action", "DBDel", "Family", "DND", "Key", req.Endpoint)
	if req.Status == "on" {
		m = ami.NewMessage("Action", "DBPut", "Family", "DND", "Key", req.Endpoint, "Val", "YES")
	}
	if err := svc.amiDo(r.Context(), m, req.Status == "on"); err != nil {
		return err
	}
	svc.mu.Lock()
	emits := append(encode(svc.model.SetDND(req.Endpoint, req.Status == "on")), svc.presenceFramesLocked([]string{req.Endpoint})...)
	svc.mu.Unlock()
	svc.publish(emits)
	writeJSON(w, http.StatusOK, map[string]string{"exten": req.Endpoint, "status": req.Status})
	return nil
}

// ---- unauthe_call ----

func (svc *Service) unautheCallGet(w http.ResponseWriter, r *http.Request) error {
	return svc.unautheCall(w, r, r.PathValue("endpoint"), r.PathValue("number"))
}

func (svc *Service) unautheCallPost(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		EndpointID string `json:"endpointId"`
		Number     string `json:"number"`
	}
	if !svc.cfg.UnautheCall.Enabled {
		return svc.unautheCall(w, r, "", "")
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	return svc.unautheCall(w, r, req.EndpointID, req.Number)
}

func (svc *Service) unautheCall(w http.ResponseWriter, r *http.Request, endpoint, number string) error {
	ip := remoteIP(r)
	if !svc.cfg.UnautheCall.Enabled {
		svc.log.Warn("unauthe_call refused: disabled", "src", ip)
		return rerr(http.StatusForbidden, "", "unauthe_call is disabled (cti.unauthe_call.enabled)")
	}
	addr, err := netip.ParseAddr(ip)
	allowed := false
	if err == nil {
		addr = addr.Unmap()
		for _, p := range svc.cfg.allowPrefixes() {
			if p.Contains(addr) {
				allowed = true
			}
		}
	}
	if !allowed {
		svc.log.Warn("unauthe_call refused: source not allowed", "src", ip, "endpoint", endpoint)
		return rerr(http.StatusForbidden, "", "unauthe_call is not allowed from %s", ip)
	}
	if !extenRe.MatchString(endpoint) {
		return rerr(http.StatusBadRequest, "endpointId", "endpoint must be an extension")
	}
	num := cleanNumber(number)
	if num == "" {
		return rerr(http.StatusBadRequest, "number", "number has no digits")
	}
	uid, err := svc.originate(r.Context(), svc.dir.OwnerOf(endpoint), endpoint, "PJSIP/"+endpoint, endpoint, num)
	if err != nil {
		return err
	}
	svc.log.Info("unauthe_call", "src", ip, "endpoint", endpoint, "number", num, "uniqueid", uid)
	rec := map[string]string{"endpoint": endpoint, "number": num, "source_ip": ip, "time": time.Now().UTC().Format(time.RFC3339), "uniqueid": uid}
	if _, err := svc.st.Update(r.Context(), store.Actor{User: "cti:unauthe_call", IP: ip}, func(tx *store.Tx) error {
		var old map[string]string
		ok, err := tx.Get(kindUnautheCall, endpoint, &old)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("unauthe_call from %s: %s -> %s", ip, endpoint, num)
		if ok {
			return tx.Replace(kindUnautheCall, "", endpoint, rec, desc)
		}
		return tx.Create(kindUnautheCall, "", endpoint, rec, desc)
	}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"uniqueid": uid})
	return nil
}

// cleanNumber accepts tel:, callto: and sip: forms and formatted numbers: a
// leading + becomes 00, and only digits, * and # are kept.
var numberJunk = regexp.MustCompile(`[^0-9*#]`)

func cleanNumber(s string) string {
	s = strings.TrimSpace(s)
	if d, err := url.PathUnescape(s); err == nil {
		s = d
	}
	low := strings.ToLower(s)
	for _, p := range []string{"tel:", "callto:", "sip:"} {
		if strings.HasPrefix(low, p) {
			s = s[len(p):]
			break
		}
	}
	s = strings.TrimLeft(s, "/")
	if at := strings.IndexByte(s, '@'); at >= 0 {
		s = s[:at]
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i] // tel:+39...;phone-context=...
	}
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	s = numberJunk.ReplaceAllString(s, "")
	if s == "" {
		return ""
	}
	if plus {
		s = "00" + s
	}
	if len(s) > 32 {
		return ""
	}
	return s
}
