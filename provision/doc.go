// Package provision is the domain core of desk-phone provisioning: tenants, the
// device catalog (brands, models, templates), SIP accounts, devices, custom
// placeholders and uploaded assets, with the rules that make them valid. The
// admin API, the CLI and the protocol servers all go through it; every change is
// persisted through package store, in one transaction with its audit row.
//
// Files are rendered ahead of requests. The Service is the "provisioning"
// component of switchboard serve: Commit receives store commits, and Serve
// re-renders the tenants they touched into an in-memory tree (one tenant at a
// time, replacing files as it goes, so a large tenant never holds two
// generations). Commits that changed only devices and accounts re-render only
// the devices they touched, and the devices using a changed account (a
// partial pass, delta.go: it leaves the tree a whole pass would, or gives way
// to one). WaitRendered tells when a revision has reached the tree.
//
// The request path (Resolve, Lookup, FindMAC) reads that tree only: no SQLite,
// no system calls, no allocation for a file name in another case. The one
// exception is rare: a secure tenant's bootstrap file (below) is made at the
// first request that needs it, from the device and its accounts read from the
// store, and then kept in a small bounded cache until the tenant's next pass
// (bootcache.go). The request path does no network I/O and knows no protocol:
// httpprov makes HTTP answers (headers, authentication) and tftpd TFTP ones. The only other input, the addresses of
// the interfaces dynamic placeholders name, comes from an injected Interfaces
// source that Serve reads every provisioning.interface_poll, never while
// rendering.
//
// Device files carry SIP and phone admin passwords, and a MAC is no secret, so
// each device has a random token: Resolve serves "<token>/<file>" (the
// device's own file, and the tenant's files without secrets) without the
// tenant's HTTP credentials, and, in a tenant with PBXSettings.SecureURLs,
// answers a device file asked for by name with the device's bootstrap file
// (enroll.go: secrets blanked; the secret directory only while an
// installer-opened enrollment window is open and the phone has not yet
// fetched from it) or ErrWithheld without one. Front ends report what they
// served (Served), which records hand-outs and claims off the request path.
// DeviceDir builds the URL the PnP responder, the DHCP server and the
// redirection services hand out; LogPath masks tokens in every logged path.
package provision
