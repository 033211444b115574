package tasks

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// Routes mounts the tasks, mail and audit-export API:
//
//	GET|POST /api/v1/tasks, GET|PATCH|DELETE /api/v1/tasks/{id},
//	POST /api/v1/tasks/{id}/run (202 at once), GET /api/v1/tasks/{id}/runs,
//	GET|PUT /api/v1/mail, POST /api/v1/mail/test,
//	GET /api/v1/audit/export?format=&columns=&month=&day=&user=&object_type=&object_id=&action=
//
// Tasks read the whole PBX's calls: admins manage them, auditors read them,
// tenant admins do not see them.
func (s *Service) Routes(r component.Router) {
	r.Admin("GET /api/v1/tasks", s.read(func(w http.ResponseWriter, req *http.Request) error {
		l, err := s.Tasks(req.Context())
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	}))
	r.Admin("POST /api/v1/tasks", s.write(func(w http.ResponseWriter, req *http.Request, p httpapi.Principal) error {
		var in Input
		if err := httpapi.Decode(req, &in); err != nil {
			return err
		}
		v, err := s.Create(req.Context(), p.Actor(), in)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusCreated, v)
		return nil
	}))
	r.Admin("GET /api/v1/tasks/{id}", s.read(func(w http.ResponseWriter, req *http.Request) error {
		v, err := s.Task(req.Context(), req.PathValue("id"))
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	}))
	r.Admin("PATCH /api/v1/tasks/{id}", s.write(func(w http.ResponseWriter, req *http.Request, p httpapi.Principal) error {
		var in Input
		if err := httpapi.Decode(req, &in); err != nil {
			return err
		}
		v, err := s.Update(req.Context(), p.Actor(), req.PathValue("id"), in)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	}))
	r.Admin("DELETE /api/v1/tasks/{id}", s.write(func(w http.ResponseWriter, req *http.Request, p httpapi.Principal) error {
		if err := s.Delete(req.Context(), p.Actor(), req.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	r.Admin("POST /api/v1/tasks/{id}/run", s.write(func(w http.ResponseWriter, req *http.Request, p httpapi.Principal) error {
		run, err := s.RunNow(req.Context(), p.Actor(), req.PathValue("id"))
		switch {
		case errors.Is(err, errNotActive):
			return httpapi.Errorf(http.StatusServiceUnavailable, "", "%v", err)
		case errors.Is(err, errBusy):
			return httpapi.Errorf(http.StatusConflict, "", "%v", err)
		case err != nil:
			return err
		}
		httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"message": "report generation started", "run": run})
		return nil
	}))
	r.Admin("GET /api/v1/tasks/{id}/runs", s.read(func(w http.ResponseWriter, req *http.Request) error {
		q, err := httpapi.Query(req, "limit")
		if err != nil {
			return err
		}
		limit, err := httpapi.IntParam(q, "limit")
		if err != nil {
			return err
		}
		if limit < 0 || limit > 10000 {
			return httpapi.Errorf(http.StatusBadRequest, "limit", "limit must be 1-10000")
		}
		l, err := s.Runs(req.Context(), req.PathValue("id"), limit)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": l})
		return nil
	}))
	r.Admin("GET /api/v1/mail", s.read(func(w http.ResponseWriter, req *http.Request) error {
		v, err := s.Mail(req.Context())
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	}))
	r.Admin("PUT /api/v1/mail", s.write(func(w http.ResponseWriter, req *http.Request, p httpapi.Principal) error {
		var in MailInput
		if err := httpapi.Decode(req, &in); err != nil {
			return err
		}
		v, err := s.SetMail(req.Context(), p.Actor(), in)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	}))
	r.Admin("POST /api/v1/mail/test", s.write(func(w http.ResponseWriter, req *http.Request, p httpapi.Principal) error {
		var in struct {
			To string `json:"to"`
		}
		if err := httpapi.Decode(req, &in); err != nil {
			return err
		}
		err := s.TestMail(req.Context(), in.To)
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			return err
		}
		res := map[string]any{"ok": err == nil}
		if err != nil {
			res["error"] = err.Error()
		}
		httpapi.WriteJSON(w, http.StatusOK, res)
		return nil
	}))
	r.Admin("GET /api/v1/audit/export", s.auditExport)
}

// read lets admins and auditors in.
func (s *Service) read(h func(w http.ResponseWriter, r *http.Request) error) httpapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if p.Role == httpapi.RoleTenantAdmin || p.Tenant != "" {
			return httpapi.Errorf(http.StatusForbidden, "", "scheduled tasks export the whole PBX's calls: only admins and auditors see them")
		}
		return h(w, r)
	}
}

// write lets global admins in.
func (s *Service) write(h httpapi.Handler) httpapi.Handler {
	return func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if !p.IsAdmin() {
			return httpapi.ErrAdminOnly
		}
		return h(w, r, p)
	}
}

// auditExport streams the filtered audit log as a file. Tenant admins get
// their tenant's rows, like the listing.
func (s *Service) auditExport(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	q, err := httpapi.Query(r, "format", "columns", "month", "day", "user", "object_type", "object_id", "action", "lang")
	if err != nil {
		return err
	}
	format := report.CSV
	if v := q["format"]; v != "" {
		if format, err = report.ParseFormat(v); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "format", "%v", err)
		}
	}
	cols, err := report.ParseAuditColumns(q["columns"])
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "columns", "%v", err)
	}
	lang := s.lang
	switch q["lang"] {
	case "":
	case "en", "it":
		lang = report.Language(q["lang"])
	default:
		return httpapi.Errorf(http.StatusBadRequest, "lang", "lang must be en or it")
	}
	f := store.AuditFilter{Month: q["month"], Day: q["day"], User: q["user"], ObjectType: q["object_type"],
		ObjectID: q["object_id"], Action: q["action"]}
	if p.Role == httpapi.RoleTenantAdmin {
		f.Tenant = p.Tenant
	}
	check := f
	if err := check.Validate(); err != nil {
		return err
	}
	stem := "audit-" + time.Now().In(s.appLoc).Format("2006-01-02")
	name := report.FileName(stem, format)
	// Nothing is written before the first row is read, so that a failing
	// query still answers with a JSON error.
	hw := &lazyHeader{w: w, set: func() {
		ct := contentType(name)
		if format == report.CSV {
			ct += "; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		w.Header().Set("Cache-Control", "no-store")
	}}
	exp, err := report.NewAuditExport(format, cols, lang, func(string) (io.WriteCloser, error) { return hw, nil },
		report.Options{Location: s.appLoc, Title: stem})
	if err != nil {
		return err
	}
	if err := s.st.AuditEach(r.Context(), f, exp.Row); err != nil {
		if !hw.started {
			return err
		}
		return fmt.Errorf("tasks: audit export cut short: %w", err)
	}
	return exp.Close()
}

// lazyHeader sets the download headers on the first write.
type lazyHeader struct {
	w       http.ResponseWriter
	set     func()
	started bool
}

func (l *lazyHeader) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.set()
	}
	return l.w.Write(p)
}

func (l *lazyHeader) Close() error {
	if !l.started {
		l.started = true
		l.set()
	}
	return nil
}
