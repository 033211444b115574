package provision

// The bootstrap file: how a phone that knows nothing but the tenant's URL
// learns its secret directory (PBXSettings.SecureURLs).
//
// A phone sent to the tenant's plain URL by a foreign DHCP server (option 66)
// or by a redirection service that names only a server asks for its device
// file by name, which a secure tenant withholds: it could only ever get the
// common files. Instead, such a request gets the device's bootstrap file: the
// device file rendered from its own template with every secret blanked (SIP,
// phone admin and provisioning passwords, so the file is harmless in anyone's
// hands) and a short resync period, whose provisioning URL is
//   - the device's secret directory while its enrollment is open: a window the
//     installer opened (device created, new secret URL, device enroll) that
//     has not expired, and the device has not fetched from its secret
//     directory yet (it is not claimed);
//   - the tenant's plain URL otherwise, so the phone keeps asking by name
//     every minute and picks the secret directory up as soon as the installer
//     opens a window.
// The first fetch of the device's file from its secret directory claims the
// device and closes the window: from then on a request that knows the MAC
// gets no secret URL, until the installer opens a window again. Hand-outs and
// claims are recorded (a hand-out as an audit row, a claim on the device); a
// claim from another address than the one the bootstrap file went to is
// flagged. Requests read the enrollment from memory (enrollState), so neither
// re-renders the tenant.
//
// A device's bootstrap file is made at the first request that needs it and
// cached (bootcache.go): a pass does not render one per device. Answering a
// request for a cached one stays a map lookup and a clock reading.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-pbx/switchboard/store"
)

// Enrollment windows, in seconds.
const (
	DefaultEnrollWindow = 24 * 3600
	MaxEnrollWindow     = 30 * 24 * 3600
)

// bootstrapResync is the resync period of a bootstrap file, in seconds: the
// phone asks again every minute (Tancredi's adaptive polling) until it has
// its secret directory.
const bootstrapResync = 60

// Enrollment is a device's enrollment state. Times are UTC; zero is never.
type Enrollment struct {
	// Until is when the enrollment window closes (zero: no window).
	Until time.Time `json:"until,omitzero"`
	// HandedAt and HandedTo are when and to which address the bootstrap file
	// last carried the secret directory.
	HandedAt time.Time `json:"handed_at,omitzero"`
	HandedTo string    `json:"handed_to,omitempty"`
	// ClaimedAt and ClaimedFrom are when and from which address the device's
	// file was first fetched from its secret directory (zero: unclaimed).
	ClaimedAt   time.Time `json:"claimed_at,omitzero"`
	ClaimedFrom string    `json:"claimed_from,omitempty"`
	// Mismatch says the claim came from another address than the one the
	// bootstrap file had gone to: someone else may hold the secret URL.
	Mismatch bool `json:"mismatch,omitempty"`
}

// Enrollment states, as State names them.
const (
	EnrollOpen    = "open"    // awaiting enrollment: the bootstrap file carries the secret URL
	EnrollClaimed = "claimed" // the phone fetched from its secret directory
	EnrollClosed  = "closed"  // neither: the bootstrap file is the plain one
)

// State is the enrollment state at now.
func (e Enrollment) State(now time.Time) string {
	switch {
	case !e.ClaimedAt.IsZero():
		return EnrollClaimed
	case now.Before(e.Until):
		return EnrollOpen
	}
	return EnrollClosed
}

// open reports whether the bootstrap file hands the secret directory out at now.
func (e Enrollment) open(now time.Time) bool { return e.State(now) == EnrollOpen }

// bootEntry is a device's bootstrap in a rendered tree.
type bootEntry struct {
	device string
	mac    string
	closed *File // secret-free, the tenant's plain URL
	// The variant naming the secret directory is the closed one with the
	// tenant's URL replaced by the directory (which serves everything the
	// tenant's tree does), made at the first request that needs it: a
	// tenant's devices may all be open at once (created by an import), and
	// few of their phones ask by name.
	openable       bool // the file names the tenant's URL, so it can name the directory
	tenantURL, dir string
	open           atomic.Pointer[File]
}

