// Command export measures the streaming exporter of scheduled tasks on a
// million CDRs. It prints, per format:
//
//	bench export-1m format=xlsx rows=1000000 seconds=... rss_mb=... file_mb=... baseline=... ratio=... load1=...
//
// The CDRs are in the appliance's own call history (cti/cdr, the SQLite file
// the CTI writes from AMI events), one answered call per leg, filled before
// the clock starts. Each export runs in a child process (this binary with
// -child), so that rss_mb is the peak RSS (getrusage maxrss) of the export
// alone and cpu_seconds its CPU time (user + system). Baselines, run in the same process tree and the same conditions: for
// CSV the sqlite3 shell dumping the same rows (sqlite3 -csv; skipped when not
// installed), for XLSX our CSV export (how much the spreadsheet costs over
// plain text). Targets: XLSX <= 60 s, CSV <= 5 s, RSS <= 150 MB in both.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/report"
)

type result struct {
	Seconds float64 `json:"seconds"`
	Rows    int64   `json:"rows"`
	Bytes   int64   `json:"bytes"`
}

func main() {
	child := flag.Bool("child", false, "internal: run one export")
	db := flag.String("db", "", "internal: history file")
	format := flag.String("format", "csv", "internal: format")
	out := flag.String("out", "", "internal: output directory")
	rows := flag.Int("rows", 1000000, "CDRs")
	formats := flag.String("formats", "xlsx,csv", "formats to measure")
	history := flag.String("history", "", "keep the history file at this path and reuse it when it exists (to repeat a measurement without filling it again)")
	flag.Parse()
	if *child {
		if err := runChild(*db, *format, *out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*rows, strings.Split(*formats, ","), *history); err != nil {
		fmt.Fprintln(os.Stderr, "bench export:", err)
		os.Exit(1)
	}
}

var day = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func run(n int, formats []string, history string) error {
	dir, err := os.MkdirTemp("", "sb-bench-export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, cdr.FileName)
	if history != "" {
		path = history
	}
	if _, err := os.Stat(path); history == "" || err != nil {
		if err := fill(path, n); err != nil {
			return err
		}
	}
	measured := map[string]float64{}
	for _, f := range formats {
		var cpu float64
		res, rss, err := spawnCPU(path, f, filepath.Join(dir, "out-"+f), &cpu)
		if err != nil {
			return err
		}
		measured[f] = res.Seconds
		base, baseSec := "none", 0.0
		switch f {
		case "csv":
			if s, err := sqlite3CSV(path, filepath.Join(dir, "baseline.csv")); err == nil {
				base, baseSec = "sqlite3-csv", s
			}
		case "xlsx":
			if _, ok := measured["csv"]; !ok {
				r, _, err := spawn(path, "csv", filepath.Join(dir, "out-csv-base"))
				if err != nil {
					return err
				}
				measured["csv"] = r.Seconds
			}
			base, baseSec = "our-csv", measured["csv"]
		}
		ratio := "n/a"
		if baseSec > 0 {
			ratio = fmt.Sprintf("%.2f", res.Seconds/baseSec)
		}
		fmt.Printf("bench export-1m format=%s rows=%d seconds=%.2f cpu_seconds=%.2f rss_mb=%.0f file_mb=%.1f baseline=%s baseline_seconds=%.2f ratio=%s load1=%s\n",
			f, res.Rows, res.Seconds, cpu, rss, float64(res.Bytes)/(1<<20), base, baseSec, ratio, load1())
	}
	return nil
}

// fill writes n one-leg calls of 2 March into a fresh history file, in one
// transaction (the CTI writes them one event at a time; the bench measures
// the export, not the filling).
func fill(path string, n int) error {
	ctx := context.Background()
	s, err := cdr.Open(ctx, path)
	if err != nil {
		return err
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	st, err := tx.Prepare(`INSERT INTO cdr_leg(call_start, id, callkey, uniqueid, linkedid, sequence, time, start_local, clid, src, dst, dcontext,
		channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, accountcode, userfield, cnum, cnam, recordingfile)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	step := 86400.0 / float64(n)
	for i := 0; i < n; i++ {
		t := day.Add(time.Duration(float64(i) * step * float64(time.Second)))
		uid := fmt.Sprintf("1772409600.%d", i)
		src, dst := fmt.Sprintf("06%08d", i), fmt.Sprintf("2%02d", i%100)
		local := t.Format("2006-01-02 15:04:05")
		if _, err := st.Exec(local, uid+"/"+fmt.Sprint(i), uid, uid, uid, i, t.Unix(), local,
			`"Caller `+src+`" <`+src+`>`, src, dst, "from-trunk", "PJSIP/trunk-"+fmt.Sprintf("%08x", i),
			"PJSIP/"+dst+"-"+fmt.Sprintf("%08x", i+1), "Dial", "PJSIP/"+dst+",30,tT", 60+i%240, 50+i%200, "ANSWERED",
			"", "", src, "Caller "+src, ""); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// spawn runs one export in a child process and returns its result and peak RSS.
func spawn(db, format, out string) (result, float64, error) {
	return spawnCPU(db, format, out, nil)
}

// spawnCPU is spawn that also reports the child's CPU time (user + system):
// on a loaded machine the wall time says more about the neighbours.
func spawnCPU(db, format, out string, cpu *float64) (result, float64, error) {
	var res result
	cmd := exec.Command(os.Args[0], "-child", "-db", db, "-format", format, "-out", out)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return res, 0, fmt.Errorf("%s export: %w", format, err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, 0, fmt.Errorf("%s export: %w: %s", format, err, b)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := 0.0
	if ru != nil {
		rss = float64(ru.Maxrss) / 1024 // KiB on Linux
		if cpu != nil {
			*cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return res, rss, nil
}

func runChild(db, format, out string) error {
	f, err := report.ParseFormat(format)
	if err != nil {
		return err
	}
	if p := os.Getenv("EXPORT_BENCH_CPUPROFILE"); p != "" {
		// Diagnostics: a CPU profile of the export, for "go tool pprof".
		if f, err := os.Create(p + "." + format); err == nil {
			pprof.StartCPUProfile(f) // diagnostics only
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	ctx := context.Background()
	s, err := cdr.Open(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	s.SetLocation(time.UTC)
	start := time.Now()
	st, files, err := report.Export(ctx, report.Request{Data: report.CDRData, Format: f, From: day, To: day.AddDate(0, 0, 1),
		Location: time.UTC, Stem: "cdr-bench"}, report.Sources{CDR: s}, &report.Dir{Path: out})
	if err != nil {
		return err
	}
	res := result{Seconds: time.Since(start).Seconds(), Rows: st.Rows}
	for _, f := range files {
		res.Bytes += f.Size
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// sqlite3CSV times the sqlite3 shell writing the same rows as CSV.
func sqlite3CSV(db, out string) (float64, error) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		return 0, err
	}
	start := time.Now()
	cmd := exec.Command("sqlite3", "-csv", "-header", "-cmd", ".output "+out, db,
		`SELECT callkey, start_local, cnum, cnam, dst, dstchannel, disposition, duration-billsec, billsec, duration, 1, accountcode
		 FROM cdr_leg WHERE call_start >= '2026-03-02 00:00:00' AND call_start < '2026-03-03 00:00:00' ORDER BY call_start, callkey, sequence, id`)
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sqlite3: %v %s", err, b)
	}
	return time.Since(start).Seconds(), nil
}

func load1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
