package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti/ami"
	"github.com/switchboard-pbx/switchboard/internal/asterisktest"
	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

func TestMain(m *testing.M) { os.Exit(asterisktest.Main(m)) }

const wait = 10 * time.Second

// env is a real store and provisioning service, the package's real Asterisk
// and a resync service pointed at its AMI.
type env struct {
	*provtest.Env
	pbx *asterisktest.PBX
	svc *Service
}

func newEnv(t *testing.T, mod func(*Config, *ami.Config)) *env {
	t.Helper()
	pbx := asterisktest.Shared(t)
	pe := provtest.New(t, provision.ModeMulti, 30)
	cfg := DefaultConfig()
	ac := ami.DefaultConfig()
	ac.Address, ac.Username, ac.Secret = pbx.AMIAddr, pbx.AMIUser, pbx.AMISecret
	if mod != nil {
		mod(&cfg, &ac)
	}
	svc, err := New(cfg, ac, pe.Store, pe.Prov, pe.Logger)
	if err != nil {
		t.Fatal(err)
	}
	// The tests' own tenant: the fixture's device (account 201) would count
	// in "all" whenever a parallel phone holds 201.
	pe.Tenant = pe.AddTenant(t, strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"))
	return &env{Env: pe, pbx: pbx, svc: svc}
}

var macSeq atomic.Int64

// modelOf is the first catalog model of brand.
func (e *env) modelOf(t *testing.T, brand string) string {
	t.Helper()
	models, _, err := e.Prov.Catalog(e.Ctx, e.Tenant)
	if err != nil {
		t.Fatal(err)
	}
	// A model with common files first (the catalog has Yealink models
	// without, such as the DECT bases): TestBulkTemplate counts the devices
	// a common template reaches.
	first := ""
	for _, m := range models {
		if m.Brand != brand {
			continue
		}
		if len(m.CommonFiles) > 0 {
			return m.ID
		}
		if first == "" {
			first = m.ID
		}
	}
	return first
}

// account creates the account of extension x with its password.
func (e *env) account(t *testing.T, x asterisktest.Extension, password string) string {
	t.Helper()
	a, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(fmt.Sprintf(
		`{"extension":%q,"sip_username":%q,"sip_password":%q,"display_name":"Ext %s"}`, x.Number, x.Number, password, x.Number)))
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// device creates a device of model linked to account ("" = none).
func (e *env) device(t *testing.T, model, account string) provision.Device {
	t.Helper()
	mac := fmt.Sprintf("0015650%05X", macSeq.Add(1))
	body := map[string]any{"mac": mac, "model": model}
	if account != "" {
		body["account"] = account
	}
	b, _ := json.Marshal(body)
	d, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, "", b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// phone registers a SIPp phone for a free extension and makes its account
// and a device of model for it.
func (e *env) phone(t *testing.T, model string, o asterisktest.PhoneOptions) (*asterisktest.Phone, provision.Device) {
	t.Helper()
	x := e.pbx.FreeExt(t)
	ph := e.pbx.Register(t, x.Number, o)
	return ph, e.device(t, model, e.account(t, x, x.Password))
}

func (e *env) run(t *testing.T, req Request) Report {
	t.Helper()
	rep, err := e.svc.Run(e.Ctx, e.Actor, e.Tenant, req)
	if err != nil {
		t.Fatalf("Run %+v: %v", req, err)
	}
	return rep
}

// notifies are the out-of-dialog NOTIFYs the phone received, but for the
// voicemail NOTIFY (Event: message-summary) Asterisk sends on registration.
func notifies(ph *asterisktest.Phone) []asterisktest.SIPMessage {
	var out []asterisktest.SIPMessage
	for _, m := range ph.Messages() {
		if m.Received && m.Method() == "NOTIFY" && !strings.Contains(m.Header("To"), "tag=") && m.Header("Event") != "message-summary" {
			out = append(out, m)
		}
	}
	return out
}

// nextNotify waits for the phone's NOTIFY number n (from 0) and returns it.
func nextNotify(t *testing.T, ph *asterisktest.Phone, n int) asterisktest.SIPMessage {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if ns := notifies(ph); len(ns) > n {
			return ns[n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("phone %s: NOTIFY #%d did not come; it has %d", ph.Ext.Number, n+1, len(notifies(ph)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answered waits until the phone has sent a final response to the NOTIFY
// with this Call-ID and CSeq number and returns its code.
func answered(t *testing.T, ph *asterisktest.Phone, n asterisktest.SIPMessage) int {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		for _, m := range ph.Messages() {
			if !m.Received && m.Status() >= 200 && m.CallID() == n.CallID() && m.Header("CSeq") == n.Header("CSeq") {
				return m.Status()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("phone %s sent no final answer to %s", ph.Ext.Number, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func one(t *testing.T, rep Report) Result {
	t.Helper()
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1: %+v", len(rep.Results), rep)
	}
	return rep.Results[0]
}

// wantEvents are the vendors' resync and reboot Event headers (README's
// table), written out so that a change to the table shows here.
var wantEvents = map[string][2]string{
	"yealink":     {"check-sync;reboot=false", "check-sync;reboot=true"},
	"snom":        {"check-sync;reboot=false", "check-sync;reboot=true"},
	"fanvil":      {"check-sync;reboot=false", "check-sync;reboot=true"},
	"nethesis":    {"check-sync;reboot=false", "check-sync;reboot=true"},
	"grandstream": {"resync", "check-sync;reboot=true"},
	"poly":        {"check-sync", "check-sync"},
	"cisco":       {"resync", "reboot"},
	"gigaset":     {"check-sync;reboot=false", "check-sync;reboot=true"},
	"":            {"check-sync;reboot=false", "check-sync;reboot=true"},
}

// TestVendorEvents: for every brand of the table that the catalog has a
// model of (and a user's own brand), a SIPp phone registered on the real
// Asterisk gets the brand's resync and reboot NOTIFY sent through AMI (its
// From is the PBX's endpoint) and sent directly to its contact (From
// switchboard@), each with the table's Event header and answered 200.
func TestVendorEvents(t *testing.T) {
	e := newEnv(t, nil)
	type phone struct {
		v   Vendor
		ph  *asterisktest.Phone
		dev provision.Device
	}
	var phones []phone
	for _, v := range Vendors() {
		// A brand the catalog has no model of yet (and the generic entry)
		// gets a user model of that brand.
		model := e.modelOf(t, v.Brand)
		if model == "" {
			brand := v.Brand
			if brand == "" {
				brand = "acme"
			}
			m, err := e.Prov.SaveModel(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(
				`{"brand":"`+brand+`","name":"`+brand+` 1","template":"fanvil-device"}`))
			if err != nil {
				t.Fatal(err)
			}
			model = m.ID
		}
		ph, d := e.phone(t, model, asterisktest.PhoneOptions{})
		phones = append(phones, phone{v, ph, d})
	}
	if len(phones) != len(Vendors()) {
		t.Fatalf("%d phones for %d table entries", len(phones), len(Vendors()))
	}
	count := 0
	for _, via := range []string{ViaAMI, ViaDirect} {
		for _, reboot := range []bool{false, true} {
			for _, p := range phones {
				res := one(t, e.run(t, Request{Devices: []string{p.dev.MAC}, Reboot: reboot, Via: via}))
				want := wantEvents[p.v.Brand][0]
				if reboot {
					want = wantEvents[p.v.Brand][1]
				}
				status := SentAMI
				if via == ViaDirect {
					status = SentDirect
				}
				if res.Status != status || res.Via != via || res.Event != want || res.Extension != p.ph.Ext.Number || res.Endpoint != p.ph.Ext.Number {
					t.Errorf("%s via %s reboot %v: %+v", p.v.Name, via, reboot, res)
				}
				n := nextNotify(t, p.ph, count)
				if got := n.Header("Event"); got != want {
					t.Errorf("%s via %s reboot %v: Event %q, want %q", p.v.Name, via, reboot, got, want)
				}
				from := n.Header("From")
				if fromUs := strings.Contains(from, "sip:switchboard@"); fromUs != (via == ViaDirect) {
					t.Errorf("%s via %s: From %s", p.v.Name, via, from)
				}
				if !strings.Contains(n.Header("To"), "sip:"+p.ph.Ext.Number+"@") || n.Header("Subscription-State") != "terminated" {
					t.Errorf("%s via %s: To %q Subscription-State %q", p.v.Name, via, n.Header("To"), n.Header("Subscription-State"))
				}
				if code := answered(t, p.ph, n); code != 200 {
					t.Errorf("%s via %s: the phone answered %d", p.v.Name, via, code)
				}
			}
			count++
		}
	}
	for _, p := range phones {
		if n := len(notifies(p.ph)); n != count {
			t.Errorf("%s got %d NOTIFYs, want %d", p.v.Name, n, count)
		}
		t.Logf("%-22s resync %-26q reboot %q", p.v.Name, p.v.Resync, p.v.Reboot)
	}
}

// TestBulkTemplate: the devices using a template are selected with it and
// each gets its own result: registered phones their NOTIFY, an unregistered
// account "not registered" (its phone, unregistered first, gets nothing), a
// device without an account "no account"; a device on another template is
// left alone. The request has one audit row.
func TestBulkTemplate(t *testing.T) {
	e := newEnv(t, nil)
	model := e.modelOf(t, "yealink")
	p1, d1 := e.phone(t, model, asterisktest.PhoneOptions{})
	p2, d2 := e.phone(t, model, asterisktest.PhoneOptions{})
	p3, d3 := e.phone(t, model, asterisktest.PhoneOptions{})
	p3.Unregister(t)
	seen3 := len(p3.Messages())
	d4 := e.device(t, model, "")
	other, dOther := e.phone(t, e.modelOf(t, "snom"), asterisktest.PhoneOptions{})

	aff, err := e.svc.Affected(e.Ctx, e.Tenant, "template", "yealink-device")
	if err != nil || aff.Devices != 4 {
		t.Fatalf("Affected(yealink-device) = %+v %v, want 4 devices", aff, err)
	}
	aff, _ = e.svc.Affected(e.Ctx, "", "template", "yealink-common")
	if aff.Devices < 4 || aff.Tenants[e.Tenant] != 4 {
		t.Errorf("Affected(yealink-common) over every tenant = %+v", aff)
	}
	before := auditCount(t, e)
	rep := e.run(t, Request{Template: "yealink-device"})
	byMAC := map[string]Result{}
	for _, r := range rep.Results {
		byMAC[r.MAC] = r
	}
	if len(rep.Results) != 4 || byMAC[dOther.MAC].Status != "" {
		t.Fatalf("results: %+v", rep.Results)
	}
	for _, d := range []provision.Device{d1, d2} {
		if r := byMAC[d.MAC]; r.Status != SentAMI || r.Event != "check-sync;reboot=false" || len(r.Contacts) != 1 {
			t.Errorf("%s: %+v", d.MAC, r)
		}
	}
	if r := byMAC[d3.MAC]; r.Status != NotRegistered || r.Event == "" {
		t.Errorf("unregistered: %+v", r)
	}
	if r := byMAC[d4.MAC]; r.Status != NoAccount {
		t.Errorf("no account: %+v", r)
	}
	if rep.Counts[SentAMI] != 2 || rep.Counts[NotRegistered] != 1 || rep.Counts[NoAccount] != 1 || rep.Action != "resync" {
		t.Errorf("counts: %+v", rep)
	}
	nextNotify(t, p1, 0)
	nextNotify(t, p2, 0)
	if got := auditCount(t, e); got != before+1 {
		t.Errorf("%d audit rows for one request", got-before)
	}
	rows, _, err := e.Store.Audit(e.Ctx, store.AuditFilter{ObjectType: KindAction, Limit: 1})
	if err != nil || len(rows) != 1 || !strings.Contains(rows[0].Description, "resync of template yealink-device (4 devices)") || rows[0].User != e.Actor.User {
		t.Errorf("audit row: %+v %v", rows, err)
	}
	// The others got nothing. A barrier instead of a wait for nothing: a
	// reboot of the Snom phone, sent after the request returned, goes the
	// same way (AMI, then Asterisk), so a NOTIFY the request had sent to
	// either phone left Asterisk before it.
	if r := one(t, e.run(t, Request{Devices: []string{dOther.MAC}, Reboot: true})); r.Status != SentAMI {
		t.Fatalf("barrier reboot: %+v", r)
	}
	if n := nextNotify(t, other, 0); n.Header("Event") != "check-sync;reboot=true" {
		t.Errorf("the phone on another template got the template's NOTIFY:\n%s", n.Text)
	}
	for _, m := range p3.Messages()[seen3:] {
		if m.Received && m.Method() == "NOTIFY" {
			t.Errorf("the unregistered phone got %s", m)
		}
	}

	// A reboot by model reaches the model's registered phones only.
	rep = e.run(t, Request{Model: model, Reboot: true})
	if rep.Action != "reboot" || rep.Counts[SentAMI] != 2 || len(rep.Results) != 4 {
		t.Errorf("reboot by model: %+v", rep)
	}
	if n := nextNotify(t, p1, 1); n.Header("Event") != "check-sync;reboot=true" {
		t.Errorf("reboot Event: %s", n.Header("Event"))
	}
	// All of the tenant: the Snom phone too.
	rep = e.run(t, Request{All: true})
	if len(rep.Results) != 5 || rep.Counts[SentAMI] != 3 {
		t.Errorf("all: %+v", rep.Counts)
	}
	if n := nextNotify(t, other, 1); n.Header("Event") != "check-sync;reboot=false" {
		t.Errorf("Snom Event: %s", n.Header("Event"))
	}
}

func auditCount(t *testing.T, e *env) int {
	t.Helper()
	_, n, err := e.Store.Audit(e.Ctx, store.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestChallengingPhone: a phone that challenges NOTIFYs (Cisco's
// Auth_Resync-Reboot) gets, with "auto", a direct NOTIFY signed with the
// account's credentials after its 401, which SIPp's verifyauth accepts; with
// a wrong password in the account the signed retry is refused and said so.
// Through the PBX the request is "sent" but the phone challenged Asterisk.
func TestChallengingPhone(t *testing.T) {
	e := newEnv(t, nil)
	ph, d := e.phone(t, e.modelOf(t, "cisco"), asterisktest.PhoneOptions{NotifyAuth: true})
	res := one(t, e.run(t, Request{Devices: []string{d.ID}}))
	if res.Status != SentDirect || res.Via != ViaDirect || res.Event != "resync" || !strings.Contains(res.Detail, "after a digest challenge") {
		t.Errorf("auto for Cisco: %+v", res)
	}
	first, signed := nextNotify(t, ph, 0), nextNotify(t, ph, 1)
	if first.Header("Authorization") != "" || !strings.HasPrefix(signed.Header("Authorization"), "Digest username=\""+ph.Ext.Number+"\"") ||
		first.CallID() != signed.CallID() || answered(t, ph, first) != 401 || answered(t, ph, signed) != 200 {
		t.Errorf("challenge:\n%s\n%s", first.Text, signed.Text)
	}

	// The account's password is not the phone's.
	x := e.pbx.FreeExt(t)
	ph2 := e.pbx.Register(t, x.Number, asterisktest.PhoneOptions{NotifyAuth: true})
	d2 := e.device(t, e.modelOf(t, "cisco"), e.account(t, x, "Not-the-phones-1"))
	res = one(t, e.run(t, Request{Devices: []string{d2.MAC}, Reboot: true}))
	if res.Status != Refused || !strings.Contains(res.Detail, "403") || res.Event != "reboot" {
		t.Errorf("wrong password: %+v", res)
	}
	if n := nextNotify(t, ph2, 1); answered(t, ph2, n) != 403 {
		t.Errorf("the phone did not refuse the badly signed NOTIFY")
	}

	// Through the PBX: Asterisk has no credentials to answer the phone with.
	res = one(t, e.run(t, Request{Devices: []string{d.ID}, Via: ViaAMI}))
	if res.Status != SentAMI || !strings.Contains(res.Detail, "Auth_Resync-Reboot") {
		t.Errorf("Cisco via ami: %+v", res)
	}
	if n := nextNotify(t, ph, 2); !strings.Contains(n.Header("From"), "sip:"+ph.Ext.Number+"@") || answered(t, ph, n) != 401 {
		t.Errorf("the PBX's NOTIFY: %s", n.Text)
	}
}

// TestBadInput: each bad request is refused with the field named, and
// nothing is recorded or sent.
func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	model := e.modelOf(t, "yealink")
	ph, d := e.phone(t, model, asterisktest.PhoneOptions{})
	before := auditCount(t, e)
	for _, c := range []struct {
		req    Request
		status int
		field  string
		msg    string
	}{
		{Request{}, 400, "", "exactly one of"},
		{Request{Devices: []string{d.ID}, All: true}, 400, "", "exactly one of"},
		{Request{Template: "yealink-device", Model: model}, 400, "", "exactly one of"},
		{Request{Devices: []string{d.ID}, Via: "carrier-pigeon"}, 400, "via", "auto, ami or direct"},
		{Request{Devices: []string{d.ID, "00:15:65:ff:ff:fe"}}, 404, "devices", "00:15:65:ff:ff:fe"},
		{Request{Devices: []string{"no-such-device"}}, 404, "devices", "no-such-device"},
		{Request{Template: "no-such-template"}, 404, "template", "no-such-template"},
		{Request{Model: "no-such-model"}, 404, "model", "no-such-model"},
	} {
		_, err := e.svc.Run(e.Ctx, e.Actor, e.Tenant, c.req)
		status, field, msg, ok := httpapi.Status(err)
		if !ok || status != c.status || field != c.field || !strings.Contains(msg, c.msg) {
			t.Errorf("%+v: %v (%d %q), want %d %q %q", c.req, err, status, field, c.status, c.field, c.msg)
		}
	}
	if got := auditCount(t, e); got != before {
		t.Errorf("bad requests wrote %d audit rows", got-before)
	}
	// Another tenant's device is not found either.
	name := "other-tenant"
	other, err := e.Prov.CreateTenant(e.Ctx, e.Actor, provision.TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	before = auditCount(t, e) // the tenant and its PBX settings
	_, err = e.svc.Run(e.Ctx, e.Actor, other.ID, Request{Devices: []string{d.ID}})
	if status, _, _, _ := httpapi.Status(err); status != 404 {
		t.Errorf("another tenant's device: %v", err)
	}
	if got := auditCount(t, e); got != before {
		t.Errorf("the request for another tenant's device wrote %d audit rows", got-before)
	}
	// A barrier instead of a wait for nothing: a reboot sent after them goes
	// the same way, so a NOTIFY a bad request had sent would arrive first.
	if r := one(t, e.run(t, Request{Devices: []string{d.ID}, Reboot: true})); r.Status != SentAMI {
		t.Fatalf("barrier reboot: %+v", r)
	}
	if n := nextNotify(t, ph, 0); n.Header("Event") != "check-sync;reboot=true" {
		t.Errorf("a bad request sent a NOTIFY:\n%s", n.Text)
	}
	if n := len(notifies(ph)); n != 1 {
		t.Errorf("bad requests sent %d NOTIFYs", n-1)
	}
}

// TestPBXUnreachable: without the PBX every device with an account says so
// (the request is still recorded, nothing is sent); without AMI credentials
// the request is refused outright. Health follows.
func TestPBXUnreachable(t *testing.T) {
	e := newEnv(t, func(c *Config, a *ami.Config) { a.Address = "127.0.0.1:9"; a.DialTimeout = time.Second })
	x := e.pbx.FreeExt(t)
	d := e.device(t, e.modelOf(t, "snom"), e.account(t, x, x.Password))
	d2 := e.device(t, e.modelOf(t, "snom"), "")
	rep := e.run(t, Request{Devices: []string{d.MAC, d2.MAC}})
	byMAC := map[string]Result{}
	for _, r := range rep.Results {
		byMAC[r.MAC] = r
	}
	if r := byMAC[d.MAC]; r.Status != AMIUnreachable || !strings.Contains(r.Detail, "127.0.0.1:9") {
		t.Errorf("unreachable: %+v", r)
	}
	if r := byMAC[d2.MAC]; r.Status != NoAccount {
		t.Errorf("no account: %+v", r)
	}
	if h := e.svc.Health(e.Ctx); h.Status != "degraded" || !strings.Contains(h.Detail, "127.0.0.1:9") {
		t.Errorf("health: %+v", h)
	}

	// A wrong secret is a refused login, said as such.
	e2 := newEnv(t, func(c *Config, a *ami.Config) { a.Secret = "wrong" })
	d3 := e2.device(t, e2.modelOf(t, "snom"), e2.account(t, x, x.Password))
	if r := one(t, e2.run(t, Request{Devices: []string{d3.ID}})); r.Status != AMIUnreachable || !strings.Contains(r.Detail, "refused") {
		t.Errorf("wrong secret: %+v", r)
	}

	e3 := newEnv(t, func(c *Config, a *ami.Config) { a.Username, a.Secret = "", "" })
	before := auditCount(t, e3)
	_, err := e3.svc.Run(e3.Ctx, e3.Actor, e3.Tenant, Request{All: true})
	if !errors.Is(err, ErrNotConfigured) {
		t.Errorf("without credentials: %v", err)
	}
	if status, _, msg, _ := httpapi.Status(err); status != http.StatusServiceUnavailable || !strings.Contains(msg, "cti.ami.username") {
		t.Errorf("without credentials: %d %s", status, msg)
	}
	if auditCount(t, e3) != before {
		t.Error("a refused request was recorded")
	}
	if h := e3.svc.Health(context.Background()); h.Status != "off" {
		t.Errorf("health without credentials: %+v", h)
	}
}

// TestDirectNoAnswer: a disabled device is skipped; a direct NOTIFY to a
// contact nobody answers is "no answer" within the timeout. (Its own PBX: the
// dead phone's contact stays registered.)
func TestDirectNoAnswer(t *testing.T) {
	pbx := asterisktest.Start(t, asterisktest.Options{Extensions: 2})
	e := newEnv(t, func(c *Config, a *ami.Config) {
		c.Timeout = 700 * time.Millisecond
		a.Address, a.Username, a.Secret = pbx.AMIAddr, pbx.AMIUser, pbx.AMISecret
	})
	e.pbx = pbx
	ph, d := e.phone(t, e.modelOf(t, "yealink"), asterisktest.PhoneOptions{})
	if _, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, d.ID, json.RawMessage(`{"enabled":false}`)); err != nil {
		t.Fatal(err)
	}
	if r := one(t, e.run(t, Request{Devices: []string{d.ID}})); r.Status != Disabled {
		t.Errorf("disabled: %+v", r)
	}
	if _, err := e.Prov.SaveDevice(e.Ctx, e.Actor, e.Tenant, d.ID, json.RawMessage(`{"enabled":true}`)); err != nil {
		t.Fatal(err)
	}
	// Stop the phone without unregistering: the PBX still has its contact.
	ph.PowerOff(t)
	start := time.Now()
	r := one(t, e.run(t, Request{Devices: []string{d.ID}, Via: ViaDirect}))
	if r.Status != NoAnswer || !strings.Contains(r.Detail, "did not answer") {
		t.Errorf("silent phone: %+v", r)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v with a 700ms timeout", el)
	}
}
