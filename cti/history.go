package cti

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
)

var dateRe = regexp.MustCompile(`^\d{8}$`)

// historyParams reads what the history endpoints share: the interval
// (YYYYMMDD, both days included), the filter and the query string
// (offset, limit, sort, direction, type, removeLostCalls) as the clients send
// it.
func historyParams(r *http.Request) (cdr.Query, error) {
	q := r.URL.Query()
	hq := cdr.Query{Limit: 100, Filter: r.PathValue("filter"), Sort: q.Get("sort"), Direction: q.Get("direction"), Type: q.Get("type")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return hq, rerr(http.StatusBadRequest, "limit", "limit must be 1-1000")
		}
		hq.Limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return hq, rerr(http.StatusBadRequest, "offset", "offset must be a non-negative integer")
		}
		hq.Offset = n
	}
	// NethLink sends removeLostCalls=undefined: only "true" removes them.
	hq.RemoveLost = q.Get("removeLostCalls") == "true"
	from, to := r.PathValue("from"), r.PathValue("to")
	if !dateRe.MatchString(from) || !dateRe.MatchString(to) {
		return hq, rerr(http.StatusBadRequest, "from", "from and to must be dates YYYYMMDD")
	}
	f, err1 := time.ParseInLocation("20060102", from, time.Local)
	t, err2 := time.ParseInLocation("20060102", to, time.Local)
	if err1 != nil || err2 != nil || t.Before(f) {
		return hq, rerr(http.StatusBadRequest, "from", "from and to must be dates YYYYMMDD with from <= to")
	}
	hq.From, hq.To = f, t.AddDate(0, 0, 1)
	return hq, nil
}

// answerHistory runs a history query and answers {count, rows}.
func (svc *Service) answerHistory(w http.ResponseWriter, r *http.Request, hq cdr.Query) error {
	hist := svc.historySource()
	if hist == nil {
		return rerr(http.StatusServiceUnavailable, "", "call history is not available (see the daemon log)")
	}
	hq.Trunks = svc.cfg.Trunks
	n, rows, err := hist.CallHistory(r.Context(), hq)
	if err != nil {
		var qe *cdr.QueryError
		if errors.As(err, &qe) {
			return rerr(http.StatusBadRequest, qe.Field, "%s", qe.Msg)
		}
		// The PBX's database may be down or refuse us: that is not the
		// client's fault, and the details stay in the log.
		svc.log.Error("call history", "err", err)
		return rerr(http.StatusServiceUnavailable, "", "call history is not available (see the daemon log)")
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "rows": rows})
	return nil
}

// GET /webrest/historycall/interval/{type}/{target}/{from}/{to}[/{filter}]:
// the calls of a user (all their extensions) or of one extension.
func (svc *Service) historyCall(w http.ResponseWriter, r *http.Request, c *caller) error {
	hq, err := historyParams(r)
	if err != nil {
		return err
	}
	target := r.PathValue("target")
	switch r.PathValue("type") {
	case "user":
		if target != c.user.Username && !c.grants("history") {
			return rerr(http.StatusForbidden, "target", "the history of another user needs the cdr macro")
		}
		u, _, ok := svc.dir.Resolve(target)
		if !ok {
			return rerr(http.StatusNotFound, "target", "no user %s", target)
		}
		hq.Extensions = u.Endpoints0()
	case "extension":
		if !c.may("history", target) {
			return rerr(http.StatusForbidden, "target", "extension %s is not yours and your profile has no cdr macro", target)
		}
		if !extenRe.MatchString(target) {
			return rerr(http.StatusBadRequest, "target", "target must be an extension")
		}
		hq.Extensions = []string{target}
	default:
		return rerr(http.StatusBadRequest, "type", "type must be user or extension")
	}
	if len(hq.Extensions) == 0 {
		// A user without extensions has no calls (the store would read no
		// extensions as every call).
		writeJSON(w, http.StatusOK, map[string]any{"count": 0, "rows": []cdr.Row{}})
		return nil
	}
	return svc.answerHistory(w, r, hq)
}

// GET /webrest/histcallswitch/interval/{from}/{to}[/{filter}]: every call of
// the PBX (the switchboard's history), for profiles with the ad_cdr
// permission; ?type=in|out|internal.
func (svc *Service) historySwitch(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.profile.Has("ad_cdr") {
		return rerr(http.StatusForbidden, "", "the switchboard history needs the ad_cdr permission")
	}
	hq, err := historyParams(r)
	if err != nil {
		return err
	}
	hq.Direction = ""
	return svc.answerHistory(w, r, hq)
}

// GET /webrest/histcallsgroups/interval/{from}/{to}[/{filter}]: the calls of
// the users who share an operator group with the caller, for profiles with
// the group_cdr permission.
func (svc *Service) historyGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.profile.Has("group_cdr") && !c.profile.Has("ad_cdr") {
		return rerr(http.StatusForbidden, "", "the groups' history needs the group_cdr permission")
	}
	hq, err := historyParams(r)
	if err != nil {
		return err
	}
	hq.Direction = ""
	for _, u := range svc.dir.all() {
		shares := false
		for _, g := range u.Groups {
			shares = shares || slices.Contains(c.user.Groups, g)
		}
		if shares {
			hq.Extensions = append(hq.Extensions, u.Endpoints0()...)
		}
	}
	if len(hq.Extensions) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"count": 0, "rows": []cdr.Row{}})
		return nil
	}
	return svc.answerHistory(w, r, hq)
}
