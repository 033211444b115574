// Package report builds the exports of scheduled tasks and of the audit log:
// call detail records (one row per call, and per leg in the detailed variant),
// call-center queue calls (with agent attempts and operator events in the
// detailed variant) and audit rows, as XLSX (excelize's stream writer), CSV
// (RFC 4180, UTF-8), JSON or XML.
//
// Everything streams: a source calls back once per record, rows go straight to
// the output (XLSX spills to temporary files past 16 MB per sheet), so a
// million-row export runs in bounded memory. The data comes through small
// interfaces (CDRSource, QueueSource) with two kinds of implementation: the
// appliance's own AMI-fed store and the PBX's database (MySQL, MariaDB: the
// asteriskcdrdb cdr and queue_log tables FreePBX and NethVoice keep), read-only.
package report
