package ami

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	in := "Asterisk Call Manager/5.0.1\r\n" +
		"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n" +
		"\r\nEvent: VarSet\r\nChannel: PJSIP/201-00000001\r\nVariable: A=1\r\nVariable: B=2\r\nValue:   spaced\r\n\r\n" +
		"Event: Bare\nKey: lf only\n\n"
	r := bufio.NewReader(strings.NewReader(in))
	ver, err := ReadBanner(r)
	if err != nil || ver != "5.0.1" {
		t.Fatalf("banner: %q %v", ver, err)
	}
	m, err := ReadMessage(r)
	if err != nil || m.Get("response") != "Success" || m.Get("ActionID") != "1" {
		t.Fatalf("first: %+v %v", m, err)
	}
	m, err = ReadMessage(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.All("Variable"); len(got) != 2 || got[1] != "B=2" {
		t.Fatalf("repeated keys lost: %v", got)
	}
	if m.Get("Value") != "spaced" {
		t.Fatalf("value %q", m.Get("Value"))
	}
	m, err = ReadMessage(r)
	if err != nil || m.Get("Key") != "lf only" {
		t.Fatalf("bare LF: %+v %v", m, err)
	}
	if _, err := ReadMessage(r); err == nil {
		t.Fatal("EOF expected")
	}
}

func TestReadMessageLimits(t *testing.T) {
	for name, in := range map[string]string{
		"long line":  "Event: " + strings.Repeat("x", maxLine+10) + "\r\n\r\n",
		"many lines": strings.Repeat("K: v\r\n", maxFields+1) + "\r\n",
	} {
		_, err := ReadMessage(bufio.NewReaderSize(strings.NewReader(in), 16))
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: err = %v, want protocol error", name, err)
		}
	}
	if _, err := ReadMessage(bufio.NewReader(strings.NewReader("Event: Half\r\n"))); err == nil {
		t.Error("a truncated message must be an error")
	}
	if _, err := ReadBanner(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n"))); !errors.Is(err, ErrProtocol) {
		t.Errorf("bad banner accepted: %v", err)
	}
}

// Values from clients must not inject AMI fields or actions.
func TestMessageBytesNoInjection(t *testing.T) {
	m := NewMessage("Action", "Originate", "Exten", "123\r\nAction: Command\r\nCommand: core stop now")
	b := string(m.Bytes())
	if strings.Count(b, "\r\n") != 3 || strings.Contains(b, "\r\nAction: Command") {
		t.Fatalf("injection possible: %q", b)
	}
	r := bufio.NewReader(strings.NewReader(b))
	got, err := ReadMessage(r)
	if err != nil || len(got.Fields) != 2 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		"Response: Success\r\nActionID: 1\r\n\r\n",
		"Event: Newchannel\r\nChannel: PJSIP/201-1\r\nUniqueid: 1.1\r\n\r\n",
		"Event: X\nVariable: a=b\nVariable: c=d\n\n",
		"no colon line\r\n\r\n",
		":\r\n\r\n",
		"\r\n\r\n\r\n",
		"Key: " + strings.Repeat("v", 300) + "\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := bufio.NewReaderSize(strings.NewReader(s), 16)
		for i := 0; i < 100; i++ {
			m, err := ReadMessage(r)
			if err != nil {
				return
			}
			if len(m.Fields) == 0 || len(m.Fields) > maxFields {
				t.Fatalf("bad field count %d", len(m.Fields))
			}
			// What we parse we can encode and parse back to the same number of fields.
			back, err := ReadMessage(bufio.NewReader(strings.NewReader(string(m.Bytes()))))
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			_ = back
		}
	})
}
