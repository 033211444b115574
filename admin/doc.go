// Package admin is the admin REST API under /api/v1: logins with expiring, revocable
// bearer tokens, users and roles (admin, tenant admin, auditor), tenants, the audit
// log (listing, restore, verify) and status. The same API is served on a unix
// control socket for the CLI, where the peer's credentials (SO_PEERCRED) stand in
// for a login: whoever can open the socket (mode 0600) is already the daemon's user
// or root.
//
// Every write goes through provision or the user rules here, and from there through
// store.Update, so it is audited with the caller's name and address. Failed logins
// are throttled per source address and per username and logged in a form fail2ban
// can match ("login failed ... src=ADDR").
package admin
