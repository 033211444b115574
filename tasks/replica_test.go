package tasks

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Tasks and their runs are store objects: an HA snapshot carries them to the
// passive node, and when that node takes over it neither repeats the run the
// old active made nor misses the one due while neither ran tasks.
func TestFailoverNeitherRepeatsNorMisses(t *testing.T) {
	active, clk, rec, names := schedEnv(t, local("2026-03-02 08:00"))
	v := active.task(Input{Name: strp("daily 09:00"), Schedule: strp(Daily), Time: strp("09:00")})
	names[v.ID] = v.Name
	active.serve()
	step(t, clk, local("2026-03-02 10:00"))
	checkRuns(t, rec, []fired{{task: "daily 09:00", trigger: TriggerSchedule, scheduled: local("2026-03-02 09:00")}})
	eventually(t, "the run recorded", func() bool {
		runs, _ := active.svc.Runs(context.Background(), v.ID, 0)
		return len(runs) == 1
	})

	// The passive node's store gets the active's snapshot.
	ctx := context.Background()
	snap, err := active.st.ExportSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(ctx, store.DefaultConfig(filepath.Join(t.TempDir(), "b")))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	clk2 := &fakeClock{now: local("2026-03-02 10:30")}
	cfg := testConfig()
	cfg.KeyFile, cfg.WorkDir = filepath.Join(t.TempDir(), "k"), t.TempDir()
	passive, err := New(cfg, Deps{Store: st2, Clock: clk2})
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.ImportSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{}
	e2 := &env{t: t, st: st2, svc: passive}
	passive.exec = rec2.exec(e2, names)
	passive.resync = 10000 * time.Hour
	// Taking over at 10:30: the 09:00 run is in the history, so nothing runs
	// now; the next day's runs on time.
	e2.serve()
	step(t, clk2, local("2026-03-03 09:30"))
	checkRuns(t, rec2, []fired{{task: "daily 09:00", trigger: TriggerSchedule, scheduled: local("2026-03-03 09:00")}})
	// The task and its history are the active's.
	runs, err := passive.Runs(ctx, v.ID, 0)
	if err != nil || len(runs) != 2 || runs[1].Trigger != TriggerSchedule || !runs[1].Scheduled.Equal(local("2026-03-02 09:00")) {
		t.Fatalf("history on the new active: %+v %v", runs, err)
	}
}
