package phonebook

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-pbx/switchboard/provision"
)

// The structures below are the vendors' documented element names (Yealink
// remote phone book, snom <tbook>, Fanvil XML phonebook, Grandstream XML
// phonebook, Poly contact directory, Cisco CiscoIPPhoneDirectory); a file
// whose names differ does not decode into them, and the tests fail.

type yealinkDir struct {
	XMLName xml.Name `xml:"YealinkIPPhoneDirectory"`
	Entries []struct {
		Name      string   `xml:"Name"`
		Telephone []string `xml:"Telephone"`
	} `xml:"DirectoryEntry"`
}

type snomTbook struct {
	XMLName  xml.Name `xml:"tbook"`
	Complete string   `xml:"complete,attr"`
	Items    []struct {
		Context string `xml:"context,attr"`
		Type    string `xml:"type,attr"`
		Index   string `xml:"index,attr"`
		Name    string `xml:"name"`
		Number  string `xml:"number"`
	} `xml:"item"`
}

type fanvilBook struct {
	XMLName xml.Name `xml:"PhoneBook"`
	Entries []struct {
		Name      string `xml:"Name"`
		Telephone string `xml:"Telephone"`
		Mobile    string `xml:"Mobile"`
		Other     string `xml:"Other"`
		Ring      string `xml:"Ring"`
		Group     string `xml:"Group"`
	} `xml:"DirectoryEntry"`
}

type grandstreamBook struct {
	XMLName  xml.Name `xml:"AddressBook"`
	Version  string   `xml:"version"`
	Contacts []struct {
		FirstName string `xml:"FirstName"`
		LastName  string `xml:"LastName"`
		Phones    []struct {
			Type   string `xml:"type,attr"`
			Number string `xml:"phonenumber"`
		} `xml:"Phone"`
	} `xml:"Contact"`
}

type polyDirectory struct {
	XMLName xml.Name `xml:"directory"`
	Items   []struct {
		LN string `xml:"ln"`
		FN string `xml:"fn"`
		CT string `xml:"ct"`
	} `xml:"item_list>item"`
}

type ciscoDir struct {
	XMLName xml.Name `xml:"CiscoIPPhoneDirectory"`
	Title   string   `xml:"Title"`
	Prompt  string   `xml:"Prompt"`
	Entries []struct {
		Name      string `xml:"Name"`
		Telephone string `xml:"Telephone"`
	} `xml:"DirectoryEntry"`
	Keys []struct {
		Name     string `xml:"Name"`
		URL      string `xml:"URL"`
		Position int    `xml:"Position"`
	} `xml:"SoftKeyItem"`
}

// decodeStrict decodes an XML file, refusing anything but a well-formed UTF-8
// document whose root is the expected element.
func decodeStrict(t *testing.T, name string, body []byte, v any) {
	t.Helper()
	if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"`)) {
		t.Fatalf("%s: no UTF-8 XML declaration: %.60q", name, body)
	}
	if !utf8.Valid(body) {
		t.Fatalf("%s: not UTF-8", name)
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s does not parse as the vendor's format: %v\n%s", name, err, body)
	}
}

func testContacts() []*Contact {
	return []*Contact{
		{ID: 1, Type: TypePublic, Name: "Mario Rossi", Company: "ACME & Figli <spa>", Extension: "201", WorkPhone: "0721 405516", CellPhone: "+39 333 1234567", HomePhone: "0721 1", Fax: "0721 2"},
		{ID: 2, Type: TypePublic, Company: "Beta \"srl\"", WorkPhone: "0721 400000"},
		{ID: 3, Type: TypePublic, Name: "Ünïcødé Ærøskøbing Ñandú with a name longer than forty bytes", CellPhone: "333 2"},
	}
}

