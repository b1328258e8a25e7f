package queries

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Reading a backup back: checking it ([CheckBackup]) and restoring it ([DB.Restore]). The
// format is described in backup.go.

// rowSink receives the rows of one table of a backup being read.
type rowSink interface {
	add(values []any) error
	close() error // the table's rows are all there
	abort()       // reading failed
}

// CheckBackup reads a backup archive from r to its end and checks it: its structure, the
// types of every value, and every table's rows and checksum against the manifest. It
// writes nothing anywhere. Errors wrap [ErrBadBackup] for a damaged, incomplete or
// foreign file, and for an error of r (which decrypts the file, say) while reading it.
func CheckBackup(r io.Reader) (*BackupManifest, error) {
	return scanBackup(r, nil)
}

// scanBackup reads an archive to its end, calling sink (when not nil) for each table
// and handing it the table's rows, and checks everything against the manifest, which it
// returns.
func scanBackup(r io.Reader, sink func(t BackupTable) (rowSink, error)) (_ *BackupManifest, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, badBackup(err, "not gzip")
	}
	gz.Multistream(false)
	tr := tar.NewReader(gz)
	var out rowSink
	defer func() {
		if err != nil && out != nil {
			out.abort()
		}
	}()
	var (
		seen     []BackupTable // as read
		cur      *BackupTable
		types    []colType
		d        digest
		manifest *BackupManifest
	)
	endTable := func() error {
		if cur == nil {
			return nil
		}
		cur.Checksum = d.String()
		seen = append(seen, *cur)
		cur, d = nil, digest{}
		if out != nil {
			o := out
			out = nil
			return o.close()
		}
		return nil
	}
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badBackup(err, "")
		}
		if manifest != nil {
			return nil, badBackup(nil, "entry %s after the manifest", h.Name)
		}
		if h.Typeflag != tar.TypeReg || h.Size > maxEntryBytes {
			return nil, badBackup(nil, "unexpected entry %s", h.Name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, badBackup(err, "")
		}
		if i == 0 {
			var head struct {
				Format  string `json:"format"`
				Version int    `json:"version"`
			}
			if h.Name != backupHead || json.Unmarshal(data, &head) != nil || head.Format != BackupFormat {
				return nil, badBackup(nil, "no %s entry first", backupHead)
			}
			if head.Version != BackupVersion {
				return nil, badBackup(nil, "format version %d; this tamtam reads version %d", head.Version, BackupVersion)
			}
			continue
		}
		if h.Name == backupManifest {
			if err := endTable(); err != nil {
				return nil, err
			}
			manifest = new(BackupManifest)
			if err := json.Unmarshal(data, manifest); err != nil {
				return nil, badBackup(err, "manifest")
			}
			continue
		}
		e := tableEntry.FindStringSubmatch(h.Name)
		if e == nil {
			return nil, badBackup(nil, "unexpected entry %s", h.Name)
		}
		name, n := e[1], atoi(e[2])
		if cur == nil || cur.Name != name {
			if err := endTable(); err != nil {
				return nil, err
			}
			if n != 1 || slices.ContainsFunc(seen, func(t BackupTable) bool { return t.Name == name }) {
				return nil, badBackup(nil, "%s out of order", h.Name)
			}
			cur = &BackupTable{Name: name}
		} else if n != cur.Files+1 {
			return nil, badBackup(nil, "%s out of order", h.Name)
		}
		cur.Files = n
		body, err := readHeader(cur, &types, data)
		if err != nil {
			return nil, badBackup(nil, "%s: %v", h.Name, err)
		}
		if n == 1 && sink != nil {
			if out, err = sink(*cur); err != nil {
				return nil, err
			}
		}
		values := make([]any, len(types))
		for len(body) > 0 {
			end := bytes.IndexByte(body, '\n')
			if end < 0 {
				return nil, badBackup(nil, "%s: last line not ended", h.Name)
			}
			line := body[:end]
			body = body[end+1:]
			if err := parseLine(line, types, values); err != nil {
				return nil, badBackup(nil, "%s: row %d: %v", h.Name, cur.Rows+1, err)
			}
			d.add(line)
			cur.Rows++
			if out != nil {
				if err := out.add(values); err != nil {
					return nil, err
				}
			}
		}
	}
	// The end of the tar archive is not the end of the gzip stream, whose checksum comes
	// last: read it all, and nothing may follow it.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, badBackup(err, "")
	}
	if extra, err := br.Read(make([]byte, 1)); extra > 0 || err != io.EOF {
		if err != nil && err != io.EOF {
			return nil, badBackup(err, "")
		}
		return nil, badBackup(nil, "data after the end of the archive")
	}
	if manifest == nil {
		return nil, badBackup(nil, "no manifest: the file is cut short")
	}
	if err := manifest.matches(seen); err != nil {
		return nil, badBackup(nil, "%v", err)
	}
	return manifest, nil
}

