package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPnPThroughDaemon: "switchboard serve" with pnp enabled, in a network
// namespace of its own (one end of a veth pair), answers a
// SUBSCRIBE to 224.0.1.75 from a socket in that namespace with a 200 OK and a
// NOTIFY carrying the bootstrap URL, and counts it on /metrics.
func TestPnPThroughDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 not installed")
	}
	ns, ifc := fmt.Sprintf("sbpe2e%dn1", os.Getpid()), fmt.Sprintf("sbpd%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run()
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, c := range [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", ifc, "type", "veth", "peer", "name", ifc + "p"},
		{"-n", ns, "link", "set", ifc + "p", "up"},
		{"-n", ns, "link", "set", ifc, "up"},
		{"-n", ns, "addr", "add", "198.18.200.1/24", "dev", ifc},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", ifc},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "sb.sock")
	cfg := fmt.Sprintf("data_dir: %s\nhttp: {listen: \"127.0.0.1:18080\", https_listen: \"127.0.0.1:18443\"}\n"+
		"tftp: {listen: \"\"}\nadmin: {socket: %s, bcrypt_cost: 4}\nprovisioning: {base_url: \"http://198.18.200.1:8080\"}\n"+
		"pnp: {enabled: true, interfaces: [%s], unknown: bootstrap}\n", filepath.Join(dir, "data"), sock, ifc)
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command("ip", "netns", "exec", ns, binPath, "serve", "--config", cfgPath)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "msg=ready"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready:\n%s", stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("daemon exited: %v\n%s", err, stderr.String())
		default:
		}
	}
	// PnP runs on the active node only: it binds once the node is active,
	// which may be just after "ready".
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), `msg=listening component=pnp group=224.0.1.75:5060`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pnp listener in the log:\n%s", stderr.String())
		}
	}

	// The phone: a socket in the daemon's namespace (multicast loops back to it).
	var conn *net.UDPConn
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, _ := os.Open("/proc/thread-self/ns/net")
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 200, 1)})
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	sub := fmt.Sprintf("SUBSCRIBE sip:MAC%%3a0004132D4F5A@224.0.1.75 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.200.1:%d;branch=z9hG4bK-e2e\r\n"+
		"From: <sip:MAC%%3a0004132D4F5A@224.0.1.75>;tag=e2e\r\nTo: <sip:MAC%%3a0004132D4F5A@224.0.1.75>\r\nCall-ID: e2e-1\r\n"+
		"CSeq: 1 SUBSCRIBE\r\nContact: <sip:198.18.200.1:%d>\r\nEvent: ua-profile;profile-type=\"device\";vendor=\"OEM\";model=\"OEM\"\r\n"+
		"Expires: 0\r\nContent-Length: 0\r\n\r\n", port, port)
	if _, err := conn.WriteToUDP([]byte(sub), &net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5060}); err != nil {
		t.Fatal(err)
	}
	var got []string
	buf := make([]byte, 9000)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for len(got) < 2 {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("got %d of 2 messages: %v\n%s", len(got), err, stderr.String())
		}
		got = append(got, string(buf[:n]))
	}
	if !strings.HasPrefix(got[0], "SIP/2.0 200 OK\r\n") || !strings.HasPrefix(got[1], "NOTIFY sip:198.18.200.1:") {
		t.Fatalf("want 200 OK then NOTIFY, got:\n%s\n---\n%s", got[0], got[1])
	}
	// Unknown phone, bootstrap policy, no bootstrap_url: the tenant's directory.
	if !strings.HasSuffix(got[1], "\r\n\r\nhttp://198.18.200.1:8080/provisioning/") {
		t.Errorf("NOTIFY body:\n%s", got[1])
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sk", "https://127.0.0.1:18443/metrics").Output()
	if err == nil && !strings.Contains(string(out), "switchboard_pnp_answered_total 1") {
		t.Errorf("metrics without the answered SUBSCRIBE:\n%s", out)
	}
}
