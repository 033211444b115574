package tasks

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

type fired struct {
	task      string
	trigger   string
	scheduled time.Time
	at        time.Time
}

// recorder replaces the run's work: it notes which task ran, why, for which
// schedule time and at what (fake) time.
type recorder struct {
	mu   sync.Mutex
	runs []fired
}

func (r *recorder) exec(e *env, names map[string]string) func(context.Context, Run) {
	return func(_ context.Context, run Run) {
		r.mu.Lock()
		defer r.mu.Unlock()
		// Start is taken when the scheduler dispatches the run, before it
		// arms its next timer: the fake time of the dispatch.
		f := fired{task: names[run.Task], trigger: run.Trigger, at: run.Start}
		if run.Scheduled != nil {
			f.scheduled = *run.Scheduled
		}
		r.runs = append(r.runs, f)
	}
}

func (r *recorder) list() []fired {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]fired(nil), r.runs...)
}

func strp(s string) *string { return &s }
func intp(n int) *int       { return &n }
func boolp(b bool) *bool    { return &b }

func (e *env) task(in Input) View {
	e.t.Helper()
	if in.Type == nil {
		in.Type = strp(TypeCDR)
	}
	if in.Recipients == nil {
		in.Recipients = &[]string{"ops@example.com"}
	}
	v, err := e.svc.Create(context.Background(), store.Actor{User: "alice", IP: "192.0.2.1"}, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// step drives the scheduler until the fake clock reaches end: it jumps to
// each timer the scheduler arms, as a real clock would get there.
func step(t *testing.T, clk *fakeClock, end time.Time) {
	t.Helper()
	for {
		at := clk.nextTimer(t)
		if at.After(end) {
			clk.set(end)
			return
		}
		clk.set(at)
	}
}

// checkRuns compares what ran with the expected (task, wall time) pairs, in order.
func checkRuns(t *testing.T, rec *recorder, want []fired) {
	t.Helper()
	var got []fired
	eventually(t, "the runs are recorded", func() bool { got = rec.list(); return len(got) >= len(want) })
	// Runs due at the same instant start in no particular order.
	order := func(l []fired) {
		sort.SliceStable(l, func(i, j int) bool {
			if !l[i].scheduled.Equal(l[j].scheduled) {
				return l[i].scheduled.Before(l[j].scheduled)
			}
			return l[i].task < l[j].task
		})
	}
	order(got)
	order(want)
	if len(got) != len(want) {
		t.Fatalf("%d runs, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.task != w.task || g.trigger != w.trigger || !g.scheduled.Equal(w.scheduled) || !g.at.Equal(w.scheduled) && w.trigger == TriggerSchedule {
			t.Fatalf("run %d: %s %s scheduled %s at %s; want %s %s at %s\nall: %+v", i, g.task, g.trigger,
				g.scheduled.In(rome), g.at.In(rome), w.task, w.trigger, w.scheduled.In(rome), got)
		}
	}
}

func schedEnv(t *testing.T, start time.Time) (*env, *fakeClock, *recorder, map[string]string) {
	clk := &fakeClock{now: start}
	e := newEnv(t, testConfig(), Deps{Clock: clk})
	e.svc.resync = 10000 * time.Hour // only the schedule arms timers
	rec := &recorder{}
	names := map[string]string{}
	e.svc.exec = rec.exec(e, names)
	return e, clk, rec, names
}

func TestSchedulerAcrossSpringDST(t *testing.T) {
	e, clk, rec, names := schedEnv(t, local("2026-03-27 12:00"))
	for _, in := range []Input{
		{Name: strp("daily 02:30"), Schedule: strp(Daily), Time: strp("02:30")},
		{Name: strp("daily 09:00"), Schedule: strp(Daily), Time: strp("09:00")},
		{Name: strp("sundays 02:30"), Schedule: strp(Weekly), Weekday: strp("sunday"), Time: strp("02:30")},
		{Name: strp("disabled"), Schedule: strp(Daily), Time: strp("09:00"), Enabled: boolp(false)},
	} {
		v := e.task(in)
		names[v.ID] = v.Name
	}
	e.serve()
	step(t, clk, local("2026-03-30 12:00"))
	s := func(task, at string) fired { return fired{task: task, trigger: TriggerSchedule, scheduled: local(at)} }
	checkRuns(t, rec, []fired{
		s("daily 02:30", "2026-03-28 02:30"),
		s("daily 09:00", "2026-03-28 09:00"),
		// 29 March: 02:00-02:59 does not exist; 02:30 runs as the clock jumps to 03:00.
		s("daily 02:30", "2026-03-29 03:00"),
		s("sundays 02:30", "2026-03-29 03:00"),
		s("daily 09:00", "2026-03-29 09:00"),
		s("daily 02:30", "2026-03-30 02:30"),
		s("daily 09:00", "2026-03-30 09:00"),
	})
}

func TestSchedulerAcrossAutumnDST(t *testing.T) {
	e, clk, rec, names := schedEnv(t, local("2026-10-24 12:00"))
	v := e.task(Input{Name: strp("daily 02:30"), Schedule: strp(Daily), Time: strp("02:30")})
	names[v.ID] = v.Name
	e.serve()
	step(t, clk, local("2026-10-26 12:00"))
	// 25 October: 02:30 happens twice (summer, then winter time): one run.
	checkRuns(t, rec, []fired{
		{task: "daily 02:30", trigger: TriggerSchedule, scheduled: local("2026-10-25 02:30 +02")},
		{task: "daily 02:30", trigger: TriggerSchedule, scheduled: local("2026-10-26 02:30")},
	})
}

func TestSchedulerMonthlyOnThe31st(t *testing.T) {
	e, clk, rec, names := schedEnv(t, local("2026-03-15 12:00"))
	v := e.task(Input{Name: strp("month end"), Schedule: strp(Monthly), DayOfMonth: intp(31), Time: strp("23:00"),
		Interval: strp(CurrentMonth)})
	names[v.ID] = v.Name
	if v.NextRun == nil || !v.NextRun.Equal(local("2026-03-31 23:00")) {
		t.Fatalf("next run %v", v.NextRun)
	}
	e.serve()
	step(t, clk, local("2026-07-05 00:00"))
	s := func(at string) fired { return fired{task: "month end", trigger: TriggerSchedule, scheduled: local(at)} }
	// The 31st in a 30-day month runs on the 30th.
	checkRuns(t, rec, []fired{s("2026-03-31 23:00"), s("2026-04-30 23:00"), s("2026-05-31 23:00"), s("2026-06-30 23:00")})
}

func TestCatchUpOnceAfterDowntime(t *testing.T) {
	e, clk, rec, names := schedEnv(t, local("2026-03-01 08:00"))
	daily := e.task(Input{Name: strp("daily 09:00"), Schedule: strp(Daily), Time: strp("09:00")})
	weekly := e.task(Input{Name: strp("mondays"), Schedule: strp(Weekly), Weekday: strp("monday"), Time: strp("07:00")})
	names[daily.ID], names[weekly.ID] = daily.Name, weekly.Name
	e.serve()
	step(t, clk, local("2026-03-01 12:00"))
	checkRuns(t, rec, []fired{{task: "daily 09:00", trigger: TriggerSchedule, scheduled: local("2026-03-01 09:00")}})
	// The daemon stops for two days and a bit. Meanwhile nothing runs.
	e.stop()
	<-e.done
	clk.set(local("2026-03-03 10:00"))
	// A task saved after its run time today is not "missed".
	late := e.task(Input{Name: strp("created late"), Schedule: strp(Daily), Time: strp("09:30")})
	names[late.ID] = late.Name
	clk.set(local("2026-03-03 11:00"))
	e.serve()
	// The daily task missed 2 and 3 March: it runs once, for 3 March 09:00;
	// the weekly one missed Monday 2 March 07:00: once.
	eventually(t, "catch-up runs", func() bool { return len(rec.list()) >= 3 })
	got := rec.list()[1:]
	byTask := map[string]fired{}
	for _, f := range got {
		byTask[f.task] = f
	}
	if len(got) != 2 || byTask["daily 09:00"].trigger != TriggerCatchUp || !byTask["daily 09:00"].scheduled.Equal(local("2026-03-03 09:00")) ||
		!byTask["mondays"].scheduled.Equal(local("2026-03-02 07:00")) {
		t.Fatalf("catch-up runs: %+v", got)
	}
	// Then the schedule goes on: no second catch-up, the next runs on time.
	step(t, clk, local("2026-03-04 10:00"))
	eventually(t, "the runs of 4 March", func() bool { return len(rec.list()) >= 5 })
	all := rec.list()
	sort.SliceStable(all[3:], func(i, j int) bool { return all[3+i].scheduled.Before(all[3+j].scheduled) })
	if len(all) != 5 || !all[3].scheduled.Equal(local("2026-03-04 09:00")) || all[3].task != "daily 09:00" ||
		!all[4].scheduled.Equal(local("2026-03-04 09:30")) || all[4].task != "created late" {
		t.Fatalf("after catch-up: %+v", all)
	}
	// A restart right after a run does not run it again.
	e.stop()
	<-e.done
	e.serve()
	clk.nextTimer(t)
	if n := len(rec.list()); n != 5 {
		t.Fatalf("restart ran again: %+v", rec.list())
	}
	// The runs were recorded in the store with their trigger and schedule time.
	runs, err := e.svc.Runs(context.Background(), daily.ID, 0)
	if err != nil || len(runs) != 3 || runs[1].Trigger != TriggerCatchUp || runs[2].Trigger != TriggerSchedule {
		t.Fatalf("history: %+v %v", runs, err)
	}
}

func TestOneRunOfATaskAtATime(t *testing.T) {
	clk := &fakeClock{now: local("2026-03-02 08:59")}
	e := newEnv(t, testConfig(), Deps{Clock: clk})
	e.svc.resync = 10000 * time.Hour
	release := make(chan struct{})
	var mu sync.Mutex
	var started []string
	e.svc.exec = func(ctx context.Context, r Run) {
		mu.Lock()
		started = append(started, r.Trigger)
		mu.Unlock()
		<-release
	}
	v := e.task(Input{Name: strp("every minute-ish"), Schedule: strp(Daily), Time: strp("09:00")})
	e.serve()
	if code := e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", nil); code != 202 {
		t.Fatalf("manual run: %d", code)
	}
	// A second manual run while the first is going is refused.
	var er map[string]string
	if code := e.do("POST", "/api/v1/tasks/"+v.ID+"/run", "", "", &er); code != 409 {
		t.Fatalf("second manual run: %d %v", code, er)
	}
	// The scheduled 09:00 run waits for it, and then runs.
	clk.set(clk.nextTimer(t))
	clk.nextTimer(t)
	mu.Lock()
	n := len(started)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("started %v while the first was running", started)
	}
	release <- struct{}{}
	eventually(t, "the queued scheduled run starts", func() bool { mu.Lock(); defer mu.Unlock(); return len(started) == 2 })
	close(release)
	if started[1] != TriggerSchedule {
		t.Fatalf("%v", started)
	}
}
