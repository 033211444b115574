// Package roletest is an HA role source a test switches by hand, for the
// components and services that follow the role (component.RoleSource).
package roletest

import "sync"

// Role is passive until Set(true); the zero value is ready to use.
type Role struct {
	mu    sync.Mutex
	on    bool
	watch []func(bool)
}

// IsActive reports the role as last set.
func (r *Role) IsActive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.on
}

// OnActive registers f, called with the new state on every Set.
func (r *Role) OnActive(f func(bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watch = append(r.watch, f)
}

// Set changes the role and tells every watcher, outside the lock (a watcher
// may ask IsActive).
func (r *Role) Set(on bool) {
	r.mu.Lock()
	r.on = on
	ws := r.watch
	r.mu.Unlock()
	for _, f := range ws {
		f(on)
	}
}
