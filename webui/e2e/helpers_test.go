package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-pbx/switchboard/webui/webuitest"
)

// waitFor polls cond every 100 ms until it holds, failing the test after the
// browser step timeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(webuitest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, webuitest.Timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// asJSON is v as JSON text, for looking into audit images.
func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
