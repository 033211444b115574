package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type sample struct {
	Name  string            `json:"name"`
	Tags  map[string]string `json:"tags"`
	Inner *struct {
		A int `json:"a"`
	} `json:"inner"`
	List []map[string]int `json:"list"`
}

// TestDecode (F10): what the shared decoder takes and what it refuses, with the
// status and field each refusal names.
func TestDecode(t *testing.T) {
	deep := strings.Repeat(`{"inner":`, 70) + "1" + strings.Repeat("}", 70)
	for _, c := range []struct {
		name   string
		body   string
		status int // 0: accepted
		field  string
	}{
		{"plain", `{"name":"a","tags":{"x":"1","y":"2"},"inner":{"a":1},"list":[{"k":1},{"k":2}]}`, 0, ""},
		{"same key in sibling objects", `{"list":[{"k":1},{"k":2}],"tags":{"k":"v"}}`, 0, ""},
		{"escaped quote, escaped backslash before u", `{"name":"a\"b\\u"}`, 0, ""},
		{"bad \\u escape", `{"name":"\u00zz"}`, 400, ""},
		{"escaped backslash then u", `{"name":"a\\\\u0041"}`, 0, ""},
		{"surrogate pair", `{"name":"\ud83d\ude00"}`, 0, ""},
		{"literal non-ASCII", `{"name":"caffè ☎"}`, 0, ""},
		{"duplicate key", `{"name":"a","name":"b"}`, 400, "name"},
		{"duplicate key, other case", `{"name":"a","NAME":"b"}`, 400, "NAME"},
		{"duplicate nested key", `{"inner":{"a":1,"a":2}}`, 400, "a"},
		{"duplicate key in a map", `{"tags":{"x":"1","x":"2"}}`, 400, "x"},
		{"duplicate key in an array element", `{"list":[{"k":1,"k":2}]}`, 400, "k"},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", 400, ""},
		{"overlong UTF-8", "{\"name\":\"\xc0\xaf\"}", 400, ""},
		{"lone high surrogate", `{"name":"\ud800"}`, 400, ""},
		{"lone low surrogate", `{"name":"\udc00x"}`, 400, ""},
		{"reversed pair", `{"name":"\ude00\ud83d"}`, 400, ""},
		{"too deep", deep, 400, ""},
		{"over 1 MiB", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, 413, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			var v sample
			err := Decode(r, &v)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			status, field, msg, ok := Status(err)
			if !ok || status != c.status || field != c.field || msg == "" {
				t.Errorf("got %d %q %q (%v), want %d %q", status, field, msg, err, c.status, c.field)
			}
		})
	}
	// Over the limit by Content-Length: refused before reading.
	r := httptest.NewRequest("POST", "/", io.NopCloser(errReader{}))
	r.ContentLength = MaxBody + 1
	if status, _, _, _ := Status(Decode(r, &sample{})); status != 413 {
		t.Errorf("Content-Length over the limit: %d, want 413", status)
	}
	// A body cut off by the listener's deadline is 408.
	r = httptest.NewRequest("POST", "/", io.NopCloser(timeoutReader{}))
	if status, _, _, _ := Status(Decode(r, &sample{})); status != http.StatusRequestTimeout {
		t.Errorf("body timeout: %d, want 408", status)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

type timeoutErr struct{}

func (timeoutErr) Error() string     { return "timeout" }
func (timeoutErr) BodyTimeout() bool { return true }

type timeoutReader struct{}

func (timeoutReader) Read(p []byte) (int, error) { return 0, timeoutErr{} }
