package report

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// tree is the syntax of a nested format (JSON or XML).
type tree interface {
	ext() Format
	begin(w *bufio.Writer, title string)
	openList(w *bufio.Writer, t *Table, first bool)
	closeList(w *bufio.Writer, t *Table)
	openRow(w *bufio.Writer, t *Table, first bool)
	field(w *bufio.Writer, c Column, v Value, loc *time.Location, first bool) error
	closeRow(w *bufio.Writer, t *Table)
	end(w *bufio.Writer, title string)
}

// treeSink writes JSON or XML: each top-level table is a list, a child table's
// rows are nested in their parent row.
type treeSink struct {
	syn    tree
	tables []*Table
	o      Options
	loc    *time.Location
	wc     io.WriteCloser
	w      *bufio.Writer

	done     map[*Table]bool // top-level lists written (or open)
	top      *Table          // open top-level list
	topRows  int             // rows written in it
	rowOpen  bool            // a row of top is open, waiting for children
	child    *Table          // open child list of that row
	childN   int
	children map[*Table][]*Table // a parent's child tables, in order
	seen     map[*Table]bool     // child lists written in the open row
}

func newTreeSink(tables []*Table, open Opener, o Options, syn tree) (*treeSink, error) {
	wc, err := open(FileName(o.Title, syn.ext()))
	if err != nil {
		return nil, err
	}
	s := &treeSink{syn: syn, tables: tables, o: o, loc: o.loc(), wc: wc, w: bufio.NewWriterSize(wc, 64<<10),
		done: map[*Table]bool{}, children: map[*Table][]*Table{}, seen: map[*Table]bool{}}
	for _, t := range tables {
		if t.Parent != nil {
			s.children[t.Parent] = append(s.children[t.Parent], t)
		}
	}
	syn.begin(s.w, o.Root)
	return s, nil
}

func (s *treeSink) closeChild() {
	if s.child != nil {
		s.syn.closeList(s.w, s.child)
		s.child = nil
	}
}

// closeRow ends the open top-level row, writing empty lists for the child
// tables it got no row of.
func (s *treeSink) closeRow() {
	if !s.rowOpen {
		return
	}
	s.closeChild()
	for _, c := range s.children[s.top] {
		if !s.seen[c] {
			s.syn.openList(s.w, c, false)
			s.syn.closeList(s.w, c)
		}
	}
	clear(s.seen)
	s.syn.closeRow(s.w, s.top)
	s.rowOpen = false
}

func (s *treeSink) openTop(t *Table) {
	if s.top == t {
		return
	}
	s.closeRow()
	if s.top != nil {
		s.syn.closeList(s.w, s.top)
	}
	s.syn.openList(s.w, t, len(s.done) == 0)
	s.done[t] = true
	s.top, s.topRows = t, 0
}

func (s *treeSink) Row(t *Table, vals []Value) error {
	if t.Parent == nil {
		if s.done[t] && s.top != t {
			return fmt.Errorf("report: rows of %s after another list was started", t.Sheet)
		}
		s.openTop(t)
		s.closeRow()
		s.syn.openRow(s.w, t, s.topRows == 0)
		s.topRows++
		if err := s.fields(t, vals); err != nil {
			return err
		}
		if len(s.children[t]) == 0 {
			s.syn.closeRow(s.w, t)
		} else {
			s.rowOpen = true
		}
		return nil
	}
	if !s.rowOpen || s.top != t.Parent {
		return fmt.Errorf("report: a row of %s without its %s row", t.Sheet, t.Parent.Sheet)
	}
	if s.child != t {
		if s.seen[t] {
			return fmt.Errorf("report: rows of %s split in two", t.Sheet)
		}
		s.closeChild()
		s.syn.openList(s.w, t, false)
		s.child, s.childN = t, 0
		s.seen[t] = true
	}
	s.syn.openRow(s.w, t, s.childN == 0)
	s.childN++
	if err := s.fields(t, vals); err != nil {
		return err
	}
	s.syn.closeRow(s.w, t)
	return nil
}

func (s *treeSink) fields(t *Table, vals []Value) error {
	for i, c := range t.Columns {
		if err := s.syn.field(s.w, c, vals[i], s.loc, i == 0); err != nil {
			return fmt.Errorf("report: %s.%s: %w", t.Sheet, c.Key, err)
		}
	}
	return nil
}

