package cti

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/cti/model"
)

// Click-to-call and the other originated calls run asynchronously in
// Asterisk (Async: true): the action's answer only says the call was queued,
// and the outcome comes later in an OriginateResponse event carrying the
// action's ActionID. A failure is never swallowed: one that arrives within
// cti.originate_wait (the device is unknown, unregistered or refuses at
// once) fails the REST request; one that comes later (nobody answered the
// device, it was busy) reaches the user's clients as extenHangup, the event
// they already show, and as originateFailure with the details.

// originateReasons names OriginateResponse's Reason codes (Asterisk's
// AST_CONTROL_* values) with the Q.850 cause clients understand.
var originateReasons = map[string][2]string{
	"0": {"the call could not be placed (device unknown, unreachable or refused)", "not_defined"},
	"1": {"the device hung up", "normal_clearing"},
	"3": {"nobody answered the device", "no_answer"},
	"5": {"the device is busy", "user_busy"},
	"8": {"the network is congested", "normal_circuit_congestion"},
}

// origWait is one originate whose outcome is awaited.
type origWait struct {
	user, endpoint, number, uid string
	ch                          chan ami.Message // the OriginateResponse, once
	expires                     time.Time
}

// originates pairs OriginateResponse events with the requests that caused
// them. Responses seen before their waiter registers (the event goroutine
// can be quicker than the request's) are kept briefly.
type originates struct {
	mu      sync.Mutex
	waiting map[string]*origWait   // by ActionID
	early   map[string]ami.Message // by ActionID
	earlyAt map[string]time.Time
}

func newOriginates() *originates {
	return &originates{waiting: map[string]*origWait{}, early: map[string]ami.Message{}, earlyAt: map[string]time.Time{}}
}

// seen records an OriginateResponse and returns its waiter, if any.
func (o *originates) seen(m ami.Message) *origWait {
	id := m.Get("ActionID")
	if id == "" {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for k, w := range o.waiting {
		if now.After(w.expires) {
			delete(o.waiting, k)
		}
	}
	w := o.waiting[id]
	if w == nil {
		for k, t := range o.earlyAt {
			if now.Sub(t) > time.Minute {
				delete(o.early, k)
				delete(o.earlyAt, k)
			}
		}
		if len(o.early) < 1000 {
			o.early[id], o.earlyAt[id] = m, now
		}
		return nil
	}
	delete(o.waiting, id)
	return w
}

// wait registers w for ActionID id; the response is delivered on w.ch.
func (o *originates) wait(id string, w *origWait) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m, ok := o.early[id]; ok {
		delete(o.early, id)
		delete(o.earlyAt, id)
		w.ch <- m
		return
	}
	o.waiting[id] = w
}

func (o *originates) cancel(id string) {
	o.mu.Lock()
	delete(o.waiting, id)
	o.mu.Unlock()
}

// originate calls channel (the user's device) and, once it answers, dials
// exten from it with callerID. It returns the new call's uniqueid, or the
// failure Asterisk reported within cti.originate_wait.
func (svc *Service) originate(ctx context.Context, user, endpoint, channel, callerID, exten string) (string, error) {
	if svc.ami == nil {
		return "", ami.ErrDown
	}
	uid := "sb" + strconv.FormatInt(time.Now().UnixNano(), 36) + newNonce()[:8]
	m := ami.NewMessage("Action", "Originate", "Channel", channel, "Context", svc.cfg.Context, "Exten", exten,
		"Priority", "1", "CallerID", callerID, "Timeout", strconv.FormatInt(svc.cfg.OriginateTimeout.Milliseconds(), 10),
		"Async", "true", "ChannelId", uid)
	resp, err := svc.ami.Action(ctx, m)
	if err != nil {
		return "", err
	}
	if resp.Get("Response") != "Success" {
		return "", rerr(http.StatusBadGateway, "", "the PBX refused the call: %s", resp.Get("Message"))
	}
	w := &origWait{user: user, endpoint: endpoint, number: exten, uid: uid, ch: make(chan ami.Message, 1),
		expires: time.Now().Add(svc.cfg.OriginateTimeout + time.Minute)}
	id := resp.Get("ActionID")
	svc.orig.wait(id, w)
	t := time.NewTimer(svc.cfg.OriginateWait)
	defer t.Stop()
	select {
	case ev := <-w.ch:
		if ev.Get("Response") == "Failure" {
			why := originateReasons[ev.Get("Reason")]
			if why[0] == "" {
				why[0] = "the call failed (reason " + ev.Get("Reason") + ")"
			}
			svc.log.Warn("originate failed", "user", user, "endpoint", endpoint, "number", exten, "reason", ev.Get("Reason"))
			return "", rerr(http.StatusBadGateway, "endpointId", "%s: %s", endpoint, why[0])
		}
	case <-t.C:
		// Still ringing the device: a later failure goes to the clients.
		go func() {
			select {
			case ev := <-w.ch:
				svc.originateOutcome(w, ev)
			case <-time.After(time.Until(w.expires)):
				svc.orig.cancel(id)
			}
		}()
	case <-ctx.Done():
		svc.orig.cancel(id)
		return uid, nil
	}
	return uid, nil
}

// originateOutcome tells the user's clients that a call they asked for failed
// after the request was answered.
func (svc *Service) originateOutcome(w *origWait, ev ami.Message) {
	if ev.Get("Response") != "Failure" {
		return
	}
	why := originateReasons[ev.Get("Reason")]
	if why[1] == "" {
		why = [2]string{"the call failed (reason " + ev.Get("Reason") + ")", "not_defined"}
	}
	svc.log.Warn("originate failed", "user", w.user, "endpoint", w.endpoint, "number", w.number, "reason", ev.Get("Reason"))
	svc.toUser(w.user, "originateFailure", map[string]string{"uniqueid": w.uid, "endpointId": w.endpoint,
		"number": w.number, "reason": why[0], "cause": why[1]})
	svc.broadcast("extenHangup", map[string]string{"cause": why[1], "channel": "", "callerNum": w.endpoint,
		"channelExten": w.endpoint, "calledNum": w.number}, model.ExtenRoom(w.endpoint))
}
