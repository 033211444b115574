// Package amitest is a test double of Asterisk's manager interface: a real TCP
// server on 127.0.0.1 that speaks the AMI wire protocol (banner, Login, ActionID,
// EventList lists) and replays event sequences a test writes from Asterisk's
// documented AMI events. Asterisk itself is not available on the test machines;
// this double follows the Asterisk 18-20 AMI reference (event and field names,
// list framing "Response: Success / EventList: start ... EventList: Complete").
//
// It keeps a small PBX state from the events it emits (channels with their
// bridges, endpoint device states, queue members and callers, parked calls) so
// that CoreShowChannels, PJSIPShowEndpoints, QueueStatus and ParkedCalls answer
// what a real Asterisk would after the same calls.
package amitest

import (
	"bufio"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fields is one AMI message as ordered key/value pairs.
type Fields [][2]string

// M builds Fields from alternating keys and values.
func M(kv ...string) Fields {
	var f Fields
	for i := 0; i+1 < len(kv); i += 2 {
		f = append(f, [2]string{kv[i], kv[i+1]})
	}
	return f
}

// Get returns the first value of key.
func (f Fields) Get(key string) string {
	for _, kv := range f {
		if strings.EqualFold(kv[0], key) {
			return kv[1]
		}
	}
	return ""
}

func (f Fields) bytes() []byte {
	var b strings.Builder
	for _, kv := range f {
		b.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

type chanState struct {
	order  int
	fields map[string]string
}

// Server is the AMI double.
type Server struct {
	Username, Secret string

	ln net.Listener
	mu sync.Mutex
	// Actions records every action received (after Login), for assertions.
	actions  []Fields
	conns    map[net.Conn]*sync.Mutex
	down     bool
	seq      int
	chans    map[string]*chanState
	devices  map[string]string // endpoint -> device state
	members  map[string]Fields // queue|interface -> member
	entries  map[string]Fields // queue|channel -> caller
	queues   map[string]bool
	parked   map[string]Fields // space -> ParkedCall fields
	lots     []Fields          // Parkinglot events
	logins   int
	onAction func(a Fields) []Fields
	astdb    map[string]string // family/key -> value
	commands map[string]string // CLI command -> output (Action: Command)
	clock    time.Duration     // added to the Ping timestamp
}

// SetCommand sets the output of a CLI command run with Action: Command, one
// "Output:" line per line, as Asterisk 20 answers it.
func (s *Server) SetCommand(cmd, output string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.commands == nil {
		s.commands = map[string]string{}
	}
	s.commands[cmd] = output
}

// SetClockOffset makes the PBX's clock (the Ping timestamp) run off by d.
func (s *Server) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	s.clock = d
	s.mu.Unlock()
}

// Start listens on 127.0.0.1 with the given manager credentials.
func Start(username, secret string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Username: username, Secret: secret, ln: ln, conns: map[net.Conn]*sync.Mutex{},
		chans: map[string]*chanState{}, devices: map[string]string{}, members: map[string]Fields{},
		entries: map[string]Fields{}, queues: map[string]bool{}, parked: map[string]Fields{}, astdb: map[string]string{}}
	go s.accept()
	return s, nil
}

// Addr is host:port of the listener.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.ln.Close()
	s.Drop()
}

// Drop closes every client connection, as an Asterisk restart or a network cut does.
func (s *Server) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// SetDown makes the server close new connections right after accepting them
// (Asterisk down), or work again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
	if down {
		s.Drop()
	}
}

// Logins counts successful logins.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Connected reports how many logged-in clients there are.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Actions returns the actions received so far, except Login and the list
// actions of a re-sync and Ping.
func (s *Server) Actions() []Fields {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fields(nil), s.actions...)
}

// OnAction sets a hook whose events are sent after an action's response (for
// example OriginateResponse after Originate).
func (s *Server) OnAction(f func(a Fields) []Fields) {
	s.mu.Lock()
	s.onAction = f
	s.mu.Unlock()
}

// SetEndpoint declares a PJSIP endpoint and its device state ("Not in use",
// "Unavailable", ...), as PJSIPShowEndpoints reports it.
func (s *Server) SetEndpoint(name, state string) {
	s.mu.Lock()
	s.devices[name] = state
	s.mu.Unlock()
}

