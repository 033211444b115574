package report

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"time"
)

// csvSink writes one RFC 4180 file per table: CRLF line ends, fields quoted
// when they hold a comma, quote or line break, UTF-8 with a byte-order mark
// (without it Excel reads the file as the local 8-bit code page).
type csvSink struct {
	tables []*Table
	open   Opener
	o      Options
	files  map[*Table]*csvFile
	loc    *time.Location
	rec    []string
}

type csvFile struct {
	c   io.Closer
	buf *bufio.Writer
	w   *csv.Writer
}

func newCSVSink(tables []*Table, open Opener, o Options) *csvSink {
	return &csvSink{tables: tables, open: open, o: o, files: map[*Table]*csvFile{}, loc: o.loc()}
}

func (s *csvSink) file(t *Table) (*csvFile, error) {
	if f := s.files[t]; f != nil {
		return f, nil
	}
	wc, err := s.open(csvName(s.o.Title, t, len(s.tables) > 1))
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriterSize(wc, 64<<10)
	buf.WriteString("\uFEFF")
	w := csv.NewWriter(buf)
	w.UseCRLF = true
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.Label
	}
	if err := w.Write(head); err != nil {
		wc.Close()
		return nil, err
	}
	f := &csvFile{c: wc, buf: buf, w: w}
	s.files[t] = f
	return f, nil
}

func (s *csvSink) Row(t *Table, vals []Value) error {
	f, err := s.file(t)
	if err != nil {
		return err
	}
	s.rec = s.rec[:0]
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			s.rec = append(s.rec, defuse(sanitize(x)))
		case time.Time:
			s.rec = append(s.rec, timeText(x, s.loc, false))
		case nil:
			s.rec = append(s.rec, "")
		default:
			n, ok := intText(x)
			if !ok {
				return fmt.Errorf("report: %s: unsupported value %T", t.Sheet, v)
			}
			s.rec = append(s.rec, n)
		}
	}
	return f.w.Write(s.rec)
}

// Close writes the header of tables that got no row (an empty export is a
// file with a header, not no file) and closes every file.
func (s *csvSink) Close() error {
	var first error
	for _, t := range s.tables {
		if _, err := s.file(t); err != nil && first == nil {
			first = err
		}
	}
	for _, t := range s.tables {
		f := s.files[t]
		if f == nil {
			continue
		}
		f.w.Flush()
		if err := f.w.Error(); err != nil && first == nil {
			first = err
		}
		if err := f.buf.Flush(); err != nil && first == nil {
			first = err
		}
		if err := f.c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// defuse keeps a spreadsheet from reading a text cell as a formula (CSV
// injection: a caller name is whatever the caller sent). A leading = or @, or a
// + or - not followed by a digit, gets a leading apostrophe; phone numbers
// such as +390612345 are left alone.
func defuse(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@':
		return "'" + s
	case '+', '-':
		if len(s) == 1 || s[1] < '0' || s[1] > '9' {
			return "'" + s
		}
		for i := 1; i < len(s); i++ {
			if (s[i] < '0' || s[i] > '9') && s[i] != ' ' {
				return "'" + s
			}
		}
	}
	return s
}
