package ha

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Role is a node's place in the cluster.
type Role uint8

const (
	RoleInit    Role = iota // booting: waiting for the init timeout, holding nothing
	RolePassive             // standing by
	RoleActive              // holding the resource
)

func (r Role) String() string {
	switch r {
	case RoleInit:
		return "init"
	case RolePassive:
		return "passive"
	case RoleActive:
		return "active"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

const (
	magic     = "SBH1"
	maxName   = 64
	macLen    = sha256.Size
	fixedLen  = 4 + 4 + 8*7 + 1
	maxPacket = fixedLen + maxName + macLen
)

// Heartbeat is what a node tells its peer every keepalive interval on every path.
type Heartbeat struct {
	Role          Role
	DefaultActive bool   // the sender is the default active node
	Yield         bool   // the sender hands the resource over (a switch was requested)
	Leave         bool   // the sender leaves the cluster (unpair or disable): stop HA here too
	Disable       bool   // with Leave: HA is disabled on both nodes (not just unpaired)
	Fresh         bool   // newly paired, no configuration received yet: must not win an election
	Takeover      bool   // the sender (passive) asks the active to hand the resource over to it
	Reach         uint8  // ping-group targets the sender reaches now
	Group         uint8  // size of the sender's ping group
	Epoch         uint64 // persisted; raised each time the sender becomes active
	Boot          uint64 // random per process start; Seq restarts with it
	Seq           uint64 // increases with every packet of one boot
	Sent          int64  // sender's clock, unix ns
	Echo          int64  // Sent of the last packet received from the peer (0: none)
	Hold          int64  // ns between receiving that packet and sending this one
	Revision      uint64 // sender's store revision (replication lag)
	Name          string // sender's serial
}

// Marshal encodes hb and signs it with key.
func (hb Heartbeat) Marshal(key []byte) ([]byte, error) {
	if len(hb.Name) > maxName {
		return nil, fmt.Errorf("ha: node name longer than %d bytes", maxName)
	}
	b := make([]byte, 0, maxPacket)
	b = append(b, magic...)
	var flags byte
	if hb.DefaultActive {
		flags |= 1
	}
	if hb.Yield {
		flags |= 2
	}
	if hb.Leave {
		flags |= 4
	}
	if hb.Disable {
		flags |= 8
	}
	if hb.Fresh {
		flags |= 16
	}
	if hb.Takeover {
		flags |= 32
	}
	b = append(b, byte(hb.Role), flags, hb.Reach, hb.Group)
	for _, v := range []uint64{hb.Epoch, hb.Boot, hb.Seq, uint64(hb.Sent), uint64(hb.Echo), uint64(hb.Hold), hb.Revision} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = append(b, byte(len(hb.Name)))
	b = append(b, hb.Name...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(b), nil
}

var (
	errShort    = errors.New("ha: heartbeat too short")
	errMagic    = errors.New("ha: not a heartbeat")
	errMAC      = errors.New("ha: heartbeat signature does not match the cluster key")
	errMalform  = errors.New("ha: malformed heartbeat")
	errTooLarge = errors.New("ha: heartbeat too large")
)

// ParseHeartbeat checks the signature and decodes a packet. It never panics.
func ParseHeartbeat(b, key []byte) (Heartbeat, error) {
	var hb Heartbeat
	if len(b) > maxPacket {
		return hb, errTooLarge
	}
	if len(b) < fixedLen+macLen {
		return hb, errShort
	}
	if string(b[:4]) != magic {
		return hb, errMagic
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), sum) {
		return hb, errMAC
	}
	if body[4] > uint8(RoleActive) || body[5]&^63 != 0 {
		return hb, errMalform
	}
	hb.Role, hb.DefaultActive, hb.Yield, hb.Reach, hb.Group = Role(body[4]), body[5]&1 != 0, body[5]&2 != 0, body[6], body[7]
	hb.Leave, hb.Disable, hb.Fresh, hb.Takeover = body[5]&4 != 0, body[5]&8 != 0, body[5]&16 != 0, body[5]&32 != 0
	p := body[8:]
	u := func() uint64 { v := binary.BigEndian.Uint64(p); p = p[8:]; return v }
	hb.Epoch, hb.Boot, hb.Seq = u(), u(), u()
	hb.Sent, hb.Echo, hb.Hold = int64(u()), int64(u()), int64(u())
	hb.Revision = u()
	n := int(p[0])
	if n > maxName || len(p) != 1+n {
		return hb, errMalform
	}
	hb.Name = string(p[1:])
	if hb.Reach > hb.Group {
		return hb, errMalform
	}
	return hb, nil
}
