// Package asterisktest runs a private, real Asterisk 20 for tests, with SIPp
// processes as desk phones and a tiny AMI client for assertions. Tests of the
// CTI, the CDR and call-center exports and the phone resync use it to check
// our code against the PBX itself instead of a double.
//
// # Using it
//
// The install comes from ../shared/asterisk/build.sh (.ci/run builds it into
// $SB_CACHE/asterisk-20.20.1, default /var/cache/switchboard). Prefix looks at
// SB_ASTERISK, then $SB_CACHE/asterisk-20.20.1, then DefaultPrefix; tests skip,
// saying so, when it or sipp is missing. Nothing needs root.
//
//	func TestMain(m *testing.M) { os.Exit(asterisktest.Main(m)) } // for Shared
//
//	func TestTransfer(t *testing.T) {
//		t.Parallel()
//		pbx := asterisktest.Shared(t)              // one Asterisk per package
//		a := pbx.AMI(t)                            // logged in, events on
//		ea, eb := pbx.FreeExt(t), pbx.FreeExt(t)   // extensions no parallel test holds
//		b := pbx.Register(t, eb.Number, asterisktest.PhoneOptions{AnswerAfter: 200 * time.Millisecond})
//		ph := pbx.Register(t, ea.Number, asterisktest.PhoneOptions{})
//		call := ph.Dial(t, eb.Number, asterisktest.CallOptions{})
//		in := b.WaitCall(t, 5*time.Second)
//		call.WaitAnswered(t, 5*time.Second)
//		ch := a.LiveChannel(t, 5*time.Second, eb.Number)   // "PJSIP/202-00000001"
//		a.MustAction(t, "BlindTransfer", "Channel", ch, "Exten", "203", "Context", "from-internal")
//		a.Wait(t, 5*time.Second, asterisktest.Match("Event", "BlindTransfer", "TransfererChannel", ch))
//		in.WaitEnded(t, 5*time.Second)             // "bye-received"
//	}
//
// Code under test gets pbx.AMIAddr, pbx.AMIUser and pbx.AMISecret (all
// permissions), the phones' SIP credentials from pbx.Ext(t, "201") and the
// PBX's own records from pbx.MasterCSV() and pbx.QueueLog();
// internal/mariadbtest loads those into a real MariaDB.
//
// Start(t, Options{...}) gives a test its own instance (stopped, and its
// files removed, at the end; kept and logged when the test failed); use it
// to change the options or to restart the PBX. Shared(t) is one instance per
// test binary with default options, stopped by Main (or Cleanup).
//
// # How it runs
//
// Each instance has its own configuration tree, run, log, spool, lib and
// data directories in a temp dir, and runs "asterisk -f -n -C <its
// asterisk.conf>" with the install's modules (TZ=UTC unless Options.TZ). It
// listens on a loopback address of its own, chosen at random in
// 127.64.0.0/10, on the standard ports: AMI 5038 and PJSIP 5060 (UDP and
// TCP; no TLS); RTP binds to the same address. Parallel test binaries
// therefore never collide, and no port is chosen by closing a listener. The
// start is checked end to end: AMI logs in with the instance's random
// secret, FullyBooted arrives, and an OPTIONS to the SIP transport is answered
// with the instance's own user agent; if another process holds the address,
// the start is retried on another one. Start-up measured here (2 cores,
// load 13-19 from other builds): 0.13-1.0 s until FullyBooted, typically
// 0.4 s; the restart test's stop + start + login took 0.6-1.3 s.
//
// Sounds: Debian's asterisk-core-sounds-en-wav when installed (.ci/run
// installs it; it is plain WAV and works with this non-Debian Asterisk),
// otherwise short silent stand-ins with the prompt names the features use.
// Music on hold is a generated 440 Hz tone.
//
// # The PBX it configures
//
//   - Extensions 201..(200+Options.Extensions), default 201-220: PJSIP
//     endpoint, auth (random password, Extension.Password) and AOR
//     (max_contacts 1, remove_existing), direct_media=no, dtmf_mode=auto_info,
//     call/pickup group 1, mailbox <ext>@default, context from-internal. A
//     "trunk" endpoint identified by the address TrunkIP, context from-trunk.
//   - from-internal: 2XX dials the extension through sb-dial-ext, which does
//     what FreePBX does with AstDB: DND/<ext>=YES answers busy, CF/<ext>
//     forwards at once, CFB/<ext> when busy, CFU/<ext> when unanswered or
//     unreachable (Dial options tTkK, RINGTIME from Options.RingTime).
//     Feature codes: *78/*79 DND on/off, *72<n>/*73 CF, *90<n>/*91 CFB,
//     *52<n>/*53 CFU; 400 and 401 queues; 700 parks, 701-720 are the slots;
//     800-808 ConfBridge rooms (809 joins 800 as admin); *98 the caller's
//     voicemail, *98<box> another box (PIN VoicemailPIN), *97<box> leaves a
//     message; 555<ext>/556<ext>/557<ext> ChanSpy listen/whisper/barge; *8
//     group pickup, **<ext> directed pickup; *43 echo, *44 milliwatt;
//     0<number> goes out through the trunk. from-trunk sends the DID into
//     from-internal (and sets CDR(did)).
//   - Queues (Options.Queues): 400 ringall with no static members (agents
//     join with AMI QueueAdd, as the CTI's login does) and 401 rrmemory with
//     static members PJSIP/219 and PJSIP/220 (FreeExt never hands those out).
//     No announcements; members ring 15 s; callers wait Options.QueueWait.
//   - features.conf: blindxfer ##, atxfer *2 (AMI Atxfer needs it), disconnect
//     **, automixmon *3, parkcall #72. res_parking lot "default".
//   - Modules: all of the build's (MixMonitor, ChanSpy, res_mutestream,
//     ConfBridge, voicemail, ...). cdr_manager with [mappings] linkedid =>
//     LinkedID, sequence => Sequence, peeraccount => PeerAccount; cel_manager
//     (all events); cdr_csv with loguniqueid, loguserfield and newcdrcolumns
//     (Master.csv ends with uniqueid, userfield, peeraccount, linkedid,
//     sequence); queue_log to the file QueueLog(). pjsip_notify.conf has
//     check-sync, resync, reboot-yealink and reboot-snom for "Option:".
//
// # Phones
//
// Register starts one SIPp process per phone on its own loopback address,
// port 5060: its main scenario (testdata/register.xml) registers with digest
// auth; every request Asterisk sends (INVITE, NOTIFY, OPTIONS, MESSAGE, INFO)
// runs the out-of-call scenario (testdata/incoming.xml), so one phone answers
// any number of calls and NOTIFYs. Dial starts another SIPp process on the
// phone's address and the next port (testdata/dial.xml). Both share the
// in-call section testdata/talk.xml: it answers BYE, re-INVITE, UPDATE, INFO
// and NOTIFY in the dialog, and obeys commands the harness sends to the SIPp
// socket as an "SBCTL" request carrying the call's Call-ID (SIPp routes it to
// the call): Answer, Reject (486/480/603), Hangup (BYE, or CANCEL while
// ringing), Hold/Unhold (re-INVITE a=sendonly / a=sendrecv), SendDTMF (SIP
// INFO application/dtmf-relay). SIPp cannot queue a request that
// arrives while a scenario is busy elsewhere, so the scenarios answer such
// requests in SIPp's _unexp.main section and go back, and the harness
// repeats a command until the message it causes (BYE, CANCEL, re-INVITE,
// INFO, 200, 4xx) shows in the trace. PhoneOptions.AnswerAfter, Manual and
// HangupAfter set the default behaviour. Every message each process sends or
// receives is read back from SIPp's -trace_msg file: Messages, WaitCall,
// WaitNotify, Call.WaitAnswered, Call.WaitEnded and Call.WaitMessage wait on
// them. TrunkPhone is the trunk's peer (SIPp in server mode at TrunkIP). Once a
// call is up the phone streams RTP (SIPp rtp_stream: a looped 1 kHz tone in
// PCMU), as a real phone does; without frames ChanSpy never notices its
// spyer hung up and MixMonitor writes nothing. The SDP offers PCMU without
// telephone-event, so Asterisk sends DTMF to the phones as SIP INFO. When the
// test ends a phone unregisters and its processes stop.
//
// # What Asterisk 20.20.1 does (observed by this package's tests)
//
// The CTI and the exports rely on these facts; each is asserted by a test
// here (the test's name in brackets) and printed by it with -v.
//
// Hold (a phone's re-INVITE with a=sendonly) [TestHoldAndMute]: "Hold" on the
// holding phone's channel (Channel, Uniqueid, Linkedid, MusicClass=default),
// then "MusicOnHoldStart" on the other party's channel (Class=default).
// Unhold: "Unhold" on the holder's channel, "MusicOnHoldStop" on the other's.
// AMI has no hold action: holding is the phone's (or its HTTP API's) job.
//
// Mute [TestHoldAndMute]: AMI "MuteAudio" (Channel, Direction in|out|all,
// State on|off) answers Success (Error for a missing channel) and raises no
// event: whoever mutes must remember the state.
//
// Blind transfer [TestBlindTransfer]: "BlindTransfer" with Channel = the
// transferrer's own channel, Exten, Context. The transferrer's phone gets a
// BYE, the transferee is connected to the target. Event "BlindTransfer":
// Result=Success, TransfererChannel, TransfereeChannel (with their Uniqueid
// and Linkedid), Extension, Context, IsExternal=Yes, Bridge*. CDRs: two with
// the transferee's UniqueID and LinkedID and rising Sequence: the first with
// DestinationChannel the transferrer (billsec of the first part), the second
// with DestinationChannel the target (LastData "PJSIP/<target>,0,tTkK").
// Sequence is a PBX-wide counter: only its order within a call means
// anything.
//
// Attended transfer [TestAttendedTransfer]: AMI "Atxfer" (Channel = the
// transferrer's channel, Exten, Context; needs featuremap atxfer) queues the
// feature code and the number as DTMF on the channel; the number's digits
// race with the "pbx-transfer" prompt and were lost in 1 run of 5 with
// Debian's prompts (the transfer never dials). Setting TRANSFER_EXTEN on the
// transferrer's channel first (AMI Setvar) makes Asterisk take the number
// from the variable: do that. Atxfer then puts the
// transferee on hold ("Hold" on the transferrer's channel, "MusicOnHoldStart"
// on the transferee's) and dials the target through a Local channel
// (Local/<target>@from-internal-xxxxxxxx;1/;2). When the transferrer hangs up
// the transfer completes: "AttendedTransfer" with Result=Success,
// OrigTransfererChannel and SecondTransfererChannel (both the transferrer's
// PJSIP channel), TransfereeChannel, TransferTargetChannel (the Local
// channel's ;1 half, TransferTargetExten the number), DestType=Bridge,
// Orig*/Second* bridge fields; "MusicOnHoldStop" on the transferee. CDRs: several with the call's
// LinkedID (five in our runs), including the Local channel's legs
// (LastApplication AppDial or empty).
//
// Park and pickup [TestParkAndPickup]: AMI "Park" with Channel = the party to
// park and TimeoutChannel = the parker gives "ParkedCall" (ParkingSpace 701,
// Parkinglot default, ParkeeChannel, ParkeeUniqueid, ParkeeLinkedid,
// ParkerDialString PJSIP/<parker>, ParkingTimeout); the parker's phone gets a
// BYE (its bridge dissolves). Dialling the slot gives "UnParkedCall" with
// the same Parkee* fields and Retriever* (RetrieverChannel, its Uniqueid,
// RetrieverExten=701). CDRs: several with the parkee's UniqueID (in our runs
// Dial to the parker, Park with LastData "default:701", Dial with
// DestinationChannel the retriever) plus the retriever's own
// (LastApplication ParkedCall), all with the parkee's LinkedID and different
// Sequence. Directed pickup
// [TestDirectedPickup]: **<ext> gives "Pickup" with Channel = the picker and
// TargetChannel = the ringing channel (TargetChannelStateDesc=Ringing); the
// ringing phone gets a CANCEL.
//
// Queue calls [TestQueueCall]: QueueAdd gives "QueueMemberAdded"
// (Membership=dynamic, MemberName, Interface, StateInterface, Paused,
// Status); QueuePause gives "QueueMemberPause" (Paused=1, PausedReason). A
// call: "QueueCallerJoin" (Queue, Position, Count, Uniqueid of the caller),
// "AgentCalled" (Interface, MemberName, DestChannel), "QueueMemberStatus"
// (Status 6 ringing, 2 in use, 1 free), "QueueCallerLeave", "AgentConnect"
// (HoldTime, RingTime, DestUniqueid), "AgentComplete" (HoldTime, TalkTime,
// Reason=caller when the caller hung up). queue_log lines, callid = the caller's
// Uniqueid, agent = the MemberName: ENTERQUEUE(NONE) with data "|<caller>|1",
// CONNECT, COMPLETECALLER (or COMPLETEAGENT); member events: ADDMEMBER with
// callid MANAGER (AMI QueueAdd) and the interface as agent
// (log_membername_as_agent = no, Asterisk's default), PAUSE with the reason
// and UNPAUSE with callid NONE and the member name as agent.
//
// DTMF [TestDTMF]: "PlayDTMF" with Receive: true puts the digit into the call
// as if the channel's phone had sent it: "DTMFEnd" Direction=Received on that
// channel, "DTMFBegin"/"DTMFEnd" Direction=Sent on the peer's, whose phone
// gets it. Without Receive the digit goes to the channel's own phone and no
// DTMF event is raised. A phone's own DTMF gives "DTMFEnd"
// Direction=Received (DurationMs) on its channel and Direction=Sent on the
// peer's.
//
// Resync [TestPJSIPNotify]: "PJSIPNotify" with Endpoint and "Variable:
// Event=check-sync" (or Option: resync, or URI: sip:<ext>@<contact> to send
// it directly) reaches the registered phone as an out-of-dialog NOTIFY with
// that Event header.
//
// Recording and spying [TestApplications]: AMI "MixMonitor" (Channel,
// File) normally gives "MixMonitorStart", but in one run of about ten the
// event never came although the recording began: do not wait for it.
// "StopMixMonitor" gives "MixMonitorStop"; the file grows only while audio
// flows. Dialling 555<ext> (ChanSpy) gives
// "ChanSpyStart" with SpyerChannel and SpyeeChannel, and "ChanSpyStop" when
// the spyer hangs up. A ConfBridge member gives "ConfbridgeJoin" and
// "ConfbridgeLeave" (Conference = the room number).
//
// CDRs [TestCallCDRMatchesMasterCSVAndMariaDB]: a plain call's "Cdr" has
// UniqueID = LinkedID of the caller's channel, Sequence, Disposition,
// Duration, BillableSeconds, StartTime/AnswerTime/EndTime in the PBX's zone;
// Master.csv's line for it has the same values. Restart [TestRestart]: the
// AMI connection sees EOF; a new login works at once after the start, AstDB
// keys and phone registrations (PJSIP keeps contacts in AstDB) survive.
package asterisktest
