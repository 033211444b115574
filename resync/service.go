package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/internal/component"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// KindAction records each resync or reboot request in the store, so that it
// has its audit row (who, when, which devices).
const KindAction = "resync_action"

// Per-device outcomes.
const (
	SentAMI        = "sent_ami"        // the PBX accepted PJSIPNotify for the endpoint
	SentDirect     = "sent_direct"     // the phone answered 2xx to our NOTIFY
	NotRegistered  = "not_registered"  // the PBX has no contact for the account: nothing sent
	NoAccount      = "no_account"      // the device has no (existing) account: nothing sent
	Disabled       = "disabled"        // the device is disabled (it gets no file): nothing sent
	AMIUnreachable = "ami_unreachable" // the PBX's AMI could not be reached or refused the login
	Refused        = "refused"         // the PBX or the phone refused the NOTIFY
	NoAnswer       = "no_answer"       // the phone did not answer a direct NOTIFY in time
	Unsupported    = "unsupported"     // a direct NOTIFY cannot reach this contact (TCP, TLS)
)

// Statuses lists the outcomes in the order reports count them.
var Statuses = []string{SentAMI, SentDirect, NotRegistered, NoAccount, Disabled, AMIUnreachable, Refused, NoAnswer, Unsupported}

// Request selects devices of one tenant and says what to send. Exactly one of
// Devices, Template, Model and All selects.
type Request struct {
	// Devices are device ids or MACs (any accepted format).
	Devices []string `json:"devices,omitempty"`
	// Template selects the devices whose file, or whose model's common file,
	// comes from this template.
	Template string `json:"template,omitempty"`
	// Model selects the devices of this model.
	Model string `json:"model,omitempty"`
	// All selects every device of the tenant.
	All bool `json:"all,omitempty"`
	// Reboot restarts the phones instead of asking them to re-read their files.
	Reboot bool `json:"reboot"`
	// Via is auto, ami or direct ("" = the configuration's resync.via).
	Via string `json:"via,omitempty"`
}

// Result is what happened for one device.
type Result struct {
	Device    string `json:"device"`
	MAC       string `json:"mac"`
	Model     string `json:"model"`
	Brand     string `json:"brand,omitempty"`
	Extension string `json:"extension,omitempty"`
	// Endpoint is the PBX endpoint the account registers as.
	Endpoint string `json:"endpoint,omitempty"`
	Status   string `json:"status"`
	// Via is how it was sent (ami or direct), when it was.
	Via   string `json:"via,omitempty"`
	Event string `json:"event,omitempty"`
	// Contacts are the registered contacts the PBX reported.
	Contacts []string `json:"contacts,omitempty"`
	// Detail says why, in words (the PBX's or the phone's answer).
	Detail string `json:"detail,omitempty"`
}

// Report answers a request.
type Report struct {
	Action  string         `json:"action"` // resync or reboot
	Results []Result       `json:"results"`
	Counts  map[string]int `json:"counts"`
}

// Affected is how many devices a template or model reaches: the hint a save
// answers with, so that the console and the CLI can offer a resync.
type Affected struct {
	Devices int `json:"devices"`
	// Tenants counts by tenant, for a global template or model.
	Tenants map[string]int `json:"tenants,omitempty"`
}

// Service is the "resync" component: it owns POST .../resync and tells phones,
// through the PBX or directly, to re-read their files or to restart.
type Service struct {
	component.Base
	cfg  Config
	ami  ami.Config
	st   *store.Store
	prov *provision.Service
	log  *slog.Logger
	send sender

	mu      sync.Mutex
	lastErr error // the last AMI failure, until a request reaches the PBX again
}

var _ component.Component = (*Service)(nil)

// New checks cfg and registers the action kind with the store. amiCfg is the
// PBX's manager interface (the cti.ami section).
func New(cfg Config, amiCfg ami.Config, st *store.Store, prov *provision.Service, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("resync: %w", err)
	}
	st.Register(store.Kind{Name: KindAction, Check: func(*store.Tx, string, json.RawMessage) error {
		return &store.ValidationError{Msg: "a resync or reboot already happened: it cannot be restored"}
	}})
	return &Service{cfg: cfg, ami: amiCfg, st: st, prov: prov, log: log,
		send: sender{timeout: cfg.Timeout, userAgent: "Switchboard"}}, nil
}

// Name is "resync".
func (s *Service) Name() string { return "resync" }

// Serve has nothing to run between requests.
func (s *Service) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Configured reports whether the PBX's AMI credentials are set (cti.ami).
func (s *Service) Configured() bool { return s.ami.Username != "" && s.ami.Secret != "" }

