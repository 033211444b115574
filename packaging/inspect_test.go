package packaging

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// entry is what a package says about one path.
type entry struct{ perms, owner string }

// The package holds these paths and nothing else (directories end in /).
var wantEntries = map[string]entry{
	"/usr/bin/switchboard":                                {"-rwxr-xr-x", "root/root"},
	"/usr/lib/systemd/system/switchboard.service":         {"-rw-r--r--", "root/root"},
	"/etc/switchboard/":                                   {"drwxr-x---", "root/switchboard"},
	"/etc/switchboard/switchboard.yaml":                   {"-rw-r-----", "root/switchboard"},
	"/var/lib/switchboard/":                               {"drwxr-x---", "switchboard/switchboard"},
	"/etc/fail2ban/filter.d/switchboard.conf":             {"-rw-r--r--", "root/root"},
	"/etc/fail2ban/jail.d/switchboard.conf":               {"-rw-r--r--", "root/root"},
	"/etc/switchboard-ha-units":                           {"-rw-r--r--", "root/root"},
	"/usr/share/polkit-1/rules.d/50-switchboard-ha.rules": {"-rw-r--r--", "root/root"},
	"/usr/share/switchboard/grafana/switchboard.json":     {"-rw-r--r--", "root/root"},
	"/usr/share/bash-completion/completions/switchboard":  {"-rw-r--r--", "root/root"},
}

// The package's conffiles (deb) and %config(noreplace) files (rpm), sorted.
var configFiles = []string{"/etc/fail2ban/filter.d/switchboard.conf", "/etc/fail2ban/jail.d/switchboard.conf",
	"/etc/switchboard-ha-units", "/etc/switchboard/switchboard.yaml"}

// Files shipped from the repository as they are: package path -> source.
var shippedAsIs = map[string]string{
	"/etc/switchboard/switchboard.yaml":       "configs/switchboard.yaml",
	"/etc/fail2ban/filter.d/switchboard.conf": "packaging/fail2ban/filter.conf",
	"/etc/fail2ban/jail.d/switchboard.conf":   "packaging/fail2ban/jail.conf",
	"/etc/switchboard-ha-units":               "packaging/ha-units",
}

// entriesFor is wantEntries with the format's own paths.
func entriesFor(format string) map[string]entry {
	out := map[string]entry{zshCompletion[format]: {"-rw-r--r--", "root/root"}}
	for p, e := range wantEntries {
		out[p] = e
	}
	return out
}

// zshCompletion is where each format puts the zsh completion.
var zshCompletion = map[string]string{"deb": "/usr/share/zsh/vendor-completions/_switchboard", "rpm": "/usr/share/zsh/site-functions/_switchboard"}

// Directories the package may list because they lead to its own paths.
var parentDirs = map[string]bool{"/etc/": true, "/etc/fail2ban/": true, "/etc/fail2ban/filter.d/": true,
	"/etc/fail2ban/jail.d/": true, "/usr/": true, "/usr/bin/": true, "/usr/lib/": true,
	"/usr/lib/systemd/": true, "/usr/lib/systemd/system/": true, "/var/": true, "/var/lib/": true,
	"/usr/share/": true, "/usr/share/polkit-1/": true, "/usr/share/polkit-1/rules.d/": true, "/usr/share/switchboard/": true,
	"/usr/share/switchboard/grafana/": true, "/usr/share/bash-completion/": true, "/usr/share/bash-completion/completions/": true,
	"/usr/share/zsh/": true, "/usr/share/zsh/vendor-completions/": true, "/usr/share/zsh/site-functions/": true}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func TestDebContents(t *testing.T) {
	b := packages(t)
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			deb := pkgFile(t, b.v1, "deb", arch)

			// dpkg-deb -c: the files, their modes and owners.
			got := map[string]entry{}
			for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("dpkg-deb -c: odd line %q", line)
				}
				got[strings.TrimPrefix(f[len(f)-1], ".")] = entry{f[0], f[1]}
			}
			checkEntries(t, got, "deb")

			// dpkg-deb -I: control fields and the control archive.
			info := run(t, "dpkg-deb", "-I", deb)
			for _, want := range []string{
				"Package: switchboard", "Version: " + v1 + "-1", "Architecture: " + arch,
				"Section: net", "Depends: passwd", "Recommends: systemd, polkitd",
			} {
				if !regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(want) + `$`).MatchString(info) {
					t.Errorf("dpkg-deb -I: no %q line in\n%s", want, info)
				}
			}
			for _, script := range []string{"preinst", "postinst", "prerm", "postrm"} {
				if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+\*\s+` + script + `\s`).MatchString(info) {
					t.Errorf("dpkg-deb -I: %s missing or not executable in\n%s", script, info)
				}
			}
			if c, want := sortedLines(run(t, "dpkg-deb", "-I", deb, "conffiles")), strings.Join(configFiles, "\n"); c != want {
				t.Errorf("conffiles = %q, want %q", c, want)
			}
			// The control archive carries our scripts as written.
			for script, src := range map[string]string{"preinst": "preinstall.sh", "postinst": "postinstall.sh",
				"prerm": "preremove.sh", "postrm": "postremove.sh"} {
				if got, want := run(t, "dpkg-deb", "-I", deb, script), readRepoFile(t, "packaging/scripts/"+src); got != want {
					t.Errorf("%s differs from packaging/scripts/%s", script, src)
				}
			}

			// The payload: the default config and the fail2ban files as in the
			// repository, and a binary for arch.
			for dst, src := range shippedAsIs {
				if got, want := debFile(t, deb, "."+dst), readRepoFile(t, src); string(got) != want {
					t.Errorf("packaged %s differs from %s", dst, src)
				}
			}
			checkBinary(t, debFile(t, deb, "./usr/bin/switchboard"), arch)
		})
	}
}

// debFile extracts one file of a deb's payload.
func debFile(t *testing.T, deb, path string) []byte {
	t.Helper()
	out, err := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xOf - "$2"`, "sh", deb, path).Output()
	if err != nil {
		t.Fatalf("extracting %s from %s: %v", path, deb, err)
	}
	return out
}

