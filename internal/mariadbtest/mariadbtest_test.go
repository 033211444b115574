package mariadbtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// A real server: the test user logs in over TCP, the FreePBX columns are
// there, a wrong password is refused, and Master.csv / queue_log lines as
// Asterisk 20 writes them load into the tables.
func TestServerAndLoaders(t *testing.T) {
	srv := Shared(t)
	db := srv.DB(t, "asteriskcdrdb")
	var cols []string
	rows, err := db.Query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'asteriskcdrdb' AND table_name = 'cdr' ORDER BY ordinal_position")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c) //nolint:errcheck
		cols = append(cols, c)
	}
	rows.Close()
	want := "calldate clid src dst dcontext channel dstchannel lastapp lastdata duration billsec disposition amaflags accountcode uniqueid userfield did recordingfile cnum cnam outbound_cnum outbound_cnam dst_cnam linkedid peeraccount sequence"
	if got := join(cols); got != want {
		t.Errorf("cdr columns:\n got %s\nwant %s", got, want)
	}

	if _, err := sqlOpenPing(strings.Replace(srv.DSN("asteriskcdrdb"), srv.Password, "wrong", 1)); err == nil {
		t.Error("a wrong password was accepted")
	}

	// A test database of its own, with lines in the exact format of cdr_csv
	// (newcdrcolumns) and queue_log.
	name := srv.NewCDRDB(t)
	db2 := srv.DB(t, name)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "Master.csv")
	os.WriteFile(csvPath, []byte(`"","201","202","from-internal","""Ext 201"" <201>","PJSIP/201-00000000","PJSIP/202-00000001","Dial","PJSIP/202,20,tTkK","2026-12-02 14:00:09","2026-12-02 14:00:09","2026-12-02 14:00:11",2,2,"ANSWERED","DOCUMENTATION","1796220009.0","","","1796220009.0",0
"","201","700","from-internal","""Ext 201"" <201>","PJSIP/201-00000002","","Park","default","2026-12-02 14:01:00",,"2026-12-02 14:01:04",4,0,"NO ANSWER","DOCUMENTATION","1796220060.2","x,y","","1796220060.2",3
`), 0o644)
	cdrs := LoadMasterCSV(t, db2, csvPath, time.UTC)
	if len(cdrs) != 2 {
		t.Fatalf("%d CDRs", len(cdrs))
	}
	var clid, cnum, cnam, disp, uf, linked string
	var dur, bill, ama, seq int
	var calldate time.Time
	var raw []byte
	err = db2.QueryRow("SELECT calldate, clid, cnum, cnam, disposition, duration, billsec, amaflags, userfield, linkedid, sequence FROM cdr WHERE uniqueid = '1796220060.2'").
		Scan(&raw, &clid, &cnum, &cnam, &disp, &dur, &bill, &ama, &uf, &linked, &seq)
	if err != nil {
		t.Fatal(err)
	}
	calldate, _ = time.Parse("2006-01-02 15:04:05", string(raw))
	if calldate.Format(time.DateTime) != "2026-12-02 14:01:00" || clid != `"Ext 201" <201>` || cnum != "201" || cnam != "Ext 201" ||
		disp != "NO ANSWER" || dur != 4 || bill != 0 || ama != 3 || uf != "x,y" || linked != "1796220060.2" || seq != 3 {
		t.Errorf("row: %v %q %q %q %q %d %d %d %q %q %d", calldate, clid, cnum, cnam, disp, dur, bill, ama, uf, linked, seq)
	}

	qlPath := filepath.Join(dir, "queue_log")
	os.WriteFile(qlPath, []byte("1796220100|1796220100.4|400|NONE|ENTERQUEUE||201|1\n1796220101|1796220100.4|400|PJSIP/202|CONNECT|1|1796220100.5|0\n"), 0o644)
	LoadQueueLog(t, db2, qlPath, time.UTC)
	var ev, data, d2 string
	if err := db2.QueryRow("SELECT event, data, data2 FROM queue_log WHERE agent = 'PJSIP/202'").Scan(&ev, &data, &d2); err != nil {
		t.Fatal(err)
	}
	if ev != "CONNECT" || data != "1|1796220100.5|0" || d2 != "1796220100.5" {
		t.Errorf("queue_log row: %q %q %q", ev, data, d2)
	}
	// The shared database is untouched by the test's own one.
	var n int
	db.QueryRow("SELECT COUNT(*) FROM cdr").Scan(&n) //nolint:errcheck
	if n != 0 {
		t.Errorf("asteriskcdrdb.cdr has %d rows", n)
	}
}

// A malformed Master.csv line is an error naming the line, not a panic.
func TestReadMasterCSVBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Master.csv")
	os.WriteFile(path, []byte("\"a\",\"b\"\n"), 0o644)
	if _, err := ReadMasterCSV(path, time.UTC); err == nil {
		t.Error("a 2-field line was accepted")
	}
	os.WriteFile(path, []byte(`"","201","202","c","x","ch","dch","Dial","d","not a date","","",2,2,"ANSWERED","DOCUMENTATION","u","","","l",0`+"\n"), 0o644)
	if _, err := ReadMasterCSV(path, time.UTC); err == nil {
		t.Error("a bad date was accepted")
	}
}
