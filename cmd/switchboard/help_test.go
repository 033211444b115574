package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// clientNouns are the commands whose verbs come from verbsFor.
var clientNouns = []string{"status", "user", "tenant", "audit", "device", "account", "files", "unknown", "catalog",
	"template", "pbx", "redirect", "dhcp", "ha", "cti", "cti user", "cti profile", "task", "mail"}

// TestHelpEverywhere walks the real command table: "switchboard --help", and
// "--help" of every command, noun and verb, exit 0 with the help on stdout and
// nothing on stderr.
func TestHelpEverywhere(t *testing.T) {
	var cmds [][]string
	cmds = append(cmds, []string{"--help"}, []string{"help"}, []string{"-h"})
	for _, c := range commandNames() {
		cmds = append(cmds, []string{c, "--help"})
	}
	for _, noun := range clientNouns {
		words := strings.Fields(noun)
		cmds = append(cmds, append(append([]string{}, words...), "--help"), append(append([]string{}, words...), "help"))
		key := noun
		if key == "files" {
			key = "file"
		}
		vs := verbsFor(key)
		if len(vs) == 0 {
			t.Errorf("noun %q has no verbs", noun)
		}
		for _, v := range vs {
			cmds = append(cmds, append(append(append([]string{}, words...), v.name), "--help"))
		}
	}
	for _, args := range cmds {
		var out, errOut bytes.Buffer
		cmd := exec.Command(binPath, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil || out.Len() == 0 || errOut.Len() != 0 || !strings.Contains(strings.ToLower(out.String()), "usage") {
			t.Errorf("switchboard %s: %v, stdout %q, stderr %q", strings.Join(args, " "), err, trunc(out.String()), errOut.String())
		}
	}
	if len(cmds) < 80 {
		t.Errorf("only %d commands walked", len(cmds))
	}
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// TestDidYouMean: a typo in a command or a verb gets a suggestion and exit 2.
func TestDidYouMean(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"devcie", "list"}, `did you mean "device"?`},
		{[]string{"device", "lsit"}, `did you mean "list"?`},
		{[]string{"doctr"}, `did you mean "doctor"?`},
	} {
		var errOut bytes.Buffer
		cmd := exec.Command(binPath, c.args...)
		cmd.Stderr = &errOut
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: %v %q", c.args, err, errOut.String())
		}
	}
}
