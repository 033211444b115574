// Package tftpd serves the provisioning tree over TFTP (github.com/pin/tftp/v3):
// single-tenant files at the root, multi-tenant ones at <tenant_uuid>/<file>, with
// the blksize and tsize options.
//
// A filter in front of the library answers what must never reach a file: write
// requests get "access violation", traversal and absolute paths get "access
// violation", malformed requests get "illegal operation", and sources that ask for
// too many unknown files are throttled (the limiter is shared with HTTP). Every
// transfer is logged with client, file, bytes, duration and result.
package tftpd
