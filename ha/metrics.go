package ha

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors are the HA /metrics, read from the status (and the running node's
// sync counters) at scrape time.
func (s *Service) Collectors() []prometheus.Collector {
	g := func(name, help string, f func(Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_ha_" + name, Help: help},
			func() float64 { return f(s.Status()) })
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	out := []prometheus.Collector{
		g("enabled", "1 while HA runs on this node.", func(st Status) float64 { return b(st.Enabled && st.ServiceState != "failed") }),
		g("active", "1 while this node holds the resource.", func(st Status) float64 { return b(st.Role == RoleActive.String()) }),
		g("peer_alive", "1 while the peer's heartbeats arrive within the dead timeout.", func(st Status) float64 { return b(st.Peer != nil && st.Peer.Alive) }),
		g("epoch", "Persisted election epoch of this node.", func(st Status) float64 { return float64(st.Epoch) }),
		g("ping_reach", "Ping-group targets this node reaches.", func(st Status) float64 { return float64(st.Reach) }),
		g("replication_lag_revisions", "Store revisions the passive is behind the active.", func(st Status) float64 { return float64(st.ReplicationLag) }),
	}
	// The running node's counters (they start again from zero with a new node,
	// as after a restart).
	counter := func(name, help string, v func(*replicator) *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_ha_" + name, Help: help}, func() float64 {
			if n := s.current(); n != nil && n.repl != nil {
				return float64(v(n.repl).Load())
			}
			return 0
		})
	}
	out = append(out,
		counter("sync_sent_bytes_total", "Bytes the active node sent on the sync link (SSH included).",
			func(r *replicator) *atomic.Int64 { return &r.sentBytes }),
		counter("sync_snapshots_total", "Snapshots the active node sent to seed or heal the passive.",
			func(r *replicator) *atomic.Int64 { return &r.snapshots }),
		counter("sync_change_batches_total", "Change-log batches the active node sent.",
			func(r *replicator) *atomic.Int64 { return &r.batches }))
	for i, name := range pathNames {
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_ha_heartbeat_rtt_seconds",
				Help: "Heartbeat round-trip time by path.", ConstLabels: prometheus.Labels{"path": name}},
				func() float64 {
					st := s.Status()
					if i < len(st.Paths) {
						return st.Paths[i].RTTMs / 1000
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_ha_heartbeat_age_seconds",
				Help: "Seconds since the peer's last heartbeat by path (-1: never).", ConstLabels: prometheus.Labels{"path": name}},
				func() float64 {
					st := s.Status()
					if i < len(st.Paths) && st.Paths[i].LastSeen != nil {
						return time.Since(*st.Paths[i].LastSeen).Seconds()
					}
					return -1
				}))
	}
	return out
}
