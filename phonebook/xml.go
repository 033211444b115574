package phonebook

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"unicode/utf8"
)

// The desk phones' directory files. Each vendor reads a static XML file of its
// own; the element names are the vendors' documented ones (see README,
// "Phonebook"). Every file lists the tenant's public contacts that have a
// number, by display name; the fax is never listed (a phone does not dial it).

// Vendor file names under the tenant's phonebook/ directory.
const (
	FileYealink     = "yealink.xml"
	FileSnom        = "snom.xml"
	FileFanvil      = "fanvil.xml"
	FileGrandstream = "grandstream.xml"
	// FileGrandstreamPath is the name Grandstream phones ask for under their
	// "phonebook XML server path" (P331): the same file as FileGrandstream.
	FileGrandstreamPath = "phonebook.xml"
	FilePoly            = "poly.xml"
	// FilePolyDirectory is the contact directory file Poly phones read from
	// their CONTACTS_DIRECTORY (after <mac>-directory.xml, answered alike).
	FilePolyDirectory = "000000000000-directory.xml"
	FileCisco         = "cisco.xml"
)

// ciscoPage is how many entries one Cisco directory object carries: the
// CiscoIPPhoneDirectory object holds 32 at most, later pages follow by soft key.
const ciscoPage = 32

// Labels of the number kinds where a phone shows one entry per number.
var kindLabel = map[string]string{NumExtension: "ext", NumWork: "work", NumMobile: "mobile", NumHome: "home"}

// xw writes XML text with the escaping every vendor parser accepts.
type xw struct{ bytes.Buffer }

func (w *xw) text(s string) {
	xml.EscapeText(&w.Buffer, []byte(s)) //nolint:errcheck // a bytes.Buffer does not fail
}

// elem writes <name>text</name> on its own indented line.
func (w *xw) elem(indent, name, text string) {
	w.WriteString(indent)
	w.WriteString("<" + name + ">")
	w.text(text)
	w.WriteString("</" + name + ">\n")
}

