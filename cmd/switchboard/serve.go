package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/dhcp"
	"github.com/switchboard-pbx/switchboard/doctor"
	"github.com/switchboard-pbx/switchboard/ha"
	"github.com/switchboard-pbx/switchboard/httpd"
	"github.com/switchboard-pbx/switchboard/httpprov"
	"github.com/switchboard-pbx/switchboard/internal/apidoc"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/phonebook"
	"github.com/switchboard-pbx/switchboard/pnp"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/resync"
	"github.com/switchboard-pbx/switchboard/store"
	"github.com/switchboard-pbx/switchboard/tftpd"
	"github.com/switchboard-pbx/switchboard/webui"
)

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/switchboard/switchboard.yaml", "configuration file")
	if printHelp(stdout, fs, args, "usage: switchboard serve [--config FILE]\n\nRuns the daemon until SIGTERM or SIGINT.\n") {
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("serve: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	log := newLogger(cfg.Log, stderr)
	if p := os.Getenv("SWITCHBOARD_CPUPROFILE"); p != "" {
		// Diagnostics: a CPU profile of the whole run, for "go tool pprof".
		f, err := os.Create(p) //nolint:gosec // G304: the profile path the operator set
		if err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return &exitError{code: 2, msg: err.Error()}
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("switchboard stopped", "err", err)
		return &exitError{code: 1}
	}
	return nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.Level)) //nolint:errcheck // validated by config
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the daemon's components until ctx ends.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	log.Info("starting", "version", versionString(), "data_dir", cfg.DataDir)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, store.DefaultConfig(cfg.DataDir))
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	d, err := build(ctx, cfg, log, st, stdout)
	if err != nil {
		return err
	}
	err = component.Run(ctx, component.Options{Log: log, Store: st, Registry: registry(st), Web: d.web, Role: d.role,
		Ready: func() {
			log.Info("ready", "revision", st.Revision())
			if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
				log.Warn("sd_notify failed", "err", err)
			}
			go watchdog(ctx, log)
		}}, d.components...)
	daemon.SdNotify(false, daemon.SdNotifyStopping) //nolint:errcheck // best effort
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// daemonParts is what build assembles: the components in the order they bind, the
// shared HTTP side, and the HA role when HA is on.
type daemonParts struct {
	components []component.Component
	web        *component.Web
	role       component.RoleSource
	doctor     *doctor.Doctor
}

