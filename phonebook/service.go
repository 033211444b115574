package phonebook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// Config is the "phonebook" section of the configuration file.
type Config struct {
	// CTITenant is the tenant whose phonebook the CTI's users read and write
	// (the CTI serves one PBX): a tenant UUID, or "default" for the
	// single-tenant box's tenant.
	CTITenant string `yaml:"cti_tenant"`
	// MaxContacts bounds the contacts of one tenant, of every type, so that an
	// import or a looping client cannot fill the disk.
	MaxContacts int `yaml:"max_contacts"`
	// Title is the directory's name on the phones that show one (Yealink,
	// Fanvil, Cisco).
	Title string `yaml:"title"`
}

// DefaultConfig is the CTI on the default tenant, 100,000 contacts per tenant.
func DefaultConfig() Config {
	return Config{CTITenant: "default", MaxContacts: 100000, Title: "Phonebook"}
}

// Validate names the first bad key, relative to the section.
func (c Config) Validate() error {
	switch {
	case c.CTITenant == "":
		return errors.New("cti_tenant: must be a tenant UUID or \"default\"")
	case c.MaxContacts < 1 || c.MaxContacts > 1000000:
		return errors.New("max_contacts: must be between 1 and 1000000")
	case c.Title == "" || len(c.Title) > 64 || strings.ContainsAny(c.Title, "<>&\"\x00\n\r"):
		return errors.New("title: must be 1-64 characters without < > & \" or line breaks")
	}
	return nil
}

// Tenants resolves tenant references ("default" or a UUID) to tenant ids; the
// provisioning service is one.
type Tenants interface {
	ResolveTenant(ctx context.Context, ref string) (string, error)
}

// Service is the phonebook: the store's contacts of every tenant, an index of
// them for searches, and the desk phones' directory files rendered from them.
// It is the "phonebook" component of switchboard serve.
type Service struct {
	component.Base
	cfg     Config
	log     *slog.Logger
	st      *store.Store
	tenants Tenants

	// nextID is the last contact id handed out; ids grow as database rows do.
	nextID atomic.Int64

	// refreshMu orders reads of the store into the index: a refresh reads and
	// installs under it, so a slower, older read never overwrites a newer one.
	refreshMu sync.Mutex
	mu        sync.RWMutex
	books     map[string]*book // by tenant
	loaded    bool
	loadErr   error

	files *fileSet
	// ctiTenantID caches the CTI's tenant id (resolved from cfg.CTITenant);
	// a commit that touches tenants clears it.
	ctiTenantID atomic.Pointer[string]

	searches *prometheus.CounterVec
	renders  prometheus.Histogram
}

var _ component.Component = (*Service)(nil)

// New builds the phonebook, reads every tenant's contacts and registers the
// contact kind with the store (so an audit restore runs the same checks as an
// API write). log should carry component=phonebook.
func New(ctx context.Context, cfg Config, log *slog.Logger, st *store.Store, tenants Tenants) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("phonebook: %w", err)
	}
	s := &Service{cfg: cfg, log: log, st: st, tenants: tenants, books: map[string]*book{},
		searches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_phonebook_searches_total",
			Help: "Phonebook searches by front end (cti, admin)."}, []string{"via"}),
		renders: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_phonebook_render_seconds",
			Help:    "Time to render one tenant's desk-phone directory files.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5}}),
	}
	s.files = newFileSet(cfg.Title)
	st.Register(store.Kind{Name: KindContact,
		Check: func(tx *store.Tx, id string, data json.RawMessage) error {
			if data == nil {
				return nil
			}
			var c Contact
			if err := json.Unmarshal(data, &c); err != nil || objectID(c.ID) != id {
				return bad("id", "stored contact does not match its id")
			}
			c.normalize()
			return c.Validate()
		},
		Tenant: func(data json.RawMessage) string {
			var c Contact
			if json.Unmarshal(data, &c) != nil {
				return ""
			}
			return c.Tenant
		}})
	if err := s.reload(ctx); err != nil {
		return nil, fmt.Errorf("phonebook: %w", err)
	}
	return s, nil
}

