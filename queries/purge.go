package queries

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Retention: questionnaires are dropped a whole year at a time. submissions is
// partitioned by year (0001_submissions.sql), so a year is a partition, and dropping it
// removes its files at once, without rewriting anything else. The releases of a dropped
// year stay in the ledger (release_headers, release_cells, releases): their figures are
// published, and they are read from there, never recomputed.

// YearCount is the number of questionnaires stored for a year.
type YearCount struct {
	Year           int
	Questionnaires uint64
}

// YearsBefore returns the years before year that hold questionnaires, oldest first, with
// their number (each submission once, through FINAL).
func (db *DB) YearsBefore(ctx context.Context, year int) ([]YearCount, error) {
	rows, err := db.conn.Query(ctx, "SELECT year, count() FROM submissions FINAL WHERE year < ? GROUP BY year ORDER BY year", year)
	if err != nil {
		return nil, fmt.Errorf("queries: years before %d: %w", year, err)
	}
	defer rows.Close()
	var out []YearCount
	for rows.Next() {
		var (
			y uint16
			n uint64
		)
		if err := rows.Scan(&y, &n); err != nil {
			return nil, fmt.Errorf("queries: years before %d: %w", year, err)
		}
		out = append(out, YearCount{Year: int(y), Questionnaires: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: years before %d: %w", year, err)
	}
	return out, nil
}

// DropYear drops every questionnaire of year: its partition of submissions. It needs a
// user allowed to change the schema (errors wrap [ErrNotAllowed] otherwise). Dropping a
// year with nothing stored does nothing.
func (db *DB) DropYear(ctx context.Context, year int) error {
	if year < 0 || year > 65535 {
		return fmt.Errorf("queries: drop year %d: not a year", year)
	}
	// A partition is named by a literal, not a bound value; year is a number. On a
	// cluster the partitions are those of every shard's table, dropped by its leader.
	table := "submissions"
	if db.cluster != "" {
		table = shardTable
	}
	if err := db.onLeaders(ctx, table, "ALTER TABLE "+table+" DROP PARTITION "+strconv.Itoa(year)); err != nil {
		return fmt.Errorf("queries: drop year %d: %w", year, notAllowed(err))
	}
	var left uint64
	// The other replica of a shard drops the partition a moment after its leader, and
	// may be the one that answers: on a cluster, a few looks before concluding.
	for look := 0; ; look++ {
		if err := db.conn.QueryRow(ctx, "SELECT count() FROM submissions WHERE year = ?", uint16(year)).Scan(&left); err != nil {
			return fmt.Errorf("queries: drop year %d: %w", year, err)
		}
		if left == 0 || db.cluster == "" || look == 20 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("queries: drop year %d: %w", year, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	if left > 0 {
		// Rows written meanwhile (an import or the spool of a server) make a new part.
		return fmt.Errorf("queries: drop year %d: %d questionnaires were stored while it was dropped; purge again", year, left)
	}
	return nil
}
