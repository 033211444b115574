// Package pnp is the multicast SIP plug-and-play responder: a phone fresh out of
// the box sends a SUBSCRIBE (Event: ua-profile) to 224.0.1.75:5060, and pnp answers
// 200 OK and then a NOTIFY whose body is the provisioning URL that phone's vendor
// accepts.
//
// It never takes unicast port 5060: the listening socket is bound to the group
// address itself (it receives only multicast), joined on each configured
// interface, and a separate unicast socket carries the 200 OKs and the NOTIFY
// client transactions, so a PBX on the same host keeps its SIP port.
//
// It relies on sipgo's parser and message types (sipgo has no multicast or
// SUBSCRIBE/NOTIFY helpers, so sockets and the NOTIFY are built here), on
// provision for the MAC -> tenant/file lookup and the "seen, not configured" list,
// and on ratelimit for the per-source budget.
package pnp
