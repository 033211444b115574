// Package ha keeps two switchboard nodes active/passive.
//
// Each node sends its own authenticated UDP heartbeat (HMAC-SHA256 with the cluster
// key) to the peer on the main and on the sync interface. A pure state machine
// (Machine) turns heartbeats, the reachable ping-group targets and a clock into a role;
// Node runs it with real sockets, moves the resource IP (netlink, gratuitous ARP,
// unsolicited NA), runs the role-change hooks and replicates the store from the active
// to the passive over the sync interface (replicator: an SSH channel, both ends
// authenticated by the Ed25519 key the other pinned at pairing; syncproto.go). The
// passive receives the change log by revision (audit rows with their documents); a
// snapshot only seeds a new or diverged node. An unpaired node is paired over SSH first (pair.go): the password is
// derived from the secondary's serial number, and the session hands over the key.
//
// A commit on the active is acknowledged to the writer only once the attached passive
// holds it durably: the store hands the transaction's change log over just before its
// COMMIT (OnPrepareSync), the passive applies it in one transaction (synchronous FULL)
// and acknowledges after its fsync, and the active's commit hook (OnCommitSync) waits for
// that acknowledgement. The two fsyncs run side by side instead of one after the other.
// Sent early, a transaction whose COMMIT then fails on the active is on the passive
// only: the active ends the session, and the passive's next hello, no longer a prefix
// of the active's history, gets it a snapshot (the writer saw the error; no write it
// was told of is involved). The passive renders its provisioning files at a pace
// (provision.FollowRole), not once per replicated commit.
//
// It relies on CAP_NET_ADMIN and CAP_NET_RAW (address changes, ARP, ICMP) and on a
// cluster key shared by both nodes.
//
// Why not hashicorp/memberlist: with two members its indirect probes do nothing, its
// failure detector does not implement the warning/dead/init timers the settings name,
// and after a partition the two nodes never re-merge unless the application calls Join
// again. A heartbeat that is sent on every path at a fixed interval gives all three
// timers directly and "re-merges" by construction: the first packet after the heal
// carries the epoch that decides who keeps the resource.
package ha
