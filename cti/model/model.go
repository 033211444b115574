package model

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// Extension is what clients see of one phone endpoint (nethcti "extension").
type Extension struct {
	Exten         string                   `json:"exten"`
	Name          string                   `json:"name"`
	Status        string                   `json:"status"` // online|offline|busy|ringing|busy_ringing|onhold|dnd
	DND           bool                     `json:"dnd"`
	CF            string                   `json:"cf"`
	Conversations map[string]*Conversation `json:"conversations"`
}

// Conversation is one leg pair seen from one extension. Its id is
// "<sourceChannel>><destChannel>", as nethcti clients expect.
type Conversation struct {
	ID              string `json:"id"`
	Owner           string `json:"owner"`
	Chan            string `json:"chSource"`
	Dest            string `json:"chDest"`
	CounterpartNum  string `json:"counterpartNum"`
	CounterpartName string `json:"counterpartName"`
	Direction       string `json:"direction"` // in|out
	StartTime       int64  `json:"startTime"` // unix milliseconds
	Duration        int64  `json:"duration"`  // seconds, at the time of the snapshot
	Connected       bool   `json:"connected"`
	Recording       string `json:"recording"` // false|true|mute
	ThroughQueue    bool   `json:"throughQueue"`
	ThroughTrunk    bool   `json:"throughTrunk"`
}

// Queue is one call queue with its members and waiting callers.
type Queue struct {
	Queue          string                  `json:"queue"`
	Name           string                  `json:"name"`
	Strategy       string                  `json:"strategy"`
	Members        map[string]*QueueMember `json:"members"`
	WaitingCallers map[string]*QueueCaller `json:"waitingCallers"`
	Completed      int                     `json:"completedCallsCount"`
	Abandoned      int                     `json:"abandonedCallsCount"`
}

// QueueMember is an agent of a queue.
type QueueMember struct {
	Queue      string `json:"queue"`
	Member     string `json:"member"` // extension
	Name       string `json:"name"`
	Interface  string `json:"interface"`
	Type       string `json:"type"` // static|dynamic
	LoggedIn   bool   `json:"loggedIn"`
	Paused     bool   `json:"paused"`
	Reason     string `json:"pauseReason"`
	CallsTaken int    `json:"callsTakenCount"`
	InCall     bool   `json:"inCall"`
}

// QueueCaller is a call waiting in a queue.
type QueueCaller struct {
	Queue    string `json:"queue"`
	Channel  string `json:"channel"`
	Num      string `json:"num"`
	Name     string `json:"name"`
	Position int    `json:"position"`
	Since    int64  `json:"waitingSince"` // unix milliseconds
}

// Parking is one parking space.
type Parking struct {
	Parking    string `json:"parking"`
	Lot        string `json:"lot"`
	Channel    string `json:"channel,omitempty"`
	ParkedNum  string `json:"parkedCallerNum,omitempty"`
	ParkedName string `json:"parkedCallerName,omitempty"`
	Timeout    int    `json:"timeout,omitempty"` // seconds
	Since      int64  `json:"since,omitempty"`   // unix milliseconds
}

// Trunk is a provider endpoint.
type Trunk struct {
	Exten         string                   `json:"exten"`
	Name          string                   `json:"name"`
	Status        string                   `json:"status"` // online|offline|busy
	Conversations map[string]*Conversation `json:"conversations"`
}

// channel is an Asterisk channel as the model tracks it.
type channel struct {
	Name, Uniqueid, Linkedid string
	Endpoint                 string // "201" of "PJSIP/201-0000001a"
	CallerNum, CallerName    string
	ConnNum, ConnName        string
	Exten                    string
	State                    string // ChannelStateDesc: Down, Ring, Ringing, Up, Busy
	Bridge                   string
	Peer                     string // channel on the other end
	Source                   bool   // this channel placed the call to Peer
	Queue                    string // queue the call came through
	Recording                string
	Hold                     bool
	Parked                   bool
	Start                    time.Time
	seq                      uint64
}

