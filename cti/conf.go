package cti

import (
	"net/http"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// Conferences, as nethcti runs them: each user has a ConfBridge room, the
// conference feature code followed by their extension (cti.feature_codes.
// conference), whose id is that extension. Starting one moves the other party
// of the owner's call into the room; the owner then joins it from their
// device (join_myconf) and adds more people the same way. Members are seen
// through ConfbridgeJoin/Leave/Mute/Unmute events and announced with
// confBridgeUpdate {id, users}; confBridgeEnd {id} when the room empties.

func (svc *Service) confRoom(owner string) string {
	return svc.cfg.FeatureCodes["conference"] + owner
}

// POST /webrest/astproxy/start_conf {convid, addEndpointId, ownerEndpointId}
func (svc *Service) opStartConf(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := permit(c, op, req.OwnerEndpointID); err != nil {
		return nil, err
	}
	_, peer, err := svc.convChannel(req.ConvID, req.OwnerEndpointID)
	if err != nil {
		return nil, err
	}
	if peer == "" {
		return nil, rerr(http.StatusConflict, "convid", "the conversation has no other party to bring into the conference")
	}
	room := svc.confRoom(req.OwnerEndpointID)
	m := ami.NewMessage("Action", "Redirect", "Channel", peer, "Context", svc.cfg.Context, "Exten", room, "Priority", "1")
	if err := svc.amiDo(r.Context(), m, true); err != nil {
		return nil, err
	}
	return map[string]string{"confId": req.OwnerEndpointID, "room": room}, nil
}

// POST /webrest/astproxy/join_myconf {endpointId}: the owner's device calls
// into their room.
func (svc *Service) opJoinMyConf(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := permit(c, op, req.EndpointID); err != nil {
		return nil, err
	}
	uid, err := svc.originate(r.Context(), c.user.Username, req.EndpointID, "PJSIP/"+req.EndpointID, req.EndpointID, svc.confRoom(req.EndpointID))
	return map[string]string{"uniqueid": uid}, err
}

// ownConf checks that the conference id is one of the caller's extensions.
func ownConf(c *caller, op, id string) error {
	if id == "" {
		return rerr(http.StatusBadRequest, "confId", "confId is required")
	}
	if !extenRe.MatchString(id) {
		return rerr(http.StatusBadRequest, "confId", "confId must be the owner's extension")
	}
	if !c.may(op, id) {
		return rerr(http.StatusForbidden, "confId", "conference %s is not yours", id)
	}
	return nil
}

// POST /webrest/astproxy/end_conf {confId}: everyone is hung up.
func (svc *Service) opEndConf(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := ownConf(c, op, req.ConfID); err != nil {
		return nil, err
	}
	svc.mu.Lock()
	conf := svc.model.Conferences()[req.ConfID]
	svc.mu.Unlock()
	if conf == nil {
		return nil, rerr(http.StatusNotFound, "confId", "conference %s is not running", req.ConfID)
	}
	var chans []string
	for _, u := range conf.Users {
		if ch, ok := svc.confChannel(req.ConfID, u.ID, ""); ok {
			chans = append(chans, ch)
		}
	}
	return nil, svc.hangupAll(r.Context(), chans)
}

func (svc *Service) confChannel(id, user, exten string) (string, bool) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.model.ConfChannel(id, user, exten)
}

// POST /webrest/astproxy/mute_userconf|unmute_userconf {confId, userId}
func (svc *Service) opMuteUserConf(mute bool) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		if err := ownConf(c, op, req.ConfID); err != nil {
			return nil, err
		}
		ch, ok := svc.confChannel(req.ConfID, req.UserID, "")
		if !ok || req.UserID == "" {
			return nil, rerr(http.StatusNotFound, "userId", "no user %q in conference %s", req.UserID, req.ConfID)
		}
		action := "ConfbridgeUnmute"
		if mute {
			action = "ConfbridgeMute"
		}
		return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", action, "Conference", svc.confRoom(req.ConfID), "Channel", ch), true)
	}
}

// POST /webrest/astproxy/hangup_userconf {confId, extenId}
func (svc *Service) opHangupUserConf(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := ownConf(c, op, req.ConfID); err != nil {
		return nil, err
	}
	ch, ok := svc.confChannel(req.ConfID, "", req.ExtenID)
	if !ok || req.ExtenID == "" {
		return nil, rerr(http.StatusNotFound, "extenId", "no extension %q in conference %s", req.ExtenID, req.ConfID)
	}
	return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "Hangup", "Channel", ch), true)
}

// GET /webrest/astproxy/conference/{endpoint}: the caller's conference ({}
// when it is not running).
func (svc *Service) conference(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("endpoint")
	if !c.owns(id) {
		return rerr(http.StatusForbidden, "endpoint", "endpoint %s is not yours", id)
	}
	svc.mu.Lock()
	conf := svc.model.Conferences()[id]
	svc.mu.Unlock()
	if conf == nil {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	writeJSON(w, http.StatusOK, conf)
	return nil
}
