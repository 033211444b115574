// Package config reads switchboard's one configuration file (YAML).
//
// Every key has a default (Default), so an empty file is a valid configuration. A key
// the program does not know, or a value of the wrong shape, stops start-up with one
// line that names the key in dotted form ("http.listen") and its line in the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/dhcp"
	"github.com/switchboard-pbx/switchboard/doctor"
	"github.com/switchboard-pbx/switchboard/ha"
	"github.com/switchboard-pbx/switchboard/httpd"
	"github.com/switchboard-pbx/switchboard/phonebook"
	"github.com/switchboard-pbx/switchboard/pnp"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/resync"
	"github.com/switchboard-pbx/switchboard/tasks"
	"github.com/switchboard-pbx/switchboard/tftpd"
)

// Config is the whole file.
type Config struct {
	// DataDir holds the database, the generated TLS certificate and the control socket.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	// HTTP is the plain HTTP listener (phones) and the HTTPS listener (everything).
	HTTP httpd.Config `yaml:"http"`
	// Admin is the admin API, its logins and the CLI's control socket.
	Admin admin.Config `yaml:"admin"`
	// Tenancy chooses single- or multi-tenant mode.
	Tenancy provision.TenancyConfig `yaml:"tenancy"`
	// TFTP serves the provisioning tree over TFTP.
	TFTP tftpd.Config `yaml:"tftp"`
	// Provisioning configures the provisioning tree phones fetch.
	Provisioning provision.Config `yaml:"provisioning"`
	// PnP answers phones' multicast SIP PnP SUBSCRIBEs (off by default).
	PnP pnp.Config `yaml:"pnp"`
	// Demo seeds a demo tenant and admin login (make run).
	Demo Demo `yaml:"demo"`
	// CTI is the nethcti-compatible CTI server over Asterisk AMI (off by default).
	CTI cti.Config `yaml:"cti"`
	// Phonebook is the contacts phones and CTI clients share.
	Phonebook phonebook.Config `yaml:"phonebook"`
	// Redirect registers devices with vendor redirection services.
	Redirect redirect.Config `yaml:"redirect"`
	// DHCP is the optional DHCPv4 server (off by default).
	DHCP dhcp.Config `yaml:"dhcp"`
	// HA is two-node active/passive high availability (off by default).
	HA ha.Config `yaml:"ha"`
	// Public is how the box is reached from outside the LAN (name, address).
	Public doctor.Public `yaml:"public"`
	// Doctor configures "switchboard doctor" (echo service, outside vantage).
	Doctor doctor.Config `yaml:"doctor"`
	// Tasks are the scheduled CDR exports mailed over SMTP.
	Tasks tasks.Config `yaml:"tasks"`
	// Resync sends phones their vendor's NOTIFY to re-read their files or to
	// restart, through the PBX reached with cti.ami (the CTI may be off).
	Resync resync.Config `yaml:"resync"`
}

// Log configures log/slog output on stderr.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Demo configures the demo set-up of make run.
type Demo struct {
	// Enabled creates, on first start, a demo tenant and an admin user "admin" with a
	// random password, written to data_dir/demo-login.txt and printed at every start.
	Enabled bool `yaml:"enabled"`
}

// Default is the configuration an empty file gives.
func Default() Config {
	return Config{
		DataDir:      "/var/lib/switchboard",
		Log:          Log{Level: "info", Format: "text"},
		HTTP:         httpd.DefaultConfig(),
		Admin:        admin.DefaultConfig(),
		Tenancy:      provision.DefaultTenancyConfig(),
		Provisioning: provision.DefaultConfig(),
		TFTP:         tftpd.DefaultConfig(),
		CTI:          cti.DefaultConfig(),
		Phonebook:    phonebook.DefaultConfig(),
		Redirect:     redirect.DefaultConfig(),
		DHCP:         dhcp.DefaultConfig(),
		HA:           ha.DefaultConfig(),
		PnP:          pnp.DefaultConfig(),
		Public:       doctor.DefaultPublic(),
		Doctor:       doctor.DefaultConfig(),
		Tasks:        tasks.DefaultConfig(),
		Resync:       resync.DefaultConfig(),
	}
}

