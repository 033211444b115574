// Package tftpd serves the provisioning tree over TFTP: single-tenant files at
// the root, multi-tenant ones at <tenant_uuid>/<file>. It speaks RFC 1350 read
// requests (octet and netascii) with the options of RFC 2347: blksize (RFC
// 2348, 512 up to max_block_size), tsize (RFC 2349, always the real size,
// never the client's value) and timeout (RFC 2349, acknowledged only up to the
// configured timeout, so a client cannot make a stalled transfer hold its slot
// longer). windowsize (RFC 7440) is not offered. Write requests are refused.
//
// A filter on the request port answers what must never reach a file: write
// requests get "access violation", traversal and absolute paths get "access
// violation", malformed requests get "illegal operation", and sources that ask for
// too many unknown files are throttled (the limiter is shared with HTTP; only
// answers for unknown names are refused, a throttled source still gets its
// files). The filter also admits each request against a cap of running
// transfers per source address and in all; a transfer the client never
// acknowledges holds its slot until it times out, which bounds what a spoofed
// flood can make the server send. Every transfer is logged with client, file,
// bytes, duration and result.
//
// # Why not a library
//
// The project prefers a well-kept library except where a note like this one
// explains why not. Up to 2026-12 this package used github.com/pin/tftp/v3
// behind the filter, and two things made its own small engine (transfer.go,
// about 300 lines) the better choice:
//
//   - Source address. The library learns the address a request was sent to
//     only from a bare *net.UDPConn; the filter has to wrap the socket, so the
//     library bound every transfer socket to the wildcard address and its
//     answers left from the address the kernel picks, not the one the phone
//     asked (an HA resource address, a secondary address): a phone that checks
//     the source ignores them. The engine reads IP_PKTINFO/IPV6_PKTINFO with
//     each request (for IPv4 ipi_spec_dst, which for a broadcast request is the
//     interface's address), binds and connects the transfer socket to it, and
//     sends the filter's own refusals from it too (pktinfo_linux.go).
//   - Cost. The library allocated 64 KB per request datagram and two buffers
//     of 64 KB per transfer, slept up to a second before each retransmission,
//     and answered every read-handler error as code 1. A transfer here is one
//     goroutine with a connected socket and a pooled buffer; after each block
//     it waits for the socket to become readable instead of first trying a
//     read that fails with EAGAIN (one system call of three per block).
//
// The engine retransmits only on timeout: a duplicate ACK is ignored, never
// answered with a resend (the Sorcerer's Apprentice syndrome). Each block is
// sent 1 + retries times at most. A datagram from another address or port
// than the client's never reaches a transfer (its socket is connected), so no
// "unknown transfer ID" error is sent to strangers. The request port reads
// 516 bytes: a longer request is cut and refused as malformed.
package tftpd
