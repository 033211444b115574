// Command history measures the CTI's call history read from the PBX's CDR
// database (report/pbxdb on a private MariaDB with FreePBX's cdr table)
// against the same query on the CTI's own history file (cti/cdr, SQLite),
// holding the same calls. It prints one line per query form:
//
//	bench cti-history query=user-day legs=... count=... ms=... baseline=local-sqlite baseline_ms=... ratio=... load1=...
//
// ms is the median of 7 runs of the whole query (count and page), as the
// history endpoints run it. The calls are one-leg calls spread over ten
// days, inbound from a trunk to 100 extensions.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/cdr"
	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
	"github.com/switchboard-pbx/switchboard/report/pbxdb"
)

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

const days = 10

type call struct {
	start            time.Time
	uid, src, dst    string
	ch, dstch        string
	dur, bill        int
	disp             string
	clid, cnum, cnam string
}

func calls(n int) []call {
	out := make([]call, n)
	step := float64(days*86400) / float64(n)
	for i := range out {
		t := day0.Add(time.Duration(float64(i) * step * float64(time.Second)))
		src, dst := fmt.Sprintf("06%08d", i), fmt.Sprintf("2%02d", i%100)
		disp := "ANSWERED"
		if i%7 == 0 {
			disp = "NO ANSWER"
		}
		out[i] = call{t, fmt.Sprintf("1772409600.%d", i), src, dst, fmt.Sprintf("PJSIP/trunk-%08x", i),
			fmt.Sprintf("PJSIP/%s-%08x", dst, i+1), 60 + i%240, 50 + i%200, disp, `"Caller ` + src + `" <` + src + `>`, src, "Caller " + src}
	}
	return out
}

func main() {
	n := flag.Int("legs", 10000, "CDR legs (one-leg calls over ten days)")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench history:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	ctx := context.Background()
	srv, stop, err := mariadbtest.StartProgram()
	if err != nil {
		return err
	}
	defer stop()
	raw, err := srv.CreateDatabase("asteriskcdrdb")
	if err != nil {
		return err
	}
	defer raw.Close()
	if _, err := raw.Exec(mariadbtest.CDRSchema); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sb-bench-history-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, cdr.FileName)
	cs := calls(n)
	if err := fillMariaDB(raw, cs); err != nil {
		return err
	}
	if err := fillSQLite(path, cs); err != nil {
		return err
	}
	pdb, err := pbxdb.Open(pbxdb.Config{DSN: srv.DSN("asteriskcdrdb"), Location: time.UTC})
	if err != nil {
		return err
	}
	defer pdb.Close()
	local, err := cdr.Open(ctx, path)
	if err != nil {
		return err
	}
	defer local.Close()
	local.SetLocation(time.UTC)

	d := day0.AddDate(0, 0, 4)
	oneDay := cdr.Query{From: d, To: d.AddDate(0, 0, 1), Limit: 100, Trunks: []string{"trunk"}}
	forms := []struct {
		name string
		q    cdr.Query
	}{
		{"user-day", with(oneDay, func(q *cdr.Query) { q.Extensions = []string{"205", "9205"} })},
		{"user-day-lost", with(oneDay, func(q *cdr.Query) { q.Extensions = []string{"205"}; q.Direction = "lost" })},
		{"user-10days-filter", with(oneDay, func(q *cdr.Query) {
			q.From, q.To, q.Extensions, q.Filter = day0, day0.AddDate(0, 0, days), []string{"205"}, "Caller 0600"
		})},
		{"switchboard-day", oneDay},
		{"switchboard-day-page100", with(oneDay, func(q *cdr.Query) { q.Offset = 9900 })},
		{"switchboard-day-by-duration", with(oneDay, func(q *cdr.Query) { q.Sort = "duration desc" })},
	}
	for _, f := range forms {
		ms, count, err := measure(ctx, pdb, f.q)
		if err != nil {
			return fmt.Errorf("%s pbx: %w", f.name, err)
		}
		bms, bcount, err := measure(ctx, local, f.q)
		if err != nil {
			return fmt.Errorf("%s local: %w", f.name, err)
		}
		if bcount != count {
			return fmt.Errorf("%s: the PBX counts %d calls, the local history %d", f.name, count, bcount)
		}
		fmt.Printf("bench cti-history query=%s legs=%d count=%d ms=%.1f baseline=local-sqlite baseline_ms=%.1f ratio=%.2f load1=%s\n",
			f.name, n, count, ms, bms, ms/bms, load1())
	}
	return nil
}

func with(q cdr.Query, f func(*cdr.Query)) cdr.Query { f(&q); return q }

type source interface {
	CallHistory(ctx context.Context, q cdr.Query) (int, []cdr.Row, error)
}

// measure runs q once to warm up, then 7 times, and returns the median.
func measure(ctx context.Context, s source, q cdr.Query) (float64, int, error) {
	n, _, err := s.CallHistory(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	var ms []float64
	for i := 0; i < 7; i++ {
		t := time.Now()
		if _, _, err := s.CallHistory(ctx, q); err != nil {
			return 0, 0, err
		}
		ms = append(ms, float64(time.Since(t).Microseconds())/1000)
	}
	sort.Float64s(ms)
	return ms[len(ms)/2], n, nil
}

func fillMariaDB(db *sql.DB, cs []call) error {
	const batch = 1000
	for i := 0; i < len(cs); i += batch {
		var sb strings.Builder
		var args []any
		sb.WriteString(`INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, duration, billsec,
			disposition, amaflags, uniqueid, cnum, cnam, linkedid, sequence) VALUES `)
		for j := i; j < i+batch && j < len(cs); j++ {
			c := cs[j]
			if j > i {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,'from-trunk',?,?,'Dial',?,?,?,3,?,?,?,?,?)")
			args = append(args, c.start.Format("2006-01-02 15:04:05"), c.clid, c.src, c.dst, c.ch, c.dstch, c.dur, c.bill, c.disp,
				c.uid, c.cnum, c.cnam, c.uid, j)
		}
		if _, err := db.Exec(sb.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// fillSQLite writes the same calls into the CTI's history file as its Add
// would, in one transaction.
func fillSQLite(path string, cs []call) error {
	s, err := cdr.Open(context.Background(), path)
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
	defer tx.Rollback() // after Commit a no-op
	st, err := tx.Prepare(`INSERT INTO cdr_leg(call_start, id, callkey, uniqueid, linkedid, sequence, time, start_local, clid, src, dst, dcontext,
		channel, dstchannel, lastapp, lastdata, duration, billsec, disposition, accountcode, userfield, cnum, cnam, recordingfile)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for j, c := range cs {
		local := c.start.Format("2006-01-02 15:04:05")
		if _, err := st.Exec(local, fmt.Sprintf("%s/%d", c.uid, j), c.uid, c.uid, c.uid, j, c.start.Unix(), local, c.clid, c.src, c.dst,
			"from-trunk", c.ch, c.dstch, "Dial", "", c.dur, c.bill, c.disp, "", "", c.cnum, c.cnam, ""); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func load1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
