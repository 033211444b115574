package tasks

import (
	"encoding/json"
	"net/mail"
	"sort"
	"strings"

	"github.com/switchboard-pbx/switchboard/store"
)

// SupervisorMacro is the CTI profile macro that makes its users supervisors:
// nethcti's "qmanager" (the Queue Manager, the supervisor's view of queues and
// agents).
const SupervisorMacro = "qmanager"

// Supervisors of a call-center task, who "notify all supervisors" mails:
//   - enabled CTI users whose profile has the qmanager macro on, and
//   - enabled admin users marked supervisor (a global one, or a tenant admin of
//     the task's tenant),
//
// each with an e-mail address. The kinds are read as stored, so that this
// package does not depend on the CTI's or the admin API's code.
func supervisors(tx *store.Tx, tenant string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(addr string) {
		addr = strings.TrimSpace(addr)
		if a, err := mail.ParseAddress(addr); err == nil && a.Address == addr && !seen[strings.ToLower(addr)] {
			seen[strings.ToLower(addr)] = true
			out = append(out, addr)
		}
	}
	err := tx.List("user", "", func(id string, data json.RawMessage) error {
		var u struct {
			Email      string `json:"email"`
			Supervisor bool   `json:"supervisor"`
			Disabled   bool   `json:"disabled"`
			Tenant     string `json:"tenant"`
		}
		if json.Unmarshal(data, &u) == nil && u.Supervisor && !u.Disabled && (u.Tenant == "" || u.Tenant == tenant) {
			add(u.Email)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	qm := map[string]bool{}
	err = tx.List("cti_profile", "", func(id string, data json.RawMessage) error {
		var p struct {
			Macros map[string]struct {
				Value bool `json:"value"`
			} `json:"macro_permissions"`
		}
		if json.Unmarshal(data, &p) == nil && p.Macros[SupervisorMacro].Value {
			qm[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.List("cti_user", "", func(id string, data json.RawMessage) error {
		var u struct {
			Email    string `json:"email"`
			Profile  string `json:"profile"`
			Disabled bool   `json:"disabled"`
		}
		if json.Unmarshal(data, &u) == nil && qm[u.Profile] && !u.Disabled {
			add(u.Email)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// recipients of a run of t: its own and, when asked, the supervisors.
func recipients(tx *store.Tx, t *Task) ([]string, error) {
	out := append([]string{}, t.Recipients...)
	if t.Type != TypeCallCenter || !t.NotifySupervisors {
		return out, nil
	}
	sup, err := supervisors(tx, t.Tenant)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range out {
		seen[strings.ToLower(r)] = true
	}
	for _, r := range sup {
		if !seen[strings.ToLower(r)] {
			out = append(out, r)
		}
	}
	return out, nil
}
