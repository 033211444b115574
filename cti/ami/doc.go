// Package ami is a client of Asterisk's manager interface (AMI): it dials,
// reads the banner, logs in, correlates responses to actions by ActionID,
// collects event lists ("EventList: start" ... "EventList: Complete"), probes an
// idle connection with Ping and reconnects with jittered exponential backoff.
// Events that belong to no pending action reach a Handler on one goroutine, in
// wire order, after the Handler's Connected has run for that connection.
//
// Messages keep their fields in order, repeated keys included (Variable:,
// ChanVariable:), and the parser refuses overlong lines and messages (a broken or
// hostile peer gets its connection dropped, never a panic). Values are cleaned of
// CR and LF on the way out, so a value taken from a client cannot inject another
// field or action.
//
// It knows nothing of calls or of the CTI: cti/model interprets the events, and
// cti/amitest is the test double of the other end.
package ami
