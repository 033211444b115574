package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/httpd"
	"github.com/switchboard-pbx/switchboard/httpprov"
	"github.com/switchboard-pbx/switchboard/pnp"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/ratelimit"
	"github.com/switchboard-pbx/switchboard/redirect"
	"github.com/switchboard-pbx/switchboard/store"
	"github.com/switchboard-pbx/switchboard/tftpd"
	"github.com/switchboard-pbx/switchboard/webui"
)

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/switchboard/switchboard.yaml", "configuration file")
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
		f, err := os.Create(p)
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

// serve wires the services together and runs them until ctx ends.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	log.Info("starting", "version", versionString(), "data_dir", cfg.DataDir)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, store.DefaultConfig(cfg.DataDir))
	if err != nil {
		return err
	}
	defer st.Close()
	prov, err := provision.New(st, cfg.Tenancy, cfg.Provisioning, log)
	if err != nil {
		return err
	}
	prov.AssetDir(filepath.Join(cfg.DataDir, "assets"))
	if _, err := prov.EnsureDefaultTenant(ctx); err != nil {
		return fmt.Errorf("default tenant: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_store_revision",
			Help: "Global configuration revision (committed changes)."}, func() float64 { return float64(st.Revision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_build_info",
			Help: "Always 1; the version is in the help of 'switchboard version'."}, func() float64 { return 1 }),
	)
	api, err := admin.New(cfg.Admin, log, st, prov, reg, version)
	if err != nil {
		return err
	}
	// The redirect kinds and device rules are registered even when the service is
	// off, so that devices and restores are still checked.
	redir, err := redirect.New(cfg.Redirect, st, prov, log)
	if err != nil {
		return err
	}
	if cfg.Redirect.Enabled {
		api.MountRedirect(redir)
	}

	haNode, err := setupHA(cfg, log, st, api, reg)
	if err != nil {
		return err
	}
	// What follows the active role (see rolegate.go); always open without HA.
	gate := alwaysOpen()
	if haNode != nil {
		gate = newRoleGate(log)
		followRole(haNode, gate)
	}

	var demo *demoLogin
	if cfg.Demo.Enabled {
		if demo, err = setupDemo(ctx, cfg, st, prov, api); err != nil {
			return fmt.Errorf("demo set-up: %w", err)
		}
	}

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_http_requests_total",
		Help: "HTTP requests by listener, area and status code."}, []string{"listener", "area", "code"})
	reg.MustRegister(requests)

	health := func(w http.ResponseWriter, r *http.Request) {
		hctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := st.Ping(hctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"unavailable","error":%q}`+"\n", err.Error())
			return
		}
		fmt.Fprintf(w, `{"status":"ok","revision":%d}`+"\n", st.Revision())
	}
	unknownLimit := ratelimit.New(cfg.Provisioning.UnknownBurst, cfg.Provisioning.UnknownInterval)
	provisioning := httpprov.New(log, prov, unknownLimit)
	provFast := gate.Fast("provisioning", provisioning.ServeFast)

	secure := http.NewServeMux()
	secure.Handle("/api/", api.Handler())
	secure.Handle("/provisioning/", gate.Handler("provisioning", provisioning))
	secure.HandleFunc("GET /healthz", health)
	secure.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	var ctiSvc *cti.Service
	if cfg.CTI.Enabled {
		if ctiSvc, err = cti.New(cfg.CTI, log, st); err != nil {
			return err
		}
		ctiSvc.MountAdmin(api)
		reg.MustRegister(ctiSvc.Collectors()...)
		secure.Handle("/webrest/", gate.Handler("the CTI", ctiSvc.Handler()))
		secure.Handle("/socket.io/", gate.Handler("the CTI", ctiSvc.Handler()))
	}
	tasksSvc, closeTasks, err := setupTasks(cfg, log, st, prov, api, reg)
	if err != nil {
		return err
	}
	defer closeTasks()
	console, err := webui.New()
	if err != nil {
		return err
	}
	secure.Handle("/", console)

	toHTTPS := httpd.RedirectToHTTPS(cfg.HTTP.HTTPSListen)
	plain := func(ctx *fasthttp.RequestCtx) {
		p := ctx.Path()
		switch {
		case bytes.HasPrefix(p, []byte("/provisioning/")):
			provFast(ctx)
		case string(p) == "/healthz" && ctx.IsGet():
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			if err := st.Ping(ctx); err != nil {
				ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
				fmt.Fprintf(ctx, `{"status":"unavailable","error":%q}`+"\n", err.Error())
				return
			}
			fmt.Fprintf(ctx, `{"status":"ok","revision":%d}`+"\n", st.Revision())
		default:
			toHTTPS(ctx)
		}
	}

	srv, err := httpd.New(cfg.HTTP, log, count(requests, "https", secure), countFast(requests, plain))
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	services := []func(context.Context) error{prov.Serve, srv.Serve}
	if cfg.Redirect.Enabled {
		services = append(services, gate.Run("redirect", redir.Serve))
	}
	if haNode != nil {
		services = append(services, haNode.Serve)
	}
	if cfg.TFTP.Listen != "" {
		tftp, err := tftpd.New(cfg.TFTP, log, prov, unknownLimit)
		if err != nil {
			return err
		}
		// Without HA, bind now: a busy port stops start-up with one line. With
		// HA, Serve binds when this node becomes active.
		if gate.always {
			if err := tftp.Listen(); err != nil {
				return err
			}
		}
		services = append(services, gate.Run("tftp", tftp.Serve))
	}
	if ctiSvc != nil {
		services = append(services, gate.Run("cti", ctiSvc.Serve))
	}
	services = append(services, gate.Run("tasks", tasksSvc.Serve))
	if dhcpSvc, err := startDHCP(ctx, cfg, log, st, prov, api, reg, gate.always); err != nil {
		return err
	} else if dhcpSvc != nil {
		services = append(services, gate.Run("dhcp", dhcpSvc))
	}
	if cfg.PnP.Enabled {
		resp, err := pnp.New(cfg.PnP, log, prov, prov.BuiltinCatalog().Brands)
		if err != nil {
			return err
		}
		if gate.always {
			if err := resp.Listen(); err != nil {
				return err
			}
		}
		reg.MustRegister(resp.Collectors()...)
		services = append(services, gate.Run("pnp", resp.Serve))
	}
	sock := api.NewSocketServer(cfg.Admin.Socket)
	if err := sock.Listen(); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(services)+2) // every service can fail without blocking
	for _, svc := range append(services, sock.Serve, sessionJanitor(st, log)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := svc(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	if demo != nil {
		demo.print(stdout, cfg, srv)
	}
	log.Info("ready", "https", srv.HTTPSAddr().String(), "socket", cfg.Admin.Socket, "revision", st.Revision())
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify failed", "err", err)
	}
	go watchdog(ctx, log)
	<-ctx.Done()
	daemon.SdNotify(false, daemon.SdNotifyStopping) //nolint:errcheck // best effort
	log.Info("shutting down")
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		log.Info("stopped")
	}
	return errors.Join(errs...)
}

// count records each response's status code by listener and first path element.
// Counters are looked up once per (area, code): this sits on the phones' hot path.
func count(c *prometheus.CounterVec, listener string, h http.Handler) http.Handler {
	type key struct {
		area string
		code int
	}
	var cache sync.Map
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		area, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch area {
		case "api", "provisioning", "healthz", "metrics", "webrest", "socket.io":
		default:
			area = "other"
		}
		k := key{area, rec.code}
		ctr, ok := cache.Load(k)
		if !ok {
			ctr, _ = cache.LoadOrStore(k, c.WithLabelValues(listener, area, strconv.Itoa(rec.code)))
		}
		ctr.(prometheus.Counter).Inc()
	})
}

// countFast is count for the plain (fasthttp) listener.
func countFast(c *prometheus.CounterVec, h fasthttp.RequestHandler) fasthttp.RequestHandler {
	type key struct {
		area string
		code int
	}
	var cache sync.Map
	return func(ctx *fasthttp.RequestCtx) {
		h(ctx)
		area := "other"
		p := ctx.Path()
		switch {
		case bytes.HasPrefix(p, []byte("/provisioning/")):
			area = "provisioning"
		case string(p) == "/healthz":
			area = "healthz"
		}
		k := key{area, ctx.Response.StatusCode()}
		ctr, ok := cache.Load(k)
		if !ok {
			ctr, _ = cache.LoadOrStore(k, c.WithLabelValues("http", area, strconv.Itoa(k.code)))
		}
		ctr.(prometheus.Counter).Inc()
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func sessionJanitor(st *store.Store, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				if n, err := st.PurgeSessions(ctx, time.Now()); err != nil {
					log.Warn("purging expired sessions", "err", err)
				} else if n > 0 {
					log.Debug("purged expired sessions", "count", n)
				}
			}
		}
	}
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

// demoLogin is the demo admin's credentials, kept in data_dir/demo-login.txt.
type demoLogin struct {
	user, password, file string
	tenant               string // the demo tenant's UUID (multi-tenant mode)
}

func setupDemo(ctx context.Context, cfg config.Config, st *store.Store, prov *provision.Service, api *admin.API) (*demoLogin, error) {
	d := &demoLogin{user: "admin", file: filepath.Join(cfg.DataDir, "demo-login.txt")}
	defer func() {
		if prov.Mode() != provision.ModeMulti {
			return
		}
		if list, err := prov.Tenants(ctx); err == nil {
			for _, t := range list {
				if t.Name == "demo" {
					d.tenant = t.ID
				}
			}
		}
	}()
	if b, err := os.ReadFile(d.file); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "password: "); ok {
				d.password = v
			}
		}
		if d.password != "" {
			return d, nil
		}
	}
	tenant := prov.DefaultTenant()
	if prov.Mode() == provision.ModeMulti {
		list, err := prov.Tenants(ctx)
		if err != nil {
			return nil, err
		}
		tenant = ""
		for _, t := range list {
			if t.Name == "demo" {
				tenant = t.ID
			}
		}
		if tenant == "" {
			name, desc := "demo", "demo tenant created by make run"
			t, err := prov.CreateTenant(ctx, store.System, provision.TenantInput{Name: &name, Description: &desc})
			if err != nil {
				return nil, err
			}
			tenant = t.ID
		}
	}
	if err := seedDemo(ctx, prov, tenant); err != nil {
		return nil, err
	}
	d.password = randomPassword(16)
	role := admin.RoleAdmin
	full := "Demo administrator"
	if _, err := api.Users().Create(ctx, store.System, admin.UserInput{Username: &d.user, Password: &d.password, Role: &role, FullName: &full}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(d.file, []byte("username: "+d.user+"\npassword: "+d.password+"\n"), 0o600); err != nil {
		return nil, err
	}
	return d, nil
}

// seedDemo gives the demo tenant PBX settings, three accounts and three phones
// of different brands, so that the provisioning tree has files to fetch.
func seedDemo(ctx context.Context, prov *provision.Service, tenant string) error {
	if _, err := prov.SetPBX(ctx, store.System, tenant, json.RawMessage(`{"sip_server":"192.0.2.10","time_zone":"Europe/Rome","voicemail_number":"*98"}`)); err != nil {
		return err
	}
	phones := []struct{ ext, name, mac, model string }{
		{"201", "Ada Lovelace", "00:15:65:00:02:01", "yealink-t54w"},
		{"202", "Alan Turing", "00:04:13:00:02:02", "snom-d785"},
		{"203", "Grace Hopper", "C0:74:AD:00:02:03", "grandstream-grp2614"},
	}
	for _, p := range phones {
		first, last, _ := strings.Cut(p.name, " ")
		body, _ := json.Marshal(map[string]string{"extension": p.ext, "sip_password": randomPassword(12),
			"display_name": p.name, "first_name": first, "last_name": last})
		a, err := prov.SaveAccount(ctx, store.System, tenant, "", body)
		if err != nil {
			return err
		}
		body, _ = json.Marshal(map[string]any{"mac": p.mac, "model": p.model, "account": a.ID, "notes": "demo phone"})
		if _, err := prov.SaveDevice(ctx, store.System, tenant, "", body); err != nil {
			return err
		}
	}
	return nil
}

func randomPassword(n int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err) // crypto/rand does not fail on Linux
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func (d *demoLogin) print(w io.Writer, cfg config.Config, srv *httpd.Server) {
	url := func(a net.Addr, scheme string) string {
		_, port, _ := net.SplitHostPort(a.String())
		return scheme + "://localhost:" + port
	}
	fmt.Fprintf(w, "\nSwitchboard demo is running (Ctrl-C stops it).\n")
	fmt.Fprintf(w, "  Web and admin API:  %s/   (self-signed certificate: curl -k)\n", url(srv.HTTPSAddr(), "https"))
	tree := "/provisioning/"
	if d.tenant != "" {
		tree += d.tenant + "/"
	}
	if a := srv.PlainAddr(); a != nil {
		fmt.Fprintf(w, "  Provisioning HTTP:  %s%s\n", url(a, "http"), tree)
	}
	if cfg.TFTP.Listen != "" {
		fmt.Fprintf(w, "  Provisioning TFTP:  tftp://%s/%s\n", cfg.TFTP.Listen, strings.TrimPrefix(tree, "/provisioning/"))
	}
	fmt.Fprintf(w, "  Health, metrics:    %s/healthz  %s/metrics\n", url(srv.HTTPSAddr(), "https"), url(srv.HTTPSAddr(), "https"))
	fmt.Fprintf(w, "  Demo phones:        %s001565000201.cfg (Yealink T54W), 000413000202.xml (Snom D785), cfgc074ad000203.xml (Grandstream)\n", tree)
	fmt.Fprintf(w, "  Login:              %s / %s   (kept in %s)\n", d.user, d.password, d.file)
	fmt.Fprintf(w, "  CLI:                bin/switchboard --socket %s user list\n\n", cfg.Admin.Socket)
}
