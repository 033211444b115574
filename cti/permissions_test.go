package cti

import (
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/cti/model"
)

func profileWith(macros map[string]bool, perms ...string) *Profile {
	p := &Profile{ID: "p", MacroPermissions: map[string]Macro{}}
	for name, on := range macros {
		m := Macro{Value: on}
		for _, pe := range perms {
			if macro, perm, ok := strings.Cut(pe, "."); ok && macro == name {
				m.Permissions = append(m.Permissions, Permission{Name: perm, Value: true})
			}
		}
		p.MacroPermissions[name] = m
	}
	return p
}

// Who may act on which endpoint: the owner always, others only with the
// operation's permission inside a macro that is on (or the queue manager macro).
func TestPermissionsActions(t *testing.T) {
	bob := &User{Username: "bob", MainExtension: "202", Endpoints: []Endpoint{{ID: "9202", Type: "webrtc"}}}
	none := access{user: bob}
	opOn := func(perms ...string) access {
		return access{user: bob, profile: profileWith(map[string]bool{"operator_panel": true}, perms...)}
	}
	opOff := func(perms ...string) access {
		return access{user: bob, profile: profileWith(map[string]bool{"operator_panel": false}, perms...)}
	}
	qmanager := access{user: bob, profile: profileWith(map[string]bool{"qmanager": true})}
	cdrOn := access{user: bob, profile: profileWith(map[string]bool{"cdr": true})}
	for _, c := range []struct {
		name     string
		a        access
		op, ep   string
		want     bool
		wantElse bool // may act on endpoints not their own at all
	}{
		{"own main extension, no profile", none, "hangup", "202", true, false},
		{"own webrtc endpoint", none, "hangup", "9202", true, false},
		{"someone else's, no profile", none, "hangup", "201", false, false},
		{"empty endpoint", none, "hangup", "", false, false},
		{"hangup permission", opOn("operator_panel.hangup"), "hangup", "201", true, true},
		{"hangup permission, macro off", opOff("operator_panel.hangup"), "hangup", "201", false, false},
		{"a permission for another operation", opOn("operator_panel.hangup"), "blindtransfer", "201", false, false},
		{"transfer covers blind", opOn("operator_panel.transfer"), "blindtransfer", "201", true, true},
		{"transfer covers attended", opOn("operator_panel.transfer"), "atxfer", "201", true, true},
		{"ad_phone: click-to-call for others", opOn("operator_panel.ad_phone"), "call", "201", true, true},
		{"ad_parking: park", opOn("operator_panel.ad_parking"), "park", "201", true, true},
		{"ad_parking: pick up a parked call", opOn("operator_panel.ad_parking"), "pickup_parking", "201", true, true},
		{"ad_recording", opOn("operator_panel.ad_recording"), "start_record", "201", true, true},
		{"ad_recording: mute the recording", opOn("operator_panel.ad_recording"), "mute_record", "201", true, true},
		{"spy", opOn("operator_panel.spy"), "start_spy", "201", true, true},
		{"spy does not intrude", opOn("operator_panel.spy"), "intrude", "201", false, false},
		{"intrude", opOn("operator_panel.intrude"), "intrude", "201", true, true},
		{"pickup", opOn("operator_panel.pickup"), "pickup_conv", "201", true, true},
		{"mute is own only", opOn("operator_panel.hangup", "operator_panel.ad_phone"), "mute", "201", false, false},
		{"dtmf is own only", opOn("operator_panel.hangup"), "dtmf", "201", false, false},
		{"answer is own only", opOn("operator_panel.ad_phone"), "answer", "201", false, false},
		{"queue member of another: queue manager", qmanager, "queuemember_pause", "201", true, true},
		{"queue member of another: no queue manager", opOn("operator_panel.hangup"), "queuemember_add", "201", false, false},
		{"own queue membership", none, "queuemember_remove", "202", true, false},
		{"call forward is own only", opOn("operator_panel.hangup"), "cfcall", "201", false, false},
		{"dnd is own only", qmanager, "dnd", "201", false, false},
		{"history of another extension: cdr macro", cdrOn, "history", "201", true, true},
		{"history of another extension: no cdr macro", opOn("operator_panel.hangup"), "history", "201", false, false},
		{"unknown operation, own endpoint", none, "reboot", "202", false, false},
	} {
		if got := c.a.may(c.op, c.ep); got != c.want {
			t.Errorf("%s: may(%s, %q) = %v", c.name, c.op, c.ep, got)
		}
		if got := c.a.grants(c.op); got != c.wantElse {
			t.Errorf("%s: grants(%s) = %v", c.name, c.op, got)
		}
	}
}

// Who reads and hears which part of the state: the same rule for the REST
// endpoints and the socket.io rooms.
func TestPermissionsRooms(t *testing.T) {
	bob := &User{Username: "bob", MainExtension: "202", Endpoints: []Endpoint{{ID: "202", Type: "physical"}, {ID: "9202", Type: "webrtc"}}}
	own := []string{model.ExtenRoom("202"), model.ExtenRoom("9202")}
	for _, c := range []struct {
		name    string
		profile *Profile
		rooms   []string // besides own
	}{
		{"no profile", nil, nil},
		{"macros off", profileWith(map[string]bool{"presence_panel": false, "operator_panel": false, "qmanager": false}), nil},
		{"presence panel", profileWith(map[string]bool{"presence_panel": true}), []string{model.RoomPresence}},
		{"operator panel", profileWith(map[string]bool{"operator_panel": true}), []string{model.RoomPresence, model.RoomQueues, model.RoomParkings, model.RoomTrunks}},
		{"queue agent", profileWith(map[string]bool{"queue_agent": true}), []string{model.RoomQueues}},
		{"queue manager", profileWith(map[string]bool{"qmanager": true}), []string{model.RoomQueues}},
		{"parkings macro", profileWith(map[string]bool{"parkings": true}), []string{model.RoomParkings}},
		{"ad_parking permission", profileWith(map[string]bool{"phone": true}, "phone.ad_parking"), []string{model.RoomParkings}},
		{"ad_parking in a macro that is off", profileWith(map[string]bool{"phone": false}, "phone.ad_parking"), nil},
		{"trunks macro", profileWith(map[string]bool{"trunks": true}), []string{model.RoomTrunks}},
	} {
		a := access{user: bob, profile: c.profile}
		want := append(append([]string{}, own...), c.rooms...)
		if got := a.rooms(); !slices.Equal(got, want) {
			t.Errorf("%s: rooms %v, want %v", c.name, got, want)
		}
		for _, r := range []string{model.RoomPresence, model.RoomQueues, model.RoomParkings, model.RoomTrunks} {
			if a.sees(r) != slices.Contains(c.rooms, r) {
				t.Errorf("%s: sees(%s) = %v", c.name, r, a.sees(r))
			}
		}
		if !a.sees(model.ExtenRoom("9202")) || a.sees(model.ExtenRoom("201")) || a.sees("user:bob") {
			t.Errorf("%s: extension rooms", c.name)
		}
	}
}

// Every call operation served has a rule (an operation without one would be
// refused to everyone, its owner included).
func TestEveryOperationHasARule(t *testing.T) {
	svc := &Service{}
	for name := range svc.callOps() {
		if _, ok := operations[name]; !ok {
			t.Errorf("call operation %s has no permission rule", name)
		}
	}
}
