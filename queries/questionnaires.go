package queries

import (
	"context"
	"fmt"

	"github.com/tamtam-ngo/tamtam/collector"
)

var _ collector.FingerprintStore = (*DB)(nil)

// QuestionnaireFingerprints returns the latest fingerprint of every questionnaire version
// the store has known (migration 0009).
func (db *DB) QuestionnaireFingerprints(ctx context.Context) (map[collector.DefinitionKey]string, error) {
	rows, err := db.conn.Query(ctx, `SELECT questionnaire, version, argMax(sha256, recorded)
		FROM questionnaire_fingerprints GROUP BY questionnaire, version`)
	if err != nil {
		return nil, fmt.Errorf("queries: questionnaire fingerprints: %w", err)
	}
	defer rows.Close()
	out := map[collector.DefinitionKey]string{}
	for rows.Next() {
		var (
			id, sum string
			version uint16
		)
		if err := rows.Scan(&id, &version, &sum); err != nil {
			return nil, fmt.Errorf("queries: questionnaire fingerprints: %w", err)
		}
		out[collector.DefinitionKey{ID: id, Version: int(version)}] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: questionnaire fingerprints: %w", err)
	}
	return out, nil
}

// HasSubmissions reports whether a record of that questionnaire version is stored.
func (db *DB) HasSubmissions(ctx context.Context, id string, version int) (bool, error) {
	var n uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM (SELECT 1 FROM submissions WHERE questionnaire = ? AND version = ? LIMIT 1)",
		id, version).Scan(&n); err != nil {
		return false, fmt.Errorf("queries: submissions of %s version %d: %w", id, version, err)
	}
	return n > 0, nil
}

// SetQuestionnaireFingerprint records the fingerprint of a questionnaire version.
func (db *DB) SetQuestionnaireFingerprint(ctx context.Context, id string, version int, fingerprint string) error {
	if version < 1 || version > 65535 {
		return fmt.Errorf("queries: questionnaire %s: version %d out of range", id, version)
	}
	if err := db.insertRow(ctx, "INSERT INTO questionnaire_fingerprints (questionnaire, version, sha256, recorded)",
		id, uint16(version), fingerprint, uint64(db.now().UnixNano())); err != nil {
		return fmt.Errorf("queries: record the fingerprint of %s version %d: %w", id, version, err)
	}
	return nil
}

// YearVersions returns the questionnaire versions with records of year, as "entry v1",
// in the order of ids and versions: what a release of that year covers.
func (db *DB) YearVersions(ctx context.Context, year int) ([]string, error) {
	rows, err := db.conn.Query(ctx, "SELECT questionnaire, version FROM submissions WHERE year = ? GROUP BY questionnaire, version ORDER BY questionnaire, version",
		uint16(year))
	if err != nil {
		return nil, fmt.Errorf("queries: questionnaire versions of %d: %w", year, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var v uint16
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("queries: questionnaire versions of %d: %w", year, err)
		}
		out = append(out, fmt.Sprintf("%s v%d", id, v))
	}
	return out, rows.Err()
}
