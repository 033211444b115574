package cti

import (
	"context"
	"fmt"
	"strings"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/model"
)

// readSnapshot runs the list actions of a full re-sync on c.
func readSnapshot(ctx context.Context, c *ami.Conn) (model.Snapshot, error) {
	var s model.Snapshot
	var err error
	for _, step := range []struct {
		action string
		dst    *[]ami.Message
	}{
		{"PJSIPShowEndpoints", &s.Endpoints},
		{"CoreShowChannels", &s.Channels},
		{"QueueStatus", &s.Queues},
		{"ParkedCalls", &s.Parked},
	} {
		_, *step.dst, err = c.ActionList(ctx, ami.NewMessage("Action", step.action))
		if err != nil {
			return s, fmt.Errorf("re-sync %s: %w", step.action, err)
		}
	}
	// The parking spaces (free ones too) and the conferences running; an
	// error here (no parking module, no conference) leaves them out.
	if _, lots, err := c.ActionList(ctx, ami.NewMessage("Action", "Parkinglots")); err == nil {
		s.Lots = lots
	}
	if _, rooms, err := c.ActionList(ctx, ami.NewMessage("Action", "ConfbridgeListRooms")); err == nil {
		for _, room := range rooms {
			if name := room.Get("Conference"); name != "" {
				if _, users, err := c.ActionList(ctx, ami.NewMessage("Action", "ConfbridgeList", "Conference", name)); err == nil {
					s.Confs = append(s.Confs, users...)
				}
			}
		}
	}
	// DND and call forward live in AstDB, which sends no events: read them, so a
	// change made on the phone (*76, *72) while we were away is not missed.
	s.DND, s.CF, s.CFB, s.CFU = map[string]bool{}, map[string]string{}, map[string]string{}, map[string]string{}
	for _, ev := range s.Endpoints {
		e := firstNonEmpty(ev.Get("ObjectName"), ev.Get("Endpoint"))
		if e == "" || !extenRe.MatchString(e) {
			continue
		}
		if v, err := dbGet(ctx, c, "DND", e); err == nil {
			s.DND[e] = v != ""
		}
		for fam, dst := range map[string]map[string]string{"CF": s.CF, "CFB": s.CFB, "CFU": s.CFU} {
			if v, err := dbGet(ctx, c, fam, e); err == nil {
				dst[e] = v
			}
		}
	}
	return s, nil
}

// dbGet reads one AstDB key ("" when absent). DBGet answers as a list
// (Response: Success, EventList: start, a DBGetResponse event carrying Val,
// DBGetComplete), or with an error when the key is absent.
func dbGet(ctx context.Context, c *ami.Conn, family, key string) (string, error) {
	resp, evs, err := c.ActionList(ctx, ami.NewMessage("Action", "DBGet", "Family", family, "Key", key))
	if err != nil {
		if strings.Contains(strings.ToLower(resp.Get("Message")), "not found") {
			return "", nil
		}
		return "", err
	}
	v := resp.Get("Val")
	for _, ev := range evs {
		if ev.Event() == "DBGetResponse" {
			v = ev.Get("Val")
		}
	}
	return v, nil
}
