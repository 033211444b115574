package cdr

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/report"
)

var rome, _ = time.LoadLocation("Europe/Rome")

// leg is a Cdr event with cdr_manager's LinkedID and Sequence mappings.
func leg(uid, linked string, seq int, src, dst, dstch, start string, dur, bill int, disp, app string) ami.Message {
	return ami.NewMessage("Event", "Cdr", "AccountCode", "", "Source", src, "Destination", dst, "DestinationContext", "from-internal",
		"CallerID", `"`+src+`" <`+src+`>`, "Channel", "PJSIP/"+src+"-0001", "DestinationChannel", dstch, "LastApplication", app,
		"LastData", "x", "StartTime", start, "AnswerTime", "", "EndTime", "", "Duration", strconv.Itoa(dur),
		"BillableSeconds", strconv.Itoa(bill), "Disposition", disp, "AMAFlags", "DOCUMENTATION", "UniqueID", uid, "UserField", "",
		"LinkedID", linked, "Sequence", strconv.Itoa(seq))
}

func TestEveryLegIsKept(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetLocation(rome)
	// A blind transfer: two CDRs with the transferee's UniqueID; the first
	// answered for 4 s. Before, the second (0 s to the transferrer's view)
	// overwrote it.
	for _, ev := range []ami.Message{
		leg("100.1", "100.1", 11, "201", "202", "PJSIP/202-0002", "2026-03-02 09:00:00", 6, 4, "ANSWERED", "Dial"),
		leg("100.1", "100.1", 13, "201", "203", "PJSIP/203-0004", "2026-03-02 09:00:06", 20, 15, "ANSWERED", "Dial"),
		leg("100.1", "100.1", 13, "201", "203", "PJSIP/203-0004", "2026-03-02 09:00:06", 20, 15, "ANSWERED", "Dial"), // re-sent
		leg("100.3", "100.1", 12, "202", "203", "PJSIP/203-0003", "2026-03-02 09:00:03", 2, 0, "NO ANSWER", "Dial"),
		leg("200.1", "200.1", 20, "0611", "201", "PJSIP/201-0009", "2026-03-02 23:59:58", 40, 30, "ANSWERED", "Dial"),
		leg("200.1", "200.1", 21, "0611", "202", "PJSIP/202-0010", "2026-03-03 00:00:30", 10, 8, "ANSWERED", "Dial"), // after midnight
		leg("300.1", "300.1", 30, "201", "202", "PJSIP/202-0011", "2026-03-03 08:00:00", 5, 0, "BUSY", "Dial"),
		// The CDR of a call's later leg may come first: the call still starts
		// with its earliest leg once that arrives.
		leg("400.1", "400.1", 41, "201", "205", "PJSIP/205-0013", "2026-03-02 14:00:10", 9, 7, "ANSWERED", "Dial"),
		leg("400.2", "400.1", 40, "201", "204", "PJSIP/204-0012", "2026-03-02 14:00:00", 12, 10, "ANSWERED", "Dial"),
	} {
		if err := s.Add(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	var got []string
	err = s.Legs(ctx, day, day.AddDate(0, 0, 1), func(c *report.CDR) error {
		got = append(got, c.LinkedID+"/"+strconv.Itoa(c.Sequence)+"/"+c.Start.In(rome).Format("15:04:05")+"/"+strconv.Itoa(c.BillSec))
		return nil
	})
	want := []string{"100.1/11/09:00:00/4", "100.1/12/09:00:03/0", "100.1/13/09:00:06/15", "400.1/40/14:00:00/10", "400.1/41/14:00:10/7",
		"200.1/20/23:59:58/30", "200.1/21/00:00:30/8"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("legs %v %v\nwant %v", got, err, want)
	}
	// The call of 23:59:58 belongs to 2 March only, with its leg after midnight.
	got = nil
	s.Legs(ctx, day.AddDate(0, 0, 1), day.AddDate(0, 0, 2), func(c *report.CDR) error {
		got = append(got, c.LinkedID+"/"+strconv.Itoa(c.Sequence))
		return nil
	})
	if !reflect.DeepEqual(got, []string{"300.1/30"}) {
		t.Fatalf("next day %v", got)
	}
	// The call keeps all three CDRs of the transfer; the history shows it
	// as nethcti does, the two answered legs of 201's UniqueID merged into
	// one call (the longest duration, the answered billable seconds).
	if legs, err := s.CallLegs(ctx, "100.1"); err != nil || legs != 3 {
		t.Fatalf("legs of the transfer: %d %v", legs, err)
	}
	n, rows, err := s.Query(ctx, Query{From: day, To: day.Add(12 * time.Hour), Limit: 100, Extensions: []string{"201"}})
	if err != nil || n != 1 || rows[0].Uniqueid != "100.1" || rows[0].Duration != 20 || rows[0].Billsec != 15 || rows[0].Dst != "203" {
		t.Fatalf("history %d %+v %v", n, rows, err)
	}
}

func TestOldHistoryIsMigrated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// The schema of the first release, with one row.
	if _, err := db.Exec(`CREATE TABLE cdr (uniqueid TEXT NOT NULL, dst TEXT NOT NULL, time INTEGER NOT NULL, src TEXT NOT NULL,
		cnum TEXT NOT NULL, cnam TEXT NOT NULL, channel TEXT NOT NULL, dstchannel TEXT NOT NULL,
		duration INTEGER NOT NULL, billsec INTEGER NOT NULL, disposition TEXT NOT NULL,
		recordingfile TEXT NOT NULL, PRIMARY KEY (uniqueid, dst));
		INSERT INTO cdr VALUES ('9.1', '202', 1772438400, '201', '201', 'Alice', 'PJSIP/201-1', 'PJSIP/202-2', 30, 25, 'ANSWERED', 'r.wav')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, rows, err := s.Query(ctx, Query{From: time.Unix(1772438400, 0), To: time.Unix(1772438401, 0), Limit: 10})
	if err != nil || n != 1 || rows[0].Cnam != "Alice" || rows[0].Billsec != 25 || rows[0].Recordingfile != "r.wav" {
		t.Fatalf("%d %+v %v", n, rows, err)
	}
	// Opening again (the table is gone) is fine.
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestQueueEventsBecomeQueueCalls(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetLocation(rome)
	at := func(hms string) time.Time {
		t, _ := time.ParseInLocation("2006-01-02 15:04:05", "2026-03-02 "+hms, rome)
		return t
	}
	ev := func(when string, kv ...string) {
		t.Helper()
		if err := s.AddQueueEvent(ctx, ami.NewMessage(kv...), at(when)); err != nil {
			t.Fatal(err)
		}
	}
	ev("08:00:00", "Event", "QueueMemberAdded", "Queue", "400", "MemberName", "PJSIP/201", "Interface", "PJSIP/201", "Paused", "0")
	// An answered call: 202 does not answer, 201 does after 6 s of waiting.
	ev("09:00:00", "Event", "QueueCallerJoin", "Queue", "400", "Uniqueid", "500.1", "CallerIDNum", "0611", "CallerIDName", "ACME", "Position", "1")
	ev("09:00:05", "Event", "AgentRingNoAnswer", "Queue", "400", "Uniqueid", "500.1", "MemberName", "PJSIP/202", "RingTime", "4500")
	ev("09:00:06", "Event", "QueueCallerLeave", "Queue", "400", "Uniqueid", "500.1", "Position", "1")
	ev("09:00:06", "Event", "AgentConnect", "Queue", "400", "Uniqueid", "500.1", "MemberName", "PJSIP/201", "HoldTime", "6", "RingTime", "1", "DestUniqueid", "500.2")
	ev("09:01:06", "Event", "AgentComplete", "Queue", "400", "Uniqueid", "500.1", "MemberName", "PJSIP/201", "HoldTime", "6", "TalkTime", "60", "Reason", "caller")
	// Abandoned after 9 s; another that left without an answer (a timeout).
	ev("10:00:00", "Event", "QueueCallerJoin", "Queue", "400", "Uniqueid", "600.1", "CallerIDNum", "0622", "CallerIDName", "<unknown>", "Position", "1")
	ev("10:00:09", "Event", "QueueCallerAbandon", "Queue", "400", "Uniqueid", "600.1", "Position", "1", "OriginalPosition", "1", "HoldTime", "9")
	ev("10:00:09", "Event", "QueueCallerLeave", "Queue", "400", "Uniqueid", "600.1", "Position", "1")
	ev("11:00:00", "Event", "QueueCallerJoin", "Queue", "400", "Uniqueid", "700.1", "CallerIDNum", "0633", "Position", "2")
	ev("11:00:30", "Event", "QueueCallerLeave", "Queue", "400", "Uniqueid", "700.1", "Position", "1")
	ev("12:00:00", "Event", "QueueMemberPause", "Queue", "400", "MemberName", "PJSIP/201", "Interface", "PJSIP/201", "Paused", "1", "PausedReason", "lunch")
	ev("13:00:00", "Event", "QueueMemberPause", "Queue", "400", "MemberName", "PJSIP/201", "Interface", "PJSIP/201", "Paused", "0", "PausedReason", "")
	ev("18:00:00", "Event", "QueueMemberRemoved", "Queue", "400", "MemberName", "PJSIP/201", "Interface", "PJSIP/201")
	// An event of another kind, or without a queue, is not recorded.
	ev("18:00:01", "Event", "Newchannel", "Uniqueid", "1")
	ev("18:00:02", "Event", "QueueCallerJoin", "Uniqueid", "800.1")

	src := report.QueueLogSource{Log: s}
	var calls []report.QueueCall
	day := at("00:00:00")
	if err := src.QueueCalls(ctx, day, day.AddDate(0, 0, 1), func(c *report.QueueCall) error { calls = append(calls, *c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Fatalf("%+v", calls)
	}
	a := calls[0]
	if a.CallID != "500.1" || a.Outcome != report.OutcomeAnswered || a.Agent != "201" || a.Wait != 6 || a.Talk != 60 ||
		a.CallerNum != "0611" || a.CallerName != "ACME" || !a.Entered.Equal(at("09:00:00")) || len(a.Attempts) != 2 ||
		a.Attempts[0].Agent != "202" || a.Attempts[0].Result != report.AttemptNoAnswer || a.Attempts[0].Ring != 5 ||
		!a.Attempts[0].Start.Equal(at("09:00:00").Add(500*time.Millisecond)) || a.Attempts[1].Result != report.AttemptAnswered {
		t.Fatalf("answered: %+v", a)
	}
	if b := calls[1]; b.Outcome != report.OutcomeAbandoned || b.Wait != 9 || b.CallerName != "" {
		t.Fatalf("abandoned: %+v", b)
	}
	if c := calls[2]; c.Outcome != report.OutcomeExit || c.Wait != 30 || c.Position != 2 {
		t.Fatalf("left: %+v", c)
	}
	var evs []string
	src.AgentEvents(ctx, day, day.AddDate(0, 0, 1), func(e *report.AgentEvent) error {
		evs = append(evs, e.Time.In(rome).Format("15:04")+" "+e.Agent+" "+e.Queue+" "+e.Event+" "+e.Reason)
		return nil
	})
	want := []string{"08:00 201 400 login ", "12:00 201 400 pause lunch", "13:00 201 400 unpause ", "18:00 201 400 logout "}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("%q", evs)
	}
}

// legsOnly hides the Store's SummaryLegs.
type legsOnly struct{ s *Store }

func (l legsOnly) Legs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	return l.s.Legs(ctx, from, to, fn)
}

// TestSummaryLegsExportAsLegs: a CDR export without legs reads the summary
// columns only, and writes the same file as from every column.
func TestSummaryLegsExportAsLegs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetLocation(rome)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	fillLegs(t, s, day, 3000, 3)
	var got [2][]byte
	for i, src := range []report.CDRSource{s, legsOnly{s}} {
		dir := &report.Dir{Path: t.TempDir()}
		st, files, err := report.Export(ctx, report.Request{Data: report.CDRData, Format: report.CSV, From: day, To: day.AddDate(0, 0, 1),
			Location: rome, Stem: "cdr"}, report.Sources{CDR: src}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Rows != 1000 || len(files) != 1 {
			t.Fatalf("%d rows in %d files", st.Rows, len(files))
		}
		if got[i], err = os.ReadFile(files[0].Path); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got[0], got[1]) {
		t.Fatalf("summary legs export:\n%.600s\nfull legs export:\n%.600s", got[0], got[1])
	}
}
