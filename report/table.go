package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is an output format.
type Format string

// Formats.
const (
	XLSX Format = "xlsx"
	CSV  Format = "csv"
	JSON Format = "json"
	XML  Format = "xml"
)

// Formats lists every format, in the order the console offers them.
var Formats = []Format{XLSX, CSV, JSON, XML}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("format must be one of xlsx, csv, json, xml, not %q", s)
}

// kind is how a column's values are written.
type kind int

const (
	text kind = iota
	integer
	datetime
)

// Column is one column of a table.
type Column struct {
	// Key names the value in JSON and XML (snake_case).
	Key string
	// Label is the header a person reads (CSV, XLSX), in the export's language.
	Label string
	kind  kind
}

// Table is one list of records: a sheet in XLSX, a file in CSV, an array in JSON,
// a list of elements in XML. A child table's rows belong to the parent row
// written just before them (a call's legs): JSON and XML nest them, XLSX and CSV
// give them their own sheet or file, with the parent's key as a column.
type Table struct {
	// Sheet is the XLSX sheet name (at most 31 characters) and the suffix of
	// the CSV file name.
	Sheet string
	// File is the CSV file name part and the JSON key of the list ("calls").
	File string
	// Element is the XML element of one row ("call").
	Element string
	Columns []Column
	// Parent is the table whose rows own this table's rows, or nil.
	Parent *Table
}

// Value is one cell: a string, an int64 (or int) or a time.Time (zero = empty).
type Value = any

// Sink receives the rows of one export.
type Sink interface {
	// Row writes one row of t; len(vals) == len(t.Columns).
	Row(t *Table, vals []Value) error
	// Close finishes the output (closing every file it opened).
	Close() error
}

// cell is a Value that is not boxed: a million-row export boxed every string,
// time and number of every row into an interface (an allocation each) only
// for the CSV sink to take it out again.
type cell struct {
	kind kind // text, integer or datetime
	s    string
	n    int64
	t    time.Time
}

func textCell(s string) cell    { return cell{kind: text, s: s} }
func intCell(n int) cell        { return cell{kind: integer, n: int64(n)} }
func timeCell(t time.Time) cell { return cell{kind: datetime, t: t} }

func (c *cell) value() Value {
	switch c.kind {
	case integer:
		return c.n
	case datetime:
		return c.t
	}
	return c.s
}

// cellSink is a Sink that also takes rows as cells.
type cellSink interface {
	cells(t *Table, row []cell) error
}

// cellWriter hands rows of cells to a sink: as they are to a cellSink, as
// Values to any other.
type cellWriter struct {
	sink Sink
	fast cellSink
	vals []Value
}

func newCellWriter(s Sink) *cellWriter {
	w := &cellWriter{sink: s}
	w.fast, _ = s.(cellSink)
	return w
}

func (w *cellWriter) row(t *Table, row []cell) error {
	if w.fast != nil {
		return w.fast.cells(t, row)
	}
	w.vals = w.vals[:0]
	for i := range row {
		w.vals = append(w.vals, row[i].value())
	}
	return w.sink.Row(t, w.vals)
}

// Opener creates an output file named name (e.g. "cdr-2026-03.csv").
type Opener func(name string) (io.WriteCloser, error)

// Options say how values are written.
type Options struct {
	// Location is the time zone times are shown in (nil: UTC).
	Location *time.Location
	// Title is the file name stem ("cdr-2026-03-01").
	Title string
	// Root is the XML root element ("cdr", "audit").
	Root string
}

func (o Options) loc() *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// NewSink returns the writer of format f for tables (the top-level tables
// first; a child table after its parent). It opens its files through open.
func NewSink(f Format, tables []*Table, open Opener, o Options) (Sink, error) {
	if o.Title == "" {
		o.Title = "export"
	}
	if o.Root == "" {
		o.Root = "export"
	}
	switch f {
	case CSV:
		return newCSVSink(tables, open, o), nil
	case JSON:
		return newTreeSink(tables, open, o, jsonTree{})
	case XML:
		return newTreeSink(tables, open, o, xmlTree{})
	case XLSX:
		return newXLSXSink(tables, open, o)
	}
	return nil, fmt.Errorf("report: unknown format %q", f)
}

// FileName is the name of the single file of formats that write one
// (everything but a CSV export of several tables).
func FileName(stem string, f Format) string { return stem + "." + string(f) }

// csvName is the file of one table in a CSV export.
func csvName(stem string, t *Table, several bool) string {
	if !several {
		return stem + ".csv"
	}
	return stem + "-" + t.File + ".csv"
}

// timeText is how times read in text formats: local wall time with its offset
// in JSON and XML (unambiguous across a DST change), the plain wall time in
// CSV (what a spreadsheet parses as a date).
func timeText(t time.Time, loc *time.Location, withZone bool) string {
	if t.IsZero() {
		return ""
	}
	if withZone {
		return t.In(loc).Format(time.RFC3339)
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

func intText(v Value) (string, bool) {
	switch n := v.(type) {
	case int:
		return strconv.Itoa(n), true
	case int64:
		return strconv.FormatInt(n, 10), true
	}
	return "", false
}

// sanitize drops the control characters XML 1.0 cannot carry and that make no
// sense in a spreadsheet cell (tab, line feed and carriage return stay).
// Bytes that are not UTF-8 become U+FFFD.
func sanitize(s string) string {
	// Nearly every value is printable ASCII: one pass says so.
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if !strings.ContainsFunc(s, badRune) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if badRune(r) {
			return -1
		}
		return r
	}, s)
}

func badRune(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF
}
