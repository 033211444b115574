package redirect

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

// sealer encrypts credentials with AES-256-GCM under a key kept in a file
// outside the database, so that a copy of the database (a backup, a support
// bundle, the audit log) does not carry usable vendor credentials.
type sealer struct {
	path string
	mu   sync.Mutex
	aead cipher.AEAD
}

const sealPrefix = "v1:"

// load reads the key, creating it (0600, 32 random bytes) on first use when
// create is set.
func (s *sealer) load(create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aead != nil {
		return s.aead, nil
	}
	key, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) && create {
		key = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, key); err != nil {
			return nil, fmt.Errorf("redirect: key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
			return nil, fmt.Errorf("redirect: key directory: %w", err)
		}
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("redirect: create key file: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("redirect: write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("redirect: write key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("redirect: credentials key %s: %w", s.path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("redirect: credentials key %s must be 32 bytes, is %d", s.path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("redirect: key: %w", err)
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("redirect: key: %w", err)
	}
	return s.aead, nil
}

// seal encrypts plain; aad binds the ciphertext to its object (the server id),
// so sealed credentials copied onto another server do not open.
func (s *sealer) seal(plain []byte, aad string) (string, error) {
	a, err := s.load(true)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", fmt.Errorf("redirect: nonce: %w", err)
	}
	return sealPrefix + base64.StdEncoding.EncodeToString(a.Seal(nonce, nonce, plain, []byte(aad))), nil
}

func (s *sealer) open(sealed, aad string) ([]byte, error) {
	b64, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, errors.New("redirect: credentials are not sealed")
	}
	a, err := s.load(false)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("redirect: sealed credentials are damaged")
	}
	plain, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(aad))
	if err != nil {
		return nil, errors.New("redirect: credentials do not decrypt with this key file")
	}
	return plain, nil
}
