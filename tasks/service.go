package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/report"
	"github.com/switchboard-pbx/switchboard/store"
)

// Scheduler is the actor of the writes the scheduler makes (runs).
var Scheduler = store.Actor{User: "scheduler", IP: "local"}

// Deps are what the service uses besides its configuration.
type Deps struct {
	Store *store.Store
	Log   *slog.Logger
	// Sources give the exported data (either may be nil: such tasks fail
	// saying so).
	Sources report.Sources
	// DefaultTenant is the tenant of tasks created without one.
	DefaultTenant func() string
	// Clock is the scheduler's clock; nil is the real one.
	Clock Clock
}

// Service is the tasks component: the store rules of tasks, runs and mail
// settings, the scheduler (Serve, on the active node only) and the API.
type Service struct {
	cfg    Config
	st     *store.Store
	log    *slog.Logger
	src    report.Sources
	deflt  func() string
	clock  Clock
	mail   *mailer
	appLoc *time.Location
	lang   report.Language

	// exec runs one run (tests replace it to record the scheduler's calls).
	exec func(ctx context.Context, run Run)
	// resync is how often tasks are re-read without a wake-up (a restore, an
	// HA import that did not reach Commit).
	resync time.Duration

	wake   chan struct{}
	sem    chan struct{}
	active atomic.Pointer[context.Context] // Serve's context while serving

	mu       sync.Mutex
	running  map[string]bool      // task id -> a run is in progress
	pending  map[string]*Run      // task id -> a scheduled run waiting for it
	lastDue  map[string]time.Time // task id -> last schedule occurrence dispatched
	next     map[string]time.Time // task id -> next occurrence (for views)
	failures map[string]string    // task id -> error of its last finished run
	lastID   time.Time            // time part of the last run id
	wg       sync.WaitGroup

	runsTotal *prometheus.CounterVec
	runningG  prometheus.GaugeFunc
}

var _ component.Component = (*Service)(nil)

// New registers the kinds with the store and prepares the service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	loc, _ := loadZone(cfg.TimeZone)
	m, err := newMailer(cfg)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, st: d.Store, log: d.Log, src: d.Sources, deflt: d.DefaultTenant, clock: d.Clock,
		mail: m, appLoc: loc, lang: report.Language(cfg.Language),
		wake: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Concurrency),
		running: map[string]bool{}, pending: map[string]*Run{}, lastDue: map[string]time.Time{},
		next: map[string]time.Time{}, failures: map[string]string{}}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.deflt == nil {
		s.deflt = func() string { return "" }
	}
	s.exec = s.execute
	s.resync = time.Minute
	s.runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_task_runs_total",
		Help: "Finished runs of scheduled tasks by status (ok, failed, interrupted)."}, []string{"status"})
	s.runningG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_task_runs_running",
		Help: "Runs of scheduled tasks in progress."}, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.running))
	})
	s.registerKinds()
	return s, nil
}

func (s *Service) registerKinds() {
	s.st.Register(store.Kind{Name: KindTask,
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return nil
			}
			var t Task
			if err := json.Unmarshal(data, &t); err != nil || t.ID != id {
				return &store.ValidationError{Field: "id", Msg: "stored task does not match its id"}
			}
			return t.Validate()
		},
		Tenant: func(data json.RawMessage) string {
			var t Task
			json.Unmarshal(data, &t) //nolint:errcheck // checked by Check first
			return t.Tenant
		}})
	s.st.Register(store.Kind{Name: KindRun})
	s.st.Register(store.Kind{Name: KindMail, Secrets: []string{"password"},
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return nil
			}
			var m MailSettings
			if err := json.Unmarshal(data, &m); err != nil || id != mailID {
				return &store.ValidationError{Field: "id", Msg: "stored mail settings are damaged"}
			}
			return m.validate()
		}})
}

// Name is the component's name.
func (s *Service) Name() string { return "tasks" }

// Bind acquires nothing: the scheduler listens on no socket.
func (s *Service) Bind(context.Context) error { return nil }

// Collectors are the run counters.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.runsTotal, s.runningG}
}

