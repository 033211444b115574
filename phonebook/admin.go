package phonebook

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// The admin API, under /api/v1/tenants/{tenant}/phonebook: the tenant's
// contacts of every type (its public directory, and the CTI users' private
// contacts and speed dials), CSV import and export, and the desk phones'
// directory files. Tenant admins reach their own tenant only, auditors read.

// Routes mounts the admin routes.
func (s *Service) Routes(r component.Router) {
	const base = "/api/v1/tenants/{tenant}/phonebook"
	r.Admin("GET "+base, s.adminList)
	r.Admin("POST "+base, s.adminCreate)
	r.Admin("GET "+base+"/{id}", s.adminGet)
	r.Admin("PATCH "+base+"/{id}", s.adminPatch)
	r.Admin("DELETE "+base+"/{id}", s.adminDelete)
	r.Admin("GET "+base+".csv", s.adminExport)
	r.Admin("POST "+base+".csv", s.adminImport)
	r.Admin("GET /api/v1/tenants/{tenant}/phonebook-files", s.adminFiles)
}

func (s *Service) tenantOf(r *http.Request, p httpapi.Principal) (string, error) {
	return httpapi.TenantOf(r, p, s.tenants)
}

// adminContact is a contact as the admin API shows it: its fields, its
// source, and the numbers phones list.
type adminContact struct {
	Contact
	Source  string   `json:"source"`
	Numbers []Number `json:"numbers"`
}

func newAdminContact(c *Contact) adminContact {
	n := c.Numbers()
	if n == nil {
		n = []Number{}
	}
	return adminContact{Contact: *c, Source: c.Source(), Numbers: n}
}

// GET .../phonebook?q=&type=&owner=&offset=&limit=: {items, total, limit,
// offset}, as every paged list of the API: total is every match, items one
// page of them (by company, then name).
func (s *Service) adminList(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "q", "type", "owner", "offset", "limit")
	if err != nil {
		return err
	}
	typ := q["type"]
	if typ != "" && typ != TypePublic && typ != TypePrivate && typ != TypeSpeedDial {
		return httpapi.Errorf(http.StatusBadRequest, "type", "type must be public, private or speeddial")
	}
	offset, err := httpapi.IntParam(q, "offset")
	if err != nil {
		return err
	}
	limit := httpapi.DefaultPageSize
	if _, ok := q["limit"]; ok {
		if limit, err = httpapi.IntParam(q, "limit"); err != nil {
			return err
		}
	}
	switch {
	case limit < 1 || limit > httpapi.MaxPageSize:
		return httpapi.Errorf(http.StatusBadRequest, "limit", "limit must be 1-%d", httpapi.MaxPageSize)
	case offset < 0:
		return httpapi.Errorf(http.StatusBadRequest, "offset", "offset must not be negative")
	case len(q["q"]) > 128:
		return httpapi.Errorf(http.StatusBadRequest, "q", "q is longer than 128 characters")
	}
	owner, hasOwner := q["owner"]
	s.searches.WithLabelValues("admin").Inc()
	qq := newQuery(q["q"])
	items := []adminContact{}
	total := 0
	for _, e := range s.book(t).entries {
		if typ != "" && e.c.Type != typ || hasOwner && e.c.Owner != owner || !qq.matches(e, ViewAll) &&
			!strings.Contains(e.email, qq.term) {
			continue
		}
		if total >= offset && len(items) < limit {
			c := e.c
			items = append(items, newAdminContact(&c))
		}
		total++
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "total": total, "limit": limit, "offset": offset})
	return nil
}

// contactRef is the tenant and the contact number a .../phonebook/{id} route
// names.
func (s *Service) contactRef(r *http.Request, p httpapi.Principal) (string, int64, error) {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return "", 0, err
	}
	id, err := pathID(r)
	return t, id, err
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, httpapi.Errorf(http.StatusBadRequest, "id", "id must be a contact number")
	}
	return id, nil
}

func (s *Service) adminGet(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, id, err := s.contactRef(r, p)
	if err != nil {
		return err
	}
	c, err := s.Contact(t, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, newAdminContact(c))
	return nil
}