func TestVendorFilesParse(t *testing.T) {
	cs := testContacts()

	var y yealinkDir
	decodeStrict(t, FileYealink, renderYealink("Phonebook", cs), &y)
	if len(y.Entries) != 3 || y.Entries[0].Name != "Mario Rossi (ACME & Figli <spa>)" ||
		strings.Join(y.Entries[0].Telephone, ",") != "201,0721 405516,+39 333 1234567,0721 1" || y.Entries[1].Name != `Beta "srl"` {
		t.Fatalf("yealink: %+v", y)
	}

	var s snomTbook
	decodeStrict(t, FileSnom, renderSnom("Phonebook", cs), &s)
	if s.Complete != "true" || len(s.Items) != 6 || s.Items[0].Context != "active" || s.Items[0].Type != "none" {
		t.Fatalf("snom: %+v", s)
	}
	for i, it := range s.Items {
		if it.Index != fmt.Sprint(i) {
			t.Fatalf("snom item %d has index %q: indexes must be unique and in order", i, it.Index)
		}
	}
	if s.Items[2].Name != "Mario Rossi (ACME & Figli <spa>) - mobile" || s.Items[2].Number != "+39 333 1234567" || s.Items[4].Name != `Beta "srl"` {
		t.Fatalf("snom items: %+v", s.Items)
	}

	var f fanvilBook
	decodeStrict(t, FileFanvil, renderFanvil("Phonebook", cs), &f)
	if len(f.Entries) != 3 || f.Entries[0].Telephone != "201" || f.Entries[0].Other != "0721 405516" || f.Entries[0].Mobile != "+39 333 1234567" ||
		f.Entries[1].Telephone != "0721 400000" || f.Entries[1].Other != "" || f.Entries[0].Ring != "Default" {
		t.Fatalf("fanvil: %+v", f)
	}

	var g grandstreamBook
	decodeStrict(t, FileGrandstream, renderGrandstream("Phonebook", cs), &g)
	if g.Version != "1" || len(g.Contacts) != 3 || len(g.Contacts[0].Phones) != 4 || g.Contacts[0].Phones[2].Type != "Cell" ||
		g.Contacts[0].Phones[3].Type != "Home" || g.Contacts[0].Phones[0].Type != "Work" || g.Contacts[1].FirstName != `Beta "srl"` {
		t.Fatalf("grandstream: %+v", g)
	}

	var p polyDirectory
	decodeStrict(t, FilePoly, renderPoly("Phonebook", cs), &p)
	if len(p.Items) != 6 || p.Items[0].CT != "201" || p.Items[0].LN != "ext" || p.Items[4].LN != "" {
		t.Fatalf("poly: %+v", p)
	}
	for _, it := range p.Items {
		if len(it.FN) > 40 || len(it.LN) > 40 || !utf8.ValidString(it.FN) {
			t.Fatalf("poly names hold 40 bytes of UTF-8: %q", it.FN)
		}
	}

	pages := renderCisco("Phonebook", cs)
	if len(pages) != 1 {
		t.Fatalf("cisco: %d pages for 6 numbers", len(pages))
	}
	var c ciscoDir
	decodeStrict(t, FileCisco, pages[0], &c)
	if c.Title != "Phonebook" || len(c.Entries) != 6 || c.Keys[0].URL != "SoftKey:Dial" || c.Keys[len(c.Keys)-1].URL != "SoftKey:Exit" {
		t.Fatalf("cisco: %+v", c)
	}
}

func TestCiscoPages(t *testing.T) {
	var cs []*Contact
	for i := range 70 {
		cs = append(cs, &Contact{ID: int64(i + 1), Type: TypePublic, Name: fmt.Sprintf("C%02d", i), WorkPhone: fmt.Sprint(1000 + i)})
	}
	pages := renderCisco("Phonebook", cs)
	if len(pages) != 3 {
		t.Fatalf("%d pages for 70 entries", len(pages))
	}
	seen := 0
	for i, body := range pages {
		var c ciscoDir
		decodeStrict(t, ciscoFile(i+1), body, &c)
		if len(c.Entries) > ciscoPage {
			t.Fatalf("page %d has %d entries", i+1, len(c.Entries))
		}
		seen += len(c.Entries)
		keys := map[string]string{}
		for _, k := range c.Keys {
			keys[k.Name] = k.URL
		}
		if i+1 < len(pages) && keys["Next"] != ciscoFile(i+2) {
			t.Fatalf("page %d: next %q", i+1, keys["Next"])
		}
		if i > 0 && keys["Prev"] != ciscoFile(i) {
			t.Fatalf("page %d: prev %q", i+1, keys["Prev"])
		}
	}
	if seen != 70 {
		t.Fatalf("%d entries over the pages", seen)
	}
}

