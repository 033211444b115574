package cti

import (
	"slices"

	"github.com/switchboard-pbx/switchboard/cti/model"
)

// The permission rules of the nethcti API, written once: who may act on which
// endpoint through the REST call operations, and who reads (REST) and hears
// (socket.io rooms) which part of the state. A permission inside a macro holds
// only while its macro is on (Profile.Has).

// rule says who, besides the endpoint's owner, may use an operation on an
// endpoint: holders of perm, or profiles with macro on. The zero rule is "own
// endpoints only".
type rule struct {
	perm, macro string
}

// operations are the REST operations that act on an endpoint, by the name of
// their endpoint under /webrest/astproxy/ (cfcall and dnd are the call forward
// and do-not-disturb settings).
var operations = map[string]rule{
	"call":                {perm: "ad_phone"},
	"hangup":              {perm: "hangup"},
	"blindtransfer":       {perm: "transfer"},
	"atxfer":              {perm: "transfer"},
	"park":                {perm: "ad_parking"},
	"pickup_parking":      {perm: "ad_parking"},
	"pickup_conv":         {perm: "pickup"},
	"start_spy":           {perm: "spy"},
	"intrude":             {perm: "intrude"},
	"start_record":        {perm: "ad_recording"},
	"stop_record":         {perm: "ad_recording"},
	"mute_record":         {perm: "ad_recording"},
	"unmute_record":       {perm: "ad_recording"},
	"mute":                {},
	"unmute":              {},
	"toggle_mute":         {},
	"toggle_hold":         {},
	"dtmf":                {},
	"answer":              {},
	"cancel":              {},
	"force_hangup":        {perm: "hangup"},
	"hangup_mainexten":    {perm: "hangup"},
	"recall_on_busy":      {},
	"phone_reload":        {},
	"start_conf":          {},
	"end_conf":            {},
	"join_myconf":         {},
	"mute_userconf":       {},
	"unmute_userconf":     {},
	"hangup_userconf":     {},
	"queuemember_add":     {macro: "qmanager"},
	"queuemember_remove":  {macro: "qmanager"},
	"queuemember_pause":   {macro: "qmanager"},
	"queuemember_unpause": {macro: "qmanager"},
	"cfcall":              {},
	"dnd":                 {},
	"history":             {macro: "cdr"},
}

// panels say who reads and hears each panel room: profiles with one of the
// macros on, or holding one of the permissions.
var panels = map[string]struct{ macros, perms []string }{
	model.RoomPresence: {macros: []string{"presence_panel", "operator_panel"}},
	model.RoomQueues:   {macros: []string{"queue_agent", "qmanager", "operator_panel"}},
	model.RoomParkings: {macros: []string{"operator_panel", "parkings"}, perms: []string{"ad_parking"}},
	model.RoomTrunks:   {macros: []string{"operator_panel", "trunks"}},
}

// access is one user's standing under the rules.
type access struct {
	user    *User
	profile *Profile
}

// owns reports whether endpoint is one of the user's own.
func (a access) owns(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	if endpoint == a.user.MainExtension {
		return true
	}
	for _, e := range a.user.Endpoints {
		if e.ID == endpoint {
			return true
		}
	}
	return false
}

// may reports whether the user may use operation op on endpoint. An operation
// not in the table is refused to everyone.
func (a access) may(op, endpoint string) bool {
	r, ok := operations[op]
	if !ok {
		return false
	}
	return a.owns(endpoint) || (r.perm != "" && a.profile.Has(r.perm)) || (r.macro != "" && a.profile.MacroOn(r.macro))
}

// grants reports whether op's rule lets the user act on endpoints not their own.
func (a access) grants(op string) bool {
	r, ok := operations[op]
	return ok && ((r.perm != "" && a.profile.Has(r.perm)) || (r.macro != "" && a.profile.MacroOn(r.macro)))
}

// sees reports whether the user reads and hears room: the room of one of their
// own extensions, or a panel their profile opens.
func (a access) sees(room string) bool {
	for _, e := range a.user.Endpoints0() {
		if room == model.ExtenRoom(e) {
			return true
		}
	}
	p, ok := panels[room]
	if !ok {
		return false
	}
	for _, m := range p.macros {
		if a.profile.MacroOn(m) {
			return true
		}
	}
	for _, pe := range p.perms {
		if a.profile.Has(pe) {
			return true
		}
	}
	return false
}

// rooms are the socket.io rooms the user's sockets join.
func (a access) rooms() []string {
	var out []string
	for _, e := range a.user.Endpoints0() {
		if r := model.ExtenRoom(e); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, r := range []string{model.RoomPresence, model.RoomQueues, model.RoomParkings, model.RoomTrunks} {
		if a.sees(r) {
			out = append(out, r)
		}
	}
	return out
}
