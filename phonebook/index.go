package phonebook

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// book is one tenant's contacts, indexed for searches. A book never changes
// once built: a write builds a new one (with), so readers hold no lock while
// they search.
type book struct {
	entries []*entry // sorted as nethcti sorts results: company, then name
	byID    map[int64]*entry
}

// entry is a contact with its search keys, folded once when it is indexed.
type entry struct {
	c       Contact
	name    string // folded name
	company string // folded company
	notes   string // folded notes
	numbers string // the numbers, folded, separated by \x00
	digits  string // the numbers' digits only, separated by \x00
	email   string // both e-mail addresses, folded
	all     string // name, company, numbers and notes: the common view in one look
}

var emptyBook = &book{byID: map[int64]*entry{}}

func newEntry(c *Contact) *entry {
	e := &entry{c: *c, name: fold(c.Name), company: fold(c.Company), notes: fold(c.Notes),
		email: fold(c.WorkEmail + "\x00" + c.HomeEmail)}
	nums := []string{c.WorkPhone, c.HomePhone, c.CellPhone, c.Extension}
	e.numbers = fold(strings.Join(nums, "\x00"))
	for i, n := range nums {
		nums[i] = digitsOf(n)
	}
	e.digits = strings.Join(nums, "\x00")
	e.all = e.name + "\x00" + e.company + "\x00" + e.numbers + "\x00" + e.notes
	return e
}

func newBook(list []*Contact) *book {
	b := &book{entries: make([]*entry, 0, len(list)), byID: make(map[int64]*entry, len(list))}
	for _, c := range list {
		e := newEntry(c)
		b.entries = append(b.entries, e)
		b.byID[c.ID] = e
	}
	b.sort()
	return b
}

// with returns a new book with the changes applied: a nil contact removes.
func (b *book) with(changes map[int64]*Contact) *book {
	nb := &book{entries: make([]*entry, 0, len(b.entries)+len(changes)), byID: make(map[int64]*entry, len(b.byID)+len(changes))}
	for _, e := range b.entries {
		if _, changed := changes[e.c.ID]; changed {
			continue
		}
		nb.entries = append(nb.entries, e)
		nb.byID[e.c.ID] = e
	}
	for id, c := range changes {
		if c == nil {
			continue
		}
		e := newEntry(c)
		nb.entries = append(nb.entries, e)
		nb.byID[id] = e
	}
	nb.sort()
	return nb
}

// sort orders by company, then name, then id, as nethcti's
// "ORDER BY company ASC, name ASC" does under a case-insensitive collation
// (contacts without a company first).
func (b *book) sort() {
	sort.Slice(b.entries, func(i, j int) bool {
		x, y := b.entries[i], b.entries[j]
		if x.company != y.company {
			return x.company < y.company
		}
		if x.name != y.name {
			return x.name < y.name
		}
		return x.c.ID < y.c.ID
	})
}

// Views of a search, as the clients send them.
const (
	ViewAll     = "all"     // the term in the name or the company (and numbers, notes)
	ViewPerson  = "person"  // the term in the name (and numbers, notes)
	ViewCompany = "company" // the term in the company (and numbers, notes), results grouped by company
)

// query is a parsed search term.
type query struct {
	term   string // folded
	digits string // the term's digits when it looks like a number, else ""
}

func newQuery(term string) query {
	q := query{term: fold(strings.TrimSpace(term))}
	if looksLikeNumber(term) {
		q.digits = digitsOf(term)
	}
	return q
}

// matches reports whether the entry holds the term in the fields of view:
// nethcti's LIKE '%term%' on name and/or company, the numbers and the notes,
// case- and accent-insensitive as MySQL's general collation; a number also
// matches however its digits are grouped ("0721 405" finds "0721405...").
func (q query) matches(e *entry, view string) bool {
	if q.term == "" {
		return true
	}
	switch view {
	case ViewPerson:
		if strings.Contains(e.name, q.term) {
			return true
		}
	case ViewCompany:
		if strings.Contains(e.company, q.term) {
			return true
		}
	default:
		if strings.Contains(e.all, q.term) {
			return true
		}
		return q.digits != "" && len(q.digits) >= 3 && strings.Contains(e.digits, q.digits)
	}
	if strings.Contains(e.numbers, q.term) || strings.Contains(e.notes, q.term) {
		return true
	}
	return q.digits != "" && len(q.digits) >= 3 && strings.Contains(e.digits, q.digits)
}

