package queries

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tamtam-ngo/tamtam/collector"
)

// Staging tables: how an import of any size is stored all or nothing on ClickHouse 18.16,
// which has no transactions.
//
// What ClickHouse does guarantee (checked on 18.16): each inserted block is written as one
// part per partition, and a part becomes visible atomically; an INSERT … SELECT is squashed
// into blocks of at most min_insert_block_size_rows rows or min_insert_block_size_bytes
// bytes (a million submissions make about five), each committed on its own, so a failed or
// killed INSERT … SELECT leaves behind the parts it had written; ALTER TABLE … ATTACH
// PARTITION … FROM hard-links all the parts of one partition in one atomic step; RENAME
// TABLE is atomic. Holding a whole import in one block instead, as tamtam once did, needs
// gigabytes in both processes and is still not atomic across partitions (years).
//
// So an import ([DB.Stage]):
//  1. creates import_stage_<id> AS submissions and streams the records into it in blocks
//     as they are checked (readers never look at it), renewing a lease in import_leases;
//  2. once every row is checked and the file has no problem, records the commit by
//     renaming the table import_commit_<id>;
//  3. moves the rows into submissions: when none of their ids is stored yet (a first
//     import), each partition is attached in one step, a hard link, with no rewrite;
//     otherwise an INSERT … SELECT skips the ids already stored;
//  4. drops the staging table.
//
// A crash before 2 leaves a staging table that nothing reads: [DB.RecoverImports] drops
// it. A crash during 3 may leave part of the rows moved (one year's partition and not the
// next, or some blocks of an INSERT … SELECT): RecoverImports completes the move with the
// INSERT … SELECT, which skips ids already stored and so can be repeated — a committed
// import rolls forward to all of its rows, never to some of them twice (submissions is
// keyed by submission_id; see 0001_submissions.sql). RecoverImports only touches tables
// whose lease has expired, and claims a committed one by renaming it first, so two
// recoveries never move the same table.
//
// What this does not give is isolation: while step 3 runs (well under a second for
// ATTACH; seconds for an INSERT … SELECT), a concurrent reader may see part of the import.
// And an id stored by someone else between the check of step 3 and the attach is then
// stored twice; readers use FINAL when ids repeat (queries/indicators.go), so it is
// counted once.

// Names of staging tables: the state, then a random id.
const (
	stagePrefix  = "import_stage_"
	commitPrefix = "import_commit_"
)

var stagingName = regexp.MustCompile(`^import_(stage|commit)_[0-9a-f]{16}$`)

// stagingBlock is the number of rows sent to ClickHouse in one block, about 2 KiB a row
// in the driver's buffers: the import's memory does not grow with the file. (Half the
// block took a tenth more time for a quarter less memory.) The server squashes the
// blocks of one INSERT into parts of up to min_insert_block_size_rows rows or
// min_insert_block_size_bytes bytes: a million submissions make four or five parts per
// partition. mergeAfterBlocks is the number of blocks (6.3 million rows, some thirty
// parts) from which a staging table merges its parts. Variables for the tests.
var (
	stagingBlock     = 1 << 16
	mergeAfterBlocks = 96
)

// The lease of a staging table: renewed every leaseRenewal by its owner, and expired —
// the owner crashed — when older than the staleAfter given to RecoverImports
// (ImportLeaseTimeout by default).
const (
	leaseRenewal       = 10 * time.Second
	ImportLeaseTimeout = 2 * time.Minute
)

// submissionColumns lists the columns of submissions in the order answerColumns.append
// gives.
const submissionColumns = `submission_id, questionnaire, version, site, year, month,
	consent, gender, age_band, nationality_group, link_id, key_id, fingerprint,
	answer_item, answer_value, received_at`

