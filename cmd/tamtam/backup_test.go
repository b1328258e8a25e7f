package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/spool"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// store is a data directory and a database of the test ClickHouse, for commands run
// against a store other than a testEnv's (the target of a restore).
type store struct {
	t        *testing.T
	data     string
	database string
}

func newStore(t *testing.T) store {
	return store{t: t, data: t.TempDir(), database: chtest.NewDatabase(t)}
}

func (s store) cli(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data", s.data, "--clickhouse", clickhouseURL(s.database))
	code = run(s.t.Context(), args, &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

// exists reports whether the store's database was created at all.
func (s store) exists() bool {
	return clickhouseClient(s.t, "default", "SELECT count() FROM system.databases WHERE name = '"+s.database+"'") == "1"
}

// dump returns the rows of a table, sorted, as clickhouse-client prints them: a reader
// independent of the backup's own code.
func dump(t *testing.T, database, table string, final bool) []string {
	t.Helper()
	q := "SELECT * FROM " + table
	if final {
		q += " FINAL"
	}
	rows := strings.Split(clickhouseClient(t, database, q+" FORMAT TabSeparated"), "\n")
	slices.Sort(rows)
	return rows
}

// unpack returns the tar stream inside a backup (decrypted with id when given) and its
// manifest.
func unpack(t *testing.T, path string, id age.Identity) ([]byte, queries.BackupManifest) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if id != nil {
		if r, err = age.Decrypt(f, id); err != nil {
			t.Fatalf("age.Decrypt(%s) = %v", path, err)
		}
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	stream, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	var m queries.BackupManifest
	tr := tar.NewReader(bytes.NewReader(stream))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			data, _ := io.ReadAll(tr)
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
		}
	}
	return stream, m
}

