package xmlrpc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Untyped is a string encoded as <value>text</value> without a <string> element:
// Yealink's RPS answers that way, and its double must too.
type Untyped string

// Fault is an XML-RPC fault answer.
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("xml-rpc fault %d: %s", f.Code, f.String) }

// Limits on what the parser accepts.
const (
	MaxSize  = 4 << 20 // bytes of one document
	maxDepth = 32      // nesting of arrays and structs
)

// EncodeCall writes a methodCall. Params may be string, Untyped, bool, int,
// []string, []any or map[string]any (recursively).
func EncodeCall(method string, params ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<methodCall><methodName>")
	xml.EscapeText(&b, []byte(method)) //nolint:errcheck // bytes.Buffer
	b.WriteString("</methodName><params>")
	for _, p := range params {
		b.WriteString("<param>")
		if err := encodeValue(&b, p, 0); err != nil {
			return nil, err
		}
		b.WriteString("</param>")
	}
	b.WriteString("</params></methodCall>\n")
	return b.Bytes(), nil
}

// EncodeResponse writes a methodResponse with one value.
func EncodeResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse><params><param>")
	if err := encodeValue(&b, v, 0); err != nil {
		return nil, err
	}
	b.WriteString("</param></params></methodResponse>\n")
	return b.Bytes(), nil
}

// EncodeFault writes a fault methodResponse.
func EncodeFault(code int, msg string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse><fault>")
	encodeValue(&b, map[string]any{"faultCode": code, "faultString": msg}, 0) //nolint:errcheck // known types
	b.WriteString("</fault></methodResponse>\n")
	return b.Bytes()
}

func encodeValue(b *bytes.Buffer, v any, depth int) error {
	if depth > maxDepth {
		return errors.New("xmlrpc: value nested too deeply")
	}
	b.WriteString("<value>")
	switch x := v.(type) {
	case string:
		b.WriteString("<string>")
		xml.EscapeText(b, []byte(x)) //nolint:errcheck // bytes.Buffer
		b.WriteString("</string>")
	case Untyped:
		xml.EscapeText(b, []byte(x)) //nolint:errcheck // bytes.Buffer
	case bool:
		if x {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case int:
		b.WriteString("<int>" + strconv.Itoa(x) + "</int>")
	case []string:
		b.WriteString("<array><data>")
		for _, s := range x {
			if err := encodeValue(b, s, depth+1); err != nil {
				return err
			}
		}
		b.WriteString("</data></array>")
	case []any:
		b.WriteString("<array><data>")
		for _, e := range x {
			if err := encodeValue(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteString("</data></array>")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("<struct>")
		for _, k := range keys {
			b.WriteString("<member><name>")
			xml.EscapeText(b, []byte(k)) //nolint:errcheck // bytes.Buffer
			b.WriteString("</name>")
			if err := encodeValue(b, x[k], depth+1); err != nil {
				return err
			}
			b.WriteString("</member>")
		}
		b.WriteString("</struct>")
	default:
		return fmt.Errorf("xmlrpc: cannot encode %T", v)
	}
	b.WriteString("</value>")
	return nil
}

// ParseResponse parses a methodResponse into its param values; a fault comes
// back as a *Fault error. Values are string, bool, int, float64, []any or
// map[string]any; base64 and dateTime stay strings.
func ParseResponse(data []byte) ([]any, error) {
	root, params, err := parseDoc(data)
	if err != nil {
		return nil, err
	}
	if root != "methodResponse" {
		return nil, fmt.Errorf("xmlrpc: root element is <%s>, not <methodResponse>", root)
	}
	if f, ok := params.fault(); ok {
		return nil, f
	}
	return params.values, nil
}

// ParseCall parses a methodCall (the doubles' side).
func ParseCall(data []byte) (string, []any, error) {
	root, params, err := parseDoc(data)
	if err != nil {
		return "", nil, err
	}
	if root != "methodCall" {
		return "", nil, fmt.Errorf("xmlrpc: root element is <%s>, not <methodCall>", root)
	}
	if params.method == "" {
		return "", nil, errors.New("xmlrpc: methodCall without methodName")
	}
	return params.method, params.values, nil
}

type doc struct {
	method   string
	values   []any
	faultVal any
	isFault  bool
}

func (d doc) fault() (*Fault, bool) {
	if !d.isFault {
		return nil, false
	}
	f := &Fault{Code: -1, String: "fault without details"}
	if m, ok := d.faultVal.(map[string]any); ok {
		switch c := m["faultCode"].(type) {
		case int:
			f.Code = c
		case string:
			if n, err := strconv.Atoi(strings.TrimSpace(c)); err == nil {
				f.Code = n
			}
		}
		if s, ok := m["faultString"].(string); ok {
			f.String = s
		}
	}
	return f, true
}

type parser struct {
	d     *xml.Decoder
	nodes int
}

func parseDoc(data []byte) (string, doc, error) {
	var out doc
	if len(data) > MaxSize {
		return "", out, errors.New("xmlrpc: document too large")
	}
	p := &parser{d: xml.NewDecoder(bytes.NewReader(data))}
	p.d.Strict = true
	// Vendors declare ISO-8859-1 now and then; the content we use is ASCII.
	p.d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	start, err := p.nextStart()
	if err != nil {
		return "", out, err
	}
	root := start.Name.Local
	for {
		tok, err := p.token()
		if err != nil {
			return "", out, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return root, out, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "methodName":
				s, err := p.text()
				if err != nil {
					return "", out, err
				}
				out.method = strings.TrimSpace(s)
			case "params":
				if err := p.params(&out); err != nil {
					return "", out, err
				}
			case "fault":
				v, err := p.wrapped(0)
				if err != nil {
					return "", out, err
				}
				out.isFault, out.faultVal = true, v
			default:
				if err := p.d.Skip(); err != nil {
					return "", out, fmt.Errorf("xmlrpc: %w", err)
				}
			}
		}
	}
}

func (p *parser) token() (xml.Token, error) {
	tok, err := p.d.Token()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("xmlrpc: unexpected end of document")
	}
	if err != nil {
		return nil, fmt.Errorf("xmlrpc: %w", err)
	}
	if _, ok := tok.(xml.StartElement); ok {
		p.nodes++
		if p.nodes > 100000 {
			return nil, errors.New("xmlrpc: too many elements")
		}
	}
	return tok, nil
}

func (p *parser) nextStart() (xml.StartElement, error) {
	for {
		tok, err := p.token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// text reads character data up to the end of the current element; a child
// element there is an error.
func (p *parser) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > MaxSize {
				return "", errors.New("xmlrpc: text too long")
			}
			b.Write(t)
		case xml.StartElement:
			return "", fmt.Errorf("xmlrpc: unexpected <%s> in text", t.Name.Local)
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

func (p *parser) params(out *doc) error {
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if t.Name.Local != "param" {
				return fmt.Errorf("xmlrpc: unexpected <%s> in <params>", t.Name.Local)
			}
			v, err := p.wrapped(0)
			if err != nil {
				return err
			}
			out.values = append(out.values, v)
		}
	}
}

// wrapped reads the one <value> inside the current element (param, fault,
// member after its name is handled by struct) and the element's end.
func (p *parser) wrapped(depth int) (any, error) {
	var v any
	seen := false
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if !seen {
				return nil, errors.New("xmlrpc: element without a <value>")
			}
			return v, nil
		case xml.StartElement:
			if t.Name.Local != "value" || seen {
				return nil, fmt.Errorf("xmlrpc: unexpected <%s>", t.Name.Local)
			}
			if v, err = p.value(depth); err != nil {
				return nil, err
			}
			seen = true
		}
	}
}

