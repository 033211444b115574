package doctor

import (
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func (e *checker) disk(context.Context) Result {
	var st unix.Statfs_t
	if err := unix.Statfs(e.DataDir, &st); err != nil {
		return fail("check data_dir", "cannot read the file system of %s: %v", e.DataDir, err)
	}
	total := float64(st.Blocks) * float64(st.Bsize)
	free := float64(st.Bavail) * float64(st.Bsize)
	if total <= 0 {
		return warn("check data_dir", "the file system of %s reports no size", e.DataDir)
	}
	pct := 100 * free / total
	msg := fmt.Sprintf("%s free of %s (%.1f%%) on the file system of %s", human(free), human(total), pct, e.DataDir)
	switch {
	case pct < e.Config.DiskFailPercent:
		return fail("free space: old logs (journalctl --vacuum-size=200M), old exports, or grow the disk", "%s", msg)
	case pct < e.Config.DiskWarnPercent:
		return warn("free space soon: old logs (journalctl --vacuum-size=200M), old exports, or grow the disk", "%s", msg)
	}
	return ok("%s", msg)
}

func human(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

func (e *checker) dbIntegrity(ctx context.Context) Result {
	if e.Store == nil {
		return skip("no database")
	}
	v, err := e.Store.IntegrityCheck(ctx)
	if err != nil {
		return fail("check the daemon log and the disk", "the database cannot be checked: %v", err)
	}
	if v != "ok" {
		return fail("stop the daemon, keep a copy of "+e.Store.Path()+", and restore the last backup (or re-seed from the HA peer)",
			"the database is damaged: %s", truncate(strings.ReplaceAll(v, "\n", "; "), 200))
	}
	return ok("the database is sound (%s)", e.Store.Path())
}

func (e *checker) auditChain(ctx context.Context) Result {
	if e.Store == nil {
		return skip("no database")
	}
	res, err := e.Store.Verify(ctx)
	if err != nil {
		return fail("check the daemon log", "the audit chain cannot be checked: %v", err)
	}
	if !res.OK {
		rows := make([]string, 0, 5)
		for i, p := range res.Problems {
			if i == 5 {
				rows = append(rows, "...")
				break
			}
			rows = append(rows, fmt.Sprintf("row %d: %s", p.Row, p.Reason))
		}
		return fail("someone changed the database outside Switchboard: find out who (switchboard audit verify lists every row), then restore a backup",
			"the audit chain is broken: %s", strings.Join(rows, "; "))
	}
	return ok("the audit chain is intact (%d rows)", res.Rows)
}

func (e *checker) haPeer(context.Context) Result {
	if e.HA == nil {
		return skip("HA is off (ha.state)")
	}
	s := e.HA()
	switch {
	case !s.Enabled:
		return skip("HA is off on this node")
	case s.Left != "":
		return warn("pair again (switchboard ha pair) or turn HA off", "this node left the cluster: %s", s.Left)
	case !s.Paired:
		return warn("pair the nodes: switchboard ha pair --serial SERIAL on the coordinator", "the nodes are not paired")
	case s.Peer == nil || !s.Peer.Alive:
		return fail("check the peer machine, the cables and ha.interface / ha.remote_ip: the peer's heartbeats do not arrive",
			"the peer is not reachable (this node: %s, %s)", s.Role, s.ServiceState)
	}
	return ok("peer %s is alive (%s; this node %s)", s.Peer.Serial, s.Peer.Role, s.Role)
}

func (e *checker) haReplication(context.Context) Result {
	if e.HA == nil {
		return skip("HA is off (ha.state)")
	}
	s := e.HA()
	if !s.Enabled {
		return skip("HA is off on this node")
	}
	if s.Peer == nil || !s.Peer.Alive {
		return skip("no live peer to replicate with (see ha.peer)")
	}
	if s.ReplicationLag > e.Config.MaxReplicationLag {
		return fail("check ha.sync_interface and the daemon logs of both nodes for replication errors",
			"the passive node is %d revisions behind (revision %d here, %d there)", s.ReplicationLag, s.Revision, s.Peer.Revision)
	}
	return ok("replication lag %d revision(s)", s.ReplicationLag)
}

// haUnits checks that the polkit rule will let the service user start and
// stop every unit of ha.units.
func (e *checker) haUnits(context.Context) Result {
	if e.HA == nil || len(e.HAUnits) == 0 {
		return skip("no HA unit hooks (ha.units)")
	}
	if e.AsRoot {
		return ok("the daemon runs as root: systemctl needs no polkit rule")
	}
	b, err := os.ReadFile(e.UnitsFile)
	if err != nil {
		return fail("list the units of ha.units, one per line, in "+e.UnitsFile+" (the packages install it)", "%v", err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			listed[l], listed[strings.TrimSuffix(l, ".service")] = true, true
		}
	}
	var missing []string
	for _, u := range e.HAUnits {
		if !listed[u] && !listed[strings.TrimSuffix(u, ".service")] {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		return fail("add "+strings.Join(missing, ", ")+" to "+e.UnitsFile+" (as root): the polkit rule reads it",
			"the service user may not start or stop %s: not in %s", strings.Join(missing, ", "), e.UnitsFile)
	}
	return ok("the %d unit(s) of ha.units are in %s", len(e.HAUnits), e.UnitsFile)
}
