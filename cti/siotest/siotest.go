// Package siotest is a minimal socket.io v4 client (Engine.IO 4, websocket
// transport) for tests and benchmarks: it connects, answers pings, logs in the
// way nethcti clients do and hands events over in order.
package siotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Event is one socket.io event received.
type Event struct {
	Name string
	Data json.RawMessage
	// At is when the frame was read off the connection (latency measurements
	// should not include the consumer's own scheduling).
	At time.Time
}

// Client is one socket.io connection.
type Client struct {
	conn   *websocket.Conn
	events chan Event
	done   chan struct{}
	err    error
}

// Dial connects to base (http://host:port) and completes the Engine.IO open and
// the socket.io connect of namespace "/".
func Dial(ctx context.Context, base string) (*Client, error) { return DialClient(ctx, base, nil) }

// DialClient is Dial with an HTTP client (TLS settings for https:// bases).
func DialClient(ctx context.Context, base string, hc *http.Client) (*Client, error) {
	u := strings.Replace(base, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	_, b, err := conn.Read(ctx)
	if err != nil || len(b) == 0 || b[0] != '0' {
		conn.CloseNow()
		return nil, fmt.Errorf("siotest: no engine.io open packet (%q, %v)", b, err)
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		conn.CloseNow()
		return nil, err
	}
	_, b, err = conn.Read(ctx)
	if err != nil || !strings.HasPrefix(string(b), "40") {
		conn.CloseNow()
		return nil, fmt.Errorf("siotest: no socket.io connect answer (%q, %v)", b, err)
	}
	c := &Client{conn: conn, events: make(chan Event, 1024), done: make(chan struct{})}
	go c.read()
	return c, nil
}

func (c *Client) read() {
	defer close(c.done)
	defer close(c.events)
	ctx := context.Background()
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			c.err = err
			return
		}
		at := time.Now()
		s := string(b)
		switch {
		case s == "2":
			c.conn.Write(ctx, websocket.MessageText, []byte("3")) //nolint:errcheck // a failed pong ends the read too
		case s == "41":
			c.events <- Event{Name: "disconnect"}
		case strings.HasPrefix(s, "42"):
			var arr []json.RawMessage
			if json.Unmarshal(b[2:], &arr) != nil || len(arr) == 0 {
				continue
			}
			var name string
			json.Unmarshal(arr[0], &name) //nolint:errcheck // empty name is still delivered
			ev := Event{Name: name, At: at}
			if len(arr) > 1 {
				ev.Data = arr[1]
			}
			select {
			case c.events <- ev:
			default: // a test that does not read loses events, never blocks the reader
			}
		}
	}
}

// Emit sends an event.
func (c *Client) Emit(ctx context.Context, name string, data any) error {
	b, err := json.Marshal([]any{name, data})
	if err != nil {
		return err
	}
	return c.conn.Write(ctx, websocket.MessageText, append([]byte("42"), b...))
}

// Login emits login as nethcti clients do and waits for authe_ok (nil) or 401.
func (c *Client) Login(ctx context.Context, user, token, uaType string) error {
	if err := c.Emit(ctx, "login", map[string]string{"accessKeyId": user, "token": token, "uaType": uaType}); err != nil {
		return err
	}
	ev, err := c.Wait(ctx, "authe_ok", "401")
	if err != nil {
		return err
	}
	if ev.Name == "401" {
		return ErrUnauthorized
	}
	return nil
}

// ErrUnauthorized is the server's 401 answer to login.
var ErrUnauthorized = errors.New("siotest: 401")

// Next returns the next event.
func (c *Client) Next(ctx context.Context) (Event, error) {
	select {
	case ev, ok := <-c.events:
		if !ok {
			return Event{}, fmt.Errorf("siotest: connection closed: %v", c.err)
		}
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// Wait skips events until one of names arrives.
func (c *Client) Wait(ctx context.Context, names ...string) (Event, error) {
	for {
		ev, err := c.Next(ctx)
		if err != nil {
			return ev, err
		}
		for _, n := range names {
			if ev.Name == n {
				return ev, nil
			}
		}
	}
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close(websocket.StatusNormalClosure, "") }