// liveEnrollment is a device's enrollment as last known, newest revision
// first: the rendered tree's copy (the revision it was rendered at) and the
// recorder's (the revision of its own write) race, the newer wins. Requests
// read it, so that a claim or a hand-out takes effect without re-rendering
// the tenant.
type liveEnrollment struct {
	rev int64
	en  Enrollment
}

// enrollState is every device's liveEnrollment, and the hand-outs of the
// secret URL by the bootstrap file since the window opened (kept in memory
// and in the audit log: recording one is no configuration change).
type enrollState struct {
	mu     sync.RWMutex
	live   map[string]liveEnrollment // device id ->
	handed map[string]handOut        // device id ->
}

type handOut struct {
	to string
	at time.Time
}

func newEnrollState() *enrollState {
	return &enrollState{live: map[string]liveEnrollment{}, handed: map[string]handOut{}}
}

// set records device's enrollment at rev unless a newer one is known. A
// change of window or claim forgets the hand-outs.
func (es *enrollState) set(device string, rev int64, en Enrollment) {
	es.mu.Lock()
	defer es.mu.Unlock()
	old, ok := es.live[device]
	if ok && old.rev > rev {
		return
	}
	if ok && (!old.en.Until.Equal(en.Until) || !old.en.ClaimedAt.Equal(en.ClaimedAt)) {
		delete(es.handed, device)
	}
	es.live[device] = liveEnrollment{rev, en}
}

// get is device's enrollment with the hand-out since its window opened.
func (es *enrollState) get(device string) (Enrollment, bool) {
	es.mu.RLock()
	defer es.mu.RUnlock()
	l, ok := es.live[device]
	if h, found := es.handed[device]; found && l.en.ClaimedAt.IsZero() {
		l.en.HandedTo, l.en.HandedAt = h.to, h.at
	}
	return l.en, ok
}

// handOut records that the secret URL went to src; false if src has it already.
func (es *enrollState) handOut(device, src string, at time.Time) bool {
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.handed[device].to == src {
		return false
	}
	es.handed[device] = handOut{src, at}
	return true
}

// bootstrapBlanks are the placeholders blanked in a bootstrap file (besides
// LINE_SIP_PASSWORD in the lines): every secret a template can name.
var bootstrapBlanks = secretVars

// renderBootstrap renders device d's bootstrap file from the vars and scope
// of its file (changed in place: call it after the file is rendered). It
// returns nil with the reason when the file would carry a secret anyway
// (a custom template or placeholder writing one literally): the device then
// has no bootstrap and a request by name gets 404, as before.
func renderBootstrap(c *Compiled, t Template, sc *Scope, d Device, secrets []string, tenantURL string) (*bootEntry, string) {
	vars := sc.Vars
	for _, k := range bootstrapBlanks {
		vars[k] = ""
	}
	for _, l := range sc.Lines {
		l["LINE_SIP_PASSWORD"] = ""
	}
	vars["KPBX_RESYNC_SECONDS"] = fmt.Sprint(bootstrapResync)
	vars["KPBX_RESYNC_MINUTES"] = fmt.Sprint((bootstrapResync + 59) / 60)
	vars["KPBX_RESYNC_HOURS"] = "1"
	vars["KPBX_PROVISIONING_URL"], vars["KPBX_PHONEBOOK_URL"] = tenantURL, tenantURL+"phonebook/"
	if rest, ok := strings.CutPrefix(vars["KPBX_FIRMWARE_URL"], DeviceDir(tenantURL, d.URLToken)); ok {
		vars["KPBX_FIRMWARE_URL"] = tenantURL + rest
	}
	body, err := c.RenderScope(nil, sc, t.Escape)
	if err != nil {
		return nil, err.Error()
	}
	if leaks(body, append(secrets, d.URLToken)) {
		return nil, "the bootstrap file would carry a secret (a template or custom placeholder writes one literally): requests by name get 404"
	}
	e := &bootEntry{device: d.ID, mac: d.MAC,
		closed:   &File{Tenant: d.Tenant, Device: d.ID, MAC: d.MAC, ContentType: t.ContentType, Body: body},
		openable: bytes.Contains(body, []byte(tenantURL)), tenantURL: tenantURL, dir: DeviceDir(tenantURL, d.URLToken)}
	return e, ""
}

