package cti

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the CTI's metrics for /metrics: sockets connected, AMI link
// state and re-syncs, read when scraped (nothing is counted on the hot path).
func (svc *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_cti_sockets",
			Help: "socket.io connections open (logged in or not)."}, func() float64 { return float64(svc.sio.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_cti_ami_up",
			Help: "1 while the AMI connection to Asterisk is logged in and synced."}, func() float64 {
			svc.mu.Lock()
			defer svc.mu.Unlock()
			if svc.amiUp {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_cti_resyncs_total",
			Help: "Full state re-syncs from Asterisk (each connect and FullyBooted)."}, func() float64 {
			svc.mu.Lock()
			defer svc.mu.Unlock()
			return float64(svc.resyncs)
		}),
	}
}
