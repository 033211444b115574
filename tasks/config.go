package tasks

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Config is the "tasks" section of the configuration file.
type Config struct {
	// Enabled runs the scheduler and offers the tasks API. Off, tasks stay
	// stored but never run.
	Enabled bool `yaml:"enabled"`
	// TimeZone is the appliance's zone for task times (IANA name); "" = the
	// system's zone. A task of a tenant whose PBX settings name a time_zone uses
	// that one instead.
	TimeZone string `yaml:"time_zone"`
	// Language of column headers, sheet names and mail text: en or it.
	Language string `yaml:"language"`
	// KeyFile holds the AES-256 key sealing the SMTP password (32 bytes,
	// created 0600 on first use). "" = data_dir/mail.key.
	KeyFile string `yaml:"key_file"`
	// WorkDir holds exports while they are built and mailed. "" =
	// data_dir/exports. Files are removed after each run.
	WorkDir string `yaml:"work_dir"`
	// Concurrency is how many runs (of different tasks) build at once.
	Concurrency int `yaml:"concurrency"`
	// KeepRuns is how many runs of each task the history keeps.
	KeepRuns int `yaml:"keep_runs"`
	// MailAttempts is how many times a message is offered to the SMTP server
	// when it fails temporarily (4xx, connection errors).
	MailAttempts int `yaml:"mail_attempts"`
	// MailBackoff is the wait before the second attempt; it doubles each time.
	MailBackoff time.Duration `yaml:"mail_backoff"`
	// MailTimeout bounds one SMTP conversation.
	MailTimeout time.Duration `yaml:"mail_timeout"`
	// CAFile is a PEM bundle trusted for the SMTP server's certificate besides
	// the system's roots (a private relay); "" = the system's roots only.
	CAFile string `yaml:"ca_file"`
	// CDR says where CDR and call-center data come from.
	CDR CDRConfig `yaml:"cdr"`
}

// CDRConfig chooses the data source of exports.
type CDRConfig struct {
	// Source is "ami" (the records the CTI keeps from AMI events, data_dir/
	// cti-history.db) or "database" (the PBX's own MySQL/MariaDB: the cdr and
	// queue_log tables of asteriskcdrdb, read-only).
	Source string `yaml:"source"`
	// DSN reaches the PBX database (source: database, and the CTI history
	// with cti.history.source auto or pbx), in the Go MySQL
	// driver's form: user:password@tcp(host:3306)/asteriskcdrdb.
	DSN string `yaml:"dsn"`
	// Table and QueueLogTable name the tables read.
	Table         string `yaml:"table"`
	QueueLogTable string `yaml:"queue_log_table"`
	// PBXTimeZone is the zone of the PBX's local times (calldate, queue_log
	// time, AMI StartTime); "" = time_zone.
	PBXTimeZone string `yaml:"pbx_time_zone"`
}

// DefaultConfig: on, English, two runs at once, 100 runs kept per task, five
// mail attempts a minute, two, four and eight minutes apart.
func DefaultConfig() Config {
	return Config{Enabled: true, Language: "en", Concurrency: 2, KeepRuns: 100, MailAttempts: 5,
		MailBackoff: time.Minute, MailTimeout: 2 * time.Minute,
		CDR: CDRConfig{Source: "ami", Table: "cdr", QueueLogTable: "queue_log"}}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	if _, err := loadZone(c.TimeZone); err != nil {
		return fmt.Errorf("time_zone: %w", err)
	}
	if _, err := loadZone(c.CDR.PBXTimeZone); err != nil {
		return fmt.Errorf("cdr.pbx_time_zone: %w", err)
	}
	switch {
	case c.Language != "en" && c.Language != "it":
		return errors.New("language: must be en or it")
	case c.KeyFile == "":
		return errors.New("key_file: must not be empty")
	case c.WorkDir == "":
		return errors.New("work_dir: must not be empty")
	case c.Concurrency < 1 || c.Concurrency > 16:
		return errors.New("concurrency: must be 1-16")
	case c.KeepRuns < 1 || c.KeepRuns > 10000:
		return errors.New("keep_runs: must be 1-10000")
	case c.MailAttempts < 1 || c.MailAttempts > 20:
		return errors.New("mail_attempts: must be 1-20")
	case c.MailBackoff <= 0:
		return errors.New("mail_backoff: must be positive")
	case c.MailTimeout <= 0:
		return errors.New("mail_timeout: must be positive")
	case c.CDR.Source != "ami" && c.CDR.Source != "database":
		return errors.New("cdr.source: must be ami or database")
	case c.CDR.Source == "database" && c.CDR.DSN == "":
		return errors.New("cdr.dsn: source database needs a DSN (user:password@tcp(host:3306)/asteriskcdrdb)")
	case !sqlName(c.CDR.Table):
		return errors.New("cdr.table: must be a table name (letters, digits, _)")
	case !sqlName(c.CDR.QueueLogTable):
		return errors.New("cdr.queue_log_table: must be a table name (letters, digits, _)")
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			return fmt.Errorf("ca_file: %w", err)
		}
	}
	return nil
}

func sqlName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// loadZone reads an IANA zone name; "" is the system's zone.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.Local, nil
	}
	if name == "Local" {
		return nil, errors.New(`"Local" is not an IANA zone name (leave it empty for the system's zone)`)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone (e.g. Europe/Rome)", name)
	}
	return l, nil
}
