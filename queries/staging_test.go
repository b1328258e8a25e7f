package queries_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// stagedRecords returns n records, dated 2024 and 2025 in turn, so that any run of them
// falls in two partitions (years) of submissions.
func stagedRecords(n int) []collector.Record {
	recs := make([]collector.Record, n)
	for i := range recs {
		recs[i] = record(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), fmt.Sprintf("fp%d", i))
		if i%2 == 0 {
			recs[i].Year, recs[i].Month = 2024, "2024-11"
		}
	}
	return recs
}

// storeState returns the submissions stored (count, distinct ids, distinct fingerprints)
// and the import tables left in the database.
func storeState(t *testing.T, db *queries.DB) (rows, ids int, imports []string) {
	t.Helper()
	ctx := t.Context()
	var fps map[string]string
	fps, err := db.Fingerprints(ctx, allIDs(200))
	if err != nil {
		t.Fatal(err)
	}
	ids = len(fps)
	if rows, err = db.Count(ctx, "SELECT count() FROM submissions"); err != nil {
		t.Fatal(err)
	}
	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		if strings.HasPrefix(name, "import_") && name != "import_leases" {
			imports = append(imports, name)
		}
	}
	return rows, ids, imports
}

func allIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	return ids
}

func stage(t *testing.T, db *queries.DB, recs []collector.Record) *queries.Staging {
	t.Helper()
	s, err := db.Stage(t.Context())
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	t.Cleanup(func() { s.Discard(context.Background()) })
	// In two calls, as an importer adds them block by block.
	if err := s.Add(t.Context(), recs[:len(recs)/3]); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := s.Add(t.Context(), recs[len(recs)/3:]); err != nil {
		t.Fatalf("Add: %v", err)
	}
	return s
}

func storedBy(t *testing.T, s *queries.Staging) map[string]string {
	t.Helper()
	got := map[string]string{}
	if err := s.Stored(t.Context(), func(id, fp string) { got[id] = fp }); err != nil {
		t.Fatalf("Stored: %v", err)
	}
	return got
}

// skewClock is a clock that runs with time.Now but can be moved forward, so that leases
// written before look older. The lease goroutine reads it while a test moves it.
type skewClock struct{ skew atomic.Int64 }

func (c *skewClock) Now() time.Time       { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *skewClock) Skew(d time.Duration) { c.skew.Add(int64(d)) }

