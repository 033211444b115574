package ami

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Field is one "Key: Value" line of an AMI message. Messages keep their fields in
// order and keep repeated keys (Variable:, ChanVariable:), which map-based AMI
// clients lose.
type Field struct {
	Key, Value string
}

// Message is one AMI packet: an action, a response or an event.
type Message struct {
	Fields []Field
}

// Limits on what the parser accepts from the network: a peer that sends longer
// lines or more fields is broken or hostile, and the connection is dropped.
const (
	maxLine   = 16 << 10
	maxFields = 1024
)

// ErrProtocol marks input that is not AMI.
var ErrProtocol = errors.New("ami: protocol error")

// NewMessage builds a message from alternating keys and values.
func NewMessage(kv ...string) Message {
	m := Message{Fields: make([]Field, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Fields = append(m.Fields, Field{kv[i], kv[i+1]})
	}
	return m
}

// Get returns the first value of key (case-insensitive), or "".
func (m Message) Get(key string) string {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether key is present.
func (m Message) Has(key string) bool {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return true
		}
	}
	return false
}

// All returns every value of key, in order.
func (m Message) All(key string) []string {
	var out []string
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Set replaces the first value of key, or appends it.
func (m *Message) Set(key, value string) {
	for i, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			m.Fields[i].Value = value
			return
		}
	}
	m.Fields = append(m.Fields, Field{key, value})
}

// Add appends a field (repeated keys are allowed).
func (m *Message) Add(key, value string) { m.Fields = append(m.Fields, Field{key, value}) }

// Event is the event name, "" for responses and actions.
func (m Message) Event() string { return m.Get("Event") }

// Map is the message as a map (first value wins), for JSON dumps and tests.
func (m Message) Map() map[string]string {
	out := make(map[string]string, len(m.Fields))
	for _, f := range m.Fields {
		if _, ok := out[f.Key]; !ok {
			out[f.Key] = f.Value
		}
	}
	return out
}

// Bytes encodes the message for the wire. CR and LF inside keys or values are
// replaced by spaces: a value taken from a client (a number to dial) must not be
// able to inject another AMI field or action.
func (m Message) Bytes() []byte {
	var b bytes.Buffer
	for _, f := range m.Fields {
		b.WriteString(clean(f.Key))
		b.WriteString(": ")
		b.WriteString(clean(f.Value))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func clean(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// ReadBanner reads the greeting line ("Asterisk Call Manager/5.0.1") and returns
// the protocol version.
func ReadBanner(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", err
	}
	name, ver, ok := strings.Cut(line, "/")
	if !ok || !strings.Contains(name, "Call Manager") {
		return "", fmt.Errorf("%w: unexpected banner %q", ErrProtocol, truncate(line, 80))
	}
	return ver, nil
}

// ReadMessage reads one message: "Key: Value" lines up to an empty line. Blank
// lines before a message are skipped. Lines without a colon (old "Response:
// Follows" command output) are kept as a field with an empty key.
func ReadMessage(r *bufio.Reader) (Message, error) {
	var m Message
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(m.Fields) > 0 {
				return m, io.ErrUnexpectedEOF
			}
			return m, err
		}
		if line == "" {
			if len(m.Fields) == 0 {
				continue
			}
			return m, nil
		}
		if len(m.Fields) >= maxFields {
			return m, fmt.Errorf("%w: more than %d fields in a message", ErrProtocol, maxFields)
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			m.Fields = append(m.Fields, Field{"", line})
			continue
		}
		m.Fields = append(m.Fields, Field{strings.TrimSpace(k), strings.TrimLeft(v, " ")})
	}
}

// readLine reads a line ending in LF (CRLF on the wire; a bare LF is tolerated),
// refusing lines longer than maxLine.
func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return "", fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, maxLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 && errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(string(buf), "\r\n"), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
