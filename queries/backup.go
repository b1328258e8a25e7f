package queries

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Backups: every table of the store in one portable file, and back.
//
// # The file
//
// A backup is a tar archive compressed with gzip (tamtam encrypts it with age on top
// when asked; see cmd/tamtam). Its entries, in order:
//
//	BACKUP                       {"format":"tamtam-backup","version":1}: what the file is
//	tables/NAME/000001.tsv …     the rows of table NAME, in files of about 8 MiB
//	manifest.json                the tables, their columns, rows and checksums; last,
//	                             because they are known only once the rows are written
//
// Each table file is in ClickHouse's TabSeparatedWithNamesAndTypes format (a line of
// column names, a line of types, then a row a line; see tsv.go), which every ClickHouse
// version reads: `clickhouse-client --query "INSERT INTO t FORMAT
// TabSeparatedWithNamesAndTypes" < 000001.tsv` loads one without tamtam. A table's
// checksum is the sum, modulo 2^256, of the SHA-256 of each of its rows' lines: it does
// not depend on the order of the rows, so a restore can compare it with the rows it reads
// back from the store, in whatever order the store gives them.
//
// # What is in it, and what is not
//
// Every table of the database, except those whose rows only mean something while a
// process runs or which a restore recreates: sessions (web sign-ins: a restore signs
// everybody out), import_leases and release_leases (who is importing or releasing now),
// the staging tables of imports in progress, and schema_migrations (the manifest lists
// the migrations instead, and a restore requires the same). A table added by a later
// migration is included without a change here. No key is in the store: the linkage keys
// and the session key are files of the data directory (PRIVACY.md R3), so no key is in
// a backup either.
//
// # Consistency
//
// ClickHouse 18.16 has no BACKUP command and no transactions. A SELECT reads the data
// parts that are active when it starts, and keeps reading them while inserts add new
// parts and merges replace old ones: each table is read by one query, so each table is
// copied as it was at one moment. Every query starts after [DB.Backup] was called, so
// every row committed before then is in the backup. A ReplacingMergeTree table is read
// through FINAL, which gives each key's row as the table's own merges will keep it (for
// equal versions, the row inserted last: how a re-keyed submission replaces its earlier
// row); a restored table then holds one row per key, which no merge changes. Rows written
// while the backup runs may or may not be in it, table by table; the tables are read in
// an order that keeps what tamtam relies on: a release's header is written after its
// cells, a token after its expiry, a submission after the re-key pairs of its link and
// the fingerprint of its definition, so release_headers, tokens and submissions are read
// first, and what the backup holds of them has its cells, its expiry, its pairs. An import moves its rows
// into submissions in several steps once committed: the backup waits for a commit in
// progress and, if one happened while submissions was read, fails with
// [ErrBackupInterrupted] so that the caller starts again; an import is in a backup whole
// or not at all.

// BackupFormat and BackupVersion identify the archive.
const (
	BackupFormat  = "tamtam-backup"
	BackupVersion = 1
)

// Errors of backups and restores.
var (
	// ErrBadBackup is wrapped by the errors of [CheckBackup] and [DB.Restore] for a file
	// that is not a tamtam backup, or is damaged or cut short.
	ErrBadBackup = errors.New("not a tamtam backup, or damaged or incomplete")

	// ErrBackupInterrupted is wrapped by the error of [DB.Backup] when an import was
	// committed while submissions was read: the backup may hold part of it. Start again.
	ErrBackupInterrupted = errors.New("an import was committed while the backup was read")

	// ErrNotEmpty is wrapped by the error of [DB.Restore] when the store holds rows.
	ErrNotEmpty = errors.New("the store is not empty")

	// ErrPartlyRestored is wrapped by the error of [DB.Restore] when it failed once rows
	// were being written: the store holds part of the backup.
	ErrPartlyRestored = errors.New("the store holds part of the backup: drop its database and restore again")

	// ErrSchemaMismatch is wrapped by the error of [DB.Restore] when the backup was made
	// with another schema (another version of tamtam) than the store's.
	ErrSchemaMismatch = errors.New("the backup was made with another schema")
)

// BackupManifest describes a backup: the last entry of the file.
type BackupManifest struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	MadeAt  time.Time `json:"made_at"`
	// Database and ClickHouse are where the backup was made.
	Database   string `json:"database"`
	ClickHouse string `json:"clickhouse_version"`
	// Schema lists the migrations applied to the store; a restore requires the same.
	Schema   []string      `json:"schema"`
	Encoding string        `json:"encoding"`
	Checksum string        `json:"checksum"`
	Tables   []BackupTable `json:"tables"`
	// LeftOut lists the tables of the store that are not in the backup.
	LeftOut []string `json:"left_out"`
	Keys    string   `json:"keys"`
}

