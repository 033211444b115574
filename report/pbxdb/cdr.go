package pbxdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/switchboard-pbx/switchboard/report"
)

// Config says how to reach the database.
type Config struct {
	// DSN in the Go MySQL driver's form: user:password@tcp(host:3306)/asteriskcdrdb
	// (or @unix(/run/mysqld/mysqld.sock)).
	DSN string
	// Table and QueueLog name the tables (default cdr, queue_log).
	Table, QueueLog string
	// Location is the zone of the PBX's local times (calldate, queue_log time).
	Location *time.Location
}

// DB is the PBX's database, read-only.
type DB struct {
	db  *sql.DB
	cfg Config

	qlMu     sync.Mutex // guards the shapes below
	qlKnown  bool
	ql       qlShape
	cdrKnown bool
	cdrSh    cdrShape
}

var _ report.CDRSource = (*DB)(nil)
var _ report.QueueLog = (*DB)(nil)

// plainIdentifier reports whether name is a MySQL identifier that needs no
// escaping inside backticks.
func plainIdentifier(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '$' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Open prepares the connection pool (it connects on first use).
func Open(cfg Config) (*DB, error) {
	mc, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("pbxdb: dsn: %w", err)
	}
	// calldate is a local DATETIME: read it as text and place it in the PBX's
	// zone ourselves, whatever the DSN's parseTime/loc say.
	mc.ParseTime = false
	if cfg.Table == "" {
		cfg.Table = "cdr"
	}
	if cfg.QueueLog == "" {
		cfg.QueueLog = "queue_log"
	}
	// The names are spliced into the queries (placeholders cannot name a
	// table), quoted with backticks: only plain identifiers may get there.
	for _, name := range []string{cfg.Table, cfg.QueueLog} {
		if !plainIdentifier(name) {
			return nil, fmt.Errorf("pbxdb: table name %q: only letters, digits, _ and $", name)
		}
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("pbxdb: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	return &DB{db: db, cfg: cfg}, nil
}

// Close closes the pool.
func (d *DB) Close() error { return d.db.Close() }

// Ping checks the connection.
func (d *DB) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }

const dbTime = "2006-01-02 15:04:05"

// margin widens the window a call's rows are looked for in.
const margin = 24 * time.Hour

func (d *DB) local(t time.Time) string { return t.In(d.cfg.Location).Format(dbTime) }

func (d *DB) parse(s string) (time.Time, error) {
	if i := strings.IndexByte(s, '.'); i > 0 { // DATETIME(6)
		s = s[:i]
	}
	return time.ParseInLocation(dbTime, s, d.cfg.Location)
}

// Legs streams the legs of the calls whose first leg started in [from, to),
// grouped by call (linkedid; uniqueid for rows without one) and ordered by
// the call's start and sequence. Legs are looked for a day around the
// interval, so that a call's first leg before from and its late legs after
// to (a transfer an hour later) are seen.
func (d *DB) Legs(ctx context.Context, from, to time.Time, fn func(*report.CDR) error) error {
	// COALESCE: a table altered by hand may allow NULLs.
	//nolint:gosec // G201: Open lets only a plain identifier be the table name
	q := fmt.Sprintf(`SELECT CAST(c.calldate AS CHAR), COALESCE(c.clid, ''), COALESCE(c.src, ''), COALESCE(c.dst, ''),
		COALESCE(c.dcontext, ''), COALESCE(c.channel, ''), COALESCE(c.dstchannel, ''), COALESCE(c.lastapp, ''),
		COALESCE(c.lastdata, ''), COALESCE(c.duration, 0), COALESCE(c.billsec, 0), COALESCE(c.disposition, ''),
		COALESCE(c.accountcode, ''), COALESCE(c.uniqueid, ''), COALESCE(c.linkedid, ''), COALESCE(c.sequence, 0),
		COALESCE(c.userfield, '')
		FROM %[1]s c JOIN (
			SELECT COALESCE(NULLIF(linkedid, ''), uniqueid) AS k, MIN(calldate) AS first
			FROM %[1]s WHERE calldate >= ? AND calldate < ?
			GROUP BY COALESCE(NULLIF(linkedid, ''), uniqueid)
			HAVING MIN(calldate) >= ? AND MIN(calldate) < ?
		) g ON COALESCE(NULLIF(c.linkedid, ''), c.uniqueid) = g.k
		WHERE c.calldate >= ? AND c.calldate < ?
		ORDER BY g.first, g.k, c.sequence, c.calldate`, "`"+d.cfg.Table+"`")
	lo, hi := d.local(from.Add(-margin)), d.local(to.Add(margin))
	rows, err := d.db.QueryContext(ctx, q, lo, hi, d.local(from), d.local(to), lo, hi)
	if err != nil {
		return fmt.Errorf("pbxdb: cdr: %w", err)
	}
	defer rows.Close()
	var c report.CDR
	var start string
	for rows.Next() {
		if err := rows.Scan(&start, &c.CallerID, &c.Src, &c.Dst, &c.DContext, &c.Channel, &c.DstChannel, &c.LastApp,
			&c.LastData, &c.Duration, &c.BillSec, &c.Disposition, &c.AccountCode, &c.UniqueID, &c.LinkedID, &c.Sequence, &c.UserField); err != nil {
			return fmt.Errorf("pbxdb: cdr: %w", err)
		}
		if c.Start, err = d.parse(start); err != nil {
			return fmt.Errorf("pbxdb: cdr calldate %q: %w", start, err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pbxdb: cdr: %w", err)
	}
	return nil
}

// IsMissingTable reports an error about a table that does not exist.
func IsMissingTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}
