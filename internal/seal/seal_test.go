package seal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k", "mail.key")
	s := &Sealer{Path: path}
	if _, err := s.Open(Prefix+"AAAA", "x"); err == nil {
		t.Fatal("opened without a key file")
	}
	v, err := s.Seal([]byte("hunter2"), "smtp")
	if err != nil || !strings.HasPrefix(v, Prefix) || strings.Contains(v, "hunter2") {
		t.Fatalf("%q %v", v, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	// A second sealer over the same file (a restart) opens it.
	p, err := (&Sealer{Path: path}).Open(v, "smtp")
	if err != nil || string(p) != "hunter2" {
		t.Fatalf("%q %v", p, err)
	}
	if _, err := s.Open(v, "other"); err == nil {
		t.Fatal("opened with another object's id")
	}
	if _, err := (&Sealer{Path: filepath.Join(t.TempDir(), "none")}).Open(v, "smtp"); err == nil {
		t.Fatal("opened without the key")
	}
	other := &Sealer{Path: filepath.Join(t.TempDir(), "other.key")}
	other.Seal(nil, "")
	if _, err := other.Open(v, "smtp"); err == nil {
		t.Fatal("opened with another key")
	}
	if _, err := s.Open("plain", "smtp"); err == nil {
		t.Fatal("opened an unsealed value")
	}
}