// The files served for a tenant follow its contacts: public ones with a number
// only, fax never; an empty tenant still gets well-formed (empty) files.
func TestTenantFiles(t *testing.T) {
	e := newEnv(t, provision.ModeMulti)
	for _, name := range []string{FileYealink, FileSnom, FileFanvil, FileGrandstream, FileGrandstreamPath, FilePoly, FilePolyDirectory, FileCisco} {
		f := e.pb.DirFile(e.other, name)
		if f == nil || f.Tenant != e.other || !f.Secret || f.ContentType != "text/xml" {
			t.Fatalf("empty tenant's %s: %+v", name, f)
		}
	}
	var y yealinkDir
	decodeStrict(t, "empty", e.pb.DirFile(e.other, FileYealink).Body, &y)
	if len(y.Entries) != 0 {
		t.Fatalf("empty tenant lists %+v", y)
	}
	e.create(t, Contact{Type: TypePublic, Name: "Listed", WorkPhone: "100"})
	e.create(t, Contact{Type: TypePublic, Name: "Fax only", Fax: "200"})
	e.create(t, Contact{Type: TypePrivate, Owner: "alice", Name: "Private", WorkPhone: "300"})
	e.create(t, Contact{Type: TypeSpeedDial, Owner: "alice", Name: "Dial", SpeedDialNum: "400"})
	e.create(t, Contact{Type: TypePublic, Tenant: e.other, Name: "Other tenant", WorkPhone: "500"})
	eventually(t, "the files to list the contacts", func() bool {
		var y yealinkDir
		if xml.Unmarshal(e.pb.DirFile(e.tenant, FileYealink).Body, &y) != nil {
			return false
		}
		return len(y.Entries) == 1 && y.Entries[0].Name == "Listed"
	})
	before := e.pb.DirFile(e.tenant, FileYealink)
	// Poly asks for <mac>-directory.xml first: the same directory.
	if f := e.pb.DirFile(e.tenant, "0004F2ABCDEF-directory.xml"); f == nil || !bytes.Equal(f.Body, e.pb.DirFile(e.tenant, FilePolyDirectory).Body) {
		t.Fatalf("poly per-MAC directory: %+v", f)
	}
	if e.pb.DirFile(e.tenant, "0004F2ABCDEG-directory.xml") != nil || e.pb.DirFile(e.tenant, "nothing.xml") != nil {
		t.Fatal("unknown names answer a file")
	}
	// A change that does not touch the listed contacts keeps the file (same ETag).
	e.create(t, Contact{Type: TypePrivate, Owner: "bob", Name: "Another private", WorkPhone: "600"})
	e.pb.renderDirty()
	if after := e.pb.DirFile(e.tenant, FileYealink); after.ETag != before.ETag || !after.ModTime.Equal(before.ModTime) {
		t.Fatalf("unchanged file re-dated: %s %v -> %s %v", before.ETag, before.ModTime, after.ETag, after.ModTime)
	}
	if !strings.Contains(string(e.pb.DirFile(e.other, FileYealink).Body), "Other tenant") {
		eventually(t, "the other tenant's file", func() bool {
			return strings.Contains(string(e.pb.DirFile(e.other, FileYealink).Body), "Other tenant")
		})
	}
	if strings.Contains(string(e.pb.DirFile(e.tenant, FileYealink).Body), "Other tenant") {
		t.Fatal("a tenant's file lists another tenant's contact")
	}
}

// The provisioning tree serves the files under <tenant>/phonebook/ with the
// tenant's authentication, and nothing outside it.
func TestResolveThroughProvisioning(t *testing.T) {
	for _, mode := range []string{provision.ModeSingle, provision.ModeMulti} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, mode)
			e.create(t, Contact{Type: TypePublic, Name: "Served", WorkPhone: "100"})
			prefix := ""
			if mode == provision.ModeMulti {
				prefix = e.tenant + "/"
			}
			eventually(t, "the file", func() bool {
				got, err := e.prov.Resolve(prefix + "phonebook/yealink.xml")
				return err == nil && strings.Contains(string(got.File.Body), "Served")
			})
			got, _ := e.prov.Resolve(prefix + "phonebook/yealink.xml")
			if got.Tenant != e.tenant || got.Name != "phonebook/yealink.xml" || got.Auth.Required() {
				t.Fatalf("resolved %+v", got)
			}
			if got, err := e.prov.Resolve(prefix + "phonebook//phonebook.xml"); err != nil || got.File == nil {
				t.Fatalf("Grandstream's server path with a trailing slash: %v", err)
			}
			for _, p := range []string{prefix + "phonebook/../yealink.xml", prefix + "phonebook/a/b.xml", prefix + "phonebook/",
				prefix + "phonebook/..", prefix + "phonebook/x\\y"} {
				if got, err := e.prov.Resolve(p); err == nil || got.File != nil {
					t.Errorf("%q resolved: %+v", p, got)
				}
			}
			if _, err := e.prov.Resolve(prefix + "phonebook/nothing.xml"); err == nil {
				t.Error("an unknown name resolved")
			}
			// Basic authentication on the tenant applies to the directory.
			if _, err := e.prov.SetPBX(e.ctx, e.admin, e.tenant, json.RawMessage(`{"http_auth":"basic","http_user":"phones","http_password":"s3cret-pass"}`)); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the tenant's authentication", func() bool {
				got, err := e.prov.Resolve(prefix + "phonebook/yealink.xml")
				return err == nil && got.Auth.Required() && got.Auth.User == "phones"
			})
			// A disabled tenant serves nothing.
			off := false
			if _, err := e.prov.UpdateTenant(e.ctx, e.admin, e.tenant, provision.TenantInput{Enabled: &off}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the disabled tenant", func() bool {
				_, err := e.prov.Resolve(prefix + "phonebook/yealink.xml")
				return err != nil
			})
		})
	}
}
