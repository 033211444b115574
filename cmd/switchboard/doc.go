// Command switchboard is the appliance daemon ("switchboard serve") and the
// installer's CLI. The CLI verbs (user, tenant, audit, status) talk to the running
// daemon over its control socket, so they see the same rules and write the same
// audit rows as the web API.
package main