// BackupTable is one table of a backup.
type BackupTable struct {
	Name     string         `json:"name"`
	Engine   string         `json:"engine"`
	Final    bool           `json:"final"` // read through FINAL
	Columns  []BackupColumn `json:"columns"`
	Rows     uint64         `json:"rows"`
	Files    int            `json:"files"`
	Checksum string         `json:"checksum"`
}

// BackupColumn is a column of a table, as the server names it and its type.
type BackupColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

const (
	backupEncoding = "TabSeparatedWithNamesAndTypes (ClickHouse escapes), times in UTC"
	backupChecksum = "sum modulo 2^256 of the SHA-256 of each row's line, hexadecimal"
	backupKeys     = "none: the linkage keys and the session key are files of the data directory, never in the store or its backups"

	backupHead     = "BACKUP"
	backupManifest = "manifest.json"

	// maxEntryBytes bounds an entry a reader takes into memory: a longer one is damage.
	maxEntryBytes = 256 << 20
	// readBlock is the number of rows a backup asks ClickHouse for in one block, and
	// restoreBlock the number a restore sends in one: about 1 KiB a submission, which
	// the driver holds as strings and arrays, several times that.
	readBlock    = 4096
	restoreBlock = 8192
)

// chunkBytes is the size from which a table file is closed and the next begun: the
// memory a backup holds, whatever the size of the tables. afterRead, when set, is called
// once a table has been read. Variables for the tests.
var (
	chunkBytes = 8 << 20
	afterRead  func(table string)
)

// leftOut are the tables a backup does not hold (see above); staging tables of imports
// are left out by their names (stagingName).
var leftOut = map[string]bool{
	"sessions": true, "import_leases": true, "release_leases": true, "schema_migrations": true,
}

// readFirst are the tables read before the others, in this order: each is written last
// of what belongs together (a release's header after its cells, a token after its expiry,
// a questionnaire after the re-key pairs of its link and the fingerprint of its
// definition), so that what the backup holds of it has what it needs.
var readFirst = []string{"release_headers", "tokens", "submissions"}