// openSkewed opens a fresh, migrated database whose clock the test moves.
func openSkewed(t *testing.T) (*queries.DB, *skewClock) {
	t.Helper()
	clock := new(skewClock)
	db, err := queries.Open(t.Context(), chtest.Endpoint(), chtest.NewDatabase(t), queries.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db, clock
}

// openLogged opens a fresh, migrated database whose logs go to the returned buffer.
func openLogged(t *testing.T) (*queries.DB, *strings.Builder) {
	t.Helper()
	var logs strings.Builder
	db, err := queries.Open(t.Context(), chtest.Endpoint(), chtest.NewDatabase(t),
		queries.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db, &logs
}

func TestStagingCommit(t *testing.T) {
	db, logs := openLogged(t)
	recs := stagedRecords(40)
	s := stage(t, db, recs)
	if got := storedBy(t, s); len(got) != 0 {
		t.Errorf("Stored() on an empty store = %v, want nothing", got)
	}
	// Staged is not stored: readers see nothing until the commit.
	if rows, _, imports := storeState(t, db); rows != 0 || len(imports) != 1 {
		t.Fatalf("before commit: %d rows stored, import tables %v; want 0 and the staging table", rows, imports)
	}
	if err := s.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rows, ids, imports := storeState(t, db); rows != 40 || ids != 40 || len(imports) != 0 {
		t.Errorf("after commit: %d rows, %d ids, import tables %v; want 40, 40 and none", rows, ids, imports)
	}
	// Nothing was stored: the partitions were attached, not copied row by row.
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("Commit logged a warning:\n%s", logs.String())
	}
	if err := s.Add(t.Context(), recs[:1]); err == nil {
		t.Error("Add after Commit succeeded, want an error")
	}
	if err := s.Discard(t.Context()); err != nil {
		t.Errorf("Discard after Commit = %v, want nil (nothing to do)", err)
	}
}

// TestStagingCommitSkipsStored: an import overlapping what is stored (a re-import, a file
// extended since) stores only the new ids, and keeps the stored rows as they are.
func TestStagingCommitSkipsStored(t *testing.T) {
	db := chtest.NewDB(t)
	recs := stagedRecords(40)
	old := slices.Clone(recs[18:24]) // both partitions
	old[0].Fingerprint = "other"
	if err := db.InsertRecords(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	s := stage(t, db, recs)
	got := storedBy(t, s)
	want := map[string]string{}
	for _, r := range old {
		want[r.SubmissionID] = r.Fingerprint
	}
	if !maps.Equal(got, want) {
		t.Errorf("Stored() = %v, want %v", got, want)
	}
	if err := s.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rows, ids, imports := storeState(t, db); rows != 40 || ids != 40 || len(imports) != 0 {
		t.Errorf("after commit: %d rows, %d ids, import tables %v; want 40, 40 and none", rows, ids, imports)
	}
	fps, _ := db.Fingerprints(t.Context(), []string{old[0].SubmissionID})
	if fps[old[0].SubmissionID] != "other" {
		t.Errorf("stored fingerprint of %s = %q, want the one stored before the import", old[0].SubmissionID, fps[old[0].SubmissionID])
	}

	// The same import again: everything is there, nothing moves.
	again := stage(t, db, recs)
	if got := storedBy(t, again); len(got) != 40 {
		t.Errorf("Stored() of a re-import found %d ids, want 40", len(got))
	}
	if err := again.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rows, _, imports := storeState(t, db); rows != 40 || len(imports) != 0 {
		t.Errorf("after re-import: %d rows, import tables %v; want 40 and none", rows, imports)
	}
}

// TestStagingCommitWithoutStored: Commit without a fresh Stored cannot know that nothing
// is stored, and moves with the filter, whichever of the store and the import is larger
// (the filter's set is built from the smaller).
func TestStagingCommitWithoutStored(t *testing.T) {
	db := chtest.NewDB(t)
	recs := stagedRecords(40)
	if err := db.InsertRecords(t.Context(), recs[:5]); err != nil {
		t.Fatal(err)
	}
	s := stage(t, db, recs[:20])
	if err := s.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rows, ids, _ := storeState(t, db); rows != 20 || ids != 20 {
		t.Errorf("after commit: %d rows, %d ids; want 20, 20", rows, ids)
	}
	s = stage(t, db, recs[18:23]) // 2 stored of 5, in a store of 20
	if got := storedBy(t, s); len(got) != 2 {
		t.Errorf("Stored() = %v, want the 2 stored", got)
	}
	if err := s.Add(t.Context(), recs[23:24]); err != nil { // Stored is no longer fresh
		t.Fatal(err)
	}
	if err := s.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rows, ids, _ := storeState(t, db); rows != 24 || ids != 24 {
		t.Errorf("after the second commit: %d rows, %d ids; want 24, 24", rows, ids)
	}
}

func TestStagingDiscard(t *testing.T) {
	db := chtest.NewDB(t)
	s := stage(t, db, stagedRecords(10))
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // an interrupted import still cleans up
	if err := s.Discard(ctx); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if rows, _, imports := storeState(t, db); rows != 0 || len(imports) != 0 {
		t.Errorf("after Discard: %d rows, import tables %v; want nothing", rows, imports)
	}
	if err := s.Commit(t.Context()); err == nil {
		t.Error("Commit after Discard succeeded, want an error")
	}
}

// TestRecoverImports: what crashed imports leave is dropped (before the commit) or
// completed (after it, even with one partition already attached), exactly once; a live
// import is left alone.
func TestRecoverImports(t *testing.T) {
	db, clock := openSkewed(t)
	ctx := t.Context()
	recs := stagedRecords(60)

	live := stage(t, db, recs[:20])
	crashed := stage(t, db, recs[20:40])
	crashed.Crash()
	committing := stage(t, db, recs[40:60])
	if err := committing.CrashDuringCommit(ctx, "2025"); err != nil {
		t.Fatal(err)
	}
	rows, _, imports := storeState(t, db)
	if rows != 10 || len(imports) != 3 {
		t.Fatalf("after the crashes: %d rows stored, import tables %v; want the 10 of one partition, 3 tables", rows, imports)
	}

	// Leases are fresh: nothing is touched.
	if got, err := db.RecoverImports(ctx, queries.ImportLeaseTimeout); err != nil || got != (queries.ImportRecovery{}) {
		t.Errorf("RecoverImports(fresh leases) = %+v, %v; want nothing done", got, err)
	}
	// Ten minutes later the live import has renewed its lease, the others have not.
	clock.Skew(10 * time.Minute)
	if err := live.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.RecoverImports(ctx, queries.ImportLeaseTimeout)
	if err != nil || got != (queries.ImportRecovery{Dropped: 1, Completed: 1}) {
		t.Errorf("RecoverImports = %+v, %v; want 1 dropped, 1 completed", got, err)
	}
	rows, ids, imports := storeState(t, db)
	if rows != 20 || ids != 20 || !slices.Equal(imports, []string{live.Table()}) {
		t.Errorf("after recovery: %d rows, %d ids, import tables %v; want the 20 committed rows once and the live import's table", rows, ids, imports)
	}
	fps, _ := db.Fingerprints(ctx, allIDs(60)[20:40])
	if len(fps) != 0 {
		t.Errorf("%d rows of the import that crashed before its commit are stored, want none", len(fps))
	}
	if got, err := db.RecoverImports(ctx, queries.ImportLeaseTimeout); err != nil || got != (queries.ImportRecovery{}) {
		t.Errorf("RecoverImports again = %+v, %v; want nothing done", got, err)
	}

	// The live import goes on and commits.
	if err := live.Commit(ctx); err != nil {
		t.Fatalf("Commit of the live import: %v", err)
	}
	if rows, ids, imports := storeState(t, db); rows != 40 || ids != 40 || len(imports) != 0 {
		t.Errorf("at the end: %d rows, %d ids, import tables %v; want 40, 40, none", rows, ids, imports)
	}
}

// TestStagingCommitLost: a staging table dropped under an import (its lease expired
// while it hung) makes the commit fail without storing anything.
func TestStagingCommitLost(t *testing.T) {
	db, clock := openSkewed(t)
	s := stage(t, db, stagedRecords(10))
	if got := storedBy(t, s); len(got) != 0 {
		t.Fatalf("Stored() = %v", got)
	}
	clock.Skew(time.Hour)
	_, err := db.RecoverImports(t.Context(), queries.ImportLeaseTimeout)
	clock.Skew(-time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context()); err == nil || errors.Is(err, queries.ErrCommitUnfinished) {
		t.Errorf("Commit of a dropped staging table = %v, want a plain error", err)
	}
	if rows, _, imports := storeState(t, db); rows != 0 || len(imports) != 0 {
		t.Errorf("%d rows stored, import tables %v; want nothing", rows, imports)
	}
}

// TestStagingBlocks: an import of many blocks (one INSERT, a Flush a block, the merges
// of the staging table started again after many) is stored whole.
func TestStagingBlocks(t *testing.T) {
	queries.SmallBlocks(t, 4, 3)
	db, logs := openLogged(t)
	recs := stagedRecords(50)
	s := stage(t, db, recs)
	if err := s.Add(t.Context(), recs[:0]); err != nil {
		t.Fatal(err)
	}
	if got := storedBy(t, s); len(got) != 0 {
		t.Fatalf("Stored() = %v", got)
	}
	if err := s.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if rows, ids, imports := storeState(t, db); rows != 50 || ids != 50 || len(imports) != 0 {
		t.Errorf("after commit: %d rows, %d ids, import tables %v; want 50, 50 and none", rows, ids, imports)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("Commit logged a warning:\n%s", logs.String())
	}
}