func (w *xw) attr(name, value string) {
	w.WriteString(" " + name + `="`)
	w.text(value)
	w.WriteString(`"`)
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// entryName is the name a one-line directory shows: the name with the
// company, or the company alone.
func entryName(c *Contact) string {
	switch {
	case c.Name != "" && c.Company != "":
		return c.Name + " (" + c.Company + ")"
	case c.Name != "":
		return c.Name
	}
	return c.Company
}

// truncate cuts s to at most n bytes on a character boundary (Poly's 40-byte
// name fields).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// renderYealink is Yealink's remote phone book: one DirectoryEntry per
// contact, one Telephone per number.
func renderYealink(title string, cs []*Contact) []byte {
	var w xw
	w.WriteString(xmlHeader)
	w.WriteString("<YealinkIPPhoneDirectory>\n")
	for _, c := range cs {
		w.WriteString(" <DirectoryEntry>\n")
		w.elem("  ", "Name", entryName(c))
		for _, n := range c.Numbers() {
			w.elem("  ", "Telephone", n.Number)
		}
		w.WriteString(" </DirectoryEntry>\n")
	}
	w.WriteString("</YealinkIPPhoneDirectory>\n")
	return w.Bytes()
}

// renderSnom is a snom <tbook> settings file (the phone's local directory,
// provisioned through <setting-files>): one item per number, and
// complete="true" so that the phone drops the contacts deleted here.
func renderSnom(title string, cs []*Contact) []byte {
	var w xw
	w.WriteString(xmlHeader)
	w.WriteString(`<tbook complete="true">` + "\n")
	i := 0
	for _, c := range cs {
		nums := c.Numbers()
		for _, n := range nums {
			w.WriteString(" <item")
			w.attr("context", "active")
			w.attr("type", "none")
			w.attr("index", strconv.Itoa(i))
			w.WriteString(">\n")
			name := entryName(c)
			if len(nums) > 1 {
				name += " - " + kindLabel[n.Kind]
			}
			w.elem("  ", "name", name)
			w.elem("  ", "number", n.Number)
			w.WriteString(" </item>\n")
			i++
		}
	}
	w.WriteString("</tbook>\n")
	return w.Bytes()
}

// renderFanvil is Fanvil's XML phonebook (PhoneBook/DirectoryEntry with
// Telephone, Mobile and Other).
func renderFanvil(title string, cs []*Contact) []byte {
	var w xw
	w.WriteString(xmlHeader)
	w.WriteString("<PhoneBook>\n")
	for _, c := range cs {
		office, other := c.Extension, c.WorkPhone
		if office == "" {
			office, other = c.WorkPhone, ""
		}
		if other == "" || other == office {
			other = c.HomePhone
		}
		w.WriteString(" <DirectoryEntry>\n")
		w.elem("  ", "Name", entryName(c))
		w.elem("  ", "Telephone", office)
		w.elem("  ", "Mobile", c.CellPhone)
		w.elem("  ", "Other", other)
		w.elem("  ", "Ring", "Default")
		w.elem("  ", "Group", "")
		w.WriteString(" </DirectoryEntry>\n")
	}
	w.WriteString("</PhoneBook>\n")
	return w.Bytes()
}

// grandstreamType is the Phone type attribute of a number kind.
var grandstreamType = map[string]string{NumExtension: "Work", NumWork: "Work", NumMobile: "Cell", NumHome: "Home"}

// renderGrandstream is Grandstream's XML phonebook (AddressBook/Contact with
// one Phone per number). The whole display name is the first name: the
// phone shows "first last", and splitting names is guesswork.
func renderGrandstream(title string, cs []*Contact) []byte {
	var w xw
	w.WriteString(xmlHeader)
	w.WriteString("<AddressBook>\n")
	w.elem(" ", "version", "1")
	for _, c := range cs {
		w.WriteString(" <Contact>\n")
		w.elem("  ", "LastName", "")
		w.elem("  ", "FirstName", entryName(c))
		for _, n := range c.Numbers() {
			w.WriteString("  <Phone")
			w.attr("type", grandstreamType[n.Kind])
			w.WriteString(">\n")
			w.elem("   ", "phonenumber", n.Number)
			w.WriteString("  </Phone>\n")
		}
		w.WriteString(" </Contact>\n")
	}
	w.WriteString("</AddressBook>\n")
	return w.Bytes()
}

// renderPoly is a Poly (Polycom) contact directory file: one item per number,
// first name the display name and last name the number's kind when the
// contact has several (both fields hold 40 bytes).
func renderPoly(title string, cs []*Contact) []byte {
	var w xw
	w.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n")
	w.WriteString("<directory>\n <item_list>\n")
	for _, c := range cs {
		nums := c.Numbers()
		for _, n := range nums {
			ln := ""
			if len(nums) > 1 {
				ln = kindLabel[n.Kind]
			}
			w.WriteString("  <item>\n")
			w.elem("   ", "ln", truncate(ln, 40))
			w.elem("   ", "fn", truncate(entryName(c), 40))
			w.elem("   ", "ct", n.Number)
			w.WriteString("  </item>\n")
		}
	}
	w.WriteString(" </item_list>\n</directory>\n")
	return w.Bytes()
}

// renderCisco is Cisco's XML directory object, 32 entries a page (one per
// number); the pages after the first are cisco-2.xml, cisco-3.xml... and each
// links the next with a soft key, by a relative URL.
func renderCisco(title string, cs []*Contact) [][]byte {
	type line struct{ name, number string }
	var lines []line
	for _, c := range cs {
		nums := c.Numbers()
		for _, n := range nums {
			name := entryName(c)
			if len(nums) > 1 {
				name += " - " + kindLabel[n.Kind]
			}
			lines = append(lines, line{name, n.Number})
		}
	}
	pages := max(1, (len(lines)+ciscoPage-1)/ciscoPage)
	out := make([][]byte, 0, pages)
	for p := 0; p < pages; p++ {
		var w xw
		w.WriteString(xmlHeader)
		w.WriteString("<CiscoIPPhoneDirectory>\n")
		w.elem(" ", "Title", title)
		w.elem(" ", "Prompt", strconv.Itoa(p+1)+"/"+strconv.Itoa(pages))
		for _, l := range lines[p*ciscoPage : min(len(lines), (p+1)*ciscoPage)] {
			w.WriteString(" <DirectoryEntry>\n")
			w.elem("  ", "Name", l.name)
			w.elem("  ", "Telephone", l.number)
			w.WriteString(" </DirectoryEntry>\n")
		}
		pos := 1
		key := func(name, url string) {
			w.WriteString(" <SoftKeyItem>\n")
			w.elem("  ", "Name", name)
			w.elem("  ", "URL", url)
			w.elem("  ", "Position", strconv.Itoa(pos))
			w.WriteString(" </SoftKeyItem>\n")
			pos++
		}
		if len(lines) > 0 {
			key("Dial", "SoftKey:Dial")
		}
		if p > 0 {
			key("Prev", ciscoFile(p))
		}
		if p+1 < pages {
			key("Next", ciscoFile(p+2))
		}
		key("Exit", "SoftKey:Exit")
		w.WriteString("</CiscoIPPhoneDirectory>\n")
		out = append(out, w.Bytes())
	}
	return out
}

// ciscoFile is the name of page n (from 1) of the Cisco directory.
func ciscoFile(n int) string {
	if n <= 1 {
		return FileCisco
	}
	return "cisco-" + strconv.Itoa(n) + ".xml"
}