// The SQL of staging. Table names cannot be bound as values: {t} is replaced by a
// staging table name, which is generated here and checked against stagingName first.
const (
	stagingCreate = `CREATE TABLE {t} AS submissions`
	// On a cluster, submissions is a Distributed table: the staging table is a plain one
	// on the node the import is pinned to, with the columns of the shards' tables.
	stagingCreateCluster = `CREATE TABLE {t} AS ` + shardTable + ` ENGINE = ReplacingMergeTree(received_at) PARTITION BY year ORDER BY submission_id`
	stagingStop          = `SYSTEM STOP MERGES {t}`
	stagingStart         = `SYSTEM START MERGES {t}`
	stagingInsert        = `INSERT INTO {t} (` + submissionColumns + `)`
	stagingRename        = `RENAME TABLE {from} TO {t}`
	stagingDrop          = `DROP TABLE IF EXISTS {t}`
	stagingStored        = `SELECT submission_id, any(fingerprint) FROM submissions WHERE submission_id GLOBAL IN (SELECT submission_id FROM {t}) GROUP BY submission_id`
	stagingStoredB       = `SELECT submission_id, any(fingerprint) FROM submissions WHERE submission_id GLOBAL IN (SELECT submission_id FROM {t} WHERE submission_id IN (SELECT submission_id FROM submissions)) GROUP BY submission_id`
	stagingCount         = `SELECT count() FROM {t}`
	storedCount          = `SELECT count() FROM submissions`
	stagingParts         = `SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = ? AND active`
	stagingAttach        = `ALTER TABLE submissions ATTACH PARTITION ID ? FROM {t}`
	stagingMove          = `INSERT INTO submissions (` + submissionColumns + `) SELECT ` + submissionColumns + ` FROM {t} WHERE submission_id NOT IN (SELECT submission_id FROM submissions WHERE submission_id GLOBAL IN (SELECT submission_id FROM {t}))`
	stagingMoveB         = `INSERT INTO submissions (` + submissionColumns + `) SELECT ` + submissionColumns + ` FROM {t} WHERE submission_id NOT IN (SELECT submission_id FROM submissions)`
	stagingLease         = `INSERT INTO import_leases (staging, heartbeat)`
	stagingTables        = `SELECT name, metadata_modification_time FROM system.tables WHERE database = currentDatabase() AND name LIKE 'import%'`
	stagingLeases        = `SELECT staging, max(heartbeat) FROM import_leases GROUP BY staging`
	unknownTable         = 60 // ClickHouse error UNKNOWN_TABLE
	tableExists          = 57 // ClickHouse error TABLE_ALREADY_EXISTS
	partitionIDSet       = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-"
)

func stagingSQL(query, table string) string {
	if !stagingName.MatchString(table) {
		panic("queries: not a staging table name: " + table) // names are generated here
	}
	return strings.ReplaceAll(query, "{t}", table)
}

// Staging is the staging table of one import, from [DB.Stage] until Commit or Discard.
// Its methods are not safe for concurrent use.
type Staging struct {
	db      *DB // on a cluster, pinned to the node of the staging table (see Stage)
	origin  *DB // the DB Stage was called on
	id      string
	batch   driver.Batch
	scratch answerColumns
	block   int // rows of the open block
	blocks  int // blocks sent
	rows    int // rows staged
	// stored is the number of staged ids found in submissions by the last Stored, or -1
	// when rows were added since (or Stored never ran): Commit then cannot attach.
	stored int
	done   bool // committed or discarded

	mu   sync.Mutex
	name string // the table's name, renewed by the lease goroutine
	stop chan struct{}
	left chan struct{}
}

// Stage creates the staging table of a new import, and a lease that keeps it alive until
// Commit or Discard.
//
// On a cluster the staging table is on one node, and the import is pinned to it: every
// statement of the import goes through connections to that node. Its move into
// submissions is always the INSERT … SELECT (parts cannot be attached to a Distributed
// table), which writes every shard synchronously and can be repeated, and
// [DB.RecoverImports] looks for abandoned staging tables on every node.
func (origin *DB) Stage(ctx context.Context) (*Staging, error) {
	id, err := newStagingID()
	if err != nil {
		return nil, err
	}
	db, err := origin.pinned(ctx)
	if err != nil {
		return nil, fmt.Errorf("queries: stage an import: %w", err)
	}
	s := &Staging{db: db, origin: origin, id: id, name: stagePrefix + id, stored: -1}
	create := stagingCreate
	if db.cluster != "" {
		create = stagingCreateCluster
	}
	// The lease first: a table found without one would look abandoned.
	if err := db.lease(ctx, s.name); err != nil {
		origin.closeIfPinned(db)
		return nil, fmt.Errorf("queries: stage an import: %w", err)
	}
	if err := db.conn.Exec(ctx, stagingSQL(create, s.name)); err != nil {
		origin.closeIfPinned(db)
		return nil, fmt.Errorf("queries: stage an import: %w", err)
	}
	s.startLease()
	// Its parts are attached as they are: merging them here would only take CPU from
	// the import (and make the attach wait for the merge).
	if err := db.conn.Exec(ctx, stagingSQL(stagingStop, s.name)); err != nil {
		s.Discard(ctx)
		return nil, fmt.Errorf("queries: stage an import: %w", err)
	}
	return s, nil
}