// Health is Off without AMI credentials and Degraded after a request could
// not reach the PBX.
func (s *Service) Health(context.Context) component.Health {
	if !s.Configured() {
		return component.Health{Status: component.Off, Detail: "set cti.ami.username and cti.ami.secret to resync phones"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != nil {
		return component.Health{Status: component.Degraded, Detail: "the last resync could not reach the PBX: " + s.lastErr.Error()}
	}
	return component.Health{Status: component.OK}
}

// ErrNotConfigured answers requests while cti.ami has no credentials.
var ErrNotConfigured = httpapi.Errorf(http.StatusServiceUnavailable, "",
	"resync needs the PBX's manager interface: set cti.ami.address, cti.ami.username and cti.ami.secret")

// target is one selected device with what sending needs.
type target struct {
	dev    provision.Device
	vendor Vendor
	known  bool // the brand is in the table
	acct   *provision.Account
}

// selectDevices resolves a request to its devices; bad input is an
// *httpapi.Error naming the field, and nothing has happened yet.
func (s *Service) selectDevices(ctx context.Context, tenant string, req Request) (what string, out []target, err error) {
	n := 0
	for _, set := range []bool{len(req.Devices) > 0, req.Template != "", req.Model != "", req.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", nil, httpapi.Errorf(http.StatusBadRequest, "", "say which devices: exactly one of devices (ids or MACs), template, model or all")
	}
	if req.Via != "" && !validVia(req.Via) {
		return "", nil, httpapi.Errorf(http.StatusBadRequest, "via", "via must be auto, ami or direct, not %q", req.Via)
	}
	if len(req.Devices) > 10000 {
		return "", nil, httpapi.Errorf(http.StatusBadRequest, "devices", "at most 10000 devices per request (use all, template or model)")
	}
	models, templates, err := s.prov.Catalog(ctx, tenant)
	if err != nil {
		return "", nil, err
	}
	modelByID := map[string]provision.Model{}
	for _, m := range models {
		modelByID[m.ID] = m
	}
	var devs []provision.Device
	switch {
	case len(req.Devices) > 0:
		what = "devices"
		seen := map[string]bool{}
		for _, ref := range req.Devices {
			d, err := s.findDevice(ctx, tenant, ref)
			if err != nil {
				return "", nil, err
			}
			if !seen[d.ID] {
				seen[d.ID] = true
				devs = append(devs, d)
			}
		}
	case req.Template != "":
		found := false
		for _, t := range templates {
			found = found || t.ID == req.Template
		}
		if !found {
			return "", nil, httpapi.Errorf(http.StatusNotFound, "template", "no template %q in this tenant's catalog", req.Template)
		}
		what = "template " + req.Template
		all, err := s.prov.Devices(ctx, tenant)
		if err != nil {
			return "", nil, err
		}
		for _, d := range all {
			if usesTemplate(d.Template, modelByID[d.Model], req.Template) {
				devs = append(devs, d)
			}
		}
	case req.Model != "":
		if _, ok := modelByID[req.Model]; !ok {
			return "", nil, httpapi.Errorf(http.StatusNotFound, "model", "no model %q in this tenant's catalog", req.Model)
		}
		what = "model " + req.Model
		all, err := s.prov.Devices(ctx, tenant)
		if err != nil {
			return "", nil, err
		}
		for _, d := range all {
			if d.Model == req.Model {
				devs = append(devs, d)
			}
		}
	default:
		what = "all devices"
		if devs, err = s.prov.Devices(ctx, tenant); err != nil {
			return "", nil, err
		}
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].MAC < devs[j].MAC })
	accounts := map[string]*provision.Account{}
	for _, d := range devs {
		tg := target{dev: d}
		tg.vendor, tg.known = VendorOf(modelByID[d.Model].Brand)
		if d.Account != "" {
			a, ok := accounts[d.Account]
			if !ok {
				acc, err := s.prov.Account(ctx, tenant, d.Account)
				switch {
				case err == nil:
					a = &acc
				case !errors.Is(err, store.ErrNotFound):
					return "", nil, err
				}
				accounts[d.Account] = a
			}
			tg.acct = a
		}
		out = append(out, tg)
	}
	return what, out, nil
}

// findDevice resolves a device id or MAC of tenant.
func (s *Service) findDevice(ctx context.Context, tenant, ref string) (provision.Device, error) {
	d, err := s.prov.Device(ctx, tenant, ref)
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	if _, perr := provision.ParseMAC(ref); perr == nil {
		d, err = s.prov.DeviceByMAC(ctx, tenant, ref)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return d, err
		}
	}
	return d, httpapi.Errorf(http.StatusNotFound, "devices", "no device %q in this tenant (give a device id or MAC)", truncate(ref, 64))
}

