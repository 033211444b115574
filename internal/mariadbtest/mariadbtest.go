package mariadbtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

// Port is the TCP port every server listens on, each on a loopback address
// of its own (so parallel test processes never collide).
const Port = 3306

// Server is one running private MariaDB.
type Server struct {
	Addr     string // 127.x.y.z:3306
	Socket   string // unix socket path
	User     string // "sbtest": all privileges, from any host
	Password string
	DataDir  string
	// StartTime is how long the start took (copying the installed datadir,
	// mariadbd up, schema created).
	StartTime time.Duration

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	out  *testlog.Buffer
}

// Need returns the server binary and install script, skipping the test when
// MariaDB is not installed.
func Need(t testing.TB) (server, install string) {
	t.Helper()
	for _, s := range []string{"mariadbd", "mysqld"} {
		if p, err := exec.LookPath(s); err == nil {
			server = p
			break
		}
		if _, err := os.Stat("/usr/sbin/" + s); err == nil {
			server = "/usr/sbin/" + s
			break
		}
	}
	for _, s := range []string{"mariadb-install-db", "mysql_install_db"} {
		if p, err := exec.LookPath(s); err == nil {
			install = p
			break
		}
	}
	if server == "" || install == "" {
		t.Skip("needs MariaDB (Debian mariadb-server: mariadbd and mariadb-install-db, installed by .ci/run)")
	}
	return server, install
}

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// template installs the system tables once per test process; every server
// starts from a copy (mariadb-install-db takes seconds, a copy does not).
func installTemplate(install string) (string, error) {
	installOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sbmdb-template-")
		if err != nil {
			installErr = err
			return
		}
		installDir = filepath.Join(dir, "data")
		args := []string{"--no-defaults", "--datadir=" + installDir, "--auth-root-authentication-method=normal",
			"--skip-test-db", "--skip-name-resolve", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"}
		if os.Geteuid() == 0 {
			args = append(args, "--user=root")
		}
		out, err := exec.Command(install, args...).CombinedOutput()
		if err != nil {
			installErr = fmt.Errorf("%s: %v\n%s", install, err, out)
		}
	})
	return installDir, installErr
}

// Start starts a private MariaDB with the asteriskcdrdb database (tables cdr
// and queue_log as FreePBX/NethVoice have them), stopped and deleted when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t.Failed(), t.Logf) })
	if err := s.createCDRDB("asteriskcdrdb"); err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// Shared returns the package's one server, started on first use (with
// asteriskcdrdb); Main or Cleanup stops it. Tests sharing it take databases
// of their own with NewCDRDB.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = start(t)
		if sharedErr == nil {
			sharedErr = shared.createCDRDB("asteriskcdrdb")
		}
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// Main runs the package's tests and then Cleanup:
//
//	func TestMain(m *testing.M) { os.Exit(mariadbtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	Cleanup()
	return code
}