// SetDB sets (or with value "" deletes) an AstDB entry, as a phone feature
// code (*76 DND, *72 call forward) would.
func (s *Server) SetDB(family, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == "" {
		delete(s.astdb, family+"/"+key)
		return
	}
	s.astdb[family+"/"+key] = value
}

// AddParkingLot declares a parking lot with spaces from..to (Parkinglots).
func (s *Server) AddParkingLot(name string, from, to, timeout int) {
	s.mu.Lock()
	s.lots = append(s.lots, M("Name", name, "StartSpace", strconv.Itoa(from), "StopSpace", strconv.Itoa(to), "Timeout", strconv.Itoa(timeout)))
	s.mu.Unlock()
}

// AddQueue declares a queue with no members.
func (s *Server) AddQueue(name string) {
	s.mu.Lock()
	s.queues[name] = true
	s.mu.Unlock()
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return
	}
	wmu := &sync.Mutex{}
	write := func(f Fields) error {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Write(f.bytes())
		return err
	}
	wmu.Lock()
	c.Write([]byte("Asterisk Call Manager/9.0.0\r\n"))
	wmu.Unlock()
	r := bufio.NewReader(c)
	logged := false
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	for {
		a, err := readFields(r)
		if err != nil {
			return
		}
		id := a.Get("ActionID")
		act := strings.ToLower(a.Get("Action"))
		if !logged {
			if act != "login" {
				write(M("Response", "Error", "ActionID", id, "Message", "Permission denied"))
				continue
			}
			if a.Get("Username") != s.Username || a.Get("Secret") != s.Secret {
				write(M("Response", "Error", "ActionID", id, "Message", "Authentication failed"))
				return // Asterisk closes the connection after a failed login
			}
			logged = true
			s.mu.Lock()
			s.logins++
			s.conns[c] = wmu
			s.mu.Unlock()
			write(M("Response", "Success", "ActionID", id, "Message", "Authentication accepted"))
			write(M("Event", "FullyBooted", "Privilege", "system,all", "Uptime", "10", "LastReload", "10", "Status", "Fully Booted"))
			continue
		}
		switch act {
		case "ping":
			s.mu.Lock()
			now := time.Now().Add(s.clock)
			s.mu.Unlock()
			write(M("Response", "Success", "ActionID", id, "Ping", "Pong", "Timestamp", fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)))
		case "command":
			s.mu.Lock()
			out, known := s.commands[a.Get("Command")]
			s.mu.Unlock()
			if !known {
				write(M("Response", "Error", "ActionID", id, "Message", "Command output follows", "Output", "No such command '"+a.Get("Command")+"'"))
				continue
			}
			resp := M("Response", "Success", "ActionID", id, "Message", "Command output follows")
			for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				resp = append(resp, [2]string{"Output", line})
			}
			write(resp)
		case "logoff":
			write(M("Response", "Goodbye", "ActionID", id, "Message", "Thanks for all the fish."))
			return
		case "pjsipshowendpoints", "coreshowchannels", "queuestatus", "parkedcalls", "parkinglots":
			s.list(act, id, write)
		case "confbridgelistrooms":
			// Asterisk's answer when no conference runs.
			write(M("Response", "Error", "ActionID", id, "Message", "No active conferences."))
		case "dbget":
			s.mu.Lock()
			v, ok := s.astdb[a.Get("Family")+"/"+a.Get("Key")]
			s.mu.Unlock()
			if !ok {
				write(M("Response", "Error", "ActionID", id, "Message", "Database entry not found"))
				continue
			}
			write(M("Response", "Success", "ActionID", id, "EventList", "start", "Message", "Result will follow"))
			write(M("Event", "DBGetResponse", "ActionID", id, "Family", a.Get("Family"), "Key", a.Get("Key"), "Val", v))
			write(M("Event", "DBGetComplete", "ActionID", id, "EventList", "Complete", "ListItems", "1"))
		default:
			s.mu.Lock()
			switch act {
			case "dbput":
				s.astdb[a.Get("Family")+"/"+a.Get("Key")] = a.Get("Val")
			case "dbdel":
				delete(s.astdb, a.Get("Family")+"/"+a.Get("Key"))
			}
			s.actions = append(s.actions, a)
			hook := s.onAction
			s.mu.Unlock()
			write(M("Response", "Success", "ActionID", id, "Message", a.Get("Action")+" successfully queued"))
			if hook != nil {
				for _, ev := range hook(a) {
					s.Emit(ev)
				}
			}
		}
	}
}

