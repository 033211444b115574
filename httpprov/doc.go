// Package httpprov serves the provisioning tree over HTTP and HTTPS:
// GET/HEAD /provisioning/<file> (single-tenant) and /provisioning/<tenant_uuid>/<file>
// (multi-tenant), with ETag, Last-Modified, 304 and Range from the pre-rendered
// files of package provision.
//
// A tenant may demand HTTP authentication (Basic or Digest); then files that carry
// secrets are only served to authenticated phones, while secret-free common files
// stay open so that they can bootstrap the credentials. Requests for unknown
// device files are recorded in the "seen, not configured" list, and a source that
// asks for many of them is throttled (only those answers: its files are still
// served) and logged in a fail2ban-friendly line. Wrong credentials draw on a
// budget of their own; a Digest response is good once (nc must grow, RFC 2069
// nonces are single-use), nonces expire and their number is capped.
package httpprov
