// Package tftpd serves the provisioning tree over TFTP (github.com/pin/tftp/v3):
// single-tenant files at the root, multi-tenant ones at <tenant_uuid>/<file>, with
// the blksize and tsize options (tsize is always the real size, never the
// client's value).
//
// A filter in front of the library answers what must never reach a file: write
// requests get "access violation", traversal and absolute paths get "access
// violation", malformed requests get "illegal operation", and sources that ask for
// too many unknown files are throttled (the limiter is shared with HTTP; only
// answers for unknown names are refused, a throttled source still gets its
// files). The filter also admits each request against a cap of running
// transfers per source address and in all; a transfer the client never
// acknowledges holds its slot until it times out, which bounds what a spoofed
// flood can make the server send. Every transfer is logged with client, file,
// bytes, duration and result.
package tftpd
