package pnp

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors exports the counters as switchboard_pnp_* (read at scrape time, so
// the packet path pays only an atomic add).
func (s *Server) Collectors() []prometheus.Collector {
	c := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_pnp_" + name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	st := &s.stats
	return []prometheus.Collector{
		c("datagrams_total", "Datagrams received on the PnP multicast group.", &st.Received),
		c("malformed_total", "Datagrams that were not a well-formed ua-profile SUBSCRIBE (no answer).", &st.Malformed),
		c("throttled_total", "Datagrams dropped by the per-source rate limit.", &st.Throttled),
		c("retransmissions_total", "SUBSCRIBE retransmissions (answered with the same 200 OK, no new NOTIFY).", &st.Retransmitted),
		c("ignored_total", "SUBSCRIBEs not answered by policy (unknown MAC, no tenant, ambiguous).", &st.Ignored),
		c("answered_total", "SUBSCRIBEs answered with 200 OK and a NOTIFY.", &st.Answered),
		c("dropped_total", "SUBSCRIBEs dropped because max_transactions were pending.", &st.Dropped),
		c("notify_retransmissions_total", "NOTIFY retransmissions (Timer E).", &st.NotifyRetransmits),
		c("notify_answered_total", "NOTIFY transactions a phone answered.", &st.NotifyAnswered),
		c("notify_timeouts_total", "NOTIFY transactions that timed out (Timer F).", &st.NotifyTimedOut),
	}
}
