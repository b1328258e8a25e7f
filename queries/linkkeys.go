package queries

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// Linkage key rotation (PRIVACY.md R3), the store's part.
//
// After a rotation, a record with a linkage identifier carries its link id under the
// current key and, in [collector.Record.PreviousLinks], the link ids the same identifier
// had under the earlier keys still kept. Those pairs are noted in link_rekeys with the
// record (see noteRekeys), and [DB.Rekey] later moves every stored row keyed under an
// earlier link to the current one, so that an entry made before the rotation links with
// a follow-up made after it. The identifier itself never reaches this package.
//
// Rows are never updated in place (an ALTER … UPDATE mutation rewrites whole parts and
// needs a user allowed to change the schema): a re-keyed row is inserted again with the
// same submission id, the same received_at and the same content, only link_id and key_id
// changed. submissions is a ReplacingMergeTree keyed by submission id with received_at as
// version, and for equal versions ClickHouse keeps the row inserted last (checked on
// 18.16, in merges and in FINAL), so the replacement wins. Until a merge removes it, the
// replaced row is still there: readers that count use FINAL when ids repeat
// (IndicatorCells; I21 included), so nothing is counted twice.
//
// Every step can be repeated: the pairs are noted before the records (a failed insert
// is retried whole, the pairs collapse), and Rekey only looks at the current state of the
// rows (through FINAL), so a pass interrupted after its insert finds nothing left to do
// for those rows. Nothing is remembered between passes.

// ErrNotAllowed is wrapped by the errors of operations the ClickHouse user may not do: a
// user whose profile has allow_ddl=0 (or readonly) creating tables, applying migrations or
// dropping partitions.
var ErrNotAllowed = errors.New("the ClickHouse user is not allowed to change the schema")

// notAllowed wraps err with ErrNotAllowed when ClickHouse refused it for the user's
// rights: 392 (DDL queries are prohibited for the user), 164 (readonly mode).
func notAllowed(err error) error {
	if isException(err, 392) || isException(err, 164) {
		return fmt.Errorf("%w: %w", ErrNotAllowed, err)
	}
	return err
}

const insertRekeys = `INSERT INTO link_rekeys (from_key_id, from_link_id, to_key_id, to_link_id, noted_at)`

