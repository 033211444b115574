package tasks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// execute builds a run's export, applies the size rule, mails it and records
// the outcome on the run.
func (s *Service) execute(ctx context.Context, r Run) {
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		s.fail(ctx, r, ctx.Err())
		return
	}
	var t Task
	var ms MailSettings
	var loc *time.Location
	var to []string
	err := s.st.View(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		ok, err := tx.Get(KindTask, r.Task, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if ms, err = loadMail(tx); err != nil {
			return err
		}
		loc = s.zone(tx, t.Tenant)
		to, err = recipients(tx, &t)
		return err
	})
	if err != nil {
		s.fail(ctx, r, err)
		return
	}
	base := r.Start
	if r.Scheduled != nil {
		base = *r.Scheduled
	}
	r.From, r.To = Period(t.Interval, base, loc)
	r.Recipients = to
	if len(to) == 0 {
		s.fail(ctx, r, fmt.Errorf("no recipient: the task has no address and no supervisor has an e-mail address"))
		return
	}
	if ms.Host == "" {
		s.fail(ctx, r, ErrNoMail)
		return
	}
	dir := &report.Dir{Path: filepath.Join(s.cfg.WorkDir, r.ID)}
	defer os.RemoveAll(dir.Path)
	stem := fileStem(&t, r.From, r.To, loc)
	data := report.CDRData
	if t.Type == TypeCallCenter {
		data = report.CallCenterData
	}
	stats, files, err := report.Export(ctx, report.Request{Data: data, Format: reportFormat(t.Format), Detailed: Detailed(t.Format),
		OperatorEvents: t.OperatorEvents, From: r.From, To: r.To, Language: s.lang, Location: loc, Stem: stem}, s.src, dir)
	r.Rows, r.DetailRows = stats.Rows, stats.Detail
	if err != nil {
		s.fail(ctx, r, fmt.Errorf("export: %w", err))
		return
	}
	if report.NeedsZip(files, t.CompressOverMB) {
		z, err := report.Zip(files, filepath.Join(dir.Path, stem+".zip"), stem+".zip")
		if err != nil {
			s.fail(ctx, r, err)
			return
		}
		files, r.Compressed = []report.File{z}, true
	}
	var names []string
	var atts []attachment
	for _, f := range files {
		names = append(names, f.Name)
		r.FileSize += f.Size
		atts = append(atts, attachment{name: f.Name, path: f.Path, contentType: contentType(f.Name)})
	}
	r.File = strings.Join(names, ", ")
	msg := s.message(&t, &r, loc, atts)
	r.MailAttempts, err = s.mail.send(ctx, ms, msg, 0)
	if err != nil {
		s.fail(ctx, r, fmt.Errorf("mail: %w", err))
		return
	}
	end := s.clock.Now()
	r.End, r.Status = &end, StatusOK
	s.saveRun(ctx, r)
	s.log.Info("task run done", "task", t.Name, "run", r.ID, "rows", r.Rows, "file", r.File, "bytes", r.FileSize,
		"recipients", len(r.Recipients))
}

func (s *Service) fail(ctx context.Context, r Run, err error) {
	end := s.clock.Now()
	r.End, r.Status, r.Error = &end, StatusFailed, err.Error()
	if ctx.Err() != nil {
		r.Status, r.Error = StatusInterrupted, "the node stopped running tasks during the run"
	}
	s.saveRun(ctx, r)
	s.log.Warn("task run failed", "task", r.Task, "run", r.ID, "err", err)
}

// fileStem names the export after its data and period: cdr-2026-03-01 for a
// day, cdr-2026-03-02_2026-03-08 for a week, callcenter-2026-03 for a month.
func fileStem(t *Task, from, to time.Time, loc *time.Location) string {
	f, l := from.In(loc), to.In(loc).Add(-time.Second)
	period := f.Format("2006-01-02")
	switch {
	case f.Day() == 1 && l.Month() == f.Month() && l.Year() == f.Year() && l.AddDate(0, 0, 1).Day() == 1:
		period = f.Format("2006-01")
	case l.Format("2006-01-02") != period:
		period += "_" + l.Format("2006-01-02")
	}
	return t.Type + "-" + period
}

func contentType(name string) string {
	switch filepath.Ext(name) {
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".csv":
		return "text/csv"
	case ".json":
		return "application/json"
	case ".xml":
		return "application/xml"
	case ".zip":
		return "application/zip"
	}
	return "application/octet-stream"
}

// message is the mail of a run, in the configured language.
func (s *Service) message(t *Task, r *Run, loc *time.Location, atts []attachment) message {
	const layout = "2006-01-02 15:04"
	from, to := r.From.In(loc).Format(layout), r.To.In(loc).Format(layout)
	var subject, body string
	size := fmt.Sprintf("%.1f MB", float64(r.FileSize)/report.MB)
	if s.lang == report.Italian {
		what := "Esportazione CDR"
		if t.Type == TypeCallCenter {
			what = "Esportazione CDR call center"
		}
		subject = fmt.Sprintf("%s: %s (%s - %s)", t.Name, what, from, to)
		body = fmt.Sprintf("Attività pianificata: %s\n%s dal %s al %s (%s).\nChiamate: %d\nAllegato: %s (%s)\n\n-- \nSwitchboard\n",
			t.Name, what, from, to, loc, r.Rows, r.File, size)
	} else {
		what := "CDR export"
		if t.Type == TypeCallCenter {
			what = "Call-center CDR export"
		}
		subject = fmt.Sprintf("%s: %s (%s - %s)", t.Name, what, from, to)
		body = fmt.Sprintf("Scheduled task: %s\n%s from %s to %s (%s).\nCalls: %d\nAttachment: %s (%s)\n\n-- \nSwitchboard\n",
			t.Name, what, from, to, loc, r.Rows, r.File, size)
	}
	return message{to: r.Recipients, subject: subject, body: body, attachments: atts}
}
