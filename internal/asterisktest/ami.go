package asterisktest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Msg is one AMI message (response or event). A key that appears several
// times (Output:, ChanVariable:) holds its values joined by "\n".
type Msg map[string]string

// Get returns a field; keys are matched without regard to case.
func (m Msg) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// String renders the message as AMI does, for failure output.
func (m Msg) String() string {
	var b strings.Builder
	for _, first := range []string{"Response", "Event"} {
		if v, ok := m[first]; ok {
			fmt.Fprintf(&b, "%s: %s\n", first, v)
		}
	}
	for k, v := range m {
		if k != "Response" && k != "Event" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.String()
}

// Match returns a predicate true for messages whose fields equal the given
// key/value pairs ("Event", "Cdr", "Destination", "202").
func Match(kv ...string) func(Msg) bool {
	if len(kv)%2 != 0 {
		panic("asterisktest.Match: odd number of arguments")
	}
	return func(m Msg) bool {
		for i := 0; i < len(kv); i += 2 {
			if m.Get(kv[i]) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// ErrAuth is returned by DialAMI when the login is refused.
var ErrAuth = errors.New("AMI login refused")

// AMI is a minimal AMI client for tests: it records every event it receives
// (WaitEvent and Events look at all of them, from the login on) and matches
// responses to actions by ActionID. It is deliberately independent of the
// cti package, so harness tests check the PBX, not our client.
type AMI struct {
	conn   net.Conn
	wmu    sync.Mutex
	nextID atomic.Int64

	mu      sync.Mutex
	events  []Msg
	changed chan struct{} // closed and replaced on every event
	pending map[string]chan Msg
	lists   map[string][]Msg // events of an action's event list, by ActionID
	closed  chan struct{}
	err     error
	Banner  string // "Asterisk Call Manager/9.0.0"
}

// DialAMI connects and logs in. Events are on (Events: on).
func DialAMI(addr, user, secret string) (*AMI, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	banner, err := r.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("AMI banner: %w", err)
	}
	c.SetReadDeadline(time.Time{}) //nolint:errcheck
	a := &AMI{conn: c, changed: make(chan struct{}), pending: map[string]chan Msg{}, lists: map[string][]Msg{},
		closed: make(chan struct{}), Banner: strings.TrimSpace(banner)}
	go a.read(r)
	resp, err := a.Action("Login", "Username", user, "Secret", secret, "Events", "on")
	if err != nil {
		a.Close()
		return nil, err
	}
	if resp.Get("Response") != "Success" {
		a.Close()
		return nil, fmt.Errorf("%w: %s", ErrAuth, resp.Get("Message"))
	}
	return a, nil
}

func (a *AMI) read(r *bufio.Reader) {
	defer func() {
		a.mu.Lock()
		for id, ch := range a.pending {
			close(ch)
			delete(a.pending, id)
		}
		a.mu.Unlock()
		close(a.closed)
	}()
	m := Msg{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimPrefix(v, " ")
			if old, dup := m[k]; dup {
				v = old + "\n" + v
			}
			m[k] = v
			continue
		}
		if len(m) == 0 {
			continue
		}
		a.dispatch(m)
		m = Msg{}
	}
}

func (a *AMI) dispatch(m Msg) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := m["ActionID"]
	if _, isResp := m["Response"]; isResp {
		if ch, ok := a.pending[id]; ok && m["EventList"] != "start" {
			ch <- m
			delete(a.pending, id)
			return
		}
		if ch, ok := a.pending[id]; ok {
			// An event list follows; answer when it completes.
			a.lists[id] = []Msg{m}
			_ = ch
			return
		}
		return
	}
	if list, ok := a.lists[id]; ok && id != "" {
		a.lists[id] = append(list, m)
		if m["EventList"] == "Complete" {
			if ch, ok := a.pending[id]; ok {
				ch <- list[0]
				delete(a.pending, id)
			}
		}
		return
	}
	a.events = append(a.events, m)
	close(a.changed)
	a.changed = make(chan struct{})
}

// Action sends an action with fields as key/value pairs and waits (10 s) for
// its response. For actions answering with an event list, the response is
// returned once the list is complete; List returns the list's events.
func (a *AMI) Action(action string, kv ...string) (Msg, error) {
	resp, _, err := a.action(action, kv...)
	return resp, err
}

// List sends an action that answers with an event list (PJSIPShowEndpoints,
// QueueStatus, CoreShowChannels, ...) and returns the list's events.
func (a *AMI) List(action string, kv ...string) ([]Msg, error) {
	resp, list, err := a.action(action, kv...)
	if err != nil {
		return nil, err
	}
	if resp.Get("Response") != "Success" {
		return nil, fmt.Errorf("%s: %s", action, resp.Get("Message"))
	}
	return list, nil
}

func (a *AMI) action(action string, kv ...string) (Msg, []Msg, error) {
	if len(kv)%2 != 0 {
		return nil, nil, errors.New("odd number of fields")
	}
	id := fmt.Sprintf("sbt-%d", a.nextID.Add(1))
	var b strings.Builder
	fmt.Fprintf(&b, "Action: %s\r\nActionID: %s\r\n", action, id)
	for i := 0; i < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[i], kv[i+1])
	}
	b.WriteString("\r\n")
	ch := make(chan Msg, 1)
	a.mu.Lock()
	if a.err != nil {
		a.mu.Unlock()
		return nil, nil, fmt.Errorf("AMI connection closed: %w", a.err)
	}
	a.pending[id] = ch
	a.mu.Unlock()
	a.wmu.Lock()
	a.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	_, err := a.conn.Write([]byte(b.String()))
	a.wmu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, nil, fmt.Errorf("AMI connection closed during %s", action)
		}
		a.mu.Lock()
		list := a.lists[id]
		delete(a.lists, id)
		a.mu.Unlock()
		if len(list) > 0 {
			list = list[1:]
		}
		return m, list, nil
	case <-time.After(10 * time.Second):
		a.mu.Lock()
		delete(a.pending, id)
		delete(a.lists, id)
		a.mu.Unlock()
		return nil, nil, fmt.Errorf("no response to %s in 10 s", action)
	}
}

