package model

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
)

// Extension is what clients see of one phone endpoint: the JSON of
// nethcti's (astproxy's) Extension. Fields the PBX does not tell over AMI
// (mac, codecs) are present and empty, as astproxy leaves them when unknown.
type Extension struct {
	Exten    string `json:"exten"`
	Name     string `json:"name"`
	Username string `json:"username"` // the CTI user owning it ("" when none)
	Status   string `json:"status"`   // online|offline|busy|ringing|busy_ringing|onhold|dnd
	DND      bool   `json:"dnd"`
	// Call forwards from AstDB: a number, or "" when off. A forward to voice
	// mail (AstDB value "vmu<box>") shows in the *Vm field instead.
	CF            string                   `json:"cf"`
	CFB           string                   `json:"cfb"`
	CFU           string                   `json:"cfu"`
	CFVm          string                   `json:"cfVm"`
	CFBVm         string                   `json:"cfbVm"`
	CFUVm         string                   `json:"cfuVm"`
	IP            string                   `json:"ip"`
	Port          string                   `json:"port"`
	MAC           string                   `json:"mac"`
	Codecs        []string                 `json:"codecs"`
	Context       string                   `json:"context"`
	ChanType      string                   `json:"chanType"` // pjsip
	UseWebsocket  bool                     `json:"useWebsocket"`
	SipUserAgent  string                   `json:"sipuseragent"`
	Conversations map[string]*Conversation `json:"conversations"`
}

// Conversation is one leg pair seen from one extension (astproxy's
// Conversation). Its id is "<sourceChannel>><destChannel>", as nethcti
// clients expect.
type Conversation struct {
	ID              string       `json:"id"`
	Owner           string       `json:"owner"`
	ChSource        *ChannelView `json:"chSource"`
	ChDest          *ChannelView `json:"chDest"` // null while the call has no other party
	QueueID         string       `json:"queueId"`
	LinkedID        string       `json:"linkedId"`
	UniqueID        string       `json:"uniqueId"`
	CounterpartNum  string       `json:"counterpartNum"`
	CounterpartName string       `json:"counterpartName"`
	Direction       string       `json:"direction"` // in|out
	StartTime       int64        `json:"startTime"` // unix milliseconds
	Duration        int64        `json:"duration"`  // seconds, at the time of the snapshot
	Connected       bool         `json:"connected"`
	Recording       string       `json:"recording"` // false|true|mute
	InConference    bool         `json:"inConference"`
	ThroughQueue    bool         `json:"throughQueue"`
	ThroughTrunk    bool         `json:"throughTrunk"`
}

// ChannelView is one channel of a conversation (astproxy's Channel).
type ChannelView struct {
	Type           string `json:"type"` // source|dest
	Channel        string `json:"channel"`
	CallerNum      string `json:"callerNum"`
	CallerName     string `json:"callerName"`
	StartTime      int64  `json:"startTime"` // unix milliseconds
	BridgedNum     string `json:"bridgedNum"`
	BridgedName    string `json:"bridgedName"`
	InConference   bool   `json:"inConference"`
	ChannelStatus  string `json:"channelStatus"` // down|ring|ringing|up|busy (Asterisk's state, lower case)
	BridgedChannel string `json:"bridgedChannel"`
}

// Queue is one call queue with its members and waiting callers (astproxy's
// Queue). Members are keyed by extension, waiting callers by channel.
type Queue struct {
	Queue                  string                  `json:"queue"`
	Name                   string                  `json:"name"`
	Strategy               string                  `json:"strategy"`
	Members                map[string]*QueueMember `json:"members"`
	WaitingCallers         map[string]*QueueCaller `json:"waitingCallers"`
	AvgHoldTime            int                     `json:"avgHoldTime"` // seconds
	AvgTalkTime            int                     `json:"avgTalkTime"` // seconds
	Completed              int                     `json:"completedCallsCount"`
	Abandoned              int                     `json:"abandonedCallsCount"`
	ServiceLevelTimePeriod int                     `json:"serviceLevelTimePeriod"` // seconds
	ServiceLevelPercentage string                  `json:"serviceLevelPercentage"` // as Asterisk prints it ("87.5")
}

