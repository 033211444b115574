package phonebook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/store"
)

// The nethcti phonebook REST endpoints under /webrest/phonebook/, with the
// request and response shapes nethlink, phone-island and nethvoice-cti read
// (nethcti-server's com_phonebook_rest). The CTI authenticates the user; these
// handlers see who it is.

// Profile answers the checks of a CTI user's profile (cti.Caller has them).
type Profile interface {
	// Has reports whether the profile grants a permission ("ad_phonebook").
	Has(permission string) bool
	// MacroOn reports whether a macro of the profile is on ("phonebook").
	MacroOn(macro string) bool
}

// User is the logged-in CTI user of a request.
type User struct {
	Username string
	IP       string
	Profile  Profile
}

func (u User) actor() store.Actor { return store.Actor{User: "cti:" + u.Username, IP: u.IP} }

// may is a nil-safe profile check.
func (u User) has(perm string) bool { return u.Profile != nil && u.Profile.Has(perm) }
func (u User) on(macro string) bool { return u.Profile != nil && u.Profile.MacroOn(macro) }

// UserHandler serves a /webrest route for a logged-in CTI user; an error made
// with httpapi.Errorf (or a store refusal) is answered with its status.
type UserHandler func(w http.ResponseWriter, r *http.Request, u User) error

// Mounter adds a /webrest route that only logged-in CTI users reach (the CTI's
// Service.Mount, through an adapter in serve).
type Mounter func(pattern string, h UserHandler) error

// Permissions of nethcti's phonebook, in a CTI profile.
const (
	// MacroPhonebook is the phonebook macro: using the shared phonebook
	// (creating public contacts, importing speed dials).
	MacroPhonebook = "phonebook"
	// PermAdminPhonebook lets a user change and delete anyone's contacts.
	PermAdminPhonebook = "ad_phonebook"
)

// MountCTI adds the nethcti phonebook endpoints.
func (s *Service) MountCTI(mount Mounter) error {
	routes := []struct {
		pattern string
		h       UserHandler
	}{
		{"GET /webrest/phonebook/search/{term}", s.ctiSearch},
		{"GET /webrest/phonebook/contact/{id}", s.ctiContact},
		{"GET /webrest/phonebook/cticontact/{id}", s.ctiContact},
		{"POST /webrest/phonebook/create", s.ctiCreate},
		{"POST /webrest/phonebook/modify_cticontact", s.ctiModify},
		{"POST /webrest/phonebook/delete_cticontact", s.ctiDelete},
		{"GET /webrest/phonebook/speeddials", s.ctiSpeedDials},
		{"DELETE /webrest/phonebook/speeddials", s.ctiDeleteSpeedDials},
		{"POST /webrest/phonebook/import_csv_speeddial", s.ctiImport},
	}
	for _, rt := range routes {
		if err := mount(rt.pattern, rt.h); err != nil {
			return fmt.Errorf("phonebook: %w", err)
		}
	}
	return nil
}

// writeCompact answers compact JSON, as nethcti does.
func writeCompact(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

// pageParams reads offset and limit as the clients send them; without a
// limit nethcti answers every row, here at most maxPage.
func pageParams(q url.Values) (offset, limit int, err error) {
	offset, limit = 0, maxPage
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, httpapi.Errorf(http.StatusBadRequest, "offset", "offset must be a number from 0")
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			return 0, 0, httpapi.Errorf(http.StatusBadRequest, "limit", "limit must be a number from 0")
		}
		limit = min(limit, maxPage)
	}
	return offset, limit, nil
}

// maxPage bounds one answer's rows.
const maxPage = 1000

func parseView(v string) (string, error) {
	switch strings.ToLower(v) {
	case "", ViewAll:
		return ViewAll, nil
	case ViewPerson:
		return ViewPerson, nil
	case ViewCompany:
		return ViewCompany, nil
	}
	return "", httpapi.Errorf(http.StatusBadRequest, "view", "view must be all, person or company")
}

// searchResult is nethcti's search answer: the number of matches and a page.
type searchResult struct {
	Count int `json:"count"`
	Rows  any `json:"rows"`
}

