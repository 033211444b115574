package xmlrpc

import (
	"errors"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	call, err := EncodeCall("redirect.registerPhone", "000413aabbcc", "https://pbx/prov/?a=1&b=<2>")
	if err != nil {
		t.Fatal(err)
	}
	m, params, err := ParseCall(call)
	if err != nil {
		t.Fatal(err)
	}
	if m != "redirect.registerPhone" || !reflect.DeepEqual(params, []any{"000413aabbcc", "https://pbx/prov/?a=1&b=<2>"}) {
		t.Fatalf("got %q %#v", m, params)
	}
	resp, _ := EncodeResponse([]any{true, "Ok", map[string]any{"n": 3, "l": []string{"x"}}})
	vals, err := ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{[]any{true, "Ok", map[string]any{"n": 3, "l": []any{"x"}}}}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("got %#v", vals)
	}
}

func TestParseVendorShapes(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []any
		fault     int
		bad       bool
	}{
		{"yealink untyped with newline", `<?xml version="1.0" encoding="UTF-8"?><methodResponse><params><param><value><array><data>
<value><boolean>0</boolean></value><value>Error:Invalid MAC(s):
001565</value></data></array></value></param></params></methodResponse>`,
			[]any{[]any{false, "Error:Invalid MAC(s):\n001565"}}, 0, false},
		{"snom typed", `<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value><string>Ok</string></value></data></array></value></param></params></methodResponse>`,
			[]any{[]any{true, "Ok"}}, 0, false},
		{"latin1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?><methodResponse><params><param><value><i4>7</i4></value></param></params></methodResponse>`,
			[]any{7}, 0, false},
		{"fault", `<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member><member><name>faultString</name><value><string>Too many params</string></value></member></struct></value></fault></methodResponse>`,
			nil, 4, false},
		{"not xml-rpc", `<html><body>502</body></html>`, nil, 0, true},
		{"truncated", `<methodResponse><params><param><value><string>x`, nil, 0, true},
		{"two types", `<methodResponse><params><param><value><string>x</string><int>1</int></value></param></params></methodResponse>`, nil, 0, true},
		{"bad bool", `<methodResponse><params><param><value><boolean>yes</boolean></value></param></params></methodResponse>`, nil, 0, true},
		{"empty", ``, nil, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals, err := ParseResponse([]byte(c.doc))
			var f *Fault
			switch {
			case c.fault != 0:
				if !errors.As(err, &f) || f.Code != c.fault {
					t.Fatalf("want fault %d, got %v", c.fault, err)
				}
			case c.bad:
				if err == nil {
					t.Fatalf("want an error, got %#v", vals)
				}
			default:
				if err != nil || !reflect.DeepEqual(vals, c.want) {
					t.Fatalf("got %#v, %v", vals, err)
				}
			}
		})
	}
}

func TestDepthLimit(t *testing.T) {
	doc := "<methodResponse><params><param>"
	for i := 0; i < 40; i++ {
		doc += "<value><array><data>"
	}
	if _, err := ParseResponse([]byte(doc)); err == nil {
		t.Fatal("deep nesting accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value>OK</value></data></array></value></param></params></methodResponse>`))
	f.Add([]byte(`<methodCall><methodName>redirect.checkDevice</methodName><params><param><value><string>001565AABBCC</string></value></param></params></methodCall>`))
	f.Add([]byte(`<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault></methodResponse>`))
	f.Add([]byte(`<methodResponse><params><param><value><struct><member><name>a</name><value><double>1.5</double></value></member></struct></value></param></params></methodResponse>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, err := ParseResponse(data)
		if err == nil {
			// Whatever parsed must encode again (the types are the ones we produce).
			for _, v := range vals {
				if _, err := EncodeResponse(normalize(v)); err != nil {
					t.Fatalf("parsed value does not re-encode: %v", err)
				}
			}
		}
		ParseCall(data) // must not panic
	})
}

// normalize maps parsed floats and nils to encodable values.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		return int(0)
	case nil:
		return ""
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}
