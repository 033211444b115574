package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// httpClient is for the echo service and the vantage: no proxy from the
// environment (the point is the box's own path), bounded answers.
var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}

func getSmall(ctx context.Context, method, u string, body any, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
	}
	return b, nil
}

func (e *checker) publicAddress(ctx context.Context) Result {
	if e.Config.EchoURL == "" {
		return skip("doctor.echo_url is not set (off by default: nothing leaves the box unless asked)")
	}
	b, err := getSmall(ctx, http.MethodGet, e.Config.EchoURL, nil, nil)
	if err != nil {
		return fail("check that this box reaches the Internet, and doctor.echo_url", "the echo service did not answer: %s", dialErr(err))
	}
	seen, err := netip.ParseAddr(strings.TrimSpace(string(b)))
	if err != nil {
		return fail("doctor.echo_url must answer the caller's address as plain text", "the echo service answered %q, not an address", truncate(string(b), 60))
	}
	seen = seen.Unmap()
	if e.Public.Address == "" {
		return warn("set public.address: "+seen.String(), "public.address is not set; the Internet sees this box as %s", seen)
	}
	want, _ := netip.ParseAddr(e.Public.Address)
	if want.Unmap() != seen {
		return fail("set public.address to "+seen.String()+", or fix the router's NAT so this box leaves through "+want.String(),
			"public.address is %s but the Internet sees this box as %s", want, seen)
	}
	return ok("the Internet sees this box as %s, as configured", seen)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ProbeRequest asks a vantage to reach the caller's own address.
type ProbeRequest struct {
	TCP []int     `json:"tcp,omitempty"`
	UDP *UDPProbe `json:"udp,omitempty"`
}

// UDPProbe is a datagram the vantage sends to the caller.
type UDPProbe struct {
	Port    int    `json:"port"`
	Payload string `json:"payload"`
}

// ProbeResult is the vantage's answer: the address it probed (the caller's as
// it sees it) and, per TCP port, "open" or why not.
type ProbeResult struct {
	Address string            `json:"address"`
	TCP     map[string]string `json:"tcp"`
	UDPSent bool              `json:"udp_sent"`
}

func (e *checker) probe(ctx context.Context, req ProbeRequest) (ProbeResult, error) {
	var res ProbeResult
	_, err := getSmall(ctx, http.MethodPost, strings.TrimSuffix(e.Config.Vantage, "/")+"/v1/probe", req, &res)
	return res, err
}

func (e *checker) vantageTCP(ctx context.Context, port int) Result {
	if e.Config.Vantage == "" {
		return skip("doctor.vantage is not set")
	}
	res, err := e.probe(ctx, ProbeRequest{TCP: []int{port}})
	if err != nil {
		return fail("check doctor.vantage and that the vantage runs (switchboard vantage)", "the vantage did not answer: %s", dialErr(err))
	}
	st := res.TCP[strconv.Itoa(port)]
	if st != "open" {
		return fail(fmt.Sprintf("forward TCP %d on the router (%s) to the service, and open it in the firewall", port, res.Address),
			"TCP %d of %s is not reachable from outside: %s", port, res.Address, st)
	}
	return ok("TCP %d of %s is reachable from outside", port, res.Address)
}

func (e *checker) vantageUDP(ctx context.Context) Result {
	if e.Config.Vantage == "" || e.Config.VantageUDP == 0 {
		return skip("doctor.vantage or doctor.vantage_udp is not set")
	}
	port := e.Config.VantageUDP
	pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
	if err != nil {
		return warn("pick a free port of the RTP range in doctor.vantage_udp", "cannot listen on UDP %d here to receive the probe: %v", port, err)
	}
	defer pc.Close()
	nonceB := make([]byte, 12)
	rand.Read(nonceB) //nolint:errcheck // crypto/rand does not fail
	nonce := "switchboard-doctor-" + hex.EncodeToString(nonceB)
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 256)
		for {
			n, src, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == nonce {
				got <- src.String()
				return
			}
		}
	}()
	res, err := e.probe(ctx, ProbeRequest{UDP: &UDPProbe{Port: port, Payload: nonce}})
	if err != nil {
		return fail("check doctor.vantage and that the vantage runs (switchboard vantage)", "the vantage did not answer: %s", dialErr(err))
	}
	wait := time.NewTimer(3 * time.Second)
	defer wait.Stop()
	select {
	case src := <-got:
		return ok("a datagram from the vantage (%s) reached UDP %d", src, port)
	case <-wait.C:
	case <-ctx.Done():
	}
	return fail(fmt.Sprintf("forward the RTP range (UDP, including %d) on the router (%s) to the PBX, and open it in the firewall", port, res.Address),
		"the vantage's datagram to UDP %d of %s never arrived", port, res.Address)
}

func (e *checker) hairpin(ctx context.Context) Result {
	if e.Public.Address == "" {
		return skip("public.address is not set")
	}
	target := net.JoinHostPort(e.Public.Address, strconv.Itoa(e.Public.HTTPSPort))
	if localAddrs()[netip.MustParseAddr(e.Public.Address).Unmap()] {
		return skip("the public address %s is on this machine: no NAT to loop through", e.Public.Address)
	}
	theirs, err := fetchChain(ctx, target, e.Public.FQDN)
	if err != nil {
		return fail("enable NAT loopback (hairpin NAT) on the router, or give LAN clients a DNS answer with this box's LAN address (split horizon)",
			"from the LAN, %s does not answer: %s", target, dialErr(err))
	}
	ours, err := e.servedChain(ctx)
	if err != nil {
		return e.tlsUnreachable(err)
	}
	if !bytes.Equal(theirs[0].Raw, ours[0].Raw) {
		return warn("check the router's port forward of "+strconv.Itoa(e.Public.HTTPSPort)+": it should reach this box",
			"from the LAN, %s answers with another certificate (%s)", target, theirs[0].Subject.CommonName)
	}
	return ok("from the LAN, %s reaches this box", target)
}
