package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/switchboard-pbx/switchboard/admin"
	"github.com/switchboard-pbx/switchboard/config"
	"github.com/switchboard-pbx/switchboard/httpd"
	"github.com/switchboard-pbx/switchboard/internal/atomicfile"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// demoLogin is the demo admin's credentials, kept in data_dir/demo-login.txt.
type demoLogin struct {
	user, password, file string
	tenant               string // the demo tenant's UUID (multi-tenant mode)
	// changed is set once the admin's password is no longer the demo's (the
	// user changed it): the banner and the file then say so.
	changed bool
}

// changedNote replaces the password in the file and the banner once it no
// longer applies.
const changedNote = "(changed since the demo set it up: use the password you chose)"

// check compares the stored password with the demo's and, when it was
// changed, rewrites the file so that it no longer shows a password that does
// not work.
func (d *demoLogin) check(ctx context.Context, users *admin.Users) {
	if d.changed || d.password == "" {
		return
	}
	u, err := users.Get(ctx, d.user)
	if err != nil || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(d.password)) == nil {
		return
	}
	d.changed = true
	// Atomically: "make run" users (and a test) read it while it changes.
	atomicfile.Write(d.file, []byte("username: "+d.user+"\npassword: "+changedNote+"\n"), 0o600) //nolint:errcheck // the banner says it anyway
}

// demo is the component "make run" adds: it seeds the demo tenant and login on
// first start and prints the banner once the listeners are bound.
type demo struct {
	component.Base
	mu    sync.Mutex
	users *admin.Users
	login *demoLogin
	cfg   config.Config
	srv   *httpd.Server
	out   io.Writer
}

func newDemo(ctx context.Context, cfg config.Config, st *store.Store, prov *provision.Service, api *admin.API, srv *httpd.Server, out io.Writer) (*demo, error) {
	login, err := setupDemo(ctx, cfg, st, prov, api)
	if err != nil {
		return nil, err
	}
	return &demo{login: login, users: api.Users(), cfg: cfg, srv: srv, out: out}, nil
}

// Commit notices a change of the admin's password.
func (d *demo) Commit(c store.Commit) {
	if !c.Touches(admin.KindUser) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.login.check(context.Background(), d.users)
}

func (d *demo) Name() string { return "demo" }

// Serve prints the banner (every component is bound by now) and waits.
func (d *demo) Serve(ctx context.Context) error {
	d.mu.Lock()
	d.login.check(ctx, d.users)
	d.login.print(d.out, d.cfg, d.srv)
	d.mu.Unlock()
	<-ctx.Done()
	return nil
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
		if d.password == changedNote {
			d.changed = true
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
