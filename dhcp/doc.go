// Package dhcp is an optional DHCPv4 server for labs and small sites, and a probe
// that asks the LAN's DHCP servers what they would tell a phone.
//
// The server (off by default) hands out addresses from one pool on one interface
// and adds the provisioning options phones look for: 66 with the full provisioning
// URL of the phone's tenant (scheme, host and /provisioning/<tenant>/), 67, 150, 160,
// 43 vendor sub-options and 114 for Gigaset, chosen by the first vendor rule whose
// option 60 pattern or MAC OUI matches, else the default rule. Leases live in the
// store (table dhcp_leases, no audit rows) and are reloaded at start, so a phone keeps
// its address across a restart. Clients are identified by chaddr (phones rarely send
// option 61 and the pool is for phones).
//
// The probe broadcasts a DISCOVER on an interface (raw socket, CAP_NET_RAW; resent
// while nobody answers), never a REQUEST, so it takes no lease, and reports every
// server's offer: its provisioning options and whether they point at this appliance.
//
// At most 1024 datagrams are handled at once; more wait in the socket's 16 MB
// receive buffer, and a flood beyond that is dropped by the kernel (and
// counted). An ACK is sent only once its lease is durable: the leases of the
// REQUESTs that arrive while one write is under way are written together in
// the next transaction (one fsync for all), and an ACK waiting for its write
// holds no handler, so a boot storm's DISCOVERs are answered meanwhile.
//
// It relies on github.com/insomniacslk/dhcp (server4 for the socket, nclient4 for the
// probe, dhcpv4 for the wire format) and on provision for tenants, devices and the
// vendor OUIs of the built-in catalog.
package dhcp
