package asterisktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Queue is one queue of the generated queues.conf.
type Queue struct {
	Name     string   // queue number, also its extension in from-internal (e.g. "400")
	Strategy string   // app_queue strategy: ringall, rrmemory, leastrecent, ...
	Members  []string // static member interfaces, e.g. "PJSIP/219"; none: agents join with AMI QueueAdd
}

// files returns the configuration tree of one instance, by file name.
func (p *PBX) files() map[string]string {
	o := p.opts
	f := map[string]string{}
	d := p.dirs
	f["asterisk.conf"] = fmt.Sprintf(`[directories]
astetcdir => %s
astmoddir => %s
astvarlibdir => %s
astdbdir => %s
astkeydir => %s
astdatadir => %s
astagidir => %s
astspooldir => %s
astrundir => %s
astlogdir => %s
astsbindir => %s

[options]
verbose = 3
debug = 0
nocolor = yes
hideconnect = yes
defaultlanguage = en
documentation_language = en_US
cache_record_files = no
transmit_silence = no
`, d.etc, filepath.Join(p.Prefix, "lib/asterisk/modules"), d.lib, d.lib, d.lib, d.data,
		filepath.Join(d.data, "agi-bin"), d.spool, d.run, d.log, filepath.Join(p.Prefix, "sbin"))

	// Modules: everything the build has, except the few that need config or
	// services these tests do not give (an HTTP server for websockets).
	f["modules.conf"] = `[modules]
autoload = yes
noload = res_pjsip_transport_websocket.so
noload = res_http_websocket.so
noload = res_pjsip_phoneprov_provider.so
`
	f["logger.conf"] = `[general]
dateformat = %F %T.%3q
queue_log = yes
queue_log_to_file = yes
queue_log_name = queue_log
queue_adaptive_realtime = no

[logfiles]
console => notice,warning,error
full => notice,warning,error,verbose(3),dtmf
`
	f["manager.conf"] = fmt.Sprintf(`[general]
enabled = yes
port = %d
bindaddr = %s
displayconnects = no
timestampevents = yes
authtimeout = 10
authlimit = 200

[%s]
secret = %s
read = all
write = all
writetimeout = 5000
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.0/255.0.0.0
`, AMIPort, p.IP, p.AMIUser, p.AMISecret)

	f["cdr.conf"] = `[general]
enable = yes
unanswered = yes
congestion = yes
batch = no
endbeforehexten = no
initiatedseconds = no
channeldefaultenabled = yes

; cdr_csv reads its options here: with newcdrcolumns its Master.csv carries
; uniqueid, userfield, peeraccount, linkedid and sequence.
[csv]
usegmtime = no
loguniqueid = yes
loguserfield = yes
accountlogs = no
newcdrcolumns = yes
`
	f["cdr_manager.conf"] = `[general]
enabled = yes

; Park, pickup and transfers make several CDRs with one UniqueID: LinkedID and
; Sequence tell them apart (as cdr_csv's newcdrcolumns and FreePBX's table do).
[mappings]
linkedid => LinkedID
sequence => Sequence
peeraccount => PeerAccount
`
	f["cel.conf"] = `[general]
enable = yes
apps = all
events = ALL

[manager]
enabled = yes
`
	f["rtp.conf"] = `[general]
rtpstart = 10000
rtpend = 40000
`
	f["musiconhold.conf"] = fmt.Sprintf(`[general]
cachertclasses = no

[default]
mode = files
directory = %s
sort = alpha
`, filepath.Join(d.data, "moh"))
	f["indications.conf"] = `[general]
country = it

[it]
description = Italy
ringcadence = 1000,4000
dial = 425
busy = 425/500,0/500
ring = 425/1000,0/4000
congestion = 425/200,0/200
callwaiting = 425/400,0/100,425/250,0/100,425/400,0/4000
dialrecall = 470/400,425/400
record = 1400/400,0/15000
info = !950/330,!1400/330,!1800/330,0
stutter = 470/400,425/400
`
	f["features.conf"] = `[general]
transferdigittimeout = 3
atxfernoanswertimeout = 15
atxferdropcall = no
atxferabort = *1
atxfercomplete = *2
atxferthreeway = *3
pickupexten = *8

[featuremap]
blindxfer = ##
atxfer = *2
disconnect = **
automixmon = *3
parkcall = #72
`
	f["res_parking.conf"] = `[general]
parkeddynamic = no

[default]
parkext = 700
parkpos = 701-720
context = parkedcalls
parkingtime = ` + fmt.Sprint(int(o.ParkingTime.Seconds())) + `
comebacktoorigin = yes
comebackdialtime = 20
courtesytone = beep
parkedplay = caller
parkedcalltransfers = caller
parkedcallreparking = caller
parkedcallhangup = caller
parkedcallrecording = caller
findslot = first
parkedmusicclass = default
`
	f["confbridge.conf"] = `[general]

[default_bridge]
type = bridge
max_members = 20

[default_user]
type = user
music_on_hold_when_empty = no
announce_user_count = no
announce_only_user = no
quiet = yes

[admin_user]
type = user
admin = yes
marked = yes
quiet = yes
announce_only_user = no

[sample_user_menu]
type = menu
*1 = toggle_mute
`
	f["ccss.conf"] = "[general]\n"
	f["udptl.conf"] = "[general]\n"
	f["acl.conf"] = ""
	f["sorcery.conf"] = ""
	f["pjproject.conf"] = "[startup]\nlog_level = 0\n\n[log_mappings]\ntype = log_mappings\n"
	f["stasis.conf"] = ""
	f["pjsip_wizard.conf"] = ""

	f["pjsip.conf"] = p.pjsipConf()
	f["extensions.conf"] = p.extensionsConf()
	f["queues.conf"] = p.queuesConf()
	f["voicemail.conf"] = p.voicemailConf()
	f["pjsip_notify.conf"] = `; Events PJSIPNotify can name with Option: (the AMI test also sends
; ad-hoc ones with Variable: Event=...).
[check-sync]
Event => check-sync
Content-Length => 0

[resync]
Event => resync
Content-Length => 0

[reboot-yealink]
Event => check-sync;reboot=true
Content-Length => 0

[reboot-snom]
Event => check-sync;reboot=true
Content-Length => 0
`
	return f
}

