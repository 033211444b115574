// Command phonebook measures the phonebook. It prints:
//
//	bench phonebook-import rows=10000 seconds=... load=...
//	bench phonebook-search contacts=10000 ratio=... ours_p50_us=... ours_p99_us=... baseline_p50_us=... baseline_p99_us=... queries=... baseline=mariadb load=...
//	bench phonebook-render contacts=10000 ms=... bytes=... load=...
//
// phonebook-import: one CSV file of 10,000 contacts imported in one
// transaction (audit row per contact).
//
// phonebook-search: what a CTI client's search costs, end to end over HTTP on
// loopback (GET /webrest/phonebook/search/<term>?offset=0&limit=10&view=all,
// JSON answer), against the baseline of nethcti-server's own storage: the same
// contacts in a real MariaDB's cti_phonebook table and nethcti's two queries
// per search (the page with LIKE '%term%' on name, company, the numbers and
// notes, ORDER BY company, name, and the COUNT), over TCP with
// go-sql-driver/mysql. Queries alternate between the two, over a set of terms
// (names, companies, number fragments, misses). ratio is baseline p50 / ours
// p50 (above 1: ours is faster). Without mariadbd (Debian mariadb-server,
// which .ci/run installs) the baseline is reported as missing.
//
// phonebook-render: the time to render one tenant's directory files for every
// vendor from 10,000 public contacts.
//
// All traffic stays on 127.0.0.1 (MariaDB on its own loopback address).
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/switchboard-pbx/switchboard/internal/mariadbtest"
	"github.com/switchboard-pbx/switchboard/phonebook"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"

	"github.com/switchboard-pbx/switchboard/bench/internal/procstat"
)

var (
	contacts = flag.Int("contacts", 10000, "contacts in the tenant")
	queries  = flag.Int("queries", 2000, "searches per side")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench phonebook:", err)
		os.Exit(1)
	}
}

var (
	firstNames = []string{"Mario", "Anna", "Luca", "Giulia", "Marco", "Sara", "Paolo", "Elena", "Andrea", "Chiara", "Davide", "Francesca"}
	lastNames  = []string{"Rossi", "Bianchi", "Verdi", "Russo", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno"}
	companies  = []string{"ACME", "Beta srl", "Gamma spa", "Delta", "Epsilon Tech", "Zeta Logistica", "Eta Servizi", "Theta"}
)

// row is one generated contact.
type row struct{ name, company, work, mobile, ext, notes string }

func rows(n int) []row {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]row, n)
	for i := range out {
		out[i] = row{
			name:    firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))] + fmt.Sprintf(" %d", i),
			company: companies[r.IntN(len(companies))],
			work:    fmt.Sprintf("0721 %06d", r.IntN(1000000)),
			mobile:  fmt.Sprintf("+39 3%02d %07d", r.IntN(100), r.IntN(10000000)),
			ext:     fmt.Sprintf("%d", 200+i%800),
			notes:   "cliente dal " + fmt.Sprint(1990+r.IntN(35)),
		}
	}
	return out
}

