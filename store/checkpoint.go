package store

import (
	"context"
	"time"
)

// WAL checkpoints, mostly off the commit path. Left to itself, SQLite
// checkpoints a WAL database in the commit that grows the log past 1000
// pages: that commit copies the pages into the database file and fsyncs it,
// about 3 ms more on the development machine, for about one commit in a
// hundred, which makes the p99 of commit latency (3.5 ms, against a p50 of
// 0.5). With HA a commit also waits for the passive's, which pays its own
// checkpoints: one replicated commit in fifty paid one.
//
// Here a goroutine checkpoints in PASSIVE mode on a read connection every
// checkpointCommits commits, and every checkpointIdle for the writes no
// commit announces (DHCP leases, sessions, the unknown-device list): that
// never waits for the writer, which goes on committing while it copies. It cannot stand alone: under a stream of
// commits a passive checkpoint never finds the log fully copied with no
// writer about, so the log never restarts from its beginning and grows (160
// MB in 3,000 commits when we tried). The writer's own checkpoint stays, as a
// backstop at autoCheckpointPages (about 16 MB of log): it restarts the log
// every few hundred commits of one object (each writes about ten pages).
//
// Measured (2,000 one-object commits on the development machine, three
// runs): p50 0.50-0.51 ms either way, p99 1.27-1.43 ms against 3.47-3.70,
// p999 6.4-7.0 ms against 4.6-5.3 (the backstop's checkpoint costs more the
// larger the log: 5.2-5.4 ms at 2,000 pages, 8.1-8.5 at 8,000).

const (
	checkpointCommits   = 128
	checkpointIdle      = time.Second
	autoCheckpointPages = 4000
)

// startCheckpointer runs the checkpointer until Close.
func (s *Store) startCheckpointer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.ckptWake, s.ckptStop, s.ckptDone = make(chan struct{}, 1), cancel, make(chan struct{})
	go func() {
		defer close(s.ckptDone)
		tick := time.NewTicker(checkpointIdle)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.ckptWake:
			case <-tick.C: // with nothing to copy, a checkpoint returns at once
			}
			// A checkpoint that fails (a full disk) leaves the pages in the
			// log, where readers find them: the next one, or the writer's,
			// tries again.
			s.read.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)") //nolint:errcheck // see above
		}
	}()
}

// committed counts a commit, and wakes the checkpointer every
// checkpointCommits.
func (s *Store) committed() {
	if s.ckptCommits.Add(1)%checkpointCommits == 0 {
		select {
		case s.ckptWake <- struct{}{}:
		default:
		}
	}
}

// stopCheckpointer ends the checkpointer before the connections close.
func (s *Store) stopCheckpointer() {
	if s.ckptStop != nil { // nil when Open failed before starting it
		s.ckptStop()
		<-s.ckptDone
	}
}