// build makes the components the configuration asks for. This list is the
// daemon: each entry is one service with its own package.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, stdout io.Writer) (daemonParts, error) {
	var d daemonParts
	clog := func(name string) *slog.Logger { return log.With("component", name) }
	add := func(c component.Component, activeOnly bool) {
		if activeOnly {
			c = component.ActiveOnly(c)
		}
		d.components = append(d.components, c)
	}

	prov, err := provision.New(st, cfg.Tenancy, cfg.Provisioning, clog("render"))
	if err != nil {
		return d, err
	}
	prov.AssetDir(filepath.Join(cfg.DataDir, "assets"))
	if _, err := prov.EnsureDefaultTenant(ctx); err != nil {
		return d, fmt.Errorf("default tenant: %w", err)
	}
	// The phonebook runs on both HA nodes, as the renderer does: its files are
	// ready when a passive node takes over.
	book, err := phonebook.New(ctx, cfg.Phonebook, clog("phonebook"), st, prov)
	if err != nil {
		return d, err
	}
	prov.AddDirectory(phonebook.Dir, book)
	api, err := admin.New(cfg.Admin, clog("admin"), st, prov, version)
	if err != nil {
		return d, err
	}
	d.web = component.NewWeb(api)
	if !cfg.CTI.Enabled {
		api.FeatureOff("/api/v1/cti", "the CTI server is off (set cti.enabled: true and cti.ami.* in the configuration)")
	}
	if !cfg.DHCP.Enabled {
		api.FeatureOff("/api/v1/dhcp", "the daemon's DHCP server is not enabled (set dhcp.enabled in the configuration)")
	}
	// The redirect kinds and device rules are registered even when the service
	// is off, so that devices and restores are still checked.
	redir, err := redirect.New(cfg.Redirect, st, prov, clog("redirect"))
	if err != nil {
		return d, err
	}
	httpSrv, err := httpd.New(cfg.HTTP, clog("http"), d.web)
	if err != nil {
		return d, err
	}
	console, err := webui.New()
	if err != nil {
		return d, err
	}
	add(prov, false)
	add(book, false)
	add(api, false)
	add(admin.NewSocketServer(cfg.Admin.Socket, d.web.Secure(), clog("socket")), false)
	add(httpSrv, false)
	add(console, false)
	add(apidoc.New(version), false)
	// One budget of unknown files for HTTP and TFTP, and one logger for its
	// line: both protocols write the same line (README, fail2ban).
	unknownLimit := provision.NewThrottle(ratelimit.New(cfg.Provisioning.UnknownBurst, cfg.Provisioning.UnknownInterval), clog("provisioning"))
	add(httpprov.New(clog("provisioning"), prov, unknownLimit), true)

	// Always there, HA on or off: its settings can be saved and started at run
	// time, and the role it gives follows them (a node with HA off serves).
	hasvc, err := ha.NewService(cfg.HA, cfg.DataDir, st, clog("ha"), cfg.Tenancy.Mode == provision.ModeSingle)
	if err != nil {
		return d, err
	}
	d.role = hasvc
	add(hasvc, false)
	if cfg.Demo.Enabled {
		demo, err := newDemo(ctx, cfg, st, prov, api, httpSrv, stdout)
		if err != nil {
			return d, fmt.Errorf("demo set-up: %w", err)
		}
		add(demo, false)
	}
	if cfg.Redirect.Enabled {
		add(redir, true)
	}
	if cfg.TFTP.Listen != "" {
		tftp, err := tftpd.New(cfg.TFTP, clog("tftp"), prov, unknownLimit)
		if err != nil {
			return d, err
		}
		add(tftp, true)
	}
	pbxDB, err := openPBXDB(cfg)
	if err != nil {
		return d, err
	}
	if cfg.CTI.Enabled {
		c, err := cti.New(cfg.CTI, clog("cti"), st)
		if err != nil {
			return d, err
		}
		c.SetPBXLocation(pbxLocation(cfg))
		if cfg.CTIHistoryFromPBX() {
			c.SetHistorySource(pbxDB)
			clog("cti").Info("call history from the PBX database", "table", cfg.Tasks.CDR.Table)
		}
		if err := book.MountCTI(ctiMounter(c)); err != nil {
			return d, err
		}
		add(c, true)
	}
	// Resync reaches the PBX with the CTI's AMI settings, whether or not the
	// CTI runs; without credentials it answers that they are missing.
	rs, err := resync.New(cfg.Resync, cfg.CTI.AMI, st, prov, clog("resync"))
	if err != nil {
		return d, err
	}
	add(rs, false)
	api.SetSaveHint(func(ctx context.Context, tenant, kind, id string) (any, error) {
		return rs.Affected(ctx, tenant, kind, id)
	})
	tasksSvc, err := newTasks(ctx, cfg, clog("tasks"), st, prov, pbxDB)
	if err != nil {
		return d, err
	}
	add(tasksSvc, true)
	if cfg.DHCP.Enabled {
		srv, err := dhcp.NewForProvisioning(ctx, cfg.DHCP, clog("dhcp"), st, prov, cfg.Provisioning.BaseURL)
		if err != nil {
			return d, err
		}
		add(srv, true)
	}
	if cfg.PnP.Enabled {
		resp, err := pnp.New(cfg.PnP, clog("pnp"), prov, prov.BuiltinCatalog().Brands)
		if err != nil {
			return d, err
		}
		add(resp, true)
	}
	// The console shows the pages of the optional services that run.
	var optional []string
	for _, c := range d.components {
		if n := c.Name(); n == "redirect" || n == "dhcp" || n == "pnp" || n == "cti" || n == "ha" {
			optional = append(optional, n)
		}
	}
	if rs.Configured() {
		optional = append(optional, "resync")
	}
	api.SetFeatures(optional)
	d.doctor = doctor.New(cfg.Doctor.Timeout, doctor.Standard(doctorEnv(cfg, st, hasvc))...)
	// Services add their own checks.
	smtpRoots, err := x509.SystemCertPool()
	if err != nil || smtpRoots == nil {
		smtpRoots = x509.NewCertPool()
	}
	if cfg.Tasks.CAFile != "" {
		if b, err := os.ReadFile(cfg.Tasks.CAFile); err == nil {
			smtpRoots.AppendCertsFromPEM(b)
		}
	}
	d.doctor.Add(doctor.SMTPCheck(func(ctx context.Context) (doctor.SMTPTarget, bool, error) {
		m, err := tasksSvc.Mail(ctx)
		return doctor.SMTPTarget{Host: m.Host, Port: m.Port, Security: m.Security, Roots: smtpRoots}, m.Configured, err
	}))
	add(d.doctor, false)
	return d, nil
}

