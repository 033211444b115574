package ha

import (
	"context"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/switchboard-pbx/switchboard/ratelimit"
)

// Pairing: an enabled secondary without a cluster key accepts one SSH session on the
// sync path (pair_port) whose password is PairingPassword(its serial). The
// coordinator derives the same password from the serial the installer types, pins
// the secondary's host key (known_hosts, trust on first use), and sends a fresh
// random cluster key and its own host key, which the secondary pins. Both then start
// the heartbeat; the coordinator's store reaches the secondary through the data
// sync. With a cluster key present no pairing listener runs: password login is off.
const (
	// PairingSalt and PairingIterations are the documented KDF parameters:
	// password = base32(PBKDF2-HMAC-SHA256(serial, PairingSalt, PairingIterations, 15 bytes)),
	// lower case, without padding (24 characters).
	PairingSalt       = "switchboard-ha-pairing-v1"
	PairingIterations = 100000
	pairCommand       = "switchboard-ha-pair"
)

// pairDialPatience is how long Pair keeps trying a secondary that refuses the
// connection because its pairing listener is not up yet.
const pairDialPatience = 10 * time.Second

// PairingPassword derives the SSH pairing password from a serial number.
func PairingPassword(serial string) string {
	k, err := pbkdf2.Key(sha256.New, strings.TrimSpace(serial), []byte(PairingSalt), PairingIterations, 15)
	if err != nil {
		panic(err) // fixed, valid parameters
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(k))
}

type pairRequest struct {
	ClusterKey  string `json:"cluster_key"`
	Serial      string `json:"serial"`
	HostKey     string `json:"host_key"` // authorized_keys line of the coordinator
	Coordinator string `json:"coordinator_ip"`
}

type pairReply struct {
	Serial string `json:"serial"`
}

func (n *Node) pairAddrs() (local, remote netip.AddrPort) {
	l, r := n.cfg.LocalIP, n.cfg.RemoteIP
	if n.cfg.SyncInterface != "" {
		l, r = n.cfg.SyncLocalIP, n.cfg.SyncRemoteIP
	}
	p := uint16(n.cfg.PairPort)
	return netip.AddrPortFrom(netip.MustParseAddr(l), p), netip.AddrPortFrom(netip.MustParseAddr(r), p)
}

// hostKey loads (or creates) this node's SSH host key.
func (n *Node) hostKey() (ssh.Signer, error) {
	p := filepath.Join(n.dir, "ssh_host_ed25519_key")
	if b, err := os.ReadFile(p); err == nil {
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("ha: host key %s: %w", p, err)
		}
		return s, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "switchboard ha "+n.cfg.Serial)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("ha: host key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

func (n *Node) installKey(key []byte) error {
	tmp := n.cfg.ClusterKeyFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return fmt.Errorf("ha: cluster key: %w", err)
	}
	if err := os.Rename(tmp, n.cfg.ClusterKeyFile); err != nil {
		return fmt.Errorf("ha: cluster key: %w", err)
	}
	n.mu.Lock()
	n.key = key
	n.mu.Unlock()
	return nil
}

// awaitPairing blocks until this node has a cluster key: as the secondary it serves
// the pairing SSH listener, as the coordinator it waits for Pair.
func (n *Node) awaitPairing(ctx context.Context) error {
	if n.cfg.State == StateCoordinator {
		n.log.Warn("not paired: run 'switchboard ha pair --serial <secondary serial>' on this node")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.pairedCh:
			return nil
		}
	}
	signer, err := n.hostKey()
	if err != nil {
		return err
	}
	local, _ := n.pairAddrs()
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(local))
	if err != nil {
		return fmt.Errorf("ha: pairing listener on %s: %w", local, err)
	}
	return n.pairingOn(ctx, ln, signer)
}

// pairingOn serves the pairing SSH listener ln until this node is paired.
func (n *Node) pairingOn(ctx context.Context, ln *net.TCPListener, signer ssh.Signer) error {
	_, remote := n.pairAddrs()
	want := []byte(PairingPassword(n.cfg.Serial))
	limit := ratelimit.New(3, 10*time.Second)
	cfg := &ssh.ServerConfig{
		MaxAuthTries: 3,
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			if w := limit.Wait(ip); w > 0 {
				n.log.Warn("pairing login throttled", "from", ip, "retry_in", w.Round(time.Second))
				return nil, errors.New("throttled")
			}
			if subtle.ConstantTimeCompare(pw, want) == 1 {
				return nil, nil
			}
			if limit.Fail(ip) {
				n.log.Warn("throttling pairing logins", "from", ip)
			}
			n.log.Warn("wrong pairing password", "from", ip, "user", c.User())
			return nil, errors.New("wrong password")
		},
	}
	cfg.AddHostKey(signer)
	defer ln.Close()
	go func() {
		select {
		case <-ctx.Done():
		case <-n.pairedCh:
		}
		ln.Close()
	}()
	n.log.Warn("not paired: waiting for the coordinator (SSH, password derived from this serial)", "listen", ln.Addr().String(), "serial", n.cfg.Serial)
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			select {
			case <-n.pairedCh:
				n.log.Info("paired; pairing listener closed (password login off)")
				return nil
			default:
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if ip := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap(); ip != remote.Addr() {
			n.log.Warn("pairing attempt from an address that is not the peer", "from", ip.String())
			c.Close()
			continue
		}
		go n.servePairing(c, cfg)
	}
}

