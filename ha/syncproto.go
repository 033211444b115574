package ha

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/switchboard-pbx/switchboard/store"
)

// The sync link is SSH (golang.org/x/crypto/ssh): the passive dials the active on
// the sync path and opens one channel of type syncChannel; both ends
// authenticate with an Ed25519 key the other has pinned. Paired nodes use their
// host keys, pinned by the pairing session (ha/known_hosts); nodes given a cluster
// key by hand, with nothing pinned, use a key both derive from the cluster key.
// Key exchange and ciphers are limited to the hybrid post-quantum and X25519
// exchanges and to AEAD ciphers; SSH gives forward secrecy and rekeying.
//
// Inside the channel every message is a frame: a type byte, a 4-byte big-endian
// payload length, the payload.
const (
	syncChannel  = "switchboard-sync-v2@switchboard"
	syncUser     = "ha-sync"
	maxFrame     = 64 << 20 // a snapshot of a very large configuration
	frameHeader  = 5
	identityInfo = "switchboard ha sync identity v1"

	msgHello     = 1 // passive -> active: its revision and audit head (helloPayload)
	msgAck       = 2 // passive -> active: the active's revision now applied here (8 bytes)
	msgSnapshot  = 3 // active -> passive: JSON store.Snapshot
	msgChanges   = 4 // active -> passive: JSON []store.ReplicaAuditRow (whole transactions)
	msgResume    = 5 // active -> passive: the passive's revision continues the active's (8 bytes)
	msgKeepalive = 6 // active -> passive: active's revision (8 bytes)
)

var (
	syncKex     = []string{ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519}
	syncCiphers = []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES256GCM}
)

// syncKeys are this node's key on the sync link and the one key it accepts from the peer.
type syncKeys struct {
	own    ssh.Signer
	peer   ssh.PublicKey
	pinned bool // peer is the host key pinned at pairing (else derived from the cluster key)
}

// clusterIdentity is the Ed25519 key both nodes derive from the cluster key.
func clusterIdentity(key []byte) (ssh.Signer, error) {
	seed, err := hkdf.Key(sha256.New, key, nil, identityInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("ha sync: identity: %w", err)
	}
	return ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
}

// pinnedPeerKey is the peer's host key as pairing pinned it in known_hosts
// (nil when nothing is pinned for host).
func pinnedPeerKey(dir, host string) (ssh.PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ha sync: known_hosts: %w", err)
	}
	want := knownhosts.Normalize(host)
	for rest := b; len(rest) > 0; {
		_, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("ha sync: known_hosts: %w", err)
		}
		rest = next
		for _, h := range hosts {
			if h == want {
				return key, nil
			}
		}
	}
	return nil, nil
}

func (k syncKeys) accepts(key ssh.PublicKey) bool {
	return key != nil && bytes.Equal(key.Marshal(), k.peer.Marshal())
}

func (k syncKeys) serverConfig() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		Config:       ssh.Config{KeyExchanges: syncKex, Ciphers: syncCiphers},
		MaxAuthTries: 2,
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == syncUser && k.accepts(key) {
				return nil, nil
			}
			return nil, errors.New("not the peer's key")
		},
	}
	cfg.AddHostKey(k.own)
	return cfg
}

func (k syncKeys) clientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		Config:            ssh.Config{KeyExchanges: syncKex, Ciphers: syncCiphers},
		User:              syncUser,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(k.own)},
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if !k.accepts(key) {
				return errors.New("ha sync: the peer's key is not the pinned one")
			}
			return nil
		},
	}
}

// frameConn reads and writes frames on one sync channel.
type frameConn struct {
	r *bufio.Reader
	w io.Writer
}

func newFrameConn(rw io.ReadWriter) *frameConn {
	return &frameConn{r: bufio.NewReaderSize(rw, 64<<10), w: rw}
}

func (c *frameConn) write(typ byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("ha sync: message of %d bytes is too large", len(payload))
	}
	b := make([]byte, frameHeader, frameHeader+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	if _, err := c.w.Write(append(b, payload...)); err != nil {
		return fmt.Errorf("ha sync: write: %w", err)
	}
	return nil
}

func (c *frameConn) read() (byte, []byte, error) {
	return readFrame(c.r)
}

// readFrame reads one frame; a length over maxFrame is refused before anything
// is allocated for it.
func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("ha sync: read: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("ha sync: frame of %d bytes is too large", n)
	}
	if hdr[0] < msgHello || hdr[0] > msgKeepalive {
		return 0, nil, fmt.Errorf("ha sync: unknown message type %d", hdr[0])
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, fmt.Errorf("ha sync: read: %w", err)
	}
	return hdr[0], buf, nil
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

// parseHello reads a hello.
func parseHello(p []byte) (int64, store.AuditMark, error) {
	var m store.AuditMark
	if len(p) < 16 || len(p) > 16+128 {
		return 0, m, fmt.Errorf("ha sync: hello of %d bytes", len(p))
	}
	rev, err := parseRev(p[:8])
	if err != nil {
		return 0, m, err
	}
	id := binary.BigEndian.Uint64(p[8:16])
	if id > 1<<62 {
		return 0, m, errors.New("ha sync: audit row id out of range")
	}
	m.ID, m.Hash = int64(id), string(p[16:])
	if m.ID == 0 && m.Hash != "" {
		return 0, m, errors.New("ha sync: hash of an empty audit chain")
	}
	return rev, m, nil
}

func decodeSnapshot(p []byte) (store.Snapshot, error) {
	var snap store.Snapshot
	if err := json.Unmarshal(p, &snap); err != nil {
		return snap, fmt.Errorf("ha sync: snapshot: %w", err)
	}
	if snap.Revision < 0 {
		return snap, errors.New("ha sync: snapshot with a negative revision")
	}
	for i, o := range snap.Objects {
		if o.Kind == "" || o.ID == "" || !json.Valid([]byte(o.Data)) {
			return snap, fmt.Errorf("ha sync: snapshot object %d is malformed", i)
		}
	}
	return snap, nil
}

// decodeChanges reads a change-log batch and checks it is well formed in itself.
func decodeChanges(p []byte) ([]store.ReplicaAuditRow, error) {
	var rows []store.ReplicaAuditRow
	if err := json.Unmarshal(p, &rows); err != nil {
		return nil, fmt.Errorf("ha sync: changes: %w", err)
	}
	if err := store.CheckChanges(rows); err != nil {
		return nil, fmt.Errorf("ha sync: changes: %w", err)
	}
	return rows, nil
}
