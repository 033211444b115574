package mariadbtest

import (
	"database/sql"
	"strings"
)

func join(s []string) string { return strings.Join(s, " ") }

func sqlOpenPing(dsn string) (*sql.DB, error) {
	d, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d, d.Ping()
}
