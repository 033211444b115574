package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/nstest"
	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestServicePanels: the DHCP and SIP PnP pages, which exist when those
// services run. The daemon runs with both on in an appliance namespace, a
// phone namespace beside it gets a lease from busybox udhcpc and multicasts a
// PnP SUBSCRIBE, and Chromium (in the appliance namespace, to reach the
// console on its loopback) shows the lease, the vendor rules, the phone the
// responder answered and the phone on the unknown list, all in Italian with
// nothing untranslated.
func TestServicePanels(t *testing.T) {
	nstest.Need(t, "udhcpc")
	if webuitest.Chromium() == "" {
		t.Skip("chromium is not installed (CI installs Debian's chromium from .ci/run)")
	}
	nstest.RemoveLeftovers()
	srv, cli := nstest.New(t, "cs"), nstest.New(t, "cc")
	nstest.Link(t, srv, "sbcs0", "", cli, "sbcc0", "00:15:65:0c:0c:01")
	nstest.Run(t, "ip", "-n", srv, "addr", "add", "10.203.3.1/24", "dev", "sbcs0")
	nstest.Run(t, "ip", "-n", srv, "route", "add", "224.0.0.0/4", "dev", "sbcs0")
	d, err := webuitest.StartDaemonNS(webuitest.Binary(t), `provisioning:
  base_url: http://10.203.3.1:8080
dhcp:
  enabled: true
  interface: sbcs0
  pool_start: 10.203.3.100
  pool_end: 10.203.3.110
  subnet_mask: 255.255.255.0
  lease_time: 1h
pnp:
  enabled: true
  interfaces: [sbcs0]
  unknown: bootstrap
`, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	d.AddUser(t, "installer", "installer-password", "admin", "")

	// The phone: a lease, then an address and a PnP SUBSCRIBE.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sh")
	if err := writeScript(script, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := nstest.Cmd(ctx, cli, "udhcpc", "-f", "-q", "-n", "-i", "sbcc0", "-t", "5", "-T", "2", "-A", "1",
		"-V", "yealink SIP-T46U", "-O", "66", "-s", script).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc: %v\n%s\ndaemon:\n%s", err, b, d.Log.String())
	}
	lease := nstest.ReadEnv(t, filepath.Join(dir, "env.bound"))
	ip := lease["ip"]
	if !strings.HasPrefix(ip, "10.203.3.1") {
		t.Fatalf("lease: %v", lease)
	}
	nstest.Run(t, "ip", "-n", cli, "addr", "add", ip+"/24", "dev", "sbcc0")
	nstest.Run(t, "ip", "-n", cli, "route", "add", "224.0.0.0/4", "dev", "sbcc0")
	if err := nstest.In(cli, func() error { return subscribe(ip, "001565ABCDEF") }); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Recent []struct{ MAC string } `json:"recent"`
	}
	tok := d.Login(t, "installer", "installer-password")
	waitFor(t, "the PnP responder saw the phone", func() bool {
		d.API("GET", "/pnp", tok, nil, &st)
		return len(st.Recent) > 0
	})

	b, err := webuitest.StartBrowserNS(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	p := b.NewPage(t, "https://"+d.HTTPS+"/", "it")
	p.Login("installer", "installer-password")
	if s := p.Text("#nav"); !strings.Contains(s, "DHCP") || !strings.Contains(s, "SIP PnP") {
		t.Errorf("menu without the services: %q", s)
	}
	p.Go("dhcp")
	p.WaitVisible(`#dhcp-leases tr[data-ip="` + ip + `"]`)
	if s := p.Text(`#dhcp-leases tr[data-ip="` + ip + `"]`); !strings.Contains(s, "001565" /* MAC prefix */) || !strings.Contains(s, "yealink") || !strings.Contains(s, "assegnato") {
		t.Errorf("lease row: %q", s)
	}
	if s := p.Text("#dhcp-server"); !strings.Contains(s, "10.203.3.1") {
		t.Errorf("server: %q", s)
	}
	for _, bad := range append(p.Untranslated(), p.Unlabelled()...) {
		t.Errorf("#/dhcp: %s", bad)
	}
	p.Shot("dhcp")
	p.Go("pnp")
	p.WaitVisible(`#pnp-recent tr[data-mac="001565ABCDEF"]`)
	if s := p.Text(`#pnp-recent tr[data-mac="001565ABCDEF"]`); !strings.Contains(s, "URL di bootstrap") || !strings.Contains(s, "http://10.203.3.1:8080/provisioning/") {
		t.Errorf("PnP row: %q", s)
	}
	if s := p.Text("#pnp-policy"); !strings.Contains(s, "sbcs0") || !strings.Contains(s, "ricevono l'URL di bootstrap") {
		t.Errorf("PnP policy: %q", s)
	}
	for _, bad := range append(p.Untranslated(), p.Unlabelled()...) {
		t.Errorf("#/pnp: %s", bad)
	}
	p.Shot("pnp")
	// The phone PnP answered is on the unknown list, seen through PnP.
	p.Go("unknown")
	p.WaitVisible(`#unknown tr[data-mac="001565ABCDEF"]`)
	if s := p.Text(`#unknown tr[data-mac="001565ABCDEF"]`); !strings.Contains(s, "(sip pnp)") {
		t.Errorf("unknown row: %q", s)
	}
	p.Go("ha")
	for _, bad := range p.Untranslated() {
		t.Errorf("#/ha: %s", bad)
	}
	p.Shot("ha")
}

func writeScript(path, dir string) error {
	return exec.Command("sh", "-c", fmt.Sprintf("printf '#!/bin/sh\\nenv > \"%s/env.$1\"\\n' > %s && chmod 755 %s", dir, path, path)).Run()
}

// subscribe multicasts a SIP PnP SUBSCRIBE (ua-profile) for mac from ip, the
// way a factory-fresh Yealink does.
func subscribe(ip, mac string) error {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		return err
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	msg := fmt.Sprintf("SUBSCRIBE sip:MAC%%3a%s@224.0.1.75 SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-console1\r\n"+
		"From: <sip:MAC%%3a%s@224.0.1.75>;tag=t-console1\r\n"+
		"To: <sip:MAC%%3a%s@224.0.1.75>\r\n"+
		"Call-ID: console-1@%s\r\nCSeq: 1 SUBSCRIBE\r\n"+
		"Contact: <sip:%s:%d>\r\n"+
		"Event: ua-profile;profile-type=\"device\";vendor=\"Yealink\";model=\"T46U\";version=\"108.86.0.20\"\r\n"+
		"User-Agent: Yealink SIP-T46U 108.86.0.20\r\n"+
		"Accept: application/url\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n", mac, ip, port, mac, mac, ip, ip, port)
	_, err = c.WriteToUDP([]byte(msg), &net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5060})
	return err
}