// ctiMounter mounts another package's /webrest routes on the CTI, for its
// logged-in users.
func ctiMounter(c *cti.Service) phonebook.Mounter {
	return func(pattern string, h phonebook.UserHandler) error {
		return c.Mount(pattern, func(w http.ResponseWriter, r *http.Request, caller cti.Caller) error {
			return h(w, r, phonebook.User{Username: caller.Username, IP: caller.IP, Profile: caller})
		})
	}
}

// doctorEnv is what the doctor's checks look at.
func doctorEnv(cfg config.Config, st *store.Store, node *ha.Service) doctor.Env {
	env := doctor.Env{Public: cfg.Public, Config: cfg.Doctor, HTTPSAddr: cfg.HTTP.HTTPSListen,
		SelfSigned: cfg.HTTP.SelfSigned, DataDir: cfg.DataDir, Store: st,
		URLs: []doctor.NamedURL{{Name: "the provisioning base URL", Key: "provisioning.base_url", URL: cfg.Provisioning.BaseURL}}}
	if cfg.HTTP.Listen != "" {
		env.Listeners = append(env.Listeners, doctor.Listener{Name: "http", Network: "tcp", Addr: cfg.HTTP.Listen, Key: "http.listen"})
	}
	env.Listeners = append(env.Listeners, doctor.Listener{Name: "https", Network: "tcp", Addr: cfg.HTTP.HTTPSListen, Key: "http.https_listen"})
	if cfg.TFTP.Listen != "" {
		env.Listeners = append(env.Listeners, doctor.Listener{Name: "tftp", Network: "udp-tftp", Addr: cfg.TFTP.Listen, Key: "tftp.listen", ActiveOnly: true})
	}
	env.Listeners = append(env.Listeners, doctor.Listener{Name: "socket", Network: "unix", Addr: cfg.Admin.Socket, Key: "admin.socket"})
	if cfg.CTI.Enabled {
		a := cfg.CTI.AMI
		env.AMI = &a
		if cfg.CTI.FQDN != "" {
			env.URLs = append(env.URLs, doctor.NamedURL{Name: "the mobile app's QR code host", Key: "cti.fqdn", URL: cfg.CTI.FQDN})
		}
	}
	if node != nil {
		env.HA = node.Status
		env.Active = node.IsActive
		env.HAUnits = cfg.HA.Units
		env.UnitsFile = "/etc/switchboard-ha-units"
		env.AsRoot = os.Geteuid() == 0
	}
	return env
}

// registry holds the process's metrics and the store revision.
func registry(st *store.Store) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_store_revision",
			Help: "Global configuration revision (committed changes)."}, func() float64 { return float64(st.Revision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_build_info",
			Help:        "Always 1; the labels say which build runs.",
			ConstLabels: prometheus.Labels{"version": version, "commit": commitString(), "goversion": runtime.Version()}},
			func() float64 { return 1 }),
	)
	return reg
}

// watchdog pings systemd at half the WatchdogSec interval, when one is set.
func watchdog(ctx context.Context, log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
				log.Warn("watchdog notify failed", "err", err)
			}
		}
	}
}
