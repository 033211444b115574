package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// UnknownDevice is a phone that asked for a file nobody configured: the "seen,
// not configured" list an installer adopts devices from.
type UnknownDevice struct {
	Tenant    string    `json:"tenant"`
	MAC       string    `json:"mac"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	File      string    `json:"file"`
	Requests  int64     `json:"requests"`
}

// SeeUnknown records (or refreshes) an unknown device. It is not configuration:
// no audit row, no revision.
func (s *Store) SeeUnknown(ctx context.Context, u UnknownDevice) error {
	ts := u.LastSeen.UTC().Format(timeLayout)
	_, err := s.write.ExecContext(ctx, `INSERT INTO unknown_devices(tenant, mac, first_seen, last_seen, ip, user_agent, file, requests)
		VALUES (?,?,?,?,?,?,?,1)
		ON CONFLICT(tenant, mac) DO UPDATE SET last_seen=excluded.last_seen, ip=excluded.ip,
			user_agent=excluded.user_agent, file=excluded.file, requests=requests+1`,
		u.Tenant, u.MAC, ts, ts, u.IP, u.UserAgent, u.File)
	if err != nil {
		return fmt.Errorf("store: record unknown device: %w", err)
	}
	return nil
}

// UnknownDevices lists a tenant's unknown devices, most recently seen first.
func (s *Store) UnknownDevices(ctx context.Context, tenant string) ([]UnknownDevice, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT tenant, mac, first_seen, last_seen, ip, user_agent, file, requests
		FROM unknown_devices WHERE tenant=? ORDER BY last_seen DESC`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: unknown devices: %w", err)
	}
	defer rows.Close()
	out := []UnknownDevice{}
	for rows.Next() {
		var u UnknownDevice
		var first, last string
		if err := rows.Scan(&u.Tenant, &u.MAC, &first, &last, &u.IP, &u.UserAgent, &u.File, &u.Requests); err != nil {
			return nil, err
		}
		u.FirstSeen, _ = time.Parse(timeLayout, first)
		u.LastSeen, _ = time.Parse(timeLayout, last)
		out = append(out, u)
	}
	return out, rows.Err()
}

// ForgetUnknown, inside the transaction that adopts a device, drops it from the list.
func (t *Tx) ForgetUnknown(tenant, mac string) error {
	if t.readOnly {
		return ErrReadOnly
	}
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM unknown_devices WHERE tenant=? AND mac=?`, tenant, mac); err != nil {
		return fmt.Errorf("store: forget unknown device: %w", err)
	}
	return nil
}

// Unknown reads one entry of the list inside a transaction, so that adopting a
// device and checking that it was seen happen together.
func (t *Tx) Unknown(tenant, mac string) (UnknownDevice, bool, error) {
	u := UnknownDevice{Tenant: tenant, MAC: mac}
	var first, last string
	err := t.tx.QueryRowContext(t.ctx, `SELECT first_seen, last_seen, ip, user_agent, file, requests
		FROM unknown_devices WHERE tenant=? AND mac=?`, tenant, mac).Scan(&first, &last, &u.IP, &u.UserAgent, &u.File, &u.Requests)
	if errors.Is(err, sql.ErrNoRows) {
		return u, false, nil
	}
	if err != nil {
		return u, false, fmt.Errorf("store: unknown device: %w", err)
	}
	u.FirstSeen, _ = time.Parse(timeLayout, first)
	u.LastSeen, _ = time.Parse(timeLayout, last)
	return u, true, nil
}