// TestBackupRestore backs up a store with demo data and a release, plain and encrypted,
// restores both into fresh stores, and checks that the tables are the same (read by
// clickhouse-client), that the release renders to the same bytes, that no key is in the
// backup, and that a store with rows, a damaged file and a wrong key are refused with
// nothing written.
func TestBackupRestore(t *testing.T) {
	e := newTestEnv(t)
	if code, _, stderr := e.cli("demo", "--year", "2025", "--n", "400"); code != 0 {
		t.Fatalf("demo = exit %d: %s", code, stderr)
	}
	code, stdout, stderr := e.cli("release", "--year", "2025")
	if code != 0 {
		t.Fatalf("release = exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	release := lines[len(lines)-1]
	reportOf := func(cli func(...string) (int, string, string)) string {
		t.Helper()
		dir := t.TempDir()
		if code, out, stderr := cli("report", "--year", "2025", "--release", release, "--out", dir); code != 0 {
			t.Fatalf("report = exit %d: %s %s", code, out, stderr)
		}
		return dir
	}
	before := reportOf(e.cli)

	dir := t.TempDir()
	plain, sealed := filepath.Join(dir, "plain.tamtam"), filepath.Join(dir, "sealed.tamtam")
	if code, out, stderr := e.cli("backup", "--out", plain); code != 0 || !strings.Contains(stderr, "not encrypted") || !strings.Contains(out, "submissions") {
		t.Fatalf("backup = exit %d, %q, %q; want a backup and a warning that it is not encrypted", code, out, stderr)
	}
	if code, _, stderr := e.cli("backup", "--out", plain); code != 2 || !strings.Contains(stderr, "already exists") {
		t.Errorf("backup over an existing file = exit %d, %q; want a usage error", code, stderr)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := e.cli("backup", "--out", sealed, "--recipient", id.String()); code != 2 || strings.Contains(stderr, id.String()) {
		t.Errorf("backup --recipient SECRET = exit %d, %q; want a usage error that does not repeat the key", code, stderr)
	}
	if code, out, stderr := e.cli("backup", "--out", sealed, "--recipient", id.Recipient().String()); code != 0 || strings.Contains(stderr, "not encrypted") {
		t.Fatalf("backup --recipient = exit %d, %q, %q", code, out, stderr)
	}
	for _, f := range []string{plain, sealed} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want readable by its owner only", f, err, fi.Mode().Perm())
		}
	}
	if raw, _ := os.ReadFile(sealed); !bytes.HasPrefix(raw, []byte("age-encryption.org/v1\n")) {
		t.Errorf("the encrypted backup does not start with an age header: %.40q", raw)
	}
	keyFile := filepath.Join(t.TempDir(), "backup.key")
	if err := os.WriteFile(keyFile, []byte("# backup key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// No key material in either backup: not the linkage keys, not the session key, in
	// any of the encodings a file might hold them in.
	var secrets [][]byte
	keyFiles, _ := filepath.Glob(filepath.Join(e.cfg.Data, "keys", "*.key"))
	keyFiles = append(keyFiles, filepath.Join(e.cfg.Data, "session.key"))
	for _, p := range keyFiles {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.TrimSpace(raw)
		secrets = append(secrets, raw, []byte(hex.EncodeToString(raw)), []byte(base64.StdEncoding.EncodeToString(raw)))
		if b, err := hex.DecodeString(string(raw)); err == nil {
			secrets = append(secrets, b)
		}
	}
	if len(keyFiles) < 2 {
		t.Fatalf("key files %v: want the linkage key and the session key", keyFiles)
	}
	plainStream, m := unpack(t, plain, nil)
	sealedStream, m2 := unpack(t, sealed, id)
	for _, s := range secrets {
		if bytes.Contains(plainStream, s) || bytes.Contains(sealedStream, s) {
			t.Errorf("a backup holds key material (%d bytes of a key file)", len(s))
		}
	}
	if !slices.Contains(m.LeftOut, "sessions") || len(m.Tables) != len(m2.Tables) {
		t.Errorf("manifest: tables %d and %d, left out %v", len(m.Tables), len(m2.Tables), m.LeftOut)
	}

	// Restore each into a fresh store: the plain one without the key directory, the
	// encrypted one with the offline copy of it put back first.
	restored := map[string]store{}
	for name, args := range map[string][]string{
		"plain":  {"restore", plain},
		"sealed": {"restore", sealed, "--identity", keyFile},
	} {
		s := newStore(t)
		keys := filepath.Join(s.data, "keys")
		if name == "sealed" {
			if err := os.CopyFS(keys, os.DirFS(filepath.Join(e.cfg.Data, "keys"))); err != nil {
				t.Fatal(err)
			}
			copied, _ := filepath.Glob(filepath.Join(keys, "*"))
			for _, f := range copied {
				os.Chmod(f, 0o600) // as cp -a keeps them
			}
		}
		code, out, stderr := s.cli(args...)
		if code != 0 || !strings.Contains(out, "counts and checksums verified") {
			t.Fatalf("%s: restore = exit %d, %q, %q", name, code, out, stderr)
		}
		if missing := strings.Contains(stderr, "which "+keys+" does not hold"); missing != (name == "plain") || !missing && !strings.Contains(out, "is in "+keys) {
			t.Errorf("%s: restore = %q, %q; want it to say whether %s holds the linkage key", name, out, stderr, keys)
		}
		restored[name] = s
	}
	// The tables, as clickhouse-client reads them: the same rows. In the audit log, a
	// backup's own event is written once it is made (the second backup holds the
	// first's), and the restore's in the restored store.
	src := e.database
	for _, tb := range m.Tables {
		want := dump(t, src, tb.Name, tb.Final)
		for name, s := range restored {
			got := dump(t, s.database, tb.Name, tb.Final)
			if tb.Name == "audit_log" {
				ours := func(r string) bool { return strings.Contains(r, "\trestore\t") || strings.Contains(r, "\tbackup\t") }
				for _, r := range got {
					if strings.Contains(r, "\tbackup\t") && !slices.Contains(want, r) {
						t.Errorf("%s: audit_log restored has a backup event the store backed up has not: %s", name, r)
					}
				}
				got, want := slices.DeleteFunc(got, ours), slices.DeleteFunc(slices.Clone(want), ours)
				if !slices.Equal(got, want) || len(got) == 0 {
					t.Errorf("%s: audit_log restored differs:\n%v\nwant\n%v", name, got, want)
				}
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: table %s restored has %d rows, differing from the %d backed up", name, tb.Name, len(got), len(want))
			}
		}
	}
	// The release renders to the same bytes from the restored store.
	after := reportOf(restored["sealed"].cli)
	for _, f := range []string{"figures.csv", "figures.xlsx"} {
		a, errA := os.ReadFile(filepath.Join(before, f))
		b, errB := os.ReadFile(filepath.Join(after, f))
		if errA != nil || errB != nil || len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s of release %s differs after the restore (%v, %v)", f, release, errA, errB)
		}
	}

	// Refusals, each leaving the store as it was.
	s := restored["plain"]
	rows := clickhouseClient(t, s.database, "SELECT count() FROM submissions")
	if code, _, stderr := s.cli("restore", plain); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("restore into a store with rows = exit %d, %q", code, stderr)
	}
	if got := clickhouseClient(t, s.database, "SELECT count() FROM submissions"); got != rows {
		t.Errorf("refused restore: submissions %s rows, was %s", got, rows)
	}
	good, _ := os.ReadFile(plain)
	sealedRaw, _ := os.ReadFile(sealed)
	damaged := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 1
	sealedFlipped := slices.Clone(sealedRaw)
	sealedFlipped[len(sealedFlipped)*2/3] ^= 1
	other, _ := age.GenerateX25519Identity()
	otherKey := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(otherKey, []byte(other.String()+"\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"flipped byte", []string{"restore", damaged("flipped.tamtam", flipped)}, 1, "not a complete, undamaged"},
		{"cut short", []string{"restore", damaged("cut.tamtam", good[:len(good)*3/4])}, 1, "not a complete, undamaged"},
		{"encrypted, flipped byte", []string{"restore", damaged("sealed-flipped.tamtam", sealedFlipped), "--identity", keyFile}, 1, "not a complete, undamaged"},
		{"encrypted, cut short", []string{"restore", damaged("sealed-cut.tamtam", sealedRaw[:len(sealedRaw)-100]), "--identity", keyFile}, 1, "not a complete, undamaged"},
		{"wrong identity", []string{"restore", sealed, "--identity", otherKey}, 1, "does not open"},
		{"no identity", []string{"restore", sealed}, 2, "--identity"},
		{"not a backup", []string{"restore", keyFile}, 1, "not a complete, undamaged"},
	} {
		fresh := newStore(t)
		code, _, stderr := fresh.cli(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.says) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: restore = exit %d, %q; want exit %d and one line saying %q", tc.name, code, stderr, tc.code, tc.says)
		}
		if fresh.exists() {
			t.Errorf("%s: the refused restore created database %s", tc.name, fresh.database)
		}
	}
	if code, out, stderr := e.cli("restore", sealed, "--identity", keyFile, "--check"); code != 0 || !strings.Contains(out, "complete, undamaged backup") {
		t.Errorf("restore --check = exit %d, %q, %q", code, out, stderr)
	}
	if got := e.sql("SELECT countIf(action = 'backup' AND outcome = 'ok') FROM audit_log"); got != "2" {
		t.Errorf("audit log: %s backups, want the two made", got)
	}
	if got := clickhouseClient(t, s.database, "SELECT count() FROM audit_log WHERE action = 'restore' AND outcome = 'ok'"); got != "1" {
		t.Errorf("restored store's audit log: %s restores, want 1", got)
	}
}

// TestBackupWhileServing: submissions a server has acknowledged (in its spool, not yet
// in ClickHouse) are in a backup made right after; and the spool a stopped server left
// is stored before the backup is read.
func TestBackupWhileServing(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.Spool, c.SpoolMaxBytes = true, 64<<20 })
	tok := e.token("intake", "haren")
	const n = 40
	for i := range n {
		if r := e.post("/api/v1/submissions", tok, entry(uuidN(i+1))); r.status != http.StatusCreated {
			t.Fatalf("POST = %d %s", r.status, r.raw)
		}
	}
	p, _ := spool.Peek(filepath.Join(e.cfg.Data, "spool"))
	out := filepath.Join(t.TempDir(), "serving.tamtam")
	code, _, stderr := e.cli("backup", "--out", out)
	if code != 0 {
		t.Fatalf("backup = exit %d: %s", code, stderr)
	}
	t.Logf("spool when the backup started: %+v; the backup said %q", p, stderr)
	if _, m := unpack(t, out, nil); m.Tables == nil || backupRows(m, "submissions") != n {
		t.Errorf("backup made while serving holds %d submissions, want the %d acknowledged", backupRows(m, "submissions"), n)
	}

	// A spool left behind by a server that stopped before storing it.
	s := newStore(t)
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(s.data, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		rec := collector.Record{SubmissionID: uuidN(900 + i), Questionnaire: "entry", Version: 1, Site: "haren", Month: "2025-03",
			Year: 2025, Consent: true, Fingerprint: "fp", Answers: []collector.StoredAnswer{{Item: "meta.consent", Value: "1"}}}
		data, _ := json.Marshal(rec)
		if _, err := sp.Append(t.Context(), data); err != nil {
			t.Fatal(err)
		}
	}
	sp.Close()
	out = filepath.Join(t.TempDir(), "left.tamtam")
	if code, _, stderr := s.cli("backup", "--out", out); code != 0 || !strings.Contains(stderr, "no server runs") {
		t.Fatalf("backup beside a spool left behind = exit %d, %q", code, stderr)
	}
	if _, m := unpack(t, out, nil); backupRows(m, "submissions") != 3 {
		t.Errorf("backup holds %d submissions, want the 3 of the spool", backupRows(m, "submissions"))
	}
	if p, _ := spool.Peek(filepath.Join(s.data, "spool")); p.Pending() {
		t.Errorf("spool after the backup: %+v, want everything stored", p)
	}
}