func readFields(r *bufio.Reader) (Fields, error) {
	var f Fields
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(f) == 0 {
				continue
			}
			return f, nil
		}
		k, v, _ := strings.Cut(line, ":")
		f = append(f, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
}

// list answers a list action from the double's state, framed as Asterisk does.
func (s *Server) list(act, id string, write func(Fields) error) {
	s.mu.Lock()
	var items []Fields
	var done string
	switch act {
	case "pjsipshowendpoints":
		done = "EndpointListComplete"
		names := sortedKeys(s.devices)
		for _, n := range names {
			items = append(items, M("Event", "EndpointList", "ActionID", id, "ObjectType", "endpoint", "ObjectName", n,
				"Transport", "", "Aor", n, "Auths", n, "OutboundAuths", "", "Contacts", "", "DeviceState", s.devices[n], "ActiveChannels", ""))
		}
	case "coreshowchannels":
		done = "CoreShowChannelsComplete"
		var cs []*chanState
		for _, c := range s.chans {
			cs = append(cs, c)
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].order < cs[j].order })
		for _, c := range cs {
			f := c.fields
			items = append(items, M("Event", "CoreShowChannel", "ActionID", id, "Channel", f["Channel"],
				"ChannelState", f["ChannelState"], "ChannelStateDesc", f["ChannelStateDesc"],
				"CallerIDNum", f["CallerIDNum"], "CallerIDName", f["CallerIDName"],
				"ConnectedLineNum", f["ConnectedLineNum"], "ConnectedLineName", f["ConnectedLineName"],
				"Language", "en", "AccountCode", "", "Context", f["Context"], "Exten", f["Exten"], "Priority", "1",
				"Uniqueid", f["Uniqueid"], "Linkedid", f["Linkedid"], "Application", f["Application"],
				"ApplicationData", "", "Duration", "00:00:05", "BridgeId", f["BridgeId"]))
		}
	case "queuestatus":
		done = "QueueStatusComplete"
		for _, q := range sortedKeys(s.queues) {
			items = append(items, M("Event", "QueueParams", "ActionID", id, "Queue", q, "Max", "0", "Strategy", "ringall",
				"Calls", "0", "Holdtime", "0", "TalkTime", "0", "Completed", "0", "Abandoned", "0", "ServiceLevel", "60", "ServicelevelPerf", "0.0", "Weight", "0"))
			for _, k := range sortedKeys(s.members) {
				if m := s.members[k]; m.Get("Queue") == q {
					items = append(items, append(M("Event", "QueueMember", "ActionID", id), m[1:]...))
				}
			}
			for _, k := range sortedKeys(s.entries) {
				if e := s.entries[k]; e.Get("Queue") == q {
					items = append(items, M("Event", "QueueEntry", "ActionID", id, "Queue", q, "Position", e.Get("Position"),
						"Channel", e.Get("Channel"), "Uniqueid", e.Get("Uniqueid"), "CallerIDNum", e.Get("CallerIDNum"),
						"CallerIDName", e.Get("CallerIDName"), "Wait", "3", "Priority", "0"))
				}
			}
		}
	case "parkinglots":
		done = "ParkinglotsComplete"
		for _, l := range s.lots {
			items = append(items, append(M("Event", "Parkinglot", "ActionID", id), l...))
		}
	case "parkedcalls":
		done = "ParkedCallsComplete"
		for _, k := range sortedKeys(s.parked) {
			items = append(items, append(M("Event", "ParkedCall", "ActionID", id), s.parked[k][1:]...))
		}
	}
	s.mu.Unlock()
	write(M("Response", "Success", "ActionID", id, "EventList", "start", "Message", "Events will follow"))
	for _, it := range items {
		write(it)
	}
	write(M("Event", done, "ActionID", id, "EventList", "Complete", "ListItems", strconv.Itoa(len(items))))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Emit sends an event to every logged-in client and updates the double's state
