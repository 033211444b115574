package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/model"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// The /webrest/user/... endpoints: the caller's profile (me), presence,
// default device, every user's endpoints and presence, settings and avatars.

// kindSettings holds each CTI user's settings (nethcti's user_settings):
// one object per user, keyed by username.
const kindSettings = "cti_user_settings"

// SIPAccount is the SIP registration of one extension.
type SIPAccount struct {
	Username, Password string
}

// SIPAccounts is where the CTI reads the SIP credentials of a user's own web
// phone, NethLink and mobile devices, which those clients register with. The
// daemon reads the provisioning accounts (provision.Account).
type SIPAccounts interface {
	// SIPAccount returns the account of extension (ok false when none).
	SIPAccount(ctx context.Context, extension string) (acc SIPAccount, ok bool, err error)
}

// storeAccounts reads the provisioning accounts from the store. An extension
// that several tenants use is resolved with tenant (cti.tenant); without it
// such an extension has no credentials rather than someone else's.
type storeAccounts struct {
	st     *store.Store
	tenant string
}

func (a storeAccounts) SIPAccount(ctx context.Context, ext string) (SIPAccount, bool, error) {
	var found []provision.Account
	err := a.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(provision.KindAccount, a.tenant, func(id string, data json.RawMessage) error {
			var acc provision.Account
			if json.Unmarshal(data, &acc) == nil && acc.Extension == ext {
				found = append(found, acc)
			}
			return nil
		})
	})
	if err != nil || len(found) != 1 {
		return SIPAccount{}, false, err
	}
	return SIPAccount{Username: firstNonEmpty(found[0].AuthUsername, found[0].SIPUsername), Password: found[0].SIPPassword}, true, nil
}

// endpointJSON is one extension endpoint as nethcti's user JSON shows it;
// secret and username only for the web phone, NethLink and mobile devices
// of the caller.
type endpointJSON struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Secret   *string         `json:"secret,omitempty"`
	Username string          `json:"username,omitempty"`
	Actions  map[string]bool `json:"actions,omitempty"`
}

func softphone(typ string) bool { return typ == "webrtc" || typ == "nethlink" || typ == "mobile" }

// endpointsOf builds u's endpoints. withSecrets reads the SIP credentials of
// u's soft phones (only for u themself); others get them blank, as nethcti
// answers.
func (svc *Service) endpointsOf(ctx context.Context, u *User, withSecrets, withActions bool) map[string]any {
	eps := make([]endpointJSON, 0, len(u.Endpoints))
	for _, e := range u.Endpoints {
		ej := endpointJSON{ID: e.ID, Type: e.Type}
		if softphone(e.Type) {
			blank := ""
			ej.Secret, ej.Username = &blank, e.ID
			if withSecrets && svc.accounts != nil {
				acc, ok, err := svc.accounts.SIPAccount(ctx, e.ID)
				if err != nil {
					svc.log.Warn("read SIP account", "user", u.Username, "extension", e.ID, "err", err)
				}
				if ok {
					pw := acc.Password
					ej.Secret, ej.Username = &pw, acc.Username
				}
			}
		}
		if withActions {
			ctl := softphone(e.Type) || (e.Device != "" && svc.phones != nil && svc.phones.Controls(ctx, e.Device))
			ej.Actions = map[string]bool{"answer": ctl, "dtmf": true, "hold": ctl}
		}
		eps = append(eps, ej)
	}
	vm := []map[string]any{}
	if u.Voicemail != "" {
		vm = append(vm, map[string]any{"id": u.Voicemail, "owner": u.Username, "email": u.Email, "maxMessageCount": "", "maxMessageLength": ""})
	}
	return map[string]any{
		"extension":     eps,
		"mainextension": idList(u.MainExtension, map[string]any{"description": u.Name}),
		"cellphone":     idList(u.Cellphone, nil),
		"voicemail":     vm,
		"email":         idList(u.Email, nil),
		"jabber":        []any{},
		"calendar":      []any{},
	}
}

func idList(v string, extra map[string]any) []map[string]any {
	if v == "" {
		return []map[string]any{}
	}
	m := map[string]any{"id": v}
	for k, x := range extra {
		m[k] = x
	}
	return []map[string]any{m}
}