// MustAction is Action that fails the test unless the response is Success.
func (a *AMI) MustAction(t testing.TB, action string, kv ...string) Msg {
	t.Helper()
	r, err := a.Action(action, kv...)
	if err != nil {
		t.Fatalf("AMI %s: %v", action, err)
	}
	if r.Get("Response") != "Success" {
		t.Fatalf("AMI %s: %s", action, r)
	}
	return r
}

// Events returns every event received so far.
func (a *AMI) Events() []Msg {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Msg(nil), a.events...)
}

// Filter returns the events so far for which match is true.
func (a *AMI) Filter(match func(Msg) bool) []Msg {
	var out []Msg
	for _, m := range a.Events() {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// WaitEvent returns the first event (since login) for which match is true,
// waiting up to d for it.
func (a *AMI) WaitEvent(d time.Duration, match func(Msg) bool) (Msg, error) {
	deadline := time.After(d)
	seen := 0
	for {
		a.mu.Lock()
		evs := a.events[seen:]
		changed := a.changed
		seen = len(a.events)
		a.mu.Unlock()
		for _, m := range evs {
			if match(m) {
				return m, nil
			}
		}
		select {
		case <-changed:
		case <-a.closed:
			// Look at what arrived before the close.
			a.mu.Lock()
			evs := a.events[seen:]
			a.mu.Unlock()
			for _, m := range evs {
				if match(m) {
					return m, nil
				}
			}
			return nil, errors.New("AMI connection closed")
		case <-deadline:
			return nil, fmt.Errorf("no matching event in %v", d)
		}
	}
}

// Wait is WaitEvent that fails the test on timeout.
func (a *AMI) Wait(t testing.TB, d time.Duration, match func(Msg) bool) Msg {
	t.Helper()
	m, err := a.WaitEvent(d, match)
	if err != nil {
		t.Fatalf("AMI: %v; the last events were:\n%s", err, a.summary(40))
	}
	return m
}

// summary is one line per recent event, for failure messages.
func (a *AMI) summary(n int) string {
	evs := a.Events()
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	var b strings.Builder
	for _, m := range evs {
		fmt.Fprintf(&b, "  %s", m.Get("Event"))
		for _, k := range []string{"Channel", "Uniqueid", "Queue", "Interface", "EventName", "Disposition"} {
			if v := m.Get(k); v != "" {
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// WaitN waits until n events match and returns them.
func (a *AMI) WaitN(t testing.TB, d time.Duration, n int, match func(Msg) bool) []Msg {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := a.Filter(match)
		if len(got) >= n {
			return got
		}
		a.mu.Lock()
		changed := a.changed
		a.mu.Unlock()
		select {
		case <-changed:
		case <-a.closed:
			t.Fatalf("AMI closed with %d of %d matching events", len(got), n)
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%d of %d matching events in %v; the last events were:\n%s", len(got), n, d, a.summary(40))
		}
	}
}

// Closed is closed when the connection ends (an Asterisk restart shows as this).
func (a *AMI) Closed() <-chan struct{} { return a.closed }

// Close closes the connection.
func (a *AMI) Close() { a.conn.Close() }

// LiveChannel waits up to d for a channel of extension ext ("PJSIP/<ext>-...")
// that exists now (a Newchannel without its Hangup, seen on this connection)
// and returns the newest such channel's name.
func (a *AMI) LiveChannel(t testing.TB, d time.Duration, ext string) string {
	t.Helper()
	prefix := "PJSIP/" + ext + "-"
	deadline := time.Now().Add(d)
	for {
		live := ""
		gone := map[string]bool{}
		evs := a.Events()
		for i := len(evs) - 1; i >= 0; i-- {
			m := evs[i]
			ch := m.Get("Channel")
			if !strings.HasPrefix(ch, prefix) {
				continue
			}
			if m.Get("Event") == "Hangup" {
				gone[ch] = true
			}
			if m.Get("Event") == "Newchannel" && !gone[ch] {
				live = ch
				break
			}
		}
		if live != "" {
			return live
		}
		a.mu.Lock()
		changed := a.changed
		a.mu.Unlock()
		select {
		case <-changed:
		case <-a.closed:
			t.Fatalf("AMI closed while waiting for a channel of %s", ext)
		case <-time.After(time.Until(deadline)):
			t.Fatalf("no live channel of %s in %v", ext, d)
		}
	}
}

// DBGet reads an AstDB key (DND/201, CF/201, ...); a missing key is an error.
func (a *AMI) DBGet(family, key string) (string, error) {
	list, err := a.List("DBGet", "Family", family, "Key", key)
	if err != nil {
		return "", err
	}
	for _, m := range list {
		if m.Get("Event") == "DBGetResponse" {
			return m.Get("Val"), nil
		}
	}
	return "", fmt.Errorf("DBGet %s/%s: no DBGetResponse", family, key)
}
