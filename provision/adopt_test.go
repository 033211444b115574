package provision_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/internal/provtest"
	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

// seen records a sighting and waits until the list shows it (sightings are queued).
func seen(t *testing.T, e *provtest.Env, mac, ua, file string) provision.UnknownView {
	t.Helper()
	e.Prov.SeeUnknown(e.Tenant, mac, "192.0.2.50", ua, file)
	for i := 0; i < 200; i++ {
		list, _, err := e.Prov.UnknownDevicesView(e.Ctx, e.Tenant, -1, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list {
			if u.MAC == mac && u.File == file {
				return u
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never listed", mac)
	return provision.UnknownView{}
}

func TestUnknownModelGuesses(t *testing.T) {
	e := provtest.New(t, provision.ModeSingle, 1000)
	u := seen(t, e, "001565AABBCC", "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:cc", "001565aabbcc.cfg")
	if len(u.Models) < 2 {
		t.Fatalf("guesses: %+v", u.Models)
	}
	if u.Models[0].Model != "yealink-t54w" || u.Models[0].Score <= u.Models[1].Score {
		t.Errorf("best guess %+v, runner-up %+v: the User-Agent names the T54W", u.Models[0], u.Models[1])
	}
	for _, g := range u.Models {
		if g.Brand != "yealink" {
			t.Errorf("a %s model fits a Yealink file name: %+v", g.Brand, g)
		}
	}
	// Nothing fits a file no model's rule makes.
	if v := seen(t, e, "001565DDEEFF", "curl/8", "001565ddeeff.bin"); len(v.Models) != 0 {
		t.Errorf("guesses for a foreign file: %+v", v.Models)
	}
}

func TestAdopt(t *testing.T) {
	e := provtest.New(t, provision.ModeSingle, 1000)
	if _, err := e.Prov.SaveAccount(e.Ctx, e.Actor, e.Tenant, "", json.RawMessage(`{"extension":"202","sip_password":"adopt-secret"}`)); err != nil {
		t.Fatal(err)
	}
	seen(t, e, "001565AABBCC", "Yealink SIP-T54W 96.86.0.100", "001565aabbcc.cfg")
	seen(t, e, "001565DDEEFF", "", "001565ddeeff.cfg") // no User-Agent: every Yealink fits

	refused := func(name, mac, body, field string, notFound bool) {
		t.Helper()
		rev := e.Store.Revision()
		_, err := e.Prov.Adopt(e.Ctx, e.Actor, e.Tenant, mac, json.RawMessage(body))
		var ve *store.ValidationError
		switch {
		case notFound && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: want not found, got %v", name, err)
		case !notFound && (!errors.As(err, &ve) || ve.Field != field):
			t.Errorf("%s: want a %q error, got %v", name, field, err)
		}
		if e.Store.Revision() != rev {
			t.Errorf("%s: a refused adoption changed the store", name)
		}
	}
	refused("ambiguous model", "001565DDEEFF", `{}`, "model", false)
	refused("bad MAC", "00:15:65:zz:00:00", `{}`, "mac", false)
	refused("not on the list", "001565999999", `{"model":"yealink-t54w"}`, "", true)
	refused("no such extension", "001565AABBCC", `{"account_extension":"999"}`, "account_extension", false)
	refused("MAC in the body", "001565AABBCC", `{"mac":"001565000000"}`, "mac", false)
	refused("unknown field", "001565AABBCC", `{"colour":"red"}`, "colour", false)

	d, err := e.Prov.Adopt(e.Ctx, e.Actor, e.Tenant, "00-15-65-aa-bb-cc", json.RawMessage(`{"account_extension":"202","notes":"desk 4"}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.MAC != "001565AABBCC" || d.Model != "yealink-t54w" || !d.Enabled || d.Account == "" || d.Notes != "desk 4" {
		t.Fatalf("adopted device: %+v", d)
	}
	if err := e.Prov.WaitRendered(e.Ctx, e.Store.Revision()); err != nil {
		t.Fatal(err)
	}
	f, ok := e.Prov.Lookup(e.Tenant, "001565aabbcc.cfg")
	if !ok || !bytes.Contains(f.Body, []byte("adopt-secret")) {
		t.Fatalf("adopted device's file not rendered with its account")
	}
	list, _, _ := e.Prov.UnknownDevicesView(e.Ctx, e.Tenant, -1, 0)
	for _, u := range list {
		if u.MAC == "001565AABBCC" {
			t.Error("adopted device still on the unknown list")
		}
	}
	rows, _, err := e.Store.Audit(e.Ctx, store.AuditFilter{ObjectID: d.ID})
	if err != nil || len(rows) != 1 || rows[0].Action != "create" || rows[0].User != "test" {
		t.Errorf("audit of the adoption: %+v %v", rows, err)
	}
	// The ambiguous one adopts once the model is named.
	if _, err := e.Prov.Adopt(e.Ctx, e.Actor, e.Tenant, "001565DDEEFF", json.RawMessage(`{"model":"yealink-t46u"}`)); err != nil {
		t.Fatal(err)
	}
	// Adopted devices leave the list, so adopting twice is "not found", not a duplicate.
	refused("adopted twice", "001565DDEEFF", `{"model":"yealink-t46u"}`, "", true)
}
