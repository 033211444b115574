package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// csvSink writes one RFC 4180 file per table: CRLF line ends, fields quoted
// when they hold a comma, quote or line break, UTF-8 with a byte-order mark
// (without it Excel reads the file as the local 8-bit code page).
//
// It writes exactly what encoding/csv's Writer (UseCRLF) writes, but appends
// each row straight into the free space of its file's buffer: a million-row
// export spent a fifth of its CPU time in encoding/csv's per-field calls, its
// second buffer and the strings made for every number and time.
type csvSink struct {
	tables []*Table
	open   Opener
	o      Options
	files  map[*Table]*csvFile
	loc    *time.Location
	zone   zoneCache
}

type csvFile struct {
	c   io.Closer
	buf *bufio.Writer
}

// csvBuffer is the write buffer of one CSV file: large enough that the
// kernel sees few writes, small enough to be nothing beside the rest.
const csvBuffer = 256 << 10

func newCSVSink(tables []*Table, open Opener, o Options) *csvSink {
	s := &csvSink{tables: tables, open: open, o: o, files: map[*Table]*csvFile{}, loc: o.loc()}
	s.zone.loc = s.loc
	return s
}

func (s *csvSink) file(t *Table) (*csvFile, error) {
	if f := s.files[t]; f != nil {
		return f, nil
	}
	wc, err := s.open(csvName(s.o.Title, t, len(s.tables) > 1))
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriterSize(wc, csvBuffer)
	b := append(buf.AvailableBuffer(), "\uFEFF"...)
	for i, c := range t.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, c.Label)
	}
	b = append(b, '\r', '\n')
	if _, err := buf.Write(b); err != nil {
		wc.Close()
		return nil, err
	}
	f := &csvFile{c: wc, buf: buf}
	s.files[t] = f
	return f, nil
}

func (s *csvSink) Row(t *Table, vals []Value) error {
	f, err := s.file(t)
	if err != nil {
		return err
	}
	b := f.buf.AvailableBuffer()
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		switch x := v.(type) {
		case string:
			b = appendCSVField(b, defuse(sanitize(x)))
		case time.Time:
			b = s.zone.appendWallTime(b, x)
		case nil:
		case int:
			b = strconv.AppendInt(b, int64(x), 10)
		case int64:
			b = strconv.AppendInt(b, x, 10)
		default:
			return fmt.Errorf("report: %s: unsupported value %T", t.Sheet, v)
		}
	}
	b = append(b, '\r', '\n')
	_, err = f.buf.Write(b)
	return err
}

// cells is Row for cells, with no value boxed.
func (s *csvSink) cells(t *Table, row []cell) error {
	f, err := s.file(t)
	if err != nil {
		return err
	}
	b := f.buf.AvailableBuffer()
	for i := range row {
		if i > 0 {
			b = append(b, ',')
		}
		switch c := &row[i]; c.kind {
		case integer:
			b = strconv.AppendInt(b, c.n, 10)
		case datetime:
			b = s.zone.appendWallTime(b, c.t)
		default:
			b = appendCSVField(b, defuse(sanitize(c.s)))
		}
	}
	b = append(b, '\r', '\n')
	_, err = f.buf.Write(b)
	return err
}

// appendCSVField appends one field as encoding/csv's Writer with UseCRLF
// writes it: quoted when it holds a comma, quote or line break, is `\.` or
// starts with a space; quotes doubled, a line feed written as CRLF and a
// carriage return dropped.
func appendCSVField(b []byte, field string) []byte {
	if !csvNeedsQuotes(field) {
		return append(b, field...)
	}
	b = append(b, '"')
	for i := 0; i < len(field); i++ {
		switch c := field[i]; c {
		case '"':
			b = append(b, '"', '"')
		case '\r':
		case '\n':
			b = append(b, '\r', '\n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func csvNeedsQuotes(field string) bool {
	if field == "" {
		return false
	}
	if field == `\.` {
		return true
	}
	for i := 0; i < len(field); i++ {
		switch field[i] {
		case '\n', '\r', '"', ',':
			return true
		}
	}
	r1, _ := utf8.DecodeRuneInString(field)
	return unicode.IsSpace(r1)
}

// zoneCache turns instants into wall times of one zone, looking the zone's
// offset up once per span of time it holds (rows come in time order): the
// lookup is what makes time.Time.In and Format slow for a real zone.
type zoneCache struct {
	loc        *time.Location
	start, end int64 // the span [start, end) in Unix seconds off is valid for
	off        int64
}

func (z *zoneCache) offset(t time.Time) int64 {
	u := t.Unix()
	if u < z.start || u >= z.end || z.end == 0 {
		_, off := t.In(z.loc).Zone()
		start, end := t.In(z.loc).ZoneBounds()
		z.off = int64(off)
		z.start, z.end = minUnix, maxUnix
		if !start.IsZero() {
			z.start = start.Unix()
		}
		if !end.IsZero() {
			z.end = end.Unix()
		}
	}
	return z.off
}

const (
	minUnix = -1 << 63
	maxUnix = 1<<63 - 1
)

// appendWallTime appends t as timeText(t, loc, false) writes it
// ("2006-01-02 15:04:05", empty for the zero time).
func (z *zoneCache) appendWallTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	w := t.Unix() + z.offset(t)
	// Days since 1970-01-01 of the wall time, then the civil date (Howard
	// Hinnant's days_from_civil inverse), valid for years 0..9999 only.
	days, sec := floorDiv(w, 86400)
	if days < -719468 || days > 2932896 { // outside 0000-03-01 .. 9999-12-31
		return t.In(z.loc).AppendFormat(b, "2006-01-02 15:04:05")
	}
	y, m, d := civil(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, ' ')
	b = append2(b, int(sec/3600))
	b = append(b, ':')
	b = append2(b, int(sec/60%60))
	b = append(b, ':')
	return append2(b, int(sec%60))
}

func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}

// civil is the proleptic Gregorian date of days since 1970-01-01.
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097 // z >= 0 here
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mm > 12 {
		mm -= 12
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}

const digits = "0123456789"

// append2 and append4 append n (0..99, 0..9999) with leading zeros.
func append2(b []byte, n int) []byte { return append(b, digits[n/10], digits[n%10]) }

func append4(b []byte, n int) []byte {
	return append(b, digits[n/1000], digits[n/100%10], digits[n/10%10], digits[n%10])
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
