package queries_test

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

func TestMigrateTwice(t *testing.T) {
	db := chtest.NewDB(t) // migrated once
	applied, err := db.Migrate(t.Context())
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", applied)
	}
	tables, err := db.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"schema_migrations", "submissions", "tokens"} {
		if !slices.Contains(tables, want) {
			t.Errorf("Tables() = %v, want %s among them", tables, want)
		}
	}
}

func TestMigrateFresh(t *testing.T) {
	name := chtest.NewDatabase(t)
	db, err := queries.Open(t.Context(), chtest.Endpoint(), name, queries.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	applied, err := db.Migrate(t.Context())
	if err != nil || len(applied) == 0 || applied[0] != "0001_submissions.sql" {
		t.Fatalf("Migrate() = %v, %v; want 0001_submissions.sql first", applied, err)
	}
}

func record(id, fp string) collector.Record {
	return collector.Record{SubmissionID: id, Questionnaire: "entry", Version: 1, Site: "haren", Month: "2025-03",
		Year: 2025, Consent: true, Gender: "F", AgeBand: "25-34", NationalityGroup: "MAGHREB", KeyID: "k", Fingerprint: fp,
		Answers:  []collector.StoredAnswer{{Item: "demo.gender", Value: "F"}, {Item: "drug.lifetime", Value: "cannabis"}, {Item: "drug.lifetime", Value: "cocaine"}},
		Received: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)}
}

func TestInsertAndFingerprints(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	recs := []collector.Record{record("00000000-0000-4000-8000-000000000001", "fp1"), record("00000000-0000-4000-8000-000000000002", "fp2")}
	if err := db.InsertRecords(ctx, recs); err != nil {
		t.Fatalf("InsertRecords: %v", err)
	}
	got, err := db.Fingerprints(ctx, []string{"00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000009"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"00000000-0000-4000-8000-000000000001": "fp1", "00000000-0000-4000-8000-000000000002": "fp2"}
	if len(got) != len(want) || got["00000000-0000-4000-8000-000000000001"] != "fp1" || got["00000000-0000-4000-8000-000000000002"] != "fp2" {
		t.Errorf("Fingerprints() = %v, want %v", got, want)
	}
	// More ids than one IN list holds.
	many := make([]string, 4500)
	for i := range many {
		many[i] = "x" + string(rune('a'+i%26)) + time.Duration(i).String()
	}
	many = append(many, "00000000-0000-4000-8000-000000000001")
	got, err = db.Fingerprints(ctx, many)
	if err != nil || len(got) != 1 {
		t.Errorf("Fingerprints(4501 ids) = %v, %v; want the one stored", got, err)
	}
}

func TestTokens(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	tok := collector.Token{Hash: collector.HashToken("tt_x"), Role: collector.RoleFunder, Sites: []string{"haren", "mons"},
		Label: "AVIQ", CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := db.TokenByHash(ctx, tok.Hash)
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	if got.Role != tok.Role || !slices.Equal(got.Sites, tok.Sites) || got.Label != tok.Label || !got.CreatedAt.Equal(tok.CreatedAt) || got.Revoked {
		t.Errorf("TokenByHash() = %+v, want %+v", got, tok)
	}
	if _, err := db.TokenByHash(ctx, collector.HashToken("tt_unknown")); err != collector.ErrNoToken {
		t.Errorf("TokenByHash(unknown) error = %v, want ErrNoToken", err)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in       string
		addr, db string
		user, pw string
		wantErr  bool
	}{
		{in: "clickhouse://localhost/tamtam", addr: "localhost:9000", db: "tamtam", user: "default"},
		{in: "clickhouse://u:p@ch1:9440/stats", addr: "ch1:9440", db: "stats", user: "u", pw: "p"},
		{in: "clickhouse://ch1", addr: "ch1:9000", db: "tamtam", user: "default"},
		{in: "http://ch1:8123/x", wantErr: true},
		{in: "clickhouse://ch1/bad-name", wantErr: true},
	}
	for _, tt := range tests {
		ep, db, err := queries.ParseURL(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseURL(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (ep.Addr != tt.addr || db != tt.db || ep.User != tt.user || ep.Password != tt.pw) {
			t.Errorf("ParseURL(%q) = %+v %s, want %s %s %s %s", tt.in, ep, db, tt.addr, tt.db, tt.user, tt.pw)
		}
	}
}
