package queries

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tamtam-ngo/tamtam/collector"
)

var _ collector.Store = (*DB)(nil)

// lookupChunk bounds the ids of one IN list: bound client-side, they are part of the
// query text, which ClickHouse limits to 256 KiB by default.
const lookupChunk = 2000

// Fingerprints returns the stored fingerprint of each of ids that is already stored.
func (db *DB) Fingerprints(ctx context.Context, ids []string) (map[string]string, error) {
	found := make(map[string]string)
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	for start := 0; start < len(ids); start += lookupChunk {
		chunk := ids[start:min(start+lookupChunk, len(ids))]
		// A plain slice binds as an array literal, which 18.16 refuses in IN; a
		// GroupSet binds as a parenthesised list.
		set := clickhouse.GroupSet{Value: make([]any, len(chunk))}
		for i, id := range chunk {
			set.Value[i] = id
		}
		rows, err := db.conn.Query(ctx,
			"SELECT submission_id, any(fingerprint) FROM submissions WHERE submission_id IN ? GROUP BY submission_id", set)
		if err != nil {
			return nil, fmt.Errorf("queries: look up %d ids: %w", len(chunk), err)
		}
		for rows.Next() {
			var id, fp string
			if err := rows.Scan(&id, &fp); err != nil {
				rows.Close()
				return nil, fmt.Errorf("queries: look up ids: %w", err)
			}
			found[id] = fp
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("queries: look up ids: %w", err)
		}
	}
	return found, nil
}

// largeInsert is the size above which an insert asks for a larger memory limit.
const largeInsert = 100_000

const insertSubmissions = `INSERT INTO submissions (` + submissionColumns + `)`

// InsertRecords stores recs in one insert: a single block, which ClickHouse writes as one
// part per partition (year), each atomically; a failure before the first part is written
// stores none of them. Imports do not come this way: they go through a staging table
// ([DB.Stage]), which is all or nothing across partitions and of any size.
func (db *DB) InsertRecords(ctx context.Context, recs []collector.Record) error {
	if len(recs) > largeInsert {
		// A batch tool's commit (tamtam demo) is one block; ClickHouse needs about 4 KiB
		// a row to take it, more than its default per-query limit.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_memory_usage": int(16 << 30)}))
	}
	// The re-keys a record asks for are noted before it is stored (see linkkeys.go).
	if err := db.noteRekeys(ctx, recs); err != nil {
		return err
	}
	batch, err := db.conn.PrepareBatch(ctx, insertSubmissions)
	if err != nil {
		return fmt.Errorf("queries: insert %d records: %w", len(recs), err)
	}
	defer batch.Close()
	var scratch answerColumns
	for i := range recs {
		if err := scratch.append(batch, &recs[i]); err != nil {
			return fmt.Errorf("queries: insert %d records: %w", len(recs), err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("queries: insert %d records: %w", len(recs), err)
	}
	return nil
}

// SubmissionIDs streams every stored submission id to fn and returns how many there were.
// The ingester loads them into a Bloom filter at start (about 15 bits an id).
func (db *DB) SubmissionIDs(ctx context.Context, fn func(id string)) (int, error) {
	rows, err := db.conn.Query(ctx, "SELECT DISTINCT submission_id FROM submissions")
	if err != nil {
		return 0, fmt.Errorf("queries: submission ids: %w", err)
	}
	defer rows.Close()
	n := 0
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return n, fmt.Errorf("queries: submission ids: %w", err)
		}
		fn(id)
		n++
	}
	return n, rows.Err()
}

// answerColumns holds the answer arrays of the row being appended: the driver copies
// them into its block, so one pair of slices serves every row.
type answerColumns struct{ items, values []string }

// append appends r to batch, in the order of submissionColumns.
func (a *answerColumns) append(batch driver.Batch, r *collector.Record) error {
	a.items, a.values = a.items[:0], a.values[:0]
	for _, ans := range r.Answers {
		a.items, a.values = append(a.items, ans.Item), append(a.values, ans.Value)
	}
	var consent uint8
	if r.Consent {
		consent = 1
	}
	return batch.Append(r.SubmissionID, r.Questionnaire, uint16(r.Version), r.Site, uint16(r.Year), r.Month,
		consent, r.Gender, r.AgeBand, r.NationalityGroup, r.LinkID, r.KeyID, r.Fingerprint,
		a.items, a.values, collector.ReceiptDay(r.Received)) // never finer than the day (R2)
}
