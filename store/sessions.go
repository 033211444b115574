package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a login token's record. Only the token's hash is stored, so a copy of
// the database does not let anyone log in.
type Session struct {
	TokenHash string
	Username  string
	Kind      string // "admin" today; later issues add their own
	Created   time.Time
	Expires   time.Time
	SourceIP  string
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se Session) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO sessions(token_hash, username, kind, created, expires, source_ip) VALUES (?,?,?,?,?,?)`,
		se.TokenHash, se.Username, se.Kind, se.Created.UTC().Format(timeLayout), se.Expires.UTC().Format(timeLayout), se.SourceIP)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// LookupSession finds a session that has not expired; ErrNotFound otherwise.
func (s *Store) LookupSession(ctx context.Context, tokenHash string, now time.Time) (Session, error) {
	var se Session
	var created, expires string
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, username, kind, created, expires, source_ip FROM sessions WHERE token_hash=?`,
		tokenHash).Scan(&se.TokenHash, &se.Username, &se.Kind, &created, &expires, &se.SourceIP)
	if errors.Is(err, sql.ErrNoRows) {
		return se, ErrNotFound
	}
	if err != nil {
		return se, fmt.Errorf("store: lookup session: %w", err)
	}
	se.Created, _ = time.Parse(timeLayout, created)
	se.Expires, err = time.Parse(timeLayout, expires)
	if err != nil || !now.Before(se.Expires) {
		return se, ErrNotFound
	}
	return se, nil
}

// DeleteSession revokes one session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash=?`, tokenHash)
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions revokes every session of a user and returns how many.
func (s *Store) DeleteUserSessions(ctx context.Context, username string) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE username=?`, username)
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions of %s: %w", username, err)
	}
	return res.RowsAffected()
}

// PurgeSessions removes expired sessions.
func (s *Store) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ?`, now.UTC().Format(timeLayout))
	if err != nil {
		return 0, fmt.Errorf("store: purge sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteUserSessions, inside a write transaction, revokes a user's sessions together
// with the change that requires it (deleting the user, changing its password).
func (t *Tx) DeleteUserSessions(username string) error {
	if t.readOnly {
		return ErrReadOnly
	}
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM sessions WHERE username=?`, username); err != nil {
		return fmt.Errorf("store: delete sessions of %s: %w", username, err)
	}
	return nil
}

// CountUserSessions counts a user's sessions that have not expired.
func (s *Store) CountUserSessions(ctx context.Context, username string, now time.Time) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE username=? AND expires > ?`,
		username, now.UTC().Format(timeLayout)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count sessions of %s: %w", username, err)
	}
	return n, nil
}