func (n *Node) servePairing(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range creqs {
			var cmd struct{ Command string }
			if req.Type != "exec" || ssh.Unmarshal(req.Payload, &cmd) != nil || cmd.Command != pairCommand {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			status := 0
			if err := n.acceptPairing(ch, conn.RemoteAddr()); err != nil {
				n.log.Error("pairing failed", "err", err)
				fmt.Fprintf(ch.Stderr(), "%v\n", err)
				status = 1
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
			ch.Close()
			return
		}
	}
}

func (n *Node) acceptPairing(ch ssh.Channel, from net.Addr) error {
	b, err := io.ReadAll(io.LimitReader(ch, 64<<10))
	if err != nil {
		return err
	}
	var req pairRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return fmt.Errorf("pairing request: %w", err)
	}
	key, err := hex.DecodeString(req.ClusterKey)
	if err != nil || len(key) < 32 {
		return errors.New("pairing request: cluster key must be at least 32 bytes of hex")
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.HostKey))
	if err != nil {
		return fmt.Errorf("pairing request: coordinator host key: %w", err)
	}
	_, remote := n.pairAddrs()
	line := knownhosts.Line([]string{knownhosts.Normalize(remote.String())}, pub) + "\n"
	if err := os.WriteFile(filepath.Join(n.dir, "known_hosts"), []byte(line), 0o600); err != nil {
		return err
	}
	// Until the coordinator's configuration arrives this node must not win an
	// election: its own store would overwrite the coordinator's.
	if err := os.WriteFile(n.freshPath(), []byte("paired, waiting for the first snapshot\n"), 0o600); err != nil {
		return err
	}
	if err := n.installKey(key); err != nil {
		return err
	}
	reply, _ := json.Marshal(pairReply{Serial: n.cfg.Serial})
	ch.Write(reply)
	n.log.Info("paired with the coordinator", "coordinator", req.Serial, "from", from.String())
	n.pairOnce.Do(func() { close(n.pairedCh) })
	return nil
}

func (n *Node) freshPath() string { return filepath.Join(n.dir, "fresh") }

// configured clears the fresh mark once a snapshot from the peer has been applied.
func (n *Node) configured() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || !n.m.Fresh() {
		return
	}
	if err := os.Remove(n.freshPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		n.log.Error("clearing the fresh mark", "err", err)
		return
	}
	n.log.Info("received the coordinator's configuration")
	n.apply(n.m.SetFresh(time.Now(), false))
}

// Pair runs the coordinator's side: serial is the secondary's, as the installer typed it.
func (n *Node) Pair(ctx context.Context, serial string) error {
	if n.cfg.State != StateCoordinator {
		return errors.New("ha: pair from the coordinator (ha.state: coordinator)")
	}
	n.mu.Lock()
	paired := n.key != nil
	n.mu.Unlock()
	if paired {
		return errors.New("ha: already paired (unpair first)")
	}
	if strings.TrimSpace(serial) == "" {
		return errors.New("ha: the secondary's serial number is required")
	}
	signer, err := n.hostKey()
	if err != nil {
		return err
	}
	_, remote := n.pairAddrs()
	khPath := filepath.Join(n.dir, "known_hosts")
	if f, err := os.OpenFile(khPath, os.O_CREATE|os.O_RDONLY, 0o600); err == nil {
		f.Close()
	}
	kh, err := knownhosts.New(khPath)
	if err != nil {
		return fmt.Errorf("ha: known_hosts: %w", err)
	}
	hostKeyCB := func(host string, addr net.Addr, key ssh.PublicKey) error {
		err := kh(host, addr, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) == 0 {
			// First contact: pin it. A changed key later is refused.
			line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key) + "\n"
			f, ferr := os.OpenFile(khPath, os.O_APPEND|os.O_WRONLY, 0o600)
			if ferr != nil {
				return ferr
			}
			defer f.Close()
			_, ferr = f.WriteString(line)
			return ferr
		}
		if err != nil {
			return fmt.Errorf("ha: the secondary's host key changed since it was pinned: %w", err)
		}
		return nil
	}
	local, _ := n.pairAddrs()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local.Addr(), 0))}
	// The secondary may still be starting its pairing listener (installers pair
	// two boxes booted together): a refused connection is tried again for a while.
	var raw net.Conn
	for wait := time.Now().Add(pairDialPatience); ; {
		raw, err = d.DialContext(ctx, "tcp", remote.String())
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(wait) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ha: pairing: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("ha: pairing: %w", err)
	}
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewClientConn(raw, remote.String(), &ssh.ClientConfig{User: "pair",
		Auth: []ssh.AuthMethod{ssh.Password(PairingPassword(serial))}, HostKeyCallback: hostKeyCB})
	if err != nil {
		raw.Close()
		return fmt.Errorf("ha: pairing with %s: %w (is the serial number right?)", remote.Addr(), err)
	}
	client := ssh.NewClient(conn, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("ha: pairing session: %w", err)
	}
	defer sess.Close()
	key := make([]byte, 32)
	rand.Read(key)
	body, _ := json.Marshal(pairRequest{ClusterKey: hex.EncodeToString(key), Serial: n.cfg.Serial,
		HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), Coordinator: local.Addr().String()})
	sess.Stdin = strings.NewReader(string(body))
	var out, errOut strings.Builder
	sess.Stdout, sess.Stderr = &out, &errOut
	if err := sess.Run(pairCommand); err != nil {
		return fmt.Errorf("ha: the secondary refused pairing: %v %s", err, strings.TrimSpace(errOut.String()))
	}
	var rep pairReply
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		return fmt.Errorf("ha: pairing reply: %w", err)
	}
	if err := n.installKey(key); err != nil {
		return err
	}
	n.log.Info("paired", "secondary", rep.Serial, "address", remote.Addr().String(), "pinned_host_keys", strconv.Quote(khPath))
	n.pairOnce.Do(func() { close(n.pairedCh) })
	return nil
}