// QueueMember is an agent of a queue (astproxy's QueueMember).
type QueueMember struct {
	Type                   string `json:"type"` // static|dynamic
	Name                   string `json:"name"`
	Queue                  string `json:"queue"`
	Member                 string `json:"member"` // extension
	Paused                 bool   `json:"paused"`
	LoggedIn               bool   `json:"loggedIn"`
	CallsTaken             int    `json:"callsTakenCount"`
	LastCallTimestamp      int64  `json:"lastCallTimestamp"`      // unix seconds, 0 when none
	LastPausedInReason     string `json:"lastPausedInReason"`     // the reason of the last pause
	LastPausedInTimestamp  int64  `json:"lastPausedInTimestamp"`  // unix seconds of the last pause
	LastPausedOutTimestamp int64  `json:"lastPausedOutTimestamp"` // unix seconds of the last unpause
	Interface              string `json:"interface"`              // PJSIP/201 (extra, for operators)
	InCall                 bool   `json:"inCall"`
}

// QueueCaller is a call waiting in a queue (astproxy's QueueWaitingCaller).
type QueueCaller struct {
	ID          string `json:"id"` // the channel
	Num         string `json:"num"`
	Name        string `json:"name"`
	Queue       string `json:"queue"`
	Waiting     int64  `json:"waiting"` // seconds, at the time of the snapshot
	Channel     string `json:"channel"`
	Position    int    `json:"position"`
	WaitingTime int64  `json:"waitingTime"` // unix milliseconds the wait began
}

// Parking is one parking space (astproxy's Parking).
type Parking struct {
	Name    string `json:"name"`
	Parking string `json:"parking"`
	Timeout int    `json:"timeout"` // seconds a call stays parked
	// ParkedCaller is the call parked there, or nil (JSON {}) when free.
	ParkedCaller *ParkedCaller `json:"parkedCaller"`
	lot          string
}

// ParkedCaller is a parked call (astproxy's ParkedCaller).
type ParkedCaller struct {
	Num        string `json:"num"`
	Name       string `json:"name"`
	Parking    string `json:"parking"`
	Channel    string `json:"channel"`
	Timeout    int    `json:"timeout"` // seconds left
	ParkeeNum  string `json:"parkeeNum"`
	ParkeeName string `json:"parkeeName"`
	since      time.Time
}

// MarshalJSON writes a free space's parkedCaller as {}, as astproxy does.
func (p *Parking) MarshalJSON() ([]byte, error) {
	type plain Parking
	if p.ParkedCaller == nil {
		return json.Marshal(struct {
			*plain
			ParkedCaller struct{} `json:"parkedCaller"`
		}{plain: (*plain)(p)})
	}
	return json.Marshal((*plain)(p))
}

// Conference is a ConfBridge room (astproxy's ConfBridgeConference). Its id
// is the owner's extension: the room is the conference feature code followed
// by it.
type Conference struct {
	ID    string               `json:"id"`
	Users map[string]*ConfUser `json:"users"` // keyed by user id
	room  string
}

// ConfUser is a member of a conference.
type ConfUser struct {
	ID      string `json:"id"` // the channel's uniqueid
	Name    string `json:"name"`
	Site    string `json:"site"` // always "local"
	Owner   bool   `json:"owner"`
	Muted   bool   `json:"muted"`
	Prefix  string `json:"prefix"`
	ExtenID string `json:"extenId"`
	channel string
}

// Trunk is a provider endpoint.
type Trunk struct {
	Exten         string                   `json:"exten"`
	Name          string                   `json:"name"`
	Status        string                   `json:"status"` // online|offline|busy
	Conversations map[string]*Conversation `json:"conversations"`
}