// badBackup wraps a problem of the file in ErrBadBackup.
func badBackup(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch {
	case err != nil && msg != "":
		msg += ": " + err.Error()
	case err != nil:
		msg = err.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the file is cut short (" + msg + ")"
	}
	return fmt.Errorf("queries: %w: %s", ErrBadBackup, msg)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// readHeader checks the two header lines of a table file (the first file of a table
// sets the columns, the others must repeat them) and returns the rest.
func readHeader(t *BackupTable, types *[]colType, data []byte) ([]byte, error) {
	var lines [2][]string
	for i := range lines {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return nil, errors.New("no header")
		}
		for _, f := range bytes.Split(data[:end], []byte{'\t'}) {
			s, err := unescape(f)
			if err != nil {
				return nil, fmt.Errorf("header: %w", err)
			}
			lines[i] = append(lines[i], s)
		}
		data = data[end+1:]
	}
	names, typeNames := lines[0], lines[1]
	if len(names) != len(typeNames) {
		return nil, errors.New("header: as many names as types expected")
	}
	if t.Files > 1 {
		if len(names) != len(t.Columns) {
			return nil, errors.New("header differs from the table's first file")
		}
		for i, c := range t.Columns {
			if names[i] != c.Name || typeNames[i] != c.Type {
				return nil, errors.New("header differs from the table's first file")
			}
		}
		return data, nil
	}
	t.Columns, *types = nil, nil
	for i, n := range names {
		ct, err := parseColType(typeNames[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", n, err)
		}
		if !identifier.MatchString(n) {
			return nil, fmt.Errorf("column %q: not a column name", n)
		}
		t.Columns = append(t.Columns, BackupColumn{Name: n, Type: typeNames[i]})
		*types = append(*types, ct)
	}
	return data, nil
}

// parseLine parses the fields of a row into values.
func parseLine(line []byte, types []colType, values []any) error {
	for i, t := range types {
		end := bytes.IndexByte(line, '\t')
		last := i == len(types)-1
		switch {
		case last && end >= 0:
			return errors.New("more fields than columns")
		case !last && end < 0:
			return errors.New("fewer fields than columns")
		case last:
			end = len(line)
		}
		v, err := t.parseField(line[:end])
		if err != nil {
			return err
		}
		values[i] = v
		if !last {
			line = line[end+1:]
		}
	}
	return nil
}

// matches checks the tables read from a file against its manifest.
func (m *BackupManifest) matches(seen []BackupTable) error {
	if m.Format != BackupFormat || m.Version != BackupVersion {
		return fmt.Errorf("manifest of format %q version %d", m.Format, m.Version)
	}
	if len(seen) != len(m.Tables) {
		return fmt.Errorf("%d tables in the file, %d in the manifest", len(seen), len(m.Tables))
	}
	for i, want := range m.Tables {
		got := seen[i]
		switch {
		case got.Name != want.Name:
			return fmt.Errorf("table %s in the file where the manifest has %s", got.Name, want.Name)
		case !slices.Equal(got.Columns, want.Columns):
			return fmt.Errorf("table %s: columns differ from the manifest's", got.Name)
		case got.Rows != want.Rows || got.Files != want.Files:
			return fmt.Errorf("table %s: %d rows in %d files, the manifest says %d in %d", got.Name, got.Rows, got.Files, want.Rows, want.Files)
		case got.Checksum != want.Checksum:
			return fmt.Errorf("table %s: checksum %s, the manifest says %s", got.Name, got.Checksum, want.Checksum)
		}
	}
	return nil
}

// Restore loads the backup read from r into the store, which must be empty (migrated,
// no rows), then reads every table back and checks its rows and checksum against the
// manifest. want is the manifest [CheckBackup] returned for the same file: call it first,
// so that a damaged file is refused before anything is written.
//
// Nothing is written when the store is not empty ([ErrNotEmpty]), was made with another
// schema ([ErrSchemaMismatch]), or lacks a table or column of the backup. A failure once
// rows are being written wraps [ErrPartlyRestored].
func (db *DB) Restore(ctx context.Context, r io.Reader, want *BackupManifest) error {
	targets, err := db.checkRestoreTarget(ctx, want)
	if err != nil {
		return fmt.Errorf("queries: restore: %w", err)
	}
	// The definitions' fingerprints an earlier start (tamtam migrate) recorded describe
	// no record: the backup's replace them, and the next start checks the definitions
	// against those (a definition changed since the backup is then refused, as it would
	// have been in the store backed up).
	var recorded uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM questionnaire_fingerprints").Scan(&recorded); err != nil {
		return fmt.Errorf("queries: restore: %w", err)
	}
	if recorded > 0 {
		if err := db.onLeaders(ctx, "questionnaire_fingerprints", "TRUNCATE TABLE questionnaire_fingerprints"); err != nil {
			return fmt.Errorf("queries: restore: %w", notAllowed(err))
		}
	}
	got, err := scanBackup(r, func(t BackupTable) (rowSink, error) {
		return db.newInserter(ctx, t)
	})
	if err != nil {
		return fmt.Errorf("queries: restore: %w: %w", ErrPartlyRestored, err)
	}
	if err := got.matches(want.Tables); err != nil {
		return fmt.Errorf("queries: restore: %w: the file changed since it was checked: %w", ErrPartlyRestored, err)
	}
	// On a cluster the rows are read back from any replica: each first catches up.
	if err := db.SyncReplicas(ctx); err != nil {
		return fmt.Errorf("queries: restore: %w: %w", ErrPartlyRestored, err)
	}
	for _, t := range want.Tables {
		var d digest
		rows, err := db.readTable(ctx, targets[t.Name], func(line []byte) error {
			d.add(line)
			return nil
		})
		if err != nil {
			return fmt.Errorf("queries: restore: %w: read %s back: %w", ErrPartlyRestored, t.Name, err)
		}
		if rows != t.Rows || d.String() != t.Checksum {
			return fmt.Errorf("queries: restore: %w: table %s holds %d rows (checksum %s) after the restore, the backup %d (%s)",
				ErrPartlyRestored, t.Name, rows, d.String(), t.Rows, t.Checksum)
		}
	}
	return nil
}

