// Package mariadbtest runs a private, real MariaDB server for tests: the PBX
// CDR database that FreePBX and NethVoice keep (asteriskcdrdb with the cdr and
// queue_log tables), so code that reads it is tested against the real server
// and the real go-sql-driver/mysql, not a fake driver.
//
// # Using it
//
//	func TestMain(m *testing.M) { os.Exit(mariadbtest.Main(m)) } // only for Shared
//
//	func TestExport(t *testing.T) {
//		srv := mariadbtest.Start(t)            // or mariadbtest.Shared(t) + srv.NewCDRDB(t)
//		db := srv.DB(t, "asteriskcdrdb")       // *sql.DB, closed at the end
//		dsn := srv.DSN("asteriskcdrdb")        // "sbtest:pw@tcp(127.x.y.z:3306)/asteriskcdrdb"
//		mariadbtest.LoadMasterCSV(t, db, pbx.MasterCSV(), time.UTC)
//		mariadbtest.LoadQueueLog(t, db, pbx.QueueLog(), time.UTC)
//		...
//	}
//
// Start skips the test when mariadbd or mariadb-install-db is missing (Debian
// mariadb-server; .ci/run installs it, and its systemd service is not used).
//
// # How it runs
//
// mariadb-install-db runs once per test process into a template datadir;
// every server starts from a copy of it: mariadbd --no-defaults on a unix
// socket in its temp dir and on port 3306 of a loopback address of its own
// (127.64.0.0/10, chosen at random, another one tried when the bind fails),
// so parallel test packages never collide and no port is picked by closing a
// listener. As root it runs with --user=root. Root connects over the socket
// only to create the user "sbtest" (random password, all privileges), which
// is what DSN gives: tests talk to the server over TCP as a deployment does.
// The server's time zone is UTC (--default-time-zone=+00:00).
//
// # The tables
//
// CDRSchema is FreePBX/NethVoice's asteriskcdrdb.cdr: calldate, clid, src,
// dst, dcontext, channel, dstchannel, lastapp, lastdata, duration, billsec,
// disposition, amaflags, accountcode, uniqueid, userfield, did,
// recordingfile, cnum, cnam, outbound_cnum, outbound_cnam, dst_cnam,
// linkedid, peeraccount, sequence. QueueLogSchema is queue_log: id, time,
// callid, queuename, agent, event, data (data1..n joined by "|") and
// data1..data5.
//
// LoadMasterCSV reads Asterisk's own cdr_csv Master.csv (written with
// loguniqueid, loguserfield and newcdrcolumns, as asterisktest configures
// it) and inserts each CDR as cdr_adaptive_odbc would: calldate is the start
// time, amaflags the number (DOCUMENTATION = 3), cnum/cnam split from clid;
// did, recordingfile and the outbound_/dst_ columns stay empty because
// Master.csv does not carry them. LoadQueueLog inserts queue_log lines with
// the epoch converted to the given zone. Together they let a test compare
// what it exported from AMI events with the PBX's own records of the same
// calls.
package mariadbtest
