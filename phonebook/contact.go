package phonebook

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-pbx/switchboard/store"
)

// KindContact is the store kind of a phonebook contact; a speed dial is a
// contact of type speeddial.
const KindContact = "phonebook_contact"

// Contact types, nethcti's "type": who sees the contact.
const (
	TypePublic    = "public"    // everyone of the tenant, and the desk phones' directory
	TypePrivate   = "private"   // its owner only
	TypeSpeedDial = "speeddial" // its owner's speed dials
)

// Contact is one phonebook entry, stored as this JSON. The field names are
// nethcti's cti_phonebook columns, so that the CTI clients, the CSV files and
// the admin API all speak the same names.
type Contact struct {
	ID     int64  `json:"id"`
	Tenant string `json:"tenant"`
	// Owner is the CTI user who owns the contact; empty for the tenant's own
	// contacts (made by an administrator).
	Owner string `json:"owner_id"`
	Type  string `json:"type"`

	Name    string `json:"name"`
	Company string `json:"company"`
	Title   string `json:"title"`

	WorkPhone string `json:"workphone"`
	CellPhone string `json:"cellphone"` // mobile
	HomePhone string `json:"homephone"`
	Fax       string `json:"fax"`
	Extension string `json:"extension"`
	// SpeedDialNum is the number a speed dial calls.
	SpeedDialNum string `json:"speeddial_num"`

	WorkEmail string `json:"workemail"`
	HomeEmail string `json:"homeemail"`
	URL       string `json:"url"`
	Notes     string `json:"notes"`

	HomeStreet     string `json:"homestreet"`
	HomePOB        string `json:"homepob"`
	HomeCity       string `json:"homecity"`
	HomeProvince   string `json:"homeprovince"`
	HomePostalCode string `json:"homepostalcode"`
	HomeCountry    string `json:"homecountry"`
	WorkStreet     string `json:"workstreet"`
	WorkPOB        string `json:"workpob"`
	WorkCity       string `json:"workcity"`
	WorkProvince   string `json:"workprovince"`
	WorkPostalCode string `json:"workpostalcode"`
	WorkCountry    string `json:"workcountry"`
}

// Fields are the contact's writable text fields by their JSON name, in the
// order of nethcti's table (and of CSV exports).
var Fields = []string{"owner_id", "type", "homeemail", "workemail", "homephone", "workphone", "cellphone", "fax",
	"title", "company", "notes", "name", "homestreet", "homepob", "homecity", "homeprovince", "homepostalcode",
	"homecountry", "workstreet", "workpob", "workcity", "workprovince", "workpostalcode", "workcountry", "url",
	"extension", "speeddial_num"}

// field returns a pointer to the contact's field named by its JSON name, or nil.
func (c *Contact) field(name string) *string {
	switch name {
	case "owner_id":
		return &c.Owner
	case "type":
		return &c.Type
	case "name":
		return &c.Name
	case "company":
		return &c.Company
	case "title":
		return &c.Title
	case "workphone":
		return &c.WorkPhone
	case "cellphone":
		return &c.CellPhone
	case "homephone":
		return &c.HomePhone
	case "fax":
		return &c.Fax
	case "extension":
		return &c.Extension
	case "speeddial_num":
		return &c.SpeedDialNum
	case "workemail":
		return &c.WorkEmail
	case "homeemail":
		return &c.HomeEmail
	case "url":
		return &c.URL
	case "notes":
		return &c.Notes
	case "homestreet":
		return &c.HomeStreet
	case "homepob":
		return &c.HomePOB
	case "homecity":
		return &c.HomeCity
	case "homeprovince":
		return &c.HomeProvince
	case "homepostalcode":
		return &c.HomePostalCode
	case "homecountry":
		return &c.HomeCountry
	case "workstreet":
		return &c.WorkStreet
	case "workpob":
		return &c.WorkPOB
	case "workcity":
		return &c.WorkCity
	case "workprovince":
		return &c.WorkProvince
	case "workpostalcode":
		return &c.WorkPostalCode
	case "workcountry":
		return &c.WorkCountry
	}
	return nil
}

