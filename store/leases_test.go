package store

import (
	"context"
	"testing"
	"time"
)

func TestDHCPLeasesPersist(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	l := DHCPLease{IP: "10.0.0.10", MAC: "001565000001", State: "bound", Expires: now.Add(time.Hour), Updated: now,
		Hostname: "t54w", VendorClass: "yealink", Vendor: "yealink", Tenant: "t1"}
	if err := s.PutDHCPLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.State, l.MAC = "declined", ""
	if err := s.PutDHCPLease(ctx, l); err != nil { // same address: replaced, not added
		t.Fatal(err)
	}
	if err := s.PutDHCPLease(ctx, DHCPLease{IP: "10.0.0.9", MAC: "AA", State: "bound", Expires: now, Updated: now}); err != nil {
		t.Fatal(err)
	}
	rev := s.Revision()
	s.Close()
	s, err = Open(ctx, DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.DHCPLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != l || got[1].IP != "10.0.0.9" {
		t.Errorf("after reopen: %+v", got)
	}
	if s.Revision() != rev || rev != 0 {
		t.Errorf("leases moved the configuration revision to %d", s.Revision())
	}
}
