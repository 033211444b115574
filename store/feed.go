package store

import "sync"

// maxPendingChanges bounds what a busy subscriber accumulates: past it the
// pending delivery says All instead of listing every change.
const maxPendingChanges = 4096

// subscriber receives commits on its own goroutine, in revision order; while it
// is busy, later commits are merged into one pending delivery.
type subscriber struct {
	fn   func(Commit)
	wake chan struct{}
	stop chan struct{}
	done chan struct{} // closed when run returns

	mu      sync.Mutex
	pending Commit
	has     bool
}

// Subscribe calls fn with every commit after it is durable, on a goroutine of
// its own: off the commit lock, so a slow fn never delays a writer. Deliveries
// come in revision order; commits made while fn is still busy are coalesced
// into the next delivery (Rev the newest, Changes all of them, or All). The
// returned function stops the deliveries and returns once fn is no longer
// running, so that what fn reads (the store itself) may be closed then; fn
// must not call it.
func (s *Store) Subscribe(fn func(Commit)) (stop func()) {
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
	go sub.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			for i, x := range s.subs {
				if x == sub {
					s.subs = append(s.subs[:i:i], s.subs[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			close(sub.stop)
		})
		<-sub.done
	}
}

// publish hands a commit to every subscriber; the caller holds commitMu, so
// subscribers see commits in revision order.
func (s *Store) publish(rev int64, changes []Change) {
	s.mu.RLock()
	subs := s.subs
	s.mu.RUnlock()
	for _, sub := range subs {
		sub.add(rev, changes)
	}
}

func (sub *subscriber) add(rev int64, changes []Change) {
	sub.mu.Lock()
	sub.pending.Rev = rev
	switch {
	case sub.pending.All:
	case len(sub.pending.Changes)+len(changes) > maxPendingChanges:
		sub.pending.Changes, sub.pending.All = nil, true
	default:
		sub.pending.Changes = append(sub.pending.Changes, changes...)
	}
	sub.has = true
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

func (sub *subscriber) run() {
	defer close(sub.done)
	for {
		select {
		case <-sub.stop:
			return
		case <-sub.wake:
		}
		sub.mu.Lock()
		c, ok := sub.pending, sub.has
		sub.pending, sub.has = Commit{}, false
		sub.mu.Unlock()
		if ok {
			sub.fn(c)
		}
	}
}