// Name is the component's name.
func (s *Service) Name() string { return "phonebook" }

// Collectors are the search counter, the rendering time and the contact count.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.searches, s.renders,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_phonebook_contacts",
			Help: "Phonebook contacts, all tenants and types."}, func() float64 { return float64(s.count()) })}
}

// Serve renders the directory files of the tenants whose contacts changed
// until ctx ends. It may run again after it returned.
func (s *Service) Serve(ctx context.Context) error {
	s.files.markAll(s.tenantIDs())
	for {
		s.renderDirty()
		select {
		case <-ctx.Done():
			return nil
		case <-s.files.wake:
		}
	}
}

// Commit brings the index up to date with a durable commit (another node's
// write replicated here, an audit restore, the CLI), then the files.
func (s *Service) Commit(c store.Commit) {
	if c.Touches(provision.KindTenant) {
		s.ctiTenantID.Store(nil)
	}
	if !c.Touches(KindContact) {
		return
	}
	if err := s.refresh(context.Background(), c); err != nil {
		s.log.Error("reading contacts after a commit", "rev", c.Rev, "err", err)
	}
}

// Health reports the contacts held and whether they could be read.
func (s *Service) Health(context.Context) component.Health {
	s.mu.RLock()
	err, n, t := s.loadErr, 0, len(s.books)
	for _, b := range s.books {
		n += len(b.entries)
	}
	s.mu.RUnlock()
	if err != nil {
		return component.Health{Status: component.Degraded, Detail: "contacts could not be read, searches answer from the last good copy: " + err.Error()}
	}
	if f := s.files.failed(); f != "" {
		return component.Health{Status: component.Degraded, Detail: f}
	}
	return component.Health{Status: component.OK, Detail: fmt.Sprintf("%d contacts in %d tenants", n, t)}
}

func (s *Service) count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, b := range s.books {
		n += len(b.entries)
	}
	return n
}

