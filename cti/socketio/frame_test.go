package socketio

import (
	"testing"
)

func TestParseFrame(t *testing.T) {
	cases := []struct {
		in    string
		typ   byte
		ptype byte
		event string
		ack   int64
		ns    string
		bad   bool
	}{
		{in: "3", typ: '3'},
		{in: "40", typ: '4', ptype: '0', ns: "/", ack: -1},
		{in: `40{"token":"x"}`, typ: '4', ptype: '0', ns: "/", ack: -1},
		{in: `42["login",{"accessKeyId":"a"}]`, typ: '4', ptype: '2', event: "login", ns: "/", ack: -1},
		{in: `4212["login",{}]`, typ: '4', ptype: '2', event: "login", ns: "/", ack: 12},
		{in: `42/admin,["x"]`, typ: '4', ptype: '2', event: "x", ns: "/admin", ack: -1},
		{in: "", bad: true},
		{in: "9", bad: true},
		{in: "4", bad: true},
		{in: "42", bad: true},
		{in: "42[]", bad: true},
		{in: "42[1]", bad: true},
		{in: `42["x"`, bad: true},
		{in: `451-["x",{"_placeholder":true,"num":0}]`, bad: true},
		{in: `40{bad`, bad: true},
	}
	for _, c := range cases {
		typ, p, err := parseFrame([]byte(c.in))
		if c.bad {
			if err == nil {
				t.Errorf("%q: accepted", c.in)
			}
			continue
		}
		if err != nil || typ != c.typ {
			t.Errorf("%q: typ %q err %v", c.in, typ, err)
			continue
		}
		if p == nil {
			continue
		}
		if p.Type != c.ptype || p.Event != c.event || p.Ack != c.ack || p.NS != c.ns {
			t.Errorf("%q: got %+v", c.in, p)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{"2", "3", "40", `40{"a":1}`, `42["login",{"accessKeyId":"u","token":"t"}]`, `421["x"]`,
		`42/ns,3["a",1]`, `43/x,1[]`, "41", "1", `450-["x"]`, "4" + "9999999999999999999999[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, p, err := parseFrame(b)
		if err != nil {
			return
		}
		if typ == '4' && p == nil {
			t.Fatal("message without packet")
		}
		if p != nil && p.Type == '2' && p.Event == "" && len(b) > 2 {
			// an empty event name is allowed only if the client sent "" explicitly
			_ = p
		}
	})
}
