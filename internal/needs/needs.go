package needs

import (
	"os"
	"testing"
)

// Strict reports whether a missing requirement is a failure: in CI, as root.
func Strict() bool { return os.Getenv("CI") != "" && os.Geteuid() == 0 }

// Missing skips the test (or fails it in CI, see Strict) with the message.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("CI: "+format, args...)
		return
	}
	t.Skipf(format, args...)
}