// Owner is who owns an extension, for its "name" and "username".
type Owner struct {
	Name, Username string
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
	Muted                    bool // muted through the CTI (AMI raises no event for it)
	Parked                   bool
	Conference               string // ConfBridge room the channel is in
	Connected                bool   // the conversation was connected once (for extenConvConnected)
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
	exts       map[string]*Extension
	trunks     map[string]*Trunk
	devState   map[string]string // endpoint -> AMI device state
	chans      map[string]*channel
	byEP       map[string]map[string]*channel // endpoint -> its channels
	bridges    map[string]map[string]bool
	queues     map[string]*Queue
	parkings   map[string]*Parking
	confs      map[string]*Conference // keyed by room
	isTrunk    map[string]bool
	owners     map[string]Owner // extension -> its user
	confPrefix string           // conference feature code: room = prefix + owner extension
	context    string           // the extensions' dialplan context, as shown to clients
	seq        uint64
	now        func() time.Time
}

// New returns an empty model; trunks names the endpoints that are trunks, and
// now is the clock (time.Now in the daemon) that call start times and
// durations are read from.
func New(trunks []string, now func() time.Time) *Model {
	m := &Model{now: now, isTrunk: map[string]bool{}, owners: map[string]Owner{}, context: "from-internal"}
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
	m.confs = map[string]*Conference{}
}

// SetOwners sets who owns each extension (from CTI users): their display
// name and username, which extensions carry.
func (m *Model) SetOwners(o map[string]Owner) {
	m.owners = o
	for e, x := range m.exts {
		x.Name, x.Username = o[e].Name, o[e].Username
	}
}

// SetConference sets the conference feature code (a user's room is the code
// followed by their extension) and the dialplan context shown in extensions.
func (m *Model) SetConference(prefix, context string) {
	m.confPrefix = prefix
	if context != "" {
		m.context = context
	}
}

// ConferenceRoom is the ConfBridge room of owner's conference.
func (m *Model) ConferenceRoom(owner string) string { return m.confPrefix + owner }

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
		o := m.owners[e]
		x = &Extension{Exten: e, Name: o.Name, Username: o.Username, Status: "offline", Codecs: []string{},
			Context: m.context, ChanType: "pjsip", Conversations: map[string]*Conversation{}}
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

// view is c as a conversation's channel.
func (m *Model) view(c *channel, typ string) *ChannelView {
	if c == nil {
		return nil
	}
	v := &ChannelView{Type: typ, Channel: c.Name, CallerNum: c.CallerNum, CallerName: c.CallerName,
		StartTime: c.Start.UnixMilli(), BridgedNum: c.ConnNum, BridgedName: c.ConnName,
		InConference: c.Conference != "", ChannelStatus: strings.ToLower(c.State), BridgedChannel: c.Peer}
	return v
}

// convOf builds the conversation of channel c.
func (m *Model) convOf(c *channel, owner string) *Conversation {
	peer := m.chans[c.Peer]
	src, dst := c, peer
	if !c.Source && peer != nil {
		src, dst = peer, c
	}
	cv := &Conversation{Owner: owner, ChSource: m.view(src, "source"), ChDest: m.view(dst, "dest"),
		LinkedID: c.Linkedid, UniqueID: src.Uniqueid,
		CounterpartNum: c.ConnNum, CounterpartName: c.ConnName, Direction: "in",
		StartTime: c.Start.UnixMilli(), Duration: int64(m.now().Sub(c.Start) / time.Second),
		Recording: "false", InConference: c.Conference != ""}
	if c.Source {
		cv.Direction = "out"
	}
	if c.Recording != "" {
		cv.Recording = c.Recording
	}
	if peer != nil {
		cv.ID = src.Name + ">" + dst.Name
		cv.Connected = c.Bridge != "" && c.Bridge == peer.Bridge
		far := m.farEnd(c)
		cv.ThroughTrunk = m.isTrunk[far.Endpoint]
		cv.QueueID = firstNonEmpty(c.Queue, peer.Queue, far.Queue)
		if cv.CounterpartNum == "" {
			cv.CounterpartNum = far.CallerNum
			cv.CounterpartName = far.CallerName
		}
	} else {
		// A channel alone: ringing from the dialplan, parked, in a queue or a
		// conference.
		cv.ID = c.Name + ">"
		cv.QueueID = c.Queue
		if cv.CounterpartNum == "" {
			cv.CounterpartNum = c.Exten
		}
		cv.Connected = c.Conference != "" && c.State == "Up"
	}
	cv.ThroughQueue = cv.QueueID != ""
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
	before := extPrint(x)
	x.Conversations = convs
	x.Status = statusOf(m.devState[e])
	if x.Status == "busy" {
		// Asterisk's device state of a PJSIP endpoint stays in use while its
		// call is held: the Hold event says it.
		for _, c := range m.byEP[e] {
			if c.Hold {
				x.Status = "onhold"
			}
		}
	}
	if x.DND && x.Status != "offline" {
		x.Status = "dnd"
	}
	return before != extPrint(x), x
}

