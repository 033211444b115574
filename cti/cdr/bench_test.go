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
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		local := day.Add(time.Duration(i) * 4 * time.Second).Format(localLayout)
		uid, src, dst := fmt.Sprintf("1772409600.%d", i), fmt.Sprintf("06%08d", i), fmt.Sprintf("2%02d", i%100)
		if _, err := tx.ExecContext(ctx, `INSERT INTO cdr_leg(call_start, id, callkey, uniqueid, linkedid, sequence, time, start_local, clid, src, dst, dcontext,
			channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, accountcode, userfield, cnum, cnam, recordingfile)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			local, uid+"/"+fmt.Sprint(i), uid, uid, uid, i, day.Unix()+int64(i)*4, local, `"Caller `+src+`" <`+src+`>`, src, dst,
			"from-trunk", fmt.Sprintf("PJSIP/trunk-%08x", i), fmt.Sprintf("PJSIP/%s-%08x", dst, i+1), "Dial", "PJSIP/"+dst+",30,tT",
			60+i%240, 50+i%200, "ANSWERED", "", "", src, "Caller "+src, ""); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
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
