// Package seal encrypts stored credentials (the SMTP password) with
// AES-256-GCM under a key kept in a file outside the database, so that a copy
// of the database (a backup, a support bundle, the audit log, the HA peer's
// replica) carries no usable password. It is the scheme redirect uses for
// vendor credentials: "v1:" + base64(nonce | ciphertext), the object's id as
// additional data so that a sealed value copied onto another object does not
// open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Prefix starts every sealed value.
const Prefix = "v1:"

// Sealer seals and opens values under the key in Path.
type Sealer struct {
	Path string
	mu   sync.Mutex
	aead cipher.AEAD
}

// load reads the key, creating it (0600, 32 random bytes) when create is set.
func (s *Sealer) load(create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aead != nil {
		return s.aead, nil
	}
	key, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) && create {
		key = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, key); err != nil {
			return nil, fmt.Errorf("seal: key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o750); err != nil {
			return nil, fmt.Errorf("seal: key directory: %w", err)
		}
		f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("seal: create key file: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("seal: write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("seal: write key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("seal: key %s: %w", s.Path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: key %s must be 32 bytes, is %d", s.Path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("seal: key: %w", err)
	}
	return s.aead, nil
}

// Seal encrypts plain bound to aad (the owning object's id).
func (s *Sealer) Seal(plain []byte, aad string) (string, error) {
	a, err := s.load(true)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	return Prefix + base64.StdEncoding.EncodeToString(a.Seal(nonce, nonce, plain, []byte(aad))), nil
}

// Open decrypts a value Seal made with the same aad.
func (s *Sealer) Open(sealed, aad string) ([]byte, error) {
	b64, ok := strings.CutPrefix(sealed, Prefix)
	if !ok {
		return nil, errors.New("seal: value is not sealed")
	}
	a, err := s.load(false)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("seal: sealed value is damaged")
	}
	plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(aad))
	if err != nil {
		return nil, errors.New("seal: the value does not decrypt with this key file")
	}
	return plain, nil
}
