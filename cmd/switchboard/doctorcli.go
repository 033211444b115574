package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-pbx/switchboard/doctor"
)

const doctorUsage = `usage: switchboard doctor [--json] [--config FILE | --socket PATH]

Runs the daemon's checks and prints one line per check: OK, WARN, FAIL or SKIP,
what was found and, when it is not OK, the fix. Exits 1 when a check fails.

Checks: the TLS certificate of public.fqdn (names, expiry, chain, intermediates),
DNS of public.fqdn, the URLs phones and apps get, public.address against
doctor.echo_url, each listener, reachability from doctor.vantage (TCP and UDP),
hairpin NAT from the LAN, the PBX over AMI (login, SIP TLS/TCP transports,
clock), free disk, database integrity, the audit chain, the HA peer and its
replication lag.
`

// cmdDoctor is "switchboard doctor": GET /api/v1/diagnostics, printed.
func cmdDoctor(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	if printHelp(stdout, fs, args, doctorUsage) {
		return nil
	}
	if _, err := parse(fs, args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, msg: "doctor: takes no arguments (" + doctorUsage[:len("usage: switchboard doctor [--json] [--config FILE | --socket PATH]")] + ")"}
	}
	sock, err := cf.socketPath()
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	c := newClient(sock, cf.json, stdout, nil)
	var rep doctor.Report
	raw, err := c.call("GET", "/api/v1/diagnostics", nil, &rep)
	var ee *exitError
	if errors.As(err, &ee) && ee.code == 3 {
		// The first thing a doctor diagnoses is a daemon that does not run.
		rep = doctor.Report{Status: doctor.Fail, Time: time.Now().UTC(), Checks: []doctor.Result{{ID: "daemon", Status: doctor.Fail,
			Detail: ee.msg, Fix: "start it (systemctl start switchboard) and read why it stopped (journalctl -u switchboard)"}}}
		raw, _ = json.Marshal(rep)
	} else if err != nil {
		return err
	}
	if cf.json {
		if err := c.show(raw, nil); err != nil {
			return err
		}
	} else if err := rep.Write(stdout); err != nil {
		return err
	}
	if rep.Status == doctor.Fail {
		return &exitError{code: 1}
	}
	return nil
}

const vantageUsage = `usage: switchboard vantage --listen ADDR

Runs the outside end of "switchboard doctor" on a host outside the appliance's
NAT (a VPS, a second appliance): GET /v1/ip answers the caller's address (for
doctor.echo_url), POST /v1/probe connects back to the caller's own public
address on the TCP ports asked and sends it a UDP datagram. It never probes
any other address. Point doctor.vantage at http://THIS-HOST:PORT.
`

// cmdVantage is "switchboard vantage": the doctor's outside vantage.
func cmdVantage(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vantage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":7070", "TCP address to listen on")
	if printHelp(stdout, fs, args, vantageUsage) {
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return &exitError{code: 1, msg: "vantage: " + err.Error()}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("vantage listening", "addr", ln.Addr().String())
	srv := &http.Server{Handler: (&doctor.Vantage{Log: log}).Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &exitError{code: 1, msg: "vantage: " + err.Error()}
	}
	return nil
}

// printHelp prints usage and the flags to stdout when args ask for help.
func printHelp(stdout io.Writer, fs *flag.FlagSet, args []string, usage string) bool {
	if !helpAsked(args) {
		return false
	}
	fmt.Fprintf(stdout, "%s\nFlags:\n", strings.TrimRight(usage, "\n")+"\n")
	fs.SetOutput(stdout)
	fs.PrintDefaults()
	return true
}

// helpAsked is true for "help" first, or "-h" or "--help" anywhere in args.
func helpAsked(args []string) bool {
	if len(args) > 0 && args[0] == "help" {
		return true
	}
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}
