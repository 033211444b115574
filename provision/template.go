package provision

import (
	"errors"
	"fmt"
	"strings"
)

// A template is text with %%NAME%% placeholders (KalliopePBX syntax). Extensions
// that Kalliope templates never contain, so they stay compatible:
//
//	%%NAME|dhcp=0|static=2%%   maps the value (unmapped values pass unchanged,
//	                           or become the *=value arm's value), so one
//	                           template field can take a vendor's codes;
//	%%%%                       is a literal "%%";
//	%%FOR LINES%%...%%END%%    repeats the text for each line (SIP account) of
//	                           the device, with %%LINE_...%% placeholders;
//	%%FOR ALL LINES%%          the same for every line the model holds, the
//	                           unused ones with empty LINE_ values (LINE_ACTIVE
//	                           is empty), so a file can clear them;
//	%%FOR KEYS%%...%%END%%     repeats the text for each key of the device
//	                           (phone and expansion modules), with %%KEY_...%%;
//	%%FOR ALL KEYS%%           every key of the phone, and of each expansion
//	                           module the device uses, unused ones with an empty
//	                           KEY_TYPE;
//	%%IF NAME%%...%%END%%      the text when NAME is not empty; %%IF NAME=a|b%%
//	                           when it is a or b, %%IF NAME!=a|b%% when it is
//	                           neither (%%IF NAME=%% when it is empty); an
//	                           optional %%ELSE%% part.
//
// Custom placeholders start with an underscore (%%_REGISTRAR%%). Placeholders and
// directives do not span lines; "%%" not followed by a well-formed placeholder is
// text. Loops do not nest; conditions nest in loops and in each other. A line
// that holds only a directive (and spaces) renders nothing, not even its line
// break, so that a template can keep one directive per line.

// Compiled is a parsed template, ready to render without rescanning.
type Compiled struct {
	nodes []node
	names map[string]bool
	loops map[string]bool // "LINES", "ALL LINES", "KEYS", "ALL KEYS"
}

type nodeKind uint8

const (
	nodeText nodeKind = iota
	nodeVar
	nodeFor
	nodeIf
)

type node struct {
	kind    nodeKind
	text    string            // nodeText
	name    string            // nodeVar, nodeIf: the placeholder
	mapping map[string]string // nodeVar
	deflt   *string           // nodeVar: the "*" arm of the mapping, for values it does not list
	loop    string            // nodeFor: LINES, ALL LINES, KEYS, ALL KEYS
	// nodeIf: true when the value is (eq) or is not (!eq) one of vals; with no
	// vals and any, when it is not empty.
	any   bool
	eq    bool
	vals  []string
	body  []node // nodeFor, nodeIf (then)
	other []node // nodeIf (else)
}

// TemplateError is an unknown or malformed placeholder or directive, with its
// 1-based line.
type TemplateError struct {
	Name string // the placeholder or directive at fault
	Line int
	Msg  string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

func placeholderChar(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !placeholderChar(s[i]) {
			return false
		}
	}
	return true
}

// Loop names (the text after FOR).
const (
	LoopLines    = "LINES"
	LoopAllLines = "ALL LINES"
	LoopKeys     = "KEYS"
	LoopAllKeys  = "ALL KEYS"
)

// maxNesting bounds how deep conditions nest.
const maxNesting = 16

// block is a directive being compiled.
type block struct {
	n      *node
	inner  string // the directive as written
	line   int
	inElse bool
}

