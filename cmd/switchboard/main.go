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

	"github.com/switchboard-pbx/switchboard/provision"
)

// Set by the linker (-X main.version=... -X main.commit=...).
var (
	version = "dev"
	commit  = ""
)

// commitString is the commit the binary was built from, "unknown" when the
// build recorded none.
func commitString() string {
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
	return c
}

func versionString() string {
	return fmt.Sprintf("switchboard %s (commit %s, %s, %s/%s)", version, commitString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

const usage = `switchboard: the PBX appliance services daemon and its CLI

Usage:
  switchboard serve --config FILE        run the daemon
  switchboard version                    print version and commit
  switchboard status                     revision, schema and tenancy of the running daemon
  switchboard user list|show|add|set|passwd|delete|revoke ...
  switchboard tenant list|show|add|set|delete ...
  switchboard audit list|show|verify|restore|export ...
  switchboard device list|show|add|set|delete|preview|reveal|resync|reboot|import|export ...
  switchboard account list|show|add|set|delete|reveal|import|export ...
  switchboard files list|show ...        generated provisioning files
  switchboard unknown list|adopt ...     phones seen but not configured
  switchboard catalog models|templates|placeholders|firmware
  switchboard template list|show|copy|edit|validate ...   provisioning templates
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
  switchboard doctor [--json]            check certificate, names, ports, NAT, PBX, disk, database, HA
  switchboard vantage --listen ADDR      the doctor's outside vantage (run on a host outside the NAT)
  switchboard support-bundle [-o FILE]   one .tar.gz for support, secrets redacted
  switchboard completion bash|zsh        shell completion script

CLI verbs talk to the running daemon over its control socket. Common flags:
  --config FILE   configuration file (to find the socket; default /etc/switchboard/switchboard.yaml)
  --socket PATH   control socket (overrides --config; env SWITCHBOARD_SOCKET)
  --json          machine-readable output

In multi-tenant mode, verbs that work on a tenant take --tenant NAME (or UUID);
without it they use the only tenant, and ask when there are several.

Run "switchboard COMMAND --help" for a command's verbs, and
"switchboard COMMAND VERB --help" for a verb's flags.
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
		if helpAsked(args[1:]) {
			fmt.Fprintln(stdout, "usage: switchboard version\n\nPrints the version, the commit, the Go version and the platform.")
			break
		}
		fmt.Fprintln(stdout, versionString())
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	case "dhcp":
		err = cmdDHCP(args[1:], stdin, stdout, stderr)
	case "status", "user", "users", "tenant", "tenants", "audit", "device", "devices", "account", "accounts",
		"file", "files", "unknown", "catalog", "pbx", "redirect", "ha", "template", "templates", "task", "tasks", "mail", "phonebook":
		noun := args[0]
		if noun != "status" && noun != "unknown" && noun != "redirect" && noun != "ha" && noun != "mail" && noun != "phonebook" {
			noun = strings.TrimSuffix(noun, "s")
		}
		err = cmdClient(noun, args[1:], stdin, stdout)
	case "cti":
		err = cmdCTI(args[1:], stdin, stdout)
	case "doctor":
		err = cmdDoctor(args[1:], stdout, stderr)
	case "vantage":
		err = cmdVantage(args[1:], stdout, stderr)
	case "completion":
		err = cmdCompletion(args[1:], stdout)
	case "support-bundle":
		err = cmdSupportBundle(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q%s\n\n%s", args[0], didYouMean(args[0], commandNames()), usage)
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
		return 0
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

// commandNames are the top-level commands, for "did you mean" and completion.
func commandNames() []string {
	return []string{"serve", "version", "help", "status", "user", "tenant", "audit", "device", "account", "files",
		"unknown", "catalog", "template", "pbx", "redirect", "dhcp", "ha", "cti", "task", "mail", "doctor", "vantage", "support-bundle", "completion"}
}

// didYouMean suggests the closest of names to s (" (did you mean X?)"), or
// nothing when none is close.
func didYouMean(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		d := provision.EditDistance(strings.ToLower(s), n)
		if d < bestD || (d == bestD && best == "") {
			best, bestD = n, d
		}
		if strings.HasPrefix(n, strings.ToLower(s)) && len(s) >= 2 && best == "" {
			best = n
		}
	}
	if best == "" || bestD >= 3 && !strings.HasPrefix(best, s) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
