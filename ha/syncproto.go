package ha

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/switchboard-pbx/switchboard/store"
)

// The sync protocol: the passive dials the active on the sync path. Both send
// "SBS1" and a random 16-byte nonce; two AES-256-GCM keys (one per direction) are
// derived from the cluster key and both nonces with HKDF-SHA256. Every frame is a
// 4-byte length and a sealed message whose GCM nonce is the frame counter of its
// direction, so replayed, reordered or forged frames fail to open.
const (
	syncMagic    = "SBS1"
	nonceLen     = 16
	maxFrame     = 64 << 20 // a snapshot of a very large configuration
	syncInfo     = "switchboard ha sync v1"
	msgAck       = 1 // passive -> active: revision now applied (8 bytes); the first one is the hello (see helloPayload)
	msgSnapshot  = 2 // active -> passive: JSON store.Snapshot
	msgKeepalive = 3 // active -> passive: active's revision (8 bytes)
)

// syncConn is one authenticated, encrypted sync session.
type syncConn struct {
	rw             io.ReadWriter
	send, recv     cipher.AEAD
	sendCtr, rcCtr uint64
}

// handshake runs the nonce exchange; dialer says which side this is.
func handshake(rw io.ReadWriter, key []byte, dialer bool) (*syncConn, error) {
	mine := make([]byte, len(syncMagic)+nonceLen)
	copy(mine, syncMagic)
	rand.Read(mine[len(syncMagic):])
	if _, err := rw.Write(mine); err != nil {
		return nil, fmt.Errorf("ha sync: handshake: %w", err)
	}
	theirs := make([]byte, len(mine))
	if _, err := io.ReadFull(rw, theirs); err != nil {
		return nil, fmt.Errorf("ha sync: handshake: %w", err)
	}
	if string(theirs[:len(syncMagic)]) != syncMagic {
		return nil, errors.New("ha sync: handshake: not a switchboard sync peer")
	}
	dn, an := mine[len(syncMagic):], theirs[len(syncMagic):]
	if !dialer {
		dn, an = an, dn
	}
	return newSyncConn(rw, key, dn, an, dialer)
}

func newSyncConn(rw io.ReadWriter, key, dialerNonce, acceptorNonce []byte, dialer bool) (*syncConn, error) {
	salt := append(append([]byte{}, dialerNonce...), acceptorNonce...)
	keys, err := hkdf.Key(sha256.New, key, salt, syncInfo, 64)
	if err != nil {
		return nil, fmt.Errorf("ha sync: key derivation: %w", err)
	}
	mk := func(k []byte) cipher.AEAD {
		b, _ := aes.NewCipher(k) // 32 bytes: cannot fail
		g, _ := cipher.NewGCM(b)
		return g
	}
	toAcceptor, toDialer := mk(keys[:32]), mk(keys[32:])
	c := &syncConn{rw: rw, send: toAcceptor, recv: toDialer}
	if !dialer {
		c.send, c.recv = toDialer, toAcceptor
	}
	return c, nil
}

func ctrNonce(ctr uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], ctr)
	return n
}

func (c *syncConn) write(typ byte, payload []byte) error {
	sealed := c.send.Seal(nil, ctrNonce(c.sendCtr), append([]byte{typ}, payload...), nil)
	c.sendCtr++
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(sealed)))
	if _, err := c.rw.Write(append(hdr, sealed...)); err != nil {
		return fmt.Errorf("ha sync: write: %w", err)
	}
	return nil
}

func (c *syncConn) read() (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.rw, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("ha sync: read: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("ha sync: frame of %d bytes is too large", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.rw, buf); err != nil {
		return 0, nil, fmt.Errorf("ha sync: read: %w", err)
	}
	return c.open(buf)
}

// open authenticates and decrypts one sealed frame.
func (c *syncConn) open(sealed []byte) (byte, []byte, error) {
	plain, err := c.recv.Open(nil, ctrNonce(c.rcCtr), sealed, nil)
	if err != nil {
		return 0, nil, errors.New("ha sync: frame does not authenticate with the cluster key")
	}
	c.rcCtr++
	if len(plain) == 0 {
		return 0, nil, errors.New("ha sync: empty frame")
	}
	return plain[0], plain[1:], nil
}

func revPayload(rev int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(rev)) }

func parseRev(p []byte) (int64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("ha sync: revision payload of %d bytes", len(p))
	}
	v := binary.BigEndian.Uint64(p)
	if v > 1<<62 {
		return 0, errors.New("ha sync: revision out of range")
	}
	return int64(v), nil
}

// helloPayload is the passive's first message: its revision (8 bytes), then the id
// (8 bytes) and hash of the last row of its audit chain.
func helloPayload(rev int64, head store.AuditMark) []byte {
	b := revPayload(rev)
	b = binary.BigEndian.AppendUint64(b, uint64(head.ID))
	return append(b, head.Hash...)
}

// parseHello reads a hello; a bare revision (a passive that does not replicate the
// audit log) gives the zero mark: the whole chain is sent.
func parseHello(p []byte) (int64, store.AuditMark, error) {
	var m store.AuditMark
	if len(p) < 8 {
		return 0, m, fmt.Errorf("ha sync: hello of %d bytes", len(p))
	}
	rev, err := parseRev(p[:8])
	if err != nil || len(p) == 8 {
		return rev, m, err
	}
	if len(p) < 16 || len(p) > 16+128 {
		return 0, m, fmt.Errorf("ha sync: hello of %d bytes", len(p))
	}
	id := binary.BigEndian.Uint64(p[8:16])
	if id > 1<<62 {
		return 0, m, errors.New("ha sync: audit row id out of range")
	}
	m.ID, m.Hash = int64(id), string(p[16:])
	return rev, m, nil
}
