package pbxdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
)

// historyQueries are the forms the CTI's clients send (see cti/history.go),
// over the calls both sources hold.
func historyQueries() map[string]cdr.Query {
	d2 := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	d3 := d2.AddDate(0, 0, 1)
	day := func(q cdr.Query) cdr.Query {
		if q.From.IsZero() {
			q.From, q.To = d2, d3
		}
		if q.Limit == 0 {
			q.Limit = 100
		}
		q.Trunks = []string{"trunk"}
		return q
	}
	two := cdr.Query{From: d2, To: d3.AddDate(0, 0, 1)}
	return map[string]cdr.Query{
		"switchboard, one day":   day(cdr.Query{}),
		"switchboard, two days":  day(two),
		"switchboard, page 2":    day(cdr.Query{From: two.From, To: two.To, Limit: 3, Offset: 3}),
		"switchboard, past end":  day(cdr.Query{Limit: 3, Offset: 30}),
		"switchboard, type in":   day(cdr.Query{Type: "in"}),
		"switchboard, internal":  day(cdr.Query{Type: "internal"}),
		"switchboard, no lost":   day(cdr.Query{RemoveLost: true}),
		"switchboard, by dur":    day(cdr.Query{Sort: "duration asc"}),
		"switchboard, by bill":   day(cdr.Query{Sort: "billsec desc"}),
		"switchboard, by src":    day(cdr.Query{Sort: "src"}),
		"switchboard, filter":    day(cdr.Query{Filter: "Mario"}),
		"switchboard, filter %":  day(cdr.Query{Filter: "%"}),
		"switchboard, filter _":  day(cdr.Query{Filter: "0_12"}),
		"switchboard, filter '":  day(cdr.Query{Filter: `' OR 1=1 -- \`}),
		"user 201":               day(cdr.Query{Extensions: []string{"201", "9201"}}),
		"user 201, in":           day(cdr.Query{Extensions: []string{"201"}, Direction: "in"}),
		"user 201, out":          day(cdr.Query{Extensions: []string{"201"}, Direction: "out"}),
		"user 201, lost":         day(cdr.Query{Extensions: []string{"201"}, Direction: "lost"}),
		"user 201, out, 2 days":  day(cdr.Query{From: two.From, To: two.To, Extensions: []string{"201"}, Direction: "out"}),
		"user 202":               day(cdr.Query{Extensions: []string{"202"}}),
		"user 202, page":         day(cdr.Query{Extensions: []string{"202"}, Limit: 1, Offset: 1}),
		"group 202 203":          day(cdr.Query{Extensions: []string{"202", "203"}, Sort: "time asc"}),
		"user 207, midnight":     day(cdr.Query{Extensions: []string{"207"}}),
		"user 207, next day":     day(cdr.Query{From: d3, To: d3.AddDate(0, 0, 1), Extensions: []string{"207"}}),
		"user 205, parked":       day(cdr.Query{Extensions: []string{"205"}}),
		"user 201, filter, sort": day(cdr.Query{Extensions: []string{"201"}, Filter: "Ada", Sort: "cnum desc"}),
	}
}

// TestSameHistoryFromMariaDBAndAMI: the PBX's cdr table answers every form
// of the CTI's history query with exactly the rows, fields, count and order
// the CDRs the CTI kept from AMI give.
func TestSameHistoryFromMariaDBAndAMI(t *testing.T) {
	db, ami, _ := sources(t)
	ctx := context.Background()
	for name, q := range historyQueries() {
		t.Run(name, func(t *testing.T) {
			n1, r1, err1 := ami.Query(ctx, q)
			n2, r2, err2 := db.CallHistory(ctx, q)
			if err1 != nil || err2 != nil {
				t.Fatalf("ami: %v; pbx: %v", err1, err2)
			}
			j1, _ := json.Marshal(r1)
			j2, _ := json.Marshal(r2)
			if n1 != n2 || string(j1) != string(j2) {
				t.Fatalf("ami: %d %s\npbx: %d %s", n1, j1, n2, j2)
			}
			if q.Offset < n1 && len(r1) == 0 {
				t.Fatalf("no rows for a page inside the count")
			}
		})
	}
}

// TestHistoryRows checks what the PBX's rows say, not only that they agree
// with the CTI's own.
func TestHistoryRows(t *testing.T) {
	db, _, raw := sources(t)
	ctx := context.Background()
	d2 := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	q := cdr.Query{From: d2, To: d2.AddDate(0, 0, 1), Limit: 100, Trunks: []string{"trunk"}, Extensions: []string{"201"}}
	n, rows, err := db.CallHistory(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// 09:00 to 202; the transferred call (one uniqueid, two answered legs,
	// merged); 12:30 lost from outside; 13:00 busy.
	if n != 4 || len(rows) != 4 {
		t.Fatalf("%d: %+v", n, rows)
	}
	busy, lost, transfer, first := rows[0], rows[1], rows[2], rows[3]
	if first.Uniqueid != "1772438400.1" || first.Time != time.Date(2026, 3, 2, 9, 0, 0, 0, rome).Unix() || first.Direction != "out" ||
		first.Cnum != "201" || first.Cnam != "Ada" || first.Dst != "202" || first.Billsec != 4 || first.Type != "internal" {
		t.Errorf("first: %+v", first)
	}
	if transfer.Uniqueid != "1772442000.3" || transfer.Duration != 64 || transfer.Billsec != 60 || transfer.Dst != "203" {
		t.Errorf("transfer: %+v", transfer)
	}
	if lost.Disposition != "NO ANSWER" || lost.Direction != "in" || lost.Type != "in" || lost.Cnam != `Rossi, ""Mario"" & C.` || lost.Cnum != "0612345678" {
		t.Errorf("lost: %+v", lost)
	}
	if busy.Disposition != "BUSY" || busy.Dst != "206" {
		t.Errorf("busy: %+v", busy)
	}
	// Fields only the PBX has: the dialled party's name and the recording.
	if _, err := raw.Exec(`UPDATE cdr SET dst_cnam = 'Bob', recordingfile = 'out-202-201.wav' WHERE uniqueid = '1772438400.1'`); err != nil {
		t.Fatal(err)
	}
	q.Sort, q.Limit = "time asc", 1
	if _, rows, err := db.CallHistory(ctx, q); err != nil || rows[0].DstCnam != "Bob" || rows[0].Recordingfile != "out-202-201.wav" {
		t.Fatalf("%v %+v", err, rows)
	}
}

// TestHistoryRefusals: the PBX source refuses what the CTI's own refuses,
// with the same *cdr.QueryError, before touching the database.
func TestHistoryRefusals(t *testing.T) {
	db, err := Open(Config{DSN: "reader:pw@tcp(127.0.0.1:1)/asteriskcdrdb"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		q     cdr.Query
		field string
	}{
		"empty range":          {cdr.Query{From: day, To: day, Limit: 1}, "from"},
		"no limit":             {cdr.Query{From: day, To: day.AddDate(0, 0, 1)}, "limit"},
		"bad direction":        {cdr.Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Extensions: []string{"1"}, Direction: "up"}, "direction"},
		"direction, no extens": {cdr.Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Direction: "in"}, "direction"},
		"bad type":             {cdr.Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Type: "x"}, "type"},
		"sort injection":       {cdr.Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Sort: "time; DROP TABLE cdr"}, "sort"},
		"sort direction":       {cdr.Query{From: day, To: day.AddDate(0, 0, 1), Limit: 1, Sort: "time sideways"}, "sort"},
	} {
		_, _, err := db.CallHistory(context.Background(), c.q)
		var qe *cdr.QueryError
		if !errors.As(err, &qe) || qe.Field != c.field {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestHistoryPlainAsteriskTable: a cdr table as Asterisk's cdr_mysql makes
// it (no cnum, cnam, dst_cnam, recordingfile) is read too: the caller's
// number and name come from clid.
func TestHistoryPlainAsteriskTable(t *testing.T) {
	srv := mariadbtest.Shared(t)
	name := srv.NewCDRDB(t)
	raw := srv.DB(t, name)
	if _, err := raw.Exec("ALTER TABLE cdr DROP COLUMN cnum, DROP COLUMN cnam, DROP COLUMN dst_cnam, DROP COLUMN recordingfile"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO cdr (calldate, clid, src, dst, channel, dstchannel, lastapp, duration, billsec, disposition, uniqueid, linkedid, sequence)
		VALUES ('2026-03-02 10:00:00', '"Ada" <201>', '201', '202', 'PJSIP/201-1', 'PJSIP/202-2', 'Dial', 9, 7, 'ANSWERED', 'u1', 'u1', 1),
		       ('2026-03-02 11:00:00', '203', '203', '202', 'PJSIP/203-3', 'PJSIP/202-4', 'Dial', 5, 0, 'NO ANSWER', 'u2', '', 2)`); err != nil {
		t.Fatal(err)
	}
	db, err := Open(Config{DSN: srv.DSN(name), Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d2 := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	n, rows, err := db.CallHistory(context.Background(), cdr.Query{From: d2, To: d2.AddDate(0, 0, 1), Limit: 10, Extensions: []string{"202"}})
	if err != nil || n != 2 {
		t.Fatalf("%d %v", n, err)
	}
	got := fmt.Sprintf("%s/%s/%s/%s %s/%s/%s/%s", rows[0].Uniqueid, rows[0].Linkedid, rows[0].Cnum, rows[0].Cnam,
		rows[1].Uniqueid, rows[1].Linkedid, rows[1].Cnum, rows[1].Cnam)
	if got != "u2/u2/203/ u1/u1/201/Ada" || rows[0].Direction != "in" {
		t.Fatalf("%s %+v", got, rows)
	}
	// A database without the table says so.
	other, err := Open(Config{DSN: srv.DSN(name), Table: "cdr_missing", Location: rome})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, err := other.CallHistory(context.Background(), cdr.Query{From: d2, To: d2.AddDate(0, 0, 1), Limit: 10}); err == nil {
		t.Fatal("a missing table answered")
	}
}