// Set sets a field by its JSON name; false for a name that is no field.
func (c *Contact) Set(name, value string) bool {
	p := c.field(name)
	if p == nil {
		return false
	}
	*p = value
	return true
}

// Get reads a field by its JSON name.
func (c *Contact) Get(name string) string {
	if p := c.field(name); p != nil {
		return *p
	}
	return ""
}

// Numbers are a contact's dialable numbers with their kind, in the order phones
// list them: extension, work, mobile, home (the fax is not dialled).
func (c *Contact) Numbers() []Number {
	var out []Number
	add := func(kind, n string) {
		if n != "" {
			for _, o := range out {
				if o.Number == n {
					return // the same number twice is listed once
				}
			}
			out = append(out, Number{Kind: kind, Number: n})
		}
	}
	add(NumExtension, c.Extension)
	add(NumWork, c.WorkPhone)
	add(NumMobile, c.CellPhone)
	add(NumHome, c.HomePhone)
	if c.Type == TypeSpeedDial {
		add(NumWork, c.SpeedDialNum)
	}
	return out
}

// Number kinds.
const (
	NumExtension = "extension"
	NumWork      = "work"
	NumMobile    = "mobile"
	NumHome      = "home"
)

// Number is one dialable number of a contact.
type Number struct {
	Kind   string `json:"kind"`
	Number string `json:"number"`
}

// DisplayName is the name phones show: the name, else the company.
func (c *Contact) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Company
}

// Limits of a contact's fields, in bytes.
const (
	maxText  = 255
	maxNotes = 4096
)

var (
	// A number as people write them: digits and + * # with spaces, dots,
	// dashes, slashes and parentheses; SIP URIs are not phone numbers here.
	numberRe = regexp.MustCompile(`^\+?[0-9*#][0-9*# ()./-]{0,39}$`)
	// An owner is a CTI user name (see package cti).
	ownerRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)
)

// numberFields are the fields that hold a phone number.
var numberFields = map[string]bool{"workphone": true, "cellphone": true, "homephone": true, "fax": true,
	"extension": true, "speeddial_num": true}