// adminInput reads a contact body: the contact's fields by name, strictly
// (an unknown field is a 400 naming it); id, tenant, source and numbers are
// the server's.
func adminInput(r *http.Request) (map[string]string, error) {
	raw, err := httpapi.RawObject(r)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, httpapi.Errorf(http.StatusBadRequest, "", "the body must be a JSON object")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if (&Contact{}).field(k) == nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, k, "unknown field %q (fields: %s)", k, strings.Join(Fields, ", "))
		}
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, k, "%s must be a string", k)
		}
		out[k] = ""
		if s != nil {
			out[k] = *s
		}
	}
	return out, nil
}

func (s *Service) adminCreate(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return err
	}
	in, err := adminInput(r)
	if err != nil {
		return err
	}
	c := Contact{Tenant: t, Type: TypePublic}
	for k, v := range in {
		c.Set(k, v)
	}
	created, err := s.Create(r.Context(), p.Actor(), c)
	if err != nil {
		return err
	}
	s.log.Info("contact created", "user", p.User, "tenant", t, "id", created.ID, "type", created.Type)
	httpapi.WriteJSON(w, http.StatusCreated, newAdminContact(created))
	return nil
}

// PATCH .../phonebook/{id}: the fields sent change, the others stay.
func (s *Service) adminPatch(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, id, err := s.contactRef(r, p)
	if err != nil {
		return err
	}
	in, err := adminInput(r)
	if err != nil {
		return err
	}
	c, err := s.Modify(r.Context(), p.Actor(), t, id, func(c *Contact) error {
		for k, v := range in {
			c.Set(k, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("contact changed", "user", p.User, "tenant", t, "id", id)
	httpapi.WriteJSON(w, http.StatusOK, newAdminContact(c))
	return nil
}

func (s *Service) adminDelete(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, id, err := s.contactRef(r, p)
	if err != nil {
		return err
	}
	if err := s.Delete(r.Context(), p.Actor(), t, id, nil); err != nil {
		return err
	}
	s.log.Info("contact deleted", "user", p.User, "tenant", t, "id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) adminExport(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="phonebook.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	return s.Export(t, w)
}

// POST .../phonebook.csv (the file as the body): {created, updated}, or 400
// with every bad line and nothing imported.
func (s *Service) adminImport(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxImport+1))
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "", "reading the file: %v", err)
	}
	if len(data) > maxImport {
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, "", "the file is larger than %d MiB", maxImport>>20)
	}
	res, err := s.Import(r.Context(), p.Actor(), t, data)
	var ie *ImportError
	if errors.As(err, &ie) {
		lines := ie.Lines
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"error": ie.Error(), "field": "csv", "errors": lines}) //nolint:errcheck // the client went away
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("contacts imported", "user", p.User, "tenant", t, "created", res.Created, "updated", res.Updated)
	httpapi.WriteJSON(w, http.StatusOK, res)
	return nil
}

// fileInfo describes one directory file for the console.
type fileInfo struct {
	Vendor string `json:"vendor"`
	Name   string `json:"name"`
	Path   string `json:"path"` // under the tenant's provisioning URL
	Size   int    `json:"size"`
	ETag   string `json:"etag"`
}

// vendorFiles are the files worth pointing a phone at, by vendor.
var vendorFiles = []struct{ vendor, name string }{
	{"Yealink", FileYealink}, {"Snom", FileSnom}, {"Fanvil", FileFanvil}, {"Grandstream", FileGrandstream},
	{"Poly", FilePolyDirectory}, {"Cisco", FileCisco},
}

// GET /api/v1/tenants/{tenant}/phonebook-files: the vendors' files, their
// paths under the tenant's provisioning URL and sizes.
func (s *Service) adminFiles(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
	t, err := s.tenantOf(r, p)
	if err != nil {
		return err
	}
	out := make([]fileInfo, 0, len(vendorFiles))
	for _, v := range vendorFiles {
		f := s.DirFile(t, v.name)
		if f == nil {
			continue
		}
		out = append(out, fileInfo{Vendor: v.vendor, Name: v.name, Path: Dir + "/" + v.name, Size: f.Size, ETag: f.ETag})
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}