func endpointType(u *User, id string) string {
	for _, e := range u.Endpoints {
		if e.ID == id {
			return e.Type
		}
	}
	return ""
}

// defaultDevice is the user's chosen device, else the main extension's, else
// the first.
func defaultDevice(u *User) string {
	if endpointType(u, u.DefaultDevice) != "" {
		return u.DefaultDevice
	}
	if endpointType(u, u.MainExtension) != "" {
		return u.MainExtension
	}
	if len(u.Endpoints) > 0 {
		return u.Endpoints[0].ID
	}
	return u.MainExtension
}

// userJSON is nethcti's user object: name, presences and endpoints.
func (svc *Service) userJSON(ctx context.Context, u *User, self bool) map[string]any {
	svc.mu.Lock()
	p, mp := svc.presenceLocked(u), svc.mainPresenceLocked(u)
	svc.mu.Unlock()
	recall := "disabled"
	return map[string]any{
		"name": u.Name, "username": u.Username, "mainPresence": mp.Status, "presence": p.Status,
		"endpoints":      svc.endpointsOf(ctx, u, self, self),
		"presenceOnBusy": "online", "presenceOnUnavailable": "online", "recallOnBusy": recall,
	}
}

// GET /webrest/user/me: the caller's profile, endpoints with the SIP
// credentials of their own soft phones, permissions, default device and
// settings.
func (svc *Service) me(w http.ResponseWriter, r *http.Request, c *caller) error {
	u := c.user
	out := svc.userJSON(r.Context(), u, true)
	macros := map[string]Macro{}
	name := u.Profile
	if c.profile != nil {
		macros, name = c.profile.MacroPermissions, firstNonEmpty(c.profile.Name, c.profile.ID)
	}
	out["profile"] = map[string]any{"id": u.Profile, "name": name, "macro_permissions": macros}
	def := defaultDevice(u)
	out["default_device"] = map[string]any{"id": def, "type": firstNonEmpty(endpointType(u, def), "physical")}
	for _, e := range out["endpoints"].(map[string]any)["extension"].([]endpointJSON) {
		if e.ID == def {
			out["default_device"] = e
		}
	}
	settings, err := svc.settingsOf(r.Context(), u.Username)
	if err != nil {
		return err
	}
	out["settings"] = settings
	if p := svc.presenceTo(u); p != "" {
		out["presence_to"] = p
	}
	w.Header().Set("Cache-Control", "no-store") // it carries SIP secrets
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (svc *Service) presenceTo(u *User) string {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.presenceLocked(u).To
}

// GET /webrest/user/endpoints/all: every user, their endpoints and presence;
// SIP secrets are blank except the caller's own.
func (svc *Service) allEndpoints(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := map[string]any{}
	for _, u := range svc.dir.all() {
		if u.Disabled {
			continue
		}
		out[u.Username] = svc.userJSON(r.Context(), u, u.Username == c.user.Username)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (svc *Service) getPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	svc.mu.Lock()
	p := svc.presenceLocked(c.user)
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, p)
	return nil
}

var presenceStates = map[string]bool{"online": true, "dnd": true, "voicemail": true, "cellphone": true, "callforward": true}

// POST /webrest/user/presence {status, to}: written to AstDB as nethcti does
// (DND/<main>, CF/<main> = number, cellphone or vmu<box>), so the dialplan
// acts on it and it survives restarts of both sides.
func (svc *Service) setPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req presenceState
	if err := readBody(r, &req); err != nil {
		return err
	}
	if !presenceStates[req.Status] {
		return rerr(http.StatusBadRequest, "status", "status must be online, dnd, voicemail, cellphone or callforward")
	}
	u, ext := c.user, c.user.MainExtension
	cf := ""
	switch req.Status {
	case "callforward":
		if cf = cleanNumber(req.To); cf == "" {
			return rerr(http.StatusBadRequest, "to", "callforward needs a number in to")
		}
	case "cellphone":
		if cf = u.Cellphone; cf == "" {
			return rerr(http.StatusBadRequest, "status", "you have no cellphone")
		}
	case "voicemail":
		if u.Voicemail == "" && ext == "" {
			return rerr(http.StatusBadRequest, "status", "you have no voice mail box")
		}
		cf = "vmu" + firstNonEmpty(u.Voicemail, ext)
	}
	if ext == "" {
		req.To = cf
		svc.mu.Lock()
		svc.presence[u.Username] = req
		frames := svc.presenceFramesForUserLocked(u)
		svc.mu.Unlock()
		svc.publish(frames)
		writeJSON(w, http.StatusOK, req)
		return nil
	}
	dnd := ami.NewMessage("Action", "DBDel", "Family", "DND", "Key", ext)
	if req.Status == "dnd" {
		dnd = ami.NewMessage("Action", "DBPut", "Family", "DND", "Key", ext, "Val", "YES")
	}
	fwd := ami.NewMessage("Action", "DBDel", "Family", "CF", "Key", ext)
	if cf != "" {
		fwd = ami.NewMessage("Action", "DBPut", "Family", "CF", "Key", ext, "Val", cf)
	}
	if err := svc.amiDo(r.Context(), dnd, req.Status == "dnd"); err != nil {
		return err
	}
	if err := svc.amiDo(r.Context(), fwd, cf != ""); err != nil {
		return err
	}
	svc.mu.Lock()
	emits := svc.model.SetDND(ext, req.Status == "dnd")
	emits = append(emits, svc.model.SetCF(ext, "CF", cf)...)
	frames := append(encode(emits[len(emits)-1:]), svc.presenceFramesLocked([]string{ext})...)
	p := svc.presenceLocked(u)
	svc.mu.Unlock()
	svc.publish(frames)
	writeJSON(w, http.StatusOK, p)
	return nil
}