// Compile parses body. known says whether a placeholder name exists; every unknown
// one is an error naming it and its line (the first found), and so is a loop
// placeholder used outside its loop and a directive out of place.
func Compile(body string, known func(name string) bool) (*Compiled, error) {
	c := &Compiled{names: map[string]bool{}, loops: map[string]bool{}}
	var stack []*block
	var lit []byte
	line := 1
	busyLine := 0 // the line of the last placeholder or directive
	// out is where the next node goes: the innermost open block's current
	// branch, or the top level.
	out := func() *[]node {
		if len(stack) == 0 {
			return &c.nodes
		}
		b := stack[len(stack)-1]
		if b.inElse {
			return &b.n.other
		}
		return &b.n.body
	}
	flush := func() {
		if len(lit) > 0 {
			o := out()
			*o = append(*o, node{kind: nodeText, text: string(lit)})
			lit = lit[:0]
		}
	}
	loopOf := func() string {
		for _, b := range stack {
			if b.n.kind == nodeFor {
				return b.n.loop
			}
		}
		return ""
	}
	// check validates a placeholder name where it is used.
	check := func(name string) error {
		if !known(name) {
			return &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("unknown placeholder %%%%%s%%%%", name)}
		}
		if need := loopPlaceholder(name); need != "" && !strings.HasSuffix(loopOf(), need) {
			return &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("%%%%%s%%%% is only known inside %%%%FOR %s%%%%...%%%%END%%%%", name, need)}
		}
		c.names[name] = true
		return nil
	}
	for i := 0; i < len(body); {
		if body[i] == '\n' {
			line++
		}
		if body[i] != '%' || i+1 >= len(body) || body[i+1] != '%' {
			lit = append(lit, body[i])
			i++
			continue
		}
		if strings.HasPrefix(body[i:], "%%%%") {
			lit = append(lit, "%%"...)
			i += 4
			continue
		}
		end := strings.Index(body[i+2:], "%%")
		nl := strings.IndexByte(body[i+2:], '\n')
		if end < 0 || (nl >= 0 && nl < end) {
			lit = append(lit, "%%"...)
			i += 2
			continue
		}
		inner := body[i+2 : i+2+end]
		if d, arg, ok := directive(inner); ok {
			next := i + 2 + end + 2
			// A directive alone on its line takes the line with it, so that
			// loops and conditions leave no blank lines in the file.
			nextLine := false
			if pre, ok := blankBefore(lit); ok && busyLine != line {
				if post, ok := blankAfter(body, next); ok {
					lit = lit[:len(lit)-pre]
					if next += post; next < len(body) && body[next] == '\n' {
						next++
						nextLine = true
					}
				}
			}
			flush()
			if err := c.directive(d, arg, inner, line, &stack, out, check, loopOf, known); err != nil {
				return nil, err
			}
			busyLine = line
			if nextLine {
				line++
			}
			i = next
			continue
		}
		name, rest, hasMap := strings.Cut(inner, "|")
		if !validName(name) {
			lit = append(lit, "%%"...)
			i += 2
			continue
		}
		if err := check(name); err != nil {
			return nil, err
		}
		n := node{kind: nodeVar, name: name}
		if hasMap {
			n.mapping = map[string]string{}
			for _, pair := range strings.Split(rest, "|") {
				k, v, found := strings.Cut(pair, "=")
				if !found {
					return nil, &TemplateError{Name: name, Line: line, Msg: fmt.Sprintf("placeholder %%%%%s%%%%: mapping %q is not from=to", name, pair)}
				}
				if k == "*" {
					n.deflt = &v
					continue
				}
				n.mapping[k] = v
			}
		}
		flush()
		o := out()
		*o = append(*o, n)
		busyLine = line
		i += 2 + end + 2
	}
	flush()
	if len(stack) > 0 {
		b := stack[len(stack)-1]
		return nil, &TemplateError{Name: b.inner, Line: b.line, Msg: fmt.Sprintf("%%%%%s%%%% is not closed by %%%%END%%%%", b.inner)}
	}
	return c, nil
}

// blankBefore reports whether the text since the last line break (or the start)
// is spaces and tabs only, and how many bytes they are.
func blankBefore(lit []byte) (int, bool) {
	n := 0
	for i := len(lit) - 1; i >= 0 && lit[i] != '\n'; i-- {
		if lit[i] != ' ' && lit[i] != '\t' {
			return 0, false
		}
		n++
	}
	return n, true
}

// blankAfter reports whether body holds only spaces and tabs from i to the
// line break (or the end), and how many bytes they are.
func blankAfter(body string, i int) (int, bool) {
	n := 0
	for ; i+n < len(body) && body[i+n] != '\n'; n++ {
		if c := body[i+n]; c != ' ' && c != '\t' && c != '\r' {
			return 0, false
		}
	}
	return n, true
}

// directive recognises %%FOR ...%%, %%IF ...%%, %%ELSE%% and %%END%%.
func directive(inner string) (d, arg string, ok bool) {
	switch {
	case inner == "END" || inner == "ELSE":
		return inner, "", true
	case strings.HasPrefix(inner, "FOR "):
		return "FOR", strings.TrimSpace(inner[4:]), true
	case strings.HasPrefix(inner, "IF "):
		return "IF", strings.TrimSpace(inner[3:]), true
	}
	return "", "", false
}

