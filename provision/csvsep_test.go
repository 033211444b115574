package provision

import (
	"strings"
	"testing"
)

// TestCSVSemicolonAndBOM: what Italian Excel writes (";" separators, a UTF-8
// byte order mark, CRLF, a comma inside a value) imports like the comma form;
// a header with as many of each keeps ",".
func TestCSVSemicolonAndBOM(t *testing.T) {
	e := pvStart(t, ModeMulti)
	excel := "\ufeffextension;sip_password;display_name\r\n401;Str0ng-Pw-401x;\"Rossi, Mario\"\r\n402;Str0ng-Pw-402x;Anna Bianchi\r\n"
	res, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(excel))
	if err != nil || res.Created != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	accs, err := e.s.Accounts(e.ctx, e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, a := range accs {
		names[a.Extension] = a.DisplayName
	}
	if names["401"] != "Rossi, Mario" || names["402"] != "Anna Bianchi" {
		t.Errorf("imported %v", names)
	}
	// A comma file with a semicolon in a value stays a comma file.
	comma := "extension,sip_password,display_name\n403,Str0ng-Pw-403x,\"a;b;c;d\"\n"
	if res, err := e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader(comma)); err != nil || res.Created != 1 {
		t.Fatalf("comma import: %+v %v", res, err)
	}
	// The error of a bad ';' file names the column as the user wrote it.
	_, err = e.s.ImportAccounts(e.ctx, e.actor, e.tenant, strings.NewReader("ext;sip_password\n1;x\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown column "ext"`) {
		t.Errorf("bad header: %v", err)
	}
}
