package report

import (
	"archive/zip"
	"compress/flate"
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"
)

// maxSheetRows is Excel's row limit; a table longer than that continues on
// a sheet named "Calls (2)", with the header again.
var maxSheetRows = excelize.TotalRows

// maxCell is the longest text a cell holds.
const maxCell = excelize.TotalCellChars

// xlsxCompression is the deflate level of the workbook's parts. Deflate was
// a third of the CPU time of a million-row XLSX export at the default level
// (6); level 1 takes a fraction of that for a file about a quarter larger.
const xlsxCompression = flate.BestSpeed

// xlsxSink writes every table to its own sheet through excelize's stream
// writer. The workbook is assembled in Close: excelize keeps each sheet's XML
// in memory up to 16 MB and in a temporary file past that.
type xlsxSink struct {
	f      *excelize.File
	open   Opener
	o      Options
	loc    *time.Location
	zone   zoneCache
	tables []*Table
	sheets map[*Table]*xlsxSheet
	names  map[string]bool
	head   int // header style
	date   int // date-time style
	row    []any
}

type xlsxSheet struct {
	sw   *excelize.StreamWriter
	part int // 1, 2, ... for continuation sheets
	rows int // rows written on sw, header included
}

func newXLSXSink(tables []*Table, open Opener, o Options) (*xlsxSink, error) {
	f := excelize.NewFile()
	s := &xlsxSink{f: f, open: open, o: o, loc: o.loc(), tables: tables, sheets: map[*Table]*xlsxSheet{}, names: map[string]bool{}}
	s.zone.loc = s.loc
	var err error
	if s.head, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE4EE"}}}); err != nil {
		f.Close()
		return nil, fmt.Errorf("report: xlsx style: %w", err)
	}
	layout := "yyyy-mm-dd hh:mm:ss"
	if s.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &layout}); err != nil {
		f.Close()
		return nil, fmt.Errorf("report: xlsx style: %w", err)
	}
	// Sheets are made in table order, so that the workbook opens on the first.
	for _, t := range tables {
		if _, err := s.sheet(t); err != nil {
			f.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *xlsxSink) sheetName(t *Table, part int) string {
	name := t.Sheet
	if part > 1 {
		name = fmt.Sprintf("%s (%d)", t.Sheet, part)
	}
	if len(name) > 31 {
		name = name[:31]
	}
	return name
}

func (s *xlsxSink) newSheet(t *Table, part int) (*xlsxSheet, error) {
	name := s.sheetName(t, part)
	if len(s.names) == 0 {
		if err := s.f.SetSheetName("Sheet1", name); err != nil {
			return nil, fmt.Errorf("report: xlsx sheet %s: %w", name, err)
		}
	} else if _, err := s.f.NewSheet(name); err != nil {
		return nil, fmt.Errorf("report: xlsx sheet %s: %w", name, err)
	}
	s.names[name] = true
	sw, err := s.f.NewStreamWriter(name)
	if err != nil {
		return nil, fmt.Errorf("report: xlsx sheet %s: %w", name, err)
	}
	for i, c := range t.Columns {
		w := float64(len(c.Label) + 2)
		switch c.kind {
		case datetime:
			w = 20
		case integer:
			w = max(w, 10)
		default:
			w = max(w, 16)
		}
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return nil, fmt.Errorf("report: xlsx sheet %s: %w", name, err)
		}
	}
	// The header stays in view while scrolling.
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, fmt.Errorf("report: xlsx sheet %s: %w", name, err)
	}
	head := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = excelize.Cell{StyleID: s.head, Value: c.Label}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return nil, fmt.Errorf("report: xlsx sheet %s: %w", name, err)
	}
	return &xlsxSheet{sw: sw, part: part, rows: 1}, nil
}

func (s *xlsxSink) sheet(t *Table) (*xlsxSheet, error) {
	sh := s.sheets[t]
	if sh == nil {
		var err error
		if sh, err = s.newSheet(t, 1); err != nil {
			return nil, err
		}
		s.sheets[t] = sh
	}
	if sh.rows >= maxSheetRows {
		if err := sh.sw.Flush(); err != nil {
			return nil, fmt.Errorf("report: xlsx: %w", err)
		}
		next, err := s.newSheet(t, sh.part+1)
		if err != nil {
			return nil, err
		}
		s.sheets[t], sh = next, next
	}
	return sh, nil
}

// excelTime is the spreadsheet serial of t's wall time in z's zone (days
// since 1899-12-30).
func excelTime(t time.Time, z *zoneCache) float64 {
	return float64(t.Unix()+z.offset(t))/86400 + 25569
}

func (s *xlsxSink) Row(t *Table, vals []Value) error {
	sh, err := s.sheet(t)
	if err != nil {
		return err
	}
	s.row = s.row[:0]
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			if x == "" {
				s.row = append(s.row, nil) // an empty cell, not an empty string
				continue
			}
			x = sanitize(x)
			if len(x) > maxCell {
				x = x[:maxCell]
			}
			s.row = append(s.row, x)
		case time.Time:
			if x.IsZero() {
				s.row = append(s.row, nil)
			} else {
				s.row = append(s.row, excelize.Cell{StyleID: s.date, Value: excelTime(x, &s.zone)})
			}
		case int, int64, nil:
			s.row = append(s.row, x)
		default:
			return fmt.Errorf("report: %s: unsupported value %T", t.Sheet, v)
		}
	}
	sh.rows++
	cell, err := excelize.CoordinatesToCellName(1, sh.rows)
	if err != nil {
		return err
	}
	return sh.sw.SetRow(cell, s.row)
}

func (s *xlsxSink) Close() error {
	defer s.f.Close() // removes the temporary files
	for _, t := range s.tables {
		if err := s.sheets[t].sw.Flush(); err != nil {
			return fmt.Errorf("report: xlsx: %w", err)
		}
	}
	s.f.SetActiveSheet(0)
	wc, err := s.open(FileName(s.o.Title, XLSX))
	if err != nil {
		return err
	}
	// excelize's WriteTo assembles the whole workbook in memory before
	// writing it (50 MB for a million rows); its zip writer hook lets the
	// archive go straight to the output instead. (excelize then patches
	// zip64 headers in its own, empty, buffer: needed only for a part over
	// 4 GB, and a sheet stops at 1,048,576 rows long before that.)
	s.f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw := zip.NewWriter(wc)
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
			return flate.NewWriter(w, xlsxCompression)
		})
		return zw
	})
	if err := s.f.Write(io.Discard); err != nil {
		wc.Close()
		return fmt.Errorf("report: xlsx: %w", err)
	}
	return wc.Close()
}
