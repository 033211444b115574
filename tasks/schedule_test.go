package tasks

import (
	"testing"
	"time"
)

var rome = mustZone("Europe/Rome")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// local parses a wall time in Rome; "+01"/"+02" suffixes pin the offset for
// the hour that occurs twice.
func local(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04 -07", s)
	if err == nil {
		return t
	}
	t, err = time.ParseInLocation("2006-01-02 15:04", s, rome)
	if err != nil {
		panic(err)
	}
	return t
}

// runs lists the first n runs after start.
func runs(s Schedule, start time.Time, n int) []time.Time {
	var out []time.Time
	t := start
	for len(out) < n {
		t = s.Next(t, rome)
		out = append(out, t)
	}
	return out
}

func same(t *testing.T, what string, got []time.Time, want ...time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%s: run %d at %s, want %s (all: %v)", what, i, got[i].In(rome), want[i].In(rome), got)
		}
	}
}

// 2026 in Europe/Rome: summer time from Sunday 29 March 02:00 (to 03:00), back
// on Sunday 25 October 03:00 (to 02:00).
func TestDailyAcrossDST(t *testing.T) {
	nine := Schedule{Every: Daily, Hour: 9, Minute: 0}
	same(t, "09:00 across spring", runs(nine, local("2026-03-28 10:00"), 3),
		local("2026-03-29 09:00"), local("2026-03-30 09:00"), local("2026-03-31 09:00"))
	// 23 hours apart across the change, 24 after: the wall clock is kept.
	if d := local("2026-03-29 09:00").Sub(local("2026-03-28 09:00")); d != 23*time.Hour {
		t.Fatalf("spring day is %s", d)
	}
	// 02:30 does not exist on 29 March: it runs when the clock jumps to 03:00.
	half := Schedule{Every: Daily, Hour: 2, Minute: 30}
	same(t, "02:30 across spring", runs(half, local("2026-03-28 03:00"), 2),
		local("2026-03-29 03:00"), local("2026-03-30 02:30"))
	// 02:30 exists twice on 25 October: once, at the first (summer time).
	same(t, "02:30 across autumn", runs(half, local("2026-10-24 03:00"), 3),
		local("2026-10-25 02:30 +02"), local("2026-10-26 02:30"), local("2026-10-27 02:30"))
	// Asking again from between the two 02:30s gives the next day: no double run.
	same(t, "between the two 02:30s", runs(half, local("2026-10-25 02:45 +02"), 1), local("2026-10-26 02:30"))
	same(t, "during the second 02:30", runs(half, local("2026-10-25 02:30 +01"), 1), local("2026-10-26 02:30"))
}

func TestWeeklyAcrossDST(t *testing.T) {
	sun := Schedule{Every: Weekly, Weekday: time.Sunday, Hour: 2, Minute: 15}
	same(t, "Sundays 02:15", runs(sun, local("2026-03-20 00:00"), 3),
		local("2026-03-22 02:15"), local("2026-03-29 03:00"), local("2026-04-05 02:15"))
	same(t, "Sundays 02:15 in autumn", runs(sun, local("2026-10-20 00:00"), 2),
		local("2026-10-25 02:15 +02"), local("2026-11-01 02:15"))
	mon := Schedule{Every: Weekly, Weekday: time.Monday, Hour: 8, Minute: 30}
	same(t, "Mondays 08:30", runs(mon, local("2026-03-23 08:30"), 2), local("2026-03-30 08:30"), local("2026-04-06 08:30"))
}

func TestMonthlyShortMonths(t *testing.T) {
	last := Schedule{Every: Monthly, Day: 31, Hour: 23, Minute: 50}
	// The 31st in a 30-day month runs on the 30th; February on the 28th (29th
	// in a leap year); one run a month.
	same(t, "day 31", runs(last, local("2026-01-01 00:00"), 6),
		local("2026-01-31 23:50"), local("2026-02-28 23:50"), local("2026-03-31 23:50"),
		local("2026-04-30 23:50"), local("2026-05-31 23:50"), local("2026-06-30 23:50"))
	same(t, "day 29 in a leap year", runs(Schedule{Every: Monthly, Day: 29, Hour: 6}, local("2028-01-30 00:00"), 3),
		local("2028-02-29 06:00"), local("2028-03-29 06:00"), local("2028-04-29 06:00"))
	same(t, "day 30 in February", runs(Schedule{Every: Monthly, Day: 30, Hour: 6}, local("2027-01-30 07:00"), 2),
		local("2027-02-28 06:00"), local("2027-03-30 06:00"))
	// A monthly run on the day of the spring change, inside the gap.
	same(t, "29 March 02:00", runs(Schedule{Every: Monthly, Day: 29, Hour: 2}, local("2026-03-01 00:00"), 2),
		local("2026-03-29 03:00"), local("2026-04-29 02:00"))
}

func TestPrev(t *testing.T) {
	nine := Schedule{Every: Daily, Hour: 9}
	if p := nine.Prev(local("2026-03-29 09:00"), rome); !p.Equal(local("2026-03-29 09:00")) {
		t.Fatalf("at the run: %s", p)
	}
	if p := nine.Prev(local("2026-03-29 08:59"), rome); !p.Equal(local("2026-03-28 09:00")) {
		t.Fatalf("before it: %s", p)
	}
	last := Schedule{Every: Monthly, Day: 31, Hour: 1}
	if p := last.Prev(local("2026-05-15 00:00"), rome); !p.Equal(local("2026-04-30 01:00")) {
		t.Fatalf("monthly: %s", p)
	}
}

func TestPeriod(t *testing.T) {
	run := local("2026-03-30 06:00") // a Monday, the day after the spring change
	for _, c := range []struct {
		interval string
		from, to time.Time
	}{
		{CurrentDay, local("2026-03-30 00:00"), run},
		{PreviousDay, local("2026-03-29 00:00"), local("2026-03-30 00:00")}, // 23 hours
		{CurrentWeek, local("2026-03-30 00:00"), run},
		{PreviousWeek, local("2026-03-23 00:00"), local("2026-03-30 00:00")},
		{CurrentMonth, local("2026-03-01 00:00"), run},
		{PreviousMonth, local("2026-02-01 00:00"), local("2026-03-01 00:00")},
	} {
		from, to := Period(c.interval, run, rome)
		if !from.Equal(c.from) || !to.Equal(c.to) {
			t.Errorf("%s: [%s, %s), want [%s, %s)", c.interval, from.In(rome), to.In(rome), c.from.In(rome), c.to.In(rome))
		}
	}
	if from, _ := Period(PreviousMonth, local("2026-01-01 00:10"), rome); !from.Equal(local("2025-12-01 00:00")) {
		t.Fatalf("previous month in January: %s", from)
	}
	if from, to := Period(PreviousWeek, local("2026-03-01 12:00"), rome); !from.Equal(local("2026-02-16 00:00")) || !to.Equal(local("2026-02-23 00:00")) {
		t.Fatalf("previous week from a Sunday: %s %s", from, to)
	}
}
