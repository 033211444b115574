package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdp "github.com/chromedp/chromedp"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// TestPhonebookPanel: a contact created, searched, edited and deleted through
// the page; the form's own check and the daemon's refusal each naming the
// field; a CSV import refused with its bad lines listed, then one accepted;
// the phones' files listed and served with the new contact; the audit rows;
// the page in Italian with nothing untranslated.
func TestPhonebookPanel(t *testing.T) {
	env := webuitest.Shared(t)
	ten := env.NewTenant(t)
	p, u := env.Page(t, "en", "admin", ten)

	p.Go("phonebook")
	p.WaitVisible("#phonebook tr.empty")
	p.Shot("empty")

	// The form's own check: a name or a company.
	p.Go("phonebook/new")
	p.Submit("#contact-form")
	if msg := p.FieldError("#contact-form", "name"); !strings.Contains(msg, "name or a company") {
		t.Errorf("empty contact: %q", msg)
	}
	// The daemon refuses a number that is not one, naming the field.
	p.Fill("#contact-form", "name", "Ada Lovelace")
	p.Fill("#contact-form", "company", "Analytical Engines")
	p.Fill("#contact-form", "workphone", "call me")
	p.Submit("#contact-form")
	if msg := p.FieldError("#contact-form", "workphone"); msg == "" {
		t.Error("bad number not marked")
	}
	p.Fill("#contact-form", "workphone", "0721 405516")
	p.Fill("#contact-form", "cellphone", "+39 333 1234567")
	p.Fill("#contact-form", "notes", `<img src=x id=injected> met in 1843`)
	p.Submit("#contact-form")
	p.Reshown("phonebook")
	p.WaitVisible("#phonebook tr[data-id]")
	row := p.Text("#phonebook tr[data-id]")
	if !strings.Contains(row, "Ada Lovelace") || !strings.Contains(row, "0721 405516") || !strings.Contains(row, "Public") {
		t.Errorf("new row: %q", row)
	}
	var list struct {
		Items []struct {
			ID        int64  `json:"id"`
			Notes     string `json:"notes"`
			CellPhone string `json:"cellphone"`
		} `json:"items"`
	}
	if code, err := env.D.API("GET", "/tenants/"+ten+"/phonebook?q=lovelace", env.Token, nil, &list); err != nil || code != 200 || len(list.Items) != 1 {
		t.Fatalf("contact via the API: %d %v %+v", code, err, list)
	}
	id := list.Items[0].ID
	if list.Items[0].Notes != `<img src=x id=injected> met in 1843` {
		t.Errorf("notes saved as %q", list.Items[0].Notes)
	}

	// A CSV file with bad lines: nothing imported, every bad line listed.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("name;workphone\nGrace Hopper;0721 1\nNo number;call me\n;\n;0721 2\n"), 0o600)
	p.Run("choose the bad CSV", cdp.SetUploadFiles(cdp.CSS("#phonebook-import-file"), []string{bad}))
	p.WaitVisible("#phonebook-import-errors")
	if n := p.Count("#phonebook-import-errors li"); n != 2 {
		t.Errorf("%d bad lines listed: %q", n, p.Text("#phonebook-import-errors"))
	}
	if s := p.Text("#phonebook-import-errors"); !strings.Contains(s, "Line 3") || !strings.Contains(s, "workphone") || !strings.Contains(s, "Line 5") {
		t.Errorf("bad lines: %q", s)
	}
	p.Shot("import-errors")
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("\ufeffname;company;mobile\nGrace Hopper;Navy;333 7654321\n"), 0o600)
	p.Run("choose the good CSV", cdp.SetUploadFiles(cdp.CSS("#phonebook-import-file"), []string{good}))
	p.Reshown("phonebook")
	p.WaitVisible("#phonebook tr[data-id]:nth-child(2)")

	// Search, server side.
	p.Type("#phonebook-search input", "hopper")
	p.Reshown("phonebook?q=hopper")
	if n := p.Count("#phonebook tr[data-id]"); n != 1 {
		t.Errorf("search: %d rows", n)
	}

	// Edit the first contact: a new mobile number.
	p.Go("phonebook/" + itoa(id))
	p.WaitVisible("#contact-form")
	p.Fill("#contact-form", "cellphone", "+39 333 0000000")
	p.Submit("#contact-form")
	p.Reshown("phonebook")
	if code, err := env.D.API("GET", "/tenants/"+ten+"/phonebook?q=lovelace", env.Token, nil, &list); err != nil || code != 200 || list.Items[0].CellPhone != "+39 333 0000000" {
		t.Fatalf("after the edit: %d %v %+v", code, err, list)
	}

	// The phones' files, and the Yealink file served with both contacts.
	p.Go("phonebook/files")
	p.WaitVisible(`#phonebook-files tr[data-vendor="Yealink"]`)
	path := strings.TrimSpace(strings.Fields(p.Text(`#phonebook-files tr[data-vendor="Yealink"]`))[1])
	if path != "/provisioning/"+ten+"/phonebook/yealink.xml" {
		t.Errorf("Yealink path shown: %q", path)
	}
	resp, body, err := env.D.Get(path)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "Ada Lovelace (Analytical Engines)") || !strings.Contains(string(body), "Grace Hopper") {
		t.Fatalf("the directory served: %v %v %s", resp, err, body)
	}
	if p.Count("#injected") != 0 {
		t.Error("a contact's notes were parsed as HTML")
	}

	// Italian: every text from the catalog or data.
	pi, _ := env.Page(t, "it", "admin", ten)
	for _, route := range []string{"phonebook", "phonebook/" + itoa(id), "phonebook/files", "phonebook/new"} {
		pi.Go(route)
		for _, bad := range pi.Untranslated() {
			t.Errorf("#/%s: %s", route, bad)
		}
	}

	// Delete, after confirming; the audit rows are this user's.
	p.Go("phonebook/" + itoa(id))
	p.Click("#contact-delete")
	p.Confirm()
	p.Reshown("phonebook")
	p.WaitGone(`#phonebook tr[data-id="` + itoa(id) + `"]`)
	for _, action := range []string{"create", "update", "delete"} {
		if rows := env.AuditRows(t, "object_type=phonebook_contact&action="+action+"&user="+u.Name); len(rows) < 1 {
			t.Errorf("no audit row of the %s", action)
		}
	}

	// An auditor reads and has no buttons that write.
	pa, _ := env.Page(t, "en", "auditor", ten)
	pa.Go("phonebook")
	pa.WaitVisible("#phonebook tr[data-id]")
	if pa.Count("#add-contact") != 0 || pa.Count("#phonebook-import") != 0 {
		t.Error("an auditor sees the add or import buttons")
	}
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