func (c *Compiled) directive(d, arg, inner string, line int, stack *[]*block, out func() *[]node,
	check func(name string) error, loopOf func() string, known func(string) bool) error {
	terr := func(format string, args ...any) error {
		return &TemplateError{Name: inner, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	switch d {
	case "FOR":
		switch arg {
		case LoopLines, LoopAllLines, LoopKeys, LoopAllKeys:
		default:
			return terr("%%%%%s%%%%: the loops are FOR LINES, FOR ALL LINES, FOR KEYS and FOR ALL KEYS", inner)
		}
		if l := loopOf(); l != "" {
			return terr("%%%%%s%%%% inside %%%%FOR %s%%%%: loops do not nest", inner, l)
		}
		probe := "LINE_NUMBER"
		if strings.HasSuffix(arg, "KEYS") {
			probe = "KEY_INDEX"
		}
		if !known(probe) {
			return terr("%%%%%s%%%%: this template has no device (a common file), so no lines or keys", inner)
		}
		*stack = append(*stack, &block{n: &node{kind: nodeFor, loop: arg}, inner: inner, line: line})
		c.loops[arg] = true
	case "IF":
		if len(*stack) >= maxNesting {
			return terr("%%%%%s%%%%: conditions nest at most %d deep", inner, maxNesting)
		}
		n := &node{kind: nodeIf}
		name, vals, hasEq := strings.Cut(arg, "=")
		if hasEq && strings.HasSuffix(name, "!") {
			name = name[:len(name)-1]
		} else if hasEq {
			n.eq = true
		}
		if !hasEq {
			n.any = true
		} else {
			n.vals = strings.Split(vals, "|")
		}
		if !validName(name) {
			return terr("%%%%%s%%%%: write %%%%IF NAME%%%%, %%%%IF NAME=a|b%%%% or %%%%IF NAME!=a|b%%%%", inner)
		}
		if err := check(name); err != nil {
			var te *TemplateError
			if errors.As(err, &te) {
				te.Msg = "in %%" + inner + "%%: " + te.Msg
			}
			return err
		}
		n.name = name
		*stack = append(*stack, &block{n: n, inner: inner, line: line})
	case "ELSE":
		if len(*stack) == 0 || (*stack)[len(*stack)-1].n.kind != nodeIf || (*stack)[len(*stack)-1].inElse {
			return terr("%%%%ELSE%%%% without an open %%%%IF%%%%")
		}
		(*stack)[len(*stack)-1].inElse = true
	case "END":
		if len(*stack) == 0 {
			return terr("%%%%END%%%% without an open %%%%FOR%%%% or %%%%IF%%%%")
		}
		b := (*stack)[len(*stack)-1]
		*stack = (*stack)[:len(*stack)-1]
		o := out()
		*o = append(*o, *b.n)
	}
	return nil
}

// Uses reports whether the template contains placeholder name.
func (c *Compiled) Uses(name string) bool { return c.names[name] }

// UsesLoop reports whether the template has a %%FOR loop%% (LoopLines, ...).
func (c *Compiled) UsesLoop(loop string) bool { return c.loops[loop] }

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

// Scope is what a template is rendered with: the placeholders' values and, for
// the loops, one set of LINE_ or KEY_ values per iteration.
type Scope struct {
	Vars     map[string]string
	Lines    []map[string]string // FOR LINES
	AllLines []map[string]string // FOR ALL LINES
	Keys     []map[string]string // FOR KEYS
	AllKeys  []map[string]string // FOR ALL KEYS
}

func (s *Scope) loop(name string) []map[string]string {
	switch name {
	case LoopLines:
		return s.Lines
	case LoopAllLines:
		return s.AllLines
	case LoopKeys:
		return s.Keys
	case LoopAllKeys:
		return s.AllKeys
	}
	return nil
}

// MaxRenderedSize bounds one rendered file: loops multiply a template's text.
const MaxRenderedSize = 4 << 20

// ErrTooLarge is a rendering that would exceed MaxRenderedSize.
var ErrTooLarge = fmt.Errorf("the rendered file would be larger than %d MiB", MaxRenderedSize>>20)

type renderState struct {
	sc     *Scope
	frame  map[string]string // the current loop iteration's values
	escape string
}

func (r *renderState) value(name string) string {
	if r.frame != nil {
		if v, ok := r.frame[name]; ok {
			return v
		}
	}
	return r.sc.Vars[name]
}

func (r *renderState) render(b []byte, nodes []node) ([]byte, error) {
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case nodeText:
			b = append(b, n.text...)
		case nodeVar:
			v := r.value(n.name)
			if n.mapping != nil {
				if m, ok := n.mapping[v]; ok {
					v = m
				} else if n.deflt != nil {
					v = *n.deflt
				}
			}
			b = appendValue(b, v, r.escape)
		case nodeIf:
			branch := n.other
			if n.holds(r.value(n.name)) {
				branch = n.body
			}
			var err error
			if b, err = r.render(b, branch); err != nil {
				return b, err
			}
		case nodeFor:
			for _, f := range r.sc.loop(n.loop) {
				r.frame = f
				var err error
				b, err = r.render(b, n.body)
				r.frame = nil
				if err != nil {
					return b, err
				}
				if len(b) > MaxRenderedSize {
					return b, ErrTooLarge
				}
			}
		}
		if len(b) > MaxRenderedSize {
			return b, ErrTooLarge
		}
	}
	return b, nil
}

func (n *node) holds(v string) bool {
	if n.any {
		return v != ""
	}
	for _, x := range n.vals {
		if x == v {
			return n.eq
		}
	}
	return !n.eq
}

// RenderScope renders the template onto b with sc and returns the extended
// slice, or ErrTooLarge.
func (c *Compiled) RenderScope(b []byte, sc *Scope, escape string) ([]byte, error) {
	if sc.Vars == nil {
		sc = &Scope{Vars: map[string]string{}, Lines: sc.Lines, AllLines: sc.AllLines, Keys: sc.Keys, AllKeys: sc.AllKeys}
	}
	r := renderState{sc: sc, escape: escape}
	return r.render(b, c.nodes)
}

// Append renders the template onto b with vars and no lines or keys (loops
// render nothing) and returns the extended slice.
func (c *Compiled) Append(b []byte, vars map[string]string, escape string) []byte {
	out, _ := c.RenderScope(b, &Scope{Vars: vars}, escape)
	return out
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
