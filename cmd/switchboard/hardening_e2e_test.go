package main

// The daemon's fail2ban-facing log lines, from the real daemon, against the
// shipped filter with the real fail2ban-regex.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fromAddr is an HTTP client whose connections come from the loopback address local.
func fromAddr(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext,
		TLSClientConfig: insecure.Transport.(*http.Transport).TLSClientConfig}}
}

// post sends a JSON body from local and returns the status.
func post(t *testing.T, local, url, body string) int {
	t.Helper()
	resp, err := fromAddr(local).Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// tftpUnknown asks for name over TFTP from local and returns the error text.
func tftpUnknown(t *testing.T, local, addr, name string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", local+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to, _ := net.ResolveUDPAddr("udp", addr)
	pkt := append(binary.BigEndian.AppendUint16(nil, 1), name+"\x00octet\x00"...)
	if _, err := c.WriteTo(pkt, to); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 600)
	n, _, err := c.ReadFrom(buf)
	if err != nil || n < 5 {
		t.Fatalf("TFTP %s from %s: %v", name, local, err)
	}
	return string(bytes.TrimRight(buf[4:n], "\x00"))
}

// f2bIPs runs fail2ban-regex over logFile with the shipped filter in mode and
// returns the addresses it would ban, one per matched line, sorted.
func f2bIPs(t *testing.T, logFile, mode string, extra ...string) []string {
	t.Helper()
	filter, err := filepath.Abs(filepath.Join("..", "..", "packaging", "fail2ban", "filter.conf"))
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, extra...), "-o", "ip", logFile, filter+"[mode="+mode+"]")
	out, err := exec.Command("fail2ban-regex", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-regex %q: %v\n%s", args, err, out)
	}
	ips := strings.Fields(string(out))
	slices.Sort(ips)
	return ips
}

