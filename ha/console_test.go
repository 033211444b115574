package ha

// The HA pages of the web console, driven in Chromium against a real two-node
// pair in network namespaces: both configured from their own console ("Salva e
// avvia il servizio"), paired from the coordinator's page, switched from the
// passive's page, and each node's status page showing the new active node.

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// dialIn connects to addr from inside network namespace ns.
func dialIn(ns, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if netns.Set(orig) == nil {
		// A thread that could not go back stays locked: Go ends it with the goroutine.
		runtime.UnlockOSThread()
	}
	return c, err
}

// forward makes addr (inside the client namespace) reachable for the browser,
// which runs in the test's namespace, at the returned 127.0.0.1 address.
func forward(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := dialIn(nsClient, addr)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(up, c); done <- struct{}{} }()
				go func() { io.Copy(c, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// fillSettings fills the configuration form of a node.
func fillSettings(p *webuitest.Page, kv [][2]string) {
	p.T.Helper()
	for _, f := range kv {
		if f[0] == "interface" || f[0] == "sync_interface" || f[0] == "local_ip" || f[0] == "sync_local_ip" || f[0] == "state" {
			p.WaitOption("#ha-form", f[0], f[1])
		}
		p.Fill("#ha-form", f[0], f[1])
	}
}

func TestHAConsole(t *testing.T) {
	if webuitest.Chromium() == "" {
		t.Skip("chromium is not installed (CI installs Debian's chromium from .ci/run)")
	}
	c := newClusterMode(t, false, true)
	c.start(c.a)
	c.start(c.b)
	if !waitFor(15*time.Second, func() bool { return c.socketsReady(c.a) && c.socketsReady(c.b) }) {
		t.Fatal("daemons did not start")
	}
	const pw = "ha-console-password"
	for _, n := range []*haNode{c.a, c.b} {
		if out, err := c.cli(n, pw+"\n", "user", "add", "installer", "--role", "admin", "--password-stdin"); err != nil {
			t.Fatalf("user add on %s: %v\n%s", n.name, err, out)
		}
	}
	br, err := webuitest.StartBrowser()
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	pa := br.NewPage(t, "https://"+forward(t, "10.251.0.1:8443")+"/", "it")
	pa.Login("installer", pw)
	pb := br.NewPage(t, "https://"+forward(t, "10.251.0.2:8443")+"/", "it")
	pb.Login("installer", pw)

	common := [][2]string{{"interface", "sbhm"}, {"resource_ip", vip + "/24, " + vip6 + "/64"},
		{"ping_group", "10.251.0.201, 10.251.0.202"}, {"sync_interface", "sbhs"},
		{"keepalive_ms", "100"}, {"warning_ms", "300"}, {"dead_ms", "600"}, {"init_ms", "1200"}}

	// b: enabled, with a remote IP that is its own: refused by the API, the
	// field marked, nothing saved.
	pb.Go("ha/config")
	fillSettings(pb, [][2]string{{"state", "enabled"}})
	for sel, want := range map[string]string{`[data-field=remote_serial] label`: "S/N nodo remoto", `[data-field=resource_ip] label`: "Indirizzo IP risorsa",
		`[data-field=ping_group] label`: "Gruppo di ping", `[data-field=sync_interface] label`: "Interfaccia di sincronizzazione",
		`[data-field=default_active] label`: "Nodo attivo predefinito", `#ha-form button[type=submit]`: "Salva e avvia il servizio"} {
		if got := pb.Text(sel); !strings.HasPrefix(strings.TrimSpace(got), want) {
			t.Errorf("%s: %q, want the KalliopePBX label %q", sel, got, want)
		}
	}
	if got := webuitest.Eval[string](pb, `[...document.querySelector('#ha-form [name=state]').options].map(o => o.text.replace(/[\u2062\u2063]/g, "")).join("|")`); got != "Disabilitato|Abilitato|Abilitato come coordinatore" {
		t.Errorf("state options: %q", got)
	}
	fillSettings(pb, append(append([][2]string{{"state", "enabled"}}, common...), [][2]string{{"local_ip", "10.251.0.2"},
		{"remote_ip", "10.251.0.2"}, {"sync_local_ip", "10.251.1.2"}, {"sync_remote_ip", "10.251.1.1"}}...))
	pb.Submit("#ha-form")
	pb.WaitVisible("dialog[open] #ha-confirm-text")
	if txt := pb.Text("#ha-confirm-text"); !strings.Contains(txt, "node-b") {
		t.Errorf("the confirmation does not say which node: %q", txt)
	}
	pb.Confirm()
	if msg := pb.FieldError("#ha-form", "remote_ip"); !strings.Contains(msg, "Indirizzo IP remoto") {
		t.Errorf("remote_ip error: %q", msg)
	}
	pb.Shot("config-error")
	if s := c.status(c.b); s.State != StateDisabled {
		t.Fatalf("a refused setting changed b: %+v", s)
	}
	pb.Fill("#ha-form", "remote_ip", "10.251.0.1")
	pb.Submit("#ha-form")
	pb.Confirm()
	pb.Reshown("ha")
	pb.WaitVisible(`#ha-pairing[data-pairing=waiting]`)

	// a: the coordinator.
	pa.Go("ha/config")
	fillSettings(pa, append(append([][2]string{{"state", "coordinator"}}, common...), [][2]string{{"remote_serial", "node-b"},
		{"default_active", "true"}, {"local_ip", "10.251.0.1"}, {"remote_ip", "10.251.0.2"}, {"sync_local_ip", "10.251.1.1"},
		{"sync_remote_ip", "10.251.1.2"}}...))
	pa.Shot("config-coordinator")
	pa.Submit("#ha-form")
	pa.Confirm()
	pa.Reshown("ha")
	for _, bad := range pa.Untranslated() {
		t.Errorf("#/ha before pairing: %s", bad)
	}

	// Pair from the coordinator's page.
	pa.WaitVisible("#ha-act-pair")
	pa.Click("#ha-act-pair")
	pa.WaitVisible("dialog[open] #ha-confirm-text")
	if txt := pa.Text("#ha-confirm-text"); !strings.Contains(txt, "node-b") || !strings.Contains(txt, "node-a") {
		t.Errorf("the pairing confirmation does not name both nodes: %q", txt)
	}
	pa.Shot("confirm-pair")
	pa.Confirm()
	pa.WaitVisible(`#ha-active-node[data-serial=node-a]`)
	c.settle("a", 15*time.Second)
	pb.Go("ha")
	pb.WaitVisible(`#ha-active-node[data-serial=node-a]`)
	pb.WaitVisible(`#ha-node-remote[data-serial=node-a]`)
	if got := pb.Text("#ha-act-takeover"); got != "Commuta nodo attivo" {
		t.Errorf("the passive's switch button: %q", got)
	}
	if got := pb.Text("#ha-act-unpair"); got != "Sgancia nodo" {
		t.Errorf("the passive's unpair button: %q", got)
	}
	for _, bad := range pb.Untranslated() {
		t.Errorf("#/ha on the passive: %s", bad)
	}
	pb.Shot("status-passive")

	// Switch from the passive's page.
	pb.Click("#ha-act-takeover")
	pb.WaitVisible("dialog[open] #ha-confirm-text")
	if txt := pb.Text("#ha-confirm-text"); !strings.Contains(txt, vip) || !strings.Contains(txt, "node-a") {
		t.Errorf("the switch confirmation does not say what moves from where: %q", txt)
	}
	pb.Confirm()
	pb.WaitVisible(`#ha-active-node[data-serial=node-b]`)
	c.settle("b", 15*time.Second)
	// Each node's status page shows the new active node (a's without a reload).
	pa.WaitVisible(`#ha-active-node[data-serial=node-b]`)
	pa.WaitVisible(`#ha-service-state[data-state=standby]`)
	pb.WaitVisible(`#ha-service-state[data-state=active]`)
	for sel, want := range map[string]string{"#ha-act-switch": "Commuta nodo attivo", "#ha-act-unpair-passive": "Sgancia nodo passivo",
		"#ha-act-disable": "Disabilita alta affidabilità"} {
		if got := pb.Text(sel); got != want {
			t.Errorf("the active's %s: %q, want %q", sel, got, want)
		}
	}
	pa.Shot("status-after-switch-a")
	pb.Shot("status-after-switch-b")
	if !hasAudit(c.audit(c.b), "ha takeover") {
		t.Error("the switch from the passive is not audited")
	}
}
