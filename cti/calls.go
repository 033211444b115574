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
	Number       string `json:"number"`
	EndpointType string `json:"endpointType"`
	EndpointID   string `json:"endpointId"`
	ConvID       string `json:"convid"`
	To           string `json:"to"`
	DestID       string `json:"destId"`
	ApplicantID  string `json:"applicantId"`
	Parking      string `json:"parking"`
	Tone         string `json:"tone"`
	QueueID      string `json:"queueId"`
	Reason       string `json:"reason"`
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
		"blindtransfer":       svc.opTransfer("BlindTransfer"),
		"atxfer":              svc.opTransfer("Atxfer"),
		"park":                svc.opPark,
		"pickup_parking":      svc.opPickupParking,
		"pickup_conv":         svc.opSpy("PickupChan", ""),
		"start_spy":           svc.opSpy("ChanSpy", ",qS"),
		"intrude":             svc.opSpy("ChanSpy", ",wqS"),
		"start_record":        svc.opRecord("MixMonitor"),
		"stop_record":         svc.opRecord("StopMixMonitor"),
		"mute_record":         svc.opRecord("mute"),
		"unmute_record":       svc.opRecord("unmute"),
		"mute":                svc.opMute(true),
		"unmute":              svc.opMute(false),
		"dtmf":                svc.opDTMF,
		"answer":              svc.opAnswer,
		"queuemember_add":     svc.opQueue("QueueAdd"),
		"queuemember_remove":  svc.opQueue("QueueRemove"),
		"queuemember_pause":   svc.opQueue("pause"),
		"queuemember_unpause": svc.opQueue("unpause"),
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

// originate rings endpoint's own device and then dials number from it.
func (svc *Service) originate(ctx context.Context, endpoint, number string) (string, error) {
	uid := "sb" + strconv.FormatInt(time.Now().UnixNano(), 36) + newNonce()[:8]
	m := ami.NewMessage("Action", "Originate", "Channel", "PJSIP/"+endpoint, "Context", svc.cfg.Context, "Exten", number,
		"Priority", "1", "CallerID", endpoint, "Timeout", strconv.FormatInt(svc.cfg.OriginateTimeout.Milliseconds(), 10),
		"Async", "true", "ChannelId", uid)
	return uid, svc.amiDo(ctx, m, true)
}

// opCall is click-to-call: the caller's chosen or default device dials number.
func (svc *Service) opCall(r *http.Request, c *caller, op string, req callReq) (any, error) {
	num := cleanNumber(req.Number)
	if num == "" {
		return nil, rerr(http.StatusBadRequest, "number", "number has no digits")
	}
	ep := firstNonEmpty(req.EndpointID, c.user.DefaultDevice, c.user.MainExtension)
	if err := permit(c, op, ep); err != nil {
		return nil, err
	}
	typ := firstNonEmpty(req.EndpointType, endpointType(c.user, ep), "physical")
	switch typ {
	case "webrtc", "nethlink":
		// The web phone (or the desktop app) dials by itself when told to.
		n := svc.toUser(c.user.Username, "callWebrtc", map[string]string{"number": num, "endpointId": ep})
		if n == 0 {
			return nil, rerr(http.StatusConflict, "endpointId", "no connected client of yours can place a %s call", typ)
		}
		return map[string]string{"message": "callWebrtc sent", "number": num}, nil
	case "mobile":
		if c.user.Cellphone == "" {
			return nil, rerr(http.StatusBadRequest, "endpointType", "you have no cellphone")
		}
		uid := "sb" + strconv.FormatInt(time.Now().UnixNano(), 36)
		m := ami.NewMessage("Action", "Originate", "Channel", "Local/"+c.user.Cellphone+"@"+svc.cfg.Context, "Context", svc.cfg.Context,
			"Exten", num, "Priority", "1", "CallerID", c.user.MainExtension, "Timeout", strconv.FormatInt(svc.cfg.OriginateTimeout.Milliseconds(), 10),
			"Async", "true", "ChannelId", uid)
		return map[string]string{"uniqueid": uid}, svc.amiDo(r.Context(), m, true)
	case "physical":
		for _, e := range c.user.Endpoints {
			if e.ID == ep && e.Device != "" && svc.phones != nil {
				err := svc.phones.Dial(r.Context(), e.Device, num)
				if err == nil {
					return map[string]string{"message": "dialled by the phone", "number": num}, nil
				}
				if !errors.Is(err, errNoPhoneControl) {
					svc.log.Warn("phone HTTP dial failed, using AMI", "device", e.Device, "err", err)
				}
			}
		}
		uid, err := svc.originate(r.Context(), ep, num)
		return map[string]string{"uniqueid": uid}, err
	}
	return nil, rerr(http.StatusBadRequest, "endpointType", "endpointType must be physical, webrtc, mobile or nethlink")
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

func (svc *Service) opTransfer(action string) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		to := cleanNumber(req.To)
		if to == "" {
			return nil, rerr(http.StatusBadRequest, "to", "to must be a number")
		}
		return svc.opSimple(func(own, peer string) ami.Message {
			if action == "BlindTransfer" {
				// The transferee (the other party) is sent to the new destination.
				return ami.NewMessage("Action", "BlindTransfer", "Channel", peer, "Context", svc.cfg.Context, "Exten", to)
			}
			// Attended: our own leg starts the consultation call.
			return ami.NewMessage("Action", "Atxfer", "Channel", own, "Exten", to, "Context", svc.cfg.Context)
		})(r, c, op, req)
	}
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
	uid, err := svc.originate(r.Context(), ep, req.Parking)
	return map[string]string{"uniqueid": uid}, err
}