// companyRow is a row of the company view: the company's own card (its
// fields null when it has none) and its people as a JSON string, as nethcti
// returns it "for backward compatibility" and the clients JSON.parse it.
type companyRow struct {
	ID          *int64  `json:"id"`
	Company     string  `json:"company"`
	OwnerID     *string `json:"owner_id"`
	WorkStreet  *string `json:"workstreet"`
	WorkCity    *string `json:"workcity"`
	WorkProv    *string `json:"workprovince"`
	WorkCountry *string `json:"workcountry"`
	WorkPhone   *string `json:"workphone"`
	HomePhone   *string `json:"homephone"`
	CellPhone   *string `json:"cellphone"`
	Fax         *string `json:"fax"`
	WorkEmail   *string `json:"workemail"`
	URL         *string `json:"url"`
	Type        *string `json:"type"`
	Title       *string `json:"title"`
	Notes       *string `json:"notes"`
	Source      *string `json:"source"`
	Contacts    string  `json:"contacts"`
}

type companyPerson struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Source string `json:"source"`
}

func newCompanyRow(g companyGroup) companyRow {
	row := companyRow{Company: g.company}
	if c := g.card; c != nil {
		src := c.Source()
		row = companyRow{ID: &c.ID, Company: g.company, OwnerID: &c.Owner, WorkStreet: &c.WorkStreet, WorkCity: &c.WorkCity,
			WorkProv: &c.WorkProvince, WorkCountry: &c.WorkCountry, WorkPhone: &c.WorkPhone, HomePhone: &c.HomePhone,
			CellPhone: &c.CellPhone, Fax: &c.Fax, WorkEmail: &c.WorkEmail, URL: &c.URL, Type: &c.Type, Title: &c.Title,
			Notes: &c.Notes, Source: &src}
	}
	people := make([]companyPerson, 0, len(g.people))
	for _, p := range g.people {
		people = append(people, companyPerson{ID: p.ID, Name: p.Name, Source: p.Source()})
	}
	b, _ := json.Marshal(people) //nolint:errchkjson // plain strings and numbers
	row.Contacts = string(b)
	return row
}

// Search is a CTI user's search in view, paginated.
func (s *Service) Search(tenant, term, view, user string, offset, limit int) (int, any) {
	b := s.book(tenant)
	if view == ViewCompany {
		n, groups := b.searchCompanies(term, user, offset, limit)
		rows := make([]companyRow, 0, len(groups))
		for _, g := range groups {
			rows = append(rows, newCompanyRow(g))
		}
		return n, rows
	}
	p := b.search(term, view, user, offset, limit)
	rows := make([]ctiView, 0, len(p.Rows))
	for _, c := range p.Rows {
		rows = append(rows, c.view(true))
	}
	return p.Count, rows
}

func (s *Service) ctiTenant(r *http.Request) (string, error) {
	t, err := s.CTITenant(r.Context())
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", httpapi.Errorf(http.StatusServiceUnavailable, "", "the phonebook's tenant (phonebook.cti_tenant %q) does not exist", s.cfg.CTITenant)
		}
		return "", err
	}
	return t, nil
}

// GET /webrest/phonebook/search/{term}?offset=&limit=&view=all|person|company
func (s *Service) ctiSearch(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset, limit, err := pageParams(q)
	if err != nil {
		return err
	}
	view, err := parseView(q.Get("view"))
	if err != nil {
		return err
	}
	s.searches.WithLabelValues("cti").Inc()
	n, rows := s.Search(tenant, r.PathValue("term"), view, u.Username, offset, limit)
	writeCompact(w, http.StatusOK, searchResult{Count: n, Rows: rows})
	return nil
}

// canRead is nethcti's rule for one contact: public ones and one's own.
func canRead(c *Contact, u User) bool {
	return c.Type == TypePublic || c.Owner == u.Username || u.has(PermAdminPhonebook)
}

// canWrite: one's own contacts, or anyone's with ad_phonebook; a public one
// also needs the phonebook macro (nethcti-middleware's rule, stricter than
// nethcti-server's, which let anybody publish).
func canWrite(c *Contact, u User) bool {
	if u.has(PermAdminPhonebook) {
		return true
	}
	if c.Owner != u.Username {
		return false
	}
	return c.Type != TypePublic || u.on(MacroPhonebook)
}