// Emit is one change clients must hear: the nethcti event name, its data and its
// audience.
type Emit struct {
	Name string
	Data any
	// Room is the audience: ExtenRoom(n) for the users of extension n, or one of
	// the panel rooms below. Who joins which room is the CTI's permission policy.
	Room string
	// Also lists extensions whose ExtenRoom hears the event as well.
	Also []string
}

// Rooms of the panels; which profiles join them is decided by the CTI.
const (
	RoomPresence = "presence_panel" // every extension's state
	RoomQueues   = "queues"         // queues, their members and waiting callers
	RoomParkings = "parkings"       // parking spaces
	RoomTrunks   = "trunks"         // provider trunks
)

// ExtenRoom is the room of the users of extension e: events about their own calls.
func ExtenRoom(e string) string { return "exten:" + e }

// Model is the call state. It is not safe for concurrent use: the service applies
// events on the AMI goroutine and readers take Snapshot under the service lock.
type Model struct {
	exts     map[string]*Extension
	trunks   map[string]*Trunk
	devState map[string]string // endpoint -> AMI device state
	chans    map[string]*channel
	byEP     map[string]map[string]*channel // endpoint -> its channels
	bridges  map[string]map[string]bool
	queues   map[string]*Queue
	parkings map[string]*Parking
	isTrunk  map[string]bool
	names    map[string]string // extension -> display name (from users)
	seq      uint64
	now      func() time.Time
}

// New returns an empty model; trunks names the endpoints that are trunks, and
// now is the clock (time.Now in the daemon) that call start times and
// durations are read from.
func New(trunks []string, now func() time.Time) *Model {
	m := &Model{now: now, isTrunk: map[string]bool{}, names: map[string]string{}}
	for _, t := range trunks {
		m.isTrunk[t] = true
	}
	m.reset()
	return m
}

func (m *Model) reset() {
	m.exts = map[string]*Extension{}
	m.trunks = map[string]*Trunk{}
	m.devState = map[string]string{}
	m.chans = map[string]*channel{}
	m.byEP = map[string]map[string]*channel{}
	m.bridges = map[string]map[string]bool{}
	m.queues = map[string]*Queue{}
	m.parkings = map[string]*Parking{}
}

// SetNames sets display names of extensions (from CTI users).
func (m *Model) SetNames(n map[string]string) {
	m.names = n
	for e, x := range m.exts {
		if v, ok := n[e]; ok {
			x.Name = v
		}
	}
}

// endpointOf maps "PJSIP/201-0000001a" to "201" and "Local/201@ctx-0001;1" to "".
func endpointOf(ch string) string {
	tech, rest, ok := strings.Cut(ch, "/")
	if !ok {
		return ""
	}
	switch strings.ToUpper(tech) {
	case "PJSIP", "SIP", "IAX2", "DAHDI":
	default:
		return ""
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		rest = rest[:i]
	}
	return rest
}

// deviceEndpoint maps "PJSIP/201" to "201".
func deviceEndpoint(dev string) string {
	tech, rest, ok := strings.Cut(dev, "/")
	if !ok || strings.Contains(rest, "/") {
		return ""
	}
	switch strings.ToUpper(tech) {
	case "PJSIP", "SIP", "IAX2":
		return rest
	}
	return ""
}

func (m *Model) ensureExt(e string) *Extension {
	x := m.exts[e]
	if x == nil {
		x = &Extension{Exten: e, Name: m.names[e], Status: "offline", Conversations: map[string]*Conversation{}}
		m.exts[e] = x
	}
	return x
}

func (m *Model) ensureTrunk(e string) *Trunk {
	t := m.trunks[e]
	if t == nil {
		t = &Trunk{Exten: e, Name: e, Status: "offline", Conversations: map[string]*Conversation{}}
		m.trunks[e] = t
	}
	return t
}