// extPrint is what clients see of an extension besides durations.
func extPrint(x *Extension) string {
	return x.Status + "|" + strconv.FormatBool(x.DND) + "|" + x.CF + "|" + x.CFB + "|" + x.CFU + "|" + x.CFVm + "|" + x.CFBVm + "|" +
		x.CFUVm + "|" + x.IP + "|" + x.Port + "|" + x.SipUserAgent + "|" + x.Name + "|" + x.Username + fingerprint("", x.Conversations)
}

// fingerprint ignores durations, which change every second.
func fingerprint(status string, convs map[string]*Conversation) string {
	ids := make([]string, 0, len(convs))
	for id, c := range convs {
		ids = append(ids, id+"|"+c.CounterpartNum+"|"+c.CounterpartName+"|"+c.Direction+"|"+
			strconv.FormatBool(c.Connected)+"|"+c.Recording+"|"+c.QueueID+"|"+strconv.FormatBool(c.ThroughTrunk)+"|"+
			strconv.FormatBool(c.InConference)+"|"+chanPrint(c.ChSource)+"|"+chanPrint(c.ChDest))
	}
	sort.Strings(ids)
	return status + "#" + strings.Join(ids, ",")
}

func chanPrint(v *ChannelView) string {
	if v == nil {
		return ""
	}
	return v.Channel + "/" + v.CallerNum + "/" + v.BridgedNum + "/" + v.ChannelStatus
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

// connectedEmits are the events of endpoint e whose conversation with c just
// got connected: extenConnected names the extension (the clients use it to
// tell which of a user's devices answered), extenConvConnected the call.
func (m *Model) connectedEmits(c *channel) []Emit {
	e := c.Endpoint
	if e == "" || m.isTrunk[e] || c.Connected {
		return nil
	}
	c.Connected = true
	far := m.farEnd(c)
	dir := "in"
	if c.Source {
		dir = "out"
	}
	return []Emit{
		{Name: "extenConnected", Data: map[string]string{"extenConnected": e}, Room: ExtenRoom(e)},
		{Name: "extenConvConnected", Data: map[string]any{"num1": c.CallerNum, "num2": firstNonEmpty(c.ConnNum, far.CallerNum),
			"direction": dir, "uniqueid": c.Uniqueid, "linkedid": c.Linkedid, "throughTrunk": m.isTrunk[far.Endpoint]}, Room: ExtenRoom(e)},
	}
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
		if c := m.chans[n]; c != nil && !c.Parked && c.Conference == "" {
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
		c.Connected, other.Connected = false, false // a new conversation
	}
	t.add(c)
	t.add(other)
	var out []Emit
	for _, x := range []*channel{c, other} {
		out = append(out, m.connectedEmits(x)...)
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
		if c != nil && ev.Event() == "Newexten" && ev.Get("Application") == "ConfBridge" {
			t.add(m.chans[c.Peer])
		}
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
		out = append(out, m.hangup(ev, t)...)
	case "DeviceStateChange":
		e := deviceEndpoint(ev.Get("Device"))
		if e == "" {
			break
		}
		m.devState[e] = ev.Get("State")
		t[e] = true
	case "ContactStatus":
		// A registration changes the extension's address (the DeviceStateChange
		// that follows carries the state).
		e := ev.Get("EndpointName")
		if x := m.exts[e]; x != nil {
			switch ev.Get("ContactStatus") {
			case "Created", "Reachable", "Updated":
				x.IP, x.Port = contactAddr(ev.Get("URI"))
				if ua := ev.Get("UserAgent"); ua != "" {
					x.SipUserAgent = ua
				}
			case "Removed":
				x.IP, x.Port = "", ""
			}
			t[e] = true
		}
	case "BlindTransfer", "AttendedTransfer":
		// The channel moves that follow (Dial*, Bridge*, Hangup) carry the new state.
	case "QueueCallerJoin":
		c := m.chanOf(ev, "")
		q := m.ensureQueue(ev.Get("Queue"))
		if c != nil && q != nil {
			c.Queue = q.Queue
			now := m.now()
			q.WaitingCallers[c.Name] = &QueueCaller{ID: c.Name, Queue: q.Queue, Channel: c.Name, Num: c.CallerNum, Name: c.CallerName,
				Position: atoi(ev.Get("Position")), WaitingTime: now.UnixMilli()}
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
			iface := firstNonEmpty(ev.Get("Interface"), ev.Get("StateInterface"))
			if mb := q.Members[memberExten(iface)]; mb != nil && iface != "" {
				mb.LastCallTimestamp = m.now().Unix()
			}
			out = append(out, Emit{Name: "queueUpdate", Data: q, Room: RoomQueues})
		}
	case "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPaused", "QueueMemberPenalty", "QueueMemberRinginuse":
		if mb := m.memberFrom(ev); mb != nil {
			out = append(out, Emit{Name: "queueMemberUpdate", Data: mb, Room: RoomQueues, Also: []string{mb.Member}})
		}
	case "QueueMemberRemoved":
		if q := m.queues[ev.Get("Queue")]; q != nil {
			key := memberExten(firstNonEmpty(ev.Get("Interface"), ev.Get("Location")))
			if mb := q.Members[key]; mb != nil {
				delete(q.Members, key)
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
			p.ParkedCaller = nil
			out = append(out, Emit{Name: "parkingUpdate", Data: p, Room: RoomParkings})
		}
	case "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeMute", "ConfbridgeUnmute", "ConfbridgeEnd":
		out = append(out, m.conference(ev, t)...)
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

// hangup forgets a channel and tells its extension's users how the call ended.
func (m *Model) hangup(ev ami.Message, t touched) []Emit {
	name := ev.Get("Channel")
	c := m.chans[name]
	if c == nil {
		return nil
	}
	var out []Emit
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
	if cf := m.confs[c.Conference]; cf != nil {
		out = append(out, m.leaveConf(cf, c)...)
	}
	if p := m.chans[c.Peer]; p != nil && p.Peer == name {
		p.Peer = ""
		t.add(p)
	}
	t.add(c)
	if c.Endpoint != "" && !m.isTrunk[c.Endpoint] {
		// The hung-up channel's own caller id (the user's extension) and the
		// party it was connected to, as astproxy reports them.
		out = append(out, Emit{Name: "extenHangup", Room: ExtenRoom(c.Endpoint), Data: map[string]any{
			"cause": HangupCause(ev.Get("Cause")), "channel": name,
			"callerNum": firstNonEmpty(unknownEmpty(ev.Get("CallerIDNum")), c.CallerNum), "channelExten": c.Endpoint,
			"calledNum": firstNonEmpty(unknownEmpty(ev.Get("ConnectedLineNum")), c.ConnNum)}})
	}
	return out
}

// q850 names the ISDN (Q.850) cause codes Asterisk reports in Hangup events,
// in the lower-case form nethcti clients compare against.
var q850 = map[int]string{
	0: "not_defined", 1: "unallocated", 2: "no_route_transit_net", 3: "no_route_destination", 5: "misdialled_trunk_prefix",
	6: "channel_unacceptable", 7: "call_awarded_delivered", 8: "pre_empted", 14: "number_ported_not_here",
	16: "normal_clearing", 17: "user_busy", 18: "no_user_response", 19: "no_answer", 20: "subscriber_absent",
	21: "call_rejected", 22: "number_changed", 23: "redirected_to_new_destination", 26: "answered_elsewhere",
	27: "destination_out_of_order", 28: "invalid_number_format", 29: "facility_rejected", 30: "response_to_status_enquiry",
	31: "normal_unspecified", 34: "normal_circuit_congestion", 38: "network_out_of_order", 41: "normal_temporary_failure",
	42: "switch_congestion", 43: "access_info_discarded", 44: "requested_chan_unavail", 50: "facility_not_subscribed",
	52: "outgoing_call_barred", 54: "incoming_call_barred", 57: "bearercapability_notauth", 58: "bearercapability_notavail",
	65: "bearercapability_notimpl", 66: "chan_not_implemented", 69: "facility_not_implemented", 81: "invalid_call_reference",
	88: "incompatible_destination", 95: "invalid_msg_unspecified", 96: "mandatory_ie_missing", 97: "message_type_nonexist",
	98: "wrong_message", 99: "ie_nonexist", 100: "invalid_ie_contents", 101: "wrong_call_state", 102: "recovery_on_timer_expire",
	103: "mandatory_ie_length_error", 111: "protocol_error", 127: "interworking",
}

// HangupCause names a Q.850 cause code; unknown codes are "not_defined".
func HangupCause(code string) string {
	n, err := strconv.Atoi(strings.TrimSpace(code))
	if name, ok := q850[n]; ok && err == nil {
		return name
	}
	return "not_defined"
}

// contactAddr reads host and port of "sip:201@192.0.2.7:5062;transport=udp".
func contactAddr(uri string) (string, string) {
	if i := strings.IndexByte(uri, '@'); i >= 0 {
		uri = uri[i+1:]
	} else {
		uri = strings.TrimPrefix(strings.TrimPrefix(uri, "sips:"), "sip:")
	}
	if i := strings.IndexAny(uri, ";>"); i >= 0 {
		uri = uri[:i]
	}
	if strings.HasPrefix(uri, "[") {
		if j := strings.IndexByte(uri, ']'); j > 0 {
			host, rest := uri[1:j], uri[j+1:]
			return host, strings.TrimPrefix(rest, ":")
		}
	}
	host, port, _ := strings.Cut(uri, ":")
	if port == "" && host != "" {
		port = "5060"
	}
	return host, port
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
	key := memberExten(iface)
	mb := q.Members[key]
	if mb == nil {
		mb = &QueueMember{Queue: q.Queue, Interface: iface, Member: key, Type: "dynamic"}
		q.Members[key] = mb
	}
	mb.Name = firstNonEmpty(ev.Get("MemberName"), ev.Get("Name"), mb.Name)
	mb.LoggedIn = true
	if v := ev.Get("Membership"); v != "" {
		mb.Type = v
	}
	now := m.now().Unix()
	if ev.Has("Paused") {
		paused := ev.Get("Paused") == "1"
		if lp := int64(atoi(ev.Get("LastPause"))); lp > 0 {
			now = lp
		}
		switch {
		case paused && (!mb.Paused || ev.Event() == "QueueMemberPause"):
			mb.LastPausedInTimestamp = now
			mb.LastPausedInReason = ev.Get("PausedReason")
		case !paused && mb.Paused:
			mb.LastPausedOutTimestamp = now
		}
		mb.Paused = paused
	}
	if ev.Has("CallsTaken") {
		mb.CallsTaken = atoi(ev.Get("CallsTaken"))
	}
	if lc := int64(atoi(ev.Get("LastCall"))); lc > 0 {
		mb.LastCallTimestamp = lc
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

func (m *Model) ensureParking(space string) *Parking {
	p := m.parkings[space]
	if p == nil {
		p = &Parking{Name: space, Parking: space}
		m.parkings[space] = p
	}
	return p
}

// lotFrom reads a Parkinglot event (Parkinglots): every space of the lot.
func (m *Model) lotFrom(ev ami.Message) {
	from, to := atoi(ev.Get("StartSpace")), atoi(ev.Get("StopSpace"))
	if from <= 0 || to < from || to-from > 1000 {
		return
	}
	for i := from; i <= to; i++ {
		p := m.ensureParking(strconv.Itoa(i))
		p.Timeout = atoi(ev.Get("Timeout"))
		p.lot = ev.Get("Name")
	}
}

func (m *Model) parkingFrom(ev ami.Message) *Parking {
	key := ev.Get("ParkingSpace")
	p := m.ensureParking(key)
	p.lot = firstNonEmpty(ev.Get("Parkinglot"), ev.Get("ParkingLot"), p.lot)
	timeout := atoi(ev.Get("ParkingTimeout"))
	if p.Timeout == 0 {
		p.Timeout = timeout
	}
	dur := atoi(ev.Get("ParkingDuration"))
	parker := ev.Get("ParkerDialString")
	if i := strings.LastIndexByte(parker, '/'); i >= 0 {
		parker = parker[i+1:]
	}
	p.ParkedCaller = &ParkedCaller{Num: unknownEmpty(ev.Get("ParkeeCallerIDNum")), Name: unknownEmpty(ev.Get("ParkeeCallerIDName")),
		Parking: key, Channel: ev.Get("ParkeeChannel"), Timeout: timeout - dur, ParkeeNum: parker, ParkeeName: m.owners[parker].Name,
		since: m.now().Add(-time.Duration(dur) * time.Second)}
	return p
}

// conference applies a ConfBridge event: the room's users change and the
// owner's clients hear confBridgeUpdate (or confBridgeEnd).
func (m *Model) conference(ev ami.Message, t touched) []Emit {
	room := ev.Get("Conference")
	if room == "" {
		return nil
	}
	cf := m.confs[room]
	switch ev.Event() {
	case "ConfbridgeEnd":
		if cf == nil {
			return nil
		}
		delete(m.confs, room)
		return []Emit{{Name: "confBridgeEnd", Data: map[string]string{"id": cf.ID}, Room: ExtenRoom(cf.ID)}}
	case "ConfbridgeJoin", "ConfbridgeList":
		c := m.chanOf(ev, "")
		if c == nil {
			return nil
		}
		if cf == nil {
			id := room
			if m.confPrefix != "" && strings.HasPrefix(room, m.confPrefix) && len(room) > len(m.confPrefix) {
				id = room[len(m.confPrefix):]
			}
			cf = &Conference{ID: id, Users: map[string]*ConfUser{}, room: room}
			m.confs[room] = cf
		}
		c.Conference = room
		ext := firstNonEmpty(c.Endpoint, c.CallerNum)
		uid := firstNonEmpty(c.Uniqueid, c.Name)
		cf.Users[uid] = &ConfUser{ID: uid, Name: firstNonEmpty(m.owners[ext].Name, c.CallerName, ext), Site: "local",
			Owner: ext == cf.ID, Muted: strings.EqualFold(ev.Get("Muted"), "Yes"), ExtenID: ext, channel: c.Name}
		t.add(c)
	case "ConfbridgeLeave":
		c := m.chans[ev.Get("Channel")]
		if cf == nil || c == nil {
			return nil
		}
		t.add(c)
		return m.leaveConf(cf, c)
	case "ConfbridgeMute", "ConfbridgeUnmute":
		c := m.chans[ev.Get("Channel")]
		if cf == nil || c == nil {
			return nil
		}
		if u := cf.Users[firstNonEmpty(c.Uniqueid, c.Name)]; u != nil {
			u.Muted = ev.Event() == "ConfbridgeMute"
		}
	}
	return m.confEmit(cf)
}

func (m *Model) leaveConf(cf *Conference, c *channel) []Emit {
	delete(cf.Users, firstNonEmpty(c.Uniqueid, c.Name))
	c.Conference = ""
	if len(cf.Users) == 0 {
		delete(m.confs, cf.room)
		return []Emit{{Name: "confBridgeEnd", Data: map[string]string{"id": cf.ID}, Room: ExtenRoom(cf.ID)}}
	}
	return m.confEmit(cf)
}

// confEmit tells the owner and every member the room's users.
func (m *Model) confEmit(cf *Conference) []Emit {
	var also []string
	for _, u := range cf.Users {
		if u.ExtenID != cf.ID {
			also = append(also, u.ExtenID)
		}
	}
	sort.Strings(also)
	return []Emit{{Name: "confBridgeUpdate", Data: cf, Room: ExtenRoom(cf.ID), Also: also}}
}
