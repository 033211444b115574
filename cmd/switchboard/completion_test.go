package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCompletionShipped: the scripts the packages ship are what the binary
// generates from its command table (regenerate with "switchboard completion
// bash > packaging/completion/switchboard.bash" and likewise for zsh), bash
// completes nouns, verbs and flags with them, and zsh parses its script.
func TestCompletionShipped(t *testing.T) {
	for shell, file := range map[string]string{"bash": "switchboard.bash", "zsh": "_switchboard"} {
		got, err := exec.Command(binPath, "completion", shell).Output()
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "..", "packaging", "completion", file))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("packaging/completion/%s is stale: regenerate it with: switchboard completion %s > packaging/completion/%s", file, shell, file)
		}
	}
	if _, err := exec.LookPath("bash"); err == nil {
		script := filepath.Join("..", "..", "packaging", "completion", "switchboard.bash")
		for _, c := range []struct{ line, want string }{
			{"switchboard dev", "device"},
			{"switchboard device s", "set show"},
			{"switchboard device set 001565000001 --acc", "--account"},
			{"switchboard cti user a", "add"},
			{"switchboard template ", "copy edit list show validate"},
			{"switchboard --socket /run/sb.sock doc", "doctor"},
		} {
			words := strings.Fields(c.line)
			if strings.HasSuffix(c.line, " ") {
				words = append(words, "")
			}
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, "'"+w+"'")
			}
			sh := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
				strconv.Itoa(len(words)-1) + "; _switchboard; echo \"${COMPREPLY[*]}\""
			out, err := exec.Command("bash", "-c", sh).Output()
			if err != nil || strings.TrimSpace(string(out)) != c.want {
				t.Errorf("bash completes %q to %q (%v), want %q", c.line, strings.TrimSpace(string(out)), err, c.want)
			}
		}
	}
	if _, err := exec.LookPath("zsh"); err == nil {
		if out, err := exec.Command("zsh", "-n", filepath.Join("..", "..", "packaging", "completion", "_switchboard")).CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v %s", err, out)
		}
	}
}
