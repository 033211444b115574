package needs

import (
	"os"
	"testing"
)

// Missing fails in CI as root and skips elsewhere; a subtest's outcome is
// read back through a fake testing.TB.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		Missing(f, "no %s", "thing")
		strict := ci != "" && os.Geteuid() == 0
		if f.failed != strict || f.skipped == strict {
			t.Errorf("CI=%q euid=%d: failed=%v skipped=%v", ci, os.Geteuid(), f.failed, f.skipped)
		}
	}
}
