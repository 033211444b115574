package phonebook

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzImportCSV feeds the CSV parser what an upload may hold (the admin
// import and the CTI's import_csv_speeddial read files from the network). It
// never panics; every row it accepts is valid UTF-8; and every contact that
// passes validation renders into well-formed XML for every vendor.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"name,workphone\nMario,100\n",
		"\ufeffName;Company;Mobile\r\nMario Rossì;\"ACME; Figli\";333 1\r\n",
		"id,owner_id,type,name,speeddial_num\n1,alice,speeddial,Mum,0721 1\n",
		"name\n\"unterminated\n", "name,name\n", "", "\xff\xfe", "name,workphone\nA,1,2\n", ";;;\n;;;\n",
		"name,notes\nx,\"a\nb\"\n", "name,workphone\n<x>&amp;,+39 (0721) 40-55/16\n", "name\n\x00\n",
		"name,extension,type,owner_id\nx,*8#,private,bob\n", "company\n\"\"\"\"\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		rows, ie := parseCSV(data, strict)
		if ie == nil {
			t.Fatal("parseCSV returned no error list")
		}
		for _, l := range ie.Lines {
			if l.Line < 1 || l.Error == "" {
				t.Fatalf("bad line error %+v", l)
			}
		}
		var valid []*Contact
		for _, r := range rows {
			c := &Contact{Type: TypePublic}
			for k, v := range r.fields {
				if !utf8.ValidString(v) {
					t.Fatalf("row %d: invalid UTF-8 accepted in %s", r.line, k)
				}
				if k != "id" && !c.Set(k, v) {
					t.Fatalf("row %d: unknown column %q kept", r.line, k)
				}
			}
			c.normalize()
			if c.Validate() == nil {
				valid = append(valid, c)
			}
		}
		checkWellFormed(t, valid)
	})
}

func checkWellFormed(t *testing.T, cs []*Contact) {
	t.Helper()
	bodies := [][]byte{renderYealink("T", cs), renderSnom("T", cs), renderFanvil("T", cs), renderGrandstream("T", cs), renderPoly("T", cs)}
	bodies = append(bodies, renderCisco("T", cs)...)
	for _, b := range bodies {
		d := xml.NewDecoder(bytes.NewReader(b))
		d.Strict = true
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("rendered XML is not well-formed: %v\n%s", err, b)
			}
		}
	}
}

// FuzzCTIPayload feeds the CTI endpoints' body reader and field decoding
// (what a client posts to create, modify_cticontact, delete_cticontact): no
// panic, and a payload the handlers accept yields a contact that validates or
// is refused with a named field.
func FuzzCTIPayload(f *testing.F) {
	for _, s := range []string{
		`{"type":"private","name":"x","workphone":"1"}`, `{"id":"12","name":null}`, `{"id":12.5}`, `{"id":1e400}`,
		`{"type":["a"]}`, `[]`, `null`, `{"name":"\u0000"}`, `{"extension":201}`, `{"id":"9007199254740993"}`,
		"type=private&name=x", "%zz", `{"a":`, `{"speeddial_num":"+39 333"}`,
		`{"file64":"data:text/csv;base64,bmFtZSxzcGVlZGRpYWxfbnVtCk11bSwxMjMK"}`, `{"file64":"bmFtZQpYCg=="}`, `{"file64":"data:,"}`,
		`{"file64":"!!!"}`,
	} {
		f.Add([]byte(s), strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") || s == "null")
	}
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		req, _ := http.NewRequest("POST", "/", bytes.NewReader(body))
		if isJSON {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		p, err := readPayload(req, 64<<10)
		if err != nil {
			return
		}
		if f64, present, err := textValue(p, "file64"); err == nil && present {
			// import_csv_speeddial: base64 (or a data: URL) of a CSV file.
			if data, err := DecodeFile64(f64); err == nil {
				if len(data) > maxImport {
					t.Fatalf("decoded %d bytes, more than the limit", len(data))
				}
				parseCSV(data, false)
			}
		}
		if raw, ok := p["id"]; ok {
			if id, ok := ParseID(raw); ok && (id <= 0 || id > maxID) {
				t.Fatalf("id %d out of range accepted from %s", id, raw)
			}
		}
		c := Contact{Tenant: "t", Owner: "alice"}
		if err := apply(&c, p); err != nil {
			return
		}
		if c.Type == "" {
			c.Type = TypePrivate
		}
		c.normalize()
		if err := c.Validate(); err != nil {
			return
		}
		checkWellFormed(t, []*Contact{&c})
		if _, err := json.Marshal(c.view(true)); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSearch feeds the search term (a path segment of /phonebook/search/) and
// paging: no panic, count never below the page, every row visible to the user.
func FuzzSearch(f *testing.F) {
	b := newBook(testContacts())
	b = b.with(map[int64]*Contact{9: {ID: 9, Type: TypePrivate, Owner: "bob", Name: "Bob's", WorkPhone: "9"}})
	for _, s := range []string{"", "rossi", "0721 40", "%", "_", "ÀÉ", "\xff", "acme & figli", strings.Repeat("a", 300)} {
		f.Add(s, 0, 10)
	}
	f.Fuzz(func(t *testing.T, term string, offset, limit int) {
		if offset < 0 || offset > 1000 || limit < -1 || limit > 1000 {
			return
		}
		for _, view := range []string{ViewAll, ViewPerson, ViewCompany} {
			p := b.search(term, view, "alice", offset, limit)
			if p.Count < len(p.Rows) || (limit >= 0 && len(p.Rows) > limit) {
				t.Fatalf("count %d, %d rows, limit %d", p.Count, len(p.Rows), limit)
			}
			for _, c := range p.Rows {
				if !visibleTo(c, "alice") {
					t.Fatalf("alice sees %+v", c)
				}
			}
		}
		n, groups := b.searchCompanies(term, "alice", offset, limit)
		if n < len(groups) {
			t.Fatalf("%d companies, %d groups", n, len(groups))
		}
	})
}
