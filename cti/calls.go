package cti

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/store"
)

// callReq is the union of the call-operation bodies nethcti clients send.
type callReq struct {
	Number          string `json:"number"`
	EndpointType    string `json:"endpointType"`
	EndpointID      string `json:"endpointId"`
	ConvID          string `json:"convid"`
	To              string `json:"to"`
	DestID          string `json:"destId"`
	ApplicantID     string `json:"applicantId"`
	Parking         string `json:"parking"`
	Tone            string `json:"tone"`
	QueueID         string `json:"queueId"`
	Reason          string `json:"reason"`
	Exten           string `json:"exten"`
	Caller          string `json:"caller"`
	Called          string `json:"called"`
	AddEndpointID   string `json:"addEndpointId"`
	OwnerEndpointID string `json:"ownerEndpointId"`
	ConfID          string `json:"confId"`
	UserID          string `json:"userId"`
	ExtenID         string `json:"extenId"`
}

var (
	toneRe  = regexp.MustCompile(`^[0-9*#A-Da-d]$`)
	queueRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,79}$`)
)

// permit allows operation op on endpoint under the permission rules.
func permit(c *caller, op, endpoint string) error {
	if endpoint == "" {
		return rerr(http.StatusBadRequest, "endpointId", "endpointId is required")
	}
	if !extenRe.MatchString(endpoint) {
		return rerr(http.StatusBadRequest, "endpointId", "endpointId must be an extension")
	}
	if c.may(op, endpoint) {
		return nil
	}
	return rerr(http.StatusForbidden, "endpointId", "endpoint %s is not yours and your profile lacks the %q permission", endpoint, operations[op].perm)
}

// convChannel finds, in conversation convid, the channel of endpoint and its peer.
func (svc *Service) convChannel(convid, endpoint string) (own, peer string, err error) {
	if convid == "" {
		return "", "", rerr(http.StatusBadRequest, "convid", "convid is required")
	}
	src, dst, _ := strings.Cut(convid, ">")
	svc.mu.Lock()
	defer svc.mu.Unlock()
	for _, ch := range []string{src, dst} {
		if ci, ok := svc.model.Channel(ch); ok && ci.Endpoint == endpoint {
			return ci.Name, ci.Peer, nil
		}
	}
	return "", "", rerr(http.StatusNotFound, "convid", "no conversation %q of endpoint %s", convid, endpoint)
}

// opFn runs call operation op (its name, for the permission rules).
type opFn func(r *http.Request, c *caller, op string, req callReq) (any, error)

func (svc *Service) callOps() map[string]authedFn {
	ops := map[string]opFn{
		"call":                svc.opCall,
		"hangup":              svc.opSimple(func(own, _ string) ami.Message { return ami.NewMessage("Action", "Hangup", "Channel", own) }),
		"cancel":              svc.opCancel,
		"force_hangup":        svc.opForceHangup,
		"hangup_mainexten":    svc.opHangupMainExten,
		"blindtransfer":       svc.opBlindTransfer,
		"atxfer":              svc.opAttendedTransfer,
		"park":                svc.opPark,
		"pickup_parking":      svc.opPickupParking,
		"pickup_conv":         svc.opSpy("PickupChan", ""),
		"start_spy":           svc.opSpy("ChanSpy", ",qS"),
		"intrude":             svc.opSpy("ChanSpy", ",wqS"),
		"start_record":        svc.opRecord("MixMonitor"),
		"stop_record":         svc.opRecord("StopMixMonitor"),
		"mute_record":         svc.opRecord("mute"),
		"unmute_record":       svc.opRecord("unmute"),
		"mute":                svc.opMute(func(bool) bool { return true }),
		"unmute":              svc.opMute(func(bool) bool { return false }),
		"toggle_mute":         svc.opMute(func(was bool) bool { return !was }),
		"toggle_hold":         svc.opToggleHold,
		"dtmf":                svc.opDTMF,
		"answer":              svc.opAnswer,
		"queuemember_add":     svc.opQueue("QueueAdd"),
		"queuemember_remove":  svc.opQueue("QueueRemove"),
		"queuemember_pause":   svc.opQueue("pause"),
		"queuemember_unpause": svc.opQueue("unpause"),
		"recall_on_busy":      svc.opRecallOnBusy,
		"phone_reload":        svc.opPhoneReload,
		"start_conf":          svc.opStartConf,
		"end_conf":            svc.opEndConf,
		"join_myconf":         svc.opJoinMyConf,
		"mute_userconf":       svc.opMuteUserConf(true),
		"unmute_userconf":     svc.opMuteUserConf(false),
		"hangup_userconf":     svc.opHangupUserConf,
	}
	out := map[string]authedFn{}
	for name, op := range ops {
		out[name] = func(w http.ResponseWriter, r *http.Request, c *caller) error {
			var req callReq
			if err := readBody(r, &req); err != nil {
				return err
			}
			res, err := op(r, c, name, req)
			if err != nil {
				return err
			}
			svc.log.Info("call operation", "op", name, "user", c.user.Username, "endpoint", req.EndpointID, "src", c.ip)
			if res == nil {
				res = map[string]string{"message": name + " done"}
			}
			writeJSON(w, http.StatusOK, res)
			return nil
		}
	}
	return out
}

// opCall is click-to-call. The number is cleaned as the clients do (tel:,
// callto:, +); the device is the endpointId given or the caller's default
// device. endpointType "extension" (what the clients send) or empty lets the
// device's type decide how the call is made:
//   - webrtc: the web phone dials by itself on callWebrtc (the number);
//   - nethlink: the desktop app's phone dials on callWebrtc too;
//   - physical: the desk phone dials through its own HTTP interface when it
//     is provisioned with one, else through AMI Originate (the phone rings,
//     then calls the number); when the phone cannot be reached from here but
//     the user's NethLink runs beside it, NethLink is asked (actionNethLink);
//   - mobile, or endpointType "cellphone": Asterisk calls the user's
//     cellphone, then the number.
func (svc *Service) opCall(r *http.Request, c *caller, op string, req callReq) (any, error) {
	num := cleanNumber(req.Number)
	if num == "" {
		return nil, rerr(http.StatusBadRequest, "number", "number has no digits")
	}
	ep := firstNonEmpty(req.EndpointID, defaultDevice(c.user))
	if err := permit(c, op, ep); err != nil {
		return nil, err
	}
	typ := ""
	switch req.EndpointType {
	case "", "extension":
		typ = firstNonEmpty(endpointType(c.user, ep), svc.ownerEndpointType(ep), "physical")
	case "cellphone":
		typ = "mobile"
	case "physical", "webrtc", "mobile", "nethlink":
		typ = req.EndpointType
	default:
		return nil, rerr(http.StatusBadRequest, "endpointType", "endpointType must be extension or cellphone")
	}
	owner := svc.dir.OwnerOf(ep)
	switch typ {
	case "webrtc", "nethlink":
		// The web phone (or the desktop app) dials by itself when told to: the
		// event carries the number as a string.
		if n := svc.toUser(firstNonEmpty(owner, c.user.Username), "callWebrtc", num); n == 0 {
			return nil, rerr(http.StatusConflict, "endpointId", "no client of yours is connected to place the %s call", typ)
		}
		return map[string]string{"message": "callWebrtc sent", "number": num}, nil
	case "mobile":
		cell := c.user.Cellphone
		if req.EndpointType != "cellphone" && endpointType(c.user, ep) == "mobile" {
			// A mobile app device registers as an extension: ring it.
			uid, err := svc.originate(r.Context(), c.user.Username, ep, "PJSIP/"+ep, ep, num)
			return map[string]string{"uniqueid": uid}, err
		}
		if cell == "" {
			return nil, rerr(http.StatusBadRequest, "endpointType", "you have no cellphone")
		}
		uid, err := svc.originate(r.Context(), c.user.Username, ep, "Local/"+cell+"@"+svc.cfg.Context, firstNonEmpty(c.user.MainExtension, ep), num)
		return map[string]string{"uniqueid": uid}, err
	}
	// physical
	for _, e := range c.user.Endpoints {
		if e.ID != ep || e.Device == "" || svc.phones == nil {
			continue
		}
		err := svc.phones.Dial(r.Context(), e.Device, num)
		if err == nil {
			return map[string]string{"message": "dialled by the phone", "number": num}, nil
		}
		if errors.Is(err, errNoPhoneControl) {
			break
		}
		svc.log.Warn("phone HTTP dial failed", "device", e.Device, "err", err)
		if link, ok := svc.phones.ActionURL(r.Context(), e.Device, "call", num); ok && svc.nethlinkAlive(c.user.Username) {
			// NethLink runs on the user's computer, beside the phone.
			if n := svc.toUserArgs(c.user.Username, "actionNethLink", link, "call"); n > 0 {
				return map[string]string{"message": "sent to NethLink", "number": num}, nil
			}
		}
		break
	}
	uid, err := svc.originate(r.Context(), c.user.Username, ep, "PJSIP/"+ep, ep, num)
	return map[string]string{"uniqueid": uid}, err
}

// ownerEndpointType is the type of endpoint in its owner's list ("" when it
// has none).
func (svc *Service) ownerEndpointType(ep string) string {
	u, _, ok := svc.dir.Resolve(ep)
	if !ok {
		return ""
	}
	return endpointType(u, ep)
}

// nethlinkAlive reports whether the user's NethLink sent a heartbeat in the
// last two minutes.
func (svc *Service) nethlinkAlive(user string) bool {
	svc.mu.Lock()
	seen, ok := svc.nethlink[user]
	svc.mu.Unlock()
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339, seen.Timestamp)
	return err == nil && time.Since(t) < 2*time.Minute
}

// opSimple acts on the caller's channel in a conversation (and its peer).
func (svc *Service) opSimple(build func(own, peer string) ami.Message) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		if err := permit(c, op, req.EndpointID); err != nil {
			return nil, err
		}
		own, peer, err := svc.convChannel(req.ConvID, req.EndpointID)
		if err != nil {
			return nil, err
		}
		return nil, svc.amiDo(r.Context(), build(own, peer), true)
	}
}

// channelsOf lists endpoint's channels, newest first, that pass keep.
func (svc *Service) channelsOf(endpoint string, keep func(state string) bool) []string {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	var out []string
	for _, ch := range svc.model.ChannelsOf(endpoint) {
		if ci, ok := svc.model.Channel(ch); ok && (keep == nil || keep(ci.State)) {
			out = append(out, ch)
		}
	}
	return out
}

func (svc *Service) hangupAll(ctx context.Context, chans []string) error {
	for _, ch := range chans {
		if err := svc.amiDo(ctx, ami.NewMessage("Action", "Hangup", "Channel", ch), false); err != nil {
			return err
		}
	}
	return nil
}

// opCancel stops a call the endpoint is placing before it is answered (a
// click-to-call whose desk phone is still ringing, or dialling out).
func (svc *Service) opCancel(r *http.Request, c *caller, op string, req callReq) (any, error) {
	ep := firstNonEmpty(req.EndpointID, defaultDevice(c.user))
	if err := permit(c, op, ep); err != nil {
		return nil, err
	}
	if req.ConvID != "" {
		own, _, err := svc.convChannel(req.ConvID, ep)
		if err != nil {
			return nil, err
		}
		return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "Hangup", "Channel", own), true)
	}
	chans := svc.channelsOf(ep, func(st string) bool { return !strings.EqualFold(st, "Up") })
	if len(chans) == 0 {
		// A call that is up is cancelled too when it is the only one: the
		// clients send cancel when they know no conversation yet.
		chans = svc.channelsOf(ep, nil)
	}
	if len(chans) == 0 {
		return nil, rerr(http.StatusNotFound, "endpointId", "endpoint %s has no call to cancel", ep)
	}
	return nil, svc.hangupAll(r.Context(), chans)
}

// opForceHangup ends the conversation of the endpoint, or every call of it
// when the conversation is gone from our view.
func (svc *Service) opForceHangup(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if req.EndpointType != "" && req.EndpointType != "extension" {
		return nil, rerr(http.StatusBadRequest, "endpointType", "endpointType must be extension")
	}
	if err := permit(c, op, req.EndpointID); err != nil {
		return nil, err
	}
	if req.ConvID != "" {
		if own, _, err := svc.convChannel(req.ConvID, req.EndpointID); err == nil {
			return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "Hangup", "Channel", own), true)
		}
	}
	chans := svc.channelsOf(req.EndpointID, nil)
	if len(chans) == 0 {
		return nil, rerr(http.StatusNotFound, "endpointId", "endpoint %s has no call", req.EndpointID)
	}
	return nil, svc.hangupAll(r.Context(), chans)
}

// opHangupMainExten ends every call of every device of the user whose main
// extension (or any extension) is exten.
func (svc *Service) opHangupMainExten(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := permit(c, op, req.Exten); err != nil {
		return nil, err
	}
	exts := []string{req.Exten}
	if u, _, ok := svc.dir.Resolve(req.Exten); ok {
		exts = u.Endpoints0()
	}
	var chans []string
	for _, e := range exts {
		chans = append(chans, svc.channelsOf(e, nil)...)
	}
	return nil, svc.hangupAll(r.Context(), chans)
}

// opBlindTransfer sends the other party of the caller's conversation to a
// number. AMI BlindTransfer takes the transferrer's own channel (verified on
// Asterisk 20: the transferrer is released, the transferee goes to the
// target).
func (svc *Service) opBlindTransfer(r *http.Request, c *caller, op string, req callReq) (any, error) {
	to := cleanNumber(req.To)
	if to == "" {
		return nil, rerr(http.StatusBadRequest, "to", "to must be a number")
	}
	return svc.opSimple(func(own, _ string) ami.Message {
		return ami.NewMessage("Action", "BlindTransfer", "Channel", own, "Context", svc.cfg.Context, "Exten", to)
	})(r, c, op, req)
}

// opAttendedTransfer starts a consultation call from the caller's channel;
// hanging up completes the transfer. TRANSFER_EXTEN is set first: Atxfer's
// digits race the "pbx-transfer" prompt and are sometimes lost.
func (svc *Service) opAttendedTransfer(r *http.Request, c *caller, op string, req callReq) (any, error) {
	to := cleanNumber(req.To)
	if to == "" {
		return nil, rerr(http.StatusBadRequest, "to", "to must be a number")
	}
	if err := permit(c, op, req.EndpointID); err != nil {
		return nil, err
	}
	own, _, err := svc.convChannel(req.ConvID, req.EndpointID)
	if err != nil {
		return nil, err
	}
	if err := svc.amiDo(r.Context(), ami.NewMessage("Action", "Setvar", "Channel", own, "Variable", "TRANSFER_EXTEN", "Value", to), true); err != nil {
		return nil, err
	}
	return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "Atxfer", "Channel", own, "Exten", to, "Context", svc.cfg.Context), true)
}

func (svc *Service) opPark(r *http.Request, c *caller, op string, req callReq) (any, error) {
	return svc.opSimple(func(own, peer string) ami.Message {
		// Park the other party; announce to (and return timeouts to) our channel.
		return ami.NewMessage("Action", "Park", "Channel", peer, "TimeoutChannel", own, "AnnounceChannel", own)
	})(r, c, op, req)
}

func (svc *Service) opPickupParking(r *http.Request, c *caller, op string, req callReq) (any, error) {
	ep := firstNonEmpty(req.DestID, req.EndpointID)
	if err := permit(c, op, ep); err != nil {
		return nil, err
	}
	if !extenRe.MatchString(req.Parking) {
		return nil, rerr(http.StatusBadRequest, "parking", "parking must be a parking space number")
	}
	svc.mu.Lock()
	busy := svc.model.Parked(req.Parking)
	svc.mu.Unlock()
	if !busy {
		return nil, rerr(http.StatusNotFound, "parking", "no call is parked on %s", req.Parking)
	}
	uid, err := svc.originate(r.Context(), c.user.Username, ep, "PJSIP/"+ep, ep, req.Parking)
	return map[string]string{"uniqueid": uid}, err
}

// opSpy covers pickup, spy and intrude: the applicant's device (destId, one of
// theirs) is called and joined to the target conversation by an application.
// The call carries the applicant's own number, so it never shows as a call of
// the spied user (their history, their outgoing calls).
func (svc *Service) opSpy(app, opts string) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		if !c.owns(req.DestID) {
			return nil, rerr(http.StatusForbidden, "destId", "destId must be one of your endpoints")
		}
		if !c.may(op, req.EndpointID) {
			return nil, rerr(http.StatusForbidden, "", "your profile lacks the %q permission", operations[op].perm)
		}
		if !extenRe.MatchString(req.EndpointID) {
			return nil, rerr(http.StatusBadRequest, "endpointId", "endpointId must be an extension")
		}
		target := ""
		if req.ConvID != "" {
			own, _, err := svc.convChannel(req.ConvID, req.EndpointID)
			if err != nil {
				return nil, err
			}
			target = own
		} else {
			chs := svc.channelsOf(req.EndpointID, nil)
			if len(chs) == 0 {
				return nil, rerr(http.StatusNotFound, "endpointId", "endpoint %s has no call", req.EndpointID)
			}
			target = chs[0]
		}
		label := map[string]string{"PickupChan": "Pickup", "ChanSpy": "Spy"}[app]
		if opts == ",wqS" {
			label = "Intrude"
		}
		m := ami.NewMessage("Action", "Originate", "Channel", "PJSIP/"+req.DestID, "Application", app, "Data", target+opts,
			"CallerID", `"`+label+" "+req.EndpointID+`" <`+req.DestID+`>`, "Timeout", strconv.FormatInt(svc.cfg.OriginateTimeout.Milliseconds(), 10), "Async", "true")
		return nil, svc.amiDo(r.Context(), m, true)
	}
}

func (svc *Service) opRecord(kind string) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		return svc.opSimple(func(own, _ string) ami.Message {
			switch kind {
			case "MixMonitor":
				file := "cti-" + strings.NewReplacer("/", "-", ";", "-").Replace(own) + "-" + strconv.FormatInt(time.Now().Unix(), 10) + ".wav"
				return ami.NewMessage("Action", "MixMonitor", "Channel", own, "File", file, "Options", "a")
			case "StopMixMonitor":
				return ami.NewMessage("Action", "StopMixMonitor", "Channel", own)
			case "mute":
				return ami.NewMessage("Action", "MixMonitorMute", "Channel", own, "Direction", "both", "State", "1")
			default:
				return ami.NewMessage("Action", "MixMonitorMute", "Channel", own, "Direction", "both", "State", "0")
			}
		})(r, c, op, req)
	}
}

// ownChannel is the channel of the caller's endpoint in the conversation named,
// or its newest.
func (svc *Service) ownChannel(c *caller, op string, req callReq) (string, error) {
	if err := permit(c, op, req.EndpointID); err != nil {
		return "", err
	}
	if req.ConvID != "" {
		own, _, err := svc.convChannel(req.ConvID, req.EndpointID)
		return own, err
	}
	chs := svc.channelsOf(req.EndpointID, nil)
	if len(chs) == 0 {
		return "", rerr(http.StatusNotFound, "endpointId", "endpoint %s has no call", req.EndpointID)
	}
	return chs[0], nil
}

// opMute mutes what the caller's device sends into the call (AMI MuteAudio;
// Asterisk raises no event for it, so the state is kept here).
func (svc *Service) opMute(next func(was bool) bool) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		ch, err := svc.ownChannel(c, op, req)
		if err != nil {
			return nil, err
		}
		svc.mu.Lock()
		ci, _ := svc.model.Channel(ch)
		svc.mu.Unlock()
		on := next(ci.Muted)
		state := "off"
		if on {
			state = "on"
		}
		if err := svc.amiDo(r.Context(), ami.NewMessage("Action", "MuteAudio", "Channel", ch, "Direction", "in", "State", state), true); err != nil {
			return nil, err
		}
		svc.mu.Lock()
		svc.model.SetMuted(ch, on)
		svc.mu.Unlock()
		return map[string]any{"muted": on}, nil
	}
}

// opToggleHold holds or resumes the caller's call. AMI has no hold action:
// a desk phone is told over its own HTTP interface (as nethcti does); the
// web phone and NethLink hold by themselves.
func (svc *Service) opToggleHold(r *http.Request, c *caller, op string, req callReq) (any, error) {
	ch, err := svc.ownChannel(c, op, req)
	if err != nil {
		return nil, err
	}
	typ := firstNonEmpty(endpointType(c.user, req.EndpointID), "physical")
	if softphone(typ) {
		return nil, rerr(http.StatusBadRequest, "endpointId", "the %s phone holds the call by itself", typ)
	}
	svc.mu.Lock()
	ci, _ := svc.model.Channel(ch)
	svc.mu.Unlock()
	for _, e := range c.user.Endpoints {
		if e.ID == req.EndpointID && e.Device != "" && svc.phones != nil {
			if err := svc.phones.Hold(r.Context(), e.Device); err != nil {
				if errors.Is(err, errNoPhoneControl) {
					break
				}
				return nil, rerr(http.StatusBadGateway, "endpointId", "the phone did not take the hold key: %v", err)
			}
			return map[string]any{"hold": !ci.Hold}, nil
		}
	}
	return nil, rerr(http.StatusConflict, "endpointId", "the phone of %s has no HTTP remote control: hold the call on the phone", req.EndpointID)
}

// opDTMF plays a digit into the call as if the caller's phone had sent it:
// Receive true makes Asterisk treat it as coming from that channel, so the
// other party gets it (without it the tone goes to the caller's own phone).
func (svc *Service) opDTMF(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if !toneRe.MatchString(req.Tone) {
		return nil, rerr(http.StatusBadRequest, "tone", "tone must be one of 0-9 * # A-D")
	}
	ch, err := svc.ownChannel(c, op, req)
	if err != nil {
		return nil, err
	}
	return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "PlayDTMF", "Channel", ch, "Digit", req.Tone, "Receive", "true"), true)
}

func (svc *Service) opAnswer(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := permit(c, op, req.EndpointID); err != nil {
		return nil, err
	}
	typ := endpointType(c.user, req.EndpointID)
	if typ == "webrtc" || typ == "nethlink" {
		svc.toUser(c.user.Username, "answerWebrtc", req.EndpointID)
		return nil, nil
	}
	for _, e := range c.user.Endpoints {
		if e.ID == req.EndpointID && e.Device != "" && svc.phones != nil {
			if err := svc.phones.Answer(r.Context(), e.Device); err != nil {
				if errors.Is(err, errNoPhoneControl) {
					return nil, rerr(http.StatusConflict, "endpointId", "the phone of %s has no HTTP remote control", req.EndpointID)
				}
				return nil, rerr(http.StatusBadGateway, "endpointId", "the phone did not answer: %v", err)
			}
			return nil, nil
		}
	}
	return nil, rerr(http.StatusConflict, "endpointId", "endpoint %s is not linked to a provisioned phone with remote control", req.EndpointID)
}

func (svc *Service) opQueue(kind string) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		if !c.may(op, req.EndpointID) {
			return nil, rerr(http.StatusForbidden, "endpointId", "endpoint %s is not yours and your profile has no queue manager", req.EndpointID)
		}
		if !extenRe.MatchString(req.EndpointID) {
			return nil, rerr(http.StatusBadRequest, "endpointId", "endpointId must be an extension")
		}
		if kind != "pause" && kind != "unpause" || req.QueueID != "" {
			if !queueRe.MatchString(req.QueueID) {
				return nil, rerr(http.StatusBadRequest, "queueId", "queueId must be a queue name")
			}
		}
		iface := "PJSIP/" + req.EndpointID
		var m ami.Message
		switch kind {
		case "QueueAdd":
			m = ami.NewMessage("Action", "QueueAdd", "Queue", req.QueueID, "Interface", iface, "Paused", "false", "StateInterface", iface)
			if name := svc.dir.Owners()[req.EndpointID].Name; name != "" {
				m.Add("MemberName", name)
			}
		case "QueueRemove":
			m = ami.NewMessage("Action", "QueueRemove", "Queue", req.QueueID, "Interface", iface)
		default:
			m = ami.NewMessage("Action", "QueuePause", "Interface", iface, "Paused", strconv.FormatBool(kind == "pause"))
			if req.QueueID != "" {
				m.Add("Queue", req.QueueID)
			}
			if req.Reason != "" {
				m.Add("Reason", req.Reason)
			}
		}
		return nil, svc.amiDo(r.Context(), m, true)
	}
}

// opPhoneReload asks a desk phone to fetch its configuration again (a SIP
// NOTIFY check-sync, which the provisioned phones act on).
func (svc *Service) opPhoneReload(r *http.Request, c *caller, op string, req callReq) (any, error) {
	ext := firstNonEmpty(req.Exten, req.EndpointID)
	if err := permit(c, op, ext); err != nil {
		return nil, err
	}
	m := ami.NewMessage("Action", "PJSIPNotify", "Endpoint", ext, "Variable", "Event=check-sync")
	return nil, svc.amiDo(r.Context(), m, true)
}

// mobileQR makes a QR code (PNG) for the mobile app with a new non-expiring
// token; the previous mobile token stops working.
func (svc *Service) mobileQR(w http.ResponseWriter, r *http.Request, c *caller) error {
	host := svc.cfg.FQDN
	if host == "" {
		host = r.Host
		if h, _, ok := strings.Cut(host, ":"); ok && !strings.Contains(host, "]") {
			host = h
		}
	}
	if host == "" {
		return rerr(http.StatusBadRequest, "", "set cti.fqdn: the request carries no host name")
	}
	tok := randomToken()
	user := c.user.Username
	if _, err := svc.st.DeleteUserSessions(r.Context(), "cti-mobile:"+user); err != nil {
		return err
	}
	if err := svc.st.CreateSession(r.Context(), store.Session{TokenHash: hashSecret(tok), Username: "cti-mobile:" + user,
		Kind: "cti", Created: time.Now(), Expires: time.Now().AddDate(100, 0, 0), SourceIP: c.ip}); err != nil {
		return err
	}
	svc.grants.Add(user, tok, "mobile")
	text := user + ";" + tok + ";" + host
	if r.URL.Query().Get("format") == "csc" {
		text = "csc:" + user + "@" + host + "@qrcode:" + tok + "@" + svc.cfg.Brand
	}
	png, err := qrcode.Encode(text, qrcode.Medium, 320)
	if err != nil {
		return err
	}
	svc.log.Info("mobile QR code issued", "user", user, "src", c.ip)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png) //nolint:gosec // G705: a PNG drawn here, served as image/png
	return nil
}