func newStagingID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("queries: staging id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (db *DB) lease(ctx context.Context, table string) error {
	return db.insertRow(ctx, stagingLease, table, db.now().UTC())
}

// startLease renews the lease of the table until stopLease. A renewal that fails is
// retried at the next tick: the lease lasts many renewals.
func (s *Staging) startLease() {
	s.stop, s.left = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.left)
		tick := time.NewTicker(leaseRenewal)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), leaseRenewal)
				if err := s.db.lease(ctx, s.table()); err != nil {
					s.db.log.Warn("import lease not renewed", "staging", s.table(), "err", err)
				}
				cancel()
			}
		}
	}()
}

func (s *Staging) stopLease() {
	if s.stop != nil {
		close(s.stop)
		<-s.left
		s.stop = nil
	}
}

func (s *Staging) table() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

func (s *Staging) rename(ctx context.Context, to string) error {
	from := s.table()
	query := strings.ReplaceAll(stagingSQL(stagingRename, to), "{from}", stagingSQL("{t}", from))
	if err := s.db.conn.Exec(ctx, query); err != nil {
		return err
	}
	s.mu.Lock()
	s.name = to
	s.mu.Unlock()
	return nil
}

// Rows returns the number of records staged.
func (s *Staging) Rows() int { return s.rows }

// Add stages recs. They are sent in blocks of stagingBlock rows as they come; the last
// block goes with Stored, Commit or Discard.
func (s *Staging) Add(ctx context.Context, recs []collector.Record) error {
	if s.done {
		return errors.New("queries: staging already committed or discarded")
	}
	// Rows imported after a key rotation re-key their person's earlier rows, as
	// submissions do (see DB.Rekey); the pairs are noted before the rows exist.
	if err := s.db.noteRekeys(ctx, recs); err != nil {
		return err
	}
	for i := range recs {
		if s.batch == nil {
			b, err := s.db.conn.PrepareBatch(ctx, stagingSQL(stagingInsert, s.table()))
			if err != nil {
				return fmt.Errorf("queries: stage records: %w", err)
			}
			s.batch = b
		}
		if err := s.scratch.append(s.batch, &recs[i]); err != nil {
			return fmt.Errorf("queries: stage records: %w", err)
		}
		s.rows++
		s.stored = -1
		// One INSERT carries many blocks: each Flush sends one, which ClickHouse takes
		// while the next is filled.
		if s.block++; s.block == stagingBlock {
			if err := s.batch.Flush(); err != nil {
				return fmt.Errorf("queries: stage records: %w", err)
			}
			s.block = 0
			// From 150 parts in one partition ClickHouse delays inserts, from 300 it
			// refuses them: a very large import merges its parts after all.
			if s.blocks++; s.blocks == mergeAfterBlocks {
				if err := s.db.conn.Exec(ctx, stagingSQL(stagingStart, s.table())); err != nil {
					return fmt.Errorf("queries: stage records: %w", err)
				}
			}
		}
	}
	return nil
}

// send ends the open INSERT, so that every record added is in the table.
func (s *Staging) send() error {
	if s.batch == nil {
		return nil
	}
	b := s.batch
	s.batch, s.block = nil, 0
	defer b.Close()
	if err := b.Send(); err != nil {
		return fmt.Errorf("queries: stage records: %w", err)
	}
	return nil
}

// Stored calls fn with the id and stored fingerprint of every staged record whose
// submission_id is already in submissions: one query, whatever the number of records.
func (s *Staging) Stored(ctx context.Context, fn func(id, fingerprint string)) error {
	if err := s.send(); err != nil {
		return err
	}
	query, err := s.db.smallerSet(ctx, s.table(), s.rows, stagingStored, stagingStoredB)
	if err != nil || query == "" {
		if err == nil {
			s.stored = 0 // nothing is stored at all
		}
		return err
	}
	rows, err := s.db.conn.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("queries: staged ids already stored: %w", err)
	}
	defer rows.Close()
	n := 0
	var id, fp string
	for rows.Next() {
		if err := rows.Scan(&id, &fp); err != nil {
			return fmt.Errorf("queries: staged ids already stored: %w", err)
		}
		fn(id, fp)
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("queries: staged ids already stored: %w", err)
	}
	s.stored = n
	return nil
}

// ErrCommitUnfinished is returned (wrapped) by [Staging.Commit] when the import was
// committed but its move into submissions did not finish: part of it may be visible, and
// [DB.RecoverImports] completes it.
var ErrCommitUnfinished = errors.New("queries: import committed but not fully moved; it is completed at the next start")