// Commit wakes the scheduler when tasks (or the PBX zone they follow) change.
func (s *Service) Commit(c store.Commit) {
	if c.Touches(KindTask, "pbx") {
		s.wakeUp()
	}
}

func (s *Service) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Health: off while not serving (the passive node, or tasks disabled),
// degraded when enabled tasks have no SMTP server or a task's last run failed.
func (s *Service) Health(ctx context.Context) component.Health {
	if s.active.Load() == nil {
		return component.Health{Status: component.Off, Detail: "tasks run on the active node only"}
	}
	s.mu.Lock()
	var failed []string
	for id, e := range s.failures {
		failed = append(failed, id+": "+e)
	}
	s.mu.Unlock()
	sort.Strings(failed)
	var ms MailSettings
	enabled := 0
	err := s.st.View(ctx, func(tx *store.Tx) error {
		var err error
		if ms, err = loadMail(tx); err != nil {
			return err
		}
		return tx.List(KindTask, "", func(_ string, data json.RawMessage) error {
			var t Task
			if json.Unmarshal(data, &t) == nil && t.Enabled {
				enabled++
			}
			return nil
		})
	})
	switch {
	case err != nil:
		return component.Health{Status: component.Degraded, Detail: err.Error()}
	case enabled > 0 && ms.Host == "":
		return component.Health{Status: component.Degraded, Detail: fmt.Sprintf("%d enabled tasks but no SMTP server is configured", enabled)}
	case len(failed) > 0:
		return component.Health{Status: component.Degraded, Detail: "last run failed: " + failed[0]}
	}
	return component.Health{Status: component.OK}
}

// zone is the time zone of a task: its tenant's PBX time_zone when the tenant
// has PBX settings, else the appliance's.
func (s *Service) zone(tx *store.Tx, tenant string) *time.Location {
	if tenant != "" {
		var p struct {
			TimeZone string `json:"time_zone"`
		}
		if ok, err := tx.Get("pbx", tenant, &p); err == nil && ok && p.TimeZone != "" && p.TimeZone != "Local" {
			if l, err := time.LoadLocation(p.TimeZone); err == nil {
				return l
			}
		}
	}
	return s.appLoc
}

// newRunID makes an id that sorts by start time (the store lists by id):
// the time to the microsecond, never the same as the previous one, and a
// random suffix against another node's ids.
func (s *Service) newRunID() string {
	s.mu.Lock()
	t := s.clock.Now().UTC().Truncate(time.Microsecond)
	if !t.After(s.lastID) {
		t = s.lastID.Add(time.Microsecond)
	}
	s.lastID = t
	s.mu.Unlock()
	b := make([]byte, 3)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail on Linux
	return t.Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b)
}

// ---- the scheduler ----

// Serve runs the scheduler until ctx ends: it marks runs a previous process
// left unfinished as interrupted, runs once each task whose run was due while
// no node ran tasks, then follows the schedules. Runs in progress are
// cancelled when ctx ends (the node stops being active) and recorded as
// interrupted.
func (s *Service) Serve(ctx context.Context) error {
	if !s.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	s.active.Store(&ctx)
	defer func() {
		s.active.Store(nil)
		s.wg.Wait()
	}()
	if err := s.recover(ctx); err != nil {
		s.log.Error("reading the run history", "err", err)
	}
	s.catchUp(ctx)
	for {
		tasks, err := s.enabledTasks(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("reading tasks", "err", err)
		}
		now := s.clock.Now()
		wait := s.resync
		s.mu.Lock()
		clear(s.next)
		for _, tl := range tasks {
			after := now
			if last := s.lastDue[tl.t.ID]; last.After(after) {
				after = last
			}
			n := tl.t.schedule().Next(after, tl.loc)
			s.next[tl.t.ID] = n
			wait = min(wait, n.Sub(now))
		}
		s.mu.Unlock()
		c, stop := s.clock.Timer(max(wait, 0))
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-s.wake:
			stop()
			continue
		case <-c:
		}
		now = s.clock.Now()
		s.mu.Lock()
		var due []dueRun
		for _, tl := range tasks {
			if n, ok := s.next[tl.t.ID]; ok && !n.After(now) {
				due = append(due, dueRun{tl.t, n})
				s.lastDue[tl.t.ID] = n
			}
		}
		s.mu.Unlock()
		for _, d := range due {
			s.dispatch(ctx, d.t, TriggerSchedule, d.at)
		}
	}
}