func checkEntries(t *testing.T, got map[string]entry, format string) {
	t.Helper()
	for p, want := range entriesFor(format) {
		if g, ok := got[p]; !ok {
			t.Errorf("%s missing", p)
		} else if g != want {
			t.Errorf("%s: %s %s, want %s %s", p, g.perms, g.owner, want.perms, want.owner)
		}
	}
	for p := range got {
		if _, ok := entriesFor(format)[p]; !ok && !parentDirs[p] {
			t.Errorf("unexpected path %s in the package", p)
		}
	}
}

// checkBinary asserts the binary is for arch, statically linked (CGO off), and,
// when it can run here, that "switchboard version" reports the package version.
func checkBinary(t *testing.T, bin []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("binary: %v", err)
	}
	if f.Machine != elfMachine[arch] {
		t.Errorf("binary machine %v, want %v", f.Machine, elfMachine[arch])
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has an ELF interpreter: not a static CGO_ENABLED=0 build")
		}
	}
	if arch != "amd64" {
		return
	}
	path := filepath.Join(t.TempDir(), "switchboard")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out := run(t, path, "version")
	if want := "switchboard " + v1 + " (commit " + commit + ","; !strings.HasPrefix(out, want) {
		t.Errorf("switchboard version = %q, want prefix %q", out, want)
	}
}

func TestRPMContents(t *testing.T) {
	b := packages(t)
	rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			rpm := pkgFile(t, b.v1, "rpm", arch)
			if got, want := run(t, "rpm", "-qp", "--qf", "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{OS}", rpm),
				"switchboard|"+v1+"|1|"+rpmArch[arch]+"|linux"; got != want {
				t.Errorf("rpm header %q, want %q", got, want)
			}

			// rpm -qpl: exactly our paths.
			var wantList []string
			for p := range entriesFor("rpm") {
				wantList = append(wantList, strings.TrimSuffix(p, "/"))
			}
			if got, want := sortedLines(run(t, "rpm", "-qpl", rpm)), sortedLines(strings.Join(wantList, "\n")); got != want {
				t.Errorf("rpm -qpl:\n%s\nwant:\n%s", got, want)
			}
			// rpm -qpc: the config files, each %config(noreplace) ("cn").
			if got, want := sortedLines(run(t, "rpm", "-qpc", rpm)), strings.Join(configFiles, "\n"); got != want {
				t.Errorf("rpm -qpc = %q, want %q", got, want)
			}
			got := map[string]entry{}
			flags := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf",
				`[%{FILEFLAGS:fflags}|%{FILEUSERNAME}/%{FILEGROUPNAME}|%{FILEMODES:perms}|%{FILENAMES}\n]`, rpm)), "\n") {
				f := strings.Split(line, "|")
				p := f[3]
				if strings.HasPrefix(f[2], "d") {
					p += "/"
				}
				got[p] = entry{f[2], f[1]}
				flags[p] = f[0]
			}
			checkEntries(t, got, "rpm")
			for _, c := range configFiles {
				if flags[c] != "cn" {
					t.Errorf("%s flags %q, want cn (%%config(noreplace))", c, flags[c])
				}
			}

			// rpm --scripts: the four scriptlets are ours, run by /bin/sh.
			scripts := parseScriptlets(run(t, "rpm", "-qp", "--scripts", rpm))
			for name, src := range map[string]string{"preinstall": "preinstall.sh", "postinstall": "postinstall.sh",
				"preuninstall": "preremove.sh", "postuninstall": "postremove.sh"} {
				body, ok := scripts[name]
				if !ok {
					t.Errorf("no %s scriptlet", name)
					continue
				}
				if strings.TrimSpace(body) != strings.TrimSpace(readRepoFile(t, "packaging/scripts/"+src)) {
					t.Errorf("%s scriptlet differs from packaging/scripts/%s:\n%s", name, src, body)
				}
			}
			if reqs := run(t, "rpm", "-qpR", rpm); !regexp.MustCompile(`(?m)^shadow-utils`).MatchString(reqs) {
				t.Errorf("rpm does not require shadow-utils (useradd):\n%s", reqs)
			}
		})
	}
}

// parseScriptlets splits "rpm --scripts" output into scriptlet bodies by name;
// it insists on /bin/sh, the shell the scripts are written for.
func parseScriptlets(out string) map[string]string {
	head := regexp.MustCompile(`(?m)^(\w+) scriptlet \(using /bin/sh\):$`)
	res := map[string]string{}
	idx := head.FindAllStringSubmatchIndex(out, -1)
	for i, m := range idx {
		end := len(out)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		res[out[m[2]:m[3]]] = out[m[1]:end]
	}
	return res
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	sortStrings(lines)
	return strings.Join(lines, "\n")
}
