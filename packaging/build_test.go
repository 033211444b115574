package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-pbx/switchboard/internal/chroottest"
)

// The two builds the tests use: v1 for both architectures, v2 (amd64) as the
// upgrade, whose default config differs so that dpkg and rpm must choose
// between the administrator's copy and the new default.
const (
	v1     = "1.0.0+test.1"
	v2     = "1.0.1+test.2"
	commit = "c0ffee123456"
)

type builds struct {
	dir      string
	v1, v2   string // output directories
	v2Config []byte // the default config packaged in v2
}

var (
	buildOnce sync.Once
	built     builds
	buildErr  error
	tmpRoot   string
)

func TestMain(m *testing.M) {
	if os.Getenv("NFPM") != "" {
		chroottest.Prefetch("amd64")
	}
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// packages builds the test packages once per run, or skips when nfpm is not
// there (plain "go test ./..."; "make test-packages" provides it).
func packages(t *testing.T) builds {
	t.Helper()
	nfpm := os.Getenv("NFPM")
	if nfpm == "" {
		t.Skip("NFPM not set: the packaging tests run under make test-packages (which installs nfpm v2.45.2)")
	}
	buildOnce.Do(func() {
		root := chroottest.RepoRoot(t)
		if buildErr = chroottest.EnsureNFPM(nfpm); buildErr != nil {
			return
		}
		if tmpRoot, buildErr = os.MkdirTemp("", "sb-packages-"); buildErr != nil {
			return
		}
		built.dir = tmpRoot
		built.v1 = filepath.Join(tmpRoot, "v1")
		built.v2 = filepath.Join(tmpRoot, "v2")
		def, err := os.ReadFile(filepath.Join(root, "configs", "switchboard.yaml"))
		if err != nil {
			buildErr = err
			return
		}
		built.v2Config = append(def, []byte("\n# default changed in "+v2+"\n")...)
		v2cfg := filepath.Join(tmpRoot, "switchboard-v2.yaml")
		if buildErr = os.WriteFile(v2cfg, built.v2Config, 0o644); buildErr != nil {
			return
		}
		if buildErr = runBuild(root, nfpm, v1, "amd64 arm64", built.v1, ""); buildErr != nil {
			return
		}
		buildErr = runBuild(root, nfpm, v2, "amd64", built.v2, v2cfg)
	})
	if buildErr != nil {
		t.Fatalf("building test packages: %v", buildErr)
	}
	return built
}

func runBuild(root, nfpm, version, arches, out, config string) error {
	if config == "" {
		config = "configs/switchboard.yaml"
	}
	cmd := exec.Command(filepath.Join(root, "packaging", "build.sh"))
	cmd.Env = append(os.Environ(), "NFPM="+nfpm, "VERSION="+version, "COMMIT="+commit,
		"ARCHES="+arches, "OUT="+out, "SB_CONFIG="+config)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build.sh %s: %w\n%s", version, err, b)
	}
	return nil
}

// pkgFile finds the one package of a format and arch in dir.
func pkgFile(t *testing.T, dir, format, arch string) string {
	t.Helper()
	pattern := map[string]string{
		"deb/amd64": "*_amd64.deb", "deb/arm64": "*_arm64.deb",
		"rpm/amd64": "*.x86_64.rpm", "rpm/arm64": "*.aarch64.rpm",
	}[format+"/"+arch]
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) != 1 {
		t.Fatalf("want one %s in %s, found %v", pattern, dir, m)
	}
	return m[0]
}

// run runs a host command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chroottest.RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