// statusOf maps an Asterisk device state (AMI "State" or PJSIPShowEndpoints
// "DeviceState") to a nethcti status.
func statusOf(state string) string {
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(state), " ", "_")) {
	case "NOT_INUSE", "NOT_IN_USE", "IDLE":
		return "online"
	case "INUSE", "IN_USE", "BUSY":
		return "busy"
	case "RINGING":
		return "ringing"
	case "RINGINUSE", "RING_INUSE", "RING_IN_USE", "RING+INUSE":
		return "busy_ringing"
	case "ONHOLD", "ON_HOLD":
		return "onhold"
	default: // UNAVAILABLE, INVALID, UNKNOWN
		return "offline"
	}
}

// convOf builds the conversation of channel c (nil when it has none to show).
func (m *Model) convOf(c *channel, owner string) *Conversation {
	src, dst := c.Name, c.Peer
	if !c.Source {
		src, dst = c.Peer, c.Name
	}
	cv := &Conversation{ID: src + ">" + dst, Owner: owner, Chan: src, Dest: dst,
		CounterpartNum: c.ConnNum, CounterpartName: c.ConnName, Direction: "in",
		StartTime: c.Start.UnixMilli(), Duration: int64(m.now().Sub(c.Start) / time.Second),
		Recording: "false"}
	if c.Source {
		cv.Direction = "out"
	}
	if c.Recording != "" {
		cv.Recording = c.Recording
	}
	if p := m.chans[c.Peer]; p != nil {
		cv.Connected = c.Bridge != "" && c.Bridge == p.Bridge
		far := m.farEnd(c)
		cv.ThroughTrunk = m.isTrunk[far.Endpoint]
		cv.ThroughQueue = p.Queue != "" || far.Queue != ""
		if cv.CounterpartNum == "" {
			cv.CounterpartNum = far.CallerNum
			cv.CounterpartName = far.CallerName
		}
	} else {
		// A channel alone: ringing from the dialplan, parked, or in a queue.
		cv.ID = c.Name + ">"
		cv.Dest = ""
		if cv.CounterpartNum == "" {
			cv.CounterpartNum = c.Exten
		}
	}
	cv.ThroughQueue = cv.ThroughQueue || c.Queue != ""
	return cv
}

// farEnd follows c's peer through Local channel pairs (queues and ring groups
// dial members through Local/...;1 and ;2) to the channel really on the other
// end, so a queue call still shows the outside caller and "through trunk".
func (m *Model) farEnd(c *channel) *channel {
	p := m.chans[c.Peer]
	for hops := 0; p != nil && hops < 4 && strings.HasPrefix(p.Name, "Local/"); hops++ {
		var sib string
		switch {
		case strings.HasSuffix(p.Name, ";1"):
			sib = strings.TrimSuffix(p.Name, ";1") + ";2"
		case strings.HasSuffix(p.Name, ";2"):
			sib = strings.TrimSuffix(p.Name, ";2") + ";1"
		default:
			return p
		}
		s := m.chans[sib]
		if s == nil || s.Peer == "" || s.Peer == c.Name {
			return p
		}
		next := m.chans[s.Peer]
		if next == nil {
			return p
		}
		p = next
	}
	if p == nil {
		return c
	}
	return p
}

// rebuild recomputes the conversations and status of one endpoint from its
// channels, and reports whether the JSON clients see changed.
func (m *Model) rebuild(e string) (changed bool, obj any) {
	if e == "" {
		return false, nil
	}
	convs := map[string]*Conversation{}
	for _, c := range m.byEP[e] {
		cv := m.convOf(c, e)
		convs[cv.ID] = cv
	}
	if m.isTrunk[e] {
		t := m.ensureTrunk(e)
		before := fingerprint(t.Status, t.Conversations)
		t.Conversations = convs
		t.Status = statusOf(m.devState[e])
		return before != fingerprint(t.Status, t.Conversations), t
	}
	x := m.ensureExt(e)
	before := fingerprint(x.Status+strconv.FormatBool(x.DND)+x.CF, x.Conversations)
	x.Conversations = convs
	x.Status = statusOf(m.devState[e])
	if x.DND && x.Status != "offline" {
		x.Status = "dnd"
	}
	return before != fingerprint(x.Status+strconv.FormatBool(x.DND)+x.CF, x.Conversations), x
}

