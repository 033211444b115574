package rootfs

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/chroottest"
	"github.com/switchboard-pbx/switchboard/internal/testlog"
)

// TestQEMUBoot boots the full image (kernel included) under qemu-system-x86_64
// with user-mode networking, ports forwarded to 127.0.0.1 only, and checks the
// first boot on the serial console, then provisions a phone through the admin
// API with the console's password and fetches its file over plain HTTP. It is
// opt-in (SB_TEST_QEMU=1, "make test-qemu"): the kernel tree costs a few
// minutes of debootstrap on the first run, and software emulation about 1.5 min
// of boot, more than the packaging tests' CI budget.
func TestQEMUBoot(t *testing.T) {
	if os.Getenv("SB_TEST_QEMU") != "1" {
		t.Skip("opt-in: SB_TEST_QEMU=1 (make test-qemu) boots the image under qemu")
	}
	nfpm := os.Getenv("NFPM")
	if nfpm == "" {
		t.Skip("NFPM not set: run through make test-qemu")
	}
	chroottest.RequireRoot(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
	}
	if err := chroottest.EnsureNFPM(nfpm); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(chroottest.RepoRoot(t), "rootfs", "build-image.sh"))
	cmd.Env = append(os.Environ(), "NFPM="+nfpm, "VERSION="+version, "COMMIT=feedface0002", "OUT="+out,
		"SB_CACHE="+chroottest.CacheDir(t))
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, b)
	}
	t.Logf("image with kernel built in %s", time.Since(start).Round(time.Second))
	base := filepath.Join(out, "switchboard-"+version+"-amd64")

	const serial = "QEMU-TEST-0042"
	// KVM is not used: /dev/kvm exists on these machines but a guest kernel
	// hangs right after decompression under it (nested virtualisation), so
	// this is TCG, plain software emulation. SB_QEMU_ACCEL overrides.
	accel := os.Getenv("SB_QEMU_ACCEL")
	if accel == "" {
		accel = "tcg"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// QEMU's hostfwd needs port numbers and cannot take a listening socket,
	// and with port 0 it would not say which ones it got. So the ports are
	// picked free and may be taken by someone else before QEMU binds them:
	// QEMU then exits at once saying it could not set up the forwarding
	// rule, and the boot is retried on other ports. Once QEMU runs it holds
	// both ports, so nothing else can answer on them.
	var (
		httpPort, httpsPort int
		console             *lockedBuffer
		exited              chan struct{}
	)
	boot := func() {
		httpPort, httpsPort = unusedPort(t), unusedPort(t)
		q := exec.CommandContext(ctx, "qemu-system-x86_64",
			"-machine", "q35,accel="+accel, "-cpu", "max", "-m", "1024", "-smp", "2",
			"-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio",
			"-kernel", base+".vmlinuz", "-initrd", base+".initrd",
			"-append", "root=LABEL=sbroot console=ttyS0 panic=-1",
			"-drive", "file="+base+".ext4,format=raw,if=virtio",
			"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80,hostfwd=tcp:127.0.0.1:%d-:443", httpPort, httpsPort),
			"-device", "virtio-net-pci,netdev=n0",
			"-smbios", "type=1,serial="+serial)
		c, done := &lockedBuffer{}, make(chan struct{})
		q.Stdout, q.Stderr = c, c
		if err := q.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { q.Wait(); close(done) }() // exit seen through done
		console, exited = c, done
		t.Cleanup(func() {
			q.Process.Kill() // it may have exited
			<-done
			if t.Failed() {
				t.Logf("console:\n%s", c.String())
			}
		})
	}
	boot()

	// First boot: the console shows the DMI serial and a one-time password.
	var password string
	bootStart := time.Now()
	banner := regexp.MustCompile(`Login:\s+admin / (\S+)`)
	for attempt := 1; password == ""; time.Sleep(time.Second) {
		if m := banner.FindStringSubmatch(console.String()); m != nil {
			password = m[1]
			break
		}
		select {
		case <-exited:
			if !strings.Contains(strings.ToLower(console.String()), "host forwarding rule") || attempt == 5 {
				t.Fatalf("qemu exited before the first-boot banner:\n%s", console.String())
			}
			t.Logf("a forwarded port was taken before qemu bound it, again on other ports:\n%s", console.String())
			attempt++
			boot()
		case <-ctx.Done():
			t.Fatal("no first-boot banner on the console")
		default:
		}
	}
	t.Logf("first boot done after %s", time.Since(bootStart).Round(time.Second))
	if !strings.Contains(console.String(), "Serial number:  "+serial) {
		t.Errorf("console does not show the DMI serial %s", serial)
	}
	if !strings.Contains(console.String(), "Host name:      switchboard-"+"st0042") {
		t.Error("host name not derived from the serial")
	}

	// The admin API over HTTPS (self-signed), through the forwarded port.
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the appliance's own self-signed pair
	api := fmt.Sprintf("https://127.0.0.1:%d/api/v1", httpsPort)
	var token string
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, api+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var v map[string]any
		json.Unmarshal(raw, &v) // some answers are empty
		return v
	}
	token, _ = call("POST", "/login", map[string]string{"username": "admin", "password": password}, 200)["token"].(string)
	if token == "" {
		t.Fatal("login gave no token")
	}
	call("PATCH", "/tenants/default/pbx", map[string]string{"sip_server": "192.0.2.10"}, 200)
	acct := call("POST", "/tenants/default/accounts", map[string]string{"extension": "301",
		"sip_password": "qemu-secret-301", "display_name": "Qemu Phone"}, 201)
	dev := call("POST", "/tenants/default/devices", map[string]any{"mac": "00:15:65:00:03:01", "model": "yealink-t54w",
		"account": acct["id"]}, 201)
	// Secure URLs are the default: the file is under the device's secret URL.
	dir, _ := call("POST", fmt.Sprintf("/tenants/default/devices/%v/reveal", dev["id"]), nil, 200)["provisioning_url"].(string)
	_, rel, ok := strings.Cut(dir, "/provisioning/")
	if !ok || !strings.HasSuffix(rel, "/") {
		t.Fatalf("device reveal: provisioning_url %q", dir)
	}

	// The phone's view: plain HTTP provisioning through the other forwarded port.
	url := fmt.Sprintf("http://127.0.0.1:%d/provisioning/%s001565000301.cfg", httpPort, rel)
	var body []byte
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := client.Get(url)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(time.Second)
	}
	for _, want := range []string{"301", "192.0.2.10", "qemu-secret-301"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("provisioning file lacks %q:\n%s", want, body)
		}
	}
}

// unusedPort is a loopback TCP port nobody listens on now. It can be taken
// before it is used: the caller must notice and retry (see TestQEMUBoot).
func unusedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer = testlog.Buffer
