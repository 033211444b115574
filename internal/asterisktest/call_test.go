package asterisktest

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
)

// Two SIPp phones register; A calls B, B answers and hangs up after 2 s. The
// call's Cdr event (with LinkedID and Sequence from cdr_manager's mappings)
// is the same call as Master.csv's line and, once loaded, MariaDB's row.
func TestCallCDRMatchesMasterCSVAndMariaDB(t *testing.T) {
	t.Parallel()
	p := Shared(t)
	a := p.AMI(t)
	ea, eb := p.FreeExt(t), p.FreeExt(t)
	callee := p.Register(t, eb.Number, PhoneOptions{AnswerAfter: 300 * time.Millisecond, HangupAfter: 2 * time.Second})
	caller := p.Register(t, ea.Number, PhoneOptions{})

	began := time.Now()
	c := caller.Dial(t, eb.Number, CallOptions{})
	in := callee.WaitCall(t, wait)
	c.WaitAnswered(t, wait)
	if how := in.WaitEnded(t, wait); how != "bye-sent" {
		t.Errorf("callee's call ended by %s, want bye-sent", how)
	}
	if how := c.WaitEnded(t, wait); how != "bye-received" {
		t.Errorf("caller's call ended by %s, want bye-received", how)
	}
	took := time.Since(began)

	chA := "PJSIP/" + ea.Number + "-"
	cdr := a.Wait(t, wait, func(m Msg) bool {
		return m.Get("Event") == "Cdr" && m.Get("Source") == ea.Number && m.Get("Destination") == eb.Number
	})
	if cdr.Get("LinkedID") == "" || cdr.Get("Sequence") == "" {
		t.Fatalf("Cdr without the LinkedID/Sequence mappings:\n%s", cdr)
	}
	if cdr.Get("Disposition") != "ANSWERED" || cdr.Get("LastApplication") != "Dial" || cdr.Get("DestinationContext") != "from-internal" ||
		cdr.Get("UniqueID") != cdr.Get("LinkedID") || cdr.Get("Channel")[:len(chA)] != chA {
		t.Errorf("Cdr:\n%s", cdr)
	}
	var bill int
	fmt.Sscan(cdr.Get("BillableSeconds"), &bill)
	if bill < 1 || bill > int(took.Seconds())+1 {
		t.Errorf("billsec %d for a ~2 s call (whole call took %v)", bill, took)
	}

	// cdr_csv wrote the same CDR.
	var row *mariadbtest.CDR
	deadline := time.Now().Add(wait)
	for row == nil {
		rows, err := mariadbtest.ReadMasterCSV(p.MasterCSV(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if rows[i].UniqueID == cdr.Get("UniqueID") && fmt.Sprint(rows[i].Sequence) == cdr.Get("Sequence") {
				row = &rows[i]
			}
		}
		if row == nil && time.Now().After(deadline) {
			t.Fatalf("no Master.csv line for %s", cdr.Get("UniqueID"))
		}
		if row == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if row.LinkedID != cdr.Get("LinkedID") || fmt.Sprint(row.BillSec) != cdr.Get("BillableSeconds") || fmt.Sprint(row.Duration) != cdr.Get("Duration") ||
		row.Disposition != cdr.Get("Disposition") || row.DstChannel != cdr.Get("DestinationChannel") ||
		row.CallDate.Format(time.DateTime) != cdr.Get("StartTime") {
		t.Errorf("Master.csv %+v\nvs Cdr event\n%s", *row, cdr)
	}

	// And after loading, MariaDB holds it as asteriskcdrdb.cdr does.
	srv := mariadbtest.Shared(t)
	db := srv.DB(t, srv.NewCDRDB(t))
	mariadbtest.LoadMasterCSV(t, db, p.MasterCSV(), time.UTC)
	var src, dst, disp, linked, cnum, calldate string
	var billsec, seq int
	err := db.QueryRow("SELECT src, dst, disposition, billsec, linkedid, sequence, cnum, calldate FROM cdr WHERE uniqueid = ? AND sequence = ?",
		cdr.Get("UniqueID"), cdr.Get("Sequence")).Scan(&src, &dst, &disp, &billsec, &linked, &seq, &cnum, &calldate)
	if err != nil {
		t.Fatal(err)
	}
	if src != ea.Number || dst != eb.Number || disp != "ANSWERED" || fmt.Sprint(billsec) != cdr.Get("BillableSeconds") ||
		linked != cdr.Get("LinkedID") || cnum != ea.Number || calldate != cdr.Get("StartTime") {
		t.Errorf("MariaDB row: %s %s %s %d %s %d %s %s\nvs\n%s", src, dst, disp, billsec, linked, seq, cnum, calldate, cdr)
	}
}
