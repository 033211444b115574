package tftpd

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/internal/udpbuf"
)

// Request outcomes, the "result" label of switchboard_tftp_requests_total.
const (
	resServed    = "served"    // a transfer started
	resNotFound  = "not_found" // no such file (unknown phone, typo)
	resDenied    = "denied"    // write request, path outside the tree, file that needs authentication
	resThrottled = "throttled" // the source asked for too many unknown files
	resMalformed = "malformed" // not a well-formed read request
)

// noTenant labels what belongs to no tenant (malformed or throttled
// requests, names outside every tenant's tree).
const noTenant = "none"

// metrics are the TFTP server's series, by tenant (its UUID).
type metrics struct {
	requests  *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	errors    *prometheus.CounterVec
	throttled prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_tftp_requests_total",
			Help: "TFTP requests by tenant and result (served, not_found, denied, throttled, malformed)."}, []string{"tenant", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_tftp_sent_bytes_total",
			Help: "Bytes of files sent over TFTP by completed transfers, by tenant."}, []string{"tenant"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_tftp_transfer_errors_total",
			Help: "TFTP transfers that started and failed (timeout, client error), by tenant."}, []string{"tenant"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_tftp_throttled_total",
			Help: "TFTP requests refused because their source asked for too many unknown files."}),
	}
	// The series exist from the start, so dashboards and alerts see 0, not
	// "no data", on a quiet box.
	m.bytes.WithLabelValues(noTenant)
	m.errors.WithLabelValues(noTenant)
	return m
}

func (m *metrics) request(tenant, result string) {
	if tenant == "" {
		tenant = noTenant
	}
	m.requests.WithLabelValues(tenant, result).Inc()
}

// Collectors are the TFTP series.
func (s *Server) Collectors() []prometheus.Collector {
	drops := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_tftp_socket_drops_total",
		Help: "TFTP requests the kernel dropped because the request socket's receive buffer was full."},
		func() float64 { return float64(s.SocketDrops()) })
	return []prometheus.Collector{s.m.requests, s.m.bytes, s.m.errors, s.m.throttled, drops}
}

// SocketDrops is how many requests the kernel dropped for a full receive
// buffer, on this socket and the ones closed before it.
func (s *Server) SocketDrops() int64 {
	return s.dropped.Load() + udpbuf.Drops(s.sockIno.Load())
}