// Cleanup stops the shared server and removes the installed template; a
// TestMain that also uses asterisktest calls it after m.Run.
func Cleanup() {
	sharedMu.Lock()
	if shared != nil {
		shared.stop(false, nil)
		shared = nil
	}
	sharedMu.Unlock()
	if installDir != "" {
		os.RemoveAll(filepath.Dir(installDir))
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

func start(t testing.TB) (*Server, error) {
	server, install := Need(t)
	tmpl, err := installTemplate(install)
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOnce(server, tmpl)
		if err == nil {
			t.Logf("mariadb up in %v at %s (files %s)", s.StartTime.Round(time.Millisecond), s.Addr, s.dir)
			return s, nil
		}
		last = err
		if !errors.Is(err, errAddrTaken) {
			break
		}
	}
	return nil, last
}

var errAddrTaken = errors.New("address in use")

func startOnce(server, tmpl string) (*Server, error) {
	began := time.Now()
	dir, err := os.MkdirTemp("", "sbmdb-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:     net.JoinHostPort(fmt.Sprintf("127.%d.%d.%d", 64+mrand.IntN(64), mrand.IntN(256), 1+mrand.IntN(254)), fmt.Sprint(Port)),
		Socket:   filepath.Join(dir, "mysqld.sock"),
		User:     "sbtest",
		Password: randHex(10),
		DataDir:  filepath.Join(dir, "data"),
		dir:      dir,
		done:     make(chan struct{}),
		out:      &testlog.Buffer{},
	}
	if out, err := exec.Command("cp", "-a", tmpl, s.DataDir).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("copy datadir: %v: %s", err, out)
	}
	host, _, _ := net.SplitHostPort(s.Addr)
	args := []string{"--no-defaults", "--datadir=" + s.DataDir, "--socket=" + s.Socket, "--port=" + fmt.Sprint(Port),
		"--bind-address=" + host, "--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--log-error=" + filepath.Join(dir, "error.log"),
		"--tmpdir=" + dir, "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M",
		"--innodb-flush-log-at-trx-commit=2", "--character-set-server=utf8mb4", "--max-connections=200", "--default-time-zone=+00:00"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	s.cmd = exec.Command(server, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", server, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }() //nolint:errcheck

	// Root over the unix socket creates the test user that connects over TCP.
	root, err := sql.Open("mysql", "root@unix("+s.Socket+")/")
	if err != nil {
		s.stop(false, nil)
		return nil, err
	}
	defer root.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = root.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-s.done:
			log := s.errorLog()
			s.stop(false, nil)
			if strings.Contains(log, "Address already in use") || strings.Contains(log, "Can't start server: Bind") {
				return nil, fmt.Errorf("%w: %s", errAddrTaken, s.Addr)
			}
			return nil, fmt.Errorf("mariadbd exited during start:\n%s", tail(log, 30))
		default:
		}
		if time.Now().After(deadline) {
			log := s.errorLog()
			s.stop(false, nil)
			return nil, fmt.Errorf("mariadbd not up after 60 s: %v\n%s", err, tail(log, 30))
		}
		time.Sleep(25 * time.Millisecond)
	}
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", s.User, s.Password),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%%'", s.User),
	} {
		if _, err := root.Exec(q); err != nil {
			s.stop(false, nil)
			return nil, fmt.Errorf("%s: %w", strings.SplitN(q, " IDENTIFIED", 2)[0], err)
		}
	}
	s.StartTime = time.Since(began)
	return s, nil
}

func (s *Server) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
	return string(b) + s.out.String()
}

func (s *Server) stop(keep bool, logf func(string, ...any)) {
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill() //nolint:errcheck
			<-s.done
		}
	}
	if keep && logf != nil {
		logf("mariadb files kept in %s; error log:\n%s", s.dir, tail(s.errorLog(), 30))
		return
	}
	os.RemoveAll(s.dir)
}

// DSN is the go-sql-driver/mysql DSN of database db over TCP as the test
// user ("sbtest:pw@tcp(127.x.y.z:3306)/db"); add parameters as needed.
func (s *Server) DSN(db string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = s.User, s.Password, "tcp", s.Addr, db
	return c.FormatDSN()
}

// DB opens database db (closed when the test ends).
func (s *Server) DB(t testing.TB, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("mysql", s.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Ping(); err != nil {
		t.Fatalf("mariadb %s: %v", db, err)
	}
	return d
}

// NewCDRDB creates a database of its own for this test, with the cdr and
// queue_log tables, dropped when the test ends; it returns its name.
func (s *Server) NewCDRDB(t testing.TB) string {
	t.Helper()
	name := "cdr_" + randHex(4)
	if err := s.createCDRDB(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d, err := sql.Open("mysql", s.DSN("")); err == nil {
			d.Exec("DROP DATABASE IF EXISTS `" + name + "`") //nolint:errcheck
			d.Close()
		}
	})
	return name
}

