package cti

import (
	"github.com/switchboard-pbx/switchboard/cti/model"
)

// Presence follows nethcti: a user's presence is read from the AstDB state of
// their main extension, where the dialplan acts on it (so *78 on a phone is
// seen too): DND is "dnd", an unconditional forward to voice mail
// "voicemail", to the user's cellphone "cellphone", elsewhere "callforward",
// otherwise "online". The main presence is that, or, while "online", what
// the user's devices are doing: "busy" (a device busy, on hold or busy and
// ringing), "ringing", "online", or "offline" when none is reachable.

// presenceLocked is u's presence; svc.mu is held.
func (svc *Service) presenceLocked(u *User) presenceState {
	st, ok := svc.model.State(u.MainExtension)
	if u.MainExtension == "" || !ok {
		if p, ok := svc.presence[u.Username]; ok {
			return p
		}
		return presenceState{Status: "online"}
	}
	switch {
	case st.DND:
		return presenceState{Status: "dnd"}
	case st.CFVm != "":
		return presenceState{Status: "voicemail"}
	case st.CF != "" && st.CF == u.Cellphone:
		return presenceState{Status: "cellphone"}
	case st.CF != "":
		return presenceState{Status: "callforward", To: st.CF}
	}
	return presenceState{Status: "online"}
}

// mainPresenceLocked is u's main presence; svc.mu is held.
func (svc *Service) mainPresenceLocked(u *User) presenceState {
	p := svc.presenceLocked(u)
	if p.Status != "online" {
		return p
	}
	seen := map[string]bool{}
	for _, e := range u.Endpoints0() {
		if st, ok := svc.model.State(e); ok {
			seen[st.Status] = true
			if st.Status == "dnd" {
				seen["online"] = true // reachable, DND on a secondary device
			}
		}
	}
	switch {
	case seen["busy"] || seen["busy_ringing"] || seen["onhold"]:
		return presenceState{Status: "busy"}
	case seen["ringing"]:
		return presenceState{Status: "ringing"}
	case seen["online"]:
		return presenceState{Status: "online"}
	}
	return presenceState{Status: "offline"}
}

// presenceFramesLocked compares the presence of the users of exts (all users
// when exts is nil) with what clients last heard and returns the
// userPresenceUpdate and userMainPresenceUpdate events of those that changed.
// svc.mu is held.
func (svc *Service) presenceFramesLocked(exts []string) []frame {
	var users []*User
	if exts == nil {
		users = svc.dir.all()
	} else {
		seen := map[string]bool{}
		for _, e := range exts {
			name := svc.dir.OwnerOf(e)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			if u := svc.dir.user(name); u != nil {
				users = append(users, u)
			}
		}
	}
	var out []frame
	for _, u := range users {
		p, mp := svc.presenceLocked(u), svc.mainPresenceLocked(u)
		also := u.Endpoints0()
		if old, ok := svc.lastPresence[u.Username]; !ok || old != p {
			svc.lastPresence[u.Username] = p
			if ok {
				out = append(out, encode([]model.Emit{{Name: "userPresenceUpdate", Room: model.RoomPresence, Also: also,
					Data: map[string]any{"presence": presenceEvent(u.Username, p)}}})...)
			}
		}
		if old, ok := svc.lastMain[u.Username]; !ok || old != mp {
			svc.lastMain[u.Username] = mp
			if ok {
				out = append(out, encode([]model.Emit{{Name: "userMainPresenceUpdate", Room: model.RoomPresence, Also: also,
					Data: map[string]any{"mainPresence": presenceEvent(u.Username, mp)}}})...)
			}
		}
	}
	return out
}

func presenceEvent(user string, p presenceState) map[string]string {
	m := map[string]string{"username": user, "status": p.Status}
	if p.To != "" {
		m["to"] = p.To
	}
	return m
}

// changedExtensions lists the extensions whose extenUpdate is among emits.
func changedExtensions(emits []model.Emit) []string {
	out := []string{}
	for _, e := range emits {
		if x, ok := e.Data.(*model.Extension); ok && e.Name == "extenUpdate" {
			out = append(out, x.Exten)
		}
	}
	return out
}