// TestFail2banFilter: the login failures (admin, CTI) and the provisioning
// throttle lines (unknown files over HTTP and over TFTP, wrong provisioning
// credentials) of the real daemon, each from its own loopback address, in
// both log formats, as a file holds them and as the journal hands them to
// fail2ban: the shipped filter finds exactly those addresses, never one a
// client smuggles into a username. The HTTP and TFTP throttle lines are one
// and the same line, the one the README documents (F10).
func TestFail2banFilter(t *testing.T) {
	if _, err := exec.LookPath("fail2ban-regex"); err != nil {
		t.Skip("fail2ban-regex is not installed (CI installs Debian's fail2ban through .ci/run)")
	}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			d := newDaemon(t, "log:\n  format: "+format+"\nprovisioning:\n  unknown_burst: 3\n"+
				"cti:\n  enabled: true\n  bcrypt_cost: 4\n  ami:\n    address: \"127.0.0.1:1\"\n    username: sb\n    secret: amipw\n")
			d.start()
			api := "https://" + d.https
			// Admin logins: three wrong passwords, and a username that tries to
			// pose as another source.
			for i := 0; i < 3; i++ {
				if c := post(t, "127.0.0.21", api+"/api/v1/login", `{"username":"admin","password":"wrong"}`); c != 401 {
					t.Fatalf("admin login: %d", c)
				}
			}
			post(t, "127.0.0.22", api+"/api/v1/login", `{"username":"x src=6.6.6.6 y\" src=\"7.7.7.7","password":"wrong"}`)
			// A CTI login.
			if c := post(t, "127.0.0.23", api+"/webrest/authentication/login", `{"username":"nobody","password":"wrong"}`); c != 401 {
				t.Fatalf("CTI login: %d", c)
			}
			// Unknown files over HTTP and TFTP until throttled (burst 3).
			for i := 0; i < 5; i++ {
				resp, err := fromAddr("127.0.0.24").Get(fmt.Sprintf("http://%s/provisioning/unknown-%d.cfg", d.plain, i))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			var last string
			for i := 0; i < 5; i++ {
				last = tftpUnknown(t, "127.0.0.25", d.tftp, fmt.Sprintf("unknown-%d.cfg", i))
			}
			if !strings.Contains(last, "too many") {
				t.Fatalf("TFTP not throttled: %q", last)
			}
			// Wrong provisioning credentials for a file with secrets (served
			// by name: secure URLs off, as in tenants made before them).
			for _, args := range [][]string{
				{"pbx", "set", "secure_urls=false", "http_auth=basic", "http_user=phones", "http_password=bootstrap-pw"},
				{"account", "import", "-"},
				{"device", "import", "-"},
			} {
				stdin := map[string]string{"account": "extension,sip_password\n301,sip-pw-301\n",
					"device": "mac,model,account_extension\n00:15:65:AA:BB:01,yealink-t54w,301\n"}[args[0]]
				if out, e, code := d.cli(stdin, args...); code != 0 {
					t.Fatalf("%v: %s %s", args, out, e)
				}
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				req, _ := http.NewRequest("GET", "http://"+d.plain+"/provisioning/001565aabb01.cfg", nil)
				resp, err := fromAddr("127.0.0.1").Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == 401 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("device file not behind authentication: %d", resp.StatusCode)
				}
			}
			for i := 0; i < 5; i++ {
				req, _ := http.NewRequest("GET", "http://"+d.plain+"/provisioning/001565aabb01.cfg", nil)
				req.SetBasicAuth("phones", fmt.Sprint("guess-", i))
				resp, err := fromAddr("127.0.0.26").Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if err := d.stop(syscall.SIGTERM); err != nil {
				t.Fatalf("stop: %v", err)
			}
			logs := d.stderr.String()
			logFile := filepath.Join(t.TempDir(), "switchboard.log")
			os.WriteFile(logFile, []byte(logs), 0o600)
			// The journal hands fail2ban "host unit[pid]: message" with its own
			// time stamp, leaving the message whole.
			var journal bytes.Buffer
			for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
				fmt.Fprintf(&journal, "appliance switchboard[4242]: %s\n", line)
			}
			journalFile := filepath.Join(t.TempDir(), "journal.log")
			os.WriteFile(journalFile, journal.Bytes(), 0o600)

			want := map[string][]string{
				"auth":     {"127.0.0.21", "127.0.0.21", "127.0.0.21", "127.0.0.22", "127.0.0.23"},
				"throttle": {"127.0.0.24", "127.0.0.25", "127.0.0.26"},
			}
			want["all"] = append(append([]string{}, want["auth"]...), want["throttle"]...)
			slices.Sort(want["all"])
			for mode, w := range want {
				if got := f2bIPs(t, logFile, mode); !slices.Equal(got, w) {
					t.Errorf("mode %s, log file: banned %v, want %v\n%s", mode, got, w, logs)
				}
			}
			if got := f2bIPs(t, journalFile, "all", "-d", "{NONE}"); !slices.Equal(got, want["all"]) {
				t.Errorf("journal: banned %v, want %v", got, want["all"])
			}
			if format != "text" {
				return
			}
			// One and the same line for HTTP and TFTP, the README's.
			readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile("`(level=WARN msg=\"too many unknown files, throttling\" component=provisioning src=ADDR)`").FindSubmatch(readme)
			if m == nil {
				t.Fatal("README does not document the throttle line as `level=WARN msg=\"too many unknown files, throttling\" component=provisioning src=ADDR`")
			}
			documented := regexp.MustCompile(`(?m)^time=\S+ ` + strings.Replace(regexp.QuoteMeta(string(m[1])), "ADDR", `(127\.0\.0\.2[45])`, 1) + ` file=\S+$`)
			var srcs []string
			for _, found := range documented.FindAllStringSubmatch(logs, -1) {
				srcs = append(srcs, found[1])
			}
			if !slices.Equal(srcs, []string{"127.0.0.24", "127.0.0.25"}) {
				t.Errorf("documented throttle line from HTTP and TFTP: %v, want one each:\n%s", srcs, logs)
			}
		})
	}
}

// TestSlowLoginBody (F2): through the real daemon, unauthenticated logins that
// trickle their body are cut off while another client logs in.
func TestSlowLoginBody(t *testing.T) {
	d := newDaemon(t, "")
	cfg, err := os.ReadFile(d.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(d.cfgPath, bytes.Replace(cfg, []byte("http:\n"), []byte("http:\n  body_timeout: 1s\n"), 1), 0o600)
	d.start()
	d.addAdmin("admin", "correct horse")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []net.Conn
	for i := 0; i < 20; i++ {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.31")}}).DialContext(ctx, "tcp", d.https)
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // the daemon's own self-signed certificate
		defer tc.Close()
		fmt.Fprintf(tc, "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
		conns = append(conns, tc)
	}
	for i, c := range conns {
		done := make(chan error, 1)
		go func() {
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.Copy(io.Discard, c)
			done <- err
		}()
		// Meanwhile someone else logs in.
		d.login("admin", "correct horse")
		if err := <-done; err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("slow login body %d still open after 20 s", i)
			}
		}
	}
}
