package queries_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// backupStore fills a store with a bit of everything a backup must carry: two years of
// questionnaires, a record with every byte a text format could get wrong, a re-keyed
// record (two rows of one id, the later one current), tokens (one revoked), the audit
// log and a release.
func backupStore(t *testing.T, db *queries.DB) *reports.Release {
	t.Helper()
	ctx := t.Context()
	demoData(t, db, 2024, 60)
	demoData(t, db, 2025, 300)
	odd := record("00000000-0000-4000-8000-0000000000dd", "fp-odd")
	odd.Answers = append(odd.Answers, collector.StoredAnswer{Item: "x.odd", Value: "tab\there\nnew line 'q' \\ [a,b] \xff\x00"})
	odd.LinkID = "old-link"
	if err := db.InsertRecords(ctx, []collector.Record{odd}); err != nil {
		t.Fatal(err)
	}
	odd.LinkID, odd.KeyID = "new-link", "k2" // the re-keyed row: same id and receipt day
	if err := db.InsertRecords(ctx, []collector.Record{odd}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, role := range []collector.Role{collector.RoleIntake, collector.RoleFunder} {
		tok := collector.Token{Hash: strings.Repeat(string(rune('a'+i)), 64), Role: role, Sites: []string{"haren"},
			Label: "équipe\tHaren", CreatedAt: now, ExpiresAt: now.AddDate(1, 0, 0)}
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeToken(ctx, strings.Repeat("a", 64), now); err != nil {
		t.Fatal(err)
	}
	if err := db.Audit(ctx, collector.AuditEvent{At: now, Actor: "cli", Role: "operator", Action: "test", Detail: "d", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := disclosure.NewPolicy(disclosure.DefaultConfig())
	r, _, err := reports.NewPublisher(db, db, cat).Make(ctx, reports.MakeOptions{Year: 2025, Policy: pol,
		Sites: []string{"haren", "jamioulx", "lantin", "mons", "antwerpen", "gent", "brugge", "hasselt", "andenne",
			"namur", "leuven-hulp", "mechelen", "dinant"}, Actor: "cli", Role: "operator", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBackupRestore(t *testing.T) {
	queries.SmallChunks(t, 16<<10) // tables span several files
	ctx := t.Context()
	src := chtest.NewDB(t)
	release := backupStore(t, src)
	var file bytes.Buffer
	m, err := src.Backup(ctx, &file, queries.BackupOptions{})
	if err != nil {
		t.Fatalf("Backup = %v", err)
	}

	// Every table of the store is in the backup or deliberately left out.
	tables, err := src.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var covered []string
	for _, tb := range m.Tables {
		covered = append(covered, tb.Name)
	}
	covered = append(covered, m.LeftOut...)
	slices.Sort(covered)
	if !slices.Equal(covered, tables) {
		t.Errorf("backup tables %v + left out %v, store tables %v", m.Tables, m.LeftOut, tables)
	}
	for _, name := range []string{"sessions", "schema_migrations", "import_leases", "release_leases"} {
		if !slices.Contains(m.LeftOut, name) {
			t.Errorf("left out %v, want %s among them", m.LeftOut, name)
		}
	}
	want := map[string]string{ // the rows the backup must hold, counted by ClickHouse
		"submissions":   "SELECT count() FROM submissions FINAL",
		"tokens":        "SELECT count() FROM tokens FINAL",
		"audit_log":     "SELECT count() FROM audit_log",
		"release_cells": "SELECT count() FROM release_cells FINAL",
	}
	for _, tb := range m.Tables {
		if q, ok := want[tb.Name]; ok {
			n, err := src.Count(ctx, q)
			if err != nil || uint64(n) != tb.Rows || n == 0 {
				t.Errorf("%s: %d rows in the backup, %d (%v) in the store", tb.Name, tb.Rows, n, err)
			}
		}
		if tb.Name == "submissions" && (!tb.Final || tb.Files < 2) {
			t.Errorf("submissions in the backup: %+v; want it read through FINAL, in several files", tb)
		}
	}

	checked, err := queries.CheckBackup(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatalf("CheckBackup = %v", err)
	}
	dst := chtest.NewDB(t)
	// What a start before the restore records (tamtam migrate) is replaced.
	if err := dst.Exec(ctx, "INSERT INTO questionnaire_fingerprints (questionnaire, version, sha256, recorded) SELECT 'entry', 1, 'stale', 1"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(ctx, bytes.NewReader(file.Bytes()), checked); err != nil {
		t.Fatalf("Restore = %v", err)
	}
	for _, q := range []string{
		"SELECT count() FROM submissions FINAL",
		"SELECT count() FROM submissions FINAL WHERE link_id = 'new-link' AND has(answer_value, 'tab\\there\\nnew line \\'q\\' \\\\ [a,b] \\xFF\\0')",
		"SELECT count() FROM tokens FINAL WHERE revoked = 1", "SELECT count() FROM token_expiry",
		"SELECT count() FROM audit_log",
	} {
		a, errA := src.Count(ctx, q)
		b, errB := dst.Count(ctx, q)
		if a != b || a == 0 || errA != nil || errB != nil {
			t.Errorf("%s: %d (%v) in the store backed up, %d (%v) in the restored one", q, a, errA, b, errB)
		}
	}
	if n, _ := dst.Count(ctx, "SELECT count() FROM questionnaire_fingerprints WHERE sha256 = 'stale'"); n != 0 {
		t.Errorf("the fingerprint recorded before the restore is still there")
	}
	if n, _ := dst.Count(ctx, "SELECT count() FROM submissions WHERE link_id = 'new-link'"); n != 1 {
		t.Errorf("the re-keyed record: %d current rows restored, want 1", n)
	}
	infos, err := dst.ListReleases(ctx, 2025)
	if err != nil || len(infos) != 1 || infos[0].ID != release.ID || infos[0].CellsSHA256 != release.Info().CellsSHA256 {
		t.Errorf("restored releases = %+v, %v; want %s", infos, err, release.ID)
	}
	if _, err := dst.LoadRelease(ctx, release.ID); err != nil {
		t.Errorf("LoadRelease(%s) in the restored store = %v", release.ID, err)
	}

	// A second restore finds rows and writes nothing.
	before, _ := dst.Count(ctx, "SELECT count() FROM submissions")
	if err := dst.Restore(ctx, bytes.NewReader(file.Bytes()), checked); !errors.Is(err, queries.ErrNotEmpty) {
		t.Errorf("Restore into a store with rows = %v, want ErrNotEmpty", err)
	}
	if after, _ := dst.Count(ctx, "SELECT count() FROM submissions"); after != before {
		t.Errorf("refused restore changed submissions from %d to %d rows", before, after)
	}

	// A store of another schema is refused before anything is written.
	other := chtest.NewDB(t)
	if err := other.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) SELECT 9999, '9999_later.sql', now()"); err != nil {
		t.Fatal(err)
	}
	if err := other.Restore(ctx, bytes.NewReader(file.Bytes()), checked); !errors.Is(err, queries.ErrSchemaMismatch) {
		t.Errorf("Restore into another schema = %v, want ErrSchemaMismatch", err)
	}
	if n, _ := other.Count(ctx, "SELECT count() FROM submissions"); n != 0 {
		t.Errorf("refused restore wrote %d submissions", n)
	}
}

// TestBackupDamaged: a file cut short, flipped, extended, foreign, or whose rows do not
// match its manifest is refused by CheckBackup.
func TestBackupDamaged(t *testing.T) {
	queries.SmallChunks(t, 16<<10)
	ctx := t.Context()
	db := chtest.NewDB(t)
	demoData(t, db, 2025, 100)
	var file bytes.Buffer
	if _, err := db.Backup(ctx, &file, queries.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	good := file.Bytes()
	flip := func(at int) []byte {
		b := slices.Clone(good)
		b[at] ^= 0x20
		return b
	}
	cases := map[string][]byte{
		"empty":           nil,
		"not gzip":        []byte("PK\x03\x04 a zip, or anything else"),
		"cut at 10%":      good[:len(good)/10],
		"cut at 90%":      good[:len(good)*9/10],
		"cut by 1 byte":   good[:len(good)-1],
		"cut by 9 bytes":  good[:len(good)-9],
		"flipped at 30%":  flip(len(good) * 3 / 10),
		"flipped at 70%":  flip(len(good) * 7 / 10),
		"flipped CRC":     flip(len(good) - 6),
		"data after":      append(slices.Clone(good), "more"...),
		"a row changed":   rewrite(t, good, "tables/submissions/000002.tsv", func(b []byte) []byte { return bytes.Replace(b, []byte("haren"), []byte("lantin"), 1) }),
		"a row dropped":   rewrite(t, good, "tables/submissions/000001.tsv", func(b []byte) []byte { return b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1] }),
		"a file dropped":  rewrite(t, good, "tables/submissions/000002.tsv", func([]byte) []byte { return nil }),
		"no manifest":     rewrite(t, good, "manifest.json", func([]byte) []byte { return nil }),
		"no head":         rewrite(t, good, "BACKUP", func([]byte) []byte { return nil }),
		"later version":   rewrite(t, good, "BACKUP", func([]byte) []byte { return []byte(`{"format":"tamtam-backup","version":2}`) }),
		"bad value":       rewrite(t, good, "tables/submissions/000001.tsv", func(b []byte) []byte { return bytes.Replace(b, []byte("\t2025\t"), []byte("\t20x5\t"), 1) }),
		"manifest edited": rewrite(t, good, "manifest.json", func(b []byte) []byte { return bytes.Replace(b, []byte(`"rows": `), []byte(`"rows": 1`), 1) }),
	}
	for name, data := range cases {
		_, err := queries.CheckBackup(bytes.NewReader(data))
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, queries.ErrBadBackup) {
			t.Errorf("%s: CheckBackup = %v, want ErrBadBackup", name, err)
		}
	}
	if _, err := queries.CheckBackup(bytes.NewReader(good)); err != nil {
		t.Errorf("CheckBackup(the file itself) = %v", err)
	}
}

// rewrite returns the archive with one entry changed by fn (nil drops it), compressed
// again, so that only what fn did is wrong with it.
func rewrite(t *testing.T, archive []byte, name string, fn func([]byte) []byte) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == name {
			found = true
			if data = fn(data); data == nil {
				continue
			}
		}
		h.Size = int64(len(data))
		tw.WriteHeader(h)
		tw.Write(data)
	}
	if !found {
		t.Fatalf("no entry %s in the archive", name)
	}
	tw.Close()
	gw.Close()
	return out.Bytes()
}

// TestBackupAndImports: an import is in a backup whole or not at all. A commit a crash
// left half done is completed first; a commit made while submissions is read makes the
// backup fail, to be started again.
func TestBackupAndImports(t *testing.T) {
	ctx := t.Context()
	db := chtest.NewDB(t)
	st, err := db.Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Add(ctx, stagedRecords(10)); err != nil {
		t.Fatal(err)
	}
	if err := st.CrashDuringCommit(ctx, "2024"); err != nil { // 2024 moved, 2025 not
		t.Fatal(err)
	}
	// Seen from a clock past the lease, the crashed commit is completed before the read.
	later, err := queries.Open(ctx, chtest.Endpoint(), db.Database(), queries.Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer later.Close()
	m, err := later.Backup(ctx, io.Discard, queries.BackupOptions{})
	if err != nil {
		t.Fatalf("Backup with a crashed commit = %v", err)
	}
	if rows := tableRows(m, "submissions"); rows != 10 {
		t.Errorf("backup holds %d submissions, want the crashed import's 10", rows)
	}

	queries.AfterBackupRead(t, func(table string) {
		if table != "submissions" {
			return
		}
		st, err := db.Stage(context.Background())
		if err == nil {
			err = st.Add(context.Background(), []collector.Record{record("00000000-0000-4000-8000-000000000777", "fp")})
		}
		if err == nil {
			err = st.Commit(context.Background())
		}
		if err != nil {
			t.Errorf("import during the backup: %v", err)
		}
	})
	if _, err := db.Backup(ctx, io.Discard, queries.BackupOptions{}); !errors.Is(err, queries.ErrBackupInterrupted) {
		t.Errorf("Backup with an import committed meanwhile = %v, want ErrBackupInterrupted", err)
	}
}

func tableRows(m *queries.BackupManifest, name string) uint64 {
	for _, tb := range m.Tables {
		if tb.Name == name {
			return tb.Rows
		}
	}
	return 0
}

func TestPurgeYears(t *testing.T) {
	ctx := t.Context()
	db := chtest.NewDB(t)
	recs := stagedRecords(9) // 2024, 2025, 2024, …
	if err := db.InsertRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	years, err := db.YearsBefore(ctx, 2025)
	if err != nil || len(years) != 1 || years[0] != (queries.YearCount{Year: 2024, Questionnaires: 5}) {
		t.Fatalf("YearsBefore(2025) = %+v, %v; want 2024 with 5", years, err)
	}
	if err := db.DropYear(ctx, 2024); err != nil {
		t.Fatalf("DropYear(2024) = %v", err)
	}
	if err := db.DropYear(ctx, 2019); err != nil { // nothing there
		t.Errorf("DropYear(2019) = %v", err)
	}
	got, _ := db.Count(ctx, "SELECT count() FROM submissions WHERE year = 2024")
	kept, _ := db.Count(ctx, "SELECT count() FROM submissions WHERE year = 2025")
	if got != 0 || kept != 4 {
		t.Errorf("after DropYear(2024): %d rows of 2024, %d of 2025; want 0 and 4", got, kept)
	}
	if years, _ := db.YearsBefore(ctx, 2030); len(years) != 1 || years[0].Year != 2025 {
		t.Errorf("YearsBefore(2030) = %+v, want 2025 only", years)
	}
}
