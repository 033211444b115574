package mariadbtest

import (
	"database/sql"
	"errors"
	"os"
	"os/exec"
)

// ErrNotInstalled is StartProgram's answer when MariaDB is not installed.
var ErrNotInstalled = errors.New("needs MariaDB (Debian mariadb-server: mariadbd and mariadb-install-db)")

// StartProgram starts a private MariaDB for a program that is not a test (a
// benchmark comparing against MariaDB as its baseline), as Start does for a
// test but without the asteriskcdrdb database: the caller creates what it
// needs. stop stops the server and removes its files.
func StartProgram() (s *Server, stop func(), err error) {
	var server, install string
	for _, n := range []string{"mariadbd", "mysqld"} {
		if p, err := exec.LookPath(n); err == nil {
			server = p
			break
		}
		if _, err := os.Stat("/usr/sbin/" + n); err == nil {
			server = "/usr/sbin/" + n
			break
		}
	}
	for _, n := range []string{"mariadb-install-db", "mysql_install_db"} {
		if p, err := exec.LookPath(n); err == nil {
			install = p
			break
		}
	}
	if server == "" || install == "" {
		return nil, nil, ErrNotInstalled
	}
	tmpl, err := installTemplate(install)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		if s, err = startOnce(server, tmpl); err == nil || !errors.Is(err, errAddrTaken) {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.stop(false, nil); Cleanup() }, nil
}

// CreateDatabase creates an empty database (utf8mb4) and opens it.
func (s *Server) CreateDatabase(name string) (*sql.DB, error) {
	root, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE `" + name + "` DEFAULT CHARACTER SET utf8mb4"); err != nil {
		return nil, err
	}
	return sql.Open("mysql", s.DSN(name))
}
