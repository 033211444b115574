package provision

// Devices with several lines and keys, through the service: the model's
// capabilities, line 1 and the account field, keys placed and refused, audit
// rows, the rendered file, a DECT base's handsets and the CSV columns.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/store"
)

// accountsFor creates accounts with the extensions and returns their ids.
func (e *pvEnv) accountsFor(t *testing.T, exts ...string) []string {
	t.Helper()
	var ids []string
	for _, x := range exts {
		a, err := e.s.SaveAccount(e.ctx, e.actor, e.tenant, "", json.RawMessage(`{"extension":"`+x+`","sip_password":"pw-`+x+`-Secret"}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

// wantField checks that err is a validation error on field whose message holds msg.
func wantField(t *testing.T, err error, field, msg string) {
	t.Helper()
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Field != field || !strings.Contains(ve.Msg, msg) {
		t.Fatalf("err = %v, want a %q error with %q", err, field, msg)
	}
}

func TestDeviceLinesAndKeys(t *testing.T) {
	e := pvStart(t, ModeSingle)
	acc := e.accountsFor(t, "301", "302", "303")
	save := func(id, patch string) (Device, error) {
		return e.s.SaveDevice(e.ctx, e.actor, e.tenant, id, json.RawMessage(patch))
	}
	lines := func(ids ...string) string {
		var l []string
		for _, id := range ids {
			l = append(l, `{"account":"`+id+`"}`)
		}
		return `"lines":[` + strings.Join(l, ",") + `]`
	}
	// Yealink T31P: 2 lines, 2 keys, no expansion module.
	d, err := save("", `{"mac":"00:15:65:00:00:31","model":"yealink-t31p",`+lines(acc[0], acc[1])+`}`)
	if err != nil {
		t.Fatal(err)
	}
	if d.Account != acc[0] || len(d.Lines) != 2 || !d.Enabled {
		t.Fatalf("device %+v", d)
	}
	_, err = save(d.ID, `{`+lines(acc[0], acc[1], acc[2])+`}`)
	wantField(t, err, "lines", "holds 2 line")
	_, err = save(d.ID, `{`+lines(acc[0], acc[0])+`}`)
	wantField(t, err, "lines", "same account")
	_, err = save(d.ID, `{"lines":[{"account":"`+acc[0]+`"},{"account":"nope"}]}`)
	wantField(t, err, "lines", "line 2")
	_, err = save(d.ID, `{"account":""}`)
	wantField(t, err, "account", "2 lines")
	_, err = save(d.ID, `{"account":"`+acc[1]+`",`+lines(acc[0])+`}`)
	wantField(t, err, "account", "differ")
	// "account" alone replaces line 1 and keeps line 2.
	if d, err = save(d.ID, `{"account":"`+acc[2]+`"}`); err != nil || len(d.Lines) != 2 || d.Lines[0].Account != acc[2] || d.Lines[1].Account != acc[1] {
		t.Fatalf("account patch: %+v %v", d.Lines, err)
	}

	// Keys: placed in order, limited by the model.
	d, err = save(d.ID, `{"keys":[{"type":"blf","value":"302","label":"Bob"},{"type":"speed_dial","value":"0612345678"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if d.Keys[0].Index != 1 || d.Keys[1].Index != 2 || d.Keys[0].Line != 1 {
		t.Fatalf("keys not placed: %+v", d.Keys)
	}
	for _, c := range []struct{ keys, msg string }{
		{`[{"type":"blf","value":"1"},{"type":"blf","value":"2"},{"type":"blf","value":"3"}]`, "has 2 key"},
		{`[{"type":"blf","value":"1","module":1,"index":1}]`, "expansion module"},
		{`[{"type":"shout","value":"1"}]`, "not one of"},
		{`[{"type":"blf"}]`, "needs a value"},
		{`[{"type":"url","value":"ftp://x"}]`, "http"},
		{`[{"type":"blf","value":"1","index":1},{"type":"dnd","index":1}]`, "both at position 1"},
		{`[{"type":"blf","value":"1","line":3}]`, "line 3"},
		{`[{"type":"blf","value":"1\nx"}]`, "one line"},
	} {
		_, err := save(d.ID, `{"keys":`+c.keys+`}`)
		wantField(t, err, "keys", c.msg)
	}
	// Poly VVX 250 maps only BLF and park keys.
	pd, err := save("", `{"mac":"00:04:F2:00:00:01","model":"poly-vvx250","account":"`+acc[0]+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = save(pd.ID, `{"keys":[{"type":"speed_dial","value":"1"}]}`)
	wantField(t, err, "keys", "no speed_dial key")

	// The file has both lines and both keys; the audit row has the change.
	e.sync(t)
	f, ok := e.s.Lookup(e.tenant, "001565000031.cfg")
	if !ok {
		t.Fatal("no file")
	}
	body := string(f.Body)
	for _, want := range []string{"account.1.user_name = 303\n", "account.2.user_name = 302\n", "account.2.password = pw-302-Secret\n",
		"linekey.1.type = 16\n", "linekey.1.value = 302\n", "linekey.1.label = Bob\n", "linekey.2.type = 13\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("file lacks %q:\n%s", want, body)
		}
	}
	rows, _, err := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindDevice, ObjectID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		found = found || strings.Contains(string(r.After), `"speed_dial"`) && strings.Contains(string(r.After), acc[1])
	}
	if !found {
		t.Errorf("no audit row with the keys and lines: %d rows", len(rows))
	}
	// An account on line 2 cannot be deleted.
	err = e.s.DeleteAccount(e.ctx, e.actor, e.tenant, acc[1])
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "line") {
		t.Fatalf("deleting the account of line 2: %v", err)
	}
}

// TestDeviceStoredBeforeLines: a device document with an account only (as
// stored before lines existed) is read as one line, renders, and keeps its
// account when saved again.
func TestDeviceStoredBeforeLines(t *testing.T) {
	e := pvStart(t, ModeSingle)
	var raw map[string]any
	if _, err := e.st.Update(e.ctx, e.actor, func(tx *store.Tx) error {
		if _, err := tx.Get(KindDevice, e.device, &raw); err != nil {
			return err
		}
		delete(raw, "lines")
		delete(raw, "keys")
		return tx.Replace(KindDevice, e.tenant, e.device, raw, "as an older version stored it")
	}); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	d, err := e.s.Device(e.ctx, e.tenant, e.device)
	if err != nil || len(d.Lines) != 1 || d.Lines[0].Account != e.account {
		t.Fatalf("old device read as %+v %v", d.Lines, err)
	}
	if f, ok := e.s.Lookup(e.tenant, pvFile); !ok || !strings.Contains(string(f.Body), "secret-201") {
		t.Fatalf("old device not rendered")
	}
	if d, err = e.s.SaveDevice(e.ctx, e.actor, e.tenant, e.device, json.RawMessage(`{"notes":"x"}`)); err != nil || d.Account != e.account || len(d.Lines) != 1 {
		t.Fatalf("saved again: %+v %v", d, err)
	}
}

// TestDECTBaseHandsets: a Gigaset N670 with three lines is three handsets.
func TestDECTBaseHandsets(t *testing.T) {
	e := pvStart(t, ModeSingle)
	acc := e.accountsFor(t, "3001", "3002", "3003")
	patch := fmt.Sprintf(`{"mac":"7C:2F:80:00:00:01","model":"gigaset-n670","lines":[{"account":%q},{"account":%q},{"account":%q}]}`, acc[0], acc[1], acc[2])
	if _, err := e.s.SaveDevice(e.ctx, e.actor, e.tenant, "", json.RawMessage(patch)); err != nil {
		t.Fatal(err)
	}
	e.sync(t)
	f, ok := e.s.Lookup(e.tenant, "7c2f80000001.xml")
	if !ok {
		t.Fatal("no file")
	}
	for i, x := range []string{"3001", "3002", "3003"} {
		for _, want := range []string{fmt.Sprintf(`<oper name="add_hs" value="%05d">`, i+1),
			fmt.Sprintf(`<param name="SipAccount.%05d.UserName" value="%s"/>`, i+1, x),
			fmt.Sprintf(`<param name="hs.%05d.DECT_AC" value="%s"/>`, i+1, x)} {
			if !strings.Contains(string(f.Body), want) {
				t.Errorf("handset %d: file lacks %q", i+1, want)
			}
		}
	}
	if strings.Contains(string(f.Body), `value="00004"`) {
		t.Error("a fourth handset")
	}
}

func TestCSVLinesAndKeys(t *testing.T) {
	e := pvStart(t, ModeSingle)
	e.accountsFor(t, "401", "402", "403")
	dev := "mac,model,lines\n00:15:65:00:04:01,yealink-t54w,401;402;403\n00:15:65:00:04:02,yealink-t54w,402\n"
	if _, err := e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader(dev)); err != nil {
		t.Fatal(err)
	}
	keys := "mac,module,index,type,value,label,line\n" +
		"00:15:65:00:04:01,0,3,blf,402,Bob,1\n" +
		"00:15:65:00:04:01,1,5,park,701,P1,2\n" +
		"00:15:65:00:04:01,,,speed_dial,0612,,\n" +
		"001565000402,0,1,dnd,,,\n"
	res, err := e.s.ImportKeys(e.ctx, e.actor, e.tenant, strings.NewReader(keys))
	if err != nil || res.Updated != 2 {
		t.Fatalf("import keys: %+v %v", res, err)
	}
	var out strings.Builder
	if err := e.s.ExportKeys(e.ctx, e.tenant, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"00:15:65:00:04:01,0,3,blf,402,Bob,1", "00:15:65:00:04:01,1,5,park,701,P1,2",
		"00:15:65:00:04:01,0,1,speed_dial,0612,,1", "00:15:65:00:04:02,0,1,dnd,,,1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("keys export lacks %q:\n%s", want, out.String())
		}
	}
	var devs strings.Builder
	if err := e.s.ExportDevices(e.ctx, e.tenant, &devs, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(devs.String(), "00:15:65:00:04:01,yealink-t54w,,401,401;402;403,true") {
		t.Errorf("devices export:\n%s", devs.String())
	}
	// A bad row names its line and imports nothing.
	bad := "mac,type,value\n00:15:65:00:04:02,blf,405\n00:15:65:00:04:01,speed_dial,\n"
	_, err = e.s.ImportKeys(e.ctx, e.actor, e.tenant, strings.NewReader(bad))
	var ve *store.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Msg, "line 3") || !strings.Contains(ve.Msg, "needs a value") {
		t.Fatalf("bad keys: %v", err)
	}
	if d, _ := e.s.DeviceByMAC(e.ctx, e.tenant, "001565000402"); len(d.Keys) != 1 || d.Keys[0].Type != KeyDND {
		t.Errorf("a failed import changed keys: %+v", d.Keys)
	}
	// The first line must agree with account_extension.
	_, err = e.s.ImportDevices(e.ctx, e.actor, e.tenant, strings.NewReader("mac,model,account_extension,lines\n00:15:65:00:04:03,yealink-t54w,402,401;402\n"))
	if !errors.As(err, &ve) || ve.Field != "account_extension" {
		t.Fatalf("mismatched account_extension: %v", err)
	}
}