func (s *Service) tenantIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.books))
	for t := range s.books {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// book returns a tenant's index (an empty one when it has no contacts).
func (s *Service) book(tenant string) *book {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if b := s.books[tenant]; b != nil {
		return b
	}
	return emptyBook
}

// reload reads every contact anew.
func (s *Service) reload(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	all := map[string][]*Contact{}
	var maxID int64
	err := s.st.View(ctx, func(tx *store.Tx) error {
		return tx.List(KindContact, "", func(id string, data json.RawMessage) error {
			var c Contact
			if err := json.Unmarshal(data, &c); err != nil {
				return fmt.Errorf("contact %s: %w", id, err)
			}
			all[c.Tenant] = append(all[c.Tenant], &c)
			maxID = max(maxID, c.ID)
			return nil
		})
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr = err
	if err != nil {
		return err
	}
	books := map[string]*book{}
	for t, list := range all {
		books[t] = newBook(list)
	}
	old := s.books
	s.books, s.loaded = books, true
	s.bumpID(maxID)
	for t := range old {
		s.files.mark(t)
	}
	for t := range books {
		s.files.mark(t)
	}
	return nil
}

func (s *Service) bumpID(id int64) {
	for {
		cur := s.nextID.Load()
		if id <= cur || s.nextID.CompareAndSwap(cur, id) {
			return
		}
	}
}

// refresh re-reads the contacts a commit changed (all of them when it says
// All) and installs them in the index.
func (s *Service) refresh(ctx context.Context, c store.Commit) error {
	if c.All {
		return s.reload(ctx)
	}
	var ids []int64
	for _, ch := range c.Changes {
		if ch.Kind != KindContact {
			continue
		}
		id, err := strconv.ParseInt(ch.ID, 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	return s.refreshIDs(ctx, ids)
}

// refreshIDs reads the current state of some contacts from the store into the
// index. Reading the current state (not what a commit said) makes refreshes
// idempotent whatever order they come in.
func (s *Service) refreshIDs(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	found := make(map[int64]*Contact, len(ids))
	err := s.st.View(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			var c Contact
			ok, err := tx.Get(KindContact, objectID(id), &c)
			if err != nil {
				return err
			}
			if ok {
				found[id] = &c
			} else {
				found[id] = nil
			}
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		s.loadErr = err
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadErr = nil
	// Which tenant's book each id is in now, and where it goes.
	changes := map[string]map[int64]*Contact{}
	for id, c := range found {
		for t, b := range s.books {
			if _, ok := b.byID[id]; ok && (c == nil || c.Tenant != t) {
				if changes[t] == nil {
					changes[t] = map[int64]*Contact{}
				}
				changes[t][id] = nil
			}
		}
		if c != nil {
			if changes[c.Tenant] == nil {
				changes[c.Tenant] = map[int64]*Contact{}
			}
			changes[c.Tenant][id] = c
			s.bumpID(id)
		}
	}
	for t, ch := range changes {
		b := s.books[t]
		if b == nil {
			b = emptyBook
		}
		nb := b.with(ch)
		if len(nb.entries) == 0 {
			delete(s.books, t)
		} else {
			s.books[t] = nb
		}
		s.files.mark(t)
	}
	return nil
}

// update runs fn in a store transaction and brings the index up to date with
// the contacts it wrote before returning, so that a client reads its own write.
func (s *Service) update(ctx context.Context, actor store.Actor, fn func(tx *store.Tx, w *writer) error) error {
	w := &writer{s: s}
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		w.ids = w.ids[:0]
		return fn(tx, w)
	})
	if err != nil {
		return err
	}
	return s.refreshIDs(ctx, w.ids)
}

// writer writes contacts inside one transaction and remembers what it touched.
type writer struct {
	s   *Service
	ids []int64
	// counts caches the tenants' contact counts inside the transaction.
	counts map[string]int
}

// newID hands out the next contact id; a restored contact may hold one
// already, which Create reports and the caller skips.
func (w *writer) newID() int64 { return w.s.nextID.Add(1) }

func (w *writer) create(tx *store.Tx, c *Contact, desc string) error {
	if w.counts == nil {
		w.counts = map[string]int{}
	}
	n, ok := w.counts[c.Tenant]
	if !ok {
		var err error
		if n, err = tx.Count(KindContact, c.Tenant); err != nil {
			return err
		}
	}
	if n >= w.s.cfg.MaxContacts {
		return &store.ConflictError{Field: "id", Msg: fmt.Sprintf("the tenant has %d contacts, the most phonebook.max_contacts allows", n)}
	}
	for range 1000 {
		c.ID = w.newID()
		if c.ID > maxID {
			return errors.New("phonebook: contact ids exhausted")
		}
		err := tx.Create(KindContact, c.Tenant, objectID(c.ID), c, desc)
		if errors.Is(err, store.ErrExists) {
			continue // taken by a restored contact: the next one is free
		}
		if err != nil {
			return err
		}
		w.counts[c.Tenant] = n + 1
		w.ids = append(w.ids, c.ID)
		return nil
	}
	return errors.New("phonebook: no free contact id")
}

func (w *writer) replace(tx *store.Tx, c *Contact, desc string) error {
	if err := tx.Replace(KindContact, c.Tenant, objectID(c.ID), c, desc); err != nil {
		return err
	}
	w.ids = append(w.ids, c.ID)
	return nil
}

func (w *writer) delete(tx *store.Tx, c *Contact, desc string) error {
	if err := tx.Delete(KindContact, objectID(c.ID), desc); err != nil {
		return err
	}
	if w.counts != nil {
		if n, ok := w.counts[c.Tenant]; ok {
			w.counts[c.Tenant] = n - 1
		}
	}
	w.ids = append(w.ids, c.ID)
	return nil
}

// getIn loads a contact of tenant; another tenant's contact is not found.
func getIn(tx *store.Tx, tenant string, id int64) (*Contact, error) {
	var c Contact
	ok, err := tx.Get(KindContact, objectID(id), &c)
	if err != nil {
		return nil, err
	}
	if !ok || c.Tenant != tenant {
		return nil, store.ErrNotFound
	}
	return &c, nil
}

// describe is the audit row's description of a contact.
func describe(c *Contact, what string) string {
	who := "the tenant's"
	if c.Owner != "" {
		who = c.Owner + "'s"
	}
	kind := map[string]string{TypePublic: "public contact", TypePrivate: "private contact", TypeSpeedDial: "speed dial"}[c.Type]
	if kind == "" {
		kind = "contact"
	}
	return fmt.Sprintf("%s %s %q %s", who, kind, c.DisplayName(), what)
}

// Contact returns one contact of a tenant.
func (s *Service) Contact(tenant string, id int64) (*Contact, error) {
	if e := s.book(tenant).byID[id]; e != nil {
		c := e.c
		return &c, nil
	}
	return nil, store.ErrNotFound
}

// Create validates and stores a new contact.
func (s *Service) Create(ctx context.Context, actor store.Actor, c Contact) (*Contact, error) {
	c.normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err := s.update(ctx, actor, func(tx *store.Tx, w *writer) error {
		return w.create(tx, &c, describe(&c, "created"))
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Modify applies change to a stored contact of tenant and saves it; change
// sees the stored contact and may refuse it (permissions).
func (s *Service) Modify(ctx context.Context, actor store.Actor, tenant string, id int64, change func(c *Contact) error) (*Contact, error) {
	var out *Contact
	err := s.update(ctx, actor, func(tx *store.Tx, w *writer) error {
		c, err := getIn(tx, tenant, id)
		if err != nil {
			return err
		}
		if err := change(c); err != nil {
			return err
		}
		c.ID, c.Tenant = id, tenant
		c.normalize()
		if err := c.Validate(); err != nil {
			return err
		}
		out = c
		return w.replace(tx, c, describe(c, "updated"))
	})
	return out, err
}

// Delete removes a contact of tenant; check sees it first and may refuse.
func (s *Service) Delete(ctx context.Context, actor store.Actor, tenant string, id int64, check func(c *Contact) error) error {
	return s.update(ctx, actor, func(tx *store.Tx, w *writer) error {
		c, err := getIn(tx, tenant, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(c); err != nil {
				return err
			}
		}
		return w.delete(tx, c, describe(c, "deleted"))
	})
}

// DeleteSpeedDials removes every speed dial of a user and says how many.
func (s *Service) DeleteSpeedDials(ctx context.Context, actor store.Actor, tenant, owner string) (int, error) {
	n := 0
	err := s.update(ctx, actor, func(tx *store.Tx, w *writer) error {
		n = 0
		// Read from the transaction, not the index: the index may not have
		// seen a write replicated a moment ago.
		var dials []*Contact
		err := tx.List(KindContact, tenant, func(id string, data json.RawMessage) error {
			var c Contact
			if err := json.Unmarshal(data, &c); err != nil {
				return fmt.Errorf("contact %s: %w", id, err)
			}
			if c.Owner == owner && c.Type == TypeSpeedDial {
				dials = append(dials, &c)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range dials {
			if err := w.delete(tx, c, describe(c, "deleted (all speed dials)")); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// resolveTenant maps "default" or a UUID to a tenant id.
func (s *Service) resolveTenant(ctx context.Context, ref string) (string, error) {
	return s.tenants.ResolveTenant(ctx, ref)
}

// CTITenant is the tenant of the CTI's users (resolved once, not per request).
func (s *Service) CTITenant(ctx context.Context) (string, error) {
	if t := s.ctiTenantID.Load(); t != nil {
		return *t, nil
	}
	t, err := s.resolveTenant(ctx, s.cfg.CTITenant)
	if err != nil {
		return "", err
	}
	s.ctiTenantID.Store(&t)
	return t, nil
}

func (s *Service) renderDirty() {
	for _, t := range s.files.takeDirty() {
		start := time.Now()
		s.files.render(t, s.book(t))
		s.renders.Observe(time.Since(start).Seconds())
	}
}
