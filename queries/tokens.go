package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

var _ collector.TokenStore = (*DB)(nil)

// Tokens live in three tables (migrations 0001 and 0003): tokens holds one row per state
// of a token (a revocation is a new row with a later updated_at), token_expiry the
// expiry of the tokens that have one, token_usage their last use. 18.16 cannot add a
// column idempotently (no ADD COLUMN IF NOT EXISTS), hence the separate tables. All three
// are ReplacingMergeTree, so readers take the latest row themselves rather than rely on
// merges.

// CreateToken stores a new token (its hash only), with its expiry if it has one. The
// expiry is written first: a failure in between leaves an expiry without a token, never
// a token without its expiry.
func (db *DB) CreateToken(ctx context.Context, t collector.Token) error {
	now := db.now().UTC()
	if !t.ExpiresAt.IsZero() {
		err := db.insertRow(ctx, "INSERT INTO token_expiry (token_hash, expires_at, updated_at)",
			t.Hash, t.ExpiresAt.UTC(), now)
		if err != nil {
			return fmt.Errorf("queries: create token: expiry: %w", err)
		}
	}
	err := db.insertRow(ctx, "INSERT INTO tokens (token_hash, role, sites, label, created_at, revoked, updated_at)",
		t.Hash, string(t.Role), t.Sites, t.Label, t.CreatedAt, boolUInt8(t.Revoked), now)
	if err != nil {
		return fmt.Errorf("queries: create token: %w", err)
	}
	return nil
}

// latestTokenOrder picks a token's latest row. Revocation is final, so when two rows
// carry the same second (a revocation right after creation, or clocks of two hosts
// apart), the revoked one wins.
const latestTokenOrder = "updated_at DESC, revoked DESC"

// tokenByHash reads the latest state of one token and its expiry in one round trip; an
// expiry of 0 (no row: argMax of nothing) means never.
const tokenByHash = `SELECT role, sites, label, created_at, revoked,
	(SELECT argMax(expires_at, updated_at) FROM token_expiry WHERE token_hash = ?) AS expires_at
FROM tokens WHERE token_hash = ? ORDER BY ` + latestTokenOrder + ` LIMIT 1`

// TokenByHash returns the latest state of the token with the given hash, with its
// expiry (not its last use), or collector.ErrNoToken.
func (db *DB) TokenByHash(ctx context.Context, hash string) (collector.Token, error) {
	row := db.conn.QueryRow(ctx, tokenByHash, hash, hash)
	var (
		t       = collector.Token{Hash: hash}
		role    string
		revoked uint8
		expires time.Time
	)
	if err := row.Scan(&role, &t.Sites, &t.Label, &t.CreatedAt, &revoked, &expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return collector.Token{}, collector.ErrNoToken
		}
		return collector.Token{}, fmt.Errorf("queries: token: %w", err)
	}
	t.Role, t.Revoked, t.CreatedAt, t.ExpiresAt = collector.Role(role), revoked == 1, t.CreatedAt.UTC(), unsetIfEpoch(expires)
	return t, nil
}

// Tokens returns the latest state of every token, revoked and expired ones included, with
// expiry and last use, oldest first.
func (db *DB) Tokens(ctx context.Context) ([]collector.Token, error) {
	rows, err := db.conn.Query(ctx, `SELECT token_hash, role, sites, label, created_at, revoked FROM tokens
		ORDER BY token_hash, `+latestTokenOrder+` LIMIT 1 BY token_hash`)
	if err != nil {
		return nil, fmt.Errorf("queries: tokens: %w", err)
	}
	defer rows.Close()
	var tokens []collector.Token
	for rows.Next() {
		var (
			t       collector.Token
			role    string
			revoked uint8
		)
		if err := rows.Scan(&t.Hash, &role, &t.Sites, &t.Label, &t.CreatedAt, &revoked); err != nil {
			return nil, fmt.Errorf("queries: tokens: %w", err)
		}
		t.Role, t.Revoked, t.CreatedAt = collector.Role(role), revoked == 1, t.CreatedAt.UTC()
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: tokens: %w", err)
	}
	// A handful to a few hundred tokens: two more small reads and a merge here are
	// simpler, and as portable across ClickHouse versions, as joins.
	expiry, err := db.timesByHash(ctx, "SELECT token_hash, argMax(expires_at, updated_at) FROM token_expiry GROUP BY token_hash")
	if err != nil {
		return nil, fmt.Errorf("queries: tokens: expiry: %w", err)
	}
	used, err := db.timesByHash(ctx, "SELECT token_hash, max(last_used) FROM token_usage GROUP BY token_hash")
	if err != nil {
		return nil, fmt.Errorf("queries: tokens: last use: %w", err)
	}
	for i := range tokens {
		tokens[i].ExpiresAt = expiry[tokens[i].Hash]
		tokens[i].LastUsed = used[tokens[i].Hash]
	}
	slices.SortStableFunc(tokens, func(a, b collector.Token) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return tokens, nil
}

// timesByHash runs a query of (token_hash, DateTime) rows.
func (db *DB) timesByHash(ctx context.Context, query string) (map[string]time.Time, error) {
	rows, err := db.conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]time.Time{}
	for rows.Next() {
		var (
			hash string
			at   time.Time
		)
		if err := rows.Scan(&hash, &at); err != nil {
			return nil, err
		}
		if at = unsetIfEpoch(at); !at.IsZero() {
			m[hash] = at
		}
	}
	return m, rows.Err()
}

