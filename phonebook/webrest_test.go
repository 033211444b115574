package phonebook

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/httpapi"
	"github.com/switchboard-pbx/switchboard/provision"
)

// testProfile is a CTI profile for the handlers: the permissions it grants.
type testProfile map[string]bool

func (p testProfile) Has(perm string) bool      { return p["perm:"+perm] }
func (p testProfile) MacroOn(macro string) bool { return p["macro:"+macro] }

// ctiServer mounts the handlers as the CTI's Mount does: the user from a
// header (the CTI checks the token), errors answered {"error","field"}.
func ctiServer(t *testing.T, e *env) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	profiles := map[string]testProfile{
		"alice": {"macro:phonebook": true},
		"bob":   {},
		"boss":  {"macro:phonebook": true, "perm:ad_phonebook": true},
	}
	err := e.pb.MountCTI(func(pattern string, h UserHandler) error {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			name := r.Header.Get("Authorization")
			p, ok := profiles[name]
			if !ok {
				httpapi.WriteError(w, http.StatusUnauthorized, "", "missing or expired token")
				return
			}
			if err := h(w, r, User{Username: name, IP: "127.0.0.1", Profile: p}); err != nil {
				status, field, msg, ok := httpapi.Status(err)
				if !ok {
					status, msg = http.StatusInternalServerError, err.Error()
				}
				httpapi.WriteError(w, status, field, msg)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, user, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Authorization", user)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// contactKeys are the keys nethcti's contact rows have (dbconn_phonebook's
// columns), every one read by some client.
var contactKeys = []string{"id", "owner_id", "type", "homeemail", "workemail", "homephone", "workphone", "cellphone",
	"fax", "title", "company", "notes", "name", "homestreet", "homepob", "homecity", "homeprovince", "homepostalcode",
	"homecountry", "workstreet", "workpob", "workcity", "workprovince", "workpostalcode", "workcountry", "url",
	"extension", "speeddial_num"}

func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameKeys(t *testing.T, what string, raw json.RawMessage, want []string) {
	t.Helper()
	w := append([]string(nil), want...)
	sort.Strings(w)
	if got := keysOf(t, raw); strings.Join(got, ",") != strings.Join(w, ",") {
		t.Fatalf("%s keys:\n got %v\nwant %v", what, got, w)
	}
}

func TestCTIEndpoints(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	srv := ctiServer(t, e)

	// nethlink's createContact: its own extra fields (privacy, favorite,
	// selectedPrefNum) are ignored.
	code, body := call(t, srv, "alice", "POST", "/webrest/phonebook/create", map[string]any{
		"privacy": "private", "type": "private", "name": "Dentist", "company": "Studio", "extension": "",
		"workphone": "0721 999", "cellphone": "", "workemail": "d@studio.it", "notes": "", "favorite": false, "selectedPrefNum": "extension",
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct{ ID int64 }
	json.Unmarshal(body, &created)
	// nethlink's createSpeeddial.
	if code, body := call(t, srv, "alice", "POST", "/webrest/phonebook/create", map[string]any{
		"name": "Mum", "privacy": "private", "favorite": true, "selectedPrefNum": "extension", "setInput": "", "type": "speeddial", "speeddial_num": "0721 111",
	}); code != http.StatusCreated {
		t.Fatalf("create speed dial: %d %s", code, body)
	}
	// bob's profile has no phonebook macro: he may not publish.
	if code, body := call(t, srv, "bob", "POST", "/webrest/phonebook/create", map[string]any{"type": "public", "name": "Spam", "workphone": "1"}); code != http.StatusForbidden {
		t.Fatalf("bob publishes: %d %s", code, body)
	}
	if code, _ := call(t, srv, "alice", "POST", "/webrest/phonebook/create", map[string]any{"type": "public", "name": "Shared", "company": "ACME", "workphone": "0721 405516"}); code != http.StatusCreated {
		t.Fatalf("alice publishes: %d", code)
	}
	for _, bad := range []map[string]any{
		{"name": "no type"}, {"type": "public"}, {"type": "public", "name": "x", "workphone": []int{1}},
		{"type": "nope", "name": "x"}, {"type": "private", "name": "x", "cellphone": "not a number"},
	} {
		if code, body := call(t, srv, "alice", "POST", "/webrest/phonebook/create", bad); code != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Errorf("create %v: %d %s", bad, code, body)
		}
	}
	if code, _ := call(t, srv, "nobody", "GET", "/webrest/phonebook/search/x", nil); code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated search: %d", code)
	}

	// The search replayed as nethlink sends it.
	code, body = call(t, srv, "alice", "GET", "/webrest/phonebook/search/"+url.PathEscape("dent")+"?offset=0&limit=10&view=all", nil)
	if code != http.StatusOK {
		t.Fatalf("search: %d %s", code, body)
	}
	var res struct {
		Count int               `json:"count"`
		Rows  []json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.Count != 1 || len(res.Rows) != 1 {
		t.Fatalf("search answer %s: %v", body, err)
	}
	sameKeys(t, "search row", res.Rows[0], append(contactKeys, "source"))
	var row ctiView
	json.Unmarshal(res.Rows[0], &row)
	if row.ID != created.ID || row.Source != "cti" || row.OwnerID != "alice" || row.Name != "Dentist" {
		t.Fatalf("row %+v", row)
	}
	// bob does not find alice's private contact; anyone finds the public one.
	if _, body := call(t, srv, "bob", "GET", "/webrest/phonebook/search/dent", nil); !strings.Contains(string(body), `"count":0`) {
		t.Fatalf("bob's search: %s", body)
	}
	// The company view, as phone-island JSON.parses its contacts.
	_, body = call(t, srv, "bob", "GET", "/webrest/phonebook/search/acme?offset=0&limit=50&view=company", nil)
	json.Unmarshal(body, &res)
	if res.Count != 1 {
		t.Fatalf("company view: %s", body)
	}
	sameKeys(t, "company row", res.Rows[0], []string{"id", "company", "owner_id", "workstreet", "workcity", "workprovince",
		"workcountry", "workphone", "homephone", "cellphone", "fax", "workemail", "url", "type", "title", "notes", "source", "contacts"})
	var crow struct {
		ID       *int64 `json:"id"`
		Company  string `json:"company"`
		Contacts string `json:"contacts"`
	}
	json.Unmarshal(res.Rows[0], &crow)
	var people []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal([]byte(crow.Contacts), &people); err != nil || crow.ID != nil || crow.Company != "ACME" ||
		len(people) != 1 || people[0].Name != "Shared" || people[0].Source != "cti" {
		t.Fatalf("company row %s: %v", res.Rows[0], err)
	}
	for _, q := range []string{"?offset=-1", "?limit=x", "?view=everything"} {
		if code, _ := call(t, srv, "alice", "GET", "/webrest/phonebook/search/a"+q, nil); code != http.StatusBadRequest {
			t.Errorf("search %s: %d", q, code)
		}
	}

	// One contact: the owner reads it; another user gets 403, an unknown id {}.
	code, body = call(t, srv, "alice", "GET", "/webrest/phonebook/cticontact/"+itoa(created.ID), nil)
	if code != http.StatusOK {
		t.Fatalf("cticontact: %d %s", code, body)
	}
	sameKeys(t, "cticontact", body, append(contactKeys, "source"))
	if code, _ := call(t, srv, "bob", "GET", "/webrest/phonebook/contact/"+itoa(created.ID), nil); code != http.StatusForbidden {
		t.Fatalf("bob reads alice's contact: %d", code)
	}
	if code, body := call(t, srv, "bob", "GET", "/webrest/phonebook/contact/999999", nil); code != http.StatusOK || string(body) != "{}\n" {
		t.Fatalf("unknown contact: %d %q", code, body)
	}

	// Speed dials: an array of contacts without source.
	code, body = call(t, srv, "alice", "GET", "/webrest/phonebook/speeddials", nil)
	var dials []json.RawMessage
	if code != http.StatusOK || json.Unmarshal(body, &dials) != nil || len(dials) != 1 {
		t.Fatalf("speeddials: %d %s", code, body)
	}
	sameKeys(t, "speed dial", dials[0], contactKeys)
	var dial ctiView
	json.Unmarshal(dials[0], &dial)

	// nethlink's updateSpeeddial sends the whole object back, the id as a string.
	upd := map[string]any{}
	json.Unmarshal(dials[0], &upd)
	upd["id"] = itoa(dial.ID)
	upd["speeddial_num"] = "0721 112"
	upd["owner_id"] = "bob" // never taken from a client
	if code, body := call(t, srv, "alice", "POST", "/webrest/phonebook/modify_cticontact", upd); code != http.StatusOK {
		t.Fatalf("modify: %d %s", code, body)
	}
	got, _ := e.pb.Contact(e.tenant, dial.ID)
	if got.SpeedDialNum != "0721 112" || got.Owner != "alice" {
		t.Fatalf("after modify: %+v", got)
	}
	// bob may not change or delete alice's; boss (ad_phonebook) may.
	if code, _ := call(t, srv, "bob", "POST", "/webrest/phonebook/modify_cticontact", map[string]any{"id": dial.ID, "name": "x"}); code != http.StatusForbidden {
		t.Fatalf("bob modifies: %d", code)
	}
	if code, _ := call(t, srv, "bob", "POST", "/webrest/phonebook/delete_cticontact", map[string]any{"id": itoa(created.ID)}); code != http.StatusForbidden {
		t.Fatalf("bob deletes: %d", code)
	}
	if code, body := call(t, srv, "boss", "POST", "/webrest/phonebook/modify_cticontact", map[string]any{"id": created.ID, "notes": "checked"}); code != http.StatusOK {
		t.Fatalf("boss modifies: %d %s", code, body)
	}
	for _, bad := range []map[string]any{{}, {"id": "abc"}, {"id": -1}, {"id": 9007199254740993}} {
		if code, _ := call(t, srv, "alice", "POST", "/webrest/phonebook/delete_cticontact", bad); code != http.StatusBadRequest {
			t.Errorf("delete %v: %d", bad, code)
		}
	}
	if code, _ := call(t, srv, "alice", "POST", "/webrest/phonebook/delete_cticontact", map[string]any{"id": "424242"}); code != http.StatusNotFound {
		t.Fatalf("delete of nothing: %d", code)
	}
	if code, body := call(t, srv, "alice", "POST", "/webrest/phonebook/delete_cticontact", map[string]any{"id": itoa(created.ID)}); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}

	// CSV import (nethvoice-cti sends a data: URL), then delete them all.
	csv := "name,speeddial_num\r\nPizza,0721 1\r\nTaxi,0721 2\r\n"
	code, body = call(t, srv, "alice", "POST", "/webrest/phonebook/import_csv_speeddial", map[string]string{
		"file64": "data:text/csv;base64," + base64.StdEncoding.EncodeToString([]byte(csv))})
	if code != http.StatusOK || string(body) != "{\"num\":2}\n" {
		t.Fatalf("import: %d %s", code, body)
	}
	code, body = call(t, srv, "alice", "POST", "/webrest/phonebook/import_csv_speeddial", map[string]string{
		"file64": base64.StdEncoding.EncodeToString([]byte("name,speeddial_num\nA,1\nB,xyz\nC,\n"))})
	var ie struct {
		Error  string      `json:"error"`
		Errors []LineError `json:"errors"`
	}
	if code != http.StatusBadRequest || json.Unmarshal(body, &ie) != nil || len(ie.Errors) != 2 || ie.Errors[0].Line != 3 || ie.Errors[1].Line != 4 {
		t.Fatalf("bad import: %d %s", code, body)
	}
	if code, _ := call(t, srv, "bob", "POST", "/webrest/phonebook/import_csv_speeddial", map[string]string{"file64": "eA=="}); code != http.StatusForbidden {
		t.Fatalf("bob imports without the phonebook macro: %d", code)
	}
	code, body = call(t, srv, "alice", "DELETE", "/webrest/phonebook/speeddials", nil)
	if code != http.StatusOK || string(body) != "{\"num\":3}\n" {
		t.Fatalf("delete speed dials: %d %s", code, body)
	}
	if _, body := call(t, srv, "alice", "GET", "/webrest/phonebook/speeddials", nil); string(body) != "[]\n" {
		t.Fatalf("speed dials after delete: %s", body)
	}
	// A form body is read as nethcti reads it.
	req, _ := http.NewRequest("POST", srv.URL+"/webrest/phonebook/create", strings.NewReader("type=private&name=Form&workphone=123"))
	req.Header.Set("Authorization", "bob")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("form create: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
