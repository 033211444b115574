package store

import (
	"context"
	"fmt"
	"time"
)

// migrations are applied in order, each once, in its own transaction. Never edit
// one that has shipped: append a new one.
var migrations = []string{
	// 1: objects, audit chain, sessions, revision.
	`
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta(key, value) VALUES ('revision', '0'), ('audit_head_id', '0'), ('audit_head_hash', '');

CREATE TABLE objects (
	kind    TEXT NOT NULL,
	id      TEXT NOT NULL,
	tenant  TEXT NOT NULL DEFAULT '',
	data    TEXT NOT NULL CHECK (json_valid(data)),
	rev     INTEGER NOT NULL,
	updated TEXT NOT NULL,
	PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX objects_by_tenant ON objects(kind, tenant);
CREATE UNIQUE INDEX objects_tenant_name ON objects(json_extract(data, '$.name')) WHERE kind = 'tenant';

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	txid        INTEGER NOT NULL,
	time        TEXT NOT NULL,
	username    TEXT NOT NULL,
	source_ip   TEXT NOT NULL,
	action      TEXT NOT NULL,
	object_type TEXT NOT NULL,
	object_id   TEXT NOT NULL,
	tenant      TEXT NOT NULL,
	description TEXT NOT NULL,
	before      TEXT,
	after       TEXT,
	prev_hash   TEXT NOT NULL,
	hash        TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit(time);
CREATE INDEX audit_by_user ON audit(username);
CREATE INDEX audit_by_type ON audit(object_type, object_id);
CREATE INDEX audit_by_txid ON audit(txid);
-- Append-only: the application never edits or deletes a row. These triggers stop
-- accidents; Verify catches whoever drops them.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	username   TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created    TEXT NOT NULL,
	expires    TEXT NOT NULL,
	source_ip  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(username);
`,
	// 2: provisioning uniqueness (per tenant) and the "seen, not configured" list.
	`
CREATE UNIQUE INDEX objects_device_mac ON objects(tenant, json_extract(data, '$.mac')) WHERE kind = 'device';
CREATE UNIQUE INDEX objects_account_extension ON objects(tenant, json_extract(data, '$.extension')) WHERE kind = 'account';
CREATE UNIQUE INDEX objects_account_sip_username ON objects(tenant, json_extract(data, '$.sip_username')) WHERE kind = 'account';
CREATE UNIQUE INDEX objects_placeholder_name ON objects(tenant, json_extract(data, '$.name')) WHERE kind = 'placeholder';
CREATE INDEX objects_device_account ON objects(json_extract(data, '$.account')) WHERE kind = 'device';

CREATE TABLE unknown_devices (
	tenant     TEXT NOT NULL,
	mac        TEXT NOT NULL,
	first_seen TEXT NOT NULL,
	last_seen  TEXT NOT NULL,
	ip         TEXT NOT NULL,
	user_agent TEXT NOT NULL,
	file       TEXT NOT NULL,
	requests   INTEGER NOT NULL,
	PRIMARY KEY (tenant, mac)
) WITHOUT ROWID;
`,
	// 3: DHCP leases (package dhcp). Not configuration: no audit row, no revision.
	`
CREATE TABLE dhcp_leases (
	ip           TEXT PRIMARY KEY,
	mac          TEXT NOT NULL,
	state        TEXT NOT NULL,
	expires      TEXT NOT NULL,
	updated      TEXT NOT NULL,
	hostname     TEXT NOT NULL,
	vendor_class TEXT NOT NULL,
	vendor       TEXT NOT NULL,
	tenant       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX dhcp_leases_by_mac ON dhcp_leases(mac);
`,
	// 4: per-user console preferences (the tenant worked on last). Not
	// configuration: no audit row, no revision, not replicated.
	`
CREATE TABLE user_prefs (
	username TEXT NOT NULL,
	key      TEXT NOT NULL,
	value    TEXT NOT NULL,
	updated  TEXT NOT NULL,
	PRIMARY KEY (username, key)
) WITHOUT ROWID;
`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	var have int
	if err := s.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: database schema version %d is newer than this binary (%d): refusing to downgrade", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			tx.Rollback() //nolint:errcheck
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied) VALUES (?, ?)`, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback() //nolint:errcheck
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion is the number of migrations applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
