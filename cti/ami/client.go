package ami

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says how to reach Asterisk's manager interface.
type Config struct {
	// Address is host:port of the AMI listener (manager.conf, usually port 5038).
	Address string `yaml:"address"`
	// Username and Secret are a manager.conf user with read/write "all".
	Username string `yaml:"username"`
	Secret   string `yaml:"secret"`
	// DialTimeout bounds connecting and logging in.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// ActionTimeout bounds waiting for one action's response (or a whole event list).
	ActionTimeout time.Duration `yaml:"action_timeout"`
	// PingInterval is how often an idle connection is probed with Ping; a Ping that
	// gets no answer within ActionTimeout drops the connection.
	PingInterval time.Duration `yaml:"ping_interval"`
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles (with
	// jitter) after each failed attempt and resets once a login succeeds.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// DefaultConfig is the local Asterisk with no credentials (they must be set).
func DefaultConfig() Config {
	return Config{
		Address:       "127.0.0.1:5038",
		DialTimeout:   5 * time.Second,
		ActionTimeout: 10 * time.Second,
		PingInterval:  15 * time.Second,
		MinBackoff:    500 * time.Millisecond,
		MaxBackoff:    30 * time.Second,
	}
}

// Validate reports the first bad field (names as in the config file).
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("ami.address: %q is not host:port", c.Address)
	}
	switch {
	case c.Username == "":
		return errors.New("ami.username: required when cti is enabled")
	case c.Secret == "":
		return errors.New("ami.secret: required when cti is enabled")
	case c.DialTimeout <= 0:
		return errors.New("ami.dial_timeout: must be positive")
	case c.ActionTimeout <= 0:
		return errors.New("ami.action_timeout: must be positive")
	case c.PingInterval <= 0:
		return errors.New("ami.ping_interval: must be positive")
	case c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return errors.New("ami.min_backoff/max_backoff: need 0 < min_backoff <= max_backoff")
	}
	return nil
}

// Handler receives what a connection brings. All calls come from one goroutine,
// in wire order, so the model needs no locking against itself.
type Handler interface {
	// Connected runs after each successful login, before any event of that
	// connection is delivered; it re-syncs the model.
	Connected(ctx context.Context, c *Conn) error
	// Event is one event that does not belong to a pending event list.
	Event(ctx context.Context, c *Conn, m Message)
	// Disconnected reports the end of a connection.
	Disconnected(err error)
}

// Client keeps one AMI connection up: dial, banner, Login, keepalive, and
// reconnection with backoff.
type Client struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	conn    *Conn // current connection, nil while down
	lastErr error // why the last attempt or connection ended
	logins  int   // successful logins since New
}

// Status is the state of the link to Asterisk, for health reports.
type Status struct {
	// Connected is true while a logged-in connection is up.
	Connected bool
	// Logins counts successful logins since the client was made: 0 means
	// Asterisk has not been reached yet, more and not Connected means the link
	// was lost and is being re-established.
	Logins int
	// LastError is why the last connection attempt failed or the last
	// connection ended (nil before any).
	LastError error
}

// Status reports the link state.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{Connected: c.conn != nil, Logins: c.logins, LastError: c.lastErr}
}

// New checks cfg and returns a client; Run starts it.
func New(cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, log: log}, nil
}

// ErrDown is returned by actions while there is no AMI connection.
var ErrDown = errors.New("ami: not connected to Asterisk")

// Conn returns the live connection or ErrDown.
func (c *Client) Conn() (*Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil, ErrDown
	}
	return c.conn, nil
}

// Action sends an action on the live connection and waits for its response.
func (c *Client) Action(ctx context.Context, m Message) (Message, error) {
	conn, err := c.Conn()
	if err != nil {
		return Message{}, err
	}
	return conn.Action(ctx, m)
}

// Run connects and reconnects until ctx ends.
func (c *Client) Run(ctx context.Context, h Handler) error {
	backoff := c.cfg.MinBackoff
	for ctx.Err() == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			// Jitter keeps a farm of clients from reconnecting in lockstep.
			d := backoff/2 + rand.N(backoff/2+1) //nolint:gosec // G404: jitter, not a secret
			c.log.Warn("ami connect failed", "addr", c.cfg.Address, "err", err, "retry_in", d.Round(time.Millisecond).String())
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
			backoff = min(backoff*2, c.cfg.MaxBackoff)
			continue
		}
		backoff = c.cfg.MinBackoff
		c.log.Info("ami connected", "addr", c.cfg.Address, "version", conn.Version)
		c.mu.Lock()
		c.conn = conn
		c.logins++
		c.mu.Unlock()
		err = conn.run(ctx, h, c.cfg.PingInterval)
		c.mu.Lock()
		c.conn = nil
		c.lastErr = err
		c.mu.Unlock()
		h.Disconnected(err)
		if ctx.Err() == nil {
			c.log.Warn("ami connection lost", "addr", c.cfg.Address, "err", err)
		}
	}
	return nil
}

func (c *Client) dial(ctx context.Context) (*Conn, error) { return dial(ctx, c.cfg, c.log, "on") }

// Dial makes one logged-in connection without events, for a tool that runs a
// few actions and closes it (the doctor); the CTI keeps its own with Client.
func Dial(ctx context.Context, cfg Config, log *slog.Logger) (*Conn, error) {
	return dial(ctx, cfg, log, "off")
}

