package cti

import (
	"net/http"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// Call forward lives in AstDB, where the FreePBX/NethVoice dialplan reads it:
// family CF (unconditional), CFB (on busy), CFU (when unavailable), key the
// extension, value the destination.
var cfFamilies = map[string]string{"unconditional": "CF", "busy": "CFB", "unavailable": "CFU"}

// GET /webrest/astproxy/cfcall/{type}/{endpoint}
func (svc *Service) getCF(w http.ResponseWriter, r *http.Request, c *caller) error {
	typ, ep := r.PathValue("type"), r.PathValue("endpoint")
	fam, ok := cfFamilies[typ]
	if !ok {
		return rerr(http.StatusBadRequest, "type", "type must be unconditional, busy or unavailable")
	}
	if !c.may("cfcall", ep) {
		return rerr(http.StatusForbidden, "endpoint", "endpoint %s is not yours", ep)
	}
	if svc.ami == nil {
		return ami.ErrDown
	}
	conn, err := svc.ami.Conn()
	if err != nil {
		return err
	}
	to, err := dbGet(r.Context(), conn, fam, ep)
	if err != nil {
		return err
	}
	status := "off"
	if to != "" {
		status = "on"
	}
	writeJSON(w, http.StatusOK, map[string]string{"exten": ep, "type": typ, "status": status, "to": to})
	return nil
}

// POST /webrest/astproxy/cfcall {type, endpoint, to}: to "" turns it off.
func (svc *Service) setCF(w http.ResponseWriter, r *http.Request, c *caller) error {
	var req struct {
		Type     string `json:"type"`
		Endpoint string `json:"endpoint"`
		To       string `json:"to"`
	}
	if err := readBody(r, &req); err != nil {
		return err
	}
	fam, ok := cfFamilies[req.Type]
	if !ok {
		return rerr(http.StatusBadRequest, "type", "type must be unconditional, busy or unavailable")
	}
	if req.Endpoint == "" {
		req.Endpoint = c.user.MainExtension
	}
	if !c.may("cfcall", req.Endpoint) {
		return rerr(http.StatusForbidden, "endpoint", "endpoint %s is not yours", req.Endpoint)
	}
	to := ""
	if req.To != "" {
		if to = cleanNumber(req.To); to == "" {
			return rerr(http.StatusBadRequest, "to", "to must be a number")
		}
	}
	m := ami.NewMessage("Action", "DBDel", "Family", fam, "Key", req.Endpoint)
	if to != "" {
		m = ami.NewMessage("Action", "DBPut", "Family", fam, "Key", req.Endpoint, "Val", to)
	}
	if err := svc.amiDo(r.Context(), m, to != ""); err != nil {
		return err
	}
	svc.mu.Lock()
	frames := append(encode(svc.model.SetCF(req.Endpoint, fam, to)), svc.presenceFramesLocked([]string{req.Endpoint})...)
	svc.mu.Unlock()
	svc.publish(frames)
	status := "off"
	if to != "" {
		status = "on"
	}
	writeJSON(w, http.StatusOK, map[string]string{"exten": req.Endpoint, "type": req.Type, "status": status, "to": to})
	return nil
}