// fingerprint ignores durations, which change every second.
func fingerprint(status string, convs map[string]*Conversation) string {
	ids := make([]string, 0, len(convs))
	for id, c := range convs {
		ids = append(ids, id+"|"+c.CounterpartNum+"|"+c.CounterpartName+"|"+c.Direction+"|"+
			strconv.FormatBool(c.Connected)+"|"+c.Recording+"|"+strconv.FormatBool(c.ThroughQueue)+"|"+strconv.FormatBool(c.ThroughTrunk))
	}
	sort.Strings(ids)
	return status + "#" + strings.Join(ids, ",")
}

func (m *Model) chanOf(ev ami.Message, prefix string) *channel {
	name := ev.Get(prefix + "Channel")
	if name == "" {
		return nil
	}
	c := m.chans[name]
	if c == nil {
		m.seq++
		c = &channel{Name: name, Endpoint: endpointOf(name), Start: m.now(), seq: m.seq}
		m.chans[name] = c
		if c.Endpoint != "" {
			if m.byEP[c.Endpoint] == nil {
				m.byEP[c.Endpoint] = map[string]*channel{}
			}
			m.byEP[c.Endpoint][name] = c
		}
	}
	if v := ev.Get(prefix + "Uniqueid"); v != "" {
		c.Uniqueid = v
	}
	if v := ev.Get(prefix + "Linkedid"); v != "" {
		c.Linkedid = v
	}
	if ev.Has(prefix + "CallerIDNum") {
		c.CallerNum = unknownEmpty(ev.Get(prefix + "CallerIDNum"))
		c.CallerName = unknownEmpty(ev.Get(prefix + "CallerIDName"))
	}
	if ev.Has(prefix + "ConnectedLineNum") {
		c.ConnNum = unknownEmpty(ev.Get(prefix + "ConnectedLineNum"))
		c.ConnName = unknownEmpty(ev.Get(prefix + "ConnectedLineName"))
	}
	if v := ev.Get(prefix + "ChannelStateDesc"); v != "" {
		c.State = v
	}
	if v := ev.Get(prefix + "Exten"); v != "" && v != "s" {
		c.Exten = v
	}
	return c
}

// pairBridge makes the two channels of a two-party bridge each other's peer
// (transfers and pickups create pairs no Dial announced) and reports them connected.
func (m *Model) pairBridge(id string, t touched) []Emit {
	members := m.bridges[id]
	if len(members) != 2 {
		return nil
	}
	var cs []*channel
	for n := range members {
		if c := m.chans[n]; c != nil && !c.Parked {
			cs = append(cs, c)
		}
	}
	if len(cs) != 2 {
		return nil
	}
	c, other := cs[0], cs[1]
	if c.Peer == other.Name && other.Peer == c.Name {
		// Already paired (by DialBegin): only the connected state changes.
		if c.Bridge != id || other.Bridge != id {
			return nil
		}
	} else {
		c.Peer, other.Peer = other.Name, c.Name
		// The older channel is the source.
		c.Source = c.seq < other.seq
		other.Source = !c.Source
		c.ConnNum, c.ConnName = other.CallerNum, other.CallerName
		other.ConnNum, other.ConnName = c.CallerNum, c.CallerName
	}
	t.add(c)
	t.add(other)
	var out []Emit
	for _, x := range []*channel{c, other} {
		if x.Endpoint != "" && !m.isTrunk[x.Endpoint] {
			if changed, _ := m.rebuild(x.Endpoint); changed {
				if e := m.exts[x.Endpoint]; e != nil {
					out = append(out, Emit{Name: "extenConnected", Data: e, Room: ExtenRoom(e.Exten)})
					out = append(out, Emit{Name: "extenUpdate", Data: e, Room: RoomPresence, Also: []string{e.Exten}})
				}
			}
		}
	}
	return out
}

// unknownEmpty turns Asterisk's "<unknown>" placeholder into "".
func unknownEmpty(s string) string {
	if s == "<unknown>" {
		return ""
	}
	return s
}