func dial(ctx context.Context, cfg Config, log *slog.Logger, events string) (*Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("ami: dial %s: %w", cfg.Address, err)
	}
	conn := newConn(nc, cfg.ActionTimeout, log)
	nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	ver, err := ReadBanner(conn.r)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ami: banner from %s: %w", cfg.Address, err)
	}
	conn.Version = ver
	nc.SetDeadline(time.Time{})
	go conn.readLoop()
	resp, err := conn.Action(dctx, NewMessage("Action", "Login", "Username", cfg.Username, "Secret", cfg.Secret, "Events", events))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ami: login: %w", err)
	}
	if !strings.EqualFold(resp.Get("Response"), "Success") {
		conn.Close()
		return nil, fmt.Errorf("ami: login as %q refused: %s", cfg.Username, resp.Get("Message"))
	}
	return conn, nil
}

// Conn is one logged-in AMI connection.
type Conn struct {
	Version string

	nc      net.Conn
	r       *bufio.Reader
	log     *slog.Logger
	timeout time.Duration
	wmu     sync.Mutex
	nextID  atomic.Uint64

	mu      sync.Mutex
	pending map[string]*pendingAction
	queue   []Message // events waiting for the handler goroutine
	wake    chan struct{}
	done    chan struct{}
	err     error
}

type pendingAction struct {
	list   bool
	resp   Message
	events []Message
	ok     chan struct{} // closed when complete
	got    bool
}

func newConn(nc net.Conn, timeout time.Duration, log *slog.Logger) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, 8192), log: log, timeout: timeout,
		pending: map[string]*pendingAction{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Close drops the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Action sends m (an ActionID is added) and waits for the response.
func (c *Conn) Action(ctx context.Context, m Message) (Message, error) {
	p, err := c.send(ctx, m, false)
	if err != nil {
		return Message{}, err
	}
	return p.resp, nil
}

// ActionList sends a list action (CoreShowChannels, QueueStatus, ...) and collects
// its events up to the one carrying "EventList: Complete".
func (c *Conn) ActionList(ctx context.Context, m Message) (Message, []Message, error) {
	p, err := c.send(ctx, m, true)
	if err != nil {
		return Message{}, nil, err
	}
	if !strings.EqualFold(p.resp.Get("Response"), "Success") {
		return p.resp, nil, fmt.Errorf("ami: %s: %s", m.Get("Action"), p.resp.Get("Message"))
	}
	return p.resp, p.events, nil
}

func (c *Conn) send(ctx context.Context, m Message, list bool) (*pendingAction, error) {
	id := "sb-" + strconv.FormatUint(c.nextID.Add(1), 10)
	m.Set("ActionID", id)
	p := &pendingAction{list: list, ok: make(chan struct{})}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.nc.Write(m.Bytes())
	c.wmu.Unlock()
	if err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("ami: send %s: %w", m.Get("Action"), err)
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-p.ok:
		return p, nil
	case <-c.done:
		// The response may have come just before the close (Asterisk answers a
		// failed Login, then hangs up): both are ready, and select picks either.
		select {
		case <-p.ok:
			return p, nil
		default:
		}
		return nil, fmt.Errorf("ami: %s: %w", m.Get("Action"), c.closedErr())
	case <-t.C:
		return nil, fmt.Errorf("ami: %s: no response within %s", m.Get("Action"), c.timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return ErrDown
	}
	return c.err
}

// readLoop dispatches responses to their pending action and queues events.
func (c *Conn) readLoop() {
	var err error
	for {
		var m Message
		m, err = ReadMessage(c.r)
		if err != nil {
			break
		}
		id := m.Get("ActionID")
		c.mu.Lock()
		p := c.pending[id]
		switch {
		case p != nil && m.Has("Response") && !p.got:
			p.resp, p.got = m, true
			// A list whose response is an error, or says it has no list, is done.
			if !p.list || !strings.EqualFold(m.Get("Response"), "Success") || !strings.EqualFold(m.Get("EventList"), "start") {
				close(p.ok)
			}
		case p != nil && p.list && p.got && m.Has("Event"):
			if strings.EqualFold(m.Get("EventList"), "Complete") {
				close(p.ok)
			} else {
				p.events = append(p.events, m)
			}
		case m.Has("Event"):
			c.queue = append(c.queue, m)
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.err = fmt.Errorf("ami: connection closed: %w", err)
	c.mu.Unlock()
	close(c.done)
}

// run feeds the handler until the connection ends or ctx is cancelled.
func (c *Conn) run(ctx context.Context, h Handler, ping time.Duration) error {
	defer c.nc.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-cctx.Done():
			c.nc.Close()
		case <-c.done:
		}
	}()
	go c.keepalive(cctx, ping)
	if err := h.Connected(cctx, c); err != nil {
		return fmt.Errorf("ami: re-sync: %w", err)
	}
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()
		for _, m := range batch {
			h.Event(cctx, c, m)
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-c.wake:
		case <-c.done:
			c.mu.Lock()
			rest := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, m := range rest {
				h.Event(cctx, c, m)
			}
			return c.closedErr()
		}
	}
}

func (c *Conn) keepalive(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-t.C:
			if _, err := c.Action(ctx, NewMessage("Action", "Ping")); err != nil && ctx.Err() == nil {
				c.log.Warn("ami keepalive failed, reconnecting", "err", err)
				c.nc.Close()
				return
			}
		}
	}
}