func bad(field, format string, args ...any) error {
	return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// normalize trims every field; the type is lower-cased as nethcti accepts it.
func (c *Contact) normalize() {
	for _, f := range Fields {
		p := c.field(f)
		if f == "notes" {
			*p = strings.TrimSpace(strings.ReplaceAll(*p, "\r\n", "\n"))
		} else {
			*p = strings.TrimSpace(*p)
		}
	}
	c.Type = strings.ToLower(c.Type)
}

// Validate checks a contact with the rules every write path shares (CTI, admin
// API, CSV import, audit restore), naming the field at fault.
func (c *Contact) Validate() error {
	switch c.Type {
	case TypePublic, TypePrivate, TypeSpeedDial:
	case "":
		return bad("type", "type is required: public, private or speeddial")
	default:
		return bad("type", "type must be public, private or speeddial, not %q", c.Type)
	}
	if c.Owner != "" && !ownerRe.MatchString(c.Owner) {
		return bad("owner_id", "owner_id must be a CTI user name (letters, digits, '.', '_', '-')")
	}
	if c.Owner == "" && c.Type != TypePublic {
		return bad("owner_id", "a %s contact needs an owner (owner_id, a CTI user name)", c.Type)
	}
	if c.Name == "" && c.Company == "" {
		return bad("name", "a contact needs a name or a company")
	}
	if c.Type == TypeSpeedDial && c.SpeedDialNum == "" {
		return bad("speeddial_num", "a speed dial needs the number it calls (speeddial_num)")
	}
	for _, f := range Fields {
		v := c.Get(f)
		if v == "" {
			continue
		}
		limit := maxText
		if f == "notes" {
			limit = maxNotes
		}
		if len(v) > limit {
			return bad(f, "%s is longer than %d bytes", f, limit)
		}
		if !utf8.ValidString(v) {
			return bad(f, "%s is not valid UTF-8", f)
		}
		for _, r := range v {
			// XML 1.0 cannot carry control characters: the phones' directory
			// files must stay well-formed whatever is typed.
			if unicode.IsControl(r) && !(f == "notes" && (r == '\n' || r == '\t')) || r == '\uFFFE' || r == '\uFFFF' {
				return bad(f, "%s has a control character (%U)", f, r)
			}
		}
		if numberFields[f] && !numberRe.MatchString(v) {
			return bad(f, "%s %q is not a phone number (digits, + * #, spaces and . - / ( ))", f, v)
		}
		if (f == "workemail" || f == "homeemail") && (!strings.Contains(v, "@") || strings.ContainsAny(v, " <>\"")) {
			return bad(f, "%s %q is not an e-mail address", f, v)
		}
	}
	return nil
}

// ctiView is a contact as nethcti answers it: every column a string (the id a
// number), and the source the clients use to pick the detail route.
type ctiView struct {
	ID             int64  `json:"id"`
	OwnerID        string `json:"owner_id"`
	Type           string `json:"type"`
	HomeEmail      string `json:"homeemail"`
	WorkEmail      string `json:"workemail"`
	HomePhone      string `json:"homephone"`
	WorkPhone      string `json:"workphone"`
	CellPhone      string `json:"cellphone"`
	Fax            string `json:"fax"`
	Title          string `json:"title"`
	Company        string `json:"company"`
	Notes          string `json:"notes"`
	Name           string `json:"name"`
	HomeStreet     string `json:"homestreet"`
	HomePOB        string `json:"homepob"`
	HomeCity       string `json:"homecity"`
	HomeProvince   string `json:"homeprovince"`
	HomePostalCode string `json:"homepostalcode"`
	HomeCountry    string `json:"homecountry"`
	WorkStreet     string `json:"workstreet"`
	WorkPOB        string `json:"workpob"`
	WorkCity       string `json:"workcity"`
	WorkProvince   string `json:"workprovince"`
	WorkPostalCode string `json:"workpostalcode"`
	WorkCountry    string `json:"workcountry"`
	URL            string `json:"url"`
	Extension      string `json:"extension"`
	SpeedDialNum   string `json:"speeddial_num"`
	Source         string `json:"source,omitempty"`
}

// Sources of a contact, as the clients name them: "cti" for a CTI user's own
// contacts (editable through modify_cticontact), "centralized" for the
// tenant's contacts an administrator keeps (read-only to CTI users).
const (
	SourceCTI         = "cti"
	SourceCentralized = "centralized"
)

// Source is where the clients think the contact comes from.
func (c *Contact) Source() string {
	if c.Owner == "" {
		return SourceCentralized
	}
	return SourceCTI
}

func (c *Contact) view(withSource bool) ctiView {
	v := ctiView{ID: c.ID, OwnerID: c.Owner, Type: c.Type, HomeEmail: c.HomeEmail, WorkEmail: c.WorkEmail,
		HomePhone: c.HomePhone, WorkPhone: c.WorkPhone, CellPhone: c.CellPhone, Fax: c.Fax, Title: c.Title,
		Company: c.Company, Notes: c.Notes, Name: c.Name, HomeStreet: c.HomeStreet, HomePOB: c.HomePOB,
		HomeCity: c.HomeCity, HomeProvince: c.HomeProvince, HomePostalCode: c.HomePostalCode,
		HomeCountry: c.HomeCountry, WorkStreet: c.WorkStreet, WorkPOB: c.WorkPOB, WorkCity: c.WorkCity,
		WorkProvince: c.WorkProvince, WorkPostalCode: c.WorkPostalCode, WorkCountry: c.WorkCountry,
		URL: c.URL, Extension: c.Extension, SpeedDialNum: c.SpeedDialNum}
	if withSource {
		v.Source = c.Source()
	}
	return v
}

// objectID is the store id of a contact.
func objectID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID reads a contact id as the clients send it: a JSON number or a
// string of digits.
func ParseID(raw json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || id > maxID {
		return 0, false
	}
	return id, true
}

// maxID bounds contact ids below 2^53, the largest integer a JavaScript client
// keeps exact.
const maxID = 1<<53 - 1
