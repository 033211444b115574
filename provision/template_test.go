package provision

// Tests of the template language's loops and conditions: a table of what they
// render and refuse, and a fuzz target that builds well-formed templates from
// random bytes and compares the engine with a small reference interpreter
// written here independently of it.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// twoLines is a scope with two lines and three keys (one on a module).
func twoLines() *Scope {
	l1 := map[string]string{"LINE_NUMBER": "1", "LINE_INDEX0": "0", "LINE_ACTIVE": "1", "LINE_SIP_USERNAME": "201", "LINE_DISPLAY_NAME": "Ann & Bo"}
	l2 := map[string]string{"LINE_NUMBER": "2", "LINE_INDEX0": "1", "LINE_ACTIVE": "1", "LINE_SIP_USERNAME": "202", "LINE_DISPLAY_NAME": "Cy"}
	l3 := map[string]string{"LINE_NUMBER": "3", "LINE_INDEX0": "2"}
	k1 := map[string]string{"KEY_INDEX": "1", "KEY_MODULE": "0", "KEY_TYPE": "blf", "KEY_VALUE": "203", "KEY_LABEL": "Dee"}
	k2 := map[string]string{"KEY_INDEX": "2", "KEY_MODULE": "0", "KEY_TYPE": "speed_dial", "KEY_VALUE": "0612", "KEY_LABEL": "Mum"}
	k3 := map[string]string{"KEY_INDEX": "1", "KEY_MODULE": "1", "KEY_TYPE": "park", "KEY_VALUE": "701", "KEY_LABEL": "P1"}
	empty := map[string]string{"KEY_INDEX": "3", "KEY_MODULE": "0", "KEY_TYPE": ""}
	return &Scope{
		Vars:     map[string]string{"MAC": "001565ABCDEF", "KPBX_IP_ADDRESS": "10.0.0.1", "IPADDRMODE": "static", "IPADDR": ""},
		Lines:    []map[string]string{l1, l2},
		AllLines: []map[string]string{l1, l2, l3},
		Keys:     []map[string]string{k1, k2, k3},
		AllKeys:  []map[string]string{k1, k2, empty, k3},
	}
}

