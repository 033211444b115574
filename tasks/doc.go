// Package tasks is the scheduled-tasks component of "switchboard serve": an
// administrator defines a task once (a CDR or call-center CDR export, its
// schedule, format and recipients); the active node runs it on its schedule or
// on demand, builds the export with package report and mails it over SMTP.
//
// Tasks, their runs and the SMTP settings are store objects (kinds "task",
// "task_run", "mail_settings"): every change has its audit row and they
// replicate with HA like the rest of the configuration. The scheduler is its
// own (see schedule.go) because it must answer "when is the next run" for the
// console, catch up exactly once after downtime from the replicated run
// history, and follow wall-clock rules across DST that are written down and
// tested with an injected clock.
package tasks
