package cti

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
)

var dateRe = regexp.MustCompile(`^\d{8}$`)

// GET /webrest/historycall/interval/{type}/{target}/{from}/{to}[/{filter}]
func (svc *Service) historyCall(w http.ResponseWriter, r *http.Request, c *caller) error {
	hist := svc.historyDB()
	if hist == nil {
		return rerr(http.StatusServiceUnavailable, "", "call history is not available (see the daemon log)")
	}
	q := r.URL.Query()
	limit, offset := 100, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return rerr(http.StatusBadRequest, "limit", "limit must be 1-1000")
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return rerr(http.StatusBadRequest, "offset", "offset must be a non-negative integer")
		}
		offset = n
	}
	target := r.PathValue("target")
	var exts []string
	switch r.PathValue("type") {
	case "user":
		if target != c.user.Username && !c.grants("history") {
			return rerr(http.StatusForbidden, "target", "the history of another user needs the cdr macro")
		}
		u, _, ok := svc.dir.Resolve(target)
		if !ok {
			return rerr(http.StatusNotFound, "target", "no user %s", target)
		}
		exts = u.Endpoints0()
	case "extension":
		if !c.may("history", target) {
			return rerr(http.StatusForbidden, "target", "extension %s is not yours and your profile has no cdr macro", target)
		}
		if !extenRe.MatchString(target) {
			return rerr(http.StatusBadRequest, "target", "target must be an extension")
		}
		exts = []string{target}
	default:
		return rerr(http.StatusBadRequest, "type", "type must be user or extension")
	}
	from, to := r.PathValue("from"), r.PathValue("to")
	if !dateRe.MatchString(from) || !dateRe.MatchString(to) {
		return rerr(http.StatusBadRequest, "from", "from and to must be dates YYYYMMDD")
	}
	f, err1 := time.ParseInLocation("20060102", from, time.Local)
	t, err2 := time.ParseInLocation("20060102", to, time.Local)
	if err1 != nil || err2 != nil || t.Before(f) {
		return rerr(http.StatusBadRequest, "from", "from and to must be dates YYYYMMDD with from <= to")
	}
	if len(exts) == 0 {
		// A user without extensions has no calls (the store would read no
		// extensions as every call).
		writeJSON(w, http.StatusOK, map[string]any{"count": 0, "rows": []cdr.Row{}})
		return nil
	}
	n, rows, err := hist.Query(r.Context(), cdr.Query{Extensions: exts, From: f, To: t.AddDate(0, 0, 1),
		Direction: q.Get("direction"), Filter: r.PathValue("filter"), Limit: limit, Offset: offset})
	if err != nil {
		var qe *cdr.QueryError
		if errors.As(err, &qe) {
			return rerr(http.StatusBadRequest, qe.Field, "%s", qe.Msg)
		}
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "rows": rows})
	return nil
}
