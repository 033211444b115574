// Package cdr is the call history: it keeps the call detail records Asterisk
// sends as AMI "Cdr" events (cdr_manager) in a SQLite file of its own beside the
// configuration store, and answers queries by extension, time range, direction
// and text. The CTI writes it from its AMI connection and serves nethcti's
// historycall from it; anything else (scheduled CDR exports) can open the same
// file and read it without the CTI's REST or socket.io side.
package cdr