var (
	tableEntry = regexp.MustCompile(`^tables/([A-Za-z_][A-Za-z0-9_]*)/([0-9]{6})\.tsv$`)
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// BackupOptions configure [DB.Backup].
type BackupOptions struct {
	// CommitWait bounds the wait for an import commit in progress; 0 means two minutes.
	CommitWait time.Duration
}

// backupSource is a table to read, with its columns' types.
type backupSource struct {
	BackupTable
	types []colType
}

// Backup writes every table of the store to w as a backup archive and returns its
// manifest. w should be a file the caller removes on error. Errors wrap
// [ErrBackupInterrupted] when an import was committed during the read (start again), and
// name a table or column the backup does not know how to copy.
func (db *DB) Backup(ctx context.Context, w io.Writer, opts BackupOptions) (*BackupManifest, error) {
	if opts.CommitWait <= 0 {
		opts.CommitWait = 2 * time.Minute
	}
	m := &BackupManifest{Format: BackupFormat, Version: BackupVersion, MadeAt: db.now().UTC().Truncate(time.Second),
		Database: db.database, Encoding: backupEncoding, Checksum: backupChecksum, Keys: backupKeys}
	if err := db.conn.QueryRow(ctx, "SELECT version()").Scan(&m.ClickHouse); err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	schema, err := db.appliedMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	m.Schema = schema
	// On a cluster a table is read from one replica per shard, whichever answers: each
	// first catches up with the others, so that the backup holds every row written
	// before it began.
	if err := db.SyncReplicas(ctx); err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	sources, left, err := db.backupSources(ctx)
	if err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	m.LeftOut = left

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	head, _ := json.Marshal(map[string]any{"format": BackupFormat, "version": BackupVersion})
	if err := writeEntry(tw, backupHead, append(head, '\n'), m.MadeAt); err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	commits, err := db.quietCommits(ctx, opts.CommitWait)
	if err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	for _, src := range sources {
		cw := &chunkWriter{tw: tw, table: src.Name, at: m.MadeAt, header: tsvHeader(src.Columns)}
		var d digest
		rows, err := db.readTable(ctx, src, func(line []byte) error {
			d.add(line)
			return cw.add(line)
		})
		if err == nil {
			err = cw.close()
		}
		if err != nil {
			return nil, fmt.Errorf("queries: backup %s: %w", src.Name, err)
		}
		if afterRead != nil {
			afterRead(src.Name)
		}
		if src.Name == "submissions" {
			after, err := db.commitCount(ctx)
			if err != nil {
				return nil, fmt.Errorf("queries: backup: %w", err)
			}
			if after != commits {
				return nil, fmt.Errorf("queries: backup: %w", ErrBackupInterrupted)
			}
		}
		t := src.BackupTable
		t.Rows, t.Files, t.Checksum = rows, cw.n, d.String()
		m.Tables = append(m.Tables, t)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeEntry(tw, backupManifest, append(data, '\n'), m.MadeAt); err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("queries: backup: %w", err)
	}
	return m, nil
}

// backupSources lists the tables a backup holds, in the order they are read, and the
// names of those it leaves out.
func (db *DB) backupSources(ctx context.Context) ([]backupSource, []string, error) {
	rows, err := db.conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name")
	if err != nil {
		return nil, nil, err
	}
	var (
		sources []backupSource
		left    []string
	)
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if leftOut[name] || stagingName.MatchString(name) || name == shardTable && db.cluster != "" {
			left = append(left, name)
			continue
		}
		src := backupSource{BackupTable: BackupTable{Name: name, Engine: engine}}
		switch {
		case !identifier.MatchString(name):
			err = fmt.Errorf("table %q: a name a backup cannot quote", name)
		case strings.HasSuffix(engine, "ReplacingMergeTree"):
			src.Final = true
		case engine == "Distributed" && name == "submissions" && db.cluster != "":
			src.Final = true // over the shards' ReplicatedReplacingMergeTree
		case engine == "MergeTree" || engine == "ReplicatedMergeTree":
		default:
			err = fmt.Errorf("table %s has engine %s, which a backup does not know how to copy", name, engine)
		}
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		sources = append(sources, src)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for i := range sources {
		if sources[i].Columns, sources[i].types, err = db.tableColumns(ctx, sources[i].Name); err != nil {
			return nil, nil, err
		}
	}
	rank := func(name string) int {
		if i := slices.Index(readFirst, name); i >= 0 {
			return i
		}
		return len(readFirst)
	}
	slices.SortStableFunc(sources, func(a, b backupSource) int { return rank(a.Name) - rank(b.Name) })
	return sources, left, nil
}

// tableColumns returns the columns of a table that rows are inserted into (not the
// MATERIALIZED or ALIAS ones), in the table's order, with their types.
func (db *DB) tableColumns(ctx context.Context, table string) ([]BackupColumn, []colType, error) {
	rows, err := db.conn.Query(ctx, `SELECT name, type FROM system.columns
		WHERE database = currentDatabase() AND table = ? AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')`, table)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		cols  []BackupColumn
		types []colType
	)
	for rows.Next() {
		var c BackupColumn
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, nil, err
		}
		if !identifier.MatchString(c.Name) {
			return nil, nil, fmt.Errorf("table %s: column %q: a name a backup cannot quote", table, c.Name)
		}
		t, err := parseColType(c.Type)
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: column %s: %w", table, c.Name, err)
		}
		cols, types = append(cols, c), append(types, t)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(cols) == 0 {
		return nil, nil, fmt.Errorf("table %s: no columns", table)
	}
	return cols, types, nil
}

