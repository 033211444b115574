package store

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Page asks ListPage for one page of a kind's objects, optionally filtered.
type Page struct {
	// Match terms are OR-ed; none lists everything.
	Match []Match
	// Order is the JSON field the page is sorted by (then by id). A field with a
	// per-tenant index on (tenant, json_extract(data, '$.field')) (a device's
	// mac, an account's extension) sorts without reading every object.
	Order string
	// OrderUnique says no two of the tenant's objects share the Order value (a
	// unique index covers it), so no tie-break by id is needed and the index
	// alone gives the order.
	OrderUnique bool
	// Limit is the page size (1-1000); Offset the objects skipped before it.
	Limit, Offset int
}

// Match is "the JSON field Field contains Text" (case-insensitive for ASCII).
// With RefKind, Field holds the id of an object of RefKind in the same tenant,
// and the term matches when one of that object's RefFields contains Text (a
// device found by its account's name).
type Match struct {
	Field     string
	Text      string
	RefKind   string
	RefFields []string
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// likeArg makes text a LIKE pattern that matches it anywhere, literally.
func likeArg(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// ListPage calls fn with one page of tenant's objects of kind, and returns how
// many objects match in all. Kind and field names are the caller's constants,
// never user input (they are checked, then written into the SQL so that SQLite
// can use the partial indexes).
func (t *Tx) ListPage(kind, tenant string, p Page, fn func(id string, data json.RawMessage) error) (int, error) {
	countSQL, listSQL, args, err := pageQuery(kind, tenant, p)
	if err != nil {
		return 0, err
	}
	var total int
	if err := t.tx.QueryRowContext(t.ctx, countSQL, args...).Scan(&total); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", kind, err)
	}
	rows, err := t.tx.QueryContext(t.ctx, listSQL, append(args, p.Limit, p.Offset)...)
	if err != nil {
		return 0, fmt.Errorf("store: list %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return 0, fmt.Errorf("store: list %s: %w", kind, err)
		}
		if err := fn(id, json.RawMessage(data)); err != nil {
			return 0, err
		}
	}
	return total, rows.Err()
}

// pageQuery builds ListPage's two queries and their arguments (the list query
// takes Limit and Offset after them).
func pageQuery(kind, tenant string, p Page) (countSQL, listSQL string, args []any, err error) {
	if !identRE.MatchString(kind) || (p.Order != "" && !identRE.MatchString(p.Order)) {
		return "", "", nil, fmt.Errorf("store: list page: bad kind %q or order %q", kind, p.Order)
	}
	if p.Limit < 1 || p.Limit > 1000 || p.Offset < 0 {
		return "", "", nil, fmt.Errorf("store: list page: limit must be 1-1000 and offset not negative")
	}
	where := "kind='" + kind + "' AND tenant=?"
	args = []any{tenant}
	var ors []string
	for _, m := range p.Match {
		if !identRE.MatchString(m.Field) {
			return "", "", nil, fmt.Errorf("store: list page: bad field %q", m.Field)
		}
		if m.RefKind == "" {
			ors = append(ors, fmt.Sprintf("json_extract(data, '$.%s') LIKE ? ESCAPE '\\'", m.Field))
			args = append(args, likeArg(m.Text))
			continue
		}
		if !identRE.MatchString(m.RefKind) || len(m.RefFields) == 0 {
			return "", "", nil, fmt.Errorf("store: list page: bad reference %q", m.RefKind)
		}
		var sub []string
		for _, f := range m.RefFields {
			if !identRE.MatchString(f) {
				return "", "", nil, fmt.Errorf("store: list page: bad field %q", f)
			}
			sub = append(sub, fmt.Sprintf("json_extract(data, '$.%s') LIKE ? ESCAPE '\\'", f))
		}
		ors = append(ors, fmt.Sprintf("json_extract(data, '$.%s') IN (SELECT id FROM objects WHERE kind='%s' AND tenant=? AND (%s))",
			m.Field, m.RefKind, strings.Join(sub, " OR ")))
		args = append(args, tenant)
		for range m.RefFields {
			args = append(args, likeArg(m.Text))
		}
	}
	if len(ors) > 0 {
		where += " AND (" + strings.Join(ors, " OR ") + ")"
	}
	order := "id"
	if p.Order != "" {
		order = fmt.Sprintf("json_extract(data, '$.%s')", p.Order)
		if !p.OrderUnique {
			order += ", id"
		}
	}
	return `SELECT count(*) FROM objects WHERE ` + where,
		`SELECT id, data FROM objects WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ? OFFSET ?`, args, nil
}
