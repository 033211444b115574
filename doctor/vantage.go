package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Vantage is the outside end of the reachability checks ("switchboard
// vantage"): run on a host outside the NAT, it tells a caller its address
// (GET /v1/ip) and probes the caller's own address (POST /v1/probe). It never
// probes anyone else, so it is no port scanner for hire.
type Vantage struct {
	Log *slog.Logger
	// DialTimeout bounds each TCP probe.
	DialTimeout time.Duration
}

// maxProbePorts bounds one request's work.
const maxProbePorts = 8

// Handler serves /v1/ip and /v1/probe.
func (v *Vantage) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ip", func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, host)
	})
	mux.HandleFunc("POST /v1/probe", func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		var req ProbeRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(req.TCP) > maxProbePorts || (req.UDP != nil && (len(req.UDP.Payload) > 128 || req.UDP.Port < 1 || req.UDP.Port > 65535)) {
			http.Error(w, "bad request: at most 8 TCP ports and one UDP port with a payload of at most 128 bytes", http.StatusBadRequest)
			return
		}
		res := ProbeResult{Address: host, TCP: map[string]string{}}
		for _, p := range req.TCP {
			if p < 1 || p > 65535 {
				http.Error(w, "bad request: port "+strconv.Itoa(p), http.StatusBadRequest)
				return
			}
			res.TCP[strconv.Itoa(p)] = v.tcp(r.Context(), net.JoinHostPort(host, strconv.Itoa(p)))
		}
		if req.UDP != nil {
			res.UDPSent = v.udp(net.JoinHostPort(host, strconv.Itoa(req.UDP.Port)), req.UDP.Payload)
		}
		if v.Log != nil {
			v.Log.Info("probe", "src", host, "tcp", req.TCP, "udp", req.UDP != nil)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res) //nolint:errcheck // the client went away
	})
	return mux
}

func (v *Vantage) tcp(ctx context.Context, addr string) string {
	t := v.DialTimeout
	if t <= 0 {
		t = 3 * time.Second
	}
	d := net.Dialer{Timeout: t}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return dialErr(err)
	}
	c.Close()
	return "open"
}

// udp sends the payload three times (a datagram may be lost).
func (v *Vantage) udp(addr, payload string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	sent := false
	for i := 0; i < 3; i++ {
		if _, err := c.Write([]byte(payload)); err == nil {
			sent = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return sent
}