// presenceFramesForUserLocked is presenceFramesLocked for a user without a
// main extension.
func (svc *Service) presenceFramesForUserLocked(u *User) []frame {
	exts := u.Endpoints0()
	if len(exts) == 0 {
		// Nothing to look the user up by: tell the change directly.
		p := svc.presenceLocked(u)
		svc.lastPresence[u.Username], svc.lastMain[u.Username] = p, p
		return encode([]model.Emit{
			{Name: "userPresenceUpdate", Room: model.RoomPresence, Data: map[string]any{"presence": presenceEvent(u.Username, p)}},
			{Name: "userMainPresenceUpdate", Room: model.RoomPresence, Data: map[string]any{"mainPresence": presenceEvent(u.Username, p)}},
		})
	}
	return svc.presenceFramesLocked(exts)
}

// POST /webrest/user/default_device {id}: the device click-to-call uses;
// the user's clients hear updateDefaultDevice.
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
	svc.toUser(c.user.Username, "updateDefaultDevice", id)
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
	return nil
}

// GET /webrest/user/paramurl: the page of the caller's profile to open on
// calls ({} when none).
func (svc *Service) paramURL(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := map[string]any{}
	if c.profile != nil && c.profile.ParamURL != "" {
		only := "0"
		if c.profile.ParamURLOnlyQueues {
			only = "1"
		}
		out = map[string]any{"profile_id": c.profile.ID, "url": c.profile.ParamURL, "only_queues": only}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// nethlinkSeen is the last NethLink heartbeat of each user (kept in memory:
// it only says whether the desktop app is running now).
type nethlinkSeen struct {
	Extension string `json:"extension"`
	Timestamp string `json:"timestamp"` // RFC 3339
}

// POST /webrest/user/nethlink {extension}: NethLink's heartbeat.
func (svc *Service) nethlinkPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		Extension string `json:"extension"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	if req.Extension != "" && !c.owns(req.Extension) {
		return rerr(http.StatusForbidden, "extension", "extension %s is not yours", req.Extension)
	}
	svc.mu.Lock()
	svc.nethlink[c.user.Username] = nethlinkSeen{Extension: req.Extension, Timestamp: time.Now().UTC().Format(time.RFC3339)}
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{})
	return nil
}

// GET /webrest/user/nethlink: the caller's last heartbeat ({} when none).
func (svc *Service) nethlinkGet(w http.ResponseWriter, r *http.Request, c *caller) error {
	svc.mu.Lock()
	seen, ok := svc.nethlink[c.user.Username]
	svc.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusOK, map[string]string{})
		return nil
	}
	writeJSON(w, http.StatusOK, seen)
	return nil
}

// settingsOf reads a user's settings ({} when none).
func (svc *Service) settingsOf(ctx context.Context, user string) (map[string]any, error) {
	out := map[string]any{}
	err := svc.st.View(ctx, func(tx *store.Tx) error {
		_, err := tx.Get(kindSettings, user, &out)
		return err
	})
	if out == nil {
		out = map[string]any{}
	}
	return out, err
}

var settingKeyRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// maxSettings bounds one user's settings (an avatar is a data: URL).
const maxSettings = 512 << 10

// POST /webrest/user/settings {key: value, ...}: merged into the caller's
// settings (avatar, open_param_url, default queue choices, ...).
func (svc *Service) settingsPost(w http.ResponseWriter, r *http.Request, c *caller) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSettings+1))
	if err != nil {
		return rerr(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	if len(body) > maxSettings {
		return rerr(http.StatusRequestEntityTooLarge, "", "settings are larger than %d KiB", maxSettings>>10)
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil || len(in) == 0 {
		return rerr(http.StatusBadRequest, "", "the body must be a JSON object of settings")
	}
	for k := range in {
		if !settingKeyRe.MatchString(k) {
			return rerr(http.StatusBadRequest, k, "setting names are 1-64 letters, digits, '.', '_' or '-'")
		}
	}
	if err := svc.updateSettings(r.Context(), c, func(cur map[string]json.RawMessage) {
		for k, v := range in {
			cur[k] = v
		}
	}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{})
	return nil
}

// DELETE /webrest/user/setting/{prop}
func (svc *Service) settingDelete(w http.ResponseWriter, r *http.Request, c *caller) error {
	prop := r.PathValue("prop")
	if !settingKeyRe.MatchString(prop) {
		return rerr(http.StatusBadRequest, "prop", "no such setting")
	}
	if err := svc.updateSettings(r.Context(), c, func(cur map[string]json.RawMessage) { delete(cur, prop) }); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{})
	return nil
}

// DELETE /webrest/user/settings: all of them.
func (svc *Service) settingsDelete(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := svc.updateSettings(r.Context(), c, func(cur map[string]json.RawMessage) { clear(cur) }); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{})
	return nil
}

func (svc *Service) updateSettings(ctx context.Context, c *caller, change func(map[string]json.RawMessage)) error {
	_, err := svc.st.Update(ctx, c.actor(), func(tx *store.Tx) error {
		cur := map[string]json.RawMessage{}
		ok, err := tx.Get(kindSettings, c.user.Username, &cur)
		if err != nil {
			return err
		}
		if cur == nil {
			cur = map[string]json.RawMessage{}
		}
		change(cur)
		b, _ := json.Marshal(cur)
		if len(b) > maxSettings {
			return &store.ValidationError{Field: "", Msg: fmt.Sprintf("settings would be larger than %d KiB", maxSettings>>10)}
		}
		desc := "CTI settings of " + c.user.Username + " changed"
		if !ok {
			return tx.Create(kindSettings, "", c.user.Username, cur, desc)
		}
		return tx.Replace(kindSettings, "", c.user.Username, cur, desc)
	})
	if vErr := new(store.ValidationError); errors.As(err, &vErr) {
		return rerr(http.StatusRequestEntityTooLarge, "", "%s", vErr.Msg)
	}
	return err
}

// GET /webrest/user/all_avatars: {username: avatar} for users that set one.
func (svc *Service) allAvatars(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := map[string]string{}
	err := svc.st.View(r.Context(), func(tx *store.Tx) error {
		return tx.List(kindSettings, "", func(id string, data json.RawMessage) error {
			var s struct {
				Avatar string `json:"avatar"`
			}
			if json.Unmarshal(data, &s) == nil && s.Avatar != "" && strings.HasPrefix(s.Avatar, "data:image/") {
				out[id] = s.Avatar
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
