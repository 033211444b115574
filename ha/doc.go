// Package ha keeps two switchboard nodes active/passive.
//
// Each node sends its own authenticated UDP heartbeat (HMAC-SHA256 with the cluster
// key) to the peer on the main and on the sync interface. A pure state machine
// (Machine) turns heartbeats, the reachable ping-group targets and a clock into a role;
// Node runs it with real sockets, moves the resource IP (netlink, gratuitous ARP,
// unsolicited NA), runs the role-change hooks and replicates the store from the active
// to the passive over the sync interface (replicator, AES-GCM sessions keyed from the
// cluster key). An unpaired node is paired over SSH first (pair.go): the password is
// derived from the secondary's serial number, and the session hands over the key.
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
