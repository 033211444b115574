package cdr

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/report"
)

// BenchmarkExport exports 20,000 one-leg calls from a history file, per
// format, the path of a scheduled CDR export (bench/export runs it on a
// million): "go test -bench Export -cpuprofile" shows where the time goes.
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.SetLocation(rome)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, rome)
	const n = 20000
	fillLegs(b, s, day, n, 1)
	for _, f := range []report.Format{report.CSV, report.XLSX} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				st, _, err := report.Export(ctx, report.Request{Data: report.CDRData, Format: f, From: day, To: day.AddDate(0, 0, 1),
					Location: rome, Stem: "cdr"}, report.Sources{CDR: s}, &report.Dir{Path: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				if st.Rows != n {
					b.Fatalf("%d rows, want %d", st.Rows, n)
				}
			}
			// On a shared machine the CPU time says more than the wall time.
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/n, "cpu-ns/row")
		})
	}
}

// cpuTime is the process's CPU time (user + system) in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// fillLegs writes n legs of calls of legsPerCall legs each, 4 s apart from
// day on, straight into the table (the way bench/export fills it); the
// answering peer (dstchannel) is not the dialled number (dst).
func fillLegs(tb testing.TB, s *Store, day time.Time, n, legsPerCall int) {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback() // after Commit a no-op
	for i := 0; i < n; i++ {
		first := i - i%legsPerCall
		call := day.Add(time.Duration(first) * 4 * time.Second).Format(localLayout)
		local := day.Add(time.Duration(i) * 4 * time.Second).Format(localLayout)
		uid, key := fmt.Sprintf("1772409600.%d", i), fmt.Sprintf("1772409600.%d", first)
		src, dst := fmt.Sprintf("06%08d", i), fmt.Sprintf("2%02d", i%100)
		disp := []string{"ANSWERED", "NO ANSWER", "BUSY", "ANSWERED", "FAILED"}[i%5]
		if _, err := tx.ExecContext(ctx, `INSERT INTO cdr_leg(call_start, id, callkey, uniqueid, linkedid, sequence, time, start_local, clid, src, dst, dcontext,
			channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, accountcode, userfield, cnum, cnam, recordingfile)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			call, uid+"/"+fmt.Sprint(i), key, uid, key, i, day.Unix()+int64(i)*4, local, `"Caller, `+src+`" <`+src+`>`, src, dst,
			"from-trunk", fmt.Sprintf("PJSIP/trunk-%08x", i), fmt.Sprintf("PJSIP/3%02d-%08x", i%7, i+1), "Dial", "PJSIP/"+dst+",30,tT",
			60+i%240, 50+i%200, disp, fmt.Sprint("acct", i%3), "uf", src, "Caller "+src, ""); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}
