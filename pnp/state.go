package pnp

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
)

// Sighting is one SUBSCRIBE the responder decided on, for the console's PnP
// page: who asked, what they got.
type Sighting struct {
	Time      time.Time `json:"time"`
	MAC       string    `json:"mac"`
	Source    string    `json:"src"`
	Interface string    `json:"interface"`
	Vendor    string    `json:"vendor"`
	Model     string    `json:"model"`
	// Answered is false when policy ignored the phone (unknown MAC, no tenant).
	Answered bool   `json:"answered"`
	Known    bool   `json:"known"`
	Tenant   string `json:"tenant,omitempty"`
	URL      string `json:"url,omitempty"`
}

// recentSize is how many sightings State keeps (the newest).
const recentSize = 100

// recent is a ring of the newest sightings; its lock is held for a copy only.
type recent struct {
	mu   sync.Mutex
	ring [recentSize]Sighting
	next int
	n    int
}

func (r *recent) add(s Sighting) {
	r.mu.Lock()
	r.ring[r.next] = s
	r.next = (r.next + 1) % recentSize
	if r.n < recentSize {
		r.n++
	}
	r.mu.Unlock()
}

// newestFirst copies the sightings, newest first.
func (r *recent) newestFirst() []Sighting {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Sighting, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.ring[(r.next-i+recentSize)%recentSize])
	}
	return out
}

// State is what the responder does, read-only: its policy, the interfaces it
// listens on, its counters and the newest phones it decided on.
type State struct {
	Interfaces   []string          `json:"interfaces"`
	Port         int               `json:"port"`
	NotifyPort   int               `json:"notify_port"`
	Unknown      string            `json:"unknown"`
	BootstrapURL string            `json:"bootstrap_url"`
	Tenants      []TenantMapView   `json:"tenants"`
	Counters     map[string]uint64 `json:"counters"`
	Recent       []Sighting        `json:"recent"`
}

// TenantMapView is a pnp.tenants entry as the API shows it.
type TenantMapView struct {
	Interface string `json:"interface,omitempty"`
	MACPrefix string `json:"mac_prefix,omitempty"`
	Tenant    string `json:"tenant"`
}

// State returns the responder's state (see State).
func (s *Server) State() any {
	st := State{Port: s.cfg.Port, Unknown: s.cfg.Unknown, BootstrapURL: s.cfg.BootstrapURL,
		Interfaces: []string{}, Tenants: []TenantMapView{}, Recent: s.recent.newestFirst()}
	s.mu.Lock()
	for _, ifc := range s.ifaces {
		st.Interfaces = append(st.Interfaces, ifc.name)
	}
	if s.uc != nil {
		if a, ok := s.uc.LocalAddr().(*net.UDPAddr); ok {
			st.NotifyPort = a.Port
		}
	}
	s.mu.Unlock()
	for _, m := range s.cfg.Tenants {
		st.Tenants = append(st.Tenants, TenantMapView{Interface: m.Interface, MACPrefix: m.MACPrefix, Tenant: m.Tenant})
	}
	c := &s.stats
	st.Counters = map[string]uint64{
		"received": c.Received.Load(), "malformed": c.Malformed.Load(), "throttled": c.Throttled.Load(),
		"retransmitted": c.Retransmitted.Load(), "ignored": c.Ignored.Load(), "answered": c.Answered.Load(),
		"dropped": c.Dropped.Load(), "notify_retransmits": c.NotifyRetransmits.Load(),
		"notify_answered": c.NotifyAnswered.Load(), "notify_timed_out": c.NotifyTimedOut.Load(),
	}
	return st
}

// Routes adds GET /api/v1/pnp, the responder's policy, interfaces, counters and
// newest sightings (read-only). They name phones of every tenant, so tenant
// admins are refused.
func (s *Server) Routes(rt component.Router) {
	rt.Admin("GET /api/v1/pnp", func(w http.ResponseWriter, r *http.Request, p httpapi.Principal) error {
		if _, err := httpapi.Query(r); err != nil {
			return err
		}
		if p.Role == httpapi.RoleTenantAdmin {
			return httpapi.ErrAdminOnly
		}
		httpapi.WriteJSON(w, http.StatusOK, s.State())
		return nil
	})
}
