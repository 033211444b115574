package report

import (
	"fmt"
	"strings"

	"github.com/switchboard-pbx/switchboard/store"
)

// AuditColumn is a column an audit export can have.
type AuditColumn struct {
	Key   string
	Label string
	kind  kind
	value func(r *store.AuditRow) Value
}

// AuditColumns are the columns an audit export offers, in order.
var AuditColumns = []AuditColumn{
	{"tx_id", "Transaction ID", integer, func(r *store.AuditRow) Value { return r.TxID }},
	{"day", "Day", text, nil}, // filled in the export's zone
	{"time", "Timestamp", datetime, func(r *store.AuditRow) Value { return r.Time }},
	{"user", "User", text, func(r *store.AuditRow) Value { return r.User }},
	{"source_ip", "IP address", text, func(r *store.AuditRow) Value { return r.SourceIP }},
	{"action", "Action", text, func(r *store.AuditRow) Value { return r.Action }},
	{"object_type", "Object type", text, func(r *store.AuditRow) Value { return r.ObjectType }},
	{"object_id", "Object ID", text, func(r *store.AuditRow) Value { return r.ObjectID }},
	{"tenant", "Tenant", text, func(r *store.AuditRow) Value { return r.Tenant }},
	{"description", "Description", text, func(r *store.AuditRow) Value { return r.Description }},
	{"id", "Row", integer, func(r *store.AuditRow) Value { return r.ID }},
}

// DefaultAuditColumns are exported when none are chosen.
var DefaultAuditColumns = []string{"tx_id", "day", "time", "user", "source_ip", "action", "object_type", "description"}

// AuditColumnKeys lists every column key.
func AuditColumnKeys() []string {
	out := make([]string, len(AuditColumns))
	for i, c := range AuditColumns {
		out[i] = c.Key
	}
	return out
}

// AuditExport writes audit rows with chosen columns.
type AuditExport struct {
	table *Table
	cols  []AuditColumn
	sink  Sink
	vals  []Value
	o     Options
	Rows  int64
}

// ParseAuditColumns checks a comma-separated column list ("" = the default).
func ParseAuditColumns(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return DefaultAuditColumns, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range strings.Split(list, ",") {
		k = strings.TrimSpace(k)
		ok := false
		for _, c := range AuditColumns {
			ok = ok || c.Key == k
		}
		if !ok {
			return nil, fmt.Errorf("unknown column %q (columns: %s)", k, strings.Join(AuditColumnKeys(), ", "))
		}
		if seen[k] {
			return nil, fmt.Errorf("column %q given twice", k)
		}
		seen[k] = true
		out = append(out, k)
	}
	return out, nil
}

// NewAuditExport prepares an export of the columns keys (see ParseAuditColumns).
func NewAuditExport(f Format, keys []string, lang Language, open Opener, o Options) (*AuditExport, error) {
	t := &Table{Sheet: tr(lang, "Audit log"), File: "changes", Element: "change"}
	var cols []AuditColumn
	for _, k := range keys {
		for _, c := range AuditColumns {
			if c.Key == k {
				cols = append(cols, c)
				t.Columns = append(t.Columns, col(lang, c.Key, c.Label, c.kind))
			}
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("report: no audit column chosen")
	}
	if o.Title == "" {
		o.Title = "audit"
	}
	o.Root = "audit"
	sink, err := NewSink(f, []*Table{t}, open, o)
	if err != nil {
		return nil, err
	}
	return &AuditExport{table: t, cols: cols, sink: sink, o: o, vals: make([]Value, len(cols))}, nil
}

// Row writes one audit row.
func (a *AuditExport) Row(r *store.AuditRow) error {
	for i, c := range a.cols {
		if c.value == nil {
			a.vals[i] = r.Time.In(a.o.loc()).Format("2006-01-02")
			continue
		}
		a.vals[i] = c.value(r)
	}
	a.Rows++
	return a.sink.Row(a.table, a.vals)
}

// Close finishes the output.
func (a *AuditExport) Close() error { return a.sink.Close() }
