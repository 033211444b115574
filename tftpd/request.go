package tftpd

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// rrq is a read request as the engine acts on it: the filter parses the
// datagram into this clean copy, so that the transfer only ever sees what is
// vetted here (RFC 2347: option names are case-insensitive, unknown options
// are ignored).
type rrq struct {
	name, mode string   // mode lower-cased: octet or netascii
	opts       []option // blksize and tsize, lower-cased, each once, in the client's order
	// timeout is the client's timeout option in seconds (RFC 2349: 1-255), 0
	// when it sent none or a bad one. It is kept apart from opts because the
	// server decides whether to acknowledge it (see negotiate).
	timeout int
}

type option struct{ name, value string }

// parseRRQ reads an RRQ datagram that check let through (opcode 1, NUL-ended
// fields, a name, a mode and name/value pairs). Of the options it keeps the
// first blksize with a value in 8-65464 (RFC 2348) and the first tsize, whose
// value in a read request is always 0 (RFC 2349: the server answers the real
// size), and the first timeout in 1-255 (RFC 2349); the others (windowsize,
// anything unknown) are dropped.
func parseRRQ(p []byte) (rrq, bool) {
	if len(p) < 4 || binary.BigEndian.Uint16(p) != opRRQ {
		return rrq{}, false
	}
	fields := strings.Split(string(p[2:]), "\x00")
	if len(fields) < 3 || len(fields)%2 != 1 || fields[len(fields)-1] != "" || fields[0] == "" {
		return rrq{}, false
	}
	r := rrq{name: fields[0], mode: strings.ToLower(fields[1])}
	if r.mode != "octet" && r.mode != "netascii" {
		return rrq{}, false
	}
	seen := map[string]bool{}
	for i := 2; i+1 < len(fields); i += 2 {
		name, value := strings.ToLower(fields[i]), fields[i+1]
		if seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "blksize":
			if n, err := strconv.Atoi(value); err == nil && n >= 8 && n <= 65464 && value == strconv.Itoa(n) {
				r.opts = append(r.opts, option{name, value})
			}
		case "tsize":
			r.opts = append(r.opts, option{name, "0"})
		case "timeout":
			if n, err := strconv.Atoi(value); err == nil && n >= 1 && n <= 255 && value == strconv.Itoa(n) {
				r.timeout = n
			}
		}
	}
	return r, true
}

// encode is the request as a datagram (what parseRRQ reads back unchanged).
func (r rrq) encode() []byte {
	b := binary.BigEndian.AppendUint16(nil, opRRQ)
	b = append(append(b, r.name...), 0)
	b = append(append(b, r.mode...), 0)
	for _, o := range r.opts {
		b = append(append(b, o.name...), 0)
		b = append(append(b, o.value...), 0)
	}
	if r.timeout > 0 {
		b = append(append(b, "timeout\x00"...), strconv.Itoa(r.timeout)...)
		b = append(b, 0)
	}
	return b
}