// usesTemplate: the device's file, or a common file of its model, comes from
// the template.
func usesTemplate(devTemplate string, m provision.Model, tmpl string) bool {
	if devTemplate == tmpl || (devTemplate == "" && m.Template == tmpl) {
		return true
	}
	for _, cf := range m.CommonFiles {
		if cf.Template == tmpl {
			return true
		}
	}
	return false
}

// Affected counts the devices of tenant ("" = every tenant) that use a
// template (kind "template") or are of a model (kind "model").
func (s *Service) Affected(ctx context.Context, tenant, kind, id string) (Affected, error) {
	tenants := []string{tenant}
	if tenant == "" {
		ts, err := s.prov.Tenants(ctx)
		if err != nil {
			return Affected{}, err
		}
		tenants = tenants[:0]
		for _, t := range ts {
			tenants = append(tenants, t.ID)
		}
	}
	out := Affected{Tenants: map[string]int{}}
	for _, t := range tenants {
		models, _, err := s.prov.Catalog(ctx, t)
		if err != nil {
			return Affected{}, err
		}
		byID := map[string]provision.Model{}
		for _, m := range models {
			byID[m.ID] = m
		}
		err = s.prov.EachDeviceUse(ctx, t, func(d provision.DeviceUse) {
			if (kind == "template" && usesTemplate(d.Template, byID[d.Model], id)) || (kind == "model" && d.Model == id) {
				out.Devices++
				out.Tenants[t]++
			}
		})
		if err != nil {
			return Affected{}, err
		}
	}
	if tenant != "" {
		out.Tenants = nil
	}
	return out, nil
}

// Run resyncs (or reboots) the devices req selects, after recording the
// request in the audit log. Bad input is an error and nothing is sent; once
// the request is recorded, what happened to each device is in the report.
func (s *Service) Run(ctx context.Context, actor store.Actor, tenant string, req Request) (Report, error) {
	if !s.Configured() {
		return Report{}, ErrNotConfigured
	}
	what, targets, err := s.selectDevices(ctx, tenant, req)
	if err != nil {
		return Report{}, err
	}
	via := req.Via
	if via == "" {
		via = s.cfg.Via
	}
	action := "resync"
	if req.Reboot {
		action = "reboot"
	}
	if err := s.audit(ctx, actor, tenant, action, via, what, targets); err != nil {
		return Report{}, err
	}
	// Phones fetch their files as soon as they get the NOTIFY: the files must
	// already say what was saved before this request.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s.prov.WaitRendered(wctx, s.st.Revision()) //nolint:errcheck // late rendering: send anyway, as a phone's own check would
	cancel()

	rep := Report{Action: action, Results: make([]Result, len(targets)), Counts: map[string]int{}}
	var conn *ami.Conn
	var contacts map[string][]contact
	var amiErr error
	if needsPBX(targets) {
		conn, amiErr = ami.Dial(ctx, s.ami, s.log)
		if amiErr == nil {
			defer conn.Close()
			contacts, amiErr = readContacts(ctx, conn)
		}
		s.mu.Lock()
		s.lastErr = amiErr
		s.mu.Unlock()
		if amiErr != nil {
			s.log.Warn("resync: the PBX is unreachable", "addr", s.ami.Address, "err", amiErr)
		}
	}
	sem := make(chan struct{}, s.cfg.Parallel)
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rep.Results[i] = s.one(ctx, conn, contacts, amiErr, tg, req.Reboot, via)
		}()
	}
	wg.Wait()
	for _, r := range rep.Results {
		rep.Counts[r.Status]++
	}
	args := []any{"action", action, "tenant", tenant, "user", actor.User, "target", what, "devices", len(targets)}
	for _, st := range Statuses {
		if n := rep.Counts[st]; n > 0 {
			args = append(args, st, n)
		}
	}
	s.log.Info("resync requested", args...)
	return rep, nil
}

func needsPBX(targets []target) bool {
	for _, t := range targets {
		if t.acct != nil && t.dev.Enabled {
			return true
		}
	}
	return false
}

