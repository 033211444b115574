package ha

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors are the node's /metrics gauges, read from Status at scrape time.
func (n *Node) Collectors() []prometheus.Collector {
	g := func(name, help string, f func(Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_ha_" + name, Help: help},
			func() float64 { return f(n.Status()) })
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	out := []prometheus.Collector{
		g("active", "1 while this node holds the resource.", func(s Status) float64 { return b(s.Role == RoleActive.String()) }),
		g("peer_alive", "1 while the peer's heartbeats arrive within the dead timeout.", func(s Status) float64 { return b(s.Peer != nil && s.Peer.Alive) }),
		g("epoch", "Persisted election epoch of this node.", func(s Status) float64 { return float64(s.Epoch) }),
		g("ping_reach", "Ping-group targets this node reaches.", func(s Status) float64 { return float64(s.Reach) }),
		g("replication_lag_revisions", "Store revisions the passive is behind the active.", func(s Status) float64 { return float64(s.ReplicationLag) }),
	}
	if n.repl != nil {
		for _, c := range []struct {
			name, help string
			v          *atomic.Int64
		}{
			{"sync_sent_bytes_total", "Bytes the active node sent on the sync link (SSH included).", &n.repl.sentBytes},
			{"sync_snapshots_total", "Snapshots the active node sent to seed or heal the passive.", &n.repl.snapshots},
			{"sync_change_batches_total", "Change-log batches the active node sent.", &n.repl.batches},
		} {
			out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_ha_" + c.name, Help: c.help},
				func() float64 { return float64(c.v.Load()) }))
		}
	}
	for i, name := range pathNames {
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_ha_heartbeat_rtt_seconds",
				Help: "Heartbeat round-trip time by path.", ConstLabels: prometheus.Labels{"path": name}},
				func() float64 {
					s := n.Status()
					if i < len(s.Paths) {
						return s.Paths[i].RTTMs / 1000
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_ha_heartbeat_age_seconds",
				Help: "Seconds since the peer's last heartbeat by path (-1: never).", ConstLabels: prometheus.Labels{"path": name}},
				func() float64 {
					s := n.Status()
					if i < len(s.Paths) && s.Paths[i].LastSeen != nil {
						return time.Since(*s.Paths[i].LastSeen).Seconds()
					}
					return -1
				}))
	}
	return out
}