// GET /webrest/phonebook/contact/{id} and /cticontact/{id}: one contact; an
// unknown id answers {} as nethcti does, another user's private one 403.
func (s *Service) ctiContact(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return httpapi.Errorf(http.StatusBadRequest, "id", "id must be a contact number")
	}
	c, err := s.Contact(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		writeCompact(w, http.StatusOK, struct{}{})
		return nil
	}
	if err != nil {
		return err
	}
	if !canRead(c, u) {
		return httpapi.Errorf(http.StatusForbidden, "id", "contact %d is another user's", id)
	}
	writeCompact(w, http.StatusOK, c.view(true))
	return nil
}

// readPayload reads a request body as nethcti does: a JSON object or an HTML
// form, into raw JSON values by name.
func readPayload(r *http.Request, maxBytes int64) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return nil, httpapi.Errorf(http.StatusBadRequest, "", "reading the body: %v", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, httpapi.Errorf(http.StatusRequestEntityTooLarge, "", "the body is larger than %d bytes", maxBytes)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, "", "bad form body: %v", err)
		}
		out := map[string]json.RawMessage{}
		for k, v := range vals {
			b, _ := json.Marshal(v[0]) //nolint:errchkjson // a string
			out[k] = b
		}
		return out, nil
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil || out == nil {
		return nil, httpapi.Errorf(http.StatusBadRequest, "", "the body must be a JSON object")
	}
	return out, nil
}

// textValue reads a field's value: a string, a number (kept as written) or
// null (""). present is false when the payload does not have the field.
func textValue(p map[string]json.RawMessage, name string) (value string, present bool, err error) {
	raw, ok := p[name]
	if !ok {
		return "", false, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, httpapi.Errorf(http.StatusBadRequest, name, "%s: bad JSON value", name)
	}
	switch x := v.(type) {
	case nil:
		return "", true, nil
	case string:
		return x, true, nil
	case float64:
		return strings.TrimSpace(string(raw)), true, nil
	}
	return "", true, httpapi.Errorf(http.StatusBadRequest, name, "%s must be a string", name)
}

// apply copies the contact fields a payload has; owner_id and id are never
// taken from a CTI client (the owner is who asks), and the fields the clients
// add of their own (privacy, favorite, selectedPrefNum, source...) are ignored.
func apply(c *Contact, p map[string]json.RawMessage) error {
	for _, f := range Fields {
		if f == "owner_id" {
			continue
		}
		v, present, err := textValue(p, f)
		if err != nil {
			return err
		}
		if present {
			c.Set(f, v)
		}
	}
	return nil
}

// POST /webrest/phonebook/create {type, name, ...}: 201.
func (s *Service) ctiCreate(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	p, err := readPayload(r, 64<<10)
	if err != nil {
		return err
	}
	typ, present, err := textValue(p, "type")
	if err != nil {
		return err
	}
	if !present {
		return httpapi.Errorf(http.StatusBadRequest, "type", "type is required: public, private or speeddial")
	}
	if _, present, err := textValue(p, "name"); err != nil || !present {
		if err != nil {
			return err
		}
		return httpapi.Errorf(http.StatusBadRequest, "name", "name is required (it may be empty when company is set)")
	}
	c := Contact{Tenant: tenant, Owner: u.Username}
	if err := apply(&c, p); err != nil {
		return err
	}
	c.Type = strings.ToLower(strings.TrimSpace(typ))
	if c.Type == TypePublic && !u.on(MacroPhonebook) && !u.has(PermAdminPhonebook) {
		return httpapi.Errorf(http.StatusForbidden, "type", "your CTI profile does not let you publish contacts (phonebook macro)")
	}
	created, err := s.Create(r.Context(), u.actor(), c)
	if err != nil {
		return err
	}
	s.log.Info("contact created", "user", u.Username, "id", created.ID, "type", created.Type)
	writeCompact(w, http.StatusCreated, map[string]int64{"id": created.ID})
	return nil
}

// payloadID reads the id of a modify or delete request.
func payloadID(p map[string]json.RawMessage) (int64, error) {
	raw, ok := p["id"]
	if !ok {
		return 0, httpapi.Errorf(http.StatusBadRequest, "id", "id is required")
	}
	id, ok := ParseID(raw)
	if !ok {
		return 0, httpapi.Errorf(http.StatusBadRequest, "id", "id must be a contact number")
	}
	return id, nil
}

