package provision

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

func TestPasswordPolicy(t *testing.T) {
	for _, c := range []struct {
		pw   string
		want string // "" = accepted, else a word of the refusal
	}{
		{"1234", "at least 8"},
		{"12345678", "run or repetition"},
		{"87654321", "run or repetition"},
		{"aaaaaaaa", "run or repetition"},
		{"abcdefgh", "run or repetition"},
		{"password", "first passwords"},
		{"Password123", "first passwords"},
		{"admin2024", "first passwords"},
		{"yealink1", "first passwords"},
		{"201201201", "user name"},
		{"lettersonly", "two of"},
		{"2718281828", "two of"},
		{"pw-201-Secret", ""},
		{"Tr0ub4dor", ""},
		{"correct horse battery", ""},
		{"x\ny-Strong1", "one line"},
		{strings.Repeat("Ab1", 50), "at most 128"},
	} {
		err := checkSecret("sip_password", c.pw, "201")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q refused: %v", c.pw, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "sip_password")):
			t.Errorf("%q: %v, want a refusal naming sip_password with %q", c.pw, err, c.want)
		}
	}
	for i := 0; i < 50; i++ {
		if pw := GeneratePassword(16); len(pw) != 16 || checkSecret("x", pw) != nil {
			t.Fatalf("generated %q: %v", pw, checkSecret("x", pw))
		}
	}
}

func TestPhoneAdminPassword(t *testing.T) {
	e := pvStart(t, ModeMulti)
	p1, err := e.s.PBX(e.ctx, e.tenant)
	if err != nil || len(p1.PhoneAdminPassword) != phoneAdminPasswordLength {
		t.Fatalf("default tenant: %q %v", p1.PhoneAdminPassword, err)
	}
	name := "second"
	other, err := e.s.CreateTenant(e.ctx, e.actor, TenantInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := e.s.PBX(e.ctx, other.ID)
	if p2.PhoneAdminPassword == "" || p2.PhoneAdminPassword == p1.PhoneAdminPassword {
		t.Fatalf("tenants' passwords %q and %q", p1.PhoneAdminPassword, p2.PhoneAdminPassword)
	}
	// Never empty, never weak, named in the refusal.
	for pw, msg := range map[string]string{"": "must not be empty", "1234": "too weak", "admin123": "too weak"} {
		_, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"phone_admin_password":"`+pw+`"}`))
		wantField(t, err, "phone_admin_password", msg)
	}
	if _, err := e.s.SetPBX(e.ctx, e.actor, e.tenant, json.RawMessage(`{"phone_admin_password":"Tenant-Adm1n-pw"}`)); err != nil {
		t.Fatal(err)
	}
	// The device file gets it; a device's own password overrides it.
	tp, err := e.s.SaveTemplate(e.ctx, e.actor, "", "", json.RawMessage(`{"name":"adm","body":"u=%%PHONEUSERNAME%%\np=%%PHONE_ADMIN_PASSWORD%%\nk=%%PHONEPASSWORD%%\n"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"template":"`+tp.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if f, _ := e.s.Lookup(e.tenant, pvFile); string(f.Body) != "u=admin\np=Tenant-Adm1n-pw\nk=Tenant-Adm1n-pw\n" {
		t.Fatalf("file %q", f.Body)
	}
	_, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"phone_password":"1234"}`))
	wantField(t, err, "phone_password", "too weak")
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"phone_username":"boss","phone_password":"Dev1ce-own-pw"}`)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	if f, _ := e.s.Lookup(e.tenant, pvFile); string(f.Body) != "u=boss\np=Dev1ce-own-pw\nk=Dev1ce-own-pw\n" {
		t.Fatalf("file %q", f.Body)
	}
	// What the CTI's click-to-call uses.
	var login PhoneLogin
	e.st.View(e.ctx, func(tx *store.Tx) error {
		var d Device
		getIn(tx, KindDevice, e.tenant, e.device, &d)
		login, err = PhoneLoginOf(tx, d)
		return err
	})
	if login != (PhoneLogin{User: "boss", Password: "Dev1ce-own-pw"}) {
		t.Errorf("phone login %+v %v", login, err)
	}
	// Audit rows never show it.
	rows, _, err := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindPBX})
	if err != nil || len(rows) < 3 {
		t.Fatalf("%d audit rows %v", len(rows), err)
	}
	for _, r := range rows {
		if strings.Contains(string(r.After)+string(r.Before), "Tenant-Adm1n-pw") || strings.Contains(string(r.After)+string(r.Before), p1.PhoneAdminPassword) {
			t.Errorf("audit row %d shows the password: %s", r.ID, r.After)
		}
	}
	raw, _ := json.Marshal(p1)
	if m := string(e.st.Redact(KindPBX, raw)); !strings.Contains(m, `"phone_admin_password":"`+store.Mask+`"`) {
		t.Errorf("masked: %s", m)
	}
}

// TestPhoneAdminPasswordUpgrade: a tenant stored before the field existed gets
// a password at start-up, with an audit row.
func TestPhoneAdminPasswordUpgrade(t *testing.T) {
	e := pvStart(t, ModeSingle)
	if _, err := e.st.Update(e.ctx, e.actor, func(tx *store.Tx) error {
		var raw map[string]any
		tx.Get(KindPBX, e.tenant, &raw)
		delete(raw, "phone_admin_password")
		return tx.Replace(KindPBX, e.tenant, e.tenant, raw, "as an older version stored it")
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.EnsureDefaultTenant(e.ctx); err != nil {
		t.Fatal(err)
	}
	p, _ := e.s.PBX(e.ctx, e.tenant)
	if checkSecret("x", p.PhoneAdminPassword) != nil {
		t.Fatalf("upgraded password %q", p.PhoneAdminPassword)
	}
	rows, _, _ := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindPBX, Limit: 1})
	if len(rows) != 1 || rows[0].Description != "phone admin password generated" || rows[0].User != "system" {
		t.Errorf("audit row %+v", rows)
	}
}