// leaks reports whether body holds one of the secrets, as written raw or
// XML-escaped.
func leaks(body []byte, secrets []string) bool {
	for _, v := range secrets {
		if v == "" {
			continue
		}
		if bytes.Contains(body, []byte(v)) || bytes.Contains(body, appendValue(nil, v, EscapeXML)) {
			return true
		}
	}
	return false
}

// deviceSecrets are the secret values a device's file is made with.
func deviceSecrets(d Device, p PBXSettings, accounts map[string]Account) []string {
	out := []string{p.HTTPPassword, p.PhoneAdminPassword, d.PhonePassword}
	for _, l := range d.Lines {
		out = append(out, accounts[l.Account].SIPPassword)
	}
	return out
}

// pick is the bootstrap file a request by name gets at now with the device's
// enrollment en, and whether it hands the secret directory out.
func (e *bootEntry) pick(en Enrollment, now time.Time) (f *File, handsOut bool) {
	if !e.openable || !en.open(now) {
		return e.closed, false
	}
	if f := e.open.Load(); f != nil {
		return f, true
	}
	c := e.closed
	f = &File{Name: c.Name, Tenant: c.Tenant, Device: c.Device, MAC: c.MAC, ContentType: c.ContentType, ModTime: c.ModTime,
		Body: bytes.ReplaceAll(c.Body, []byte(e.tenantURL), []byte(e.dir))}
	sum := sha256.Sum256(f.Body)
	f.ETag, f.Size = `"`+hex.EncodeToString(sum[:12])+`"`, len(f.Body)
	if !e.open.CompareAndSwap(nil, f) {
		f = e.open.Load()
	}
	return f, true
}

// enrollEvent is a hand-out or a claim to record.
type enrollEvent struct {
	tenant, device, mac, src string
	claim                    bool
	at                       time.Time
}

// Served tells the service that a front end (HTTP, HTTPS, TFTP) answered
// target t to src. It records, off the request path, a bootstrap file's
// hand-out of the secret directory and a device's first fetch from it (its
// claim); anything else is ignored. It never blocks.
func (s *Service) Served(t Target, src string) {
	if t.event == 0 {
		return
	}
	select {
	case s.enrollEvents <- enrollEvent{tenant: t.Tenant, device: t.device, mac: t.File.MAC, src: src, claim: t.event == eventClaim, at: time.Now().UTC().Truncate(time.Second)}:
	default:
		s.log.Warn("enrollment event dropped: queue full", "tenant", t.Tenant, "src", src)
	}
}

// Target events Served records.
const (
	eventHandOut = 1
	eventClaim   = 2
)

// recordEnrollment writes the queued hand-outs and claims until ctx ends.
func (s *Service) recordEnrollment(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.enrollEvents:
			if err := s.enrollEvent(ctx, ev); err != nil && ctx.Err() == nil {
				s.log.Warn("recording an enrollment event", "tenant", ev.tenant, "src", ev.src, "err", err)
			}
		}
	}
}