// looksLikeNumber is true for a term of digits with the separators people type.
func looksLikeNumber(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+*# ()./-", r):
		default:
			return false
		}
	}
	return digits > 0
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fold lower-cases s and strips the accents of Latin letters, so that "rossi"
// finds "Rossì" and "ROSSI": what MySQL's utf8_general_ci collation does for
// nethcti's LIKE.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		r = unicode.ToLower(r)
		if base, ok := latinBase[r]; ok {
			b.WriteString(base)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// latinBase maps accented lower-case Latin letters to their base letters.
var latinBase = func() map[rune]string {
	m := map[rune]string{}
	for base, letters := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ďđ", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ",
		"i": "ìíîïĩīĭįı", "j": "ĵ", "k": "ķ", "l": "ĺļľŀł", "n": "ñńņňŉ", "o": "òóôõöøōŏő",
		"r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
		"ae": "æ", "oe": "œ", "ss": "ß",
	} {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// Page is one page of search results and the number of all of them.
type Page struct {
	Count int
	Rows  []*Contact
}

// visibleTo reports whether a CTI user sees a contact in searches: the public
// ones and their own, never speed dials (nethcti's rule).
func visibleTo(c *Contact, user string) bool {
	if c.Type == TypeSpeedDial {
		return false
	}
	return c.Type == TypePublic || c.Owner == user
}

// search returns the contacts user sees that match term in view, offset and
// limit applied (limit < 0: all).
func (b *book) search(term, view, user string, offset, limit int) Page {
	q := newQuery(term)
	var p Page
	for _, e := range b.entries {
		if !visibleTo(&e.c, user) || !q.matches(e, view) {
			continue
		}
		if p.Count >= offset && (limit < 0 || len(p.Rows) < limit) {
			c := e.c
			p.Rows = append(p.Rows, &c)
		}
		p.Count++
	}
	return p
}

// companyGroup is one company of a company-view search.
type companyGroup struct {
	company string   // as written by its first contact
	card    *Contact // the company's own contact (no name), if any
	people  []*Contact
}

// searchCompanies groups the contacts user sees by company: the companies
// whose contacts match term, sorted, paginated; each with its company card
// and every contact of it the user sees (nethcti's company view).
func (b *book) searchCompanies(term, user string, offset, limit int) (int, []companyGroup) {
	q := newQuery(term)
	var keys []string
	groups := map[string]*companyGroup{}
	matched := map[string]bool{}
	for _, e := range b.entries {
		if e.company == "" || !visibleTo(&e.c, user) {
			continue
		}
		g := groups[e.company]
		if g == nil {
			g = &companyGroup{company: e.c.Company}
			groups[e.company] = g
			keys = append(keys, e.company)
		}
		c := e.c
		if c.Name == "" {
			if g.card == nil {
				g.card = &c
			}
		} else {
			g.people = append(g.people, &c)
		}
		if !matched[e.company] && q.matches(e, ViewCompany) {
			matched[e.company] = true
		}
	}
	// keys are in company order already: the entries are sorted by it.
	var out []companyGroup
	n := 0
	for _, k := range keys {
		if !matched[k] {
			continue
		}
		if n >= offset && (limit < 0 || len(out) < limit) {
			g := groups[k]
			sort.SliceStable(g.people, func(i, j int) bool { return fold(g.people[i].Name) < fold(g.people[j].Name) })
			out = append(out, *g)
		}
		n++
	}
	return n, out
}

// speedDials are a user's speed dials, by name then company.
func (b *book) speedDials(user string) []*Contact {
	var out []*Contact
	for _, e := range b.entries {
		if e.c.Type == TypeSpeedDial && e.c.Owner == user {
			c := e.c
			out = append(out, &c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := fold(out[i].Name), fold(out[j].Name)
		if a != b {
			return a < b
		}
		return fold(out[i].Company) < fold(out[j].Company)
	})
	return out
}

// public are the contacts the desk phones' directory lists, by display name.
func (b *book) public() []*Contact {
	var out []*Contact
	for _, e := range b.entries {
		if e.c.Type == TypePublic && len(e.c.Numbers()) > 0 {
			c := e.c
			out = append(out, &c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := fold(out[i].DisplayName()), fold(out[j].DisplayName())
		if a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	return out
}