// touched collects the endpoints whose objects may have changed.
type touched map[string]bool

func (t touched) add(c *channel) {
	if c != nil && c.Endpoint != "" {
		t[c.Endpoint] = true
	}
}

// Apply updates the model with one AMI event and returns what clients must hear.
func (m *Model) Apply(ev ami.Message) []Emit {
	t := touched{}
	var out []Emit
	switch ev.Event() {
	case "Newchannel", "Newstate", "NewConnectedLine", "NewCallerid", "Newexten":
		c := m.chanOf(ev, "")
		t.add(c)
	case "DialBegin":
		src := m.chanOf(ev, "")
		dst := m.chanOf(ev, "Dest")
		if dst == nil {
			break
		}
		if src != nil {
			src.Peer, src.Source = dst.Name, true
			dst.Peer, dst.Source = src.Name, false
			if dst.ConnNum == "" {
				dst.ConnNum, dst.ConnName = src.CallerNum, src.CallerName
			}
			if src.ConnNum == "" || src.ConnNum == src.CallerNum {
				src.ConnNum = firstNonEmpty(ev.Get("DialString"), dst.CallerNum)
				if i := strings.LastIndexByte(src.ConnNum, '/'); i >= 0 {
					src.ConnNum = src.ConnNum[i+1:]
				}
			}
			dst.Queue = src.Queue
			t.add(src)
		}
		t.add(dst)
		if dst.Endpoint != "" && !m.isTrunk[dst.Endpoint] {
			if changed, _ := m.rebuild(dst.Endpoint); changed {
				x := m.exts[dst.Endpoint]
				out = append(out, Emit{Name: "extenRinging", Data: x, Room: ExtenRoom(x.Exten)},
					Emit{Name: "extenUpdate", Data: x, Room: RoomPresence, Also: []string{x.Exten}})
			}
		}
	case "DialEnd":
		src := m.chanOf(ev, "")
		dst := m.chanOf(ev, "Dest")
		t.add(src)
		t.add(dst)
	case "BridgeEnter":
		c := m.chanOf(ev, "")
		if c == nil {
			break
		}
		id := ev.Get("BridgeUniqueid")
		c.Bridge = id
		members := m.bridges[id]
		if members == nil {
			members = map[string]bool{}
			m.bridges[id] = members
		}
		members[c.Name] = true
		t.add(c)
		if strings.EqualFold(ev.Get("BridgeType"), "parking") {
			c.Parked = true
			break
		}
		out = append(out, m.pairBridge(id, t)...)
	case "BridgeLeave":
		c := m.chanOf(ev, "")
		if c == nil {
			break
		}
		id := ev.Get("BridgeUniqueid")
		if mem := m.bridges[id]; mem != nil {
			delete(mem, c.Name)
			for n := range mem {
				t.add(m.chans[n])
			}
			if len(mem) == 0 {
				delete(m.bridges, id) // BridgeDestroy may never come (a lost connection)
			}
		}
		if c.Bridge == id {
			c.Bridge = ""
		}
		c.Parked = false
		t.add(c)
		// A bridge left with two parties (the transferer leaving after an
		// attended transfer) is a new conversation between them.
		out = append(out, m.pairBridge(id, t)...)
	case "BridgeDestroy":
		delete(m.bridges, ev.Get("BridgeUniqueid"))
	case "Hold", "Unhold":
		if c := m.chanOf(ev, ""); c != nil {
			c.Hold = ev.Event() == "Hold"
			t.add(c)
		}
	case "MixMonitorStart", "MixMonitorStop", "MixMonitorMute":
		if c := m.chanOf(ev, ""); c != nil {
			switch {
			case ev.Event() == "MixMonitorStart":
				c.Recording = "true"
			case ev.Event() == "MixMonitorStop":
				c.Recording = ""
			case ev.Get("State") == "1":
				c.Recording = "mute"
			default:
				c.Recording = "true"
			}
			t.add(c)
			t.add(m.chans[c.Peer])
		}
	case "Hangup":
		name := ev.Get("Channel")
		c := m.chans[name]
		if c == nil {
			break
		}
		delete(m.chans, name)
		if eps := m.byEP[c.Endpoint]; eps != nil {
			delete(eps, name)
			if len(eps) == 0 {
				delete(m.byEP, c.Endpoint)
			}
		}
		if mem := m.bridges[c.Bridge]; mem != nil {
			delete(mem, name)
			if len(mem) == 0 {
				delete(m.bridges, c.Bridge)
			}
		}
		// A caller hanging up in a queue without QueueCallerAbandon (or whose
		// leave event was lost) must not stay "waiting" for ever.
		for _, q := range m.queues {
			if _, ok := q.WaitingCallers[name]; ok {
				delete(q.WaitingCallers, name)
				out = append(out, Emit{Name: "queueUpdate", Data: q, Room: RoomQueues})
			}
		}
		if p := m.chans[c.Peer]; p != nil && p.Peer == name {
			p.Peer = ""
			t.add(p)
		}
		t.add(c)
		if c.Endpoint != "" && !m.isTrunk[c.Endpoint] {
			called := c.Exten
			caller := c.CallerNum
			if !c.Source {
				caller, called = c.ConnNum, c.CallerNum
			} else if c.ConnNum != "" {
				called = c.ConnNum
			}
			out = append(out, Emit{Name: "extenHangup", Room: ExtenRoom(c.Endpoint), Data: map[string]any{
				"cause": hangupCause(ev.Get("Cause-txt"), ev.Get("Cause")), "channel": name,
				"callerNum": caller, "calledNum": called, "exten": c.Endpoint}})
		}
	case "DeviceStateChange":
		e := deviceEndpoint(ev.Get("Device"))
		if e == "" {
			break
		}
		m.devState[e] = ev.Get("State")
		t[e] = true
	case "ContactStatus":
		// Registration changes arrive before the DeviceStateChange; nothing to do.
	case "BlindTransfer", "AttendedTransfer":
		// The channel moves that follow (Dial*, Bridge*, Hangup) carry the new state.
	case "QueueCallerJoin":
		c := m.chanOf(ev, "")
		q := m.ensureQueue(ev.Get("Queue"))
		if c != nil && q != nil {
			c.Queue = q.Queue
			q.WaitingCallers[c.Name] = &QueueCaller{Queue: q.Queue, Channel: c.Name, Num: c.CallerNum, Name: c.CallerName,
				Position: atoi(ev.Get("Position")), Since: m.now().UnixMilli()}
			out = append(out, Emit{Name: "queueUpdate", Data: q, Room: RoomQueues})
			t.add(c)
		}
	case "QueueCallerLeave", "QueueCallerAbandon":
		if q := m.queues[ev.Get("Queue")]; q != nil {
			delete(q.WaitingCallers, ev.Get("Channel"))
			if ev.Event() == "QueueCallerAbandon" {
				q.Abandoned++
			}
			out = append(out, Emit{Name: "queueUpdate", Data: q, Room: RoomQueues})
		}
	case "AgentComplete":
		if q := m.queues[ev.Get("Queue")]; q != nil {
			q.Completed++
			out = append(out, Emit{Name: "queueUpdate", Data: q, Room: RoomQueues})
		}
	case "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPaused", "QueueMemberPenalty", "QueueMemberRinginuse":
		if mb := m.memberFrom(ev); mb != nil {
			out = append(out, Emit{Name: "queueMemberUpdate", Data: mb, Room: RoomQueues, Also: []string{mb.Member}})
		}
	case "QueueMemberRemoved":
		if q := m.queues[ev.Get("Queue")]; q != nil {
			iface := firstNonEmpty(ev.Get("Interface"), ev.Get("Location"))
			if mb := q.Members[iface]; mb != nil {
				delete(q.Members, iface)
				mb.LoggedIn = false
				out = append(out, Emit{Name: "queueMemberUpdate", Data: mb, Room: RoomQueues, Also: []string{mb.Member}})
			}
		}
	case "ParkedCall":
		p := m.parkingFrom(ev)
		if c := m.chans[ev.Get("ParkeeChannel")]; c != nil {
			c.Parked = true
			t.add(c)
		}
		out = append(out, Emit{Name: "parkingUpdate", Data: p, Room: RoomParkings})
	case "UnParkedCall", "ParkedCallGiveUp", "ParkedCallTimeOut":
		key := ev.Get("ParkingSpace")
		if p := m.parkings[key]; p != nil {
			*p = Parking{Parking: p.Parking, Lot: p.Lot}
			out = append(out, Emit{Name: "parkingUpdate", Data: p, Room: RoomParkings})
		}
	}
	for e := range t {
		changed, obj := m.rebuild(e)
		if !changed {
			continue
		}
		if tr, ok := obj.(*Trunk); ok {
			out = append(out, Emit{Name: "trunkUpdate", Data: tr, Room: RoomTrunks})
		} else {
			out = append(out, Emit{Name: "extenUpdate", Data: obj, Room: RoomPresence, Also: []string{e}})
		}
	}
	return out
}

