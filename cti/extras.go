package cti

import (
	"context"
	"net/http"
	"sort"
)

// Endpoints the clients call whose data live only in the PBX's own files or
// databases (voice mail messages, off-hour rules and announcements, call
// PINs, customer cards, streaming sources, call recordings, queue
// statistics). They answer as nethcti-server does when the feature is off or
// empty, so the clients show an empty page instead of an error; writes that
// cannot take effect here are refused with 409 and a reason. The README's
// compatibility table lists each one.

func emptyList(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, []any{})
	return nil
}

func emptyObject(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// notHere refuses an operation on data only the PBX holds.
func notHere(what string) authedFn {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		return rerr(http.StatusConflict, "", "%s are kept by the PBX itself, not by this appliance", what)
	}
}

// noFile answers a download of a file only the PBX has.
func noFile(what string) authedFn {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		return rerr(http.StatusNotFound, "", "no such %s on this appliance", what)
	}
}

// GET /webrest/astproxy/feature_codes
func (svc *Service) featureCodes(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, svc.cfg.FeatureCodes)
	return nil
}

// GET /webrest/astproxy/pinstatus: no outbound route asks for a PIN.
func (svc *Service) pinStatus(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, map[string]bool{"enabled": false})
	return nil
}

// GET /webrest/astproxy/opgroups: the operator panel groups of the CTI
// users (User.Groups), {name: {users: [username...]}}.
func (svc *Service) opGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	out := map[string]map[string][]string{}
	for _, u := range svc.dir.all() {
		if u.Disabled {
			continue
		}
		for _, g := range u.Groups {
			if out[g] == nil {
				out[g] = map[string][]string{"users": {}}
			}
			out[g]["users"] = append(out[g]["users"], u.Username)
		}
	}
	for _, g := range out {
		sort.Strings(g["users"])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// GET /webrest/astproxy/qmanager_queues: the queues, for the queue manager.
func (svc *Service) qmanagerQueues(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.profile.MacroOn("qmanager") {
		return rerr(http.StatusForbidden, "", "your profile has no queue manager")
	}
	svc.mu.Lock()
	q := svc.model.Queues()
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, q)
	return nil
}

// GET /webrest/profiling/all: what this server is.
func (svc *Service) profiling(w http.ResponseWriter, r *http.Request, c *caller) error {
	svc.mu.Lock()
	up := svc.amiUp
	svc.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"server": "switchboard", "ami_connected": up, "sockets": svc.sio.Count()})
	return nil
}

// GET /webrest/voicemail/list/{type}: the messages are in the PBX's voice
// mail storage; the counters come through AMI (newVoiceMessageCounter).
func (svc *Service) voicemailList(w http.ResponseWriter, r *http.Request, c *caller) error {
	switch r.PathValue("type") {
	case "all", "inbox", "old", "new":
	default:
		return rerr(http.StatusBadRequest, "type", "type must be all, inbox, old or new")
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 0, "rows": []any{}})
	return nil
}

// recallOnBusy books a call back: when called is free again, caller's device
// rings and then calls it.
func (svc *Service) opRecallOnBusy(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := permit(c, op, req.Caller); err != nil {
		return nil, err
	}
	if !extenRe.MatchString(req.Called) {
		return nil, rerr(http.StatusBadRequest, "called", "called must be an extension")
	}
	svc.mu.Lock()
	st, known := svc.model.State(req.Called)
	if !known {
		svc.mu.Unlock()
		return nil, rerr(http.StatusNotFound, "called", "no extension %s", req.Called)
	}
	list := svc.recalls[req.Called]
	dup := false
	for _, w := range list {
		dup = dup || w.caller == req.Caller
	}
	if !dup {
		list = append(list, recallWait{caller: req.Caller, user: c.user.Username})
		svc.recalls[req.Called] = list
	}
	n := len(list)
	svc.mu.Unlock()
	svc.log.Info("recall on busy booked", "user", c.user.Username, "caller", req.Caller, "called", req.Called, "status", st.Status)
	return map[string]int{"waitingExtensions": n}, nil
}

// recallWait is one booked recall.
type recallWait struct{ caller, user string }

// recallsDueLocked takes the recalls whose called extension is free among
// exts. svc.mu is held.
func (svc *Service) recallsDueLocked(exts []string) map[string][]recallWait {
	var due map[string][]recallWait
	for _, e := range exts {
		list := svc.recalls[e]
		if len(list) == 0 {
			continue
		}
		if st, ok := svc.model.State(e); ok && st.Status == "online" {
			if due == nil {
				due = map[string][]recallWait{}
			}
			due[e] = list
			delete(svc.recalls, e)
		}
	}
	return due
}

// runRecalls places the recalls that came due (outside svc.mu).
func (svc *Service) runRecalls(ctx context.Context, due map[string][]recallWait) {
	for called, list := range due {
		for _, w := range list {
			if _, err := svc.originate(ctx, w.user, w.caller, "PJSIP/"+w.caller, w.caller, called); err != nil {
				svc.log.Warn("recall on busy failed", "user", w.user, "caller", w.caller, "called", called, "err", err)
			} else {
				svc.log.Info("recall on busy placed", "user", w.user, "caller", w.caller, "called", called)
			}
		}
	}
}

// voicemailCounter is newVoiceMessageCounter for a MessageWaiting event:
// the users whose voice mail box it is hear how many new messages they have.
func (svc *Service) voicemailCounter(box string, n int) {
	for _, u := range svc.dir.all() {
		if firstNonEmpty(u.Voicemail, u.MainExtension) == box {
			svc.toUser(u.Username, "newVoiceMessageCounter", map[string]any{"voicemail": box, "counter": n})
		}
	}
}