// checkRestoreTarget checks that the store can take the backup: the same migrations, every
// table and column of the backup, and no rows in any table a backup holds (those it
// recreates, the fingerprints, aside). It returns the tables to read back, by name.
func (db *DB) checkRestoreTarget(ctx context.Context, m *BackupManifest) (map[string]backupSource, error) {
	schema, err := db.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(schema, m.Schema) {
		return nil, fmt.Errorf("%w: the backup's last migration is %s, this store's %s: restore with the version of tamtam that made the backup, then upgrade",
			ErrSchemaMismatch, lastOf(m.Schema), lastOf(schema))
	}
	sources, _, err := db.backupSources(ctx)
	if err != nil {
		return nil, err
	}
	targets := map[string]backupSource{}
	for _, s := range sources {
		targets[s.Name] = s
		if s.Name == "questionnaire_fingerprints" {
			continue
		}
		var n uint64
		if err := db.conn.QueryRow(ctx, "SELECT count() FROM `"+s.Name+"`").Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("%w: table %s holds %d rows", ErrNotEmpty, s.Name, n)
		}
	}
	var sessions uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM sessions").Scan(&sessions); err != nil {
		return nil, err
	}
	if sessions > 0 {
		return nil, fmt.Errorf("%w: table sessions holds %d rows", ErrNotEmpty, sessions)
	}
	for _, t := range m.Tables {
		s, ok := targets[t.Name]
		if !ok {
			return nil, fmt.Errorf("%w: the store has no table %s", ErrSchemaMismatch, t.Name)
		}
		for _, c := range t.Columns {
			if !slices.Contains(s.Columns, c) {
				return nil, fmt.Errorf("%w: table %s has no column %s %s", ErrSchemaMismatch, t.Name, c.Name, c.Type)
			}
		}
		// Read back with the backup's columns, in its order, to compare checksums.
		s.Columns, s.types = t.Columns, nil
		for _, c := range t.Columns {
			ct, err := parseColType(c.Type)
			if err != nil {
				return nil, err
			}
			s.types = append(s.types, ct)
		}
		targets[t.Name] = s
	}
	return targets, nil
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[len(s)-1]
}

// inserter sends the rows of one table to ClickHouse in blocks, through a batch with
// the backup's column list.
type inserter struct {
	batch driver.Batch
	block int
}

func (db *DB) newInserter(ctx context.Context, t BackupTable) (rowSink, error) {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = "`" + c.Name + "`"
	}
	query := "INSERT INTO `" + t.Name + "` (" + strings.Join(names, ", ") + ")"
	b, err := db.conn.PrepareBatch(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("insert into %s: %w", t.Name, err)
	}
	return &inserter{batch: b}, nil
}

func (in *inserter) add(values []any) error {
	if err := in.batch.Append(values...); err != nil {
		return err
	}
	if in.block++; in.block == restoreBlock {
		in.block = 0
		return in.batch.Flush()
	}
	return nil
}

func (in *inserter) close() error {
	defer in.batch.Close()
	return in.batch.Send()
}

func (in *inserter) abort() {
	in.batch.Abort()
	in.batch.Close()
}