// Commit moves the staged records into submissions, skipping ids already stored there,
// and drops the staging table. Once the commit is recorded (the rename), a failure does
// not undo it: Commit returns an error wrapping ErrCommitUnfinished and leaves the table
// for [DB.RecoverImports], which completes the move.
func (s *Staging) Commit(ctx context.Context) error {
	if s.done {
		return errors.New("queries: staging already committed or discarded")
	}
	if err := s.send(); err != nil {
		return err
	}
	commit := commitPrefix + s.id
	if err := s.db.lease(ctx, commit); err != nil {
		return fmt.Errorf("queries: commit import: %w", err)
	}
	if err := s.rename(ctx, commit); err != nil {
		// Not committed: the staging table is still the import's to discard.
		return fmt.Errorf("queries: commit import: %w", err)
	}
	s.done = true
	defer s.origin.closeIfPinned(s.db)
	defer s.stopLease()
	var err error
	switch {
	case s.stored == 0 && s.db.cluster == "":
		// Nothing of it is stored yet: hard-link its parts, a partition at a time.
		if err = s.db.attachAll(ctx, commit); err != nil {
			// Some partitions may be attached: the filtered move completes the rest.
			s.db.log.Warn("attach of staged partitions failed; moving the rows instead", "staging", commit, "err", err)
			err = s.db.moveFiltered(ctx, commit)
		}
	case s.stored == s.rows:
		// All already stored (a re-import): nothing to move.
	default:
		err = s.db.moveFiltered(ctx, commit)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommitUnfinished, err)
	}
	if err := s.db.conn.Exec(ctx, stagingSQL(stagingDrop, commit)); err != nil {
		// Moved: only the cleanup is left, which RecoverImports repeats harmlessly.
		s.db.log.Warn("staging table not dropped", "staging", commit, "err", err)
	}
	return nil
}

