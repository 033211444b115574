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

// RecordUnknown records a sighting with the bounds of the list: a phone not
// listed yet is added only when allowNew, and then the tenant's list is cut
// to maxPerTenant, dropping the phones seen least recently (maxPerTenant 0:
// no cap). A listed phone is always refreshed. It reports whether it added one.
func (s *Store) RecordUnknown(ctx context.Context, u UnknownDevice, maxPerTenant int, allowNew bool) (bool, error) {
	ts := u.LastSeen.UTC().Format(timeLayout)
	res, err := s.write.ExecContext(ctx, `UPDATE unknown_devices SET last_seen=?, ip=?, user_agent=?, file=?, requests=requests+1
		WHERE tenant=? AND mac=?`, ts, u.IP, u.UserAgent, u.File, u.Tenant, u.MAC)
	if err != nil {
		return false, fmt.Errorf("store: record unknown device: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 || !allowNew {
		return false, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: record unknown device: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.ExecContext(ctx, `INSERT INTO unknown_devices(tenant, mac, first_seen, last_seen, ip, user_agent, file, requests)
		VALUES (?,?,?,?,?,?,?,1) ON CONFLICT(tenant, mac) DO UPDATE SET last_seen=excluded.last_seen, ip=excluded.ip,
			user_agent=excluded.user_agent, file=excluded.file, requests=requests+1`,
		u.Tenant, u.MAC, ts, ts, u.IP, u.UserAgent, u.File); err != nil {
		return false, fmt.Errorf("store: record unknown device: %w", err)
	}
	if maxPerTenant > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM unknown_devices WHERE tenant=? AND mac IN
			(SELECT mac FROM unknown_devices WHERE tenant=? ORDER BY last_seen DESC, mac LIMIT -1 OFFSET ?)`,
			u.Tenant, u.Tenant, maxPerTenant); err != nil {
			return false, fmt.Errorf("store: cap unknown devices: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: record unknown device: %w", err)
	}
	return true, nil
}

// ExpireUnknown drops the phones last seen before t, in every tenant.
func (s *Store) ExpireUnknown(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM unknown_devices WHERE last_seen < ?`, t.UTC().Format(timeLayout))
	if err != nil {
		return 0, fmt.Errorf("store: expire unknown devices: %w", err)
	}
	return res.RowsAffected()
}

// UnknownDevicesPage is one page of a tenant's list, most recently seen first,
// leaving out phones last seen before since, with how many there are in all.
func (s *Store) UnknownDevicesPage(ctx context.Context, tenant string, since time.Time, limit, offset int) ([]UnknownDevice, int, error) {
	from := since.UTC().Format(timeLayout)
	var total int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM unknown_devices WHERE tenant=? AND last_seen >= ?`,
		tenant, from).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: unknown devices: %w", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT tenant, mac, first_seen, last_seen, ip, user_agent, file, requests
		FROM unknown_devices WHERE tenant=? AND last_seen >= ? ORDER BY last_seen DESC, mac LIMIT ? OFFSET ?`,
		tenant, from, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("store: unknown devices: %w", err)
	}
	out, err := scanUnknown(rows)
	return out, total, err
}

// UnknownDevices lists a tenant's unknown devices, most recently seen first.
func (s *Store) UnknownDevices(ctx context.Context, tenant string) ([]UnknownDevice, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT tenant, mac, first_seen, last_seen, ip, user_agent, file, requests
		FROM unknown_devices WHERE tenant=? ORDER BY last_seen DESC, mac`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: unknown devices: %w", err)
	}
	return scanUnknown(rows)
}

func scanUnknown(rows *sql.Rows) ([]UnknownDevice, error) {
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