// POST /webrest/phonebook/modify_cticontact {id, fields...}: the fields sent
// change, the others stay.
func (s *Service) ctiModify(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	p, err := readPayload(r, 64<<10)
	if err != nil {
		return err
	}
	id, err := payloadID(p)
	if err != nil {
		return err
	}
	_, err = s.Modify(r.Context(), u.actor(), tenant, id, func(c *Contact) error {
		if !canWrite(c, u) {
			return httpapi.Errorf(http.StatusForbidden, "id", "contact %d is not yours to change", id)
		}
		if err := apply(c, p); err != nil {
			return err
		}
		c.Type = strings.ToLower(strings.TrimSpace(c.Type))
		if !canWrite(c, u) {
			return httpapi.Errorf(http.StatusForbidden, "type", "your CTI profile does not let you publish contacts (phonebook macro)")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "id", "no contact %d", id)
	}
	if err != nil {
		return err
	}
	s.log.Info("contact changed", "user", u.Username, "id", id)
	writeCompact(w, http.StatusOK, struct{}{})
	return nil
}

// POST /webrest/phonebook/delete_cticontact {id}
func (s *Service) ctiDelete(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	p, err := readPayload(r, 64<<10)
	if err != nil {
		return err
	}
	id, err := payloadID(p)
	if err != nil {
		return err
	}
	err = s.Delete(r.Context(), u.actor(), tenant, id, func(c *Contact) error {
		if !canWrite(c, u) {
			return httpapi.Errorf(http.StatusForbidden, "id", "contact %d is not yours to delete", id)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "id", "no contact %d", id)
	}
	if err != nil {
		return err
	}
	s.log.Info("contact deleted", "user", u.Username, "id", id)
	writeCompact(w, http.StatusOK, struct{}{})
	return nil
}

// GET /webrest/phonebook/speeddials: the user's speed dials (an array).
func (s *Service) ctiSpeedDials(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	list := s.book(tenant).speedDials(u.Username)
	rows := make([]ctiView, 0, len(list))
	for _, c := range list {
		rows = append(rows, c.view(false))
	}
	writeCompact(w, http.StatusOK, rows)
	return nil
}

// DELETE /webrest/phonebook/speeddials: {num: how many were deleted}.
func (s *Service) ctiDeleteSpeedDials(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	n, err := s.DeleteSpeedDials(r.Context(), u.actor(), tenant, u.Username)
	if err != nil {
		return err
	}
	s.log.Info("speed dials deleted", "user", u.Username, "count", n)
	writeCompact(w, http.StatusOK, map[string]int{"num": n})
	return nil
}

// maxImport bounds an uploaded CSV file (decoded).
const maxImport = 8 << 20

// POST /webrest/phonebook/import_csv_speeddial {file64: "data:text/csv;base64,..."}:
// {num: how many speed dials were added}; all rows or none.
func (s *Service) ctiImport(w http.ResponseWriter, r *http.Request, u User) error {
	tenant, err := s.ctiTenant(r)
	if err != nil {
		return err
	}
	if !u.on(MacroPhonebook) && !u.has(PermAdminPhonebook) {
		return httpapi.Errorf(http.StatusForbidden, "", "your CTI profile does not let you import speed dials (phonebook macro)")
	}
	p, err := readPayload(r, maxImport*4/3+1024)
	if err != nil {
		return err
	}
	f64, present, err := textValue(p, "file64")
	if err != nil {
		return err
	}
	if !present || f64 == "" {
		return httpapi.Errorf(http.StatusBadRequest, "file64", "file64 is required: the CSV file, base64 (a data: URL is fine)")
	}
	data, err := DecodeFile64(f64)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "file64", "%v", err)
	}
	res, err := s.ImportSpeedDials(r.Context(), u.actor(), tenant, u.Username, data)
	var ie *ImportError
	if errors.As(err, &ie) {
		writeImportError(w, ie, "file64")
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("speed dials imported", "user", u.Username, "count", res.Created)
	writeCompact(w, http.StatusOK, map[string]int{"num": res.Created})
	return nil
}

// writeImportError answers a refused import: 400 with every bad line.
func writeImportError(w http.ResponseWriter, ie *ImportError, field string) {
	writeCompact(w, http.StatusBadRequest, struct {
		Error  string      `json:"error"`
		Field  string      `json:"field"`
		Errors []LineError `json:"errors"`
	}{ie.Error(), field, ie.Lines})
}
