package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Preferences are small per-user settings of the console (the tenant worked on
// last). Like sessions they are not configuration: setting one writes no audit
// row, raises no revision and works on a passive HA node too.

// Pref returns a user's preference, "" when unset.
func (s *Store) Pref(ctx context.Context, username, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM user_prefs WHERE username=? AND key=?`, username, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: preference %s of %s: %w", key, username, err)
	}
	return v, nil
}

// SetPref sets (or, with value "", clears) a user's preference.
func (s *Store) SetPref(ctx context.Context, username, key, value string) error {
	var err error
	if value == "" {
		_, err = s.write.ExecContext(ctx, `DELETE FROM user_prefs WHERE username=? AND key=?`, username, key)
	} else {
		_, err = s.write.ExecContext(ctx, `INSERT INTO user_prefs(username, key, value, updated) VALUES (?,?,?,?)
			ON CONFLICT(username, key) DO UPDATE SET value=excluded.value, updated=excluded.updated`,
			username, key, value, time.Now().UTC().Format(timeLayout))
	}
	if err != nil {
		return fmt.Errorf("store: set preference %s of %s: %w", key, username, err)
	}
	return nil
}
