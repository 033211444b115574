package store

import (
	"context"
	"fmt"
	"time"
)

// DHCPLease is one address of the DHCP server's pool that a client holds, held,
// or declined. Like the unknown-devices list it is state, not configuration: no
// audit row, no revision, so a renewing phone does not churn the audit log.
type DHCPLease struct {
	IP          string    `json:"ip"`
	MAC         string    `json:"mac"`   // AABBCCDDEEFF; "" for a declined address
	State       string    `json:"state"` // bound, released, declined
	Expires     time.Time `json:"expires"`
	Updated     time.Time `json:"updated"`
	Hostname    string    `json:"hostname"`
	VendorClass string    `json:"vendor_class"`
	Vendor      string    `json:"vendor"` // the vendor rule that chose its options
	Tenant      string    `json:"tenant"` // the device's tenant when its MAC is known
}

// PutDHCPLease inserts or replaces the lease of l.IP.
func (s *Store) PutDHCPLease(ctx context.Context, l DHCPLease) error {
	return s.PutDHCPLeases(ctx, []DHCPLease{l})
}

// PutDHCPLeases inserts or replaces leases in one transaction, in order (the
// DHCP server writes the leases of concurrent requests together).
func (s *Store) PutDHCPLeases(ctx context.Context, ls []DHCPLease) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save dhcp leases: %w", err)
	}
	defer tx.Rollback() // after Commit this is a no-op
	// Prepared once: a boot storm writes a thousand leases in one transaction,
	// and parsing the statement for each was most of its time.
	st, err := tx.PrepareContext(ctx, `INSERT INTO dhcp_leases(ip, mac, state, expires, updated, hostname, vendor_class, vendor, tenant)
		VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT(ip) DO UPDATE SET mac=excluded.mac, state=excluded.state, expires=excluded.expires,
			updated=excluded.updated, hostname=excluded.hostname, vendor_class=excluded.vendor_class,
			vendor=excluded.vendor, tenant=excluded.tenant`)
	if err != nil {
		return fmt.Errorf("store: save dhcp leases: %w", err)
	}
	defer st.Close() //nolint:errcheck // the statement of a transaction that ends here; its close reports nothing new
	for _, l := range ls {
		if _, err := st.ExecContext(ctx, l.IP, l.MAC, l.State, l.Expires.UTC().Format(timeLayout), l.Updated.UTC().Format(timeLayout),
			l.Hostname, l.VendorClass, l.Vendor, l.Tenant); err != nil {
			return fmt.Errorf("store: save dhcp lease %s: %w", l.IP, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save dhcp leases: %w", err)
	}
	return nil
}

// DHCPLeases lists every lease, ordered by the address as text (callers sort numerically).
func (s *Store) DHCPLeases(ctx context.Context) ([]DHCPLease, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT ip, mac, state, expires, updated, hostname, vendor_class, vendor, tenant
		FROM dhcp_leases ORDER BY ip`)
	if err != nil {
		return nil, fmt.Errorf("store: dhcp leases: %w", err)
	}
	defer rows.Close()
	out := []DHCPLease{}
	for rows.Next() {
		var l DHCPLease
		var exp, upd string
		if err := rows.Scan(&l.IP, &l.MAC, &l.State, &exp, &upd, &l.Hostname, &l.VendorClass, &l.Vendor, &l.Tenant); err != nil {
			return nil, fmt.Errorf("store: dhcp leases: %w", err)
		}
		l.Expires, _ = time.Parse(timeLayout, exp)
		l.Updated, _ = time.Parse(timeLayout, upd)
		out = append(out, l)
	}
	return out, rows.Err()
}
