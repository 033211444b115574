package cdr

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// cdrEvent is an AMI Cdr event as cdr_manager sends it.
func cdrEvent(uid, src, dst, cid string, start time.Time, dur, bill int, disp string) ami.Message {
	return ami.NewMessage("Event", "Cdr", "Privilege", "cdr,all", "AccountCode", "", "Source", src, "Destination", dst,
		"DestinationContext", "from-internal", "CallerID", cid, "Channel", "PJSIP/"+src+"-00000001",
		"DestinationChannel", "PJSIP/"+dst+"-00000002", "LastApplication", "Dial", "LastData", "PJSIP/"+dst,
		"StartTime", start.Format("2006-01-02 15:04:05"), "AnswerTime", "", "EndTime", "",
		"Duration", strconv.Itoa(dur), "BillableSeconds", strconv.Itoa(bill),
		"Disposition", disp, "AMAFlags", "DOCUMENTATION", "UniqueID", uid, "UserField", "rec-"+uid+".wav")
}

func TestAddAndQuery(t *testing.T) {
	ctx := context.Background()
	path := PathBeside(filepath.Join(t.TempDir(), "switchboard.db"))
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.Local)
	for _, ev := range []ami.Message{
		cdrEvent("1.1", "201", "202", `"Alice" <201>`, day.Add(9*time.Hour), 60, 55, "ANSWERED"),
		cdrEvent("1.2", "0611", "202", `"ACME" <0611>`, day.Add(10*time.Hour), 30, 0, "NO ANSWER"),
		cdrEvent("1.3", "202", "203", `"Bob" <202>`, day.Add(11*time.Hour), 20, 18, "ANSWERED"),
		cdrEvent("1.3", "202", "203", `"Bob" <202>`, day.Add(11*time.Hour), 20, 18, "ANSWERED"), // re-sent
		cdrEvent("1.4", "201", "204", `"Alice" <201>`, day.Add(36*time.Hour), 5, 5, "ANSWERED"), // next day
		cdrEvent("", "201", "204", "", day, 5, 5, "ANSWERED"),                                   // no uniqueid: skipped
		ami.NewMessage("Event", "Cdr", "UniqueID", "1.9", "StartTime", "yesterday"),             // no start: skipped
	} {
		if err := s.Add(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("history file: %v", err)
	}
	oneDay := Query{From: day, To: day.AddDate(0, 0, 1), Limit: 100}
	all := oneDay
	n, rows, err := s.Query(ctx, all)
	if err != nil || n != 3 || len(rows) != 3 || rows[0].Uniqueid != "1.3" || rows[2].Uniqueid != "1.1" {
		t.Fatalf("every call of the day: %d %+v %v", n, rows, err)
	}
	if rows[2].Cnam != "Alice" || rows[2].Cnum != "201" || rows[2].Billsec != 55 || rows[2].Recordingfile != "rec-1.1.wav" ||
		rows[2].Time != day.Add(9*time.Hour).Unix() {
		t.Fatalf("row: %+v", rows[2])
	}
	bob := oneDay
	bob.Extensions = []string{"202"}
	if n, rows, _ := s.Query(ctx, bob); n != 3 || rows[0].Direction != "out" || rows[1].Direction != "in" {
		t.Fatalf("202: %d %+v", n, rows)
	}
	in := bob
	in.Direction, in.Limit, in.Offset = "in", 1, 1
	if n, rows, _ := s.Query(ctx, in); n != 2 || len(rows) != 1 || rows[0].Uniqueid != "1.1" {
		t.Fatalf("202 in, second page: %d %+v", n, rows)
	}
	out := bob
	out.Direction = "out"
	if n, rows, _ := s.Query(ctx, out); n != 1 || rows[0].Dst != "203" {
		t.Fatalf("202 out: %d %+v", n, rows)
	}
	f := oneDay
	f.Filter = "ACM"
	if n, rows, _ := s.Query(ctx, f); n != 1 || rows[0].Disposition != "NO ANSWER" {
		t.Fatalf("filter: %d %+v", n, rows)
	}
	f.Filter = "%" // a LIKE wildcard is taken literally
	if n, _, _ := s.Query(ctx, f); n != 0 {
		t.Fatalf("wildcard matched %d", n)
	}
	two := Query{From: day, To: day.AddDate(0, 0, 2), Limit: 100}
	if n, _, _ := s.Query(ctx, two); n != 4 {
		t.Fatalf("two days: %d", n)
	}

	// A second Store on the same file (an export) reads what the first wrote.
	r, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, _, err := r.Query(ctx, two); n != 4 || err != nil {
		t.Fatalf("second reader: %d %v", n, err)
	}
}

func TestQueryRefusals(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.Local)
	for name, c := range map[string]struct {
		q     Query
		field string
	}{
		"empty range":          {Query{From: day, To: day, Limit: 1}, "from"},
		"no limit":             {Query{From: day, To: day.AddDate(0, 0, 1)}, "limit"},
		"bad direction":        {Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Extensions: []string{"1"}, Direction: "up"}, "direction"},
		"direction, no extens": {Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Direction: "in"}, "direction"},
	} {
		_, _, err := s.Query(ctx, c.q)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != c.field {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFilePrivate (F10): the history file and its WAL and shared-memory files
// are readable by the daemon's user only (they hold who called whom), however
// permissive the umask, and a file left 0644 by an older version is fixed.
func TestFilePrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := PathBeside(filepath.Join(dir, "switchboard.db"))
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s: %s mode %o, want 600", when, filepath.Base(p), m)
			}
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, cdrEvent("1.1", "201", "202", `"Alice" <201>`, time.Now(), 60, 55, "ANSWERED")); err != nil {
		t.Fatal(err)
	}
	check("new file")
	s.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(p, 0o644) // as an older version left them
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Add(ctx, cdrEvent("1.2", "201", "202", `"Alice" <201>`, time.Now(), 60, 55, "ANSWERED")); err != nil {
		t.Fatal(err)
	}
	check("reopened")
}

// A call parked and picked up (or transferred) gives several CDRs with one
// UniqueID and often one destination; every one is kept (by Sequence) and a
// query merges them into the call as nethcti shows it: the longest duration,
// the billable seconds of the answered leg.
func TestLegsKeptAndMerged(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.Local)
	leg := func(seq string, dur, bill int, disp string) ami.Message {
		ev := cdrEvent("9.1", "201", "202", `"Alice" <201>`, day.Add(9*time.Hour), dur, bill, disp)
		ev.Add("LinkedID", "9.1")
		ev.Add("Sequence", seq)
		return ev
	}
	for _, ev := range []ami.Message{leg("10", 4, 4, "ANSWERED"), leg("11", 30, 0, "ANSWERED"), leg("11", 30, 0, "ANSWERED")} {
		if err := s.Add(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.CallLegs(ctx, "9.1"); err != nil || n != 2 {
		t.Fatalf("legs: %d %v", n, err)
	}
	n, rows, err := s.Query(ctx, Query{From: day, To: day.AddDate(0, 0, 1), Limit: 10, Extensions: []string{"201"}})
	if err != nil || n != 1 || rows[0].Duration != 30 || rows[0].Billsec != 4 || rows[0].Linkedid != "9.1" || rows[0].Direction != "out" {
		t.Fatalf("merged call: %d %+v %v", n, rows, err)
	}
}