// as Asterisk's own would change.
func (s *Server) Emit(ev Fields) {
	s.mu.Lock()
	s.track(ev)
	var ws []func()
	b := ev.bytes()
	for c, mu := range s.conns {
		ws = append(ws, func() {
			mu.Lock()
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write(b)
			mu.Unlock()
		})
	}
	s.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

// EmitAll emits events in order.
func (s *Server) EmitAll(evs ...Fields) {
	for _, ev := range evs {
		s.Emit(ev)
	}
}

func (s *Server) track(ev Fields) {
	get := ev.Get
	upd := func(prefix string) {
		name := get(prefix + "Channel")
		if name == "" {
			return
		}
		c := s.chans[name]
		if c == nil {
			if get("Event") == "Hangup" {
				return
			}
			s.seq++
			c = &chanState{order: s.seq, fields: map[string]string{"Channel": name}}
			s.chans[name] = c
		}
		for _, k := range []string{"ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
			"ConnectedLineName", "Context", "Exten", "Uniqueid", "Linkedid"} {
			if v := get(prefix + k); v != "" {
				c.fields[k] = v
			}
		}
	}
	switch get("Event") {
	case "Newchannel", "Newstate", "NewConnectedLine", "Newexten", "DialEnd":
		upd("")
		upd("Dest")
	case "DialBegin":
		upd("")
		upd("Dest")
		if c := s.chans[get("Channel")]; c != nil {
			c.fields["Application"] = "Dial"
		}
	case "BridgeEnter":
		upd("")
		if c := s.chans[get("Channel")]; c != nil {
			c.fields["BridgeId"] = get("BridgeUniqueid")
		}
	case "BridgeLeave":
		if c := s.chans[get("Channel")]; c != nil && c.fields["BridgeId"] == get("BridgeUniqueid") {
			c.fields["BridgeId"] = ""
		}
	case "Hangup":
		delete(s.chans, get("Channel"))
		for k, e := range s.entries {
			if e.Get("Channel") == get("Channel") {
				delete(s.entries, k)
			}
		}
	case "DeviceStateChange":
		if tech, name, ok := strings.Cut(get("Device"), "/"); ok && tech == "PJSIP" {
			if _, known := s.devices[name]; known {
				s.devices[name] = deviceStateText(get("State"))
			}
		}
	case "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause":
		s.queues[get("Queue")] = true
		key := get("Queue") + "|" + get("Interface")
		m := M("Event", "QueueMember", "Queue", get("Queue"), "Name", get("MemberName"), "Location", get("Interface"),
			"StateInterface", get("StateInterface"), "Membership", get("Membership"), "Penalty", get("Penalty"),
			"CallsTaken", get("CallsTaken"), "LastCall", "0", "LastPause", "0", "InCall", get("InCall"),
			"Status", get("Status"), "Paused", get("Paused"), "PausedReason", get("PausedReason"))
		s.members[key] = m
	case "QueueMemberRemoved":
		delete(s.members, get("Queue")+"|"+get("Interface"))
	case "QueueCallerJoin":
		s.entries[get("Queue")+"|"+get("Channel")] = ev
	case "QueueCallerLeave", "QueueCallerAbandon":
		delete(s.entries, get("Queue")+"|"+get("Channel"))
	case "ParkedCall":
		s.parked[get("ParkingSpace")] = ev
	case "UnParkedCall", "ParkedCallGiveUp", "ParkedCallTimeOut":
		delete(s.parked, get("ParkingSpace"))
	}
}

// deviceStateText maps DeviceStateChange's State to PJSIPShowEndpoints' text.
func deviceStateText(st string) string {
	switch st {
	case "NOT_INUSE":
		return "Not in use"
	case "INUSE":
		return "In use"
	case "BUSY":
		return "Busy"
	case "RINGING":
		return "Ringing"
	case "RINGINUSE":
		return "Ring+Inuse"
	case "ONHOLD":
		return "On Hold"
	case "UNAVAILABLE":
		return "Unavailable"
	}
	return fmt.Sprintf("Unknown (%s)", st)
}