var terms = []string{"rossi", "mario", "acme", "beta", "0721 12", "333", "tech", "giulia ver", "nobody-at-all", "2019", "zeta", "ric"}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sb-bench-phonebook-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, store.DefaultConfig(dir))
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	pcfg := provision.DefaultConfig()
	pcfg.BaseURL, pcfg.UnknownBurst, pcfg.UnknownInterval, pcfg.InterfacePoll = "http://127.0.0.1", 5, time.Minute, time.Minute
	prov, err := provision.New(st, provision.DefaultTenancyConfig(), pcfg, log)
	if err != nil {
		return err
	}
	ten, err := prov.EnsureDefaultTenant(ctx)
	if err != nil {
		return err
	}
	cfg := phonebook.DefaultConfig()
	pb, err := phonebook.New(ctx, cfg, log, st, prov)
	if err != nil {
		return err
	}
	data := rows(*contacts)

	// Import.
	var csv bytes.Buffer
	csv.WriteString("name;company;workphone;cellphone;extension;notes\n")
	for _, r := range data {
		fmt.Fprintf(&csv, "%s;%s;%s;%s;%s;%s\n", r.name, r.company, r.work, r.mobile, r.ext, r.notes)
	}
	start := time.Now()
	res, err := pb.Import(ctx, store.Actor{User: "bench", IP: "127.0.0.1"}, ten.ID, csv.Bytes())
	if err != nil {
		return err
	}
	fmt.Printf("bench phonebook-import rows=%d seconds=%.2f load=%s\n", res.Created, time.Since(start).Seconds(), procstat.LoadAvg())

	// Ours: the CTI endpoint over HTTP, the user given by a header (the
	// CTI's token check is measured by bench cti).
	mux := http.NewServeMux()
	err = pb.MountCTI(func(pattern string, h phonebook.UserHandler) error {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r, phonebook.User{Username: r.Header.Get("X-User"), IP: "127.0.0.1"}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	ours := func(term string) (time.Duration, int, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/webrest/phonebook/search/"+url.PathEscape(term)+"?offset=0&limit=10&view=all", nil)
		req.Header.Set("X-User", "bench")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		var out struct {
			Count int `json:"count"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		return time.Since(t0), out.Count, err
	}

	// The baseline: nethcti's queries on a real MariaDB.
	var baseline func(term string) (time.Duration, int, error)
	baseErr := ""
	mdb, stopDB, err := mariadbtest.StartProgram()
	if err != nil {
		baseErr = err.Error()
	} else {
		defer stopDB()
		db, err := mdb.CreateDatabase("nethcti3")
		if err != nil {
			return err
		}
		defer db.Close()
		if err := loadBaseline(db, data); err != nil {
			return err
		}
		baseline = func(term string) (time.Duration, int, error) { return nethctiSearch(db, term) }
	}

	// Warm up both, then alternate.
	for _, t := range terms {
		if _, _, err := ours(t); err != nil {
			return err
		}
		if baseline != nil {
			if _, _, err := baseline(t); err != nil {
				return err
			}
		}
	}
	var oursD, baseD []time.Duration
	for i := 0; i < *queries; i++ {
		t := terms[i%len(terms)]
		d, n, err := ours(t)
		if err != nil {
			return err
		}
		oursD = append(oursD, d)
		if baseline != nil {
			bd, bn, err := baseline(t)
			if err != nil {
				return err
			}
			// Ours finds what LIKE finds, and a number however it is
			// grouped: never fewer.
			if n < bn {
				return fmt.Errorf("term %q: %d matches here, %d in MariaDB", t, n, bn)
			}
			baseD = append(baseD, bd)
		}
	}
	op50, op99 := pct(oursD, 50), pct(oursD, 99)
	if baseline == nil {
		fmt.Printf("bench phonebook-search contacts=%d ours_p50_us=%d ours_p99_us=%d queries=%d baseline=none (%s) load=%s\n",
			*contacts, op50.Microseconds(), op99.Microseconds(), *queries, baseErr, procstat.LoadAvg())
	} else {
		bp50, bp99 := pct(baseD, 50), pct(baseD, 99)
		fmt.Printf("bench phonebook-search contacts=%d ratio=%.2f ours_p50_us=%d ours_p99_us=%d baseline_p50_us=%d baseline_p99_us=%d queries=%d baseline=mariadb load=%s\n",
			*contacts, float64(bp50)/float64(op50), op50.Microseconds(), op99.Microseconds(), bp50.Microseconds(), bp99.Microseconds(), *queries, procstat.LoadAvg())
	}

	// Rendering the phones' files: from the moment the index has the
	// contacts to the files being installed.
	bodySize := 0
	start = time.Now()
	pbCtx, cancel := context.WithCancel(ctx)
	go pb.Serve(pbCtx)
	for {
		if f := pb.DirFile(ten.ID, phonebook.FileYealink); f != nil && f.Size > 1000 {
			for _, n := range pb.FileNames(ten.ID) {
				bodySize += pb.DirFile(ten.ID, n).Size
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	fmt.Printf("bench phonebook-render contacts=%d ms=%d bytes=%d load=%s\n", *contacts, time.Since(start).Milliseconds(), bodySize, procstat.LoadAvg())
	return nil
}

// loadBaseline creates nethcti's cti_phonebook table (its columns, utf8
// general collation as NethVoice's database has) and the same contacts.
func loadBaseline(db *sql.DB, data []row) error {
	cols := []string{"owner_id", "type", "homeemail", "workemail", "homephone", "workphone", "cellphone", "fax", "title",
		"company", "notes", "name", "homestreet", "homepob", "homecity", "homeprovince", "homepostalcode", "homecountry",
		"workstreet", "workpob", "workcity", "workprovince", "workpostalcode", "workcountry", "url", "extension", "speeddial_num"}
	var ddl strings.Builder
	ddl.WriteString("CREATE TABLE cti_phonebook (id INT AUTO_INCREMENT PRIMARY KEY")
	for _, c := range cols {
		size := 255
		if c == "notes" {
			size = 1024
		}
		fmt.Fprintf(&ddl, ", `%s` VARCHAR(%d) DEFAULT NULL", c, size)
	}
	ddl.WriteString(", KEY owner_idx (owner_id)) DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci")
	if _, err := db.Exec(ddl.String()); err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	stmt, err := tx.Prepare("INSERT INTO cti_phonebook (owner_id, type, name, company, workphone, cellphone, extension, notes) VALUES ('admin','public',?,?,?,?,?,?)")
	if err != nil {
		return err
	}
	for _, r := range data {
		if _, err := stmt.Exec(r.name, r.company, r.work, r.mobile, r.ext, r.notes); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// nethctiSearch is nethcti-server's search (dbconn_phonebook
// getAllContactsContains, view "all", on cti_phonebook): the page and the
// count, as two queries.
func nethctiSearch(db *sql.DB, term string) (time.Duration, int, error) {
	like := "%" + term + "%"
	where := `(owner_id=? OR type="public") AND (name LIKE ? OR company LIKE ? OR workphone LIKE ? OR homephone LIKE ? OR cellphone LIKE ? OR extension LIKE ? OR notes LIKE ?) AND (type != 'speeddial')`
	args := []any{"bench", like, like, like, like, like, like, like}
	t0 := time.Now()
	rows, err := db.Query(`SELECT id, owner_id, type, homeemail, workemail, homephone, workphone, cellphone, fax, title, company, notes, name, homestreet, homepob, homecity, homeprovince, homepostalcode, homecountry, workstreet, workpob, workcity, workprovince, workpostalcode, workcountry, url, extension, speeddial_num, 'cti' AS source FROM cti_phonebook WHERE `+where+` ORDER BY company ASC, name ASC LIMIT 0,10`, args...)
	if err != nil {
		return 0, 0, err
	}
	cols, _ := rows.Columns()
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return 0, 0, err
		}
	}
	rows.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM cti_phonebook WHERE `+where, args...).Scan(&n); err != nil {
		return 0, 0, err
	}
	return time.Since(t0), n, nil
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}
