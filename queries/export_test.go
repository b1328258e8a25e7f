package queries

import (
	"context"
	"github.com/tamtam-ngo/tamtam/collector"
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
