package phonebook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-pbx/switchboard/provision"
	"github.com/switchboard-pbx/switchboard/store"
)

func TestImportSemicolonsBOMAndQuotes(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	// What a spreadsheet saves as "CSV UTF-8" where the decimal mark is a comma.
	file := "\ufeffName;Company;Mobile;workphone;notes;type\r\n" +
		"Mario Rossì;\"ACME; Figli\";333 1234567;0721 405516;\"line one\nline two\";\r\n" +
		"Anna Bianchi;Beta;;0721 400000;;public\r\n" +
		";;;;;\r\n" // a row of separators only: skipped
	res, err := e.pb.Import(e.ctx, e.admin, e.tenant, []byte(file))
	if err != nil || res.Created != 2 || res.Updated != 0 {
		t.Fatalf("import: %+v %v", res, err)
	}
	p := e.pb.book(e.tenant).search("rossi", ViewAll, "", 0, -1)
	if p.Count != 1 {
		t.Fatalf("imported contact not found: %+v", p)
	}
	c := p.Rows[0]
	if c.Company != "ACME; Figli" || c.CellPhone != "333 1234567" || c.Notes != "line one\nline two" || c.Type != TypePublic {
		t.Fatalf("imported %+v", c)
	}
	rows, _, err := e.st.Audit(e.ctx, store.AuditFilter{ObjectType: KindContact})
	if err != nil || len(rows) != 2 || rows[0].TxID != rows[1].TxID {
		t.Fatalf("an import is one transaction with a row per contact: %d rows %v", len(rows), err)
	}
}

func TestImportAllOrNothingWithErrorsByLine(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	rev := e.st.Revision()
	file := "name,workphone,type,owner_id\n" +
		"Good,100,public,\n" +
		"Bad number,call me,public,\n" +
		",,public,\n" +
		"Private without owner,200,private,\n" +
		"Too,many,fields,here,really\n" +
		"Also good,300,private,alice\n"
	_, err := e.pb.Import(e.ctx, e.admin, e.tenant, []byte(file))
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("want an import error, got %v", err)
	}
	want := map[int]string{3: "workphone", 4: "", 5: "owner_id", 6: ""}
	if len(ie.Lines) != len(want) {
		t.Fatalf("errors %+v", ie.Lines)
	}
	for _, l := range ie.Lines {
		f, ok := want[l.Line]
		if !ok || (f != "" && l.Field != f) {
			t.Errorf("unexpected line error %+v", l)
		}
	}
	if e.st.Revision() != rev || len(e.pb.book(e.tenant).entries) != 0 {
		t.Fatal("a refused import wrote something")
	}
	for _, tc := range []struct{ file, want string }{
		{"", "empty"},
		{"nome,telefono\nMario,1\n", "unknown column"},
		{"name,name\nx,y\n", "twice"},
		{"workphone\n100\n", "name or company"},
		{"name,workphone\n\"unterminated,1\n", "line 2"},
		{"name\n\xff\xfe\n", "UTF-8"},
	} {
		_, err := e.pb.Import(e.ctx, e.admin, e.tenant, []byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.file, err, tc.want)
		}
	}
}

func TestExportImportsBack(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	a := e.create(t, Contact{Type: TypePublic, Name: "A, with comma", WorkPhone: "100", Notes: "quote \" inside"})
	e.create(t, Contact{Type: TypeSpeedDial, Owner: "alice", Name: "Mum", SpeedDialNum: "200"})
	var buf bytes.Buffer
	if err := e.pb.Export(e.tenant, &buf); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(buf.String(), ",100,", ",101,", 1)
	res, err := e.pb.Import(e.ctx, e.admin, e.tenant, []byte(edited))
	if err != nil || res.Updated != 2 || res.Created != 0 {
		t.Fatalf("re-import: %+v %v\n%s", res, err, edited)
	}
	got, _ := e.pb.Contact(e.tenant, a.ID)
	if got.WorkPhone != "101" || got.Notes != `quote " inside` || got.Name != "A, with comma" {
		t.Fatalf("after the re-import: %+v", got)
	}
	// An id of another tenant or of nothing is a line error.
	if _, err := e.pb.Import(e.ctx, e.admin, e.tenant, []byte("id,name\n999999,X\n")); err == nil || !strings.Contains(err.Error(), "no contact 999999") {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestImportSpeedDials(t *testing.T) {
	e := newEnv(t, provision.ModeSingle)
	// nethvoice-cti's export: the keys of the speed dial objects, id left out.
	csv := "owner_id,type,homeemail,workemail,homephone,workphone,cellphone,fax,title,company,notes,name,homestreet,homepob,homecity,homeprovince,homepostalcode,homecountry,workstreet,workpob,workcity,workprovince,workpostalcode,workcountry,url,extension,speeddial_num,favorite\r\n" +
		"bob,private,,,,,,,,,,Pizza,,,,,,,,,,,,,,,0721 111,true\r\n" +
		"bob,speeddial,,,,0721 222,,,,,,Office,,,,,,,,,,,,,,,,true\r\n"
	f64 := "data:text/csv;base64," + base64.StdEncoding.EncodeToString([]byte(csv))
	data, err := DecodeFile64(f64)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.pb.ImportSpeedDials(e.ctx, e.admin, e.tenant, "alice", data)
	if err != nil || res.Created != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	sd := e.pb.book(e.tenant).speedDials("alice")
	if len(sd) != 2 || sd[0].Name != "Office" || sd[0].SpeedDialNum != "0721 222" || sd[1].SpeedDialNum != "0721 111" ||
		sd[0].Owner != "alice" || sd[1].Type != TypeSpeedDial {
		t.Fatalf("speed dials: %+v", sd)
	}
	if _, err := DecodeFile64("data:text/csv;base64,not base64!"); err == nil {
		t.Fatal("bad base64 decoded")
	}
	if _, err := e.pb.ImportSpeedDials(e.ctx, e.admin, e.tenant, "alice", []byte("name,speeddial_num\nX,\n")); err == nil {
		t.Fatal("a speed dial without a number imported")
	}
}