func (s *Service) enrollEvent(ctx context.Context, ev enrollEvent) error {
	actor := store.Actor{User: "phone", IP: ev.src}
	if !ev.claim {
		// A hand-out is recorded in memory and in the audit log: no
		// configuration changes, no tenant is rendered again.
		en, ok := s.enroll.get(ev.device)
		if !ok || !en.open(ev.at) || !s.enroll.handOut(ev.device, ev.src, ev.at) {
			return nil
		}
		s.log.Info("bootstrap file handed out the secret URL", "tenant", ev.tenant, "mac", ev.mac, "src", ev.src, "url", "<tenant>/********/")
		return s.st.Reveal(ctx, actor, KindDevice, ev.tenant, ev.device,
			fmt.Sprintf("device %s: the bootstrap file handed its secret URL to %s", ev.mac, ev.src))
	}
	var d Device
	claimed := false
	rev, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		if err := getIn(tx, KindDevice, ev.tenant, ev.device, &d); err != nil {
			return ignoreNotFound(err)
		}
		e := &d.Enrollment
		if !e.ClaimedAt.IsZero() {
			return nil // claimed already (a late event)
		}
		claimed = true
		live, _ := s.enroll.get(ev.device)
		e.HandedTo, e.HandedAt = live.HandedTo, live.HandedAt
		e.ClaimedAt, e.ClaimedFrom, e.Until = ev.at, ev.src, time.Time{}
		e.Mismatch = e.HandedTo != "" && e.HandedTo != ev.src
		desc := fmt.Sprintf("device %s claimed its secret URL from %s", d.MAC, ev.src)
		if e.Mismatch {
			desc += fmt.Sprintf(" (the bootstrap file had gone to %s)", e.HandedTo)
			s.log.Warn("device claimed from another address than the bootstrap file went to", "tenant", ev.tenant, "mac", d.MAC, "src", ev.src, "handed_to", e.HandedTo)
		} else {
			s.log.Info("device claimed its secret URL", "tenant", ev.tenant, "mac", d.MAC, "src", ev.src)
		}
		return tx.Replace(KindDevice, ev.tenant, d.ID, d, desc)
	})
	if err == nil && claimed {
		s.enroll.set(d.ID, rev, d.Enrollment)
	}
	return err
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Enroll opens device id's enrollment window for window (0: the tenant's
// enroll_window; negative: close it), and forgets its claim: until the window
// closes or the phone fetches from its secret directory, the bootstrap file
// served by name carries that directory.
func (s *Service) Enroll(ctx context.Context, actor store.Actor, tenant, id string, window time.Duration) (Device, error) {
	var d Device
	rev, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		if err := getIn(tx, KindDevice, tenant, id, &d); err != nil {
			return err
		}
		pbx, err := getPBX(tx, tenant)
		if err != nil {
			return err
		}
		if window > time.Duration(MaxEnrollWindow)*time.Second {
			return verr("window", "window must be at most %s", time.Duration(MaxEnrollWindow)*time.Second)
		}
		if window < 0 {
			d.Enrollment.Until = time.Time{}
			return tx.Replace(KindDevice, tenant, d.ID, d, fmt.Sprintf("device %s: enrollment window closed", d.MAC))
		}
		if window == 0 {
			window = time.Duration(pbx.EnrollWindow) * time.Second
			if window == 0 {
				return verr("window", "the tenant's enroll_window is 0: give a window")
			}
		}
		if !pbx.SecureURLs {
			return verr("window", "the tenant serves device files by name (secure_urls is off): there is nothing to enroll")
		}
		until := time.Now().UTC().Add(window).Truncate(time.Second)
		d.Enrollment = Enrollment{Until: until}
		return tx.Replace(KindDevice, tenant, d.ID, d, fmt.Sprintf("device %s: enrollment window opened until %s", d.MAC, until.Format(time.RFC3339)))
	})
	if err == nil {
		s.enroll.set(d.ID, rev, d.Enrollment)
	}
	return d, err
}

// openEnrollment opens a new (or re-keyed) device's window for the tenant's
// enroll_window.
func openEnrollment(d *Device, p PBXSettings) {
	d.Enrollment = Enrollment{}
	if p.SecureURLs && p.EnrollWindow > 0 {
		d.Enrollment.Until = time.Now().UTC().Add(time.Duration(p.EnrollWindow) * time.Second).Truncate(time.Second)
	}
}

// EnrollInput is the body of POST .../devices/{id}/enroll.
type EnrollInput struct {
	// Window is how long the enrollment window stays open, in seconds:
	// absent for the tenant's enroll_window, 0 to close it.
	Window *int `json:"window"`
}

// Duration is the window as Enroll takes it.
func (in EnrollInput) Duration() time.Duration {
	switch {
	case in.Window == nil:
		return 0
	case *in.Window <= 0:
		return -1
	}
	return time.Duration(*in.Window) * time.Second
}