func TestTemplateDirectives(t *testing.T) {
	cases := []struct {
		name, body, scope, escape, want string
		errName                         string
		errLine                         int
	}{
		{name: "lines", body: "%%FOR LINES%%a.%%LINE_NUMBER%%=%%LINE_SIP_USERNAME%%\n%%END%%", want: "a.1=201\na.2=202\n"},
		{name: "all lines", body: "%%FOR ALL LINES%%%%LINE_NUMBER%%:%%IF LINE_ACTIVE%%on%%ELSE%%off%%END%% %%END%%", want: "1:on 2:on 3:off "},
		{name: "keys with a map", body: "%%FOR KEYS%%k%%KEY_INDEX%%=%%KEY_TYPE|blf=16|speed_dial=13|park=10%%;%%END%%", want: "k1=16;k2=13;k1=10;"},
		{name: "keys by module", body: "%%FOR KEYS%%%%IF KEY_MODULE=0%%p%%ELSE%%m%%KEY_MODULE%%%%END%%.%%KEY_INDEX%% %%END%%", want: "p.1 p.2 m1.1 "},
		{name: "all keys clear the unused", body: "%%FOR ALL KEYS%%%%KEY_INDEX%%=%%IF KEY_TYPE%%%%KEY_TYPE%%%%ELSE%%none%%END%% %%END%%", want: "1=blf 2=speed_dial 3=none 1=park "},
		{name: "if equal one of", body: "%%FOR KEYS%%%%IF KEY_TYPE=blf|park%%w%%ELSE%%-%%END%%%%END%%", want: "w-w"},
		{name: "if not equal", body: "%%FOR KEYS%%%%IF KEY_TYPE!=blf|park%%%%KEY_VALUE%%%%END%%%%END%%", want: "0612"},
		{name: "if empty", body: "[%%IF IPADDR=%%none%%END%%][%%IF IPADDR%%set%%END%%]", want: "[none][]"},
		{name: "if top level", body: "%%IF IPADDRMODE=static%%s%%ELSE%%d%%END%%", want: "s"},
		{name: "nested ifs", body: "%%IF MAC%%%%IF IPADDRMODE=dhcp%%a%%ELSE%%b%%IF KPBX_IP_ADDRESS%%c%%END%%%%END%%%%END%%", want: "bc"},
		{name: "top-level placeholders in a loop", body: "%%FOR LINES%%%%LINE_NUMBER%%@%%KPBX_IP_ADDRESS%% %%END%%", want: "1@10.0.0.1 2@10.0.0.1 "},
		{name: "xml escaping in a loop", body: "%%FOR LINES%%<n>%%LINE_DISPLAY_NAME%%</n>%%END%%", escape: EscapeXML, want: "<n>Ann &amp; Bo</n><n>Cy</n>"},
		{name: "directive lines leave no blank line", body: "a\n%%FOR LINES%%\n  l=%%LINE_NUMBER%%\n  %%IF LINE_NUMBER=2%%\n  two\n  %%END%%\n%%END%%\nb\n", want: "a\n  l=1\n  l=2\n  two\nb\n"},
		{name: "directive beside text keeps its line", body: "a %%IF MAC%%x%%END%%\nb", want: "a x\nb"},
		{name: "directive after a placeholder keeps its line", body: "%%MAC%% %%IF MAC%%\nx%%END%%", want: "001565ABCDEF \nx"},
		{name: "errors count trimmed lines", body: "%%IF MAC%%\n%%END%%\n%%NOPE%%", errName: "NOPE", errLine: 3},
		{name: "mapping default arm", body: "%%IPADDRMODE|dhcp=0|*=9%% %%MAC|*=x%% %%IPADDRMODE|static=2|*=9%%", want: "9 x 2"},
		{name: "kalliope template unchanged", body: "%%MAC%% %%%%x%%%% %%A B%%", want: "001565ABCDEF %%x%% %%A B%%"},
		{name: "line placeholder outside its loop", body: "a\n%%LINE_NUMBER%%", errName: "LINE_NUMBER", errLine: 2},
		{name: "key placeholder in the lines loop", body: "%%FOR LINES%%\n%%KEY_TYPE%%%%END%%", errName: "KEY_TYPE", errLine: 2},
		{name: "unknown in a condition", body: "\n\n%%IF NOPE=1%%x%%END%%", errName: "NOPE", errLine: 3},
		{name: "unknown in a loop", body: "%%FOR KEYS%%\n%%NOPE%%\n%%END%%", errName: "NOPE", errLine: 2},
		{name: "unclosed loop", body: "x\n%%FOR LINES%%\ny", errName: "FOR LINES", errLine: 2},
		{name: "unclosed if", body: "%%IF MAC%%\n%%FOR LINES%%%%END%%", errName: "IF MAC", errLine: 1},
		{name: "stray end", body: "a\nb %%END%%", errName: "END", errLine: 2},
		{name: "stray else", body: "%%FOR LINES%%%%ELSE%%%%END%%", errName: "ELSE", errLine: 1},
		{name: "two elses", body: "%%IF MAC%%a%%ELSE%%b%%ELSE%%c%%END%%", errName: "ELSE", errLine: 1},
		{name: "unknown loop", body: "\n%%FOR HANDSETS%%%%END%%", errName: "FOR HANDSETS", errLine: 2},
		{name: "nested loops", body: "%%FOR LINES%%\n%%FOR KEYS%%%%END%%%%END%%", errName: "FOR KEYS", errLine: 2},
		{name: "malformed condition", body: "%%IF A B%%%%END%%", errName: "IF A B", errLine: 1},
		{name: "loop in a common file", body: "\n%%FOR LINES%%%%END%%", scope: ScopeCommon, errName: "FOR LINES", errLine: 2},
		{name: "condition in a common file", body: "%%IF KPBX_IP_ADDRESS%%x%%END%%", scope: ScopeCommon, want: "x"},
		{name: "device name in a common condition", body: "%%IF MAC%%x%%END%%", scope: ScopeCommon, errName: "MAC", errLine: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scope, escape := c.scope, c.escape
			if scope == "" {
				scope = ScopeDevice
			}
			if escape == "" {
				escape = EscapeNone
			}
			comp, err := Compile(c.body, KnownFor(scope, nil))
			if c.errName != "" {
				var te *TemplateError
				if !errors.As(err, &te) {
					t.Fatalf("err = %v, want a TemplateError", err)
				}
				if te.Name != c.errName || te.Line != c.errLine {
					t.Fatalf("error %q names %q line %d, want %q line %d", te, te.Name, te.Line, c.errName, c.errLine)
				}
				if !strings.Contains(te.Error(), fmt.Sprintf("line %d", c.errLine)) {
					t.Errorf("message %q does not give the line", te)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := comp.RenderScope(nil, twoLines(), escape)
			if err != nil || string(got) != c.want {
				t.Errorf("got %q %v, want %q", got, err, c.want)
			}
		})
	}
}

// TestTemplateSizeLimit: loops cannot make a file grow without bound.
func TestTemplateSizeLimit(t *testing.T) {
	comp, err := Compile("%%FOR ALL KEYS%%"+strings.Repeat("x", 64<<10)+"%%END%%", KnownFor(ScopeDevice, nil))
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scope{}
	for i := 0; i < 200; i++ {
		sc.AllKeys = append(sc.AllKeys, map[string]string{})
	}
	out, err := comp.RenderScope(nil, sc, EscapeNone)
	if !errors.Is(err, ErrTooLarge) || len(out) > MaxRenderedSize+(64<<10) {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
}

// ---- fuzzing against a reference interpreter ----

// refNode is the reference's own tree of a generated template.
type refNode struct {
	text        string // text, or
	name        string // a placeholder, or
	loop        string // a loop over body, or
	cond        *refCond
	body, else_ []refNode
}

type refCond struct {
	name string
	op   string // "", "=", "!="
	vals []string
}

// genTemplate turns fuzz bytes into a well-formed template and its tree. Every
// byte picks a token; the generator keeps the nesting valid (no loop in a loop,
// END only when something is open).
func genTemplate(data []byte) (string, []refNode) {
	type frame struct {
		n      *refNode
		inElse bool
		isLoop bool
	}
	root := &refNode{}
	stack := []*frame{{n: root}}
	cur := func() *[]refNode {
		f := stack[len(stack)-1]
		if f.inElse {
			return &f.n.else_
		}
		return &f.n.body
	}
	inLoop := ""
	var sb strings.Builder
	topNames := []string{"MAC", "IPADDRMODE", "IPADDR", "KPBX_IP_ADDRESS"}
	lineNames := []string{"LINE_NUMBER", "LINE_ACTIVE", "LINE_SIP_USERNAME", "LINE_DISPLAY_NAME"}
	keyNames := []string{"KEY_INDEX", "KEY_MODULE", "KEY_TYPE", "KEY_VALUE"}
	texts := []string{"a", "=", "\n", "<x>", " ", "&", "%%%%", "|"}
	pick := func(list []string, b byte) string { return list[int(b)%len(list)] }
	// The reference knows nothing of a directive alone on its line, which the
	// engine drops with its line break (TestTemplateDirectives covers that):
	// a directive never starts a line here, even after blanks.
	lineStart := func() {
		s := sb.String()
		if strings.Trim(s[strings.LastIndexByte(s, '\n')+1:], " \t") == "" {
			sb.WriteString(".")
			*cur() = append(*cur(), refNode{text: "."})
		}
	}
	names := func() []string {
		switch {
		case strings.HasSuffix(inLoop, "LINES"):
			return append(append([]string{}, topNames...), lineNames...)
		case strings.HasSuffix(inLoop, "KEYS"):
			return append(append([]string{}, topNames...), keyNames...)
		}
		return topNames
	}
	for i := 0; i < len(data); i++ {
		b := data[i]
		arg := byte(0)
		if i+1 < len(data) {
			arg = data[i+1]
		}
		switch b % 8 {
		case 0, 1: // text
			t := pick(texts, arg)
			sb.WriteString(t)
			if t == "%%%%" {
				t = "%%"
			}
			*cur() = append(*cur(), refNode{text: t})
			i++
		case 2: // placeholder
			n := pick(names(), arg)
			sb.WriteString("%%" + n + "%%")
			*cur() = append(*cur(), refNode{name: n})
			i++
		case 3: // loop
			if inLoop != "" {
				continue
			}
			inLoop = pick([]string{LoopLines, LoopAllLines, LoopKeys, LoopAllKeys}, arg)
			lineStart()
			sb.WriteString("%%FOR " + inLoop + "%%")
			n := refNode{loop: inLoop}
			*cur() = append(*cur(), n)
			list := *cur()
			stack = append(stack, &frame{n: &list[len(list)-1], isLoop: true})
			i++
		case 4: // condition
			if len(stack) > 10 {
				continue
			}
			c := &refCond{name: pick(names(), arg)}
			vals := []string{"", "1", "201", "blf", "static", "0"}
			switch arg % 3 {
			case 1:
				c.op = "="
			case 2:
				c.op = "!="
			}
			if c.op != "" {
				c.vals = []string{pick(vals, arg/3)}
				if arg&0x80 != 0 {
					c.vals = append(c.vals, pick(vals, arg/7))
				}
			}
			lineStart()
			sb.WriteString("%%IF " + c.name + c.op + strings.Join(c.vals, "|") + "%%")
			*cur() = append(*cur(), refNode{cond: c})
			list := *cur()
			stack = append(stack, &frame{n: &list[len(list)-1]})
			i++
		case 5: // else
			f := stack[len(stack)-1]
			if f.n.cond == nil || f.inElse {
				continue
			}
			lineStart()
			sb.WriteString("%%ELSE%%")
			f.inElse = true
		case 6, 7: // end
			if len(stack) == 1 {
				continue
			}
			lineStart()
			if stack[len(stack)-1].isLoop {
				inLoop = ""
			}
			stack = stack[:len(stack)-1]
			sb.WriteString("%%END%%")
		}
	}
	for len(stack) > 1 {
		lineStart()
		stack = stack[:len(stack)-1]
		sb.WriteString("%%END%%")
	}
	return sb.String(), root.body
}

// refRender is the reference interpreter: plain text output (no escaping).
func refRender(nodes []refNode, sc *Scope, frame map[string]string) string {
	var sb strings.Builder
	value := func(n string) string {
		if v, ok := frame[n]; ok && frame != nil {
			return v
		}
		return sc.Vars[n]
	}
	for _, n := range nodes {
		switch {
		case n.loop != "":
			for _, f := range sc.loop(n.loop) {
				sb.WriteString(refRender(n.body, sc, f))
			}
		case n.cond != nil:
			v := value(n.cond.name)
			ok := v != ""
			if n.cond.op != "" {
				in := false
				for _, x := range n.cond.vals {
					in = in || x == v
				}
				ok = in == (n.cond.op == "=")
			}
			if ok {
				sb.WriteString(refRender(n.body, sc, frame))
			} else {
				sb.WriteString(refRender(n.else_, sc, frame))
			}
		case n.name != "":
			sb.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(value(n.name)))
		default:
			sb.WriteString(n.text)
		}
	}
	return sb.String()
}

// scopeFrom varies the scope with two bytes: how many lines and keys.
func scopeFrom(a, b byte) *Scope {
	full := twoLines()
	sc := &Scope{Vars: full.Vars}
	for i := 0; i < int(a%4); i++ {
		l := map[string]string{"LINE_NUMBER": strconv.Itoa(i + 1), "LINE_ACTIVE": "1", "LINE_SIP_USERNAME": strconv.Itoa(201 + i), "LINE_DISPLAY_NAME": "n\n" + strconv.Itoa(i)}
		sc.Lines = append(sc.Lines, l)
		sc.AllLines = append(sc.AllLines, l)
	}
	sc.AllLines = append(sc.AllLines, map[string]string{"LINE_NUMBER": strconv.Itoa(len(sc.Lines) + 1)})
	types := []string{"blf", "speed_dial", "park", ""}
	for i := 0; i < int(b%5); i++ {
		k := map[string]string{"KEY_INDEX": strconv.Itoa(i + 1), "KEY_MODULE": strconv.Itoa(i / 3), "KEY_TYPE": types[i%4], "KEY_VALUE": strconv.Itoa(300 + i)}
		sc.AllKeys = append(sc.AllKeys, k)
		if k["KEY_TYPE"] != "" {
			sc.Keys = append(sc.Keys, k)
		}
	}
	return sc
}

func FuzzTemplateLoops(f *testing.F) {
	for _, s := range [][]byte{
		{3, 0, 2, 0, 6}, {4, 1, 2, 2, 5, 0, 3, 6}, {3, 2, 4, 2, 2, 3, 5, 2, 1, 6, 6},
		{4, 0x80, 3, 1, 2, 1, 6, 6, 2, 3}, []byte("lines and keys, with conditions"), {0, 7, 0, 6, 1, 2},
	} {
		f.Add(s, byte(2), byte(3))
	}
	known := KnownFor(ScopeDevice, nil)
	f.Fuzz(func(t *testing.T, data []byte, nl, nk byte) {
		if len(data) > 256 {
			return
		}
		body, tree := genTemplate(data)
		c, err := Compile(body, known)
		if err != nil {
			t.Fatalf("generated template %q does not compile: %v", body, err)
		}
		sc := scopeFrom(nl, nk)
		got, err := c.RenderScope(nil, sc, EscapeNone)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if want := refRender(tree, sc, nil); string(got) != want {
			t.Fatalf("%q with %d lines, %d keys:\n got %q\nwant %q", body, len(sc.Lines), len(sc.Keys), got, want)
		}
		// The same template broken by one byte: an error names a line that
		// holds it, or it renders without panicking.
		if len(body) > 2 {
			cut := body[:len(body)-1-int(nk)%(len(body)-1)]
			if c2, err := Compile(cut, known); err != nil {
				var te *TemplateError
				if !errors.As(err, &te) {
					t.Fatalf("%q: %v", cut, err)
				}
				checkTemplateErr(t, cut, te)
			} else if _, err := c2.RenderScope(nil, sc, EscapeXML); err != nil {
				t.Fatalf("%q: %v", cut, err)
			}
		}
	})
}
