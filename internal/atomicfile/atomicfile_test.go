package atomicfile

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestReadersNeverSeeAPartialFile: while a file is rewritten again and
// again, every read finds one whole version.
func TestReadersNeverSeeAPartialFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	versions := map[string]bool{"first version\n": true, "the second, longer version\n": true}
	if err := Write(path, []byte("first version\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			data := "first version\n"
			if i%2 == 1 {
				data = "the second, longer version\n"
			}
			if err := Write(path, []byte(data), 0o600); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 2000 {
		b, err := os.ReadFile(path)
		if err != nil || !versions[string(b)] {
			t.Fatalf("read %q, %v", b, err)
		}
	}
	wg.Wait()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
}
