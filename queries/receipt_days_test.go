package queries_test

import (
	"testing"

	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// TestMigration0008ReceiptDays: rows stored with a receipt time to the second (before
// migration 0008) are rewritten to the day with their keyed fingerprints blanked, none is
// lost or doubled, a re-keyed row still stands over the row it replaced, and running the
// migrations again (a crash before their record) changes nothing.
func TestMigration0008ReceiptDays(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	for _, q := range []string{
		// Two rows, and the re-keyed copy of the second (same id and time, another link).
		`INSERT INTO submissions (submission_id, questionnaire, year, site, link_id, key_id, fingerprint, received_at)
		 SELECT 'a', 'entry', 2025, 'haren', 'link-a', 'k1', 'hmac-of-raw-answers', toDateTime('2025-03-04 10:31:07', 'UTC')`,
		`INSERT INTO submissions (submission_id, questionnaire, year, site, link_id, key_id, received_at)
		 SELECT 'b', 'entry', 2025, 'haren', 'old-link', 'k1', toDateTime('2025-03-04 16:02:59', 'UTC')`,
		`INSERT INTO submissions (submission_id, questionnaire, year, site, link_id, key_id, received_at)
		 SELECT 'b', 'entry', 2025, 'haren', 'new-link', 'k2', toDateTime('2025-03-04 16:02:59', 'UTC')`,
		`INSERT INTO link_rekeys (from_key_id, from_link_id, to_key_id, to_link_id, noted_at)
		 SELECT 'k1', 'old-link', 'k2', 'new-link', toDateTime('2025-03-04 16:02:59', 'UTC')`,
		"DROP TABLE schema_migrations",
	} {
		if err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for range 2 {
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if err := db.Exec(ctx, "DROP TABLE schema_migrations"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		n, err := db.Count(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	if n := count("SELECT count() FROM submissions FINAL"); n != 2 {
		t.Errorf("%d submissions after the migration, want 2", n)
	}
	if n := count("SELECT count() FROM submissions WHERE toSecond(received_at, 'UTC') != 0 OR toMinute(received_at, 'UTC') != 0 OR toHour(received_at, 'UTC') != 0"); n != 0 {
		t.Errorf("%d rows keep a receipt time finer than the day", n)
	}
	if n := count("SELECT count() FROM submissions FINAL WHERE submission_id = 'b' AND link_id = 'new-link'"); n != 1 {
		t.Error("the re-keyed row does not stand after the migration")
	}
	if n := count("SELECT count() FROM link_rekeys WHERE toHour(noted_at, 'UTC') != 0 OR toMinute(noted_at, 'UTC') != 0 OR toSecond(noted_at, 'UTC') != 0"); n != 0 {
		t.Errorf("%d re-key pairs keep a time finer than the day", n)
	}
	if n := count("SELECT count() FROM submissions WHERE fingerprint != ''"); n != 0 {
		t.Errorf("%d rows keep the fingerprint stored before the migration (a keyed hash of raw answers)", n)
	}
	if n := count("SELECT count() FROM link_rekeys"); n != 1 {
		t.Errorf("%d re-key pairs, want 1", n)
	}
	if n := count("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE '%_seconds' OR name LIKE '%_days'"); n != 0 {
		t.Errorf("%d work tables left behind", n)
	}
}
