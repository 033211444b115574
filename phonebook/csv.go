package phonebook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-pbx/switchboard/store"
)

// CSV import and export. A file is UTF-8 (a byte-order mark is skipped), its
// fields separated by ';' or ',' (whichever the header line uses), its first
// line naming the columns: the contact's field names (see Fields), plus id.
// An import is one transaction: every bad line is reported, and nothing is
// imported unless every line is good.

// Columns are the CSV columns of an export, in order.
var Columns = append([]string{"id"}, Fields...)

// columnAliases are other names people give the columns.
var columnAliases = map[string]string{
	"mobile": "cellphone", "mobilephone": "cellphone", "cell": "cellphone",
	"work": "workphone", "phone": "workphone", "telephone": "workphone",
	"home": "homephone", "email": "workemail", "e-mail": "workemail",
	"owner": "owner_id", "visibility": "type", "note": "notes",
}

// MaxImportRows bounds the rows of one import.
const MaxImportRows = 20000

// maxLineErrors is how many bad lines an answer lists before it stops looking.
const maxLineErrors = 100

// LineError is one bad line of an import.
type LineError struct {
	Line  int    `json:"line"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// ImportError is a refused import: nothing was imported.
type ImportError struct {
	Lines []LineError
	// More is set when there were more bad lines than are listed.
	More bool
}

func (e *ImportError) Error() string {
	var b strings.Builder
	if len(e.Lines) == 1 {
		b.WriteString("nothing imported: ")
	} else {
		fmt.Fprintf(&b, "nothing imported, %d lines have errors", len(e.Lines))
		if e.More {
			b.WriteString(" (and more)")
		}
		b.WriteString(": ")
	}
	for i, l := range e.Lines {
		if i == 3 {
			b.WriteString("; ...")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "line %d: %s", l.Line, l.Error)
	}
	return b.String()
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// DecodeFile64 decodes nethcti's file64: base64, with or without a data: URL
// prefix ("data:text/csv;base64,...").
func DecodeFile64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "data:") {
		_, after, ok := strings.Cut(s, ",")
		if !ok {
			return nil, errors.New("a data: URL without a comma")
		}
		s = after
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if base64.StdEncoding.DecodedLen(len(s)) > maxImport {
		return nil, fmt.Errorf("the file is larger than %d MiB", maxImport>>20)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			return b2, nil
		}
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return b, nil
}

// csvRow is one parsed line.
type csvRow struct {
	line   int
	fields map[string]string
}

// parseCSV reads a whole file: the header, then every row. A bad header is an
// error (nil rows); the bad rows are listed in the returned ImportError (with
// no lines when all are good) and left out of the rows. strict refuses
// unknown columns (an administrator's file); otherwise they are ignored (a
// client's export may carry more).
func parseCSV(data []byte, strict bool) ([]csvRow, *ImportError) {
	ie := &ImportError{}
	fail := func(line int, field, format string, args ...any) bool {
		if len(ie.Lines) >= maxLineErrors {
			ie.More = true
			return false
		}
		ie.Lines = append(ie.Lines, LineError{Line: line, Field: field, Error: fmt.Sprintf(format, args...)})
		return true
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalid(data)], []byte("\n"))
		fail(line, "", "the file is not UTF-8 text (save it as CSV UTF-8)")
		return nil, ie
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = separator(first)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	cr.LazyQuotes = true // spreadsheets write a quote inside a field as they please
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		fail(1, "", "the file is empty: the first line must name the columns (%s)", strings.Join(Columns, ","))
		return nil, ie
	}
	if err != nil {
		fail(1, "", "%v", csvErr(err))
		return nil, ie
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if a, ok := columnAliases[name]; ok {
			name = a
		}
		switch {
		case name == "id" || (&Contact{}).field(name) != nil:
			if seen[name] {
				fail(1, name, "column %q appears twice", name)
			}
			seen[name] = true
			cols[i] = name
		case strict:
			fail(1, name, "unknown column %q (columns: %s)", strings.TrimSpace(h), strings.Join(Columns, ","))
		}
	}
	if !seen["name"] && !seen["company"] {
		fail(1, "", "the columns must include name or company")
	}
	if len(ie.Lines) > 0 {
		return nil, ie
	}
	var rows []csvRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			if !fail(line, "", "%v", csvErr(err)) {
				break
			}
			continue
		}
		if len(rec) != len(header) {
			if !fail(line, "", "%d fields, the header has %d", len(rec), len(header)) {
				break
			}
			continue
		}
		if len(rows) >= MaxImportRows {
			fail(line, "", "more than %d rows: split the file", MaxImportRows)
			break
		}
		m := make(map[string]string, len(cols))
		empty := true
		for i, v := range rec {
			if cols[i] == "" {
				continue
			}
			v = strings.TrimSpace(v)
			m[cols[i]] = v
			if v != "" {
				empty = false
			}
		}
		if empty {
			continue // a line of separators only
		}
		rows = append(rows, csvRow{line: line, fields: m})
	}
	// Bad rows are reported with what the importer finds in the good ones.
	return rows, ie
}

// separator is the field separator the header line uses: ';' (what
// spreadsheets write where the decimal mark is a comma, as in Italy) or ','.
func separator(header []byte) rune {
	semi, comma, quoted := 0, 0, false
	for _, c := range header {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';':
			semi++
		case c == ',':
			comma++
		}
	}
	if semi > comma {
		return ';'
	}
	return ','
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// csvErr is a CSV parse error without its position (the line is reported
// apart).
func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lineErrorOf turns a validation error into a line error.
func lineErrorOf(line int, err error) (LineError, bool) {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return LineError{Line: line, Field: ve.Field, Error: ve.Msg}, true
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return LineError{Line: line, Field: ce.Field, Error: ce.Msg}, true
	}
	return LineError{}, false
}

// ImportSpeedDials adds a CTI user's speed dials from a CSV file (nethcti's
// import_csv_speeddial): every row becomes a speed dial of the user, whatever
// its id, owner_id and type say; a row without speeddial_num calls its first
// number.
func (s *Service) ImportSpeedDials(ctx context.Context, actor store.Actor, tenant, owner string, data []byte) (ImportResult, error) {
	rows, ie := parseCSV(data, false)
	if rows == nil && len(ie.Lines) > 0 {
		return ImportResult{}, ie
	}
	contacts := make([]*Contact, 0, len(rows))
	for _, r := range rows {
		c := &Contact{}
		for k, v := range r.fields {
			c.Set(k, v)
		}
		c.ID, c.Tenant, c.Owner, c.Type = 0, tenant, owner, TypeSpeedDial
		if c.SpeedDialNum == "" {
			if n := c.Numbers(); len(n) > 0 {
				c.SpeedDialNum = n[0].Number
			}
		}
		c.normalize()
		if err := c.Validate(); err != nil {
			if le, ok := lineErrorOf(r.line, err); ok && len(ie.Lines) < maxLineErrors {
				ie.Lines = append(ie.Lines, le)
			}
			continue
		}
		contacts = append(contacts, c)
	}
	if len(ie.Lines) > 0 {
		ie.sort()
		return ImportResult{}, ie
	}
	var res ImportResult
	err := s.update(ctx, actor, func(tx *store.Tx, w *writer) error {
		res = ImportResult{}
		for i, c := range contacts {
			if err := w.create(tx, c, describe(c, "imported")); err != nil {
				if le, ok := lineErrorOf(rows[i].line, err); ok {
					return &ImportError{Lines: []LineError{le}}
				}
				return err
			}
			res.Created++
		}
		return nil
	})
	return res, err
}

// Import adds and updates a tenant's contacts from a CSV file: a row with an
// id changes that contact (an edited export imports back), a row without one
// adds a contact. type defaults to public; a private contact or speed dial
// names its CTI user in owner_id.
func (s *Service) Import(ctx context.Context, actor store.Actor, tenant string, data []byte) (ImportResult, error) {
	rows, parseErrs := parseCSV(data, true)
	if rows == nil && len(parseErrs.Lines) > 0 {
		return ImportResult{}, parseErrs
	}
	var res ImportResult
	err := s.update(ctx, actor, func(tx *store.Tx, w *writer) error {
		res = ImportResult{}
		ie := &ImportError{Lines: slices.Clone(parseErrs.Lines), More: parseErrs.More}
		bad := func(line int, err error) error {
			le, ok := lineErrorOf(line, err)
			if !ok {
				return err
			}
			if len(ie.Lines) < maxLineErrors {
				ie.Lines = append(ie.Lines, le)
			} else {
				ie.More = true
			}
			return nil
		}
		ids := map[int64]int{}
		for _, r := range rows {
			var c *Contact
			if v := r.fields["id"]; v != "" {
				id, perr := strconv.ParseInt(v, 10, 64)
				if perr != nil || id <= 0 {
					if err := bad(r.line, badField("id", "id %q is not a contact number", v)); err != nil {
						return err
					}
					continue
				}
				if first, dup := ids[id]; dup {
					if err := bad(r.line, badField("id", "contact %d is already on line %d", id, first)); err != nil {
						return err
					}
					continue
				}
				ids[id] = r.line
				stored, gerr := getIn(tx, tenant, id)
				if errors.Is(gerr, store.ErrNotFound) {
					if err := bad(r.line, badField("id", "no contact %d in this tenant (leave id empty to add one)", id)); err != nil {
						return err
					}
					continue
				}
				if gerr != nil {
					return gerr
				}
				c = stored
			} else {
				c = &Contact{Tenant: tenant, Type: TypePublic}
			}
			for k, v := range r.fields {
				if k == "id" || k == "type" && v == "" {
					continue // an empty type keeps the contact's (public for a new one)
				}
				c.Set(k, v)
			}
			c.Tenant = tenant
			c.normalize()
			if err := c.Validate(); err != nil {
				if err := bad(r.line, err); err != nil {
					return err
				}
				continue
			}
			if len(ie.Lines) > 0 {
				continue // nothing will be written: only look for more errors
			}
			if c.ID != 0 {
				if err := w.replace(tx, c, describe(c, "updated by an import")); err != nil {
					if err := bad(r.line, err); err != nil {
						return err
					}
					continue
				}
				res.Updated++
				continue
			}
			if err := w.create(tx, c, describe(c, "imported")); err != nil {
				if err := bad(r.line, err); err != nil {
					return err
				}
				continue
			}
			res.Created++
		}
		if len(ie.Lines) > 0 {
			ie.sort()
			return ie
		}
		return nil
	})
	return res, err
}

// sort orders the bad lines by line.
func (e *ImportError) sort() {
	sort.SliceStable(e.Lines, func(i, j int) bool { return e.Lines[i].Line < e.Lines[j].Line })
}

func badField(field, format string, args ...any) error {
	return &store.ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Export writes a tenant's contacts as CSV (all types, by id), ready to edit
// and import back.
func (s *Service) Export(tenant string, w io.Writer) error {
	b := s.book(tenant)
	list := make([]*Contact, 0, len(b.entries))
	for _, e := range b.entries {
		c := e.c
		list = append(list, &c)
	}
	sortByID(list)
	cw := csv.NewWriter(w)
	rec := make([]string, len(Columns))
	cw.Write(Columns)
	for _, c := range list {
		rec[0] = strconv.FormatInt(c.ID, 10)
		for i, f := range Fields {
			rec[i+1] = c.Get(f)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func sortByID(list []*Contact) {
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
}
