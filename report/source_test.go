package report

import (
	"context"
	"sort"
	"time"
)

// sliceSource is a CDRSource over legs in memory, ordered as the interface says.
type sliceSource []CDR

func (s sliceSource) Legs(ctx context.Context, from, to time.Time, fn func(*CDR) error) error {
	legs := append([]CDR(nil), s...)
	first := map[string]time.Time{}
	for _, l := range legs {
		if t, ok := first[l.LinkedID]; !ok || l.Start.Before(t) {
			first[l.LinkedID] = l.Start
		}
	}
	sort.SliceStable(legs, func(i, j int) bool {
		a, b := legs[i], legs[j]
		if !first[a.LinkedID].Equal(first[b.LinkedID]) {
			return first[a.LinkedID].Before(first[b.LinkedID])
		}
		if a.LinkedID != b.LinkedID {
			return a.LinkedID < b.LinkedID
		}
		return a.Sequence < b.Sequence
	})
	for i := range legs {
		if st := first[legs[i].LinkedID]; st.Before(from) || !st.Before(to) {
			continue
		}
		if err := fn(&legs[i]); err != nil {
			return err
		}
	}
	return nil
}

type queueSlice struct {
	calls  []QueueCall
	events []AgentEvent
}

func (q queueSlice) QueueCalls(ctx context.Context, from, to time.Time, fn func(*QueueCall) error) error {
	for i := range q.calls {
		if c := &q.calls[i]; !c.Entered.Before(from) && c.Entered.Before(to) {
			if err := fn(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (q queueSlice) AgentEvents(ctx context.Context, from, to time.Time, fn func(*AgentEvent) error) error {
	for i := range q.events {
		if e := &q.events[i]; !e.Time.Before(from) && e.Time.Before(to) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}
