// Package doctor runs the checks an installer would otherwise do by hand, and
// says for each one OK, WARN or FAIL with the fix in words: the TLS certificate
// of the public name (coverage, expiry, chain, intermediates), the name's DNS
// answers, the URLs phones and apps get, the public address (against an echo
// service), the listeners, reachability from an outside vantage and hairpin NAT
// from the LAN, the PBX over AMI (login, SIP transports, clock), and the
// appliance itself (disk, database, audit chain, HA peer).
//
// The daemon runs the checks (GET /api/v1/diagnostics, "switchboard doctor");
// each is a Check, so a service adds its own (SMTP, ...) with Doctor.Add. The
// outside vantage is "switchboard vantage" on a host outside the NAT: it
// answers an echo of the caller's address and probes the caller's own public
// address, never a third party's.
package doctor