// Discard drops a staging table that was not committed, and its lease; nothing of it was
// ever visible. It is safe to call after Commit (it does nothing then) and with a context
// already cancelled (an interrupted import cleans up on its own time).
func (s *Staging) Discard(ctx context.Context) error {
	if s.done {
		return nil
	}
	s.done = true
	s.stopLease()
	defer s.origin.closeIfPinned(s.db)
	if s.batch != nil {
		s.batch.Abort()
		s.batch = nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.db.conn.Exec(ctx, stagingSQL(stagingDrop, s.table())); err != nil {
		return fmt.Errorf("queries: discard import: %w", err)
	}
	return nil
}

// attachAll attaches every partition of a committed staging table to submissions.
func (db *DB) attachAll(ctx context.Context, table string) error {
	rows, err := db.conn.Query(ctx, stagingParts, table)
	if err != nil {
		return err
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return err
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range parts {
		if strings.Trim(p, partitionIDSet) != "" {
			return fmt.Errorf("unexpected partition id %q", p)
		}
		if err := db.conn.Exec(ctx, stagingSQL(stagingAttach, table), p); err != nil {
			return fmt.Errorf("attach partition %s: %w", p, err)
		}
	}
	return nil
}

// moveFiltered inserts the rows of a committed staging table whose ids are not in
// submissions yet. Repeating it after a partial move inserts only what is missing.
func (db *DB) moveFiltered(ctx context.Context, table string) error {
	staged, err := db.count(ctx, stagingSQL(stagingCount, table))
	if err != nil {
		return err
	}
	query, err := db.smallerSet(ctx, table, staged, stagingMove, stagingMoveB)
	if err != nil {
		return err
	}
	if query == "" {
		query = stagingSQL(stagingMoveB, table) // nothing stored: nothing to skip
	}
	return db.conn.Exec(ctx, query)
}

// smallerSet picks, of two forms of a query on a staging table of staged rows, the one
// whose IN (subquery) builds its set from the smaller side: a [stagedSet] query sets the
// staged ids, a [storedSet] one the stored ids. ClickHouse builds the whole set before it
// reads the other side: a million staged ids take more than a second to set even against
// an empty store. It returns "" when submissions is empty.
func (db *DB) smallerSet(ctx context.Context, table string, staged int, stagedSet, storedSet string) (string, error) {
	stored, err := db.count(ctx, storedCount)
	switch {
	case err != nil:
		return "", err
	case stored == 0:
		return "", nil
	case stored < staged:
		return stagingSQL(storedSet, table), nil
	}
	return stagingSQL(stagedSet, table), nil
}

func (db *DB) count(ctx context.Context, query string) (int, error) {
	var n uint64
	if err := db.conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// ImportRecovery is what [DB.RecoverImports] did.
type ImportRecovery struct {
	Dropped   int // staging tables of imports that crashed before committing
	Completed int // committed imports whose move was completed
}

// RecoverImports cleans up after imports that crashed: a staging table whose lease is
// older than staleAfter is dropped when it was not committed, and moved into submissions
// (skipping ids already there) when it was. Tables of live imports are left alone. Call it
// at start, before importing; [ImportLeaseTimeout] is the staleAfter to use unless the
// caller knows the owners are dead (tests).
//
// On a cluster it looks at every node that answers: a staging table is local to the node
// its import was pinned to.
func (db *DB) RecoverImports(ctx context.Context, staleAfter time.Duration) (ImportRecovery, error) {
	if db.cluster == "" {
		return db.recoverImports(ctx, staleAfter)
	}
	var rec ImportRecovery
	for _, addr := range db.ep.addrs() {
		node, err := db.onNode(ctx, addr)
		if err != nil {
			// A node that is down keeps its staging tables until a later recovery.
			db.log.Warn("imports not recovered on a node that does not answer", "node", addr, "err", err)
			continue
		}
		r, err := node.recoverImports(ctx, staleAfter)
		node.conn.Close()
		rec.Dropped += r.Dropped
		rec.Completed += r.Completed
		if err != nil {
			return rec, err
		}
	}
	return rec, nil
}

func (db *DB) recoverImports(ctx context.Context, staleAfter time.Duration) (ImportRecovery, error) {
	var rec ImportRecovery
	leases := map[string]time.Time{}
	rows, err := db.conn.Query(ctx, stagingLeases)
	if err != nil {
		return rec, fmt.Errorf("queries: recover imports: %w", err)
	}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			rows.Close()
			return rec, fmt.Errorf("queries: recover imports: %w", err)
		}
		leases[name] = at
	}
	rows.Close()
	type table struct {
		name string
		last time.Time
	}
	var tables []table
	if rows, err = db.conn.Query(ctx, stagingTables); err != nil {
		return rec, fmt.Errorf("queries: recover imports: %w", err)
	}
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.name, &t.last); err != nil {
			rows.Close()
			return rec, fmt.Errorf("queries: recover imports: %w", err)
		}
		if !stagingName.MatchString(t.name) {
			continue
		}
		if at, ok := leases[t.name]; ok && at.After(t.last) {
			t.last = at
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rec, fmt.Errorf("queries: recover imports: %w", err)
	}
	at := db.now()
	for _, t := range tables {
		if at.Sub(t.last) < staleAfter {
			continue // a live import
		}
		if strings.HasPrefix(t.name, stagePrefix) {
			if err := db.conn.Exec(ctx, stagingSQL(stagingDrop, t.name)); err != nil {
				return rec, fmt.Errorf("queries: recover imports: drop %s: %w", t.name, err)
			}
			db.log.Info("dropped the staging table of an import that did not finish", "staging", t.name)
			rec.Dropped++
			continue
		}
		done, err := db.completeCommit(ctx, t.name)
		if err != nil {
			return rec, fmt.Errorf("queries: recover imports: complete %s: %w", t.name, err)
		}
		if done {
			db.log.Info("completed the move of a committed import", "staging", t.name)
			rec.Completed++
		}
	}
	return rec, nil
}

// completeCommit claims a committed staging table (renaming it under a new lease, so that
// no other recovery moves it at the same time) and completes its move. It reports false
// when another process claimed or finished it first.
func (db *DB) completeCommit(ctx context.Context, table string) (bool, error) {
	id, err := newStagingID()
	if err != nil {
		return false, err
	}
	s := &Staging{db: db, origin: db, id: id, name: table, stored: -1, done: true}
	claimed := commitPrefix + id
	if err := db.lease(ctx, claimed); err != nil {
		return false, err
	}
	if err := s.rename(ctx, claimed); err != nil {
		if isException(err, unknownTable) || isException(err, tableExists) {
			return false, nil
		}
		return false, err
	}
	s.startLease()
	defer s.stopLease()
	if err := db.moveFiltered(ctx, claimed); err != nil {
		return false, err
	}
	if err := db.conn.Exec(ctx, stagingSQL(stagingDrop, claimed)); err != nil {
		return false, err
	}
	return true, nil
}
