package packaging

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/chroottest"
)

// TestShellcheck lints every shell script that ships or builds: the maintainer
// scripts as POSIX sh (dpkg and rpm run them with /bin/sh, dash on Debian),
// the rest as bash.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (.ci/run installs it)")
	}
	root := chroottest.RepoRoot(t)
	sets := map[string][]string{
		"sh":   {"packaging/scripts/*.sh"},
		"bash": {"packaging/*.sh", "rootfs/*.sh", "rootfs/overlay/usr/lib/switchboard/firstboot"},
	}
	for shell, patterns := range sets {
		var files []string
		for _, p := range patterns {
			m, _ := filepath.Glob(filepath.Join(root, p))
			files = append(files, m...)
		}
		if len(files) == 0 {
			t.Fatalf("no %s scripts found for %v", shell, patterns)
		}
		out, err := exec.Command("shellcheck", append([]string{"-s", shell}, files...)...).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck -s %s: %v\n%s", shell, err, out)
		}
	}
}
