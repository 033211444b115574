// Package pbxdb reads CDRs and queue events from the PBX's own database: the
// asteriskcdrdb schema FreePBX and NethVoice keep in MariaDB or MySQL (the cdr
// table Asterisk's cdr_adaptive_odbc / cdr_mysql fill, and the queue_log table
// of realtime queue logging). It only ever runs SELECT: give it a read-only
// account. Exports then cover calls made while the appliance was down, and
// the CTI's call history (DB.CallHistory, the query of cti/cdr answered in
// SQL, one page at a time) shows them too.
package pbxdb
