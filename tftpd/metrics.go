package tftpd

import "github.com/prometheus/client_golang/prometheus"

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
	return []prometheus.Collector{s.m.requests, s.m.bytes, s.m.errors, s.m.throttled}
}
