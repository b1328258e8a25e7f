package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/tamtam-ngo/tamtam/collector"
)

var _ collector.SessionStore = (*DB)(nil)

// endedVersion is the version of an ended session's row: above any time, so that a merge
// of the ReplacingMergeTree keeps it over every refresh written after the sign-out (by a
// second server, or a request in flight), and the end stays final.
const endedVersion = math.MaxUint64

// SaveSession records the latest state of a web session (migration 0007).
func (db *DB) SaveSession(ctx context.Context, s collector.Session) error {
	version := uint64(db.now().UnixNano())
	if s.Ended {
		version = endedVersion
	}
	err := db.insertRow(ctx, "INSERT INTO sessions (id_hash, token_hash, issued_at, seen_at, ended, version)",
		s.IDHash, s.TokenHash, s.Issued.UTC(), s.Seen.UTC(), boolUInt8(s.Ended), version)
	if err != nil {
		return fmt.Errorf("queries: save session: %w", err)
	}
	return nil
}

// SessionByHash returns the latest state of a session, an ended one first: ending is
// final, whatever the clocks of two servers say.
func (db *DB) SessionByHash(ctx context.Context, idHash string) (collector.Session, error) {
	row := db.conn.QueryRow(ctx, `SELECT token_hash, issued_at, seen_at, ended FROM sessions
		WHERE id_hash = ? ORDER BY ended DESC, version DESC LIMIT 1`, idHash)
	s := collector.Session{IDHash: idHash}
	var ended uint8
	if err := row.Scan(&s.TokenHash, &s.Issued, &s.Seen, &ended); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return collector.Session{}, collector.ErrNoSession
		}
		return collector.Session{}, fmt.Errorf("queries: session: %w", err)
	}
	s.Issued, s.Seen, s.Ended = s.Issued.UTC(), s.Seen.UTC(), ended == 1
	return s, nil
}
