package tasks

import (
	"time"
)

// Schedule is when a task runs, in wall-clock time of a zone.
//
// The rules, for every zone and every DST change:
//   - A time that does not exist that day (skipped by the spring change,
//     02:30 in Europe/Rome on the last Sunday of March) runs at the moment the
//     clock jumps (03:00 local): the first instant that is past it.
//   - A time that occurs twice (the autumn change repeats 02:00-02:59) runs
//     once, at its first occurrence.
//   - Monthly on day 29, 30 or 31 runs on the last day of a month that is
//     shorter (31 -> 30 April, 28 or 29 February): every month has exactly one
//     run, and "the 31st" means "the end of the month".
type Schedule struct {
	// Every is daily, weekly or monthly.
	Every string
	// Hour (0-23) and Minute (0-59) of the run.
	Hour, Minute int
	// Weekday of a weekly run.
	Weekday time.Weekday
	// Day of month (1-31) of a monthly run.
	Day int
}

// Schedules.
const (
	Daily   = "daily"
	Weekly  = "weekly"
	Monthly = "monthly"
)

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
}

// runsOn reports whether the schedule has a run on the date y-m-d.
func (s Schedule) runsOn(y int, m time.Month, d int) bool {
	switch s.Every {
	case Daily:
		return true
	case Weekly:
		return time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday() == s.Weekday
	case Monthly:
		return d == min(s.Day, daysIn(y, m))
	}
	return false
}

// wall is the instant of hour:minute on y-m-d in loc, by the rules above.
func wall(y int, m time.Month, d, hour, minute int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, hour, minute, 0, 0, loc)
	if lt := t.In(loc); lt.Hour() != hour || lt.Minute() != minute || lt.Day() != d {
		// In a gap: Go moved the time past it; run when the gap ends, the
		// start of the zone period t fell into.
		start, _ := t.ZoneBounds()
		return start
	}
	// Twice this day: take the earlier one. The offset differences of real
	// zones are 30 minutes to 2 hours.
	earliest := t
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 90 * time.Minute, 2 * time.Hour} {
		e := t.Add(-back)
		if le := e.In(loc); le.Hour() == hour && le.Minute() == minute && le.Day() == d {
			earliest = e
		}
	}
	return earliest
}

// occurrence is the run on y-m-d, if the schedule has one that day.
func (s Schedule) occurrence(y int, m time.Month, d int, loc *time.Location) (time.Time, bool) {
	if !s.runsOn(y, m, d) {
		return time.Time{}, false
	}
	return wall(y, m, d, s.Hour, s.Minute, loc), true
}

// Next is the first run strictly after t.
func (s Schedule) Next(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	// From the day before (a gap run can fall on the next calendar instant)
	// to a bit more than a month ahead.
	for i := -1; i <= 62; i++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+i, 12, 0, 0, 0, time.UTC)
		if o, ok := s.occurrence(day.Year(), day.Month(), day.Day(), loc); ok && o.After(t) {
			return o
		}
	}
	return time.Time{}
}

// Prev is the last run at or before t (zero if none in the past two months).
func (s Schedule) Prev(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	for i := 1; i >= -62; i-- {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+i, 12, 0, 0, 0, time.UTC)
		if o, ok := s.occurrence(day.Year(), day.Month(), day.Day(), loc); ok && !o.After(t) {
			return o
		}
	}
	return time.Time{}
}

// Intervals a task exports, relative to its run.
const (
	CurrentDay    = "current_day"
	PreviousDay   = "previous_day"
	CurrentWeek   = "current_week"
	PreviousWeek  = "previous_week"
	CurrentMonth  = "current_month"
	PreviousMonth = "previous_month"
)

// Intervals lists them in the console's order.
var Intervals = []string{CurrentDay, PreviousDay, CurrentWeek, PreviousWeek, CurrentMonth, PreviousMonth}

// Period is the interval [from, to) in loc that a run at t exports: calendar
// days, weeks from Monday, months, in local time (a day across a DST change
// is 23 or 25 hours long). "Current" periods end at t: a report of the day so far.
func Period(interval string, t time.Time, loc *time.Location) (from, to time.Time) {
	lt := t.In(loc)
	midnight := func(y int, m time.Month, d int) time.Time {
		n := time.Date(y, m, d, 12, 0, 0, 0, time.UTC) // normalizes day 0, -3, ...
		return wall(n.Year(), n.Month(), n.Day(), 0, 0, loc)
	}
	y, m, d := lt.Date()
	monday := d - (int(lt.Weekday())+6)%7
	switch interval {
	case CurrentDay:
		return midnight(y, m, d), t
	case PreviousDay:
		return midnight(y, m, d-1), midnight(y, m, d)
	case CurrentWeek:
		return midnight(y, m, monday), t
	case PreviousWeek:
		return midnight(y, m, monday-7), midnight(y, m, monday)
	case CurrentMonth:
		return midnight(y, m, 1), t
	case PreviousMonth:
		return midnight(y, m-1, 1), midnight(y, m, 1)
	}
	return t, t
}
