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
	auth("GET /webrest/user/me", svc.me)
	auth("GET /webrest/user/presence", svc.getPresence)
	auth("POST /webrest/user/presence", svc.setPresence)
	auth("POST /webrest/user/default_device", svc.setDefaultDevice)
	auth("GET /webrest/user/endpoints/all", svc.allEndpoints)
	auth("GET /webrest/user/mobile_qrcode", svc.mobileQR)
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
				if v == http.ErrAbortHandler {
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
	if !svc.cfg.AuthDisabled && !svc.grants.Check(u.Username, tok) && !svc.storedToken(r.Context(), u.Username, tok) {
		return nil, false
	}
	return &caller{access: access{user: u, profile: p}, token: tok, ip: remoteIP(r)}, true
}

// storedToken accepts a persistent or mobile token kept (hashed) in the store,
// which survives restarts; once seen it is cached in memory.
func (svc *Service) storedToken(ctx context.Context, user, tok string) bool {
	if len(tok) != 40 && len(tok) != 64 {
		return false
	}
	se, err := svc.st.LookupSession(ctx, hashSecret(tok), time.Now())
	if err != nil {
		return false
	}
	switch se.Username {
	case "cti-persistent:" + user:
		svc.grants.loadHash(user, hashSecret(tok), "persistent")
	case "cti-mobile:" + user:
		svc.grants.loadHash(user, hashSecret(tok), "mobile")
	default:
		return false
	}
	return true
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
		if err := svc.st.CreateSession(r.Context(), store.Session{TokenHash: hashSecret(tok), Username: "cti-persistent:" + u.Username,
			Kind: "cti", Created: time.Now(), Expires: time.Now().AddDate(100, 0, 0), SourceIP: ip}); err != nil {
			return err
		}
	}
	svc.grants.Add(u.Username, tok, kind)
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
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

func (svc *Service) persistentToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	tok := randomToken()
	if err := svc.st.CreateSession(r.Context(), store.Session{TokenHash: hashSecret(tok), Username: "cti-persistent:" + c.user.Username,
		Kind: "cti", Created: time.Now(), Expires: time.Now().AddDate(100, 0, 0), SourceIP: c.ip}); err != nil {
		return err
	}
	svc.grants.Add(c.user.Username, tok, "persistent")
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "username": c.user.Username})
	return nil
}

func (svc *Service) persistentRemove(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := svc.st.DeleteUserSessions(r.Context(), "cti-persistent:"+c.user.Username); err != nil {
		return err
	}
	svc.grants.Remove(c.token)
	writeJSON(w, http.StatusOK, map[string]string{"message": "persistent tokens removed"})
	return nil
}

// ---- me ----

func (svc *Service) presenceOf(user string) presenceState {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if p, ok := svc.presence[user]; ok {
		return p
	}
	return presenceState{Status: "online"}
}

func (svc *Service) me(w http.ResponseWriter, r *http.Request, c *caller) error {
	u := c.user
	eps := make([]map[string]string, 0, len(u.Endpoints))
	for _, e := range u.Endpoints {
		eps = append(eps, map[string]string{"id": e.ID, "type": e.Type, "description": e.Type})
	}
	macros := map[string]Macro{}
	if c.profile != nil {
		macros = c.profile.MacroPermissions
	}
	pr := svc.presenceOf(u.Username)
	writeJSON(w, http.StatusOK, map[string]any{
		"name": u.Name, "username": u.Username, "presence": pr.Status, "presenceOnBusy": "online",
		"endpoints": map[string]any{
			"extension":     eps,
			"mainextension": []map[string]string{{"id": u.MainExtension, "description": u.Name}},
			"cellphone":     cellList(u.Cellphone),
			"voicemail":     cellList(u.Voicemail),
			"email":         cellList(u.Email),
		},
		"profile":        map[string]any{"id": u.Profile, "macro_permissions": macros},
		"default_device": map[string]string{"id": u.DefaultDevice, "type": endpointType(u, u.DefaultDevice)},
		"settings":       map[string]any{},
	})
	return nil
}

func cellList(v string) []map[string]string {
	if v == "" {
		return []map[string]string{}
	}
	return []map[string]string{{"id": v}}
}

func endpointType(u *User, id string) string {
	for _, e := range u.Endpoints {
		if e.ID == id {
			return e.Type
		}
	}
	return ""
}

func (svc *Service) getPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, svc.presenceOf(c.user.Username))
	return nil
}

var presenceStates = map[string]bool{"online": true, "dnd": true, "voicemail": true, "cellphone": true, "callforward": true}

func (svc *Service) setPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req presenceState
	if err := readBody(r, &req); err != nil {
		return err
	}
	if !presenceStates[req.Status] {
		return rerr(http.StatusBadRequest, "status", "status must be online, dnd, voicemail, cellphone or callforward")
	}
	if req.Status == "callforward" {
		if req.To = cleanNumber(req.To); req.To == "" {
			return rerr(http.StatusBadRequest, "to", "callforward needs a number in to")
		}
	} else {
		req.To = ""
	}
	if ext := c.user.MainExtension; ext != "" {
		// DND lives in AstDB, where the dialplan reads it.
		var m ami.Message
		if req.Status == "dnd" {
			m = ami.NewMessage("Action", "DBPut", "Family", "DND", "Key", ext, "Val", "YES")
		} else {
			m = ami.NewMessage("Action", "DBDel", "Family", "DND", "Key", ext)
		}
		if err := svc.amiDo(r.Context(), m, req.Status == "dnd"); err != nil {
			return err
		}
		svc.mu.Lock()
		emits := encode(svc.model.SetDND(ext, req.Status == "dnd"))
		svc.presence[c.user.Username] = req
		svc.mu.Unlock()
		svc.publish(emits)
	} else {
		svc.mu.Lock()
		svc.presence[c.user.Username] = req
		svc.mu.Unlock()
	}
	ev := map[string]any{"presence": map[string]string{"username": c.user.Username, "status": req.Status, "to": req.To}}
	svc.broadcast("userPresenceUpdate", ev, model.RoomPresence, c.user.Endpoints0()...)
	svc.broadcast("userMainPresenceUpdate", map[string]any{"mainPresence": map[string]string{"username": c.user.Username, "status": req.Status}}, model.RoomPresence, c.user.Endpoints0()...)
	writeJSON(w, http.StatusOK, req)
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

func (svc *Service) setDefaultDevice(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		ID string `json:"id"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	if endpointType(c.user, req.ID) == "" {
		return rerr(http.StatusBadRequest, "id", "%q is not one of your endpoints", req.ID)
	}
	id := req.ID
	if _, err := svc.dir.UpdateUser(r.Context(), c.actor(), c.user.Username, userInput{DefaultDevice: &id}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
	return nil
}

func (svc *Service) allEndpoints(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := map[string]any{}
	for _, u := range svc.dir.Users() {
		if u.Disabled {
			continue
		}
		out[u.Username] = map[string]any{"name": u.Name, "username": u.Username, "presence": svc.presenceOf(u.Username).Status,
			"endpoints": map[string]any{"extension": u.Endpoints, "mainextension": []map[string]string{{"id": u.MainExtension}}}}
	}
	writeJSON(w, http.StatusOK, out)
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
	emits := encode(svc.model.SetDND(req.Endpoint, req.Status == "on"))
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
	uid, err := svc.originate(r.Context(), endpoint, num)
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