// CDRSchema is the cdr table of FreePBX/NethVoice's asteriskcdrdb (the
// columns cdr_adaptive_odbc fills there), and QueueLogSchema the queue_log
// table app_queue's realtime queue_log writes (time, callid, queuename,
// agent, event, data and data1..data5).
const (
	CDRSchema = "CREATE TABLE `cdr` (\n" +
		"  `calldate` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',\n" +
		"  `clid` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `src` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `dst` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `dcontext` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `channel` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `dstchannel` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `lastapp` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `lastdata` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `duration` int(11) NOT NULL DEFAULT 0,\n" +
		"  `billsec` int(11) NOT NULL DEFAULT 0,\n" +
		"  `disposition` varchar(45) NOT NULL DEFAULT '',\n" +
		"  `amaflags` int(11) NOT NULL DEFAULT 0,\n" +
		"  `accountcode` varchar(20) NOT NULL DEFAULT '',\n" +
		"  `uniqueid` varchar(32) NOT NULL DEFAULT '',\n" +
		"  `userfield` varchar(255) NOT NULL DEFAULT '',\n" +
		"  `did` varchar(50) NOT NULL DEFAULT '',\n" +
		"  `recordingfile` varchar(255) NOT NULL DEFAULT '',\n" +
		"  `cnum` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `cnam` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `outbound_cnum` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `outbound_cnam` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `dst_cnam` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `linkedid` varchar(32) NOT NULL DEFAULT '',\n" +
		"  `peeraccount` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `sequence` int(11) NOT NULL DEFAULT 0,\n" +
		"  KEY `calldate` (`calldate`),\n" +
		"  KEY `dst` (`dst`),\n" +
		"  KEY `accountcode` (`accountcode`),\n" +
		"  KEY `uniqueid` (`uniqueid`),\n" +
		"  KEY `linkedid` (`linkedid`),\n" +
		"  KEY `did` (`did`),\n" +
		"  KEY `recordingfile` (`recordingfile`(191))\n" +
		") DEFAULT CHARSET=utf8mb4"
	QueueLogSchema = "CREATE TABLE `queue_log` (\n" +
		"  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n" +
		"  `time` datetime(6) DEFAULT NULL,\n" +
		"  `callid` varchar(40) NOT NULL DEFAULT '',\n" +
		"  `queuename` varchar(32) NOT NULL DEFAULT '',\n" +
		"  `agent` varchar(80) NOT NULL DEFAULT '',\n" +
		"  `event` varchar(32) NOT NULL DEFAULT '',\n" +
		"  `data` varchar(255) NOT NULL DEFAULT '',\n" +
		"  `data1` varchar(100) NOT NULL DEFAULT '',\n" +
		"  `data2` varchar(100) NOT NULL DEFAULT '',\n" +
		"  `data3` varchar(100) NOT NULL DEFAULT '',\n" +
		"  `data4` varchar(100) NOT NULL DEFAULT '',\n" +
		"  `data5` varchar(100) NOT NULL DEFAULT '',\n" +
		"  PRIMARY KEY (`id`),\n" +
		"  KEY `time` (`time`),\n" +
		"  KEY `callid` (`callid`),\n" +
		"  KEY `queuename` (`queuename`),\n" +
		"  KEY `event` (`event`)\n" +
		") DEFAULT CHARSET=utf8mb4"
)

func (s *Server) createCDRDB(name string) error {
	d, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	conn, err := d.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"CREATE DATABASE `" + name + "` DEFAULT CHARACTER SET utf8mb4", "USE `" + name + "`", CDRSchema, QueueLogSchema} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	return nil
}

// CDR is one row of the cdr table.
type CDR struct {
	CallDate                                                  time.Time
	CLID, Src, Dst, DContext, Channel, DstChannel, LastApp    string
	LastData                                                  string
	Duration, BillSec                                         int
	Disposition                                               string
	AMAFlags                                                  int
	AccountCode, UniqueID, UserField, DID, RecordingFile      string
	CNum, CNam, OutboundCNum, OutboundCNam, DstCNam, LinkedID string
	PeerAccount                                               string
	Sequence                                                  int
	Answer, End                                               time.Time // from Master.csv; not columns of the table
}

// amaflags as Asterisk numbers them (ast_channel_string2amaflag).
var amaFlags = map[string]int{"OMIT": 1, "BILLING": 2, "DOCUMENTATION": 3}