// appliedMigrations returns the names of the migrations recorded in the store.
func (db *DB) appliedMigrations(ctx context.Context) ([]string, error) {
	rows, err := db.conn.Query(ctx, "SELECT DISTINCT name FROM schema_migrations ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// readTable reads every row of a table in one query (through FINAL for a
// ReplacingMergeTree) and calls fn with each row's line, which is valid until the next
// call. It returns the number of rows.
func (db *DB) readTable(ctx context.Context, src backupSource, fn func(line []byte) error) (uint64, error) {
	names := make([]string, len(src.Columns))
	for i, c := range src.Columns {
		names[i] = "`" + c.Name + "`"
	}
	query := "SELECT " + strings.Join(names, ", ") + " FROM `" + src.Name + "`"
	if src.Final {
		query += " FINAL"
	}
	// The driver holds a whole block of the answer in memory (and the next one coming):
	// small blocks keep that to a few MiB, whatever the size of the table.
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_block_size": readBlock}))
	rows, err := db.conn.Query(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]any, len(src.types))
	vals := make([]reflect.Value, len(src.types))
	for i, t := range src.types {
		p := reflect.New(t.goType())
		dest[i], vals[i] = p.Interface(), p.Elem()
	}
	var (
		n    uint64
		line []byte
	)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		line = line[:0]
		for i, t := range src.types {
			if i > 0 {
				line = append(line, '\t')
			}
			line = t.appendField(line, vals[i])
		}
		if err := fn(line); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// The commit of an import moves its rows into submissions in several statements
// (queries/staging.go). commitBusy tells whether one is under way: a committed staging
// table exists, or a staging table whose commit lease is written and rename not yet done.
// commitCount counts the commits ever begun (their leases; a name is never reused).
const (
	commitBusy = `SELECT count() FROM system.tables WHERE database = currentDatabase() AND (startsWith(name, 'import_commit_')
		OR (startsWith(name, 'import_stage_') AND concat('import_commit_', substring(name, 14)) IN (SELECT staging FROM import_leases)))`
	commitCount = `SELECT uniqExact(staging) FROM import_leases WHERE startsWith(staging, 'import_commit_')`
)

// quietCommits waits until no import commit is under way, completing those a crash left
// half done (as serve does at start), and returns the number of commits begun so far.
func (db *DB) quietCommits(ctx context.Context, wait time.Duration) (uint64, error) {
	deadline := time.Now().Add(wait)
	for {
		n, err := db.commitCount(ctx)
		if err != nil {
			return 0, err
		}
		var busy uint64
		if err := db.conn.QueryRow(ctx, commitBusy).Scan(&busy); err != nil {
			return 0, err
		}
		if busy == 0 {
			return n, nil
		}
		if _, err := db.RecoverImports(ctx, ImportLeaseTimeout); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("an import has been committing for more than %v: back up again once it is done", wait)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (db *DB) commitCount(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.conn.QueryRow(ctx, commitCount).Scan(&n)
	return n, err
}

// tsvHeader returns the two header lines of a table file: names, then types.
func tsvHeader(cols []BackupColumn) []byte {
	var b []byte
	for i, c := range cols {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendEscaped(b, c.Name)
	}
	b = append(b, '\n')
	for i, c := range cols {
		if i > 0 {
			b = append(b, '\t')
		}
		b = appendEscaped(b, c.Type)
	}
	return append(b, '\n')
}

// chunkWriter writes the files of one table: about chunkBytes each, every one a
// complete TabSeparatedWithNamesAndTypes file, at least one (an empty table has its
// header).
type chunkWriter struct {
	tw     *tar.Writer
	table  string
	at     time.Time
	header []byte
	buf    []byte
	n      int // files written
}

func (c *chunkWriter) add(line []byte) error {
	if len(c.buf) == 0 {
		c.buf = append(c.buf, c.header...)
	}
	c.buf = append(append(c.buf, line...), '\n')
	if len(c.buf) >= chunkBytes {
		return c.flush()
	}
	return nil
}

func (c *chunkWriter) flush() error {
	c.n++
	err := writeEntry(c.tw, fmt.Sprintf("tables/%s/%06d.tsv", c.table, c.n), c.buf, c.at)
	c.buf = c.buf[:0]
	return err
}

func (c *chunkWriter) close() error {
	if len(c.buf) == 0 && c.n == 0 {
		c.buf = append(c.buf, c.header...)
	}
	if len(c.buf) > 0 {
		return c.flush()
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, data []byte, at time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o600, ModTime: at}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// digest is the checksum of a table: the sum of the SHA-256 of its rows' lines, modulo
// 2^256, so that it does not depend on their order.
type digest [4]uint64 // big-endian limbs

func (d *digest) add(line []byte) {
	h := sha256.Sum256(line)
	var carry uint64
	for i := 3; i >= 0; i-- {
		d[i], carry = bits.Add64(d[i], binary.BigEndian.Uint64(h[8*i:]), carry)
	}
}

func (d digest) String() string {
	var b [32]byte
	for i, x := range d {
		binary.BigEndian.PutUint64(b[8*i:], x)
	}
	return hex.EncodeToString(b[:])
}

// LatestLinkKeyID returns the id of the linkage key under which the latest stored
// records carry a link ("" when none does): the key a follow-up must be keyed under to
// link with them, which a restore checks the data directory holds.
func (db *DB) LatestLinkKeyID(ctx context.Context) (string, error) {
	var id string
	err := db.conn.QueryRow(ctx, "SELECT key_id FROM submissions WHERE link_id != '' ORDER BY received_at DESC LIMIT 1").Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("queries: latest link key: %w", err)
	}
	return id, nil
}
