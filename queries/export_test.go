package queries

import (
	"context"
	"fmt"
	"github.com/tamtam-ngo/tamtam/collector"
	"strings"
)

// Hooks for the tests of staging (package queries_test, which chtest's import of queries
// keeps outside this package).

// Table returns the current name of the staging table.
func (s *Staging) Table() string { return s.table() }

// Renew renews the lease now, as the lease goroutine does every few seconds.
func (s *Staging) Renew(ctx context.Context) error { return s.db.lease(ctx, s.table()) }

// Crash leaves the staging table as a killed import would: the lease stops, the block
// being filled is lost, the table stays.
func (s *Staging) Crash() {
	s.stopLease()
	if s.batch != nil {
		s.batch.Abort()
		s.batch = nil
	}
	s.done = true
}

// CrashDuringCommit commits the staging table and attaches only the partition with the
// given id before "crashing": what a process killed between two ATTACH PARTITION leaves.
func (s *Staging) CrashDuringCommit(ctx context.Context, partitionID string) error {
	if err := s.send(); err != nil {
		return err
	}
	commit := commitPrefix + s.id
	if err := s.db.lease(ctx, commit); err != nil {
		return err
	}
	if err := s.rename(ctx, commit); err != nil {
		return err
	}
	s.Crash()
	return s.db.conn.Exec(ctx, stagingSQL(stagingAttach, commit), partitionID)
}

// Count runs a query returning one count().
func (db *DB) Count(ctx context.Context, query string) (int, error) {
	var n uint64
	err := db.conn.QueryRow(ctx, query).Scan(&n)
	return int(n), err
}

// SmallBlocks makes staging send blocks of rows rows and merge from the mergeAfter-th,
// until the test ends.
func SmallBlocks(t interface{ Cleanup(func()) }, rows, mergeAfter int) {
	b, m := stagingBlock, mergeAfterBlocks
	stagingBlock, mergeAfterBlocks = rows, mergeAfter
	t.Cleanup(func() { stagingBlock, mergeAfterBlocks = b, m })
}

// Exec runs a statement on the store, for tests that damage what a crash would.
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	return db.conn.Exec(ctx, query, args...)
}

// IndicatorPopulations returns, by indicator id, the SQL conditions of its denominator:
// its population and what counts as a valid answer.
func IndicatorPopulations(inds []collector.Indicator) (map[string]string, error) {
	var plain []collector.Indicator
	for _, ind := range inds {
		if ind.Link == nil {
			plain = append(plain, ind)
		}
	}
	defs, err := compileIndicators(plain)
	out := map[string]string{}
	for _, d := range defs {
		out[d.id] = d.population + " AND " + d.valid
	}
	return out, err
}

// Membership returns the stored records of questionnaire q, and for each whether every
// indicator of inds (none over linked records) counts it in its N and in its numerator,
// as the compiled SQL decides: two entries per indicator, N then numerator.
func (db *DB) Membership(ctx context.Context, q string, inds []collector.Indicator) ([]collector.StoredSample, [][]bool, error) {
	defs, err := compileIndicators(inds)
	if err != nil {
		return nil, nil, err
	}
	var b strings.Builder
	b.WriteString("SELECT answer_item, answer_value")
	for _, d := range defs {
		fmt.Fprintf(&b, ",\n  toUInt8(%s AND %s), toUInt8(%s AND %s AND %s)", d.population, d.valid, d.population, d.valid, d.yes)
	}
	b.WriteString("\nFROM submissions FINAL WHERE questionnaire = ? ORDER BY submission_id")
	rows, err := db.conn.Query(ctx, b.String(), q)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var recs []collector.StoredSample
	var counted [][]bool
	for rows.Next() {
		var items, values []string
		flags := make([]uint8, 2*len(defs))
		dest := []any{&items, &values}
		for i := range flags {
			dest = append(dest, &flags[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		rec := collector.StoredSample{}
		for i, it := range items {
			rec[it] = append(rec[it], values[i])
		}
		row := make([]bool, len(flags))
		for i, f := range flags {
			row[i] = f == 1
		}
		recs, counted = append(recs, rec), append(counted, row)
	}
	return recs, counted, rows.Err()
}
