package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Tasks lists every task with its state, by name.
func (s *Service) Tasks(ctx context.Context) ([]View, error) {
	var out []View
	err := s.st.View(ctx, func(tx *store.Tx) error {
		last, err := s.lastRuns(tx)
		if err != nil {
			return err
		}
		return tx.List(KindTask, "", func(id string, data json.RawMessage) error {
			var t Task
			if err := json.Unmarshal(data, &t); err != nil {
				return fmt.Errorf("tasks: task %s: %w", id, err)
			}
			out = append(out, s.view(tx, t, last[id]))
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	if out == nil {
		out = []View{}
	}
	return out, err
}

// Task is one task with its state.
func (s *Service) Task(ctx context.Context, id string) (View, error) {
	var v View
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var t Task
		ok, err := tx.Get(KindTask, id, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		last, err := s.lastRuns(tx)
		if err != nil {
			return err
		}
		v = s.view(tx, t, last[id])
		return nil
	})
	return v, err
}

func (s *Service) lastRuns(tx *store.Tx) (map[string]*Run, error) {
	last := map[string]*Run{}
	err := tx.List(KindRun, "", func(id string, data json.RawMessage) error {
		var r Run
		if json.Unmarshal(data, &r) == nil {
			last[r.Task] = &r // ids sort by start: the last one listed is the newest
		}
		return nil
	})
	return last, err
}

func (s *Service) view(tx *store.Tx, t Task, last *Run) View {
	loc := s.zone(tx, t.Tenant)
	v := View{Task: t, TimeZone: loc.String(), LastRun: last}
	if v.TimeZone == "Local" {
		v.TimeZone = localZoneName()
	}
	if t.Recipients == nil {
		v.Recipients = []string{}
	}
	s.mu.Lock()
	v.Running = s.running[t.ID]
	n, ok := s.next[t.ID]
	s.mu.Unlock()
	if t.Enabled {
		if !ok {
			n = t.schedule().Next(s.clock.Now(), loc)
		}
		v.NextRun = &n
	}
	return v
}

// localZoneName names the system zone ("Local" says nothing to a user).
func localZoneName() string {
	name, _ := time.Now().Zone()
	return "system (" + name + ")"
}

func (s *Service) checkTenant(tx *store.Tx, t *Task) error {
	if t.Tenant == "" {
		return nil
	}
	var any json.RawMessage
	ok, err := tx.Get("tenant", t.Tenant, &any)
	if err != nil {
		return err
	}
	if !ok {
		return bad("tenant", "tenant %s does not exist", t.Tenant)
	}
	return nil
}

// Create saves a new task (audited as actor).
func (s *Service) Create(ctx context.Context, actor store.Actor, in Input) (View, error) {
	if in.Type == nil {
		return View{}, bad("type", "type is required (cdr or callcenter)")
	}
	now := s.clock.Now().UTC()
	t := Task{ID: newTaskID(), Type: strings.TrimSpace(*in.Type), Enabled: true, Schedule: Daily, Time: "06:00",
		Interval: PreviousDay, Format: FormatXLSX, CompressOverMB: 10, Created: now, Updated: now, Tenant: s.deflt()}
	if in.Tenant != nil {
		t.Tenant = strings.TrimSpace(*in.Tenant)
	}
	in.apply(&t)
	if err := t.Validate(); err != nil {
		return View{}, err
	}
	var v View
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		if err := s.checkTenant(tx, &t); err != nil {
			return err
		}
		if err := tx.Create(KindTask, t.Tenant, t.ID, &t, fmt.Sprintf("scheduled task \"%s\" created", t.Name)); err != nil {
			return err
		}
		v = s.view(tx, t, nil)
		return nil
	})
	if err != nil {
		return View{}, err
	}
	s.wakeUp()
	return v, nil
}

// Update changes a task; its type stays.
func (s *Service) Update(ctx context.Context, actor store.Actor, id string, in Input) (View, error) {
	var v View
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var t Task
		ok, err := tx.Get(KindTask, id, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		if in.Type != nil && strings.TrimSpace(*in.Type) != t.Type {
			return bad("type", "the type of a task cannot change: make a new task")
		}
		if in.Tenant != nil {
			t.Tenant = strings.TrimSpace(*in.Tenant)
		}
		in.apply(&t)
		if err := t.Validate(); err != nil {
			return err
		}
		if err := s.checkTenant(tx, &t); err != nil {
			return err
		}
		var before Task
		tx.Get(KindTask, id, &before) //nolint:errcheck // read above
		before.Updated = t.Updated
		if b1, _ := json.Marshal(before); string(b1) != mustJSON(t) {
			t.Updated = s.clock.Now().UTC()
		}
		if err := tx.Replace(KindTask, t.Tenant, id, &t, fmt.Sprintf("scheduled task \"%s\" changed", t.Name)); err != nil {
			return err
		}
		last, err := s.lastRuns(tx)
		if err != nil {
			return err
		}
		v = s.view(tx, t, last[id])
		return nil
	})
	if err != nil {
		return View{}, err
	}
	s.wakeUp()
	return v, nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Delete removes a task and its run history.
func (s *Service) Delete(ctx context.Context, actor store.Actor, id string) error {
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		var t Task
		ok, err := tx.Get(KindTask, id, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		var runs []string
		if err := tx.List(KindRun, t.Tenant, func(rid string, data json.RawMessage) error {
			var r Run
			if json.Unmarshal(data, &r) == nil && r.Task == id {
				runs = append(runs, rid)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, rid := range runs {
			if err := tx.Delete(KindRun, rid, fmt.Sprintf("run of deleted task \"%s\" removed", t.Name)); err != nil {
				return err
			}
		}
		return tx.Delete(KindTask, id, fmt.Sprintf("scheduled task \"%s\" deleted", t.Name))
	})
	if err == nil {
		s.wakeUp()
	}
	return err
}

// Runs lists a task's runs, newest first, at most limit.
func (s *Service) Runs(ctx context.Context, id string, limit int) ([]Run, error) {
	out := []Run{}
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var t Task
		ok, err := tx.Get(KindTask, id, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		return tx.List(KindRun, t.Tenant, func(_ string, data json.RawMessage) error {
			var r Run
			if json.Unmarshal(data, &r) == nil && r.Task == id {
				out = append(out, r)
			}
			return nil
		})
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// Mail returns the SMTP settings (without the password).
func (s *Service) Mail(ctx context.Context) (MailView, error) {
	var m MailSettings
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		m, err = loadMail(tx)
		return err
	})
	return m.view(), err
}

// SetMail changes the SMTP settings; the password is sealed before it is
// stored and never returned.
func (s *Service) SetMail(ctx context.Context, actor store.Actor, in MailInput) (MailView, error) {
	var out MailSettings
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		m, err := loadMail(tx)
		if err != nil {
			return err
		}
		existed := m.Host != ""
		str := func(dst, src *string) {
			if src != nil {
				*dst = strings.TrimSpace(*src)
			}
		}
		str(&m.Host, in.Host)
		str(&m.Security, in.Security)
		str(&m.Username, in.Username)
		str(&m.From, in.From)
		if m.Security == "" {
			m.Security = SecuritySTARTTLS
		}
		if in.Port != nil {
			m.Port = *in.Port
		} else if m.Port == 0 || (in.Security != nil && !existed) {
			m.Port = defaultPort(m.Security)
		}
		if in.Password != nil {
			if len(*in.Password) > 256 {
				return bad("password", "password is longer than 256 characters")
			}
			m.Password = ""
			if *in.Password != "" {
				if m.Password, err = s.mail.keys.Seal([]byte(*in.Password), mailID); err != nil {
					return err
				}
			}
		}
		if m.Username == "" && in.Username != nil && in.Password == nil {
			m.Password = "" // no username, no password
		}
		if err := m.validate(); err != nil {
			return err
		}
		out = m
		if !existed {
			return tx.Create(KindMail, "", mailID, &m, "SMTP settings saved")
		}
		return tx.Replace(KindMail, "", mailID, &m, "SMTP settings changed")
	})
	if errors.Is(err, store.ErrExists) {
		err = &store.ConflictError{Msg: "SMTP settings were saved meanwhile: try again"}
	}
	return out.view(), err
}

// TestMail sends a test message to "to" with the saved settings, once (no
// retries: the answer is for a person waiting).
func (s *Service) TestMail(ctx context.Context, to string) error {
	a, err := mail.ParseAddress(strings.TrimSpace(to))
	if err != nil || !strings.Contains(a.Address, "@") {
		return bad("to", "to must be an e-mail address")
	}
	m, err := s.loadMailSettings(ctx)
	if err != nil {
		return err
	}
	subject, body := "Switchboard: test message", "This is a test message from Switchboard: the SMTP settings work.\n"
	if s.lang == "it" {
		subject, body = "Switchboard: messaggio di prova", "Questo è un messaggio di prova di Switchboard: le impostazioni SMTP funzionano.\n"
	}
	_, err = s.mail.send(ctx, m, message{to: []string{a.Address}, subject: subject, body: body}, 1)
	return err
}

func (s *Service) loadMailSettings(ctx context.Context) (MailSettings, error) {
	var m MailSettings
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		m, err = loadMail(tx)
		return err
	})
	return m, err
}