func (s *treeSink) Close() error {
	s.closeRow()
	if s.top != nil {
		s.syn.closeList(s.w, s.top)
	}
	for _, t := range s.tables {
		if t.Parent == nil && !s.done[t] {
			s.syn.openList(s.w, t, len(s.done) == 0)
			s.done[t] = true
			s.syn.closeList(s.w, t)
		}
	}
	s.syn.end(s.w, s.o.Root)
	err := s.w.Flush()
	if cerr := s.wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// ---- JSON ----

type jsonTree struct{}

func (jsonTree) ext() Format                         { return JSON }
func (jsonTree) begin(w *bufio.Writer, _ string)     { w.WriteByte('{') }
func (jsonTree) end(w *bufio.Writer, _ string)       { w.WriteString("}\n") }
func (jsonTree) closeList(w *bufio.Writer, _ *Table) { w.WriteByte(']') }
func (jsonTree) closeRow(w *bufio.Writer, _ *Table)  { w.WriteByte('}') }
func (jsonTree) openRow(w *bufio.Writer, t *Table, first bool) {
	if !first {
		w.WriteByte(',')
	}
	if t.Parent == nil {
		w.WriteByte('\n')
	}
	w.WriteByte('{')
}

func (jsonTree) openList(w *bufio.Writer, t *Table, first bool) {
	if !first {
		w.WriteByte(',')
	}
	jsonString(w, t.File)
	w.WriteString(":[")
}

func (jsonTree) field(w *bufio.Writer, c Column, v Value, loc *time.Location, first bool) error {
	if !first {
		w.WriteByte(',')
	}
	jsonString(w, c.Key)
	w.WriteByte(':')
	switch x := v.(type) {
	case string:
		jsonString(w, sanitize(x))
	case time.Time:
		if x.IsZero() {
			w.WriteString("null")
		} else {
			jsonString(w, timeText(x, loc, true))
		}
	case nil:
		w.WriteString("null")
	default:
		n, ok := intText(x)
		if !ok {
			return fmt.Errorf("unsupported value %T", v)
		}
		w.WriteString(n)
	}
	return nil
}

// jsonString writes s quoted; the common case (printable ASCII without quote
// or backslash) without encoding/json's allocation.
func jsonString(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			w.Write(b)
			return
		}
	}
	w.WriteByte('"')
	w.WriteString(s)
	w.WriteByte('"')
}

// ---- XML ----

type xmlTree struct{}

func (xmlTree) ext() Format { return XML }
func (xmlTree) begin(w *bufio.Writer, title string) {
	w.WriteString(xml.Header)
	w.WriteString("<" + title + ">")
}
func (xmlTree) end(w *bufio.Writer, title string) { w.WriteString("\n</" + title + ">\n") }
func (xmlTree) openList(w *bufio.Writer, t *Table, _ bool) {
	if t.Parent == nil {
		w.WriteString("\n")
	}
	w.WriteString("<" + t.File + ">")
}
func (xmlTree) closeList(w *bufio.Writer, t *Table) {
	if t.Parent == nil {
		w.WriteString("\n")
	}
	w.WriteString("</" + t.File + ">")
}
func (xmlTree) openRow(w *bufio.Writer, t *Table, _ bool) {
	if t.Parent == nil {
		w.WriteString("\n")
	}
	w.WriteString("<" + t.Element + ">")
}
func (xmlTree) closeRow(w *bufio.Writer, t *Table) { w.WriteString("</" + t.Element + ">") }

func (xmlTree) field(w *bufio.Writer, c Column, v Value, loc *time.Location, _ bool) error {
	var s string
	switch x := v.(type) {
	case string:
		s = sanitize(x)
	case time.Time:
		s = timeText(x, loc, true)
	case nil:
	default:
		n, ok := intText(x)
		if !ok {
			return fmt.Errorf("unsupported value %T", v)
		}
		s = n
	}
	if s == "" {
		w.WriteString("<" + c.Key + "/>")
		return nil
	}
	w.WriteString("<" + c.Key + ">")
	xmlText(w, s)
	w.WriteString("</" + c.Key + ">")
	return nil
}

func xmlText(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' {
			xml.EscapeText(w, []byte(s)) //nolint:errcheck // bufio errors surface at Flush
			return
		}
	}
	w.WriteString(s)
}
