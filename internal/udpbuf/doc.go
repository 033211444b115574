// Package udpbuf grows the receive buffer of the UDP sockets that take a boot
// storm (DHCP, TFTP requests): thousands of phones ask in the same second, and
// a datagram the socket has no room for is dropped by the kernel before the
// server sees it, costing the phone a retransmission timeout of seconds.
package udpbuf