// one sends to one device and says what happened.
func (s *Service) one(ctx context.Context, conn *ami.Conn, contacts map[string][]contact, amiErr error, tg target, reboot bool, via string) Result {
	d := tg.dev
	r := Result{Device: d.ID, MAC: d.MAC, Model: d.Model, Brand: tg.vendor.Brand, Event: tg.vendor.Event(reboot)}
	switch {
	case tg.acct == nil:
		r.Status, r.Event = NoAccount, ""
		if d.Account != "" {
			r.Detail = "the linked account no longer exists"
		}
		return r
	case !d.Enabled:
		r.Status, r.Event, r.Detail = Disabled, "", "a disabled device gets no file: enable it first"
		return r
	case amiErr != nil:
		r.Extension, r.Status, r.Detail = tg.acct.Extension, AMIUnreachable, amiErr.Error()
		return r
	}
	r.Extension = tg.acct.Extension
	// FreePBX and NethVoice name the endpoint after the extension, which is
	// also the SIP user name; a PBX that differs names it after the user.
	var cs []contact
	for _, ep := range []string{tg.acct.SIPUsername, tg.acct.Extension} {
		if ep != "" && len(contacts[ep]) > 0 {
			r.Endpoint, cs = ep, contacts[ep]
			break
		}
	}
	if len(cs) == 0 {
		r.Status = NotRegistered
		r.Detail = fmt.Sprintf("the PBX has no registration for endpoint %s: nothing sent", tg.acct.SIPUsername)
		return r
	}
	for _, c := range cs {
		r.Contacts = append(r.Contacts, c.URI)
	}
	if !tg.known {
		r.Detail = "brand not in the resync table: sent the common check-sync event"
	}
	if via == ViaAuto {
		via = ViaAMI
		if tg.vendor.Challenges && allUDP(cs) {
			via = ViaDirect
		}
	}
	r.Via = via
	if via == ViaAMI {
		if err := pjsipNotify(ctx, conn, r.Endpoint, r.Event); err != nil {
			r.Status, r.Detail = Refused, "the PBX refused PJSIPNotify: "+err.Error()
			return r
		}
		r.Status = SentAMI
		if tg.vendor.Challenges {
			r.Detail = tg.vendor.Name + " phones challenge a NOTIFY from the PBX unless Auth_Resync-Reboot is No"
		}
		return r
	}
	return s.direct(ctx, r, cs, tg)
}

func allUDP(cs []contact) bool {
	for _, c := range cs {
		if u, err := parseContact(c.URI); err != nil || u.Transport != "udp" {
			return false
		}
	}
	return true
}

// direct sends the NOTIFY to each registered contact: sent when one answers
// 2xx; otherwise the worst answer.
func (s *Service) direct(ctx context.Context, r Result, cs []contact, tg target) Result {
	user := tg.acct.AuthUsername
	if user == "" {
		user = tg.acct.SIPUsername
	}
	var details []string
	status := ""
	rank := map[string]int{Unsupported: 1, NoAnswer: 2, Refused: 3}
	for _, c := range cs {
		res, err := s.send.notify(ctx, notifyReq{Contact: c.URI, Event: r.Event, AuthUser: user, Password: tg.acct.SIPPassword})
		st, detail := "", ""
		switch {
		case err == nil && res.Code < 300:
			st, detail = SentDirect, fmt.Sprintf("%s answered %d %s", c.URI, res.Code, res.Reason)
			if res.Challenged {
				detail += " after a digest challenge"
			}
		case err == nil:
			st, detail = Refused, fmt.Sprintf("%s answered %d %s", c.URI, res.Code, res.Reason)
			if res.Challenged {
				detail += " to the signed retry (the account's password is not the phone's?)"
			}
		case errors.Is(err, errNoAnswer):
			st, detail = NoAnswer, fmt.Sprintf("%s did not answer within %s", c.URI, s.cfg.Timeout)
		case errors.Is(err, errUnsupported):
			st, detail = Unsupported, err.Error()+": send it through the PBX (via ami)"
		default:
			st, detail = Refused, err.Error()
		}
		details = append(details, detail)
		if st == SentDirect {
			status = SentDirect
		} else if status != SentDirect && rank[st] > rank[status] {
			status = st
		}
	}
	r.Status, r.Detail = status, strings.Join(details, "; ")
	return r
}

// audit records the request: one audit row per request, before anything is
// sent (on a passive HA node the store refuses, and so nothing is sent).
func (s *Service) audit(ctx context.Context, actor store.Actor, tenant, action, via, what string, targets []target) error {
	macs := make([]string, 0, min(len(targets), maxAuditMACs))
	for i, t := range targets {
		if i == maxAuditMACs {
			break
		}
		macs = append(macs, t.dev.MAC)
	}
	doc := map[string]any{"action": action, "via": via, "target": what, "devices": len(targets), "macs": macs,
		"at": time.Now().UTC().Format(time.RFC3339Nano)}
	desc := fmt.Sprintf("%s of %s (%d devices)", action, what, len(targets))
	if len(targets) == 1 {
		desc = fmt.Sprintf("%s of device %s", action, targets[0].dev.MAC)
	}
	_, err := s.st.Update(ctx, actor, func(tx *store.Tx) error {
		return tx.Create(KindAction, tenant, strconv.FormatInt(time.Now().UnixNano(), 10)+"-"+randHex(4), doc, desc)
	})
	return err
}

// maxAuditMACs bounds the MACs an audit row lists (the count is always there).
const maxAuditMACs = 1000
