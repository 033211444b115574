// Package provision is the domain core of the appliance: tenants today, and the
// device catalog, templates, devices and accounts as they arrive. It holds the rules
// (what a valid tenant is, when one may be deleted) and no network I/O: the admin
// API, the CLI and the protocol servers all go through it, and it persists through
// package store, so every change it makes is audited.
package provision