func hangupCause(txt, code string) string {
	switch code {
	case "16":
		return "normal_clearing"
	case "17":
		return "user_busy"
	case "19", "18":
		return "noanswer"
	case "21":
		return "call_rejected"
	}
	if txt == "" {
		return "unknown"
	}
	return strings.ReplaceAll(strings.ToLower(txt), " ", "_")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func (m *Model) ensureQueue(name string) *Queue {
	if name == "" {
		return nil
	}
	q := m.queues[name]
	if q == nil {
		q = &Queue{Queue: name, Name: name, Members: map[string]*QueueMember{}, WaitingCallers: map[string]*QueueCaller{}}
		m.queues[name] = q
	}
	return q
}

// memberFrom reads QueueMember (QueueStatus) and QueueMember* events.
func (m *Model) memberFrom(ev ami.Message) *QueueMember {
	q := m.ensureQueue(ev.Get("Queue"))
	if q == nil {
		return nil
	}
	iface := firstNonEmpty(ev.Get("Interface"), ev.Get("Location"), ev.Get("StateInterface"))
	if iface == "" {
		return nil
	}
	mb := q.Members[iface]
	if mb == nil {
		mb = &QueueMember{Queue: q.Queue, Interface: iface, Member: memberExten(iface)}
		q.Members[iface] = mb
	}
	mb.Name = firstNonEmpty(ev.Get("MemberName"), ev.Get("Name"), mb.Name)
	mb.LoggedIn = true
	if v := ev.Get("Membership"); v != "" {
		mb.Type = v
	}
	if ev.Has("Paused") {
		mb.Paused = ev.Get("Paused") == "1"
		mb.Reason = ev.Get("PausedReason")
	}
	if ev.Has("CallsTaken") {
		mb.CallsTaken = atoi(ev.Get("CallsTaken"))
	}
	if ev.Has("InCall") {
		mb.InCall = ev.Get("InCall") == "1"
	}
	return mb
}

// memberExten maps "PJSIP/201" or "Local/201@from-queue/n" to "201".
func memberExten(iface string) string {
	_, rest, ok := strings.Cut(iface, "/")
	if !ok {
		return iface
	}
	if i := strings.IndexAny(rest, "@/"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func (m *Model) parkingFrom(ev ami.Message) *Parking {
	key := ev.Get("ParkingSpace")
	p := m.parkings[key]
	if p == nil {
		p = &Parking{Parking: key}
		m.parkings[key] = p
	}
	p.Lot = ev.Get("ParkingLot")
	p.Channel = ev.Get("ParkeeChannel")
	p.ParkedNum = unknownEmpty(ev.Get("ParkeeCallerIDNum"))
	p.ParkedName = unknownEmpty(ev.Get("ParkeeCallerIDName"))
	p.Timeout = atoi(ev.Get("ParkingTimeout"))
	dur := atoi(ev.Get("ParkingDuration"))
	p.Since = m.now().Add(-time.Duration(dur) * time.Second).UnixMilli()
	return p
}