// noteRekeys notes the pairs of link ids of recs (their PreviousLinks), in one insert.
// It is called before the records themselves are inserted: if that insert fails, the
// retry notes the same pairs again, which collapse; and a pair noted for a record that is
// finally not stored (a conflict) still maps an earlier link to a later link of the same
// identifier, so applying it is right all the same.
func (db *DB) noteRekeys(ctx context.Context, recs []collector.Record) error {
	n := 0
	for i := range recs {
		if recs[i].LinkID != "" {
			n += len(recs[i].PreviousLinks)
		}
	}
	if n == 0 {
		return nil
	}
	batch, err := db.conn.PrepareBatch(ctx, insertRekeys)
	if err != nil {
		return fmt.Errorf("queries: note %d re-keys: %w", n, err)
	}
	defer batch.Close()
	for i := range recs {
		r := &recs[i]
		if r.LinkID == "" {
			continue
		}
		for _, p := range r.PreviousLinks {
			if err := batch.Append(p.KeyID, p.LinkID, r.KeyID, r.LinkID, collector.ReceiptDay(r.Received)); err != nil {
				return fmt.Errorf("queries: note %d re-keys: %w", n, err)
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("queries: note %d re-keys: %w", n, err)
	}
	return nil
}

// rekeyQuery returns, for at most 10,000 rows (one insert) whose current state (FINAL) is keyed
// under a noted earlier link, the row and the link it moves to. A link noted more than
// once (an earlier key still kept across two rotations) moves to the latest noted.
// The inner scan reads key_id and link_id of every row; it only runs while pairs exist,
// that is during grace periods.
const rekeyQuery = `SELECT submission_id, questionnaire, version, site, year, month, consent, gender, age_band,
  nationality_group, to_link_id, to_key_id, fingerprint, answer_item, answer_value, received_at
FROM (
  SELECT submission_id, questionnaire, version, site, year, month, consent, gender, age_band,
    nationality_group, link_id, key_id, fingerprint, answer_item, answer_value, received_at
  FROM submissions FINAL
  WHERE submission_id IN (
    SELECT submission_id FROM submissions
    WHERE link_id != '' AND (key_id, link_id) IN (SELECT from_key_id, from_link_id FROM link_rekeys))
) ALL INNER JOIN (
  SELECT from_key_id AS key_id, from_link_id AS link_id,
    argMax(to_key_id, noted_at) AS to_key_id, argMax(to_link_id, noted_at) AS to_link_id
  FROM link_rekeys
  GROUP BY key_id, link_id
) USING (key_id, link_id)
ORDER BY submission_id
LIMIT 10000`

// Rekey re-keys every stored row whose link was noted as an earlier link of a later one,
// and returns how many rows it re-keyed. It is safe to run at any time, from several
// processes at once, and to interrupt: see the top of this file. A row re-keyed through
// two rotations (an earlier key still kept) moves in one or two passes.
func (db *DB) Rekey(ctx context.Context) (int, error) {
	var pairs uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM link_rekeys").Scan(&pairs); err != nil {
		return 0, fmt.Errorf("queries: re-key: %w", err)
	}
	if pairs == 0 {
		return 0, nil
	}
	total := 0
	// Each pass moves rows to a later epoch or finishes; the bound only guards against a
	// cycle of pairs, which keys from two unrelated key directories could make.
	for pass := 0; pass < 1000; pass++ {
		n, err := db.rekeyOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, fmt.Errorf("queries: re-key: still rows to re-key after 1000 passes (%d rows moved): are two servers using unrelated key directories?", total)
}

func (db *DB) rekeyOnce(ctx context.Context) (int, error) {
	rows, err := db.conn.Query(ctx, rekeyQuery)
	if err != nil {
		return 0, fmt.Errorf("queries: re-key: %w", err)
	}
	type row struct {
		id, questionnaire, site, month, gender, ageBand, nationality, linkID, keyID, fingerprint string
		version, year                                                                            uint16
		consent                                                                                  uint8
		items, values                                                                            []string
		received                                                                                 time.Time
	}
	var moved []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.questionnaire, &r.version, &r.site, &r.year, &r.month, &r.consent, &r.gender,
			&r.ageBand, &r.nationality, &r.linkID, &r.keyID, &r.fingerprint, &r.items, &r.values, &r.received); err != nil {
			rows.Close()
			return 0, fmt.Errorf("queries: re-key: %w", err)
		}
		moved = append(moved, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("queries: re-key: %w", err)
	}
	if len(moved) == 0 {
		return 0, nil
	}
	// One block: the replacements of a pass are stored together or not at all.
	batch, err := db.conn.PrepareBatch(ctx, insertSubmissions)
	if err != nil {
		return 0, fmt.Errorf("queries: re-key %d rows: %w", len(moved), err)
	}
	defer batch.Close()
	for _, r := range moved {
		if err := batch.Append(r.id, r.questionnaire, r.version, r.site, r.year, r.month, r.consent, r.gender,
			r.ageBand, r.nationality, r.linkID, r.keyID, r.fingerprint, r.items, r.values, r.received); err != nil {
			return 0, fmt.Errorf("queries: re-key %d rows: %w", len(moved), err)
		}
	}
	if err := batch.Send(); err != nil {
		return 0, fmt.Errorf("queries: re-key %d rows: %w", len(moved), err)
	}
	db.log.Info("rows re-keyed", "rows", len(moved))
	return len(moved), nil
}

var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{12}$`)

// DropRekeys forgets the pairs noted from each of keyIDs, keys that have been destroyed,
// and returns how many pairs it dropped. From then on a row still keyed under one of
// them can no longer be re-keyed: its link is gone with its key. Dropping a partition
// needs a user allowed to change the schema; the error then wraps ErrNotAllowed.
func (db *DB) DropRekeys(ctx context.Context, keyIDs []string) (int, error) {
	total := 0
	for _, id := range keyIDs {
		if !keyIDPattern.MatchString(id) {
			return total, fmt.Errorf("queries: drop re-keys: invalid key id %q", id)
		}
		var n uint64
		if err := db.conn.QueryRow(ctx, "SELECT count() FROM link_rekeys WHERE from_key_id = ?", id).Scan(&n); err != nil {
			return total, fmt.Errorf("queries: drop re-keys of key %s: %w", id, err)
		}
		if n == 0 {
			continue
		}
		// The id is checked above; the partition value is bound client-side as a literal.
		if err := db.onLeaders(ctx, "link_rekeys", "ALTER TABLE link_rekeys DROP PARTITION ?", id); err != nil {
			return total, fmt.Errorf("queries: drop re-keys of key %s: %w", id, notAllowed(err))
		}
		total += int(n)
	}
	return total, nil
}

// RekeysNoted returns the number of pairs noted from each earlier key.
func (db *DB) RekeysNoted(ctx context.Context) (map[string]int, error) {
	rows, err := db.conn.Query(ctx, "SELECT from_key_id, count() FROM link_rekeys GROUP BY from_key_id")
	if err != nil {
		return nil, fmt.Errorf("queries: re-keys noted: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("queries: re-keys noted: %w", err)
		}
		out[id] = int(n)
	}
	return out, rows.Err()
}