// Load reads path over the defaults, resolves relative paths against the working
// directory and validates the result.
func Load(path string) (Config, error) {
	cfg := Default()
	data, err := os.ReadFile(path) //nolint:gosec // G304: the configuration file the operator named
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := Parse(data, &cfg); err != nil {
		return cfg, err
	}
	if err := cfg.Finish(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Parse decodes YAML onto cfg, key by key, so that errors name the key.
func Parse(data []byte, cfg *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("config: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return decodeInto(root, reflect.ValueOf(cfg).Elem(), "")
}

func decodeInto(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		where := strings.TrimSuffix(path, ".")
		if where == "" {
			where = "the top level"
		}
		return fmt.Errorf("config: line %d: %s must be a mapping of keys", n.Line, where)
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := path + k.Value
		if seen[k.Value] {
			return fmt.Errorf("config: line %d: key %s appears twice", k.Line, key)
		}
		seen[k.Value] = true
		idx := -1
		for f := 0; f < t.NumField(); f++ {
			tag := strings.Split(t.Field(f).Tag.Get("yaml"), ",")[0]
			if tag == "-" || tag == "" || !t.Field(f).IsExported() {
				continue // internal fields are not keys
			}
			if tag == k.Value {
				idx = f
				break
			}
		}
		if idx < 0 {
			return fmt.Errorf("config: line %d: unknown key %s", k.Line, key)
		}
		fv := v.Field(idx)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Time{}) {
			if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
				continue
			}
			if err := decodeInto(val, fv, key+"."); err != nil {
				return err
			}
			continue
		}
		if val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			continue // "key:" with no value keeps the default
		}
		switch fv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			// yaml.v3 would truncate 4.5 to 4; a fraction is a mistake.
			if val.Tag == "!!float" {
				return fmt.Errorf("config: line %d: key %s: bad value %q (must be a whole number)", val.Line, key, val.Value)
			}
		}
		if err := val.Decode(fv.Addr().Interface()); err != nil {
			msg := err.Error()
			if te := new(yaml.TypeError); errors.As(err, &te) && len(te.Errors) > 0 {
				msg = te.Errors[0]
			}
			return fmt.Errorf("config: line %d: key %s: bad value %q (%s)", val.Line, key, val.Value, trimYAML(msg))
		}
	}
	return nil
}

func trimYAML(msg string) string {
	if i := strings.Index(msg, "cannot unmarshal"); i >= 0 {
		msg = msg[i:]
	}
	return msg
}

// Finish fills the defaults that depend on other keys, makes paths absolute and
// validates every section. Its error names the key.
func (c *Config) Finish() error {
	if c.DataDir == "" {
		return errors.New("config: key data_dir: must not be empty")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("config: key data_dir: %w", err)
	}
	c.DataDir = abs
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: key log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("config: key log.format: %q is not one of text, json", c.Log.Format)
	}
	if c.Admin.Socket == "" {
		c.Admin.Socket = filepath.Join(c.DataDir, "switchboard.sock")
	}
	if c.HTTP.TLSCert == "" && c.HTTP.TLSKey == "" {
		c.HTTP.TLSCert = filepath.Join(c.DataDir, "tls", "cert.pem")
		c.HTTP.TLSKey = filepath.Join(c.DataDir, "tls", "key.pem")
		c.HTTP.SelfSigned = true
	}
	if c.Provisioning.BaseURL == "" {
		c.Provisioning.BaseURL = defaultBaseURL(c.HTTP)
	}
	if c.Redirect.KeyFile == "" {
		c.Redirect.KeyFile = filepath.Join(c.DataDir, "redirect.key")
	}
	if c.Tasks.KeyFile == "" {
		c.Tasks.KeyFile = filepath.Join(c.DataDir, "mail.key")
	}
	if c.Tasks.WorkDir == "" {
		c.Tasks.WorkDir = filepath.Join(c.DataDir, "exports")
	}
	for _, sec := range []struct {
		name string
		err  error
	}{
		{"http", c.HTTP.Validate()},
		{"admin", c.Admin.Validate()},
		{"tenancy", c.Tenancy.Validate()},
		{"provisioning", c.Provisioning.Validate()},
		{"tftp", c.TFTP.Validate()},
		{"cti", c.CTI.Validate()},
		{"phonebook", c.Phonebook.Validate()},
		{"redirect", c.Redirect.Validate()},
		{"dhcp", c.DHCP.Validate()},
		{"ha", c.HA.Validate()},
		{"pnp", c.PnP.Validate()},
		{"public", c.Public.Validate()},
		{"doctor", c.Doctor.Validate()},
		{"tasks", c.Tasks.Validate()},
		{"resync", c.Resync.Validate()},
	} {
		if sec.err != nil {
			return fmt.Errorf("config: key %s.%w", sec.name, sec.err)
		}
	}
	// The CTI reads the PBX's CDR database through the tasks' connection.
	if c.CTI.Enabled && c.CTI.History.Source == cti.HistoryPBX && c.Tasks.CDR.DSN == "" {
		return errors.New("config: key cti.history.source: pbx needs the PBX database's DSN in tasks.cdr.dsn")
	}
	return nil
}

// CTIHistoryFromPBX reports whether the CTI's call history is read from the
// PBX's database (cti.history.source pbx, or auto with tasks.cdr.dsn set).
func (c Config) CTIHistoryFromPBX() bool {
	switch c.CTI.History.Source {
	case cti.HistoryPBX:
		return true
	case cti.HistoryAuto:
		return c.Tasks.CDR.DSN != ""
	}
	return false
}

// defaultBaseURL is the URL phones most likely reach: plain HTTP (every phone
// speaks it) on the listener's address, or the host's first IPv4 address when the
// listener is on all addresses.
func defaultBaseURL(h httpd.Config) string {
	scheme, addr := "http", h.Listen
	if addr == "" {
		scheme, addr = "https", h.HTTPSListen
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = firstIPv4()
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func firstIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
