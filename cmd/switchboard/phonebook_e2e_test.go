package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/cti"
	"github.com/switchboard-pbx/switchboard/cti/amitest"
)

// curl fetches a URL as a phone does (the real curl: HTTP and HTTPS, basic
// authentication, conditional requests) and returns the status, headers and body.
func curl(t *testing.T, args ...string) (int, http.Header, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed: .ci/run installs it")
	}
	out, err := exec.Command("curl", append([]string{"-sk", "-i", "--max-time", "10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	lines := strings.Split(head, "\n")
	var code int
	fmt.Sscanf(lines[0], "HTTP/%s %d", new(string), &code)
	h := http.Header{}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return code, h, body
}

type yealinkFile struct {
	XMLName xml.Name `xml:"YealinkIPPhoneDirectory"`
	Entries []struct {
		Name      string   `xml:"Name"`
		Telephone []string `xml:"Telephone"`
	} `xml:"DirectoryEntry"`
}

// The phonebook through the real daemon: the CLI and the admin API with their
// roles, CSV files, the desk phones' directory over HTTP and HTTPS (curl),
// the tenant's provisioning authentication, and the CTI endpoints.
func TestPhonebookThroughDaemon(t *testing.T) {
	ami, err := amitest.Start("sb", "amipw")
	if err != nil {
		t.Fatal(err)
	}
	defer ami.Close()
	d := newDaemon(t, fmt.Sprintf("tenancy:\n  mode: multi\ncti:\n  enabled: true\n  bcrypt_cost: 4\n  ami:\n    address: %q\n    username: sb\n    secret: amipw\n", ami.Addr()))
	d.start()

	// The default tenant's UUID, for the phones' URLs.
	var tenants struct {
		Items []struct{ ID, Name string }
	}
	d.socketJSON("GET", "/api/v1/tenants", nil, &tenants)
	tenant := tenants.Items[0].ID

	// CLI: add, bad input refused naming the field, list.
	out, errOut, code := d.cli("", "phonebook", "add", "--name", "Mario Rossi", "--company", "ACME", "--work", "0721 405516", "--mobile", "+39 333 1234567", "--extension", "201")
	if code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("phonebook add: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := d.cli("", "phonebook", "add", "--name", "X", "--work", "call me"); code != 1 || !strings.Contains(errOut, "workphone") {
		t.Fatalf("bad number: %d %s", code, errOut)
	}
	// CSV: a spreadsheet's export (BOM, ';'), then a bad file refused by line.
	good := filepath.Join(d.dir, "contacts.csv")
	os.WriteFile(good, []byte("\ufeffname;company;mobile;workphone\r\nAnna Bianchi;Beta;333 7654321;\r\nLuca Verdi;;;0721 111\r\n"), 0o600)
	if out, errOut, code := d.cli("", "phonebook", "import", good); code != 0 || !strings.Contains(out, "2 created") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	bad := filepath.Join(d.dir, "bad.csv")
	os.WriteFile(bad, []byte("name,workphone\nOk,1\nBad,call me\n,2\n"), 0o600)
	if _, errOut, code := d.cli("", "phonebook", "import", bad); code != 1 || !strings.Contains(errOut, "line 3 (workphone)") || !strings.Contains(errOut, "line 4") {
		t.Fatalf("bad import: %d %s", code, errOut)
	}
	out, _, _ = d.cli("", "phonebook", "list")
	if !strings.Contains(out, "Mario Rossi") || !strings.Contains(out, "Anna Bianchi") || strings.Contains(out, "Ok") {
		t.Fatalf("phonebook list:\n%s", out)
	}
	if out, _, _ := d.cli("", "phonebook", "list", "bianchi"); !strings.Contains(out, "Anna") || strings.Contains(out, "Mario") {
		t.Fatalf("phonebook list bianchi:\n%s", out)
	}
	out, _, _ = d.cli("", "phonebook", "export")
	if !strings.HasPrefix(out, "id,owner_id,type,") || strings.Count(out, "\n") != 4 {
		t.Fatalf("export:\n%s", out)
	}
	if out, _, _ := d.cli("", "audit", "list", "--type", "phonebook_contact"); strings.Count(out, "cli:") != 3 {
		t.Fatalf("contacts not audited one by one:\n%s", out)
	}

	// The phones' directory, over plain HTTP and HTTPS.
	url := "/provisioning/" + tenant + "/phonebook/yealink.xml"
	var etag string
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h, body := curl(t, "http://"+d.plain+url)
		var y yealinkFile
		if code == 200 && xml.Unmarshal([]byte(body), &y) == nil && len(y.Entries) == 3 {
			if y.Entries[1].Name != "Luca Verdi" || strings.Join(y.Entries[2].Telephone, ",") != "201,0721 405516,+39 333 1234567" ||
				!strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
				t.Fatalf("yealink file: %+v %v", y, h)
			}
			etag = h.Get("Etag")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("yealink file: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, body := curl(t, "https://"+d.https+"/provisioning/"+tenant+"/phonebook/grandstream.xml"); code != 200 || !strings.Contains(body, "<AddressBook>") {
		t.Fatalf("grandstream over HTTPS: %d %s", code, body)
	}
	if code, _, _ := curl(t, "-H", "If-None-Match: "+etag, "http://"+d.plain+url); code != 304 {
		t.Fatalf("conditional GET: %d", code)
	}
	if code, _, _ := curl(t, "http://"+d.plain+"/provisioning/"+tenant+"/phonebook/../phonebook/yealink.xml", "--path-as-is"); code != 404 {
		t.Fatalf("a path with .. served: %d", code)
	}
	// A change reaches the file (new ETag).
	if _, errOut, code := d.cli("", "phonebook", "add", "--name", "Zoe Neri", "--home", "0721 222"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, h, body := curl(t, "http://"+d.plain+url)
		if h.Get("Etag") != etag && strings.Contains(body, "Zoe Neri") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file did not follow the change:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Over TFTP too (tftp-hpa's client), while the tenant has no authentication.
	if _, err := exec.LookPath("tftp"); err == nil {
		local := filepath.Join(d.dir, "snom.xml")
		host, port, _ := strings.Cut(d.tftp, ":")
		if out, err := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", tenant+"/phonebook/snom.xml", local).CombinedOutput(); err != nil {
			t.Fatalf("tftp get: %v %s", err, out)
		}
		if b, _ := os.ReadFile(local); !strings.Contains(string(b), "<tbook") || !strings.Contains(string(b), "Zoe Neri") {
			t.Fatalf("TFTP directory: %s", b)
		}
	}

	// Roles on the admin API: a tenant admin of another tenant sees nothing,
	// an auditor reads and cannot write.
	d.addAdmin("root", "root-password-1")
	for _, args := range [][]string{
		{"tenant", "add", "acme"},
		{"user", "add", "acme-admin", "--role", "tenant_admin", "--tenant", "acme", "--password-stdin"},
		{"user", "add", "aud", "--role", "auditor", "--password-stdin"},
	} {
		if out, errOut, code := d.cli("other-password-1\n", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	acme := d.login("acme-admin", "other-password-1")
	if code, _, _, _ := d.request("GET", "/api/v1/tenants/"+tenant+"/phonebook", acme, nil); code != 404 {
		t.Fatalf("tenant admin reads another tenant's phonebook: %d", code)
	}
	var acmeID string
	for _, l := range strings.Split(func() string { o, _, _ := d.cli("", "tenant", "list"); return o }(), "\n") {
		if strings.Contains(l, "acme") {
			acmeID = strings.Fields(l)[0]
		}
	}
	if code, out, _, _ := d.request("POST", "/api/v1/tenants/"+acmeID+"/phonebook", acme, map[string]any{"name": "Acme's", "workphone": "9"}); code != 201 || out["source"] != "centralized" {
		t.Fatalf("tenant admin adds to its tenant: %d %v", code, out)
	}
	if code, out, _, _ := d.request("POST", "/api/v1/tenants/"+acmeID+"/phonebook", acme, map[string]any{"name": "x", "phone": "9"}); code != 400 || out["field"] != "phone" {
		t.Fatalf("unknown field: %d %v", code, out)
	}
	aud := d.login("aud", "other-password-1")
	code, list, _, _ := d.request("GET", "/api/v1/tenants/"+tenant+"/phonebook?q=rossi", aud, nil)
	if code != 200 || list["total"] != float64(1) {
		t.Fatalf("auditor reads: %d %v", code, list)
	}
	if code, _, _, _ := d.request("POST", "/api/v1/tenants/"+tenant+"/phonebook", aud, map[string]any{"name": "x"}); code != 403 {
		t.Fatalf("auditor writes: %d", code)
	}

	// The tenant's provisioning authentication protects the directory.
	if out, errOut, code := d.cli("", "pbx", "set", "--tenant", tenant, "http_auth=basic", "http_user=phones", "http_password=phones-secret-1"); code != 0 {
		t.Fatalf("pbx set: %s %s", out, errOut)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, _, _ := curl(t, "http://"+d.plain+url)
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("directory served without authentication: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, body := curl(t, "-u", "phones:phones-secret-1", "http://"+d.plain+url); code != 200 || !strings.Contains(body, "Mario Rossi") {
		t.Fatalf("with credentials: %d %s", code, body)
	}
	if _, err := exec.LookPath("tftp"); err == nil {
		local := filepath.Join(d.dir, "yealink.xml")
		host, port, _ := strings.Cut(d.tftp, ":")
		out, _ := exec.Command("tftp", host, port, "-m", "binary", "-c", "get", tenant+"/phonebook/yealink.xml", local).CombinedOutput()
		if !strings.Contains(string(out), "ccess violation") {
			t.Fatalf("TFTP under authentication: %s", out)
		}
		if b, err := os.ReadFile(local); err == nil && len(b) > 0 {
			t.Fatalf("TFTP served the directory of a tenant with authentication: %s %s", out, b)
		}
	}

	// The CTI: alice (phonebook macro) searches as nethlink does and adds a
	// private contact; bob does not see it.
	for _, args := range [][]string{
		{"cti", "profile", "set", "std", "--macro", "phonebook=on"},
		{"cti", "user", "add", "alice", "--extension", "201", "--endpoint", "201:physical", "--profile", "std", "--password-stdin"},
		{"cti", "user", "add", "bob", "--extension", "202", "--endpoint", "202:physical", "--profile", "std", "--password-stdin"},
	} {
		if out, errOut, code := d.cli("cti-password-1\n", args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	token := func(user string) string {
		resp, err := insecure.Post("https://"+d.https+"/webrest/authentication/login", "application/json",
			strings.NewReader(`{"username":"`+user+`","password":"cti-password-1"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		nonce, _ := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")
		return user + ":" + cti.Token(user, "cti-password-1", nonce)
	}
	webrest := func(auth, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "https://"+d.https+"/webrest"+path, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := insecure.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	alice, bob := token("alice"), token("bob")
	code, body := webrest(alice, "GET", "/phonebook/search/rossi?offset=0&limit=10&view=all", "")
	var res struct {
		Count int `json:"count"`
		Rows  []struct {
			ID     int64  `json:"id"`
			Name   string `json:"name"`
			Source string `json:"source"`
		} `json:"rows"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Count != 1 || res.Rows[0].Name != "Mario Rossi" || res.Rows[0].Source != "centralized" {
		t.Fatalf("CTI search: %d %s", code, body)
	}
	if code, body := webrest(alice, "POST", "/phonebook/create", `{"type":"private","name":"Alice's dentist","workphone":"0721 9","privacy":"private","favorite":false}`); code != 201 {
		t.Fatalf("CTI create: %d %s", code, body)
	}
	if _, body := webrest(bob, "GET", "/phonebook/search/dentist", ""); !regexp.MustCompile(`"count":0`).MatchString(body) {
		t.Fatalf("bob sees alice's private contact: %s", body)
	}
	if code, _ := webrest("", "GET", "/phonebook/search/rossi", ""); code != 401 {
		t.Fatalf("unauthenticated CTI search: %d", code)
	}
	if out, _, _ := d.cli("", "audit", "list", "--type", "phonebook_contact"); !strings.Contains(out, "cti:alice") {
		t.Fatalf("CTI write not audited with the CTI user:\n%s", out)
	}
}