func (p *PBX) pjsipConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, `[global]
type = global
user_agent = %s
endpoint_identifier_order = username,ip,anonymous
default_outbound_endpoint = default_outbound
keep_alive_interval = 0
max_initial_qualify_time = 0

[transport-udp]
type = transport
protocol = udp
bind = %s:%d

[transport-tcp]
type = transport
protocol = tcp
bind = %s:%d

[default_outbound]
type = endpoint
context = from-internal
disallow = all
allow = ulaw

`, p.UserAgent, p.IP, SIPPort, p.IP, SIPPort)
	for _, e := range p.exts {
		fmt.Fprintf(&b, `[%[1]s]
type = endpoint
context = from-internal
transport = transport-udp
disallow = all
allow = ulaw,alaw
auth = %[1]s
aors = %[1]s
callerid = "%[3]s" <%[1]s>
direct_media = no
media_address = %[2]s
bind_rtp_to_media_address = yes
rtp_symmetric = no
dtmf_mode = auto_info
mailboxes = %[1]s@default
call_group = 1
pickup_group = 1
named_call_group = sb
named_pickup_group = sb
send_pai = yes
trust_id_outbound = yes
allow_subscribe = yes
device_state_busy_at = 0
moh_suggest = default
language = en
tone_zone = it
rewrite_contact = no

[%[1]s]
type = auth
auth_type = userpass
username = %[1]s
password = %[4]s

[%[1]s]
type = aor
max_contacts = %[5]d
remove_existing = yes
qualify_frequency = 0
default_expiration = 3600
maximum_expiration = 7200

`, e.Number, p.IP, e.Name, e.Password, p.opts.MaxContacts)
	}
	// The trunk: an IP-identified peer with a fixed contact, as a provider
	// (or a second PBX) would be; TrunkPhone answers and places its calls.
	fmt.Fprintf(&b, `[trunk]
type = endpoint
context = from-trunk
transport = transport-udp
disallow = all
allow = ulaw,alaw
aors = trunk
direct_media = no
media_address = %[1]s
bind_rtp_to_media_address = yes
dtmf_mode = auto_info
send_pai = yes
trust_id_inbound = yes

[trunk]
type = aor
contact = sip:%[2]s:%[3]d
qualify_frequency = 0

[trunk]
type = identify
endpoint = trunk
match = %[2]s
`, p.IP, p.TrunkIP, SIPPort)
	return b.String()
}

