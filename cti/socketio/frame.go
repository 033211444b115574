package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// packet is a decoded socket.io packet.
type packet struct {
	Type  byte   // '0'..'6'
	NS    string // namespace, "/" by default
	Ack   int64  // -1 when none
	Event string
	Args  []json.RawMessage
	Data  json.RawMessage // CONNECT payload
}

var errFrame = errors.New("socket.io: malformed packet")

// Encode encodes an event once, for every recipient of a broadcast.
func Encode(name string, data any) ([]byte, error) {
	b, err := json.Marshal([]any{name, data})
	if err != nil {
		return nil, fmt.Errorf("socket.io: encode %s: %w", name, err)
	}
	return append([]byte("42"), b...), nil
}

// EncodeArgs encodes an event with several arguments (emit(name, a, b)).
func EncodeArgs(name string, args ...any) ([]byte, error) {
	b, err := json.Marshal(append([]any{name}, args...))
	if err != nil {
		return nil, fmt.Errorf("socket.io: encode %s: %w", name, err)
	}
	return append([]byte("42"), b...), nil
}

// parseFrame decodes an Engine.IO frame into its type and, for messages, the
// socket.io packet inside.
func parseFrame(b []byte) (byte, *packet, error) {
	if len(b) == 0 {
		return 0, nil, errFrame
	}
	switch b[0] {
	case '1', '2', '3', '5', '6':
		return b[0], nil, nil
	case '4':
	default:
		return 0, nil, fmt.Errorf("%w: engine.io type %q", errFrame, b[0])
	}
	p, err := parsePacket(b[1:])
	return '4', p, err
}

func parsePacket(b []byte) (*packet, error) {
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return nil, fmt.Errorf("%w: socket.io type", errFrame)
	}
	p := &packet{Type: b[0], NS: "/", Ack: -1}
	rest := b[1:]
	if p.Type == '5' || p.Type == '6' {
		return nil, fmt.Errorf("%w: binary packets are not supported", errFrame)
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := strings.IndexByte(string(rest), ',')
		if i < 0 {
			p.NS, rest = string(rest), nil
		} else {
			p.NS, rest = string(rest[:i]), rest[i+1:]
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i < 18 {
		i++
	}
	if i > 0 {
		n, err := strconv.ParseInt(string(rest[:i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: ack id", errFrame)
		}
		p.Ack, rest = n, rest[i:]
	}
	switch p.Type {
	case '0':
		if len(rest) > 0 {
			if !json.Valid(rest) {
				return nil, fmt.Errorf("%w: connect payload", errFrame)
			}
			p.Data = rest
		}
	case '2', '3':
		if err := json.Unmarshal(rest, &p.Args); err != nil {
			return nil, fmt.Errorf("%w: event payload: %w", errFrame, err)
		}
		if p.Type == '2' {
			if len(p.Args) == 0 || json.Unmarshal(p.Args[0], &p.Event) != nil {
				return nil, fmt.Errorf("%w: event without a name", errFrame)
			}
			p.Args = p.Args[1:]
		}
	}
	return p, nil
}
