package cdr

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/report"
)

// Field values come from the PBX, and caller names from whoever calls:
// control characters (the packed column's separator among them), bytes that
// are not UTF-8 and empty values are stored and read back without a damaged
// row, the text as sent less its control characters. (Each case is a SQLite
// commit: a table, not a fuzz target, keeps it to seconds.)
func TestHostileFieldsReadBack(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetLocation(time.UTC)
	n := 0
	for _, c := range [][4]string{
		{`"Rossi" <0611>`, "PJSIP/201-0001", "ANSWERED", "7"},
		{"a\x1fb\x00c", "\x1f\x1f", "\xff", "-1"},
		{"", "", "", ""},
		{"\x1f", "x\x1fy\x1fz", "\x1f\x1f\x1f", "\x1f"},
		{"tab\tand\nline", "PJSIP/\u00e8", "\r\n", "99999999999999999999"},
	} {
		clid, ch, disp, seq := c[0], c[1], c[2], c[3]
		n++
		uid := "9." + strconv.Itoa(n)
		err := s.Add(ctx, ami.NewMessage("Event", "Cdr", "CallerID", clid, "Channel", ch, "DestinationChannel", ch,
			"Disposition", disp, "StartTime", "2026-03-02 10:00:00", "UniqueID", uid, "LinkedID", uid, "Sequence", seq,
			"Duration", seq, "BillableSeconds", disp, "UserField", clid))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddQueueEvent(ctx, ami.NewMessage("Event", "QueueCallerJoin", "Queue", ch, "Uniqueid", uid,
			"CallerIDNum", clid, "CallerIDName", disp, "Position", seq), time.Unix(1772445600, 0)); err != nil {
			t.Fatal(err)
		}
		day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		found := false
		if err := s.Legs(ctx, day, day.AddDate(0, 0, 1), func(c *report.CDR) error {
			if c.UniqueID == uid {
				found = true
				if c.CallerID != clean(ami.NewMessage("x", clid)).Fields[0].Value {
					t.Fatalf("caller id %q read back as %q", clid, c.CallerID)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Fatalf("leg %s not read back", uid)
		}
		if err := (report.QueueLogSource{Log: s}).QueueCalls(ctx, day, day.AddDate(0, 0, 1), func(*report.QueueCall) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}
