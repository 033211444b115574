package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the linker (-X main.version=... -X main.commit=...).
var (
	version = "dev"
	commit  = ""
)

func versionString() string {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					c = s.Value[:12]
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("switchboard %s (commit %s, %s, %s/%s)", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

const usage = `switchboard: the PBX appliance services daemon and its CLI

Usage:
  switchboard serve --config FILE        run the daemon
  switchboard version                    print version and commit
  switchboard status                     revision, schema and tenancy of the running daemon
  switchboard user list|show|add|set|passwd|delete|revoke ...
  switchboard tenant list|show|add|set|delete ...
  switchboard audit list|show|verify|restore|export ...
  switchboard device list|add|delete|preview|import|export ...
  switchboard account list|import|export ...
  switchboard files list|show ...        generated provisioning files
  switchboard unknown list               phones seen but not configured
  switchboard catalog models|templates|placeholders
  switchboard pbx show|set ...           PBX attributes of a tenant
  switchboard cti reload|dump            CTI server (cti.enabled): re-sync, state dump
  switchboard cti user|profile ...       CTI users and profiles
  switchboard phonebook list|show|add|set|delete|import|export|files ...  contacts and speed dials
  switchboard redirect list|add|set|delete|test|status|assign ...  vendor redirection servers
  switchboard dhcp leases|rules          the built-in DHCP server (dhcp.enabled)
  switchboard dhcp probe --interface IF  ask the LAN's DHCP servers what phones get (runs locally, root)
  switchboard ha status|pair|switch|unpair|disable   two-node high availability
  switchboard task list|show|add|set|delete|run|runs  scheduled CDR exports by mail
  switchboard mail show|set|test         SMTP settings of scheduled tasks

CLI verbs talk to the running daemon over its control socket. Common flags:
  --config FILE   configuration file (to find the socket; default /etc/switchboard/switchboard.yaml)
  --socket PATH   control socket (overrides --config; env SWITCHBOARD_SOCKET)
  --json          machine-readable output

Run "switchboard COMMAND help" for a command's verbs.
`

// exitError carries an exit code up to main.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	args = hoistGlobalFlags(args)
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	case "dhcp":
		err = cmdDHCP(args[1:], stdin, stdout, stderr)
	case "status", "user", "users", "tenant", "tenants", "audit", "device", "devices", "account", "accounts",
		"file", "files", "unknown", "catalog", "pbx", "redirect", "ha", "task", "tasks", "mail", "phonebook":
		noun := args[0]
		if noun != "status" && noun != "unknown" && noun != "redirect" && noun != "ha" && noun != "mail" && noun != "phonebook" {
			noun = strings.TrimSuffix(noun, "s")
		}
		err = cmdClient(noun, args[1:], stdin, stdout)
	case "cti":
		err = cmdCTI(args[1:], stdin, stdout)
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "switchboard: "+ee.msg)
		}
		return ee.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	fmt.Fprintln(stderr, "switchboard: "+err.Error())
	return 1
}

// hoistGlobalFlags moves common flags written before the command
// ("switchboard --socket S user list") behind it, where the verb parses them.
func hoistGlobalFlags(args []string) []string {
	var lead []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "-v" && args[0] != "--version" {
		name := strings.TrimLeft(args[0], "-")
		lead = append(lead, args[0])
		args = args[1:]
		if (name == "config" || name == "socket") && len(args) > 0 {
			lead = append(lead, args[0])
			args = args[1:]
		}
	}
	if len(lead) == 0 || len(args) == 0 {
		return append(lead, args...)
	}
	return append(append([]string{}, args...), lead...)
}
