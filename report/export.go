package report

import (
	"context"
	"fmt"
	"time"
)

// Dataset is what an export holds.
type Dataset string

// Datasets.
const (
	CDRData        Dataset = "cdr"        // calls (and legs)
	CallCenterData Dataset = "callcenter" // queue calls (and attempts, operator events)
)

// Request describes one export of CDR or call-center data.
type Request struct {
	Data     Dataset
	Format   Format
	Detailed bool
	// OperatorEvents adds the operator events (call-center, detailed only).
	OperatorEvents bool
	From, To       time.Time
	Language       Language
	Location       *time.Location
	// Stem is the file name without extension ("cdr-2026-03-01").
	Stem string
}

// Sources are where an export's data comes from; either may be nil when the
// appliance has none of that kind.
type Sources struct {
	CDR   CDRSource
	Queue QueueSource
}

// Export writes the export req describes into dir and returns what it wrote.
func Export(ctx context.Context, req Request, src Sources, dir *Dir) (Stats, []File, error) {
	if req.OperatorEvents && (!req.Detailed || req.Data != CallCenterData) {
		return Stats{}, nil, fmt.Errorf("report: operator events need a detailed call-center export")
	}
	var tables []*Table
	switch req.Data {
	case CDRData:
		if src.CDR == nil {
			return Stats{}, nil, fmt.Errorf("no CDR source is configured")
		}
		tables = CDRTables(req.Language, req.Detailed)
	case CallCenterData:
		if src.Queue == nil {
			return Stats{}, nil, fmt.Errorf("no call-center data source is configured")
		}
		tables = QueueTables(req.Language, req.Detailed, req.OperatorEvents)
	default:
		return Stats{}, nil, fmt.Errorf("report: unknown data %q", req.Data)
	}
	sink, err := NewSink(req.Format, tables, dir.Open, Options{Location: req.Location, Title: req.Stem, Root: string(req.Data)})
	if err != nil {
		return Stats{}, nil, err
	}
	var st Stats
	if req.Data == CDRData {
		st, err = WriteCDRs(ctx, src.CDR, req.From, req.To, tables, sink)
	} else {
		st, err = WriteQueue(ctx, src.Queue, req.From, req.To, tables, sink)
	}
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, nil, err
	}
	files, err := dir.Files()
	return st, files, err
}
