package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// referenceCSV is the CSV sink as first written, on encoding/csv's Writer:
// the optimised sink must write exactly these bytes.
func referenceCSV(t *Table, rows [][]Value, loc *time.Location) ([]byte, error) {
	var out bytes.Buffer
	buf := bufio.NewWriter(&out)
	buf.WriteString("\uFEFF")
	w := csv.NewWriter(buf)
	w.UseCRLF = true
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.Label
	}
	if err := w.Write(head); err != nil {
		return nil, err
	}
	for _, vals := range rows {
		var rec []string
		for _, v := range vals {
			switch x := v.(type) {
			case string:
				rec = append(rec, defuse(sanitize(x)))
			case time.Time:
				rec = append(rec, timeText(x, loc, false))
			case nil:
				rec = append(rec, "")
			default:
				n, ok := intText(x)
				if !ok {
					return nil, fmt.Errorf("unsupported value %T", v)
				}
				rec = append(rec, n)
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return out.Bytes(), buf.Flush()
}

// sinkCSV writes rows through the CSV sink and returns the file of t.
func sinkCSV(t *testing.T, table *Table, rows [][]Value, loc *time.Location) []byte {
	t.Helper()
	var out *memFile
	sink, err := NewSink(CSV, []*Table{table}, func(string) (io.WriteCloser, error) {
		out = &memFile{}
		return out, nil
	}, Options{Title: "x", Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := sink.Row(table, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCSVMatchesEncodingCSV: the sink's own RFC 4180 writer gives the bytes
// encoding/csv gives, for awkward text, numbers and wall times in a zone
// with DST (both changes of 2026 in Rome, before 1970, past 9999, the zero
// time), over more rows than the write buffer holds.
func TestCSVMatchesEncodingCSV(t *testing.T) {
	table := &Table{Sheet: "Calls", File: "calls", Columns: []Column{
		{Key: "a", Label: "A, \"quoted\" label", kind: text}, {Key: "n", Label: "N", kind: integer},
		{Key: "t", Label: " T", kind: datetime}, {Key: "b", Label: "B", kind: text}}}
	texts := append([]string{`\.`, " lead", "\u00a0nbsp", "\u2028", "trail ", "a\rb", "a\r\nb\n", `"`, ",", "+39 06 1234", "-", "+x", "@sum", "x\ty"}, sinkSeeds...)
	times := []time.Time{{}, at("2026-03-29 01:59:59"), at("2026-03-29 03:00:00"), at("2026-10-25 02:30:00"),
		at("2026-10-25 02:30:00").Add(time.Hour), time.Date(1965, 7, 1, 23, 59, 59, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(12000, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2000, 2, 29, 23, 30, 0, 0, time.UTC), time.Unix(0, 0), time.Unix(-1, 0)}
	var rows [][]Value
	for i := 0; i < 20000; i++ {
		var n Value = int64(i*7919 - 50000)
		if i%3 == 0 {
			n = i
		}
		var b Value = texts[(i/len(texts))%len(texts)]
		if i%5 == 0 {
			b = nil
		}
		tm := times[i%len(times)]
		if i > 100 {
			tm = at("2026-03-28 00:00:00").Add(time.Duration(i) * 37 * time.Second) // across the spring change
		}
		rows = append(rows, []Value{texts[i%len(texts)], n, tm, b})
	}
	for _, loc := range []*time.Location{rome, time.UTC, mustZone("America/St_Johns"), time.FixedZone("x", -(5*3600 + 30*60))} {
		want, err := referenceCSV(table, rows, loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := sinkCSV(t, table, rows, loc); !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("%s: differs from encoding/csv at byte %d:\n got %q\nwant %q", loc, i, got[max(0, i-80):min(len(got), i+80)], want[max(0, i-80):min(len(want), i+80)])
		}
	}
}

// TestZoneCacheOffset: the cached offset is the zone's at every instant,
// across both DST changes and in whichever order times come.
func TestZoneCacheOffset(t *testing.T) {
	for _, loc := range []*time.Location{rome, time.UTC, mustZone("America/St_Johns"), mustZone("Australia/Lord_Howe")} {
		z := zoneCache{loc: loc}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		for i := int64(0); i < 366*24*4; i++ {
			u := start + i*900 + (i%7)*13
			if i%97 == 0 {
				u = start - i*86400 // now and then far back
			}
			tm := time.Unix(u, 0)
			_, want := tm.In(loc).Zone()
			if got := z.offset(tm); got != int64(want) {
				t.Fatalf("%s %s: offset %d, want %d", loc, tm.UTC(), got, want)
			}
		}
	}
}

// TestSanitizeASCIIFastPath: the printable-ASCII shortcut changes nothing.
func TestSanitizeASCIIFastPath(t *testing.T) {
	ref := func(s string) string {
		s = strings.ToValidUTF8(s, "\uFFFD")
		return strings.Map(func(r rune) rune {
			if badRune(r) {
				return -1
			}
			return r
		}, s)
	}
	inputs := append([]string{"plain", "tab\there", "del\x7f", "nul\x00", "\x1f", "é", "\xff"}, sinkSeeds...)
	for c := 0; c < 256; c++ {
		inputs = append(inputs, "a"+string([]byte{byte(c)})+"b")
	}
	for _, s := range inputs {
		if got, want := sanitize(s), ref(s); got != want {
			t.Fatalf("sanitize(%q) = %q, want %q", s, got, want)
		}
	}
}

// recordSink keeps the rows it gets as Values (it is no cellSink).
type recordSink struct{ rows map[*Table][][]Value }

func (r *recordSink) Row(t *Table, vals []Value) error {
	r.rows[t] = append(r.rows[t], append([]Value(nil), vals...))
	return nil
}
func (r *recordSink) Close() error { return nil }

// TestCDRCSVMatchesEncodingCSV: a detailed CDR export through the CSV sink's
// unboxed path gives, file by file, the bytes encoding/csv gives for the same
// rows as Values.
func TestCDRCSVMatchesEncodingCSV(t *testing.T) {
	src := testLegs()
	for i := 0; i < 3000; i++ { // more than one buffer, across the autumn change
		l := src[i%4]
		l.Start = at("2026-10-25 01:00:00").Add(time.Duration(i) * 7 * time.Second)
		l.LinkedID = fmt.Sprintf("%s-%d", l.LinkedID, i/2)
		src = append(src, l)
	}
	ctx := t.Context()
	from, to := at("2026-03-02 00:00:00"), at("2026-10-27 00:00:00")
	tables := CDRTables(Italian, true)
	rec := &recordSink{rows: map[*Table][][]Value{}}
	if _, err := WriteCDRs(ctx, src, from, to, tables, rec); err != nil {
		t.Fatal(err)
	}
	files := map[string]*memFile{}
	sink, err := NewSink(CSV, tables, func(name string) (io.WriteCloser, error) {
		files[name] = &memFile{}
		return files[name], nil
	}, Options{Title: "x", Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sink.(cellSink); !ok {
		t.Fatal("the CSV sink takes no cells")
	}
	st, err := WriteCDRs(ctx, src, from, to, tables, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Rows < 1500 || st.Detail < 3000 {
		t.Fatalf("stats %+v", st)
	}
	for _, tb := range tables {
		want, err := referenceCSV(tb, rec.rows[tb], rome)
		if err != nil {
			t.Fatal(err)
		}
		name := "x-" + tb.File + ".csv"
		if got := files[name].Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("%s differs from encoding/csv (%d and %d bytes)", name, len(got), len(want))
		}
	}
}