func backupRows(m queries.BackupManifest, table string) uint64 {
	for _, t := range m.Tables {
		if t.Name == table {
			return t.Rows
		}
	}
	return 0
}

// TestPurge drops 2024 and keeps 2025; the plan comes first, and nothing is dropped
// without --yes; the purge is audited; the release of 2024 stays listed and renders the
// same figures.
func TestPurge(t *testing.T) {
	e := newTestEnv(t)
	for _, y := range []string{"2024", "2025"} {
		if code, _, stderr := e.cli("demo", "--year", y, "--n", "150"); code != 0 {
			t.Fatalf("demo %s = exit %d: %s", y, code, stderr)
		}
	}
	code, stdout, stderr := e.cli("release", "--year", "2024")
	if code != 0 {
		t.Fatalf("release = exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	release := lines[len(lines)-1]
	report := func() string {
		t.Helper()
		dir := t.TempDir()
		if code, out, stderr := e.cli("report", "--year", "2024", "--release", release, "--out", dir); code != 0 {
			t.Fatalf("report of %s = exit %d: %s %s", release, code, out, stderr)
		}
		return dir
	}
	before := report()
	counts := func() string {
		return e.sql("SELECT countIf(year = 2024), countIf(year = 2025) FROM submissions FINAL")
	}
	start := counts()
	n2024, _, _ := strings.Cut(start, "\t")

	code, out, stderr := e.cli("purge", "--before", "2025")
	if code != 2 || !strings.Contains(out, "2024: "+n2024+" questionnaires") || !strings.Contains(out, release) || !strings.Contains(stderr, "--yes") {
		t.Errorf("purge without --yes = exit %d, %q, %q; want the plan (2024, %s questionnaires, release %s) and a usage error naming --yes", code, out, stderr, n2024, release)
	}
	if got := counts(); got != start {
		t.Errorf("purge without --yes changed the store: %s, was %s", got, start)
	}
	if code, _, stderr := e.cli("purge", "--before", "2099", "--yes"); code != 2 {
		t.Errorf("purge --before 2099 = exit %d, %q; want a usage error (a future year)", code, stderr)
	}
	code, out, stderr = e.cli("purge", "--before", "2025", "--yes")
	if code != 0 || !strings.Contains(out, "2024 dropped") {
		t.Fatalf("purge --yes = exit %d, %q, %q", code, out, stderr)
	}
	_, n2025, _ := strings.Cut(start, "\t")
	if got := counts(); got != "0\t"+n2025 {
		t.Errorf("after the purge: %s questionnaires of 2024 and 2025, want 0 and %s", got, n2025)
	}
	if got := e.sql("SELECT count(), any(outcome), any(detail) FROM audit_log WHERE action = 'purge'"); !strings.HasPrefix(got, "1\tok\tbefore 2025: dropped 2024 ("+n2024) {
		t.Errorf("audit log of the purge = %q", got)
	}
	if code, out, _ := e.cli("purge", "--before", "2025"); code != 0 || !strings.Contains(out, "nothing to purge") {
		t.Errorf("purge again = exit %d, %q; want nothing to purge", code, out)
	}
	if code, out, stderr := e.cli("release", "list", "--year", "2024"); code != 0 || !strings.Contains(out, release) {
		t.Errorf("release list after the purge = exit %d, %q, %q; want %s", code, out, stderr, release)
	}
	after := report()
	for _, f := range []string{"figures.csv", "figures.xlsx"} {
		a, errA := os.ReadFile(filepath.Join(before, f))
		b, errB := os.ReadFile(filepath.Join(after, f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s of release %s differs after the purge (%v, %v)", f, release, errA, errB)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(before, "figures.csv"))
	if r := e.do(http.MethodGet, "/api/v1/reports/2024.csv", e.token("coordinator"), "", nil); r.status != http.StatusOK || r.raw != string(csv) {
		t.Errorf("GET /api/v1/reports/2024.csv after the purge = %d, %d bytes; want the release's %d", r.status, len(r.raw), len(csv))
	}
	if code, _, stderr := e.cli("release", "--year", "2024"); code != 1 || !strings.Contains(stderr, "no questionnaire of 2024") {
		t.Errorf("a new release of the purged year = exit %d, %q; want no data", code, stderr)
	}
}