type dueRun struct {
	t  Task
	at time.Time
}

type taskLoc struct {
	t   Task
	loc *time.Location
}

func (s *Service) enabledTasks(ctx context.Context) ([]taskLoc, error) {
	var out []taskLoc
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(KindTask, "", func(id string, data json.RawMessage) error {
			var t Task
			if err := json.Unmarshal(data, &t); err != nil {
				return fmt.Errorf("tasks: task %s: %w", id, err)
			}
			if t.Enabled {
				out = append(out, taskLoc{t, s.zone(tx, t.Tenant)})
			}
			return nil
		})
	})
	return out, err
}

// recover loads the last scheduled run of each task and marks runs left
// "running" by a process that stopped as interrupted.
func (s *Service) recover(ctx context.Context) error {
	var stale []Run
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(KindRun, "", func(id string, data json.RawMessage) error {
			var r Run
			if err := json.Unmarshal(data, &r); err != nil {
				return nil
			}
			s.mu.Lock()
			if r.Scheduled != nil && r.Scheduled.After(s.lastDue[r.Task]) {
				s.lastDue[r.Task] = *r.Scheduled
			}
			if r.Status == StatusFailed || r.Status == StatusInterrupted {
				s.failures[r.Task] = r.Error
			} else if r.Status == StatusOK {
				delete(s.failures, r.Task)
			}
			running := s.running[r.Task]
			s.mu.Unlock()
			if r.Status == StatusRunning && !running {
				stale = append(stale, r)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, r := range stale {
		r.Status, r.Error = StatusInterrupted, "the daemon stopped (or the node stopped being active) during the run"
		end := s.clock.Now()
		r.End = &end
		s.saveRun(ctx, r)
	}
	return nil
}

// catchUp runs once each enabled task whose last scheduled run was due while
// no node ran tasks (after the task was last saved and after the last run it
// had): one run however many were missed, for the most recent one.
func (s *Service) catchUp(ctx context.Context) {
	tasks, err := s.enabledTasks(ctx)
	if err != nil {
		s.log.Error("reading tasks", "err", err)
		return
	}
	now := s.clock.Now()
	for _, tl := range tasks {
		prev := tl.t.schedule().Prev(now, tl.loc)
		s.mu.Lock()
		last := s.lastDue[tl.t.ID]
		missed := !prev.IsZero() && prev.After(last) && prev.After(tl.t.Updated) && prev.After(tl.t.Created)
		if missed {
			s.lastDue[tl.t.ID] = prev
		}
		s.mu.Unlock()
		if missed {
			s.log.Info("running a task missed while down", "task", tl.t.Name, "due", prev.In(tl.loc).Format(time.RFC3339))
			s.dispatch(ctx, tl.t, TriggerCatchUp, prev)
		}
	}
}

// dispatch starts a scheduled run, or queues it behind the task's run in
// progress (one run of a task at a time; a second due meanwhile is merged).
func (s *Service) dispatch(ctx context.Context, t Task, trigger string, at time.Time) {
	sched := at
	r := Run{ID: s.newRunID(), Task: t.ID, Tenant: t.Tenant, Trigger: trigger, Scheduled: &sched,
		Status: StatusRunning, Recipients: []string{}}
	s.mu.Lock()
	if s.running[t.ID] {
		s.pending[t.ID] = &r
		s.mu.Unlock()
		return
	}
	s.running[t.ID] = true
	s.mu.Unlock()
	s.launch(ctx, r, Scheduler)
}

// launch records r as started and runs it in the background.
func (s *Service) launch(ctx context.Context, r Run, actor store.Actor) {
	r.Start = s.clock.Now()
	if err := s.createRun(ctx, &r, actor); err != nil {
		s.log.Error("recording a run", "task", r.Task, "err", err)
		s.finished(ctx, r.Task)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.exec(ctx, r)
		s.finished(ctx, r.Task)
	}()
}

// finished releases the task and starts its queued run, if any.
func (s *Service) finished(ctx context.Context, task string) {
	s.mu.Lock()
	p := s.pending[task]
	delete(s.pending, task)
	if p == nil || ctx.Err() != nil {
		delete(s.running, task)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.launch(ctx, *p, Scheduler)
}

// createRun stores a new run (pruning the task's oldest beyond keep_runs).
func (s *Service) createRun(ctx context.Context, r *Run, actor store.Actor) error {
	_, err := s.st.Update(context.WithoutCancel(ctx), actor, func(tx *store.Tx) error {
		var t Task
		ok, err := tx.Get(KindTask, r.Task, &t)
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		var mine []string
		if err := tx.List(KindRun, t.Tenant, func(id string, data json.RawMessage) error {
			var o Run
			if json.Unmarshal(data, &o) == nil && o.Task == r.Task {
				mine = append(mine, id)
			}
			return nil
		}); err != nil {
			return err
		}
		for i := 0; i+s.cfg.KeepRuns <= len(mine); i++ { // ids sort by start time
			if err := tx.Delete(KindRun, mine[i], "old run of task "+t.Name+" removed"); err != nil {
				return err
			}
		}
		return tx.Create(KindRun, t.Tenant, r.ID, r, fmt.Sprintf("task %s: %s run started", t.Name, r.Trigger))
	})
	return err
}

// saveRun records a run's outcome. It is written even when the node is
// stopping, so that the history says what happened.
func (s *Service) saveRun(ctx context.Context, r Run) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.st.Update(wctx, Scheduler, func(tx *store.Tx) error {
		err := tx.Replace(KindRun, r.Tenant, r.ID, &r, fmt.Sprintf("run %s: %s", r.ID, r.Status))
		if errors.Is(err, store.ErrNotFound) {
			return nil // the task was deleted meanwhile, and its runs with it
		}
		return err
	})
	if err != nil {
		s.log.Error("recording a run", "task", r.Task, "run", r.ID, "err", err)
	}
	if r.Status == StatusRunning {
		return
	}
	s.runsTotal.WithLabelValues(r.Status).Inc()
	s.mu.Lock()
	if r.Status == StatusOK {
		delete(s.failures, r.Task)
	} else {
		s.failures[r.Task] = r.Error
	}
	s.mu.Unlock()
}

// RunNow starts a run of task id by hand, enabled or not, and returns at once
// with the run as recorded ("report generation started"); the export and the
// mail follow in the background.
func (s *Service) RunNow(ctx context.Context, actor store.Actor, id string) (Run, error) {
	sctx := s.active.Load()
	if sctx == nil {
		return Run{}, errNotActive
	}
	var t Task
	if err := s.st.View(ctx, func(tx *store.Tx) error {
		ok, err := tx.Get(KindTask, id, &t)
		if err == nil && !ok {
			err = store.ErrNotFound
		}
		return err
	}); err != nil {
		return Run{}, err
	}
	s.mu.Lock()
	if s.running[id] {
		s.mu.Unlock()
		return Run{}, errBusy
	}
	s.running[id] = true
	s.mu.Unlock()
	r := Run{ID: s.newRunID(), Task: t.ID, Tenant: t.Tenant, Trigger: TriggerManual, By: actor.User,
		Status: StatusRunning, Recipients: []string{}, Start: s.clock.Now()}
	if err := s.createRun(ctx, &r, actor); err != nil {
		s.finished(*sctx, id)
		return Run{}, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.exec(*sctx, r)
		s.finished(*sctx, id)
	}()
	return r, nil
}

var (
	errNotActive = errors.New("tasks run only on the active node (or tasks.enabled is false)")
	errBusy      = errors.New("this task is already running: one run of a task at a time")
)

// ---- uuid for tasks ----

func newTaskID() string { return uuid.NewString() }
