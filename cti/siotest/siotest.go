// Package siotest is a minimal socket.io v4 client (Engine.IO 4, websocket
// or long-polling transport) for tests and benchmarks: it connects, answers
// pings, logs in the way nethcti clients do and hands events over in order.
package siotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Event is one socket.io event received.
type Event struct {
	Name string
	Data json.RawMessage   // the first argument
	Args []json.RawMessage // every argument (actionNethLink has two)
	// At is when the frame was read off the connection (latency measurements
	// should not include the consumer's own scheduling).
	At time.Time
}

// Client is one socket.io connection.
type Client struct {
	conn   *websocket.Conn // websocket transport; nil when polling
	poll   *poller         // long-polling transport; nil on websocket
	events chan Event
	done   chan struct{}
	err    error
}

// poller is the long-polling side of a Client: a GET always outstanding,
// frames sent by POST.
type poller struct {
	hc     *http.Client
	url    string // .../socket.io/?EIO=4&transport=polling&sid=SID
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // one POST at a time, in order
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

// DialPolling connects over Engine.IO long polling only (no upgrade), as
// socket.io-client with transports: ['polling'] does: the handshake GET, the
// socket.io connect POSTed, then one GET always outstanding. hc must allow two
// connections to the server per client (a poll and a post); nil is
// http.DefaultClient.
func DialPolling(ctx context.Context, base string, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := base + "/socket.io/?EIO=4&transport=polling"
	frames, err := pollOnce(ctx, hc, u)
	if err != nil {
		return nil, err
	}
	if len(frames) == 0 || len(frames[0]) == 0 || frames[0][0] != '0' {
		return nil, fmt.Errorf("siotest: no engine.io open packet (%q)", frames)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(frames[0][1:], &open); err != nil || open.SID == "" {
		return nil, fmt.Errorf("siotest: engine.io open packet %q: %v", frames[0], err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	p := &poller{hc: hc, url: u + "&sid=" + open.SID, ctx: pctx, cancel: cancel}
	c := &Client{poll: p, events: make(chan Event, 1024), done: make(chan struct{})}
	if err := c.send(ctx, []byte("40")); err != nil {
		cancel()
		return nil, err
	}
	frames, err = pollOnce(ctx, hc, p.url)
	if err != nil || len(frames) == 0 || !bytes.HasPrefix(frames[0], []byte("40")) {
		cancel()
		return nil, fmt.Errorf("siotest: no socket.io connect answer (%q, %v)", frames, err)
	}
	go c.readPolling(frames[1:])
	return c, nil
}

// pollOnce is one GET of a polling session: the frames it carried.
func pollOnce(ctx context.Context, hc *http.Client, url string) ([][]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("siotest: poll: %s: %s", resp.Status, b)
	}
	return bytes.Split(b, []byte{0x1e}), nil
}

// send writes one Engine.IO frame on the client's transport.
func (c *Client) send(ctx context.Context, frame []byte) error {
	if c.conn != nil {
		return c.conn.Write(ctx, websocket.MessageText, frame)
	}
	p := c.poll
	p.mu.Lock()
	defer p.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(frame))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) // draining for reuse
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("siotest: post: %s", resp.Status)
	}
	return nil
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
		c.frame(b, time.Now())
	}
}

// readPolling keeps a GET outstanding and hands over what each one brings,
// starting with frames that came with the connect answer.
func (c *Client) readPolling(first [][]byte) {
	defer close(c.done)
	defer close(c.events)
	frames := first
	for {
		at := time.Now()
		for _, f := range frames {
			if string(f) == "1" { // engine.io close
				c.err = errors.New("siotest: closed by the server")
				return
			}
			c.frame(f, at)
		}
		var err error
		if frames, err = pollOnce(c.poll.ctx, c.poll.hc, c.poll.url); err != nil {
			c.err = err
			return
		}
	}
}

// frame handles one Engine.IO frame received at at.
func (c *Client) frame(b []byte, at time.Time) {
	s := string(b)
	switch {
	case s == "2":
		if c.conn != nil {
			c.send(context.Background(), []byte("3")) // a failed pong ends the read too
		} else {
			// Not from the reading goroutine: the next poll must not wait for it.
			go c.send(c.poll.ctx, []byte("3")) // a lost pong ends the session
		}
	case s == "41":
		c.events <- Event{Name: "disconnect"}
	case strings.HasPrefix(s, "42"):
		var arr []json.RawMessage
		if json.Unmarshal(b[2:], &arr) != nil || len(arr) == 0 {
			return
		}
		var name string
		json.Unmarshal(arr[0], &name) // empty name is still delivered
		ev := Event{Name: name, At: at, Args: arr[1:]}
		if len(arr) > 1 {
			ev.Data = arr[1]
		}
		select {
		case c.events <- ev:
		default: // a test that does not read loses events, never blocks the reader
		}
	}
}

// Emit sends an event.
func (c *Client) Emit(ctx context.Context, name string, data any) error {
	b, err := json.Marshal([]any{name, data})
	if err != nil {
		return err
	}
	return c.send(ctx, append([]byte("42"), b...))
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

// Close ends the connection (for polling: the Engine.IO close is posted, then
// the outstanding poll is abandoned).
func (c *Client) Close() error {
	if c.conn != nil {
		return c.conn.Close(websocket.StatusNormalClosure, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.send(ctx, []byte("1"))
	c.poll.cancel()
	return err
}
