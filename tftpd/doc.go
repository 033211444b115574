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
// behind the filter, and two things made its own small engine (transfer.go
// and engine.go) the better choice:
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
//     and answered every read-handler error as code 1.
//
// # Why an event loop
//
// Until 2026-12 a transfer here was a goroutine with a net.UDPConn. Under the
// provbench config load (8 KB files in 512-byte blocks, 200 clients at once)
// it spent 179-203 µs of CPU per transfer against dnsmasq's 154-167: the
// machine is a VM where each system call and context switch is dear, and per
// transfer the runtime added getsockname, getpeername and two epoll_ctl to
// the socket set-up, and per block a goroutine wake-up through the
// scheduler. Now GOMAXPROCS loops (engine.go) each own an epoll set of
// transfer sockets, made with raw system calls (non-blocking, bound to the
// address asked, connected to the client) and handed out round-robin by the
// request port's reader; a min-heap per loop holds the retransmission
// deadlines. A block costs a write and a read, a wake-up drains every socket
// that is ready, and a loop parks in the runtime's poller (its epoll
// descriptor is pollable) rather than blocking in epoll_wait, which made the
// runtime hand its P off and spin threads. Measured in the same runs as
// dnsmasq (load 3-6): 144-161 µs per transfer against its 145-147 with its
// log off (164-174 when it wrote a line per file to a pipe), and the same
// throughput on 2 cores. Both make about 40 system calls per transfer (a
// write and a read per block); fewer of them (io_uring) is the next step. Assets
// are read from disk by the loop, 64 KB at a time (from the page cache in
// practice: a slow disk would stall the loop's other transfers).
//
// Tried and not kept (2026-12): a loop that keeps polling for up to 100 µs
// before parking (the ACK is usually back by then) reached 1.16 times
// dnsmasq's config throughput and 1.43 times its firmware speed on loopback,
// but made the 10,000-phone boot storm 10-20% slower (10.4-10.5 s against
// 8.1-10.0 s, DHCP p50 +20%): the polls take CPU the other services and the
// rest of the appliance (a PBX beside it) need. Batching the system calls
// (io_uring) is the way to fewer of them without it.
//
// The engine retransmits only on timeout: a duplicate ACK is ignored, never
// answered with a resend (the Sorcerer's Apprentice syndrome). Each block is
// sent 1 + retries times at most. A datagram from another address or port
// than the client's never reaches a transfer (its socket is connected), so no
// "unknown transfer ID" error is sent to strangers. The request port reads
// 516 bytes: a longer request is cut and refused as malformed.
package tftpd