// opSpy covers pickup, spy and intrude: the applicant's device (destId, one of
// theirs) is called and joined to the target conversation by an application.
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
			svc.mu.Lock()
			chs := svc.model.ChannelsOf(req.EndpointID)
			svc.mu.Unlock()
			if len(chs) == 0 {
				return nil, rerr(http.StatusNotFound, "endpointId", "endpoint %s has no call", req.EndpointID)
			}
			target = chs[0]
		}
		m := ami.NewMessage("Action", "Originate", "Channel", "PJSIP/"+req.DestID, "Application", app, "Data", target+opts,
			"CallerID", req.EndpointID, "Timeout", strconv.FormatInt(svc.cfg.OriginateTimeout.Milliseconds(), 10), "Async", "true")
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
	svc.mu.Lock()
	chs := svc.model.ChannelsOf(req.EndpointID)
	svc.mu.Unlock()
	if len(chs) == 0 {
		return "", rerr(http.StatusNotFound, "endpointId", "endpoint %s has no call", req.EndpointID)
	}
	return chs[0], nil
}

func (svc *Service) opMute(on bool) opFn {
	return func(r *http.Request, c *caller, op string, req callReq) (any, error) {
		ch, err := svc.ownChannel(c, op, req)
		if err != nil {
			return nil, err
		}
		state := "off"
		if on {
			state = "on"
		}
		return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "MuteAudio", "Channel", ch, "Direction", "in", "State", state), true)
	}
}

func (svc *Service) opDTMF(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if !toneRe.MatchString(req.Tone) {
		return nil, rerr(http.StatusBadRequest, "tone", "tone must be one of 0-9 * # A-D")
	}
	ch, err := svc.ownChannel(c, op, req)
	if err != nil {
		return nil, err
	}
	return nil, svc.amiDo(r.Context(), ami.NewMessage("Action", "PlayDTMF", "Channel", ch, "Digit", req.Tone), true)
}

func (svc *Service) opAnswer(r *http.Request, c *caller, op string, req callReq) (any, error) {
	if err := permit(c, op, req.EndpointID); err != nil {
		return nil, err
	}
	typ := endpointType(c.user, req.EndpointID)
	if typ == "webrtc" || typ == "nethlink" {
		svc.toUser(c.user.Username, "answerWebrtc", map[string]string{"endpointId": req.EndpointID})
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
	w.Write(png) //nolint:errcheck // the client went away
	return nil
}
