package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

var _ collector.TokenStore = (*DB)(nil)

// CreateToken stores a new token (its hash only).
func (db *DB) CreateToken(ctx context.Context, t collector.Token) error {
	err := db.insertRow(ctx, "INSERT INTO tokens (token_hash, role, sites, label, created_at, revoked, updated_at)",
		t.Hash, string(t.Role), t.Sites, t.Label, t.CreatedAt, boolUInt8(t.Revoked), time.Now().UTC())
	if err != nil {
		return fmt.Errorf("queries: create token: %w", err)
	}
	return nil
}

// TokenByHash returns the latest state of the token with the given hash, or
// collector.ErrNoToken.
func (db *DB) TokenByHash(ctx context.Context, hash string) (collector.Token, error) {
	row := db.conn.QueryRow(ctx, `SELECT role, sites, label, created_at, revoked FROM tokens
		WHERE token_hash = ? ORDER BY updated_at DESC LIMIT 1`, hash)
	var (
		t       = collector.Token{Hash: hash}
		role    string
		revoked uint8
	)
	if err := row.Scan(&role, &t.Sites, &t.Label, &t.CreatedAt, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return collector.Token{}, collector.ErrNoToken
		}
		return collector.Token{}, fmt.Errorf("queries: token: %w", err)
	}
	t.Role, t.Revoked = collector.Role(role), revoked == 1
	return t, nil
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