// RevokeToken marks the token with the given hash revoked and returns its new state, or
// collector.ErrNoToken. Revoking a revoked token changes nothing. The new row is dated
// no earlier than the token's latest row, so it stays the latest even when this host's
// clock is behind the one that wrote that row.
func (db *DB) RevokeToken(ctx context.Context, hash string, at time.Time) (collector.Token, error) {
	t, err := db.TokenByHash(ctx, hash)
	if err != nil {
		return collector.Token{}, err
	}
	if t.Revoked {
		return t, nil
	}
	var latest time.Time
	if err := db.conn.QueryRow(ctx, "SELECT max(updated_at) FROM tokens WHERE token_hash = ?", hash).Scan(&latest); err != nil {
		return collector.Token{}, fmt.Errorf("queries: revoke token: %w", err)
	}
	at = at.UTC().Truncate(time.Second)
	if latest.After(at) {
		at = latest.UTC()
	}
	t.Revoked = true
	err = db.insertRow(ctx, "INSERT INTO tokens (token_hash, role, sites, label, created_at, revoked, updated_at)",
		t.Hash, string(t.Role), t.Sites, t.Label, t.CreatedAt, uint8(1), at)
	if err != nil {
		return collector.Token{}, fmt.Errorf("queries: revoke token: %w", err)
	}
	return t, nil
}

// TokenUsage records the last use of tokens, by hash, in one insert. Older times than
// those stored do no harm: readers take the maximum.
func (db *DB) TokenUsage(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	batch, err := db.conn.PrepareBatch(ctx, "INSERT INTO token_usage (token_hash, last_used)")
	if err != nil {
		return fmt.Errorf("queries: token usage: %w", err)
	}
	defer batch.Close()
	for hash, at := range lastUsed {
		if err := batch.Append(hash, at.UTC().Truncate(time.Second)); err != nil {
			return fmt.Errorf("queries: token usage: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("queries: token usage: %w", err)
	}
	return nil
}

// AuditQuery selects audit events for [DB.AuditLog].
type AuditQuery struct {
	Since  time.Time // events at or after; zero: from the start
	Action string    // only this action (e.g. "token.revoke"); "": all
	Limit  int       // at most this many, the newest; 0: 100
}

// AuditLog returns audit events, newest first. Events are dated to the second; within
// one second their order is unspecified.
func (db *DB) AuditLog(ctx context.Context, q AuditQuery) ([]collector.AuditEvent, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	since := q.Since.UTC()
	if since.Before(time.Unix(0, 0)) {
		since = time.Unix(0, 0).UTC()
	}
	rows, err := db.conn.Query(ctx, `SELECT at, actor, role, sites, action, detail, outcome FROM audit_log
		WHERE at >= ? AND (? = '' OR action = ?) ORDER BY at DESC LIMIT ?`, since, q.Action, q.Action, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("queries: audit log: %w", err)
	}
	defer rows.Close()
	var events []collector.AuditEvent
	for rows.Next() {
		var e collector.AuditEvent
		if err := rows.Scan(&e.At, &e.Actor, &e.Role, &e.Sites, &e.Action, &e.Detail, &e.Outcome); err != nil {
			return nil, fmt.Errorf("queries: audit log: %w", err)
		}
		e.At = e.At.UTC()
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: audit log: %w", err)
	}
	return events, nil
}

// unsetIfEpoch maps ClickHouse's zero DateTime (the epoch: a default or an aggregate of
// no rows) to Go's zero time, which means "never" in collector.Token.
func unsetIfEpoch(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
