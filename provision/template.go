package provision

import (
	"fmt"
	"strings"
)

// A template is text with %%NAME%% placeholders (KalliopePBX syntax). Two
// extensions that Kalliope templates never contain, so they stay compatible:
//
//	%%NAME|dhcp=0|static=2%%   maps the value (unmapped values pass unchanged),
//	                           so one template field can take a vendor's codes;
//	%%%%                       is a literal "%%".
//
// Custom placeholders start with an underscore (%%_REGISTRAR%%). A placeholder
// does not span lines; "%%" not followed by a well-formed placeholder is text.

// Compiled is a parsed template, ready to render without rescanning.
type Compiled struct {
	segs  []segment
	names map[string]bool
}

type segment struct {
	lit     string
	name    string
	mapping map[string]string
}

// TemplateError is an unknown or malformed placeholder, with its 1-based line.
type TemplateError struct {
	Name string
	Line int
	Msg  string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

func placeholderChar(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// Compile parses body. known says whether a placeholder name exists; every unknown
// one is an error naming it and its line (the first found).
func Compile(body string, known func(name string) bool) (*Compiled, error) {
	c := &Compiled{names: map[string]bool{}}
	var lit strings.Builder
	line := 1
	flush := func() {
		if lit.Len() > 0 {
			c.segs = append(c.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(body); {
		if body[i] == '\n' {
			line++
		}
		if body[i] != '%' || i+1 >= len(body) || body[i+1] != '%' {
			lit.WriteByte(body[i])
			i++
			continue
		}
		if strings.HasPrefix(body[i:], "%%%%") {
			lit.WriteString("%%")
			i += 4
			continue
		}
		end := strings.Index(body[i+2:], "%%")
		nl := strings.IndexByte(body[i+2:], '\n')
		if end < 0 || (nl >= 0 && nl < end) {
			lit.WriteString("%%")
			i += 2
			continue
		}
		inner := body[i+2 : i+2+end]
		name, rest, hasMap := strings.Cut(inner, "|")
		ok := name != ""
		for j := 0; j < len(name) && ok; j++ {
			ok = placeholderChar(name[j])
		}
		if !ok {
			lit.WriteString("%%")
			i += 2
			continue
		}
		if !known(name) {
			return nil, &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("unknown placeholder %%%%%s%%%%", name)}
		}
		seg := segment{name: name}
		if hasMap {
			seg.mapping = map[string]string{}
			for _, pair := range strings.Split(rest, "|") {
				k, v, found := strings.Cut(pair, "=")
				if !found {
					return nil, &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("placeholder %%%%%s%%%%: mapping %q is not from=to", name, pair)}
				}
				seg.mapping[k] = v
			}
		}
		flush()
		c.segs = append(c.segs, seg)
		c.names[name] = true
		i += 2 + end + 2
	}
	flush()
	return c, nil
}

// Uses reports whether the template contains placeholder name.
func (c *Compiled) Uses(name string) bool { return c.names[name] }

// Names lists the placeholders the template uses.
func (c *Compiled) Names() []string {
	out := make([]string, 0, len(c.names))
	for n := range c.names {
		out = append(out, n)
	}
	return out
}

// Escapers for the file types phones read.
const (
	EscapeNone = "none"
	EscapeXML  = "xml"
)

// Append renders the template onto b and returns the extended slice.
func (c *Compiled) Append(b []byte, vars map[string]string, escape string) []byte {
	for _, s := range c.segs {
		if s.name == "" {
			b = append(b, s.lit...)
			continue
		}
		v := vars[s.name]
		if s.mapping != nil {
			if m, ok := s.mapping[v]; ok {
				v = m
			}
		}
		b = appendValue(b, v, escape)
	}
	return b
}

func appendValue(b []byte, v, escape string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if escape == EscapeXML {
			switch c {
			case '&':
				b = append(b, "&amp;"...)
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			case '"':
				b = append(b, "&quot;"...)
			case '\'':
				b = append(b, "&apos;"...)
			default:
				b = append(b, c)
			}
			continue
		}
		// Values come from installers' forms; a newline would let one field
		// inject lines into a key=value config.
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// Render writes the template with vars substituted; a value missing from vars is
// empty. escape is EscapeNone or EscapeXML.
func (c *Compiled) Render(b *strings.Builder, vars map[string]string, escape string) {
	b.Write(c.Append(nil, vars, escape))
}