// value reads after <value> up to and including </value>.
func (p *parser) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("xmlrpc: value nested too deeply")
	}
	var chars strings.Builder
	var v any
	typed := false
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !typed {
				if chars.Len()+len(t) > MaxSize {
					return nil, errors.New("xmlrpc: text too long")
				}
				chars.Write(t)
			}
		case xml.EndElement:
			if !typed {
				return chars.String(), nil // untyped: a string
			}
			return v, nil
		case xml.StartElement:
			if typed {
				return nil, fmt.Errorf("xmlrpc: second type <%s> in one <value>", t.Name.Local)
			}
			typed = true
			if v, err = p.typed(t.Name.Local, depth); err != nil {
				return nil, err
			}
		}
	}
}

func (p *parser) typed(name string, depth int) (any, error) {
	switch name {
	case "string", "base64", "dateTime.iso8601":
		return p.text()
	case "boolean":
		s, err := p.text()
		if err != nil {
			return nil, err
		}
		switch strings.TrimSpace(s) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
		return nil, fmt.Errorf("xmlrpc: bad boolean %q", s)
	case "int", "i4", "i8":
		s, err := p.text()
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("xmlrpc: bad integer %q", s)
		}
		return n, nil
	case "double":
		s, err := p.text()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("xmlrpc: bad double %q", s)
		}
		return f, nil
	case "nil":
		if err := p.d.Skip(); err != nil {
			return nil, fmt.Errorf("xmlrpc: %w", err)
		}
		return nil, nil
	case "array":
		return p.array(depth)
	case "struct":
		return p.structure(depth)
	}
	return nil, fmt.Errorf("xmlrpc: unknown type <%s>", name)
}

func (p *parser) array(depth int) (any, error) {
	out := []any{}
	inData := false
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if inData {
				inData = false
				continue
			}
			return out, nil
		case xml.StartElement:
			switch {
			case t.Name.Local == "data" && !inData:
				inData = true
			case t.Name.Local == "value" && inData:
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			default:
				return nil, fmt.Errorf("xmlrpc: unexpected <%s> in <array>", t.Name.Local)
			}
		}
	}
}

func (p *parser) structure(depth int) (any, error) {
	out := map[string]any{}
	for {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return out, nil
		case xml.StartElement:
			if t.Name.Local != "member" {
				return nil, fmt.Errorf("xmlrpc: unexpected <%s> in <struct>", t.Name.Local)
			}
			name, v, err := p.member(depth)
			if err != nil {
				return nil, err
			}
			out[name] = v
		}
	}
}

func (p *parser) member(depth int) (string, any, error) {
	var name string
	var v any
	gotName, gotValue := false, false
	for {
		tok, err := p.token()
		if err != nil {
			return "", nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if !gotName || !gotValue {
				return "", nil, errors.New("xmlrpc: <member> needs a <name> and a <value>")
			}
			return name, v, nil
		case xml.StartElement:
			switch {
			case t.Name.Local == "name" && !gotName:
				if name, err = p.text(); err != nil {
					return "", nil, err
				}
				name = strings.TrimSpace(name)
				gotName = true
			case t.Name.Local == "value" && !gotValue:
				if v, err = p.value(depth + 1); err != nil {
					return "", nil, err
				}
				gotValue = true
			default:
				return "", nil, fmt.Errorf("xmlrpc: unexpected <%s> in <member>", t.Name.Local)
			}
		}
	}
}