// ReadMasterCSV parses cdr_csv's Master.csv written with loguniqueid,
// loguserfield and newcdrcolumns (21 columns), times in loc (Asterisk's TZ).
func ReadMasterCSV(path string, loc *time.Location) ([]CDR, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var out []CDR
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		if len(rec) != 21 {
			return nil, fmt.Errorf("%s line %d: %d fields, want 21 (loguniqueid, loguserfield, newcdrcolumns)", path, line, len(rec))
		}
		ts := func(s string) (time.Time, error) {
			if s == "" {
				return time.Time{}, nil
			}
			return time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		}
		var c CDR
		var errs []error
		c.AccountCode, c.Src, c.Dst, c.DContext, c.CLID, c.Channel, c.DstChannel, c.LastApp, c.LastData =
			rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7], rec[8]
		var e1, e2, e3, e4, e5, e6 error
		c.CallDate, e1 = ts(rec[9])
		c.Answer, e2 = ts(rec[10])
		c.End, e3 = ts(rec[11])
		c.Duration, e4 = strconv.Atoi(rec[12])
		c.BillSec, e5 = strconv.Atoi(rec[13])
		c.Disposition = rec[14]
		c.AMAFlags = amaFlags[rec[15]]
		c.UniqueID, c.UserField, c.PeerAccount, c.LinkedID = rec[16], rec[17], rec[18], rec[19]
		c.Sequence, e6 = strconv.Atoi(rec[20])
		errs = append(errs, e1, e2, e3, e4, e5, e6)
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		c.CNam, c.CNum = splitCLID(c.CLID)
		out = append(out, c)
	}
}

// splitCLID splits `"Name" <num>` (or a bare number) as FreePBX fills cnam and cnum.
func splitCLID(clid string) (name, num string) {
	if i := strings.LastIndex(clid, "<"); i >= 0 && strings.HasSuffix(clid, ">") {
		num = clid[i+1 : len(clid)-1]
		name = strings.Trim(strings.TrimSpace(clid[:i]), `"`)
		return name, num
	}
	return "", clid
}

// LoadMasterCSV inserts the CDRs of Master.csv into db's cdr table and
// returns how many; loc is the time zone Asterisk wrote the times in.
func LoadMasterCSV(t testing.TB, db *sql.DB, path string, loc *time.Location) []CDR {
	t.Helper()
	cdrs, err := ReadMasterCSV(path, loc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cdrs {
		_, err := db.Exec("INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec, "+
			"disposition, amaflags, accountcode, uniqueid, userfield, did, recordingfile, cnum, cnam, outbound_cnum, outbound_cnam, dst_cnam, "+
			"linkedid, peeraccount, sequence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			c.CallDate.In(loc).Format("2006-01-02 15:04:05"), c.CLID, c.Src, c.Dst, c.DContext, c.Channel, c.DstChannel, c.LastApp, c.LastData,
			c.Duration, c.BillSec, c.Disposition, c.AMAFlags, c.AccountCode, c.UniqueID, c.UserField, c.DID, c.RecordingFile,
			c.CNum, c.CNam, c.OutboundCNum, c.OutboundCNam, c.DstCNam, c.LinkedID, c.PeerAccount, c.Sequence)
		if err != nil {
			t.Fatalf("insert cdr %s/%d: %v", c.UniqueID, c.Sequence, err)
		}
	}
	return cdrs
}

// QueueLogEntry is one line of app_queue's queue_log.
type QueueLogEntry struct {
	Time                            time.Time
	CallID, QueueName, Agent, Event string
	Data                            []string // data1..data5 (and any further fields)
}

// ReadQueueLog parses app_queue's queue_log file ("epoch|callid|queue|agent|event|data1|...").
func ReadQueueLog(path string) ([]QueueLogEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []QueueLogEntry
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) < 5 {
			return nil, fmt.Errorf("%s line %d: %d fields", path, line, len(parts))
		}
		sec, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: time: %w", path, line, err)
		}
		out = append(out, QueueLogEntry{Time: time.Unix(sec, 0), CallID: parts[1], QueueName: parts[2], Agent: parts[3], Event: parts[4], Data: parts[5:]})
	}
	return out, sc.Err()
}

// LoadQueueLog inserts the queue_log file's lines into db's queue_log table
// (time in loc, as realtime queue_log writes local time) and returns them.
func LoadQueueLog(t testing.TB, db *sql.DB, path string, loc *time.Location) []QueueLogEntry {
	t.Helper()
	entries, err := ReadQueueLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var d [5]string
		copy(d[:], e.Data)
		_, err := db.Exec("INSERT INTO queue_log (time, callid, queuename, agent, event, data, data1, data2, data3, data4, data5) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
			e.Time.In(loc).Format("2006-01-02 15:04:05.000000"), e.CallID, e.QueueName, e.Agent, e.Event, strings.Join(e.Data, "|"), d[0], d[1], d[2], d[3], d[4])
		if err != nil {
			t.Fatalf("insert queue_log %s %s: %v", e.CallID, e.Event, err)
		}
	}
	return entries
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
