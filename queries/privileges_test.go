package queries_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
)

// privilegeServer starts a private clickhouse-server whose only users are those of
// testdata/privileges/tamtam-users.xml, the file the README tells operators to install,
// with the passwords "admin-pw", "ingest-pw" and "reports-pw". It returns the address.
func privilegeServer(t *testing.T) string {
	t.Helper()
	bin, err := osexec.LookPath("clickhouse-server")
	if err != nil {
		bin = "/usr/sbin/clickhouse-server"
	}
	dir := t.TempDir()
	ports := make([]int, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <users_config>%[1]s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
`, dir, ports[0], ports[1])
	// The base users.xml has no user: every user comes from the drop-in of users.d.
	base := `<?xml version="1.0"?>
<yandex>
  <profiles><default/></profiles>
  <users/>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	snippet, err := os.ReadFile(filepath.Join("testdata", "privileges", "tamtam-users.xml"))
	if err != nil {
		t.Fatal(err)
	}
	hash := func(pw string) string { s := sha256.Sum256([]byte(pw)); return hex.EncodeToString(s[:]) }
	users := strings.NewReplacer("SHA256_OF_THE_ADMIN_PASSWORD", hash("admin-pw"),
		"SHA256_OF_THE_INGEST_PASSWORD", hash("ingest-pw"), "SHA256_OF_THE_REPORTS_PASSWORD", hash("reports-pw")).Replace(string(snippet))
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"config.xml": config, "users.xml": base, "users.d/tamtam.xml": users} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	cmd := osexec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		db, err := queries.Open(ctx, queries.Endpoint{Addr: addr, User: "tamtam_admin", Password: "admin-pw"}, "tamtam", queries.Options{})
		cancel()
		if err == nil {
			db.Close()
			return addr
		}
		if time.Now().After(deadline) {
			errLog, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Fatalf("the least-privilege ClickHouse did not answer in 60 s: %v\n%s\n%s", err, out.String(), errLog)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLeastPrivilegeUsers runs tamtam's store operations as the three users of the
// README's users.d file on a real 18.16: the admin migrates and drops partitions; the
// ingest user stores, looks up, re-keys, authenticates and audits, but changes no schema;
// the reports user reads and writes nothing.
func TestLeastPrivilegeUsers(t *testing.T) {
	addr := privilegeServer(t)
	ctx := t.Context()
	open := func(user, password string) (*queries.DB, error) {
		return queries.Open(ctx, queries.Endpoint{Addr: addr, User: user, Password: password}, "tamtam", queries.Options{})
	}
	mustOpen := func(user, password string) *queries.DB {
		t.Helper()
		db, err := open(user, password)
		if err != nil {
			t.Fatalf("Open as %s: %v", user, err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	admin := mustOpen("tamtam_admin", "admin-pw") // privilegeServer created the database
	ingest := mustOpen("tamtam_ingest", "ingest-pw")
	reader := mustOpen("tamtam_reports", "reports-pw")

	// Before the admin migrates, the ingest user cannot, and says what to do.
	if _, err := ingest.Migrate(ctx); !errors.Is(err, queries.ErrNotAllowed) || !strings.Contains(err.Error(), "tamtam migrate") {
		t.Errorf("Migrate as ingest on a new database = %v, want ErrNotAllowed saying to run tamtam migrate", err)
	}
	if _, err := admin.Migrate(ctx); err != nil {
		t.Fatalf("Migrate as admin: %v", err)
	}
	for _, db := range []*queries.DB{ingest, reader} {
		if applied, err := db.Migrate(ctx); err != nil || len(applied) != 0 {
			t.Errorf("Migrate of an up-to-date schema as a least-privilege user = %v, %v; want nothing to do", applied, err)
		}
	}

	// What serve, token, audit and report do, as the ingest user.
	k1, _ := collector.NewKey(bytes.Repeat([]byte{1}, collector.KeySize))
	k2, _ := collector.NewKey(bytes.Repeat([]byte{2}, collector.KeySize))
	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	used := collector.StoredAnswer{Item: "drug.before_12m", Value: "cannabis"}
	entry := linkRecord("e-1", "entry", k1, "AB-1", t0, used)
	follow := linkRecord("f-1", "followup", k2, "AB-1", t0.Add(time.Hour), collector.StoredAnswer{Item: "drug.in_prison_any", Value: "1"})
	follow.PreviousLinks = []collector.KeyedLink{{KeyID: k1.ID, LinkID: k1.LinkID("AB-1")}}
	if err := ingest.InsertRecords(ctx, []collector.Record{entry}); err != nil {
		t.Fatalf("InsertRecords as ingest: %v", err)
	}
	if err := ingest.InsertRecords(ctx, []collector.Record{follow}); err != nil {
		t.Fatalf("InsertRecords (with re-keys) as ingest: %v", err)
	}
	if fps, err := ingest.Fingerprints(ctx, []string{"e-1", "x"}); err != nil || len(fps) != 1 {
		t.Errorf("Fingerprints as ingest = %v, %v; want e-1's", fps, err)
	}
	if n, err := ingest.SubmissionIDs(ctx, func(string) {}); err != nil || n != 2 {
		t.Errorf("SubmissionIDs as ingest = %d, %v; want 2", n, err)
	}
	if n, err := ingest.Rekey(ctx); err != nil || n != 1 {
		t.Errorf("Rekey as ingest = %d, %v; want the entry re-keyed", n, err)
	}
	sites, _ := collector.LoadSites("")
	_, tok, err := collector.NewTokenFor(collector.RoleIntake, []string{"haren"}, "test", sites, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ingest.CreateToken(ctx, tok); err != nil {
		t.Errorf("CreateToken as ingest: %v", err)
	}
	if toks, err := ingest.Tokens(ctx); err != nil || len(toks) != 1 {
		t.Errorf("Tokens as ingest = %d, %v; want 1", len(toks), err)
	}
	if err := ingest.TokenUsage(ctx, map[string]time.Time{tok.Hash: t0}); err != nil {
		t.Errorf("TokenUsage as ingest: %v", err)
	}
	if err := ingest.Audit(ctx, collector.AuditEvent{At: t0, Actor: "test", Action: "test", Outcome: "ok"}); err != nil {
		t.Errorf("Audit as ingest: %v", err)
	}
	if _, err := ingest.IndicatorCells(ctx, 2025, []string{"haren"}, t0.Add(24*time.Hour), builtinIndicators(t)); err != nil {
		t.Errorf("IndicatorCells as ingest: %v", err)
	}
	// No schema change: dropping the pairs of a destroyed key is left to the admin, and
	// the database cannot be dropped.
	if _, err := ingest.DropRekeys(ctx, []string{k1.ID}); !errors.Is(err, queries.ErrNotAllowed) {
		t.Errorf("DropRekeys as ingest = %v, want ErrNotAllowed", err)
	}
	if err := queries.DropDatabase(ctx, queries.Endpoint{Addr: addr, User: "tamtam_ingest", Password: "ingest-pw"}, "tamtam"); err == nil {
		t.Errorf("DROP DATABASE as ingest succeeded")
	}

	// The reports user reads and writes nothing.
	cells, err := reader.IndicatorCells(ctx, 2025, []string{"haren"}, t0.Add(24*time.Hour), builtinIndicators(t))
	if err != nil {
		t.Errorf("IndicatorCells as reports: %v", err)
	}
	linked := 0
	for _, c := range cells {
		if c.Indicator == "I21" {
			linked += c.Den
		}
	}
	if linked != 1 {
		t.Errorf("I21 denominator read as reports = %d, want 1 (the re-keyed entry linked)", linked)
	}
	if _, err := reader.DataCutOff(ctx, 2025); err != nil {
		t.Errorf("DataCutOff as reports: %v", err)
	}
	if err := reader.InsertRecords(ctx, []collector.Record{linkRecord("e-2", "entry", k2, "CD-2", t0)}); err == nil {
		t.Errorf("InsertRecords as reports succeeded")
	}
	if err := reader.Audit(ctx, collector.AuditEvent{At: t0, Actor: "test", Action: "test", Outcome: "ok"}); err == nil {
		t.Errorf("Audit as reports succeeded")
	}
	if _, err := reader.DropRekeys(ctx, []string{k1.ID}); !errors.Is(err, queries.ErrNotAllowed) {
		t.Errorf("DropRekeys as reports = %v, want ErrNotAllowed", err)
	}

	// The admin drops what the ingest user may not; another database is out of its reach.
	if n, err := admin.DropRekeys(ctx, []string{k1.ID}); err != nil || n != 1 {
		t.Errorf("DropRekeys as admin = %d, %v; want 1", n, err)
	}
	if _, err := queries.Open(ctx, queries.Endpoint{Addr: addr, User: "tamtam_admin", Password: "admin-pw"}, "other", queries.Options{}); err == nil {
		t.Errorf("Open(other database) as admin succeeded, want access denied")
	}
}