func (p *PBX) queuesConf() string {
	var b strings.Builder
	b.WriteString(`[general]
persistentmembers = no
autofill = yes
monitor-type = MixMonitor
shared_lastcall = yes
log_membername_as_agent = no

`)
	for _, q := range p.opts.Queues {
		fmt.Fprintf(&b, `[%s]
strategy = %s
timeout = 15
retry = 1
wrapuptime = 0
maxlen = 0
autopause = no
ringinuse = no
joinempty = yes
leavewhenempty = no
reportholdtime = no
announce-frequency = 0
periodic-announce-frequency = 0
announce-holdtime = no
announce-position = no
musicclass = default
setinterfacevar = yes
setqueueentryvar = yes
setqueuevar = yes
timeoutrestart = no
`, q.Name, q.Strategy)
		for _, m := range q.Members {
			fmt.Fprintf(&b, "member => %s\n", m)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (p *PBX) voicemailConf() string {
	var b strings.Builder
	b.WriteString(`[general]
format = wav
attach = no
maxmsg = 100
maxsecs = 60
minsecs = 0
maxsilence = 0
silencethreshold = 128
maxlogins = 3
pollmailboxes = no

[default]
`)
	for _, e := range p.exts {
		fmt.Fprintf(&b, "%s => %s,%s\n", e.Number, VoicemailPIN, e.Name)
	}
	return b.String()
}

// extensionsConf is the dialplan: FreePBX-like feature codes and AstDB keys
// (DND/<ext>, CF/<ext>, CFB/<ext>, CFU/<ext>), so the CTI sees what it sees on
// a NethVoice: see the package documentation for the full list.
func (p *PBX) extensionsConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, `[general]
static = yes
writeprotect = yes
clearglobalvars = no

[globals]
RINGTIME = %d

[from-internal]
include => parkedcalls
; Internal extensions: DND, call forward (unconditional, busy, unavailable) from
; AstDB as FreePBX keeps them.
exten => _%s,1,Gosub(sb-dial-ext,s,1(${EXTEN}))
 same => n,Hangup()
`, int(p.opts.RingTime.Seconds()), p.extPattern())
	for _, q := range p.opts.Queues {
		fmt.Fprintf(&b, "exten => %s,1,Answer()\n same => n,Queue(%s,tT,,,%d)\n same => n,Hangup()\n", q.Name, q.Name, int(p.opts.QueueWait.Seconds()))
	}
	b.WriteString(`; Conference rooms 800-809 (ConfBridge); 809 joins as admin.
exten => _80[0-8],1,Answer()
 same => n,ConfBridge(${EXTEN},default_bridge,default_user,sample_user_menu)
 same => n,Hangup()
exten => 809,1,Answer()
 same => n,ConfBridge(800,default_bridge,admin_user,sample_user_menu)
 same => n,Hangup()
; Voicemail: *98 the caller's own box (no PIN), *98<box> another one.
exten => *98,1,Answer()
 same => n,VoiceMailMain(${CALLERID(num)}@default,s)
 same => n,Hangup()
exten => _*98X.,1,Answer()
 same => n,VoiceMailMain(${EXTEN:3}@default)
 same => n,Hangup()
; Leave a message in a box: *97<box>.
exten => _*97X.,1,Answer()
 same => n,VoiceMail(${EXTEN:3}@default,u)
 same => n,Hangup()
; ChanSpy as FreePBX: 555<ext> listen, 556<ext> whisper, 557<ext> barge.
exten => _555X.,1,Answer()
 same => n,ChanSpy(PJSIP/${EXTEN:3},qE)
 same => n,Hangup()
exten => _556X.,1,Answer()
 same => n,ChanSpy(PJSIP/${EXTEN:3},qEw)
 same => n,Hangup()
exten => _557X.,1,Answer()
 same => n,ChanSpy(PJSIP/${EXTEN:3},qEB)
 same => n,Hangup()
; Pickup: *8 group, **<ext> directed.
exten => *8,1,Pickup()
 same => n,Hangup()
exten => _**X.,1,Pickup(${EXTEN:2}@PICKUPMARK)
 same => n,Hangup()
; DND and call forward feature codes (FreePBX's numbers), AstDB as FreePBX.
exten => *78,1,Set(DB(DND/${CALLERID(num)})=YES)
 same => n,Hangup()
exten => *79,1,Noop(${DB_DELETE(DND/${CALLERID(num)})})
 same => n,Hangup()
exten => _*72X.,1,Set(DB(CF/${CALLERID(num)})=${EXTEN:3})
 same => n,Hangup()
exten => *73,1,Noop(${DB_DELETE(CF/${CALLERID(num)})})
 same => n,Hangup()
exten => _*90X.,1,Set(DB(CFB/${CALLERID(num)})=${EXTEN:3})
 same => n,Hangup()
exten => *91,1,Noop(${DB_DELETE(CFB/${CALLERID(num)})})
 same => n,Hangup()
exten => _*52X.,1,Set(DB(CFU/${CALLERID(num)})=${EXTEN:3})
 same => n,Hangup()
exten => *53,1,Noop(${DB_DELETE(CFU/${CALLERID(num)})})
 same => n,Hangup()
; Echo test and a milliwatt tone (audio for recording and spy tests).
exten => *43,1,Answer()
 same => n,Echo()
exten => *44,1,Answer()
 same => n,Milliwatt()
; Outbound: 0 + number through the trunk.
exten => _0X.,1,Dial(PJSIP/${EXTEN:1}@trunk,${RINGTIME},tT)
 same => n,Hangup()

; Inbound from the trunk: a DID equal to an extension or a queue rings it,
; anything else rings the first queue.
[from-trunk]
exten => _X.,1,Set(CDR(did)=${EXTEN})
 same => n,Goto(from-internal,${EXTEN},1)
`)
	b.WriteString(`
; Dial one extension the way FreePBX does: DND answers busy, CF forwards at
; once, CFB forwards when busy, CFU when unanswered or unreachable.
[sb-dial-ext]
exten => s,1,Set(EXT=${ARG1})
 same => n,GotoIf($["${DB(DND/${EXT})}" = "YES"]?dnd)
 same => n,GotoIf($["${DB(CF/${EXT})}" != ""]?cf)
 same => n,GotoIf($["${DB(CFB/${EXT})}" = ""]?dial)
 same => n,GotoIf($["${DEVICE_STATE(PJSIP/${EXT})}" = "INUSE" | "${DEVICE_STATE(PJSIP/${EXT})}" = "BUSY" | "${DEVICE_STATE(PJSIP/${EXT})}" = "RINGINUSE"]?cfb)
 same => n(dial),Set(_PICKUPMARK=${EXT})
 same => n,Dial(PJSIP/${EXT},${RINGTIME},tTkK)
 same => n,GotoIf($["${DIALSTATUS}" = "BUSY" & "${DB(CFB/${EXT})}" != ""]?cfb)
 same => n,GotoIf($["${DIALSTATUS}" != "ANSWER" & "${DIALSTATUS}" != "BUSY" & "${DB(CFU/${EXT})}" != ""]?cfu)
 same => n,Return()
 same => n(dnd),Busy(5)
 same => n,Return()
 same => n(cf),Dial(Local/${DB(CF/${EXT})}@from-internal,${RINGTIME},tT)
 same => n,Return()
 same => n(cfb),Dial(Local/${DB(CFB/${EXT})}@from-internal,${RINGTIME},tT)
 same => n,Return()
 same => n(cfu),Dial(Local/${DB(CFU/${EXT})}@from-internal,${RINGTIME},tT)
 same => n,Return()
`)
	return b.String()
}

// extPattern is a dialplan pattern matching the generated extensions.
func (p *PBX) extPattern() string {
	// Extensions are 3-digit numbers from 201 up: 2XX covers them.
	return "2XX"
}

func writeFiles(dir string, files map[string]string) error {
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
