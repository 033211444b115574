// Package apidoc is the OpenAPI 3.1 description of the admin API (/api/v1),
// served by the daemon at /api/v1/openapi.json.
//
// Every route is one line of the table in routes.go: its pattern (the same
// net/http pattern the component mounts), a tag, a summary and the Go types of
// its request and answer. The JSON schemas are derived from those types by
// reflection, so a field added to a type is documented at once. A test in
// cmd/switchboard compares the table with the routes the real router mounted
// and names each route missing on either side.
package apidoc
